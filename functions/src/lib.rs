//! The functions' own code: the scheduled cost-planning job's runtime side (the HTTP
//! functions are each one call of `application::serve`, in `src/bin/`).
//!
//! `cost-planner`: the scheduled cost-planning job. EventBridge Scheduler invokes it
//! with a plan document (a name and named workloads, each with the inputs of
//! `POST /api/plan`) and the schedule's time; it plans every workload with the current
//! prices and writes a JSON report and a Markdown summary to the report bucket under
//! `reports/<plan>/<date>T<hhmmss>Z.json|.md`, then moves the plan's pointer
//! `reports/<plan>/latest.json` to them. A retry of one scheduled time writes the same
//! objects again; another time never overwrites them.
//!
//! A run fails (an error Lambda counts, retried, then sent to the dead-letter queue)
//! when the event or a price list is bad, when S3 fails, and when any workload could
//! not be planned: the report of what did succeed is written first.
//!
//! Prices: the catalog's, unless the bucket holds `prices.json` (the catalog's own
//! price shape), which replaces them without a deploy. Without `REPORT_BUCKET` (local
//! runs) the report is returned instead of written.

pub mod hub_token;
pub mod store;

use application::endpoint::cost_planner::{build, read, Entry, Latest, Report, Run};
use application::hub_models;
use calculator::json::{parse_strict, JsonError};
use lambda_runtime::Diagnostic;
use planner::{Catalog, PriceList};
use serde_json::{json, Value};

pub use store::{ReportStore, StoreError, StoreErrorKind, Timeouts, PRICES_KEY};

/// The most characters of a run's error message: the messages repeat what the event
/// and the price list hold, which the caller controls.
pub const MAX_ERROR_CHARS: usize = 2048;

/// The most bytes of a stored pointer read back: ours are a few hundred.
const MAX_POINTER_BYTES: u64 = 64 * 1024;

/// What made a run fail, by a name of our own that stays the same across releases:
/// the `errorType` Lambda records, which alarms and log queries can match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The event is not a plan document with a scheduled time.
    BadEvent,
    /// The bucket's `prices.json` cannot be used.
    BadPrices,
    /// An S3 call failed or timed out.
    Storage,
    /// At least one workload could not be planned (its report is written).
    WorkloadsFailed,
}

impl Failure {
    /// The `errorType`.
    pub fn name(self) -> &'static str {
        match self {
            Failure::BadEvent => "CostPlanner.BadEvent",
            Failure::BadPrices => "CostPlanner.BadPrices",
            Failure::Storage => "CostPlanner.Storage",
            Failure::WorkloadsFailed => "CostPlanner.WorkloadsFailed",
        }
    }
}

/// A failed run: what failed and a message of at most [`MAX_ERROR_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunError {
    /// What failed.
    pub failure: Failure,
    /// Why, cut to [`MAX_ERROR_CHARS`].
    pub message: String,
}

impl RunError {
    fn new(failure: Failure, message: impl Into<String>) -> RunError {
        let message: String = message.into();
        let message = if message.chars().count() > MAX_ERROR_CHARS {
            format!(
                "{}... (cut)",
                message.chars().take(MAX_ERROR_CHARS).collect::<String>()
            )
        } else {
            message
        };
        RunError { failure, message }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.failure.name(), self.message)
    }
}

impl std::error::Error for RunError {}

impl From<RunError> for Diagnostic {
    fn from(e: RunError) -> Diagnostic {
        Diagnostic {
            error_type: e.failure.name().to_owned(),
            error_message: e.message,
        }
    }
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> RunError {
        RunError::new(Failure::Storage, e.message)
    }
}

/// The prices in force: the bucket's `prices.json` over the embedded catalog's.
async fn catalog(store: Option<&ReportStore>) -> Result<Catalog, RunError> {
    let embedded = Catalog::embedded();
    let Some(store) = store else {
        return Ok(embedded.clone());
    };
    // A price list S3 returned but the run cannot read is the operator's to fix.
    let text = store.prices().await.map_err(|e| match e.kind {
        StoreErrorKind::Content => RunError::new(Failure::BadPrices, e.message),
        StoreErrorKind::Failed => RunError::from(e),
    })?;
    match text {
        None => Ok(embedded.clone()),
        Some(text) => {
            let list = PriceList::parse(&text, &store.url(PRICES_KEY), embedded)
                .map_err(|e| RunError::new(Failure::BadPrices, e.to_string()))?;
            Ok(list.applied_to(embedded))
        }
    }
}

/// The workloads that could not be planned, as one error naming each.
fn workloads_failed(report: &Report, run: &Run, written: Option<String>) -> Option<RunError> {
    if report.failed == 0 {
        return None;
    }
    let failed: Vec<String> = report
        .json
        .workloads
        .iter()
        .filter_map(|e| match e {
            Entry::Failed { name, error, .. } => {
                Some(format!("'{}' ({error})", calculator::clip(name)))
            }
            Entry::Planned { .. } => None,
        })
        .collect();
    let whereabouts = written.map_or_else(String::new, |url| format!("; the report is at {url}"));
    Some(RunError::new(
        Failure::WorkloadsFailed,
        format!(
            "{} of {} workloads could not be planned: {}{whereabouts}",
            report.failed,
            run.workloads.len(),
            failed.join(", ")
        ),
    ))
}

