//! The report of one run: every workload planned (or its error), as JSON and as a
//! Markdown summary. Pure: the same run and prices give the same report, so a retry
//! writes the same objects again.

use planner::{cents, Catalog, HOURS_PER_MONTH};
use serde::Serialize;
use serde_json::Value;

use super::document::Run;
use crate::endpoint::plan::plan;
use crate::response::{CandidateView, PlanAnswer, PlanModel, PricesView};
use crate::{SERVICE_NAME, VERSION};

/// The service that wrote a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Service {
    name: &'static str,
    version: &'static str,
}

/// One workload of a report: its plan, or why it could not be planned.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Entry {
    /// Planned.
    Planned {
        /// The workload's name.
        name: String,
        /// Always `true`.
        ok: bool,
        /// Its plan.
        plan: Box<PlanAnswer>,
    },
    /// Refused: a field error.
    Failed {
        /// The workload's name.
        name: String,
        /// Always `false`.
        ok: bool,
        /// The error's message.
        error: String,
        /// The field at fault, by its path in the document (`workloads[1].batch_size`).
        field: Option<String>,
    },
}

/// The JSON report of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportJson {
    /// The plan's name.
    pub plan: String,
    /// The schedule's time.
    pub scheduled_time: String,
    /// Its date.
    pub scheduled_date: String,
    service: Service,
    /// The prices in force.
    pub prices: PricesView,
    /// Every workload, in document order.
    pub workloads: Vec<Entry>,
    /// Workloads that could not be planned.
    pub failed: usize,
    /// The cheapest fitting candidates' monthly spend together (for a workload with a
    /// demand, every instance it needs), USD to the cent.
    pub total_usd_per_month: f64,
}

/// A run's report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The full report: every workload's plan or error, the prices used, the total.
    pub json: ReportJson,
    /// One row per workload and the total.
    pub markdown: String,
    /// Workloads that could not be planned (a field error).
    pub failed: usize,
}

impl Report {
    /// The JSON report as the bucket stores it: pretty, keys sorted.
    pub fn json_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(&self.json).unwrap_or(Value::Null);
        serde_json::to_vec_pretty(&value).unwrap_or_default()
    }
}

/// A plan's pointer to its latest complete report (`reports/<plan>/latest.json`),
/// written after both of a run's files, so that a reader who follows it finds both.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latest {
    /// The plan's name.
    pub plan: String,
    /// The run's scheduled time (UTC, to the second): the pointer only moves forward.
    pub scheduled_time: String,
    /// Key of the JSON report, in the same bucket.
    pub report: String,
    /// Key of the Markdown summary, in the same bucket.
    pub summary: String,
    /// Workloads in the run.
    pub workloads: usize,
    /// Of which could not be planned.
    pub failed: usize,
    service: Service,
}

impl Latest {
    /// The pointer to `run`'s report.
    pub fn of(run: &Run, report: &Report) -> Latest {
        Latest {
            plan: run.name.clone(),
            scheduled_time: run.scheduled_time.clone(),
            report: run.key("json"),
            summary: run.key("md"),
            workloads: run.workloads.len(),
            failed: report.failed,
            service: Service {
                name: SERVICE_NAME,
                version: VERSION,
            },
        }
    }

    /// The pointer as the bucket stores it.
    pub fn json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Whether this pointer should replace one already stored (`stored`, its bytes):
    /// unless that one points to a later scheduled time. A pointer that cannot be read
    /// is replaced.
    pub fn replaces(&self, stored: &[u8]) -> bool {
        let time = serde_json::from_slice::<Value>(stored)
            .ok()
            .and_then(|v| v.get("scheduled_time")?.as_str().map(str::to_owned));
        // Canonical UTC times to the second (`Run::scheduled_time`) order as strings.
        time.is_none_or(|t| t.as_str() <= self.scheduled_time.as_str())
    }
}

/// One workload's line of the summary.
struct Line {
    name: String,
    model: String,
    mode: String,
    cheapest: Option<CandidateView>,
    outcome: String,
}

/// A workload's model in the summary: its name, and for a Hub model the commit read
/// (a branch moves between runs; the commit says which weights were planned).
fn model_line(model: &PlanModel) -> String {
    let name = model.name.clone().unwrap_or_else(|| "custom model".into());
    match model.hub.as_ref().and_then(|h| h.commit()) {
        Some(commit) => format!("{name} (Hub commit {})", &commit[..commit.len().min(12)]),
        None => name,
    }
}

