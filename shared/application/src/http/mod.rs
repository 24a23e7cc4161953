//! The HTTP side every endpoint shares: the route table, the middleware a handler runs
//! in, request bodies and path parameters, errors and JSON responses, and the request
//! log line.

mod body;
mod error;
mod logging;
mod middleware;
mod path;
mod response;
mod routes;

pub use body::{body_bytes, json_kind, json_object};
pub use error::{ApiError, ErrorBody};
pub use logging::init_tracing;
pub use middleware::{respond, without_body};
pub use path::path_model_name;
pub use response::{json_response, ok};
pub use routes::{allowed_methods, canonical, matches, Route};
