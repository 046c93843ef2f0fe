//! One SQL value as it crosses the plugin boundary, and rows of them.
//!
//! This mirrors `value` in `wit/godwit-plugin.wit`: typed, so that neither side ever
//! formats or parses SQL literals. `numeric`/`decimal` travel as [`Value::Text`] so that no
//! digit is lost to a float.
//!
//! # JSON form (sample files for `godwit plugin run`)
//!
//! An untagged form would be ambiguous (is `"2026-11-21T08:00:00Z"` text or a timestamp? is
//! `{"a":1}` JSON or a row?), so every value except `null` is an object with one key naming
//! its kind:
//!
//! ```json
//! [null, {"bool": true}, {"int": 42}, {"float": 1.5}, {"text": "a@b.c"},
//!  {"bytes": "deadbeef"}, {"json": "{\"a\":1}"}, {"timestamp": "2026-11-21T08:00:00Z"}]
//! ```
//!
//! `bytes` is lower-case hex; `json` is the document serialised as a string, exactly as it
//! crosses the boundary.
//!
//! ```
//! use godwit_core::value::Value;
//!
//! let v: Value = serde_json::from_str(r#"{"int": 42}"#).unwrap();
//! assert_eq!(v, Value::Int(42));
//! assert_eq!(serde_json::to_string(&Value::Null).unwrap(), "null");
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One SQL value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    Bool(bool),
    /// Any integer that fits in 64 bits.
    Int(i64),
    /// `real`, `double precision` and friends.
    Float(f64),
    /// Text, and every type carried as text: `numeric`, dates, times, UUIDs, enums.
    Text(String),
    Bytes(Vec<u8>),
    /// A JSON document, serialised.
    Json(String),
    /// An RFC 3339 timestamp, e.g. `2026-11-21T08:00:00Z`.
    Timestamp(String),
}

/// Rows as a query returned them: column names, then one value per column per row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Value {
    /// The kind's name as used in the JSON form and in messages (`int`, `text`…).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Json(_) => "json",
            Value::Timestamp(_) => "timestamp",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl fmt::Display for Value {
    /// How a value reads in a message: `NULL`, `42`, `'text'` (quoted, so that an empty
    /// string or trailing space is visible), `x'dead'` for bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) | Value::Timestamp(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Json(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "x'{}'", hex(b)),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl From<toml::Value> for Value {
    /// Plugin settings from godwit.toml or step.toml. TOML has no null; arrays and tables
    /// become [`Value::Json`]; a full date-time with offset becomes a [`Value::Timestamp`],
    /// a bare date or time [`Value::Text`].
    fn from(v: toml::Value) -> Self {
        match v {
            toml::Value::String(s) => Value::Text(s),
            toml::Value::Integer(i) => Value::Int(i),
            toml::Value::Float(x) => Value::Float(x),
            toml::Value::Boolean(b) => Value::Bool(b),
            toml::Value::Datetime(d) if d.date.is_some() && d.offset.is_some() => {
                let text = d.to_string();
                // TOML allows a space between date and time; RFC 3339 readers expect `T`.
                Value::Timestamp(text.replacen(' ', "T", 1))
            }
            toml::Value::Datetime(d) => Value::Text(d.to_string()),
            other @ (toml::Value::Array(_) | toml::Value::Table(_)) => {
                Value::Json(toml_to_json(other).to_string())
            }
        }
    }
}

fn toml_to_json(v: toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => s.into(),
        toml::Value::Integer(i) => i.into(),
        toml::Value::Float(x) => serde_json::Number::from_f64(x)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => b.into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.into_iter().map(toml_to_json).collect(),
        toml::Value::Table(t) => t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect(),
    }
}

