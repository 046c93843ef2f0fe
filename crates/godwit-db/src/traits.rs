//! The narrow traits a database backend implements, and the parts of them written once for
//! every backend: a whole migration's transaction a step at a time, and results held to a
//! plugin's cap.

use std::time::Duration;

use async_trait::async_trait;

use godwit_core::Dialect;
use godwit_core::history::HistoryRow;
use godwit_core::schema::{Definitions, Schema};
use godwit_core::value::{Rows, Value};

use crate::confine::{Confined, Scope, ScopeRole};
use crate::error::DbError;
use crate::{meter, values};

/// Per-migration limits, from godwit.toml and the file's directives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
}

/// How long [`Session::cancel_running`] waits for the cancelled statement to end before it
/// sends the cancel again.
pub const CANCEL_RESEND: Duration = Duration::from_millis(250);

/// Everything a backend provides, as the migration runner needs it: the narrow parts
/// below, plus what only the run itself uses (whether DDL is transactional, a statement
/// run as DDL, a migration's transaction committed with its history row). Code that
/// needs only a part takes that part: `&mut dyn Session`, `&mut dyn Introspect`, …; a
/// `&mut dyn Driver` coerces to any of them.
#[async_trait(?Send)]
pub trait Driver: Lock + HistoryStore + Session + Introspect + Admin {
    /// DDL commits implicitly on MySQL, so a migration there cannot be one transaction.
    fn transactional_ddl(&self) -> bool;
    /// Runs a statement that is not data-only, outside any transaction of godwit's: on
    /// MySQL a history write left open commits before it, implicitly when the statement
    /// is one the server commits before (DDL), explicitly otherwise.
    async fn execute_ddl(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        self.execute(sql).await
    }
    /// Ends the open transaction of a migration with its history row: inserts `row`,
    /// extends the lease inside the transaction where that applies, and commits.
    async fn commit_with_history(&mut self, row: &HistoryRow) -> Result<(), sqlx::Error> {
        self.insert_history(row).await?;
        self.renew_in_transaction().await?;
        self.commit().await
    }
    /// Runs a whole migration as one transaction: [`Session::begin`], `timeouts`,
    /// `statements` in turn like [`Session::execute_each`], then the history row that
    /// `finish` makes of their counts, committed with them like
    /// [`Driver::commit_with_history`]. Returns the counts. After an error the transaction
    /// may still be open: the caller rolls it back.
    ///
    /// SQLite runs it all on the database handle in one go, without a trip to sqlx's
    /// worker thread per statement.
    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        timeouts: &Timeouts,
        finish: &mut MakeRow<'_>,
    ) -> Result<Vec<u64>, TransactionError> {
        apply_in_turn(self, statements, timeouts, finish).await
    }
}

