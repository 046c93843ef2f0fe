//! Sample input for `godwit plugin run`: rows, settings, a migration, an event.
//!
//! # Values in sample rows
//!
//! A value is plain JSON where that is unambiguous: `null`, `true`/`false` (bool), an
//! integer (int), any other number (float), a string (text). Every kind can also be
//! written tagged, in the form godwit prints values in JSON: `{"int": 42}`,
//! `{"text": "a@b.c"}`, `{"bytes": "deadbeef"}` (hex), `{"json": "{\"a\":1}"}` (the
//! document as a string), `{"timestamp": "2026-11-21T08:00:00Z"}`. Any other array or
//! object is taken as a JSON document.

use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::json;

use crate::error::Error;
use crate::plugin::types::{
    BackupTaken, BatchProgress, Column, Event, Finding, FindingsReported, LagUnknown, Migration,
    MigrationApplied, MigrationFailed, MigrationStarted, PauseReason, ReplicationLag, RolledBack,
    Row, RunFinished, RunStarted, Severity, StepPaused, StepResumed, Value,
};
use crate::value::hex;

/// A JSON object with its keys in file order.
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row: an object of column names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut columns = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    columns.push((k, v));
                }
                Ok(Ordered(columns))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads sample rows: a JSON array of objects, or one object per line.
pub fn read_rows(path: &Path) -> Result<Vec<Row>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    let bad = |where_: String, e: String| Error::Config(format!("{}{where_}: {e}", path.display()));
    let objects: Vec<(String, Ordered)> = if text.trim_start().starts_with('[') {
        let rows: Vec<Ordered> =
            serde_json::from_str(&text).map_err(|e| bad(String::new(), e.to_string()))?;
        rows.into_iter()
            .enumerate()
            .map(|(i, r)| (format!(" row {}", i + 1), r))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str::<Ordered>(l)
                    .map(|r| (format!(":{}", i + 1), r))
                    .map_err(|e| bad(format!(":{}", i + 1), e.to_string()))
            })
            .collect::<Result<_, _>>()?
    };
    objects
        .into_iter()
        .map(|(at, Ordered(columns))| {
            columns
                .into_iter()
                .map(|(name, v)| {
                    value(v)
                        .map(|value| Column {
                            name: name.clone(),
                            value,
                        })
                        .map_err(|e| bad(format!("{at}, column `{name}`"), e))
                })
                .collect()
        })
        .collect()
}

