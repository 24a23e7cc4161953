//! The `cost-planner` Lambda function: the scheduled cost-planning job.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;

/// Time kept after the run's last S3 call to return its error to Lambda.
const MARGIN: Duration = Duration::from_secs(2);

/// When the run's S3 calls must end: the invocation's deadline (milliseconds since the
/// epoch, from the Runtime API) less [`MARGIN`].
fn run_deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(MARGIN)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    application::init_tracing();
    // Workloads may name Hub models; gated ones need the deployment's token.
    functions::hub_token::install();
    // One S3 client per process, built before the first event.
    let store = Arc::new(functions::ReportStore::from_env().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let store = Arc::clone(&store);
        async move {
            // The event is read here, strictly, so that a bad one fails as BadEvent.
            let run_store = store
                .as_ref()
                .as_ref()
                .map(|s| s.until(run_deadline(event.context.deadline)));
            // Boxed: the run's future is deep enough to exceed the compiler's layout depth
            // inside the runtime's own futures.
            let answer = Box::pin(functions::handle_text(
                event.payload.get(),
                run_store.as_ref(),
            ))
            .await;
            if let Err(e) = &answer {
                // The cause in the log beside the invocation's error record.
                lambda_runtime::tracing::error!(error_type = e.failure.name(), "{}", e.message);
            }
            answer
        }
    }))
    .await
}
