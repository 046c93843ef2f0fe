//! godwit's history table, in the SQL each database needs: reading it, and writing a row
//! with bound values or as literals.

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, Row, Type};

use godwit_core::Dialect;
use godwit_core::history::{HistoryRow, Operation, RowState, TABLE};
use godwit_core::source::Migration;

/// SQL for the history table that differs by dialect.
pub(crate) struct HistorySql {
    pub select: String,
    pub insert: String,
    pub update: String,
}

impl HistorySql {
    pub fn new(dialect: Dialect) -> HistorySql {
        type Render = fn(&str) -> String;
        let (ts_in, ts_out): (Render, Render) = match dialect {
            Dialect::Postgres => (
                |p| format!("CAST({p} AS TIMESTAMPTZ)"),
                |c| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"),
            ),
            Dialect::MySql => (
                |p| p.to_string(),
                |c| format!("DATE_FORMAT({c}, '%Y-%m-%dT%H:%i:%s.%fZ')"),
            ),
            Dialect::Sqlite => (|p| p.to_string(), |c| c.to_string()),
        };
        let select = format!(
            "SELECT id, version, name, kind, operation, state, checksum, {} AS started_at, {} AS finished_at, \
             duration_ms, applied_by, godwit_version, plugin_digest, statements_applied, statements_total, \
             rows_affected, error FROM {TABLE} ORDER BY id",
            ts_out("started_at"),
            ts_out("finished_at")
        );
        let insert = format!(
            "INSERT INTO {TABLE} (version, name, kind, operation, state, checksum, started_at, finished_at, duration_ms, \
             applied_by, godwit_version, plugin_digest, statements_applied, statements_total, rows_affected, error) \
             VALUES (?, ?, ?, ?, ?, ?, {}, {}, ?, ?, ?, ?, ?, ?, ?, ?)",
            ts_in("?"),
            ts_in("?")
        );
        let update = format!(
            "UPDATE {TABLE} SET state = ?, checksum = ?, finished_at = {}, duration_ms = ?, statements_applied = ?, \
             rows_affected = ?, error = ? WHERE id = ?",
            ts_in("?")
        );
        HistorySql {
            select: placeholders(dialect, &select),
            insert: placeholders(dialect, &insert),
            update: placeholders(dialect, &update),
        }
    }
}

/// godwit's own SQL is written with `?`; PostgreSQL wants `$1, $2, …`.
pub(crate) fn placeholders(dialect: Dialect, sql: &str) -> String {
    if dialect == Dialect::Postgres {
        numbered_placeholders(sql)
    } else {
        sql.to_string()
    }
}

/// `?` → `$1, $2, …` for PostgreSQL; only ever applied to godwit's own SQL.
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Formats a timestamp the way each database parses it without ambiguity.
pub(crate) fn timestamp_param(dialect: Dialect, ts: &str) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(ts)
        .ok()?
        .with_timezone(&chrono::Utc);
    Some(match dialect {
        Dialect::Postgres => parsed.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
        Dialect::MySql => parsed.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Dialect::Sqlite => parsed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    })
}

/// Now, as stored in history rows.
pub fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The row a migration's history starts with: begun now, by this machine's user, with
/// this godwit's version; `total` is its statement count, for a run that records them.
pub fn new_row(
    migration: &Migration,
    operation: Operation,
    state: RowState,
    total: usize,
) -> HistoryRow {
    HistoryRow {
        id: 0,
        version: migration.version.to_string(),
        name: migration.name.clone(),
        kind: "sql".into(),
        operation: operation.as_str().into(),
        state: state.as_str().into(),
        checksum: migration.checksum.clone(),
        started_at: now_rfc3339(),
        finished_at: None,
        duration_ms: None,
        applied_by: crate::settings::whoami(),
        godwit_version: godwit_core::VERSION.into(),
        plugin_digest: None,
        statements_applied: 0,
        statements_total: total as i64,
        rows_affected: None,
        error: None,
    }
}

pub(crate) async fn fetch_history<DB>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
) -> Result<Vec<HistoryRow>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let rows = sqlx::query(&sql.select).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryRow {
                id: r.try_get(0)?,
                version: r.try_get(1)?,
                name: r.try_get(2)?,
                kind: r.try_get(3)?,
                operation: r.try_get(4)?,
                state: r.try_get(5)?,
                checksum: r.try_get(6)?,
                started_at: r.try_get(7)?,
                finished_at: r.try_get(8)?,
                duration_ms: r.try_get(9)?,
                applied_by: r.try_get(10)?,
                godwit_version: r.try_get(11)?,
                plugin_digest: r.try_get(12)?,
                statements_applied: r.try_get(13)?,
                statements_total: r.try_get(14)?,
                rows_affected: r.try_get(15)?,
                error: r.try_get(16)?,
            })
        })
        .collect()
}

pub(crate) async fn insert_history<DB>(
    conn: &mut DB::Connection,
    dialect: Dialect,
    sql: &str,
    row: &HistoryRow,
) -> Result<Option<i64>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let query = history_insert::<DB>(dialect, sql, row);
    if sql.contains("RETURNING") {
        let r = query.fetch_one(&mut *conn).await?;
        Ok(Some(r.try_get(0)?))
    } else {
        query.execute(&mut *conn).await?;
        Ok(None)
    }
}

