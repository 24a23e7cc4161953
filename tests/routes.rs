//! The routes deployed by `template.yaml`, the routes `cargo lambda watch` serves
//! (`[workspace.metadata.lambda.watch.router]` in `Cargo.toml`) and the route table the
//! functions use (`application::endpoint::ROUTES`) are the same set, each with its
//! binary in `functions/src/bin`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use application::endpoint::{not_found, openapi, ROUTES};
use application::Route;

const NOT_FOUND: Route = not_found::ROUTE;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

type RouteSet = BTreeSet<(String, String, String)>;

/// A greedy parameter as each reader spells it: API Gateway (and the route table)
/// `{name+}`, the `cargo lambda watch` router `{*name}`, OpenAPI, which has no greedy
/// parameters, `{name}`.
fn as_router_path(path: &str) -> String {
    greedy(path, |name| format!("{{*{name}}}"))
}

fn as_openapi_path(path: &str) -> String {
    greedy(path, |name| format!("{{{name}}}"))
}

fn greedy(path: &str, spell: impl Fn(&str) -> String) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                Some(name) => spell(name),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// (method, path, function) of every HTTP API event in the SAM template; an event
/// without method and path is the `$default` route. The template keeps one resource
/// per function with `Binary`, `Method` and `Path` on their own lines, which is all
/// this reader relies on (CloudFormation tags make a generic YAML parse awkward).
fn template_routes() -> (RouteSet, BTreeSet<String>) {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let mut routes = RouteSet::new();
    let mut defaults = BTreeSet::new();
    let mut current: Option<(String, Option<String>, Option<String>, bool)> = None;
    let mut flush = |c: Option<(String, Option<String>, Option<String>, bool)>| {
        if let Some((binary, method, path, has_event)) = c {
            match (method, path) {
                (Some(m), Some(p)) => {
                    routes.insert((m, p, binary));
                }
                (None, None) if has_event => {
                    defaults.insert(binary);
                }
                _ => {}
            }
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        if line.starts_with("  ") && !line.starts_with("   ") && trimmed.ends_with(':') {
            flush(current.take());
            continue;
        }
        if let Some(b) = trimmed.strip_prefix("Binary: ") {
            current = Some((b.to_owned(), None, None, false));
        } else if let Some(c) = current.as_mut() {
            if let Some(m) = trimmed.strip_prefix("Method: ") {
                c.1 = Some(m.to_owned());
            } else if let Some(p) = trimmed.strip_prefix("Path: ") {
                c.2 = Some(p.to_owned());
            } else if trimmed == "Type: HttpApi" {
                c.3 = true;
            }
        }
    }
    flush(current);
    (routes, defaults)
}

/// (method, path, function) of the `cargo lambda watch` router, leaving out the
/// `not-found` entries, and the paths routed to `not-found` for any method.
fn router_routes() -> (RouteSet, BTreeSet<String>) {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut routes = RouteSet::new();
    let mut catch_all = BTreeSet::new();
    for (path, target) in router {
        match target {
            toml::Value::String(function) => {
                assert_eq!(function, NOT_FOUND.function, "{path}");
                catch_all.insert(path.clone());
            }
            toml::Value::Array(entries) => {
                for e in entries {
                    let method = e["method"].as_str().unwrap();
                    let function = e["function"].as_str().unwrap();
                    if function != NOT_FOUND.function {
                        routes.insert((method.into(), path.clone(), function.into()));
                    }
                }
            }
            other => panic!("unexpected router entry {path}: {other}"),
        }
    }
    (routes, catch_all)
}

fn table_routes() -> RouteSet {
    ROUTES
        .iter()
        .map(|r| (r.method.into(), r.path.into(), r.function.into()))
        .collect()
}

/// The route table with its paths as the router spells them.
fn table_routes_for_router() -> RouteSet {
    ROUTES
        .iter()
        .map(|r| (r.method.into(), as_router_path(r.path), r.function.into()))
        .collect()
}

#[test]
fn template_and_router_serve_the_same_routes() {
    let (template, template_default) = template_routes();
    let (router, router_catch_all) = router_routes();
    assert_eq!(
        template,
        table_routes(),
        "template.yaml vs application::endpoint::ROUTES"
    );
    assert_eq!(
        router,
        table_routes_for_router(),
        "Cargo.toml router vs application::endpoint::ROUTES"
    );
    assert_eq!(
        template_default,
        BTreeSet::from([NOT_FOUND.function.to_owned()])
    );
    assert!(
        router_catch_all.contains("/{*path}"),
        "router lacks the catch-all"
    );
}

/// (method, path) of every operation of the OpenAPI document.
fn openapi_routes() -> BTreeSet<(String, String)> {
    let doc = openapi::document();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_openapi_document_describes_the_templates_routes() {
    let (template, _) = template_routes();
    let template: BTreeSet<(String, String)> = template
        .into_iter()
        .map(|(m, p, _)| (m, as_openapi_path(&p)))
        .collect();
    assert_eq!(openapi_routes(), template);
}

#[test]
fn router_sends_other_methods_on_known_paths_to_not_found() {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    for route in &ROUTES {
        let entries = router[&as_router_path(route.path)].as_array().unwrap();
        for method in [
            "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
        ] {
            let target = entries
                .iter()
                .find(|e| e["method"].as_str() == Some(method))
                .and_then(|e| e["function"].as_str());
            let want = if method == route.method {
                route.function
            } else {
                NOT_FOUND.function
            };
            assert_eq!(target, Some(want), "{method} {}", route.path);
        }
    }
}

#[test]
fn every_function_is_a_binary_with_a_template_resource() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    for route in ROUTES.iter().chain([&NOT_FOUND]) {
        assert!(
            root()
                .join("functions/src/bin")
                .join(format!("{}.rs", route.function))
                .exists(),
            "{}",
            route.function
        );
        assert!(
            text.contains(&format!("Binary: {}", route.function)),
            "{}",
            route.function
        );
    }
    for required in [
        "Runtime: provided.al2023",
        "- arm64",
        "Handler: bootstrap",
        "MemorySize: 128",
        "BuildMethod: rust-cargolambda",
        "AWS::Serverless::HttpApi",
        "AllowOrigins:",
        "ThrottlingBurstLimit:",
        "LogFormat: JSON",
        "ApiUrl:",
        // A public API as a reviewer wants it: bounded concurrency and time, alarms to a
        // topic, the platform's REPORT lines kept, access logs with the error.
        "ReservedConcurrentExecutions: !Ref ReservedConcurrency",
        "Timeout: 3",
        "SystemLogLevel: INFO",
        "HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, \"\"]]",
        "\"errorMessage\":\"$context.error.message\"",
        "\"integrationStatus\":\"$context.integration.status\"",
        "Api5xxAlarm:",
        "MetricName: 5xx",
    ] {
        assert!(text.contains(required), "template.yaml lacks {required}");
    }
    // Every function: its errors, throttles and p99 duration alarmed.
    let resources: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix("Function:"))
        .filter(|n| !n.is_empty() && !n.starts_with(' '))
        .collect();
    assert_eq!(resources.len(), ROUTES.len() + 2, "{resources:?}");
    // Each path has one route, so a route's own methods are its path's (the
    // middleware's 405 says them).
    let paths: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    assert_eq!(paths.len(), ROUTES.len(), "two routes share a path");
    for name in resources {
        // The scheduled job's failures reach an alarm through its dead-letter queue.
        let failures = if name == "CostPlanner" {
            "DeadLetters"
        } else {
            "Errors"
        };
        for alarm in [failures, "Throttles", "Duration"] {
            let key = format!("  {name}{alarm}Alarm:");
            assert!(text.contains(&key), "template.yaml lacks {key}");
        }
        assert!(
            text.contains(&format!("Value: !Ref {name}Function")),
            "{name}: alarms name the function"
        );
    }
}