/// One value of a sample row; see the module docs.
pub fn value(v: serde_json::Value) -> Result<Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().ok_or("number out of range")?),
        },
        J::String(s) => Value::Text(s),
        J::Object(map) if map.len() == 1 => {
            let (kind, inner) = map.iter().next().expect("one entry");
            let text = || {
                inner
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{kind}` holds a string"))
            };
            match kind.as_str() {
                "null" => Value::Null,
                "bool" => Value::Boolean(inner.as_bool().ok_or("`bool` holds true or false")?),
                "int" => Value::Int(inner.as_i64().ok_or("`int` holds an integer")?),
                "float" => Value::Float(inner.as_f64().ok_or("`float` holds a number")?),
                "text" => Value::Text(text()?),
                "bytes" => Value::Bytes(unhex(&text()?)?),
                "json" => {
                    let doc = text()?;
                    serde_json::from_str::<serde_json::Value>(&doc)
                        .map_err(|e| format!("`json` holds no valid JSON document: {e}"))?;
                    Value::Json(doc)
                }
                "timestamp" => {
                    let t = text()?;
                    chrono::DateTime::parse_from_rfc3339(&t).map_err(|e| {
                        format!("`timestamp` must be RFC 3339, e.g. 2026-11-21T08:00:00Z, got `{t}`: {e}")
                    })?;
                    Value::Timestamp(t)
                }
                _ => Value::Json(serde_json::Value::Object(map).to_string()),
            }
        }
        other => Value::Json(other.to_string()),
    })
}

/// A setting from godwit.toml as the plugin receives it.
pub fn wit_value(v: crate::value::Value) -> Value {
    use crate::value::Value as V;
    match v {
        V::Null => Value::Null,
        V::Bool(b) => Value::Boolean(b),
        V::Int(i) => Value::Int(i),
        V::Float(x) => Value::Float(x),
        V::Text(s) => Value::Text(s),
        V::Bytes(b) => Value::Bytes(b),
        V::Json(s) => Value::Json(s),
        V::Timestamp(s) => Value::Timestamp(s),
    }
}

/// A value in the tagged JSON form, `null` plain.
pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Boolean(b) => json!({ "bool": b }),
        Value::Int(i) => json!({ "int": i }),
        Value::Float(x) => json!({ "float": x }),
        Value::Text(s) => json!({ "text": s }),
        Value::Bytes(b) => json!({ "bytes": hex(b) }),
        Value::Json(s) => json!({ "json": s }),
        Value::Timestamp(s) => json!({ "timestamp": s }),
    }
}

/// A value as messages show it: `NULL`, `42`, `'text'`, `x'dead'`.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Text(s) | Value::Timestamp(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Json(s) => s.clone(),
        Value::Bytes(b) => format!("x'{}'", hex(b)),
    }
}

pub fn row_json(row: &Row) -> serde_json::Value {
    serde_json::Value::Object(
        row.iter()
            .map(|c| (c.name.clone(), value_json(&c.value)))
            .collect(),
    )
}

pub fn row_text(row: &Row) -> String {
    row.iter()
        .map(|c| format!("{}={}", c.name, value_text(&c.value)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// A `--config` value: TOML when it parses as a TOML value, text otherwise.
pub fn setting(text: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(toml::Value::String(s)) => Value::Text(s),
        Some(toml::Value::Integer(i)) => Value::Int(i),
        Some(toml::Value::Float(x)) => Value::Float(x),
        Some(toml::Value::Boolean(b)) => Value::Boolean(b),
        Some(toml::Value::Datetime(d)) => Value::Text(d.to_string()),
        Some(other) => {
            Value::Json(serde_json::to_string(&other).unwrap_or_else(|_| text.to_owned()))
        }
        None => Value::Text(text.to_owned()),
    }
}

/// A migration directory `VERSION_name/` with `up.sql` and maybe `down.sql`.
pub fn read_migration(dir: &Path) -> Result<Migration, Error> {
    let read = |file: &str| std::fs::read_to_string(dir.join(file));
    let up_sql = read("up.sql").map_err(|e| {
        Error::Config(format!(
            "{} has no readable up.sql ({e}); --migration takes a migration directory",
            dir.display()
        ))
    })?;
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let (version, name) = match base.split_once('_') {
        Some((v, n)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            (v.to_owned(), n.to_owned())
        }
        _ => (String::new(), base),
    };
    Ok(Migration {
        version,
        name,
        up_sql,
        down_sql: read("down.sql").ok(),
    })
}

/// A notifier event: `{"KIND": {fields…}}`, with the kinds and field names of the WIT
/// `event` variant (`run-started`, `batch-progress`, `duration-ms`…).
pub fn read_event(path: &Path) -> Result<Event, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    event(&doc).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

struct Fields<'a> {
    kind: &'a str,
    map: &'a serde_json::Map<String, serde_json::Value>,
}

/// A map for [`Fields::of`] to read when a body is not an object: every field is absent.
static NO_FIELDS: std::sync::LazyLock<serde_json::Map<String, serde_json::Value>> =
    std::sync::LazyLock::new(serde_json::Map::new);

impl<'a> Fields<'a> {
    /// The fields of `body`, the value of a `kind`; none when it is not an object.
    fn of(kind: &'a str, body: &'a serde_json::Value) -> Fields<'a> {
        Fields {
            kind,
            map: body.as_object().unwrap_or(&NO_FIELDS),
        }
    }

    fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }
    fn missing(&self, name: &str, what: &str) -> String {
        format!("`{}` needs `{name}`, {what}", self.kind)
    }
    fn text(&self, name: &str) -> Result<String, String> {
        self.opt_text(name)?
            .ok_or_else(|| self.missing(name, "a string"))
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>, String> {
        self.get(name)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.missing(name, "a string"))
            })
            .transpose()
    }
    fn uint(&self, name: &str) -> Result<u64, String> {
        self.opt_uint(name)?
            .ok_or_else(|| self.missing(name, "a whole number"))
    }
    fn opt_uint(&self, name: &str) -> Result<Option<u64>, String> {
        self.get(name)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.missing(name, "a whole number"))
            })
            .transpose()
    }
    fn u32(&self, name: &str) -> Result<u32, String> {
        u32::try_from(self.uint(name)?).map_err(|_| self.missing(name, "a number below 2^32"))
    }
}

/// `{"KIND": body}`: an object with one key, naming what its value is.
fn tagged(v: &serde_json::Value) -> Option<(&String, &serde_json::Value)> {
    v.as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
}

fn event(doc: &serde_json::Value) -> Result<Event, String> {
    let kinds = KINDS.join(", ");
    let Some((kind, body)) = tagged(doc) else {
        return Err(format!(
            "an event is an object with one key naming its kind ({kinds}), e.g. {{\"run-started\": {{\"operation\": \"deploy\", \"pending\": 2, \"database\": \"sqlite://app.db\"}}}}"
        ));
    };
    let f = Fields::of(kind, body);
    Ok(match kind.as_str() {
        "run-started" => Event::RunStarted(RunStarted {
            operation: f.text("operation")?,
            pending: f.u32("pending")?,
            database: f.text("database")?,
        }),
        "run-finished" => Event::RunFinished(RunFinished {
            operation: f.text("operation")?,
            applied: f.u32("applied")?,
            failed: f.opt_text("failed")?,
            duration_ms: f.uint("duration-ms")?,
        }),
        "migration-started" => Event::MigrationStarted(MigrationStarted {
            version: f.text("version")?,
            name: f.text("name")?,
            kind: f.text("kind")?,
            operation: f.text("operation")?,
        }),
        "migration-applied" => Event::MigrationApplied(MigrationApplied {
            version: f.text("version")?,
            name: f.text("name")?,
            operation: f.text("operation")?,
            duration_ms: f.uint("duration-ms")?,
            rows_affected: f.uint("rows-affected")?,
        }),
        "migration-failed" => Event::MigrationFailed(MigrationFailed {
            version: f.text("version")?,
            name: f.text("name")?,
            error: f.text("error")?,
        }),
        "batch-progress" => Event::BatchProgress(BatchProgress {
            version: f.text("version")?,
            batches: f.uint("batches")?,
            rows: f.uint("rows")?,
            total: f.opt_uint("total")?,
            rate: f
                .get("rate")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0),
        }),
        "findings-reported" => Event::FindingsReported(FindingsReported {
            source: f.text("source")?,
            findings: f
                .get("findings")
                .and_then(serde_json::Value::as_array)
                .map(|list| list.iter().map(finding).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default(),
            blocking: f
                .get("blocking")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        }),
        "backup-taken" => Event::BackupTaken(BackupTaken {
            id: f.text("id")?,
            size: f.uint("size")?,
        }),
        "rolled-back" => Event::RolledBack(RolledBack {
            version: f.opt_text("version")?,
            reason: f.text("reason")?,
            backup_id: f.opt_text("backup-id")?,
        }),
        "step-paused" => {
            let reason = pause_reason(&f)?;
            Event::StepPaused(StepPaused {
                version: f.text("version")?,
                message: match f.opt_text("message")? {
                    Some(message) => message,
                    None => pause_message(&reason),
                },
                reason,
                paused_ms: f.opt_uint("paused-ms")?.unwrap_or(0),
                max_pause_ms: f.uint("max-pause-ms")?,
            })
        }
        "step-resumed" => Event::StepResumed(StepResumed {
            version: f.text("version")?,
            paused_ms: f.uint("paused-ms")?,
            reason: pause_reason(&f)?,
        }),
        other => return Err(format!("`{other}` is not an event kind; kinds: {kinds}")),
    })
}

/// Every event kind, as the WIT spells it.
const KINDS: [&str; 11] = [
    "run-started",
    "run-finished",
    "migration-started",
    "migration-applied",
    "migration-failed",
    "batch-progress",
    "findings-reported",
    "backup-taken",
    "rolled-back",
    "step-paused",
    "step-resumed",
];

/// The event's kind as the WIT spells it.
pub fn event_kind(event: &Event) -> &'static str {
    KINDS[match event {
        Event::RunStarted(_) => 0,
        Event::RunFinished(_) => 1,
        Event::MigrationStarted(_) => 2,
        Event::MigrationApplied(_) => 3,
        Event::MigrationFailed(_) => 4,
        Event::BatchProgress(_) => 5,
        Event::FindingsReported(_) => 6,
        Event::BackupTaken(_) => 7,
        Event::RolledBack(_) => 8,
        Event::StepPaused(_) => 9,
        Event::StepResumed(_) => 10,
    }]
}

/// A pause's `reason`: an object with one key naming its kind, as an event is.
fn pause_reason(f: &Fields) -> Result<PauseReason, String> {
    let shapes = r#"{"replication-lag": {"replica": "…", "lag-ms": 9000, "bound-ms": 5000}}, {"lag-unknown": {"replica": "…", "why": "…"}} or {"health-query": "SELECT …"}"#;
    let Some((kind, body)) = f.get("reason").and_then(tagged) else {
        return Err(format!("`{}` needs `reason`, one of {shapes}", f.kind));
    };
    let r = Fields::of(kind, body);
    Ok(match kind.as_str() {
        "replication-lag" => PauseReason::ReplicationLag(ReplicationLag {
            replica: r.text("replica")?,
            lag_ms: r.uint("lag-ms")?,
            bound_ms: r.uint("bound-ms")?,
        }),
        "lag-unknown" => PauseReason::LagUnknown(LagUnknown {
            replica: r.text("replica")?,
            why: r.text("why")?,
        }),
        "health-query" => PauseReason::HealthQuery(
            body.as_str()
                .ok_or_else(|| "`health-query` is the query, a string".to_owned())?
                .to_owned(),
        ),
        other => {
            return Err(format!(
                "`{other}` is not a pause reason; reasons: {shapes}"
            ));
        }
    })
}

/// A sample pause's `message` when it gives none.
fn pause_message(reason: &PauseReason) -> String {
    match reason {
        PauseReason::ReplicationLag(r) => format!(
            "replication lag {}ms on {} is over max_replication_lag {}ms",
            r.lag_ms, r.replica, r.bound_ms
        ),
        PauseReason::LagUnknown(r) => format!(
            "the replication lag of {} cannot be measured ({})",
            r.replica, r.why
        ),
        PauseReason::HealthQuery(q) => format!("the health query returned false: {q}"),
    }
}

fn finding(v: &serde_json::Value) -> Result<Finding, String> {
    let f = Fields::of("finding", v);
    let severity = match f.text("severity")?.as_str() {
        "info" => Severity::Info,
        "warning" | "warn" => Severity::Warning,
        "error" => Severity::Error,
        other => return Err(format!("severity `{other}`: write info, warning or error")),
    };
    Ok(Finding {
        rule: f.text("rule")?,
        severity,
        message: f.text("message")?,
        location: f.opt_text("location")?,
        help: f.opt_text("help")?,
    })
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let text = text.strip_prefix("\\x").unwrap_or(text);
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return Err(format!(
            "`bytes` holds an even number of hex digits, got `{text}`"
        ));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|_| format!("`{}` is not a hex byte", &text[i..i + 2]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tagged_values() {
        let v = |s: &str| value_json(&value(serde_json::from_str(s).unwrap()).unwrap());
        assert_eq!(v("null"), value_json(&Value::Null));
        assert_eq!(v("7"), value_json(&Value::Int(7)));
        assert_eq!(v("1.5"), value_json(&Value::Float(1.5)));
        assert_eq!(v("\"a\""), value_json(&Value::Text("a".into())));
        assert_eq!(
            v(r#"{"bytes": "dead"}"#),
            value_json(&Value::Bytes(vec![0xde, 0xad]))
        );
        assert_eq!(
            v(r#"{"a": 1, "b": 2}"#),
            value_json(&Value::Json(r#"{"a":1,"b":2}"#.into()))
        );
        assert_eq!(v("[1]"), value_json(&Value::Json("[1]".into())));
        assert!(value(json!({"timestamp": "soon"})).is_err());
        for x in [
            Value::Null,
            Value::Int(1),
            Value::Text("x".into()),
            Value::Bytes(vec![1]),
            Value::Timestamp("2026-11-21T08:00:00Z".into()),
        ] {
            assert_eq!(value_json(&value(value_json(&x)).unwrap()), value_json(&x));
        }
    }

    /// The tagged form is the one `godwit::value::Value` serialises to; they must agree.
    #[test]
    fn tagged_form_is_the_value_serde_form() {
        use crate::value::Value as V;
        for v in [
            V::Null,
            V::Bool(true),
            V::Int(-3),
            V::Float(0.5),
            V::Text("t".into()),
            V::Bytes(vec![0, 255]),
            V::Json("[1]".into()),
            V::Timestamp("2026-11-21T08:00:00Z".into()),
        ] {
            let serde_form = serde_json::to_value(&v).unwrap();
            assert_eq!(value_json(&wit_value(v.clone())), serde_form);
            assert_eq!(
                value_json(&value(serde_form).unwrap()),
                value_json(&wit_value(v))
            );
        }
    }

    #[test]
    fn settings_read_as_toml_else_text() {
        assert_eq!(value_json(&setting("10")), value_json(&Value::Int(10)));
        assert_eq!(
            value_json(&setting("true")),
            value_json(&Value::Boolean(true))
        );
        assert_eq!(
            value_json(&setting("users")),
            value_json(&Value::Text("users".into()))
        );
        assert_eq!(
            value_json(&setting("\"quoted\"")),
            value_json(&Value::Text("quoted".into()))
        );
    }

    #[test]
    fn events_by_kind() {
        let e = event(
            &json!({"run-finished": {"operation": "deploy", "applied": 2, "duration-ms": 5}}),
        )
        .unwrap();
        assert!(matches!(
            e,
            Event::RunFinished(RunFinished { applied: 2, .. })
        ));
        let err = event(&json!({"run-started": {"operation": "deploy"}})).unwrap_err();
        assert!(err.contains("pending"), "{err}");
        assert!(event(&json!({"nope": {}})).unwrap_err().contains("kinds"));
    }
}
