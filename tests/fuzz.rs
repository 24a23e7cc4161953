//! Random request bodies (proptest) through the memory, plan and performance handlers: every answer
//! is a 200 or a 4xx with a JSON error; a 500 (a caught panic) or an `Err` never
//! happens. The generators reach both the calculation and the error paths (checked
//! on a fixed seed).

use application::endpoint::{memory_compare, memory_inference, memory_training, performance, plan};
use application::fields::{names_of, plan_fields, Endpoint};
use application::Calculation;
use calculator::Choice;
use lambda_http::{Body, Request, Response};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{json, Map, Value};

const WORDS: &[&str] = &[
    "Qwen3-8B",
    "qwen/qwen3-0.6b",
    // Repo ids the registry does not hold: read from the stand-in Hub.
    testkit::hub::DENSE,
    testkit::hub::MISSING,
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
    "vllm",
    "transformers",
    "inference",
    "training",
    "NVIDIA T4 16GB",
    "NVIDIA H100 SXM 80GB",
    "p5.48xlarge",
];

/// Any JSON value, biased to what the fields take: small numbers, names, nested
/// config-like objects.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => (0u64..5).prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (0i64..1000).prop_map(|n| json!(-n)),
        1 => (0u64..100_000).prop_map(|n| json!(n as f64 / 7.0)),
        1 => select(vec![1e308, 1e-300, 0.5]).prop_map(Value::from),
        2 => select(WORDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(
                select(vec![
                    "hidden_size",
                    "model_type",
                    "num_hidden_layers",
                    "vocab_size",
                    "x"
                ]),
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.into(), v)).collect())),
        ]
    })
}

/// Mostly a plausible request of `fields`, with some fields replaced by anything.
fn body(fields: Vec<&'static str>) -> impl Strategy<Value = Value> {
    let field = prop_oneof![1 => Just("mystery_field"), 9 => select(fields)];
    (
        select(&WORDS[..6]),
        1u64..=64,
        1u64..=(1 << 16),
        proptest::collection::vec((field, value()), 0..6),
    )
        .prop_map(|(model, batch, length, extra)| {
            let mut m = Map::new();
            m.insert("model_name".into(), json!(model));
            m.insert("batch_size".into(), json!(batch));
            m.insert("sequence_length".into(), json!(length));
            for (k, v) in extra {
                m.insert(k.into(), v);
            }
            Value::Object(m)
        })
}

/// A memory request of either kind, or a compare of 1 to 3 of them.
fn memory_request() -> impl Strategy<Value = (&'static str, Value)> {
    let inference = body(names_of(Endpoint::Inference));
    let training = body(names_of(Endpoint::Training));
    let compare = (
        select(vec!["inference", "training", "x"]),
        proptest::collection::vec(body(names_of(Endpoint::Inference)), 1..=3),
        proptest::collection::vec(body(names_of(Endpoint::Training)), 1..=3),
    )
        .prop_map(|(kind, inference, training)| {
            let configs = if kind == "training" {
                training
            } else {
                inference
            };
            json!({"calculation_type": kind, "configurations": configs})
        });
    prop_oneof![
        inference.prop_map(|b| ("/api/memory/inference", b)),
        training.prop_map(|b| ("/api/memory/training", b)),
        compare.prop_map(|b| ("/api/memory/compare", b)),
    ]
}

/// A plan request: usually with its `mode`, fields of that mode and of a plan.
fn plan_request() -> impl Strategy<Value = Value> {
    (select(Calculation::ALL), prop::bool::weighted(0.875)).prop_flat_map(|(calc, moded)| {
        body(plan_fields(calc)).prop_map(move |mut sent| {
            if moded {
                sent["mode"] = json!(calc.name());
            }
            sent
        })
    })
}

/// A performance request: a model, a GPU or an instance, a traffic, and fields of the
/// endpoint (or a stranger) with any value.
fn performance_request() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        1 => Just("mystery_field"),
        9 => select(names_of(Endpoint::Performance)),
    ];
    let replica = prop_oneof![
        select(vec![
            "NVIDIA H100 SXM 80GB",
            "NVIDIA L40S 48GB",
            "NVIDIA T4 16GB",
            "x"
        ])
        .prop_map(|g| ("gpu", g)),
        select(vec!["p5.48xlarge", "g6e.12xlarge", "p4d.24xlarge"]).prop_map(|i| ("instance", i)),
    ];
    (
        select(&WORDS[..6]),
        replica,
        1u64..=(1 << 14),
        1u64..=(1 << 12),
        1u64..=(1 << 10),
        proptest::collection::vec((field, value()), 0..4),
    )
        .prop_map(
            |(model, (key, replica), input, output, concurrency, extra)| {
                let mut m = Map::new();
                m.insert("model_name".into(), json!(model));
                m.insert(key.into(), json!(replica));
                m.insert("input_tokens".into(), json!(input));
                m.insert("output_tokens".into(), json!(output));
                m.insert("concurrency".into(), json!(concurrency));
                for (k, v) in extra {
                    m.insert(k.into(), v);
                }
                Value::Object(m)
            },
        )
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

