//! A backfill's SQL where PostgreSQL spells it its own way: arrays for a batch's write,
//! `IS NOT DISTINCT FROM`, the column types those arrays are cast to, and an idle
//! worker's transaction ended by the server.

use std::collections::BTreeMap;
use std::time::Duration;

use godwit_core::Dialect;
use godwit_core::sql::quote_table;
use godwit_core::value::Value;

use crate::error::SqlError;
use crate::traits::{BackfillDialect, BatchWrite, Session};

pub struct Backfill;

impl BackfillDialect for Backfill {
    fn long_text(&self) -> &'static str {
        "TEXT"
    }

    fn index_inside_table(&self) -> bool {
        false
    }

    fn not_distinct(&self, column: &str, value: &str, json: bool) -> String {
        if json {
            // json has no equality operator: its text is what was read.
            format!("{column}::text IS NOT DISTINCT FROM {value}")
        } else {
            format!("{column} IS NOT DISTINCT FROM {value}")
        }
    }

    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn batch_write(&self) -> BatchWrite {
        BatchWrite::Arrays
    }

    /// A transaction idle longer than `lease` is ended by the server, and so its batch
    /// given back.
    fn worker_session(&self, lease: Duration) -> Option<String> {
        Some(format!(
            "SET idle_in_transaction_session_timeout = '{}ms'",
            lease.as_millis().min(i32::MAX as u128)
        ))
    }
}

/// The column types of `table`, for the casts of the set-based `UPDATE`.
pub async fn column_types(
    driver: &mut dyn Session,
    table: &str,
) -> Result<BTreeMap<String, String>, SqlError> {
    let rows = driver
        .query_values(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            &[Value::Text(quote_table(Dialect::Postgres, table))],
        )
        .await?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (Value::Text(name), Value::Text(ty)) => Some((name.clone(), ty.clone())),
            _ => None,
        })
        .collect())
}

/// A value in PostgreSQL's text input form, for a `text[]` element cast to its column's
/// type; `None` is SQL `NULL`.
pub fn pg_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(if b { "true" } else { "false" }.to_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_nan() => Some("NaN".to_owned()),
        Value::Float(f) if f.is_infinite() => {
            Some(if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
        }
        Value::Float(f) => Some(format!("{f:?}")),
        Value::Text(t) | Value::Json(t) | Value::Timestamp(t) => Some(t),
        Value::Bytes(b) => Some(b.iter().fold(String::from("\\x"), |mut s, byte| {
            use std::fmt::Write as _;
            let _ = write!(s, "{byte:02x}");
            s
        })),
    }
}
