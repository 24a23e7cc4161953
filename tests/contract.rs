//! The documented contract states the field table (`application::fields`): the
//! README's request tables (fields, defaults, ranges, choices), the OpenAPI request
//! schemas (properties, ranges, enumerations) and `/api/config/options`; and each
//! endpoint answers a request that leaves every optional field out with the table's
//! defaults.

use std::collections::BTreeSet;
use std::path::PathBuf;

use application::endpoint::memory_inference::evaluate;
use application::endpoint::{config_options, openapi, plan};
use application::fields::{
    fields_of, Default, Endpoint, Field, Kind, Role, ENGINE, FIELDS, PLAN_FIELDS, PRECISION,
};
use application::Calculation;
use calculator::{
    estimate_inference, estimate_training, Choice, InferenceRequest, Method, Precision,
    RegistryEntry, TrainingRequest, Unit, DEFAULT_GPU_MEMORY_UTILIZATION,
};
use planner::Catalog;
use serde_json::{json, Value};

/// `(field, default, allowed)` of every row of the README table under `heading`.
fn readme_table(heading: &str) -> Vec<(String, String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README lacks {heading}"));
    readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| field"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let field = cells[0].trim_matches('`').to_owned();
            (field, cells[1].replace('`', ""), cells[2].to_owned())
        })
        .collect()
}