/// Attempts at moving the pointer while other runs move it too.
const POINTER_ATTEMPTS: usize = 4;

/// Moves the plan's pointer to this run, unless it points to a later one already.
/// Compare-and-swap on the pointer's ETag (S3's conditional writes): a run that read
/// the pointer before another moved it reads it again rather than moving it back.
async fn point_to(store: &ReportStore, latest: &Latest, key: &str) -> Result<bool, StoreError> {
    for _ in 0..POINTER_ATTEMPTS {
        let stored = store.get_tagged(key, MAX_POINTER_BYTES).await?;
        if stored
            .as_ref()
            .is_some_and(|(bytes, _)| !latest.replaces(bytes))
        {
            return Ok(false);
        }
        // No ETag to compare (a server that gives none): written unconditionally.
        let condition = match stored {
            None => Some(None),
            Some((_, Some(etag))) => Some(Some(etag)),
            Some((_, None)) => None,
        };
        if store
            .put_if(key, latest.json_bytes(), "application/json", condition)
            .await?
        {
            return Ok(true);
        }
    }
    Err(StoreError {
        kind: StoreErrorKind::Failed,
        message: format!(
            "writing {}: other runs moved it {POINTER_ATTEMPTS} times while this one tried",
            store.url(key)
        ),
    })
}

/// One scheduled run from the event's text as Lambda delivered it: read strictly (a
/// key given twice in the plan document fails the run, naming it), then [`handle`].
pub async fn handle_text(text: &str, store: Option<&ReportStore>) -> Result<Value, RunError> {
    let event = parse_strict(text.as_bytes()).map_err(|e| {
        RunError::new(
            Failure::BadEvent,
            match e {
                JsonError::DuplicateKey(path) => {
                    format!("{path}: is given twice in one object; give each key once")
                }
                JsonError::Syntax(e) => format!("the event is not JSON: {e}"),
            },
        )
    })?;
    handle(event, store).await
}

/// One scheduled run: reads the event, plans, writes (or returns) the report, then
/// fails if any workload could not be planned.
pub async fn handle(event: Value, store: Option<&ReportStore>) -> Result<Value, RunError> {
    let run = read(&event).map_err(|e| RunError::new(Failure::BadEvent, e.0))?;
    let catalog = catalog(store).await?;
    // Every Hub model the workloads name, read first; the report records each commit.
    let wanted: Vec<_> = run
        .workloads
        .iter()
        .flat_map(|w| hub_models::wanted(&Value::Object(w.request.clone())))
        .fold(Vec::new(), |mut all, w| {
            if !all.contains(&w) && all.len() < hub_models::MAX_REPORT_HUB_MODELS {
                all.push(w);
            }
            all
        });
    let prefetched = hub_models::prefetch(wanted).await;
    let report = hub_models::during(prefetched, || build(&run, &catalog));
    let Some(store) = store else {
        if let Some(e) = workloads_failed(&report, &run, None) {
            return Err(e);
        }
        return Ok(json!({"report": report.json, "markdown": report.markdown}));
    };
    let (json_key, md_key) = (run.key("json"), run.key("md"));
    store
        .put(&json_key, report.json_bytes(), "application/json")
        .await?;
    store
        .put(
            &md_key,
            report.markdown.clone().into_bytes(),
            "text/markdown; charset=utf-8",
        )
        .await?;
    // Last: a reader that follows the pointer finds both files.
    let latest = Latest::of(&run, &report);
    let moved = point_to(store, &latest, &run.latest_key()).await?;
    lambda_runtime::tracing::info!(
        plan = %run.name,
        scheduled_time = %run.scheduled_time,
        workloads = run.workloads.len(),
        failed = report.failed,
        latest = moved,
        "report written"
    );
    if let Some(e) = workloads_failed(&report, &run, Some(store.url(&json_key))) {
        return Err(e);
    }
    Ok(json!({
        "plan": run.name,
        "scheduled_time": run.scheduled_time,
        "report": store.url(&json_key),
        "summary": store.url(&md_key),
        "latest": store.url(&run.latest_key()),
        "latest_moved": moved,
        "workloads": run.workloads.len(),
        "prices": report.json.prices,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_our_own_types_and_bounded_messages() {
        let e = RunError::new(Failure::BadPrices, "x".repeat(300_000));
        assert!(e.message.chars().count() <= MAX_ERROR_CHARS + 10);
        let d = Diagnostic::from(e);
        assert_eq!(d.error_type, "CostPlanner.BadPrices");
        for f in [
            Failure::BadEvent,
            Failure::BadPrices,
            Failure::Storage,
            Failure::WorkloadsFailed,
        ] {
            assert!(f.name().starts_with("CostPlanner.") && !f.name().contains("::"));
        }
    }
}