/// Plans every workload of `run` with `catalog`'s prices. Hub models are read before
/// (`hub_models::prefetch`, in the function that calls this).
pub fn build(run: &Run, catalog: &Catalog) -> Report {
    let mut entries = Vec::with_capacity(run.workloads.len());
    let mut lines = Vec::with_capacity(run.workloads.len());
    let mut failed = 0;
    for (i, w) in run.workloads.iter().enumerate() {
        let prefix = format!("workloads[{i}].");
        match plan(&w.request, &prefix, catalog) {
            Ok(answer) => {
                lines.push(Line {
                    name: w.name.clone(),
                    model: model_line(&answer.model),
                    mode: answer.mode.into(),
                    outcome: answer.summary.clone(),
                    cheapest: answer.cheapest.clone(),
                });
                entries.push(Entry::Planned {
                    name: w.name.clone(),
                    ok: true,
                    plan: Box::new(answer),
                });
            }
            Err(e) => {
                failed += 1;
                let text = |key: &str| {
                    w.request
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .to_owned()
                };
                lines.push(Line {
                    name: w.name.clone(),
                    model: text("model_name"),
                    mode: text("mode"),
                    cheapest: None,
                    outcome: format!("error: {}", e.body.error),
                });
                entries.push(Entry::Failed {
                    name: w.name.clone(),
                    ok: false,
                    error: e.body.error,
                    field: e.body.field,
                });
            }
        }
    }
    let total = cents(
        lines
            .iter()
            .filter_map(|l| l.cheapest.as_ref()?.monthly_spend())
            .sum(),
    );
    let json = ReportJson {
        plan: run.name.clone(),
        scheduled_time: run.scheduled_time.clone(),
        scheduled_date: run.scheduled_date.clone(),
        service: Service {
            name: SERVICE_NAME,
            version: VERSION,
        },
        prices: PricesView::new(
            &catalog.prices_as_of,
            &catalog.region,
            &catalog.price_source,
            &catalog.price_sources,
        ),
        workloads: entries,
        failed,
        total_usd_per_month: total,
    };
    Report {
        markdown: markdown(run, catalog, &lines, total),
        json,
        failed,
    }
}

/// `text` as literal Markdown text inside a line (a table cell, a list item's text):
/// HTML's `&`, `<` and `>` as entities (no tag, comment or entity of the caller's
/// reaches a renderer, and no `<autolink>`), every character that opens a construct
/// inside a line (emphasis, code, links and images, strikethrough, table cells, and
/// GitHub's extended autolinks: `:` of a scheme, `@` of an address, the `.` of
/// `www.`) behind a backslash, line breaks as spaces and other control characters
/// dropped. Characters
/// that mean something only at a line's start (`#`, `-`, `+`, `=`) never start one
/// here.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // GitHub's extended autolinks need `scheme:`, `user@host` or `www.` as typed.
        let www = c == '.' && out.len() >= 3 && out[out.len() - 3..].eq_ignore_ascii_case("www");
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '!' | '|' | '~' | ':' | '@' => {
                out.push('\\');
                out.push(c);
            }
            '.' if www => out.push_str("\\."),
            c => out.push(c),
        }
    }
    out
}