/// One value of a history row's INSERT or UPDATE, in the order of [`HistorySql`]'s `?`s.
pub(crate) enum HistoryValue {
    Text(Option<String>),
    Int(Option<i64>),
}

/// The values of [`HistorySql::insert`] for `row`.
pub(crate) fn insert_values(dialect: Dialect, row: &HistoryRow) -> Vec<HistoryValue> {
    use HistoryValue::{Int, Text};
    vec![
        Text(Some(row.version.clone())),
        Text(Some(row.name.clone())),
        Text(Some(row.kind.clone())),
        Text(Some(row.operation.clone())),
        Text(Some(row.state.clone())),
        Text(Some(row.checksum.clone())),
        Text(timestamp_param(dialect, &row.started_at)),
        Text(
            row.finished_at
                .as_deref()
                .and_then(|t| timestamp_param(dialect, t)),
        ),
        Int(row.duration_ms),
        Text(Some(row.applied_by.clone())),
        Text(Some(row.godwit_version.clone())),
        Text(row.plugin_digest.clone()),
        Int(Some(row.statements_applied)),
        Int(Some(row.statements_total)),
        Int(row.rows_affected),
        Text(row.error.clone()),
    ]
}

/// The values of [`HistorySql::update`] for `row`.
pub(crate) fn update_values(dialect: Dialect, row: &HistoryRow) -> Vec<HistoryValue> {
    use HistoryValue::{Int, Text};
    vec![
        Text(Some(row.state.clone())),
        Text(Some(row.checksum.clone())),
        Text(
            row.finished_at
                .as_deref()
                .and_then(|t| timestamp_param(dialect, t)),
        ),
        Int(row.duration_ms),
        Int(Some(row.statements_applied)),
        Int(row.rows_affected),
        Text(row.error.clone()),
        Int(Some(row.id)),
    ]
}

/// `sql` with `values` bound, for the driver to run.
pub(crate) fn bind_history<'q, DB>(
    sql: &'q str,
    values: Vec<HistoryValue>,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    values
        .into_iter()
        .fold(sqlx::query(sql), |query, value| match value {
            HistoryValue::Text(v) => query.bind(v),
            HistoryValue::Int(v) => query.bind(v),
        })
}

/// `sql` (godwit's own, with `?` placeholders and no other `?`) with `values` written in
/// as literals, so that it can travel in one round trip with other statements. Text goes
/// as hex (`_utf8mb4 X'…'` on MySQL, `CAST(X'…' AS TEXT)` on SQLite): hex digits read
/// the same whatever `sql_mode` says about backslashes and quotes, and no value can end
/// the literal early.
pub(crate) fn literal_sql(dialect: Dialect, sql: &str, values: &[HistoryValue]) -> String {
    let (open, close) = match dialect {
        Dialect::MySql => ("_utf8mb4 X'", "'"),
        _ => ("CAST(X'", "' AS TEXT)"),
    };
    use std::fmt::Write as _;
    let mut out = String::with_capacity(sql.len() + 64 * values.len());
    let mut values = values.iter();
    for c in sql.chars() {
        if c != '?' {
            out.push(c);
            continue;
        }
        match values.next() {
            Some(HistoryValue::Text(Some(text))) => {
                out.push_str(open);
                for byte in text.as_bytes() {
                    let _ = write!(out, "{byte:02X}");
                }
                out.push_str(close);
            }
            Some(HistoryValue::Int(Some(n))) => {
                let _ = write!(out, "{n}");
            }
            Some(HistoryValue::Text(None) | HistoryValue::Int(None)) | None => out.push_str("NULL"),
        }
    }
    out
}

/// The history row's INSERT with its values bound, for the driver to run.
pub(crate) fn history_insert<'q, DB>(
    dialect: Dialect,
    sql: &'q str,
    row: &HistoryRow,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    bind_history(sql, insert_values(dialect, row))
}

pub(crate) async fn update_history<DB>(
    conn: &mut DB::Connection,
    dialect: Dialect,
    sql: &str,
    row: &HistoryRow,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    bind_history::<DB>(sql, update_values(dialect, row))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_literals_are_hex_text_integers_and_null() {
        let values = [
            HistoryValue::Text(Some("it's \\ é".into())),
            HistoryValue::Text(Some(String::new())),
            HistoryValue::Text(None),
            HistoryValue::Int(None),
            HistoryValue::Int(Some(-42)),
        ];
        let sql = "UPDATE t SET a = ?, b = ?, c = ?, d = ? WHERE id = ?";
        assert_eq!(
            literal_sql(Dialect::MySql, sql, &values),
            "UPDATE t SET a = _utf8mb4 X'69742773205C20C3A9', b = _utf8mb4 X'', c = NULL, d = NULL WHERE id = -42"
        );
        assert_eq!(
            literal_sql(Dialect::Sqlite, sql, &values),
            "UPDATE t SET a = CAST(X'69742773205C20C3A9' AS TEXT), b = CAST(X'' AS TEXT), c = NULL, d = NULL WHERE id = -42"
        );
    }
}
