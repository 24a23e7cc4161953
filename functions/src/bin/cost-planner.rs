//! The `cost-planner` Lambda function: the scheduled cost-planning job.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    application::init_tracing();
    // One S3 client per process, built before the first event.
    let store = Arc::new(functions::ReportStore::from_env().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let store = Arc::clone(&store);
        async move {
            let answer = functions::handle(event.payload, store.as_ref().as_ref()).await;
            if let Err(e) = &answer {
                // The cause in the log beside the invocation's error record.
                lambda_runtime::tracing::error!(error_type = e.failure.name(), "{}", e.message);
            }
            answer
        }
    }))
    .await
}