/// The `Default:` of a template parameter.
fn parameter_default(text: &str, name: &str) -> u64 {
    let at = text
        .find(&format!("\n  {name}:\n"))
        .unwrap_or_else(|| panic!("no parameter {name}"));
    text[at..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} has no numeric default"))
}

/// Time a cold start's init holds an execution beyond the p99 duration, ms (the rule
/// stated in `template.yaml` above `ThrottlingBurstLimit`).
const COLD_START_ALLOWANCE_MS: u64 = 250;

#[test]
fn throttling_matches_what_the_reserved_functions_complete() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert!(text.contains("plus a 250 ms allowance for a cold"));
    let reserved = parameter_default(&text, "ReservedConcurrency");
    let duration_ms = parameter_default(&text, "DurationAlarmMs") + COLD_START_ALLOWANCE_MS;
    let burst = parameter_default(&text, "ThrottlingBurstLimit");
    let rate = parameter_default(&text, "ThrottlingRateLimit");
    // In flight at most: the bucket's burst, plus what it admits while those run.
    let in_flight = |burst: u64, rate: u64| burst * 1000 + rate * duration_ms;
    assert!(
        in_flight(burst, rate) <= reserved * 1000,
        "{burst} + {rate}/s x {duration_ms} ms > {reserved} reserved"
    );
    // And no looser than needed: one more request a second would pass the reservation.
    assert!(
        in_flight(burst, rate + 1) > reserved * 1000,
        "{rate}/s is arbitrary"
    );
}