/// Lower-case hex, as godwit writes digests and bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let text = text.strip_prefix("\\x").unwrap_or(text);
    if !text.len().is_multiple_of(2) {
        return Err(format!(
            "bytes must be an even number of hex digits, got {}",
            text.len()
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

/// The JSON form without `null`, which is written as a plain JSON `null`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum Tagged {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(String),
    Json(String),
    Timestamp(String),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tagged = match self {
            Value::Null => return s.serialize_none(),
            Value::Bool(b) => Tagged::Bool(*b),
            Value::Int(i) => Tagged::Int(*i),
            Value::Float(x) => Tagged::Float(*x),
            Value::Text(t) => Tagged::Text(t.clone()),
            Value::Bytes(b) => Tagged::Bytes(hex(b)),
            Value::Json(j) => Tagged::Json(j.clone()),
            Value::Timestamp(t) => Tagged::Timestamp(t.clone()),
        };
        tagged.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Tagged>::deserialize(d)? {
            None => Value::Null,
            Some(Tagged::Bool(b)) => Value::Bool(b),
            Some(Tagged::Int(i)) => Value::Int(i),
            Some(Tagged::Float(x)) => Value::Float(x),
            Some(Tagged::Text(t)) => Value::Text(t),
            Some(Tagged::Bytes(b)) => Value::Bytes(unhex(&b).map_err(serde::de::Error::custom)?),
            Some(Tagged::Json(j)) => {
                serde_json::from_str::<serde_json::Value>(&j).map_err(|e| {
                    serde::de::Error::custom(format!("`json` holds no valid JSON document: {e}"))
                })?;
                Value::Json(j)
            }
            Some(Tagged::Timestamp(t)) => {
                chrono::DateTime::parse_from_rfc3339(&t).map_err(|e| {
                    serde::de::Error::custom(format!(
                        "`timestamp` must be RFC 3339 (e.g. 2026-11-21T08:00:00Z), got `{t}`: {e}"
                    ))
                })?;
                Value::Timestamp(t)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_round_trips_every_kind() {
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(1.5),
            Value::Text("it's".into()),
            Value::Bytes(vec![0xde, 0xad, 0x00]),
            Value::Json(r#"{"a":[1,2]}"#.into()),
            Value::Timestamp("2026-11-21T08:00:00Z".into()),
        ];
        let text = serde_json::to_string(&values).unwrap();
        assert_eq!(
            text,
            r#"[null,{"bool":true},{"int":-7},{"float":1.5},{"text":"it's"},{"bytes":"dead00"},{"json":"{\"a\":[1,2]}"},{"timestamp":"2026-11-21T08:00:00Z"}]"#
        );
        assert_eq!(serde_json::from_str::<Vec<Value>>(&text).unwrap(), values);
    }

    #[test]
    fn json_form_refuses_what_it_cannot_read() {
        for (input, needle) in [
            (r#"{"integer": 1}"#, "unknown variant"),
            (r#"{"bytes": "abc"}"#, "even number"),
            (r#"{"bytes": "zz"}"#, "not a hex byte"),
            (r#"{"json": "{oops"}"#, "no valid JSON"),
            (r#"{"timestamp": "yesterday"}"#, "RFC 3339"),
            (r#""bare text""#, ""),
        ] {
            let err = serde_json::from_str::<Value>(input)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn rows_serialise_with_columns() {
        let rows = Rows {
            columns: vec!["id".into(), "email".into()],
            rows: vec![vec![Value::Int(1), Value::Null]],
        };
        let text = serde_json::to_string(&rows).unwrap();
        assert_eq!(
            text,
            r#"{"columns":["id","email"],"rows":[[{"int":1},null]]}"#
        );
    }

    #[test]
    fn from_toml_settings() {
        let table: toml::Table = toml::from_str(
            "s = 'users'\ni = 3\nf = 0.5\nb = true\nts = 2026-11-21T08:00:00Z\nd = 2026-11-21\na = [1, 'x']\nt = { k = 1 }",
        )
        .unwrap();
        let get = |k: &str| Value::from(table[k].clone());
        assert_eq!(get("s"), Value::Text("users".into()));
        assert_eq!(get("i"), Value::Int(3));
        assert_eq!(get("f"), Value::Float(0.5));
        assert_eq!(get("b"), Value::Bool(true));
        assert_eq!(get("ts"), Value::Timestamp("2026-11-21T08:00:00Z".into()));
        assert_eq!(get("d"), Value::Text("2026-11-21".into()));
        assert_eq!(get("a"), Value::Json(r#"[1,"x"]"#.into()));
        assert_eq!(get("t"), Value::Json(r#"{"k":1}"#.into()));
    }

    #[test]
    fn display_for_messages() {
        assert_eq!(Value::Null.to_string(), "NULL");
        assert_eq!(Value::Text("o'k".into()).to_string(), "'o''k'");
        assert_eq!(Value::Bytes(vec![1, 255]).to_string(), "x'01ff'");
        assert_eq!(Value::Int(5).to_string(), "5");
    }
}