/// The migration lock: taken, kept alive and released on a connection of the driver's
/// own that never enters a transaction (SQLite aside, whose lease can also be renewed in
/// the migration's transaction).
#[async_trait(?Send)]
pub trait Lock {
    /// One attempt at the migration lock: `None` when taken, else who holds it.
    async fn try_lock(&mut self) -> Result<Option<String>, DbError>;
    async fn unlock(&mut self) -> Result<(), DbError>;
    /// Renews a lease-based lock between statements; fails if someone else took it.
    async fn keep_alive(&mut self) -> Result<(), DbError> {
        Ok(())
    }
    /// Extends a lease from inside the migration's transaction, so that it commits
    /// together with the migration (SQLite, where the lease row shares the file).
    async fn renew_in_transaction(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// godwit's history table: created, read, and written a row at a time, on the work
/// connection (inside whatever transaction is open there).
#[async_trait(?Send)]
pub trait HistoryStore {
    async fn ensure_history_table(&mut self) -> Result<(), DbError>;
    /// All rows, oldest first.
    async fn history(&mut self) -> Result<Vec<HistoryRow>, DbError>;
    /// Inserts `row` (its id is ignored) and returns the new id.
    async fn insert_history(&mut self, row: &HistoryRow) -> Result<i64, sqlx::Error>;
    /// Rewrites the mutable columns of the row with `row.id`.
    async fn update_history(&mut self, row: &HistoryRow) -> Result<(), sqlx::Error>;
    /// Writes the row like [`HistoryStore::insert_history`], but where DDL commits on its own
    /// (MySQL) leaves the write in an open transaction, for the next DDL statement's
    /// implicit commit to make durable before that statement runs: one redo-log flush for
    /// the write and the statement instead of two. Any other use of the connection
    /// commits it first. Elsewhere it is an ordinary write.
    ///
    /// Returns the new id, or [`OPEN_ROW`] where the INSERT only goes to the server with
    /// the next statement (MySQL, to save a round trip): the driver then takes a write of
    /// a row with that id for a write of the row it opened last.
    async fn insert_history_open(&mut self, row: &HistoryRow) -> Result<i64, sqlx::Error> {
        self.insert_history(row).await
    }
    /// [`HistoryStore::update_history`], left open like [`HistoryStore::insert_history_open`].
    async fn update_history_open(&mut self, row: &HistoryRow) -> Result<(), sqlx::Error> {
        self.update_history(row).await
    }
    /// Commits a history write left open, if any.
    async fn settle(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// Running statements on the work connection, for the host and for plugins: plain text,
/// with bound values or capped results, transactions, timeouts and time bounds, and the
/// confinement of a plugin's statements to its grants.
#[async_trait(?Send)]
pub trait Session {
    fn dialect(&self) -> Dialect;
    /// Runs one statement as text (never prepared: many DDL statements cannot be).
    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error>;
    /// Runs `statements` one after another like [`Session::execute`], stopping at the
    /// first that fails: the rows each affected, or the failed one's index and error.
    /// SQLite sends them to its worker thread together.
    async fn execute_each(
        &mut self,
        statements: &[&str],
    ) -> Result<Vec<u64>, (usize, sqlx::Error)> {
        execute_in_turn(self, statements).await
    }
    /// Runs a read query whose first column is an integer (counts for `plan`).
    async fn query_i64(&mut self, sql: &str) -> Result<Option<i64>, sqlx::Error>;
    /// Runs a read query whose columns are all text (cast them in SQL); NULL is `None`.
    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, sqlx::Error>;
    /// Runs one statement with `$1, $2…` parameters (on every dialect) on the work
    /// connection, inside whatever transaction is open, and decodes every row. The plugin
    /// session's `query`; the capability check happens before this.
    ///
    /// Values bind as their kind (`Int` as a 64-bit integer, `Timestamp` as a timestamp
    /// with zone, `Json` as jsonb on PostgreSQL); `Null` fits any column; `Text` reaches
    /// `numeric`, date, time, uuid and enum columns too, as godwit hands those out as text.
    /// Results decode by column type; an empty result has no column names.
    async fn query_values(&mut self, sql: &str, params: &[Value]) -> Result<Rows, sqlx::Error>;
    /// [`Session::query_values`] read row by row, stopped as soon as the result passes
    /// `cap`: the error is then a [`ResultTooLarge`] (see [`ResultTooLarge::of`]), and no
    /// more than the cap (plus one row) was ever held in memory.
    async fn query_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: ResultCap,
    ) -> Result<Rows, sqlx::Error>;
    /// Like [`Session::query_values`], returning the rows affected.
    async fn execute_values(&mut self, sql: &str, params: &[Value]) -> Result<u64, sqlx::Error>;
    /// [`Session::execute_values`] for a plugin with a result cap: where the engine runs in
    /// godwit's own process (SQLite), no value the statement builds may be larger than the
    /// cap. Elsewhere the values stay on the server, and the work connection's meter, where
    /// there is one, holds back whatever the server sends past the cap (an error quoting a
    /// huge value, say).
    async fn execute_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: ResultCap,
    ) -> Result<u64, sqlx::Error> {
        let armed = self.meter().map(|m| m.arm(cap.bytes));
        let result = self.execute_values(sql, params).await;
        settle_armed(self, armed, cap, result).await
    }
    /// The work connection's meter, where it has one (see [`meter`]): a plugin's statement
    /// arms it with the plugin's cap.
    fn meter(&self) -> Option<&meter::Meter> {
        None
    }
    /// Runs `sql` with `$1..$n` bound to the `text[]` arrays in `columns` (PostgreSQL):
    /// a backfill batch's write as one statement with one parameter per column, however
    /// many rows, instead of one per value. Elsewhere it is refused.
    async fn execute_text_arrays(
        &mut self,
        sql: &str,
        columns: Vec<Vec<Option<String>>>,
    ) -> Result<u64, sqlx::Error> {
        let _ = (sql, columns);
        Err(sqlx::Error::InvalidArgument(
            "array parameters are bound on PostgreSQL only".into(),
        ))
    }
    /// Makes the database ready to enforce `scope` for a plugin's statements, outside any
    /// transaction: on PostgreSQL, creates the scope's role or brings its privileges up to
    /// date. Elsewhere there is nothing to prepare.
    async fn prepare_scope(&mut self, scope: &dyn Scope) -> Result<(), DbError> {
        let _ = scope;
        Ok(())
    }
    /// What [`Session::prepare_scope`] would stop on, found without changing anything
    /// (for `plan`): `Ok(Some(role))` names the role that will confine the scope,
    /// `Ok(None)` means there is no role to prepare.
    async fn check_scope(&mut self, scope: &dyn Scope) -> Result<Option<ScopeRole>, DbError> {
        let _ = scope;
        Ok(None)
    }
    /// From here until [`Session::unconfine`], statements run only with what `scope` allows,
    /// as the database itself enforces it (SQLite: an authorizer; PostgreSQL: `SET LOCAL
    /// ROLE`, inside the open transaction). What [`Session::confined`] says it does.
    async fn confine(&mut self, scope: &std::sync::Arc<dyn Scope>) -> Result<(), sqlx::Error> {
        let _ = scope;
        Ok(())
    }
    /// After a confined statement: `Some(what changed)` when it got out of its
    /// confinement (PostgreSQL: the role or search_path is no longer the one set).
    async fn check_confined(&mut self) -> Result<Option<String>, sqlx::Error> {
        Ok(None)
    }
    /// What the confinement refused since the last call, for the operator's log (the
    /// plugin itself only learns that its statement failed).
    fn take_denial(&mut self) -> Option<String> {
        None
    }
    /// Ends [`Session::confine`], before the host's own statements.
    async fn unconfine(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }
    /// What the database itself enforces on a plugin's statements.
    fn confined(&self) -> Confined {
        Confined::CheckerOnly
    }
    /// Bounds the statements that follow on the work connection, until called again with
    /// `None`: the database itself cancels one that runs longer than `limit`, so a plugin's
    /// statement ends even when godwit is killed while it runs (PostgreSQL: `SET LOCAL
    /// statement_timeout`, inside the open transaction; MariaDB: `SET STATEMENT
    /// max_statement_time … FOR`; SQLite: a progress handler). MySQL has no bound for
    /// every statement: there [`Session::cancel_running`] is the only one.
    async fn limit_statements(&mut self, limit: Option<Duration>) -> Result<(), sqlx::Error> {
        let _ = limit;
        Ok(())
    }
    /// Cancels whatever statement the work connection is running, from outside it (the
    /// lock connection, or SQLite's interrupt), after the host's deadline fired while a
    /// plugin's statement ran: so that the ROLLBACK which follows does not wait behind it,
    /// and nothing of the plugin's is left running on the server. Harmless when nothing runs.
    /// A server ignores a cancel that arrives after it read a statement but before it
    /// started running it, so the drivers send it again every [`CANCEL_RESEND`] until the
    /// statement has ended.
    async fn cancel_running(&mut self) -> Result<(), sqlx::Error> {
        Ok(())
    }
    async fn begin(&mut self) -> Result<(), sqlx::Error>;
    /// Opens a transaction in which the database itself refuses writes, for validators'
    /// `check-database`; [`Session::commit`] and [`Session::rollback`] end it as usual.
    async fn begin_read_only(&mut self) -> Result<(), sqlx::Error>;
    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.execute("COMMIT").await.map(drop)
    }
    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.execute("ROLLBACK").await.map(drop)
    }
    /// Applies timeouts; `in_transaction` scopes them to it where the database can.
    async fn set_timeouts(
        &mut self,
        timeouts: &Timeouts,
        in_transaction: bool,
    ) -> Result<(), sqlx::Error>;
    /// Puts session-level timeouts back to the server's defaults.
    async fn reset_timeouts(&mut self) -> Result<(), sqlx::Error>;
    /// A statement gave up waiting for a lock; the migration may be retried.
    fn is_lock_timeout(&self, err: &sqlx::Error) -> bool;
}

