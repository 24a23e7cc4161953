//! The scheduled cost planner's pure part: the event it is invoked with (`document`)
//! and the report of a run (`report`), every workload planned through the plan
//! endpoint's own function. The S3 bucket and the runtime are the `functions` crate's.

pub mod document;
pub mod report;

pub use document::{latest_key, read, EventError, NamedWorkload, Run};
pub use report::{build, escape_markdown, Entry, Latest, Report, ReportJson};
