use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    http_glue::init_tracing();
    // One S3 client per process, built before the first event.
    let store = Arc::new(cost_planner::ReportStore::from_env().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let store = Arc::clone(&store);
        async move { cost_planner::handle(event.payload, store.as_ref().as_ref()).await }
    }))
    .await
}
