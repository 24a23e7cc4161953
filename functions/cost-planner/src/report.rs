//! The report of one run: every workload planned (or its error), as JSON and as a
//! Markdown summary. Pure: the same run and prices give the same report, so a retry
//! writes the same objects again.

use http_glue::plan;
use planner::Catalog;
use serde_json::{json, Value};

use crate::document::Run;

/// A run's report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The full report: every workload's plan or error, the prices used, the total.
    pub json: Value,
    /// One row per workload and the total.
    pub markdown: String,
    /// Workloads that could not be planned (a field error).
    pub failed: usize,
}

/// One workload's line of the summary.
struct Line {
    name: String,
    model: String,
    mode: String,
    cheapest: Option<Value>,
    outcome: String,
}

/// Plans every workload of `run` with `catalog`'s prices.
pub fn build(run: &Run, catalog: &Catalog) -> Report {
    let mut entries = Vec::with_capacity(run.workloads.len());
    let mut lines = Vec::with_capacity(run.workloads.len());
    let mut failed = 0;
    for (i, w) in run.workloads.iter().enumerate() {
        let prefix = format!("workloads[{i}].");
        let answer = plan::parse(&w.request, &prefix, catalog).and_then(|p| p.answer());
        match answer {
            Ok(plan) => {
                let cheapest = plan["cheapest"].clone();
                lines.push(Line {
                    name: w.name.clone(),
                    model: plan["model"]["name"]
                        .as_str()
                        .unwrap_or("custom model")
                        .into(),
                    mode: plan["mode"].as_str().unwrap_or_default().into(),
                    outcome: plan["summary"].as_str().unwrap_or_default().into(),
                    cheapest: (!cheapest.is_null()).then_some(cheapest),
                });
                entries.push(json!({"name": w.name, "ok": true, "plan": plan}));
            }
            Err(e) => {
                failed += 1;
                let message = e.body.get("error").cloned().unwrap_or(Value::Null);
                lines.push(Line {
                    name: w.name.clone(),
                    model: w
                        .request
                        .get("model_name")
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .into(),
                    mode: w
                        .request
                        .get("mode")
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .into(),
                    cheapest: None,
                    outcome: format!("error: {}", message.as_str().unwrap_or("invalid workload")),
                });
                entries.push(json!({
                    "name": w.name,
                    "ok": false,
                    "error": message,
                    "field": e.body.get("field"),
                }));
            }
        }
    }
    let total: f64 = lines
        .iter()
        .filter_map(|l| l.cheapest.as_ref()?["usd_per_month"].as_f64())
        .sum();
    let total = (total * 100.0).round() / 100.0;
    let json = json!({
        "plan": run.name,
        "scheduled_time": run.scheduled_time,
        "scheduled_date": run.scheduled_date,
        "service": {"name": http_glue::SERVICE_NAME, "version": http_glue::VERSION},
        "prices": {
            "as_of": catalog.prices_as_of,
            "region": catalog.region,
            "source": catalog.price_source,
            "hours_per_month": planner::HOURS_PER_MONTH,
        },
        "workloads": entries,
        "failed": failed,
        "total_usd_per_month": total,
    });
    Report {
        markdown: markdown(run, catalog, &lines, total),
        json,
        failed,
    }
}

/// A table cell: pipes escaped, newlines flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(run: &Run, catalog: &Catalog, lines: &[Line], total: f64) -> String {
    let mut out = format!(
        "# Cost plan `{}`, {}\n\nPrices: on-demand Linux in {}, as of {} ({}); {} hours a month.\n\n",
        run.name,
        run.scheduled_date,
        catalog.region,
        catalog.prices_as_of,
        cell(&catalog.price_source),
        planner::HOURS_PER_MONTH
    );
    out += "| workload | model | mode | cheapest fitting instance | GPUs | $/month |\n";
    out += "| --- | --- | --- | --- | ---: | ---: |\n";
    for l in lines {
        let row = match &l.cheapest {
            Some(c) => format!(
                "{} | {} x {} | {}",
                cell(c["instance"].as_str().unwrap_or("(no instance type)")),
                c["gpu_count"],
                cell(c["gpu"].as_str().unwrap_or_default()),
                c["usd_per_month"]
                    .as_f64()
                    .map_or_else(|| "price unknown".to_owned(), |m| format!("{m:.2}"))
            ),
            None => format!("{} | - | -", cell(&l.outcome)),
        };
        out += &format!(
            "| {} | {} | {} | {row} |\n",
            cell(&l.name),
            cell(&l.model),
            cell(&l.mode)
        );
    }
    out += &format!("| **total** | | | | | **{total:.2}** |\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::read;

    fn run() -> Run {
        read(&json!({
            "plan": {"name": "daily", "workloads": [
                {"name": "chat", "mode": "inference", "model_name": "Qwen3-0.6B",
                 "batch_size": 8, "sequence_length": 4096},
                {"name": "typo", "mode": "inference", "model_name": "Qwen3-0.6B",
                 "batch_size": 0, "sequence_length": 4096},
                {"name": "tune", "mode": "training", "model_name": "Qwen3-0.6B",
                 "method": "lora", "batch_size": 4, "sequence_length": 2048}
            ]},
            "scheduled_time": "2026-11-26T06:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn a_failing_workload_is_reported_and_the_others_planned() {
        let report = build(&run(), Catalog::embedded());
        assert_eq!(report.failed, 1);
        let w = report.json["workloads"].as_array().unwrap();
        assert_eq!(
            (
                w[0]["ok"].as_bool(),
                w[1]["ok"].as_bool(),
                w[2]["ok"].as_bool()
            ),
            (Some(true), Some(false), Some(true))
        );
        assert_eq!(w[1]["field"], "workloads[1].batch_size");
        assert_eq!(report.json["prices"]["as_of"], "2026-07-20");
        let cheapest = |i: usize| w[i]["plan"]["cheapest"]["usd_per_month"].as_f64().unwrap();
        let total = report.json["total_usd_per_month"].as_f64().unwrap();
        assert!((total - cheapest(0) - cheapest(2)).abs() < 0.01);
    }

    #[test]
    fn the_summary_has_a_row_per_workload_and_the_total() {
        let report = build(&run(), Catalog::embedded());
        let md = &report.markdown;
        assert!(md.starts_with("# Cost plan `daily`, 2026-11-26"));
        assert!(md.contains("as of 2026-07-20"));
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        // Header, rule, three workloads, total.
        assert_eq!(rows.len(), 2 + 3 + 1, "{md}");
        assert!(
            rows[2].starts_with("| chat | Qwen3-0.6B | inference | g4dn.xlarge"),
            "{}",
            rows[2]
        );
        assert!(rows[3].contains("error: workloads[1].batch_size"));
        assert!(rows[5].starts_with("| **total**"));
    }

    #[test]
    fn the_same_run_gives_the_same_report() {
        let catalog = Catalog::embedded();
        assert_eq!(build(&run(), catalog), build(&run(), catalog));
    }
}
