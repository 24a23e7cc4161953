//! The scheduled event: a plan document (a name and named workloads, each with the
//! inputs of `POST /api/plan`) and the time the schedule fired.

use calculator::limits::{MAX_PLAN_NAME_CHARS, MAX_WORKLOADS};
use serde_json::{Map, Value};

/// Why an event cannot be planned at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(pub String);

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventError {}

fn error(message: impl Into<String>) -> EventError {
    EventError(message.into())
}

/// One workload of the document: its name and its plan request.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedWorkload {
    /// The workload's name, unique in the document.
    pub name: String,
    /// The `/api/plan` fields.
    pub request: Map<String, Value>,
}

/// A scheduled run: the document and the date its report is filed under.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The plan's name: the report's file name.
    pub name: String,
    /// The workloads, in document order.
    pub workloads: Vec<NamedWorkload>,
    /// The schedule's time as the scheduler gave it (`2026-11-26T06:00:00Z`).
    pub scheduled_time: String,
    /// Its date (`2026-11-26`): the report's folder.
    pub scheduled_date: String,
}

impl Run {
    /// S3 key of the report in `extension` (`json` or `md`): the same for every retry
    /// of one scheduled time.
    pub fn key(&self, extension: &str) -> String {
        format!("reports/{}/{}.{extension}", self.scheduled_date, self.name)
    }
}

/// A name safe as an S3 key segment: letters, digits, `.`, `_`, `-`, starting with a
/// letter or digit.
fn safe_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= MAX_PLAN_NAME_CHARS
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The date of an RFC 3339 time (`2026-11-26T06:00:00Z` → `2026-11-26`).
fn date_of(time: &str) -> Option<&str> {
    let date = time.get(..10)?;
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && time[10..].starts_with('T'))
    .then_some(date)
}

/// Reads the scheduler's event: `{"plan": {"name", "workloads": [...]},
/// "scheduled_time": "<aws.scheduler.scheduled-time>"}`.
pub fn read(event: &Value) -> Result<Run, EventError> {
    let time = event
        .get("scheduled_time")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            error(
                "scheduled_time: is required, the schedule's time (<aws.scheduler.scheduled-time>)",
            )
        })?;
    let date = date_of(time).ok_or_else(|| {
        error(format!(
            "scheduled_time: must be an RFC 3339 time such as 2026-11-26T06:00:00Z, got '{time}'"
        ))
    })?;
    let plan = event
        .get("plan")
        .and_then(Value::as_object)
        .ok_or_else(|| error("plan: is required, an object with name and workloads"))?;
    if let Some(key) = plan
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "workloads"))
    {
        return Err(error(format!(
            "plan.{key}: unknown field; a plan has name and workloads"
        )));
    }
    let name = plan
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| safe_name(n))
        .ok_or_else(|| {
            error(format!("plan.name: is required: 1 to {MAX_PLAN_NAME_CHARS} letters, digits, '.', '_' or '-', starting with a letter or digit (it names the report file)"))
        })?;
    let items = plan
        .get("workloads")
        .and_then(Value::as_array)
        .filter(|w| !w.is_empty() && w.len() <= MAX_WORKLOADS)
        .ok_or_else(|| {
            error(format!(
                "plan.workloads: must be an array of 1 to {MAX_WORKLOADS} workloads"
            ))
        })?;
    let mut workloads: Vec<NamedWorkload> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut request = item
            .as_object()
            .cloned()
            .ok_or_else(|| error(format!("plan.workloads[{i}]: must be an object")))?;
        let name = match request.remove("name") {
            Some(Value::String(n))
                if !n.trim().is_empty() && n.chars().count() <= MAX_PLAN_NAME_CHARS =>
            {
                n
            }
            _ => {
                return Err(error(format!(
                    "plan.workloads[{i}].name: is required, 1 to {MAX_PLAN_NAME_CHARS} characters"
                )))
            }
        };
        if workloads.iter().any(|w| w.name == name) {
            return Err(error(format!(
                "plan.workloads[{i}].name: '{name}' is used twice"
            )));
        }
        workloads.push(NamedWorkload { name, request });
    }
    Ok(Run {
        name: name.to_owned(),
        workloads,
        scheduled_time: time.to_owned(),
        scheduled_date: date.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(plan: Value, time: &str) -> Value {
        json!({"plan": plan, "scheduled_time": time})
    }

    #[test]
    fn keys_depend_on_the_scheduled_date_and_the_plan_name() {
        let run = read(&event(
            json!({"name": "daily", "workloads": [{"name": "a", "mode": "inference"}]}),
            "2026-11-26T06:00:00Z",
        ))
        .unwrap();
        assert_eq!(run.key("json"), "reports/2026-11-26/daily.json");
        assert_eq!(run.key("md"), "reports/2026-11-26/daily.md");
        assert_eq!(run.workloads[0].name, "a");
        assert!(!run.workloads[0].request.contains_key("name"));
    }

    #[test]
    fn bad_events_say_what_is_wrong() {
        let ok_plan = json!({"name": "daily", "workloads": [{"name": "a"}]});
        let err = |e: Value| read(&e).unwrap_err().0;
        assert!(err(json!({"plan": ok_plan})).starts_with("scheduled_time: is required"));
        assert!(err(event(ok_plan.clone(), "yesterday")).starts_with("scheduled_time: must be"));
        for name in ["", "../etc", "a/b", "-x", &"n".repeat(65)] {
            let plan = json!({"name": name, "workloads": [{"name": "a"}]});
            assert!(
                err(event(plan, "2026-11-26T06:00:00Z")).starts_with("plan.name"),
                "{name}"
            );
        }
        let twice = json!({"name": "d", "workloads": [{"name": "a"}, {"name": "a"}]});
        assert!(err(event(twice, "2026-11-26T06:00:00Z")).contains("used twice"));
        let none = json!({"name": "d", "workloads": []});
        assert!(err(event(none, "2026-11-26T06:00:00Z")).starts_with("plan.workloads"));
        let extra = json!({"name": "d", "workloads": [{"name": "a"}], "owner": "x"});
        assert!(err(event(extra, "2026-11-26T06:00:00Z")).starts_with("plan.owner"));
    }
}