/// Reading back the schema the migrations built (`verify`, `diff`, `pull`).
#[async_trait(?Send)]
pub trait Introspect {
    /// The schema migrations are responsible for, without godwit's own tables (`verify`).
    async fn introspect(&mut self) -> Result<Schema, DbError>;
    /// Schemas besides the current one that [`Introspect::introspect`] reads from now on,
    /// their objects named `schema.name` (PostgreSQL; elsewhere a database or a file is the
    /// whole namespace, and this does nothing).
    fn compare_schemas(&mut self, _schemas: &[String]) {}
    /// The full definitions `godwit pull` writes where [`Introspect::introspect`] keeps less.
    async fn definitions(&mut self) -> Result<Definitions, DbError>;
}

/// What only `reset` and `verify`'s shadow database do: wiping the schema.
#[async_trait(?Send)]
pub trait Admin {
    /// Drops every table, view, routine and type godwit can see (for `reset`).
    async fn drop_everything(&mut self) -> Result<Vec<String>, DbError>;
}

/// What [`Driver::apply_in_transaction`] calls with the statements' counts to get the
/// history row it commits with them.
pub type MakeRow<'f> = dyn for<'a> FnMut(&'a [u64]) -> HistoryRow + 'f;

/// The id [`HistoryStore::insert_history_open`] gives a row whose INSERT has not reached the
/// server yet; a history row's real id is never 0.
pub const OPEN_ROW: i64 = 0;

/// What stopped [`Driver::apply_in_transaction`].
#[derive(Debug)]
pub struct TransactionError {
    /// The index of the statement that failed; `None` when what failed was godwit's own
    /// work around the statements (BEGIN, timeouts, the history row, COMMIT).
    pub statement: Option<usize>,
    pub error: sqlx::Error,
}

impl TransactionError {
    fn around(error: sqlx::Error) -> TransactionError {
        TransactionError {
            statement: None,
            error,
        }
    }
}

/// [`Driver::apply_in_transaction`] through the driver's other methods, a step at a time.
pub(crate) async fn apply_in_turn<D: Driver + ?Sized>(
    driver: &mut D,
    statements: &[&str],
    timeouts: &Timeouts,
    finish: &mut MakeRow<'_>,
) -> Result<Vec<u64>, TransactionError> {
    driver.begin().await.map_err(TransactionError::around)?;
    driver
        .set_timeouts(timeouts, true)
        .await
        .map_err(TransactionError::around)?;
    let affected = driver
        .execute_each(statements)
        .await
        .map_err(|(index, error)| TransactionError {
            statement: Some(index),
            error,
        })?;
    let row = finish(&affected);
    driver
        .commit_with_history(&row)
        .await
        .map_err(TransactionError::around)?;
    Ok(affected)
}

/// [`Session::execute_each`] one statement at a time.
pub(crate) async fn execute_in_turn<D: Session + ?Sized>(
    driver: &mut D,
    statements: &[&str],
) -> Result<Vec<u64>, (usize, sqlx::Error)> {
    let mut affected = Vec::with_capacity(statements.len());
    for (index, sql) in statements.iter().enumerate() {
        affected.push(driver.execute(sql).await.map_err(|e| (index, e))?);
    }
    Ok(affected)
}

/// How much of a query's result the host holds for a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultCap {
    pub rows: usize,
    /// Decoded size: each value a fixed overhead plus its text or bytes.
    pub bytes: usize,
}