fn markdown(run: &Run, catalog: &Catalog, lines: &[Line], total: f64) -> String {
    let mut out = format!(
        "# Cost plan `{}`, {}\n\nPrices: on-demand Linux, {} hours a month.\n\n",
        run.name,
        run.scheduled_time.replace('T', " ").replace('Z', " UTC"),
        HOURS_PER_MONTH
    );
    for s in &catalog.price_sources {
        out += &format!(
            "- {}: {} instance types, {}, as of {}\n",
            escape_markdown(&s.source),
            s.instances.len(),
            escape_markdown(&s.region),
            escape_markdown(&s.as_of)
        );
    }
    out += "\n";
    out += "| workload | model | mode | cheapest fitting instance | GPUs | output tokens/s | $/1M output tokens | $/month |\n";
    out += "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |\n";
    for l in lines {
        let row = match &l.cheapest {
            Some(c) => {
                let serving = c.serving_figures();
                let (tokens, per_million) = match serving {
                    Some(f) => (
                        format!("{:.0}", f.output_tokens_per_s),
                        f.usd_per_million_output_tokens
                            .map_or_else(|| "price unknown".to_owned(), |u| format!("{u:.2}")),
                    ),
                    None => ("-".to_owned(), "-".to_owned()),
                };
                let instance =
                    escape_markdown(c.instance.as_deref().unwrap_or("(no instance type)"));
                let instance = match serving.map_or(1, |f| f.instances) {
                    1 => instance,
                    n => format!("{n} x {instance}"),
                };
                format!(
                    "{instance} | {} x {} | {tokens} | {per_million} | {}",
                    c.gpu_count,
                    escape_markdown(&c.gpu),
                    c.monthly_spend()
                        .map_or_else(|| "price unknown".to_owned(), |m| format!("{m:.2}"))
                )
            }
            None => format!("{} | - | - | - | -", escape_markdown(&l.outcome)),
        };
        out += &format!(
            "| {} | {} | {} | {row} |\n",
            escape_markdown(&l.name),
            escape_markdown(&l.model),
            escape_markdown(&l.mode)
        );
    }
    out += &format!("| **total** | | | | | | | **{total:.2}** |\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::cost_planner::document::read;
    use serde_json::json;

    fn json_of(report: &Report) -> Value {
        serde_json::to_value(&report.json).unwrap()
    }

    fn run() -> Run {
        read(&json!({
            "plan": {"name": "daily", "workloads": [
                {"name": "chat", "mode": "inference", "model_name": "Qwen3-0.6B",
                 "batch_size": 8, "sequence_length": 4096},
                {"name": "typo", "mode": "inference", "model_name": "Qwen3-0.6B",
                 "batch_size": 0, "sequence_length": 4096},
                {"name": "tune", "mode": "training", "model_name": "Qwen3-0.6B",
                 "method": "lora", "batch_size": 4, "sequence_length": 2048},
                {"name": "serve", "mode": "inference", "model_name": "Qwen3-8B",
                 "input_tokens": 2048, "output_tokens": 512, "requests_per_second": 40,
                 "tpot_ms": 40, "instance_types": ["g6e.xlarge", "p5.48xlarge"]}
            ]},
            "scheduled_time": "2026-11-26T06:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn a_failing_workload_is_reported_and_the_others_planned() {
        let report = build(&run(), Catalog::embedded());
        assert_eq!(report.failed, 1);
        let json = json_of(&report);
        let w = json["workloads"].as_array().unwrap();
        assert_eq!(
            (
                w[0]["ok"].as_bool(),
                w[1]["ok"].as_bool(),
                w[2]["ok"].as_bool(),
                w[3]["ok"].as_bool()
            ),
            (Some(true), Some(false), Some(true), Some(true))
        );
        assert_eq!(w[1]["field"], "workloads[1].batch_size");
        let catalog = Catalog::embedded();
        assert_eq!(json["prices"]["as_of"], catalog.prices_as_of.as_str());
        let cheapest = |i: usize| w[i]["plan"]["cheapest"]["usd_per_month"].as_f64().unwrap();
        let for_demand = w[3]["plan"]["cheapest"]["serving"]["usd_per_month_for_demand"]
            .as_f64()
            .unwrap();
        let total = json["total_usd_per_month"].as_f64().unwrap();
        assert!((total - cheapest(0) - cheapest(2) - for_demand).abs() < 0.02);
    }

    #[test]
    fn the_summary_has_a_row_per_workload_and_the_total() {
        let report = build(&run(), Catalog::embedded());
        let md = &report.markdown;
        assert!(md.starts_with("# Cost plan `daily`, 2026-11-26"));
        let as_of = &Catalog::embedded().prices_as_of;
        assert!(md.contains(&format!("as of {as_of}")));
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        // Header, rule, four workloads, total.
        assert_eq!(rows.len(), 2 + 4 + 1, "{md}");
        assert!(
            rows[2].starts_with("| chat | Qwen3-0.6B | inference | g4dn.xlarge"),
            "{}",
            rows[2]
        );
        assert!(
            rows[3].contains("error\\: workloads\\[1\\].batch\\_size"),
            "{}",
            rows[3]
        );
        assert!(rows[6].starts_with("| **total**"));
    }

    /// The cells of a summary row.
    fn cells(row: &str) -> Vec<String> {
        row.trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect()
    }

    #[test]
    fn a_served_workload_states_its_tokens_per_second_and_what_a_million_cost() {
        let report = build(&run(), Catalog::embedded());
        let json = json_of(&report);
        let md = &report.markdown;
        let row = md.lines().find(|l| l.starts_with("| serve |")).unwrap();
        let c = cells(row);
        let serving = &json["workloads"][3]["plan"]["cheapest"]["serving"];
        let tokens = serving["output_tokens_per_s"].as_f64().unwrap();
        let per_million = serving["usd_per_million_output_tokens"].as_f64().unwrap();
        let instances = serving["instances"].as_u64().unwrap();
        assert_eq!(c[5], format!("{tokens:.0}"), "{row}");
        assert_eq!(c[6], format!("{per_million:.2}"), "{row}");
        let monthly = serving["usd_per_month_for_demand"].as_f64().unwrap();
        assert_eq!(c[7], format!("{monthly:.2}"), "{row}");
        // 40 requests a second of 512 output tokens: the instances together produce them.
        assert!(tokens > 0.9 * 40.0 * 512.0, "{tokens}");
        assert!(
            instances == 1 || c[3].starts_with(&format!("{instances} x ")),
            "{row}"
        );
        // A training workload has no serving figures.
        let tune = cells(md.lines().find(|l| l.starts_with("| tune |")).unwrap());
        assert_eq!((tune[5].as_str(), tune[6].as_str()), ("-", "-"));
    }

    #[test]
    fn hostile_text_is_escaped() {
        assert_eq!(
            escape_markdown("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escape_markdown("[click](javascript:alert(1))"),
            "\\[click\\](javascript\\:alert(1))"
        );
        assert_eq!(escape_markdown("![x](y)"), "\\!\\[x\\](y)");
        assert_eq!(escape_markdown("a|b\nc\r\u{7}d"), "a\\|b c d");
        assert_eq!(escape_markdown("*_`~\\&"), "\\*\\_\\`\\~\\\\&amp;");
        assert_eq!(escape_markdown("Qwen3-0.6B"), "Qwen3-0.6B");
        // No extended autolink survives.
        assert_eq!(
            escape_markdown("https://evil.example/x"),
            "https\\://evil.example/x"
        );
        assert_eq!(escape_markdown("WWW.evil.example"), "WWW\\.evil.example");
        assert_eq!(escape_markdown("a@b.co"), "a\\@b.co");
    }

    #[test]
    fn operator_text_reaches_the_summary_escaped() {
        let run = read(&json!({
            "plan": {"name": "daily", "workloads": [
                {"name": "<img src=x onerror=alert(1)>", "mode": "inference",
                 "model_name": "Qwen3-0.6B", "batch_size": 1, "sequence_length": 512},
                {"name": "[x](javascript:alert(1))|\n# h", "mode": "inference",
                 "model_name": "Qwen3-0.6B", "batch_size": 1, "sequence_length": 512,
                 "prices": {"g4dn.xlarge": 0.5}}
            ]},
            "scheduled_time": "2026-11-26T06:00:00Z"
        }))
        .unwrap();
        let mut catalog = Catalog::embedded().clone();
        catalog.price_sources[0].as_of = "<script>alert(1)</script>".into();
        let md = build(&run, &catalog).markdown;
        assert!(!md.contains("<img") && !md.contains("<script"), "{md}");
        assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
        assert!(md.contains("\\[x\\](javascript\\:alert(1))\\| # h"), "{md}");
        // Every table row is still one line of eight cells: nine pipes unescaped.
        for row in md.lines().filter(|l| l.starts_with("| ")) {
            let pipes = row
                .char_indices()
                .filter(|&(i, c)| c == '|' && !row[..i].ends_with('\\'))
                .count();
            assert_eq!(pipes, 9, "{row}");
        }
    }

    #[test]
    fn the_pointer_moves_forward_only() {
        let report = build(&run(), Catalog::embedded());
        let latest = Latest::of(&run(), &report);
        assert_eq!(latest.report, "reports/daily/2026-11-26T060000Z.json");
        assert_eq!(latest.failed, 1);
        let at = |t: &str| json!({"scheduled_time": t}).to_string().into_bytes();
        assert!(latest.replaces(&at("2026-11-25T06:00:00Z")));
        assert!(latest.replaces(&at("2026-11-26T06:00:00Z")));
        assert!(!latest.replaces(&at("2026-11-26T06:00:01Z")));
        assert!(latest.replaces(b"not json"));
    }

    #[test]
    fn the_same_run_gives_the_same_report() {
        let catalog = Catalog::embedded();
        assert_eq!(build(&run(), catalog), build(&run(), catalog));
    }
}
