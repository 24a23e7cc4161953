//! The scheduled event: a plan document (a name and named workloads, each with the
//! inputs of `POST /api/plan`) and the time the schedule fired.

use calculator::clip;
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

/// A scheduled run: the document and the instant its report is filed under.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The plan's name: the report's folder.
    pub name: String,
    /// The workloads, in document order.
    pub workloads: Vec<NamedWorkload>,
    /// The schedule's time, in UTC to the second (`2026-11-26T06:00:00Z`), however the
    /// event wrote it.
    pub scheduled_time: String,
    /// Its date (`2026-11-26`).
    pub scheduled_date: String,
    /// Its time of day (`060000`), for the run's key.
    time_of_day: String,
}

impl Run {
    /// S3 key of this run's report in `extension` (`json` or `md`):
    /// `reports/<plan>/<date>T<hhmmss>Z.<extension>`. The same for every retry of one
    /// scheduled time, and different for any other time, so runs never overwrite
    /// each other and a plan's runs list in time order.
    pub fn key(&self, extension: &str) -> String {
        format!(
            "reports/{}/{}T{}Z.{extension}",
            self.name, self.scheduled_date, self.time_of_day
        )
    }

    /// S3 key of the plan's pointer to its latest complete report, written after both
    /// of a run's files: a reader that follows it never sees one file without the other.
    pub fn latest_key(&self) -> String {
        latest_key(&self.name)
    }
}

/// S3 key of plan `name`'s pointer to its latest complete report.
pub fn latest_key(name: &str) -> String {
    format!("reports/{name}/latest.json")
}

/// A name safe as an S3 key segment: letters, digits, `.`, `_`, `-`, starting with a
/// letter or digit.
fn safe_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= MAX_PLAN_NAME_CHARS
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A UTC instant to the second: `(date, hhmmss)` of an RFC 3339 time
/// (`2026-11-26T06:00:00Z`, `2026-11-26T06:00:00.000+00:00`) that names a real
/// instant: months 1 to 12, the month's days (29 February in leap years only), hours
/// below 24, minutes and seconds below 60. Fractions of a second are dropped; an
/// offset other than UTC's is refused (EventBridge Scheduler gives UTC).
fn utc_instant(time: &str) -> Option<(String, String)> {
    let b = time.as_bytes();
    if b.len() < 20 || !time.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| time[r].parse().ok())?
    };
    let punctuated = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':';
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &time[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let utc = matches!(rest, "Z" | "z" | "+00:00" | "-00:00");
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let real = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    (punctuated && utc && real).then(|| {
        (
            format!("{year:04}-{month:02}-{day:02}"),
            format!("{hour:02}{minute:02}{second:02}"),
        )
    })
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
    let (date, time_of_day) = utc_instant(time).ok_or_else(|| {
        error(format!(
            "scheduled_time: must be a real instant in UTC, RFC 3339, such as 2026-11-26T06:00:00Z; got '{}'",
            clip(time)
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
            "plan.{}: unknown field; a plan has name and workloads",
            clip(key)
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
                    "plan.workloads[{i}].name: is required, a string of 1 to {MAX_PLAN_NAME_CHARS} characters"
                )))
            }
        };
        if workloads.iter().any(|w| w.name == name) {
            return Err(error(format!(
                "plan.workloads[{i}].name: '{}' is used twice",
                clip(&name)
            )));
        }
        workloads.push(NamedWorkload { name, request });
    }
    Ok(Run {
        name: name.to_owned(),
        workloads,
        scheduled_time: format!(
            "{date}T{}:{}:{}Z",
            &time_of_day[0..2],
            &time_of_day[2..4],
            &time_of_day[4..6]
        ),
        scheduled_date: date,
        time_of_day,
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
        assert_eq!(run.key("json"), "reports/daily/2026-11-26T060000Z.json");
        assert_eq!(run.key("md"), "reports/daily/2026-11-26T060000Z.md");
        assert_eq!(run.latest_key(), "reports/daily/latest.json");
        assert_eq!(run.workloads[0].name, "a");
        assert!(!run.workloads[0].request.contains_key("name"));
    }

    #[test]
    fn scheduled_times_are_real_utc_instants_to_the_second() {
        let plan = json!({"name": "daily", "workloads": [{"name": "a"}]});
        let at = |t: &str| {
            read(&event(plan.clone(), t)).map(|r| (r.scheduled_time.clone(), r.key("json")))
        };
        // Every spelling of one instant files the same run.
        for t in [
            "2026-11-26T06:00:00Z",
            "2026-11-26t06:00:00z",
            "2026-11-26T06:00:00.000Z",
            "2026-11-26T06:00:00.123456+00:00",
            "2026-11-26T06:00:00-00:00",
        ] {
            assert_eq!(
                at(t).unwrap(),
                (
                    "2026-11-26T06:00:00Z".to_owned(),
                    "reports/daily/2026-11-26T060000Z.json".to_owned()
                ),
                "{t}"
            );
        }
        // Two times of one day are two runs.
        assert_ne!(
            at("2026-11-26T18:00:00Z").unwrap().1,
            at("2026-11-26T06:00:00Z").unwrap().1
        );
        assert!(at("2024-02-29T00:00:00Z").is_ok());
        for bad in [
            "2026-13-45T99:99:99Z",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T23:60:00Z",
            "2026-11-26T23:59:60Z",
            "2026-11-26T06:00:00+01:00",
            "2026-11-26T06:00:00",
            "2026-11-26T06:00:00.Z",
            "2026-11-26 06:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-11-26T06:00:00Zjunk",
            "２026-11-26T06:00:00Z",
        ] {
            let e = at(bad).unwrap_err().0;
            assert!(
                e.starts_with("scheduled_time: must be a real instant"),
                "{bad}: {e}"
            );
        }
        // What is echoed is cut.
        let long = format!("2026-11-26T06:00:00Z{}", "x".repeat(300_000));
        assert!(at(&long).unwrap_err().0.len() < 300);
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
