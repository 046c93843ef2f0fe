//! Typed access to the plugin's settings (`host.config()`): godwit.toml's
//! `[plugins.NAME.config]`, overridden key by key by the running step's `[config]`.
//!
//! ```no_run
//! let table = godwit_sdk::config::require_str("table")?;
//! let key = godwit_sdk::config::get_str("key").unwrap_or_else(|| "id".into());
//! let only_missing = godwit_sdk::config::get_bool("only_missing")?.unwrap_or(true);
//! # Ok::<(), String>(())
//! ```

use crate::Value;
use crate::bindings::backfill::godwit::plugin::host;

/// All settings, in the order the host gave them.
pub fn all() -> Vec<(String, Value)> {
    host::config()
}

/// The setting called `key`, as the host sent it.
pub fn get(key: &str) -> Option<Value> {
    all().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The setting as text; numbers and booleans are given in their usual spelling.
pub fn get_str(key: &str) -> Option<String> {
    get(key).and_then(|v| match v {
        Value::Text(s) | Value::Json(s) | Value::Timestamp(s) => Some(s),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Null | Value::Bytes(_) => None,
    })
}

/// The setting as text, or an error saying it must be set.
pub fn require_str(key: &str) -> Result<String, String> {
    get_str(key).ok_or_else(|| {
        format!("setting `{key}` is required: set it in the plugin's [config] in godwit.toml or step.toml")
    })
}

/// The setting as a boolean (`true`/`false`, also as text); `Err` if it is something else.
pub fn get_bool(key: &str) -> Result<Option<bool>, String> {
    match get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(b)),
        Some(Value::Text(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::Text(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(format!(
            "setting `{key}` must be true or false, not {other:?}"
        )),
    }
}

/// The setting as an integer (also as text); `Err` if it is something else.
pub fn get_i64(key: &str) -> Result<Option<i64>, String> {
    match get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(i)),
        Some(Value::Text(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("setting `{key}` must be an integer, not {s:?}")),
        Some(other) => Err(format!("setting `{key}` must be an integer, not {other:?}")),
    }
}

/// The setting as a comma-separated list, trimmed, empty items dropped.
pub fn get_list(key: &str) -> Vec<String> {
    get_str(key)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