impl ResultCap {
    /// The cap for a plugin with `memory_bytes` of linear memory: a result larger than its
    /// whole memory could not be handed to it anyway, and each row costs the plugin at
    /// least [`ResultCap::ROW_COST`] bytes.
    pub fn for_memory(memory_bytes: usize) -> ResultCap {
        ResultCap {
            rows: (memory_bytes / ResultCap::ROW_COST).max(1),
            bytes: memory_bytes,
        }
    }

    /// The least a row costs a plugin: its list and one column's name and value.
    pub const ROW_COST: usize = 64;
}

/// A result that passed its [`ResultCap`]; carried inside a [`sqlx::Error::Decode`] so
/// that it travels the drivers' error type, and found again with [`ResultTooLarge::of`].
#[derive(Debug, thiserror::Error)]
#[error(
    "the result passed the host's cap of {} rows or {} bytes (from the plugin's memory limit) at {rows} rows and at least {bytes} bytes; the rest was not read",
    cap.rows,
    cap.bytes
)]
pub struct ResultTooLarge {
    pub cap: ResultCap,
    pub rows: usize,
    /// What the rows read so far and the row that passed the cap add up to: exact where
    /// the host or the server measured that row, a lower bound where the database refused
    /// to build one of its values (SQLite's `SQLITE_LIMIT_LENGTH`).
    pub bytes: usize,
}