#[test]
fn the_readme_states_the_account_concurrency_the_template_needs() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let reserved = parameter_default(&text, "ReservedConcurrency");
    // Every function but the scheduled one reserves the parameter's executions (the
    // Globals); the cost planner reserves its own.
    let functions = text.matches("Type: AWS::Serverless::Function").count() as u64;
    assert!(text.contains("      ReservedConcurrentExecutions: 1\n"));
    let total = (functions - 1) * reserved + 1;
    // Lambda keeps 100 executions of the account unreserved.
    let needed = total + 100;
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let said = format!(
        "{total} reserved executions need an account concurrency limit of at least {needed}"
    );
    assert!(readme.contains(&said), "README lacks: {said}");
}

#[test]
fn a_failed_scheduled_run_is_retried_then_dead_lettered_and_alarmed() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    // The resource runs to the first blank line.
    let planner = &text[text.find("\n  CostPlannerFunction:").unwrap() + 1..];
    let function = &planner[..planner.find("\n\n").unwrap_or(planner.len())];
    for required in [
        // Lambda's own retries of the asynchronous invocation, not the schedule's.
        "EventInvokeConfig:\n        MaximumRetryAttempts: 2\n",
        "OnFailure:\n            Type: SQS\n            Destination: !GetAtt CostPlannerDeadLetters.Arn",
        "sqs:SendMessage",
        // The scheduler's undeliverable events go to the same queue.
        "DeadLetterConfig:\n              Arn: !GetAtt CostPlannerDeadLetters.Arn",
        "RoleArn: !GetAtt CostPlannerScheduleRole.Arn",
    ] {
        assert!(
            function.contains(required),
            "CostPlannerFunction lacks {required}"
        );
    }
    for required in [
        "  CostPlannerDeadLetters:\n    Type: AWS::SQS::Queue",
        // Arrivals, not depth: a message left in the queue must not hide the next one.
        "MetricName: NumberOfMessagesSent",
        "Value: !GetAtt CostPlannerDeadLetters.QueueName",
        "MetricName: DestinationDeliveryFailures",
        "VersioningConfiguration:\n        Status: Enabled",
        "ExpiredObjectDeleteMarker: true",
    ] {
        assert!(text.contains(required), "template.yaml lacks {required}");
    }
}