fn with_commas(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether `cell` states the number `x` (an integer with or without thousands
/// separators).
fn states(cell: &str, x: f64) -> bool {
    cell.contains(&x.to_string()) || (x.fract() == 0.0 && cell.contains(&with_commas(x as u64)))
}

/// The README's default cell states the row's default.
fn check_default(heading: &str, field: &Field, default: Default, cell: &str) {
    let name = field.name;
    match default {
        Default::Required(_) => assert!(cell.starts_with("required"), "{heading} {name}: {cell}"),
        Default::Absent => assert_eq!(cell, "none", "{heading} {name}"),
        Default::Value(value) => match value() {
            Value::String(s) => assert_eq!(cell, s, "{heading} {name}"),
            Value::Number(n) => {
                assert_eq!(cell.parse::<f64>().ok(), n.as_f64(), "{heading} {name}")
            }
            other => assert_eq!(cell, other.to_string(), "{heading} {name}"),
        },
        Default::Described(words) => {
            // The dtype the calculator falls back to, or every number the README
            // states, or the same words.
            let s = words();
            let dtype = s.split(['(', ' ']).find(|w| Precision::parse(w).is_some());
            let numbers: Vec<&str> = cell
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .collect();
            let agrees = match dtype {
                Some(d) => cell.contains(d),
                None if !numbers.is_empty() => numbers.iter().all(|n| s.contains(n)),
                None => cell == s,
            };
            assert!(
                agrees,
                "{heading} {name}: README says {cell}, the table {s}"
            );
        }
    }
}

/// The README's allowed cell states the row's range or names.
fn check_allowed(heading: &str, field: &Field, cell: &str, training: bool) {
    let name = field.name;
    match field.kind {
        Kind::Integer(r) => {
            let want = format!("{} – {}", r.min, with_commas(r.max));
            assert!(
                cell.contains(&want),
                "{heading} {name}: {cell} lacks {want}"
            );
        }
        Kind::Number(r) => assert!(states(cell, r.max), "{heading} {name}: {cell}"),
        Kind::Fraction(r) => assert!(states(cell, r.max), "{heading} {name}: {cell}"),
        Kind::Choice(names) if !cell.starts_with("as ") => {
            for n in names() {
                // Training computes in float formats only (the calculator refuses the
                // others): its table lists those.
                let skipped = training
                    && field.name == PRECISION.name
                    && Precision::parse(n).is_some_and(Precision::is_quantized);
                assert!(
                    skipped || cell.contains(&format!("`{n}`")),
                    "{heading} {name}: {cell} lacks {n}"
                );
            }
        }
        _ => {}
    }
}

/// The README table under `heading` lists exactly `fields`, with their defaults
/// (`plan`: a plan's) and ranges.
fn check_table(heading: &str, fields: &[&'static Field], plan: bool) {
    let table = readme_table(heading);
    let listed: BTreeSet<&str> = table.iter().map(|(f, _, _)| f.as_str()).collect();
    let want: BTreeSet<&str> = fields.iter().map(|f| f.name).collect();
    assert_eq!(
        listed, want,
        "{heading}: the README's rows vs the field table"
    );
    for (name, default, allowed) in &table {
        let field = fields.iter().find(|f| f.name == name).unwrap();
        let d = match (plan, field.plan_default) {
            (true, Some(d)) => d,
            _ => field.default,
        };
        check_default(heading, field, d, default);
        check_allowed(heading, field, allowed, heading.contains("training"));
    }
}

fn workload(endpoint: Endpoint) -> Vec<&'static Field> {
    fields_of(endpoint)
        .into_iter()
        .filter(|f| f.role == Role::Workload)
        .collect()
}

#[test]
fn readme_inference_table_states_the_field_table() {
    check_table(
        "### `POST /api/memory/inference`",
        &workload(Endpoint::Inference),
        false,
    );
}

#[test]
fn readme_training_table_states_the_field_table() {
    check_table(
        "### `POST /api/memory/training`",
        &workload(Endpoint::Training),
        false,
    );
}

#[test]
fn readme_performance_table_states_the_field_table() {
    check_table(
        "### `POST /api/performance`",
        &workload(Endpoint::Performance),
        false,
    );
}

#[test]
fn readme_plan_table_states_the_field_table() {
    let fields: Vec<&Field> = PLAN_FIELDS.into_iter().chain([&ENGINE]).collect();
    check_table("### `POST /api/plan`", &fields, true);
}

#[test]
fn config_options_lists_the_tables_defaults() {
    let options = config_options::options();
    for field in fields_of(Endpoint::Inference)
        .into_iter()
        .chain(fields_of(Endpoint::Training))
    {
        let want = field.default.json();
        let got = options
            .defaults
            .get(field.name)
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(got, want, "defaults.{}", field.name);
    }
    assert!(options.plan_defaults["gpu_memory_utilization"]
        .as_str()
        .unwrap()
        .ends_with(&format!("else {DEFAULT_GPU_MEMORY_UTILIZATION}")));
    assert_eq!(options.plan_defaults["engine"], json!("vllm"));
}

/// The fields an answer repeats in `parameters` are those of the table, at its
/// default when the request leaves them out.
fn check_defaults_in(parameters: &Value, fields: &[&'static Field], plan: bool, given: &Value) {
    for field in fields.iter().filter(|f| given.get(f.name).is_none()) {
        let default = match (plan, field.plan_default) {
            (true, Some(d)) => d,
            _ => field.default,
        };
        let Default::Value(value) = default else {
            continue;
        };
        // `null`: the field does not apply (a group size of a format without groups).
        if let Some(got) = parameters.get(field.name).filter(|v| !v.is_null()) {
            assert_eq!(got, &value(), "parameters.{}", field.name);
        }
    }
}

#[test]
fn omitted_fields_take_the_tables_defaults() {
    let model = &RegistryEntry::lookup("Qwen3-0.6B").unwrap().model;
    let body = json!({"model_name": "Qwen3-0.6B", "batch_size": 2, "sequence_length": 512});
    let got = evaluate(
        Calculation::Inference,
        body.as_object().unwrap(),
        "",
        Unit::default(),
    )
    .unwrap();
    let want = estimate_inference(model, &InferenceRequest::new(2, 512)).unwrap();
    assert_eq!(got.total(), want.inference_memory);
    let answer = serde_json::to_value(&got).unwrap();
    check_defaults_in(
        &answer["parameters"],
        &fields_of(Endpoint::Inference),
        false,
        &body,
    );
    for echoed in ["max_new_tokens", "logits", "num_gpus", "engine", "unit"] {
        assert!(answer["parameters"].get(echoed).is_some(), "{echoed}");
    }

    // Training at every default (method full), then with adapters (their own fields).
    for method in [None, Some(Method::Lora)] {
        let mut body = body.clone();
        let mut defaults = TrainingRequest::new(2, 512);
        if let Some(m) = method {
            body["method"] = json!(m.name());
            defaults.method = m;
        }
        let got = evaluate(
            Calculation::Training,
            body.as_object().unwrap(),
            "",
            Unit::default(),
        )
        .unwrap();
        let want = estimate_training(model, &defaults).unwrap();
        assert_eq!(got.total(), want.training_memory);
        let answer = serde_json::to_value(&got).unwrap();
        let fields: Vec<&Field> = fields_of(Endpoint::Training)
            .into_iter()
            // With adapters the answer states the share they train, not the field.
            .filter(|f| method.is_none() || f.name.starts_with("lora_"))
            .collect();
        check_defaults_in(&answer["parameters"], &fields, false, &body);
    }
    let answer = serde_json::to_value(
        evaluate(
            Calculation::Training,
            json!({"model_name": "Qwen3-0.6B", "batch_size": 2, "sequence_length": 512,
                "method": "lora"})
            .as_object()
            .unwrap(),
            "",
            Unit::default(),
        )
        .unwrap(),
    )
    .unwrap();
    for echoed in [
        "lora_rank",
        "lora_target",
        "optimizer",
        "zero_stage",
        "lora_dropout",
    ] {
        assert!(answer["parameters"].get(echoed).is_some(), "{echoed}");
    }
}

#[test]
fn a_plan_leaving_its_fields_out_takes_the_tables_defaults() {
    let body = json!({"mode": "inference", "model_name": "Qwen3-0.6B", "batch_size": 1,
        "sequence_length": 512, "instance_types": ["g6.xlarge"]});
    let answer = plan::plan(body.as_object().unwrap(), "", Catalog::embedded()).unwrap();
    let answer = serde_json::to_value(&answer).unwrap();
    let p = &answer["parameters"];
    check_defaults_in(p, &fields_of(Endpoint::Plan), true, &body);
    // vLLM's own default share (`CacheConfig.gpu_memory_utilization`) of the release
    // the plan follows by default, 0.21 and later.
    assert_eq!(p["gpu_memory_utilization"], 0.92);
    assert_eq!(p["vllm_version"], "0.21+");
    assert_eq!(p["engine"], "vllm");
    assert_eq!(
        (&p["max_gpus"], &p["concurrent_sequences"]),
        (&Value::Null, &Value::Null)
    );
}

/// A request schema of the OpenAPI document.
fn openapi_schema(name: &str) -> &'static Value {
    &openapi::document()["components"]["schemas"][name]
}

/// The schema's property of `field` agrees with the row: range and names.
fn check_property(schema: &str, field: &Field, p: &Value) {
    let name = field.name;
    match field.kind {
        Kind::Integer(r) => assert_eq!(
            (p["minimum"].as_u64(), p["maximum"].as_u64()),
            (Some(r.min), Some(r.max)),
            "{schema}.{name}"
        ),
        Kind::Number(r) => {
            assert_eq!(p["maximum"].as_f64(), Some(r.max), "{schema}.{name}");
            let low = p["minimum"].as_f64().or(p["exclusiveMinimum"].as_f64());
            assert!(low.is_some_and(|low| low >= r.min), "{schema}.{name}");
        }
        Kind::Fraction(r) => assert_eq!(
            (p["exclusiveMinimum"].as_f64(), p["maximum"].as_f64()),
            (Some(r.above), Some(r.max)),
            "{schema}.{name}"
        ),
        Kind::Choice(names) => {
            // The names, directly or as the one branch of an `anyOf` that lists them
            // (a field that also takes a list).
            let listed = p["enum"].as_array().or_else(|| {
                p["anyOf"]
                    .as_array()?
                    .iter()
                    .find_map(|branch| branch["enum"].as_array())
            });
            let Some(listed) = listed else {
                return;
            };
            let listed: Vec<&str> = listed.iter().filter_map(Value::as_str).collect();
            let names = names();
            // The training schema lists the float precisions training computes in.
            if schema == "TrainingRequest" && name == PRECISION.name {
                assert!(listed.iter().all(|n| names.contains(n)), "{schema}.{name}");
            } else {
                assert_eq!(listed, names, "{schema}.{name}");
            }
        }
        _ => {}
    }
}

#[test]
fn the_openapi_request_schemas_state_the_field_table() {
    for (schema, endpoint) in [
        ("InferenceRequest", Endpoint::Inference),
        ("TrainingRequest", Endpoint::Training),
        ("PlanRequest", Endpoint::Plan),
        ("PerformanceRequest", Endpoint::Performance),
    ] {
        let s = openapi_schema(schema);
        assert_eq!(
            s["additionalProperties"], false,
            "{schema}: unknown fields are refused"
        );
        let properties = s["properties"].as_object().unwrap();
        let listed: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
        let fields = fields_of(endpoint);
        let want: BTreeSet<&str> = fields.iter().map(|f| f.name).collect();
        assert_eq!(listed, want, "{schema}: properties vs the field table");
        for field in fields {
            check_property(schema, field, &properties[field.name]);
        }
    }
}

#[test]
fn every_field_is_in_the_table_once() {
    let mut names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a field is listed twice");
    for field in FIELDS {
        assert!(
            !field.on.is_empty() && !field.doc.is_empty(),
            "{}",
            field.name
        );
        assert!(
            field.set_by_plan.is_none() || !field.on(Endpoint::Plan),
            "{}: a plan both takes and sets it",
            field.name
        );
    }
}

#[test]
fn the_openapi_document_lists_every_compute_dtype_and_bound() {
    let result = &openapi::document()["components"]["schemas"]["PerformanceResult"]["properties"];
    let dtypes: Vec<&str> = planner::performance::ComputeDtype::ALL
        .iter()
        .map(|d| d.name())
        .collect();
    assert_eq!(result["compute_dtype"]["enum"], json!(dtypes));
    let bounds: Vec<&str> = planner::performance::Bound::ALL
        .iter()
        .map(|b| b.name())
        .collect();
    assert_eq!(result["bound"]["enum"], json!(bounds));
    let serving = &openapi::document()["components"]["schemas"]["CandidateServing"]["oneOf"][1];
    assert_eq!(serving["properties"]["bound"]["enum"], json!(bounds));
}

#[test]
fn the_openapi_document_lists_every_warning_code() {
    let listed = &openapi::document()["components"]["schemas"]["WarningCode"]["enum"];
    assert_eq!(listed, &json!(calculator::WarningCode::names()));
}