impl ResultTooLarge {
    /// The [`ResultTooLarge`] inside `e`, if that is what `e` is.
    pub fn of(e: &sqlx::Error) -> Option<&ResultTooLarge> {
        match e {
            sqlx::Error::Decode(inner) => inner.downcast_ref::<ResultTooLarge>(),
            _ => None,
        }
    }
}

/// How a capped read keeps a single row from being larger than the cap by the time the
/// host holds it. Counting after decoding bounds the number of rows, but a row arrives
/// whole: one value of half a gigabyte would be in memory before any check could run.
#[derive(Clone, Copy)]
pub(crate) enum Guard {
    /// Nothing keeps a row from the host before it arrives whole; only the rows after it
    /// are not read (MySQL/MariaDB: the server builds no value over its global
    /// `max_allowed_packet`, but a row of many columns can hold many such values).
    OnArrival,
    /// The statement was wrapped so that the server measures each row before sending it
    /// (PostgreSQL: [`postgres`]'s `sized`): the last column is the row's size as the
    /// server measured it, and a row over the cap arrives with every other column NULL.
    SizeColumn,
    /// The database itself refuses to build a value over `limit` bytes (SQLite's
    /// `SQLITE_LIMIT_LENGTH`, set for the statement), failing it with an error `refused`
    /// recognises.
    ValueLimit {
        limit: usize,
        refused: fn(&sqlx::Error) -> bool,
    },
}

/// Adds `row` to `out` and says whether `out` is still within `cap`.
fn push_capped(
    out: &mut Rows,
    bytes: &mut usize,
    decoded: Rows,
    cap: ResultCap,
) -> Result<(), sqlx::Error> {
    if out.columns.is_empty() {
        out.columns = decoded.columns;
    }
    for row in decoded.rows {
        *bytes = bytes.saturating_add(values::size(&row));
        out.rows.push(row);
    }
    if out.rows.len() > cap.rows || *bytes > cap.bytes {
        return Err(too_large(cap, out.rows.len(), *bytes));
    }
    Ok(())
}

fn too_large(cap: ResultCap, rows: usize, bytes: usize) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(ResultTooLarge { cap, rows, bytes }))
}

/// Takes the size column of [`Guard::SizeColumn`] off `decoded` (one row), and refuses the
/// row when the server found it over the cap (its other columns are NULL then).
fn strip_size(
    decoded: &mut Rows,
    cap: ResultCap,
    rows: usize,
    bytes: usize,
) -> Result<(), sqlx::Error> {
    decoded.columns.pop();
    for row in &mut decoded.rows {
        let size = match row.pop() {
            Some(Value::Int(size)) => usize::try_from(size).unwrap_or(usize::MAX),
            other => {
                return Err(sqlx::Error::Protocol(format!(
                    "the size the server measured for a result row is missing (found {other:?})"
                )));
            }
        };
        if size > cap.bytes {
            return Err(too_large(cap, rows + 1, bytes.saturating_add(size)));
        }
    }
    Ok(())
}

