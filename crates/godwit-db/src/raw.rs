//! Plain statements on a connection of any database, for the drivers' own bookkeeping.

use sqlx::{ColumnIndex, Database, Decode, Executor, Row, Type};

pub(crate) async fn query_i64<DB>(
    conn: &mut DB::Connection,
    sql: &str,
) -> Result<Option<i64>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let row = sqlx::query(sql).fetch_optional(&mut *conn).await?;
    row.map(|r| r.try_get::<Option<i64>, _>(0))
        .transpose()
        .map(Option::flatten)
}

/// The first column of each row of [`Session::query_text`](crate::Session::query_text), NULLs left out: the names a
/// catalog query lists.
pub fn first_column(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

pub(crate) async fn query_text<DB>(
    conn: &mut DB::Connection,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect()
        })
        .collect()
}

/// The history table does not exist yet: a fresh database, not an error for readers.
pub(crate) fn is_undefined_table(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("42P01" | "42S02"))
                || db.message().contains("no such table")
        }
        _ => false,
    }
}

/// Runs `sql` as plain text and returns the rows it affected.
pub(crate) async fn execute_raw<DB>(
    conn: &mut DB::Connection,
    sql: &str,
) -> Result<u64, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let result = sqlx::raw_sql(sql).execute(&mut *conn).await?;
    Ok(rows_affected::<DB>(&result))
}

pub(crate) fn rows_affected<DB: Database>(result: &DB::QueryResult) -> u64 {
    // Every sqlx QueryResult can be extended into itself; the trait exposes no getter,
    // so go through the concrete types.
    let any: &dyn std::any::Any = result;
    if let Some(r) = any.downcast_ref::<sqlx::postgres::PgQueryResult>() {
        r.rows_affected()
    } else if let Some(r) = any.downcast_ref::<sqlx::mysql::MySqlQueryResult>() {
        r.rows_affected()
    } else if let Some(r) = any.downcast_ref::<sqlx::sqlite::SqliteQueryResult>() {
        r.rows_affected()
    } else {
        0
    }
}
