//! Random request bodies through the memory handlers: every answer is a 200 or a 4xx
//! with a JSON error; a 500 (a caught panic) or an `Err` never happens.

use http_glue::memory::Calculation;
use lambda_http::{Body, Request};
use serde_json::{json, Map, Value};

use testkit::Rng;

const WORDS: &[&str] = &[
    "Qwen3-8B",
    "qwen/qwen3-0.6b",
    "DeepSeek-V3",
    "gpt-oss-20b",
    "nope",
    "",
    "bfloat16",
    "int4",
    "float8",
    "fp8",
    "awq",
    "gptq",
    "bitsandbytes",
    "none",
    "lora",
    "qlora",
    "freeze",
    "full",
    "AdamW 8-bit",
    "Adafactor",
    "Lion",
    "SGD",
    "attention",
    "all_linear",
    "GiB",
    "MB",
    "full",
    "vllm",
    "transformers",
    "inference",
    "training",
    "NVIDIA T4 16GB",
    "NVIDIA H100 SXM 80GB",
    "p5.48xlarge",
];

fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 1 { 9 } else { 11 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.below(5)),
        3 => json!(rng.next_u64()),
        4 => json!(-(rng.below(1000) as i64)),
        5 => json!(rng.below(100_000) as f64 / 7.0),
        6 => json!([1e308, 1e-300, 0.5][rng.below(3) as usize]),
        7 | 8 => json!(WORDS[rng.below(WORDS.len() as u64) as usize]),
        9 => Value::Array((0..rng.below(3)).map(|_| value(rng, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                m.insert(
                    [
                        "hidden_size",
                        "model_type",
                        "num_hidden_layers",
                        "vocab_size",
                        "x",
                    ][rng.below(5) as usize]
                        .into(),
                    value(rng, depth + 1),
                );
            }
            Value::Object(m)
        }
    }
}

fn body(rng: &mut Rng, fields: &[&str]) -> Value {
    let mut m = Map::new();
    // Mostly a plausible request, with some fields replaced by anything.
    m.insert("model_name".into(), json!(WORDS[rng.below(4) as usize]));
    m.insert("batch_size".into(), json!(1 + rng.below(64)));
    m.insert("sequence_length".into(), json!(1 + rng.below(1 << 16)));
    for _ in 0..rng.below(6) {
        let key = if rng.below(10) == 0 {
            "mystery_field"
        } else {
            fields[rng.below(fields.len() as u64) as usize]
        };
        m.insert(key.into(), value(rng, 0));
    }
    Value::Object(m)
}

fn request(path: &str, body: &Value) -> Request {
    let event = json!({
        "version": "2.0", "routeKey": format!("POST {path}"), "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1", "userAgent": "fuzz"}, "requestId": "fuzz", "routeKey": format!("POST {path}"),
            "stage": "$default", "time": "26/Nov/2026:12:00:00 +0000", "timeEpoch": 0,
            "accountId": "123456789012", "apiId": "fuzz", "domainName": "localhost", "domainPrefix": "fuzz"},
        "body": body.to_string(), "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn check(status: u16, response_body: &Body, sent: &Value) -> bool {
    let text = match response_body {
        Body::Text(t) => t.as_str(),
        _ => "",
    };
    let json: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    assert!(
        status == 200 || (400..500).contains(&status),
        "status {status} for {sent}: {text}"
    );
    if status != 200 {
        assert!(
            json["error"].is_string(),
            "no error message for {sent}: {text}"
        );
    }
    status == 200
}

#[tokio::test]
async fn random_bodies_never_produce_a_500() {
    let mut rng = Rng(42);
    let inference_fields = Calculation::Inference.fields();
    let training_fields = Calculation::Training.fields();
    let mut ok = 0;
    for i in 0..3000 {
        let (path, sent) = match i % 3 {
            0 => ("/api/memory/inference", body(&mut rng, &inference_fields)),
            1 => ("/api/memory/training", body(&mut rng, &training_fields)),
            _ => {
                let kind = ["inference", "training", "x"][rng.below(3) as usize];
                let fields: &[&str] = if kind == "training" {
                    &training_fields
                } else {
                    &inference_fields
                };
                let configs: Vec<Value> = (0..1 + rng.below(3))
                    .map(|_| body(&mut rng, fields))
                    .collect();
                (
                    "/api/memory/compare",
                    json!({"calculation_type": kind, "configurations": configs}),
                )
            }
        };
        let response = match path {
            "/api/memory/inference" => memory_inference::handler(request(path, &sent)).await,
            "/api/memory/training" => memory_training::handler(request(path, &sent)).await,
            _ => memory_compare::handler(request(path, &sent)).await,
        }
        .expect("handlers never return Err");
        ok += usize::from(check(response.status().as_u16(), response.body(), &sent));
    }
    // The generator must reach both the calculation and the error paths.
    assert!((300..2700).contains(&ok), "{ok} of 3000 succeeded");
}

#[tokio::test]
async fn random_plans_never_produce_a_500() {
    let mut rng = Rng(43);
    let mut ok = 0;
    let runs = 150;
    for _ in 0..runs {
        let mode = ["inference", "training"][rng.below(2) as usize];
        let calc = Calculation::parse(mode).unwrap();
        let fields: Vec<&str> = calc
            .fields()
            .into_iter()
            .chain(http_glue::plan::PLAN_FIELDS)
            .collect();
        let mut sent = body(&mut rng, &fields);
        if rng.below(8) != 0 {
            sent["mode"] = json!(mode);
        }
        let response = plan::handler(request("/api/plan", &sent))
            .await
            .expect("handlers never return Err");
        ok += usize::from(check(response.status().as_u16(), response.body(), &sent));
    }
    assert!((15..135).contains(&ok), "{ok} of {runs} plans succeeded");
}