/// Decodes `rows` one at a time with `decode`, stopping (and dropping the rest unread)
/// past `cap`; `guard` says how a single row was kept within the cap before it arrived.
pub(crate) async fn read_capped<R>(
    mut rows: futures_core::stream::BoxStream<'_, Result<R, sqlx::Error>>,
    cap: ResultCap,
    decode: fn(&[R]) -> Result<Rows, sqlx::Error>,
    guard: Guard,
    meter: Option<&meter::Armed>,
) -> Result<Rows, sqlx::Error> {
    let mut out = Rows::default();
    let mut bytes: usize = 0;
    while let Some(row) = next(&mut rows).await {
        let row = match row {
            Ok(row) => row,
            // The database refused to build a value, or the meter held a row back: the
            // result passed the cap, by at least that much.
            Err(e) => {
                let held = match guard {
                    Guard::ValueLimit { limit, refused } if refused(&e) => {
                        Some(limit.saturating_add(1))
                    }
                    _ => meter.and_then(meter::Armed::held),
                };
                return Err(match held {
                    Some(held) => too_large(cap, out.rows.len() + 1, bytes.saturating_add(held)),
                    None => e,
                });
            }
        };
        let mut decoded = decode(std::slice::from_ref(&row))?;
        drop(row);
        if let Guard::SizeColumn = guard {
            strip_size(&mut decoded, cap, out.rows.len(), bytes)?;
        }
        push_capped(&mut out, &mut bytes, decoded, cap)?;
    }
    Ok(out)
}

/// Settles a plugin's statement that ran on `session` with its meter `armed` (see
/// [`meter`]): when the meter held a row back, the statement's error becomes the typed
/// [`ResultTooLarge`]. A result the host stopped reading early is read to its end while
/// the meter is still armed (by a statement that does nothing, before which sqlx reads
/// what is left of the result), so that no row of it reaches godwit whole later.
pub(crate) async fn settle_armed<T, S: Session + ?Sized>(
    session: &mut S,
    armed: Option<meter::Armed>,
    cap: ResultCap,
    result: Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    let Some(armed) = armed else {
        return result;
    };
    if result.is_err() {
        let _ = session.execute("SELECT 1").await;
    }
    match (armed.disarm(), result) {
        (Some(held), Err(e)) if ResultTooLarge::of(&e).is_none() => Err(too_large(cap, 1, held)),
        (_, result) => result,
    }
}

/// The next item of a sqlx stream.
pub(crate) async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_row(text: &str) -> Rows {
        Rows {
            columns: vec!["x".into()],
            rows: vec![vec![Value::Text(text.into())]],
        }
    }

    #[test]
    fn a_result_stops_at_the_first_row_past_either_cap() {
        let by_bytes = ResultCap {
            rows: 1000,
            bytes: 100,
        };
        let (mut out, mut bytes) = (Rows::default(), 0);
        push_capped(&mut out, &mut bytes, one_row(&"x".repeat(50)), by_bytes).unwrap();
        let err =
            push_capped(&mut out, &mut bytes, one_row(&"x".repeat(50)), by_bytes).unwrap_err();
        let too_large = ResultTooLarge::of(&err).expect("a typed too-large error");
        assert_eq!((too_large.rows, too_large.cap), (2, by_bytes));
        assert_eq!(out.columns, ["x"]);

        let by_rows = ResultCap {
            rows: 2,
            bytes: usize::MAX,
        };
        let (mut out, mut bytes) = (Rows::default(), 0);
        for _ in 0..2 {
            push_capped(&mut out, &mut bytes, one_row(""), by_rows).unwrap();
        }
        let err = push_capped(&mut out, &mut bytes, one_row(""), by_rows).unwrap_err();
        assert_eq!(ResultTooLarge::of(&err).map(|t| t.rows), Some(3));
        // Other errors are not mistaken for it.
        assert!(ResultTooLarge::of(&sqlx::Error::RowNotFound).is_none());
        assert!(ResultTooLarge::of(&sqlx::Error::Decode("bad".into())).is_none());
    }

    #[test]
    fn the_cap_follows_the_memory_limit() {
        assert_eq!(
            ResultCap::for_memory(64 << 20),
            ResultCap {
                rows: 1 << 20,
                bytes: 64 << 20
            }
        );
        assert_eq!(ResultCap::for_memory(0).rows, 1);
    }
}