/// The handler's answer to `sent` on `path`.
fn answer(path: &str, sent: &Value) -> Response<Body> {
    // Hub reads go to this process's stand-in Hub, never to huggingface.co.
    testkit::hub::shared_stand_in();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let request = request(path, sent);
    runtime
        .block_on(async {
            match path {
                "/api/memory/inference" => memory_inference::handler(request).await,
                "/api/memory/training" => memory_training::handler(request).await,
                "/api/memory/compare" => memory_compare::handler(request).await,
                "/api/performance" => performance::handler(request).await,
                _ => plan::handler(request).await,
            }
        })
        .expect("handlers never return Err")
}

/// Whether the answer succeeded; fails unless it is a 200 or a 4xx with an error.
fn succeeded(response: &Response<Body>, sent: &Value) -> bool {
    let status = response.status().as_u16();
    let text = match response.body() {
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn random_memory_bodies_never_produce_a_500((path, sent) in memory_request()) {
        succeeded(&answer(path, &sent), &sent);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn random_plans_never_produce_a_500(sent in plan_request()) {
        succeeded(&answer("/api/plan", &sent), &sent);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn random_performance_bodies_never_produce_a_500(sent in performance_request()) {
        succeeded(&answer("/api/performance", &sent), &sent);
    }
}

/// Share of `n` cases from `strategy` (on a fixed seed) the handlers answer with 200.
fn success_share<T>(n: usize, strategy: impl Strategy<Value = T>, run: impl Fn(&T) -> bool) -> f64 {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let ok = (0..n)
        .filter(|_| run(&strategy.new_tree(&mut runner).unwrap().current()))
        .count();
    ok as f64 / n as f64
}

#[test]
fn the_generators_reach_answers_and_errors() {
    let memory = success_share(600, memory_request(), |(path, sent)| {
        succeeded(&answer(path, sent), sent)
    });
    assert!(
        (0.1..0.9).contains(&memory),
        "{memory} of memory bodies succeeded"
    );
    let plans = success_share(60, plan_request(), |sent| {
        succeeded(&answer("/api/plan", sent), sent)
    });
    assert!((0.1..0.9).contains(&plans), "{plans} of plans succeeded");
    let performance = success_share(60, performance_request(), |sent| {
        succeeded(&answer("/api/performance", sent), sent)
    });
    assert!(
        (0.1..0.9).contains(&performance),
        "{performance} of performance bodies succeeded"
    );
}

/// Every registry model on every catalog GPU, alone and over 2, 4 and 8: an answer
/// with positive figures, or a 4xx naming the field (the GPU, the replica's GPUs, the
/// traffic's lengths or the model) and why. Never a panic. And every model vLLM can run
/// is answered on some GPU, every GPU the model covers answers for some model.
#[test]
fn every_model_on_every_gpu_answers_or_says_why() {
    let catalog = planner::Catalog::embedded();
    let mut gpus_answering = std::collections::BTreeSet::new();
    for entry in calculator::RegistryEntry::all() {
        let (mut answered, mut not_vllm) = (false, false);
        for gpu in &catalog.gpus {
            for num_gpus in [1, 2, 4, 8] {
                let sent = json!({
                    "model_name": entry.name, "gpu": gpu.name, "num_gpus": num_gpus,
                    "input_tokens": 512, "output_tokens": 64, "concurrency": 4,
                });
                match performance::perform(sent.as_object().unwrap(), "") {
                    Ok(a) => {
                        let a = serde_json::to_value(&a).unwrap();
                        for key in ["ttft_ms", "tpot_ms", "output_tokens_per_s"] {
                            let v = a[key].as_f64().unwrap_or(f64::NAN);
                            assert!(v > 0.0 && v.is_finite(), "{sent}: {key} {v}: {a}");
                        }
                        answered = true;
                        gpus_answering.insert(gpu.name.as_str());
                    }
                    Err(e) => {
                        assert!(e.status.is_client_error(), "{sent}: {e:?}");
                        let field = e.body.field.clone().unwrap_or_default();
                        let fields = ["gpu", "num_gpus", "input_tokens", "model_name"];
                        assert!(fields.contains(&field.as_str()), "{sent}: {e:?}");
                        not_vllm |= field == "model_name";
                    }
                }
            }
        }
        assert!(answered || not_vllm, "{} is answered on no GPU", entry.name);
    }
    // GPUs the serving model refuses: Neuron chips (no vLLM), the A10G (no published
    // TFLOPS) and GPUs without a driver-reported memory.
    for gpu in &catalog.gpus {
        let modelled = gpu.platform != planner::Platform::Neuron
            && gpu.bf16_dense_tflops.or(gpu.fp16_dense_tflops).is_some()
            && gpu.bandwidth_gbps.is_some()
            && gpu.usable_memory.is_some();
        assert_eq!(
            gpus_answering.contains(gpu.name.as_str()),
            modelled,
            "{}",
            gpu.name
        );
    }
}
