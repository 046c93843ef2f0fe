//! The narrow traits a database backend implements, and the parts of them written once for
//! every backend: a whole migration's transaction a step at a time, and results held to a
//! plugin's cap.

use std::time::Duration;

use async_trait::async_trait;

use godwit_core::Dialect;
use godwit_core::history::HistoryRow;
use godwit_core::schema::{Definitions, Schema};
use godwit_core::value::{Rows, Value};

use crate::cap::{ResultCap, too_large};
use crate::confine::{Confined, Scope, ScopeRole};
use crate::error::{DbError, SqlError};
use crate::meter;

/// Per-migration limits, from godwit.toml and the file's directives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
}

/// How long [`Session::cancel_running`] waits for the cancelled statement to end before it
/// sends the cancel again.
pub const CANCEL_RESEND: Duration = Duration::from_millis(250);

/// How one database spells the parts of a backfill's SQL that differ between databases;
/// [`crate::backfill`] writes the rest. Each database implements it in its
/// `<database>/backfill.rs`.
pub trait BackfillDialect: Sync {
    /// The type of a checkpoint's position and a batch's keys: JSON arrays of any length.
    fn long_text(&self) -> &'static str;
    /// Whether the batches table declares its index inside `CREATE TABLE` (for a database
    /// without `CREATE INDEX IF NOT EXISTS`).
    fn index_inside_table(&self) -> bool;
    /// `column` still holds `value`, NULL equal to NULL: the compare of compare-and-set.
    /// `json` when the column is PostgreSQL's `json`, which has no equality operator.
    fn not_distinct(&self, column: &str, value: &str, json: bool) -> String;
    /// What ends a `SELECT` of a batch's rows so that no other writer changes them before
    /// the batch commits (empty where the one writer's transaction already keeps others out).
    fn lock_rows(&self) -> &'static str;
    /// How a batch's rows reach its `UPDATE`.
    fn batch_write(&self) -> BatchWrite;
    /// What a worker's own connection is set to before it takes batches, if anything.
    fn worker_session(&self, _lease: Duration) -> Option<String> {
        None
    }
    /// Where the session itself is a batch's lease: the statement that starts it and the
    /// one that ends it.
    fn session_lease(&self, _lease: Duration) -> Option<(String, &'static str)> {
        None
    }
    /// Where a session's time zone is not UTC by itself: the statements that put a step's
    /// connection in UTC while it runs, and back after it.
    fn utc_session(&self) -> Option<(&'static str, &'static str)> {
        None
    }
}

/// How a batch's rows reach its `UPDATE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchWrite {
    /// One array parameter per column, unnested: a batch of any size is one short
    /// statement (PostgreSQL).
    Arrays,
    /// The rows as a `VALUES` list that `UPDATE … FROM` joins, with at most this many
    /// parameters in a statement (SQLite).
    Values { max_parameters: u32 },
    /// The rows as a `UNION ALL` of `SELECT`s joined to the table, for a database without
    /// `UPDATE … FROM` (MySQL/MariaDB), with at most this many parameters.
    UnionJoin { max_parameters: u32 },
}

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
    async fn execute_ddl(&mut self, sql: &str) -> Result<u64, SqlError> {
        self.execute(sql).await
    }
    /// Ends the open transaction of a migration with its history row: inserts `row`,
    /// makes sure the lock is still held ([`Lock::confirm_before_commit`]), and commits.
    /// After an error the transaction may still be open: the caller rolls it back.
    async fn commit_with_history(&mut self, row: &HistoryRow) -> Result<(), TransactionError> {
        self.insert_history(row)
            .await
            .map_err(TransactionError::around)?;
        self.confirm_before_commit()
            .await
            .map_err(TransactionError::Lock)?;
        self.commit().await.map_err(TransactionError::around)
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
    /// Called inside a transaction of migration work (a migration, a batch with its
    /// checkpoint) just before it commits: makes sure the lock is still this deployer's,
    /// asked now rather than trusted from the last [`Lock::keep_alive`], so that no work
    /// commits after the lock has passed to another deployer. Fails with
    /// [`DbError::LockLost`] when it has; the transaction is then left open, uncommitted,
    /// for the caller to roll back.
    ///
    /// A session-level lock (PostgreSQL's advisory lock, MySQL's `GET_LOCK`) is asked on
    /// its own session, a lease is renewed on the lock connection; SQLite, whose lease row
    /// shares the file, extends it inside this transaction, so that the extension commits
    /// with the work. One round trip per transaction.
    async fn confirm_before_commit(&mut self) -> Result<(), DbError> {
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
    async fn insert_history(&mut self, row: &HistoryRow) -> Result<i64, SqlError>;
    /// Rewrites the mutable columns of the row with `row.id`.
    async fn update_history(&mut self, row: &HistoryRow) -> Result<(), SqlError>;
    /// Writes the row like [`HistoryStore::insert_history`], but where DDL commits on its own
    /// (MySQL) leaves the write in an open transaction, for the next DDL statement's
    /// implicit commit to make durable before that statement runs: one redo-log flush for
    /// the write and the statement instead of two. Any other use of the connection
    /// commits it first. Elsewhere it is an ordinary write.
    ///
    /// Returns the new id, or [`OPEN_ROW`] where the INSERT only goes to the server with
    /// the next statement (MySQL, to save a round trip): the driver then takes a write of
    /// a row with that id for a write of the row it opened last.
    async fn insert_history_open(&mut self, row: &HistoryRow) -> Result<i64, SqlError> {
        self.insert_history(row).await
    }
    /// [`HistoryStore::update_history`], left open like [`HistoryStore::insert_history_open`].
    async fn update_history_open(&mut self, row: &HistoryRow) -> Result<(), SqlError> {
        self.update_history(row).await
    }
    /// Commits a history write left open, if any.
    async fn settle(&mut self) -> Result<(), SqlError> {
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
    async fn execute(&mut self, sql: &str) -> Result<u64, SqlError>;
    /// Runs `statements` one after another like [`Session::execute`], stopping at the
    /// first that fails: the rows each affected, or the failed one's index and error.
    /// SQLite sends them to its worker thread together.
    async fn execute_each(&mut self, statements: &[&str]) -> Result<Vec<u64>, (usize, SqlError)> {
        execute_in_turn(self, statements).await
    }
    /// Runs a read query whose first column is an integer (counts for `plan`).
    async fn query_i64(&mut self, sql: &str) -> Result<Option<i64>, SqlError>;
    /// Runs a read query whose columns are all text (cast them in SQL); NULL is `None`.
    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SqlError>;
    /// Runs one statement with `$1, $2…` parameters (on every dialect) on the work
    /// connection, inside whatever transaction is open, and decodes every row. The plugin
    /// session's `query`; the capability check happens before this.
    ///
    /// Values bind as their kind (`Int` as a 64-bit integer, `Timestamp` as a timestamp
    /// with zone, `Json` as jsonb on PostgreSQL); `Null` fits any column; `Text` reaches
    /// `numeric`, date, time, uuid and enum columns too, as godwit hands those out as text.
    /// Results decode by column type; an empty result has no column names.
    async fn query_values(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError>;
    /// [`Session::query_values`] read row by row, stopped as soon as the result passes
    /// `cap`: the error is then a [`ResultTooLarge`](crate::ResultTooLarge) (see [`SqlError::too_large`]), and no
    /// more than the cap (plus one row) was ever held in memory.
    async fn query_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: ResultCap,
    ) -> Result<Rows, SqlError>;
    /// Like [`Session::query_values`], returning the rows affected.
    async fn execute_values(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;
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
    ) -> Result<u64, SqlError> {
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
    ) -> Result<u64, SqlError> {
        let _ = (sql, columns);
        Err(SqlError::from(sqlx::Error::InvalidArgument(
            "array parameters are bound on PostgreSQL only".into(),
        )))
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
    async fn confine(&mut self, scope: &std::sync::Arc<dyn Scope>) -> Result<(), SqlError> {
        let _ = scope;
        Ok(())
    }
    /// After a confined statement: `Some(what changed)` when it got out of its
    /// confinement (PostgreSQL: the role or search_path is no longer the one set).
    async fn check_confined(&mut self) -> Result<Option<String>, SqlError> {
        Ok(None)
    }
    /// What the confinement refused since the last call, for the operator's log (the
    /// plugin itself only learns that its statement failed).
    fn take_denial(&mut self) -> Option<String> {
        None
    }
    /// Ends [`Session::confine`], before the host's own statements.
    async fn unconfine(&mut self) -> Result<(), SqlError> {
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
    async fn limit_statements(&mut self, limit: Option<Duration>) -> Result<(), SqlError> {
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
    async fn cancel_running(&mut self) -> Result<(), SqlError> {
        Ok(())
    }
    async fn begin(&mut self) -> Result<(), SqlError>;
    /// Opens a transaction in which the database itself refuses writes, for validators'
    /// `check-database`; [`Session::commit`] and [`Session::rollback`] end it as usual.
    async fn begin_read_only(&mut self) -> Result<(), SqlError>;
    async fn commit(&mut self) -> Result<(), SqlError> {
        self.execute("COMMIT").await.map(drop)
    }
    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.execute("ROLLBACK").await.map(drop)
    }
    /// Applies timeouts; `in_transaction` scopes them to it where the database can.
    async fn set_timeouts(
        &mut self,
        timeouts: &Timeouts,
        in_transaction: bool,
    ) -> Result<(), SqlError>;
    /// Puts session-level timeouts back to the server's defaults.
    async fn reset_timeouts(&mut self) -> Result<(), SqlError>;
    /// A statement gave up waiting for a lock; the migration may be retried.
    fn is_lock_timeout(&self, err: &SqlError) -> bool;
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

/// What stopped [`Driver::apply_in_transaction`] or [`Driver::commit_with_history`].
#[derive(Debug)]
pub enum TransactionError {
    /// A statement failed, or godwit's own work around the statements did.
    Sql {
        /// The index of the statement that failed; `None` when what failed was godwit's
        /// own work around the statements (BEGIN, timeouts, the history row, COMMIT).
        statement: Option<usize>,
        error: SqlError,
    },
    /// Every statement ran, but the lock was no longer this deployer's when the
    /// transaction was about to commit ([`Lock::confirm_before_commit`]): nothing was
    /// committed. [`DbError::LockLost`], or what stopped godwit from finding out.
    Lock(DbError),
}

impl TransactionError {
    pub(crate) fn around(error: SqlError) -> TransactionError {
        TransactionError::Sql {
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
        .map_err(|(index, error)| TransactionError::Sql {
            statement: Some(index),
            error,
        })?;
    let row = finish(&affected);
    driver.commit_with_history(&row).await?;
    Ok(affected)
}

/// [`Session::execute_each`] one statement at a time.
pub(crate) async fn execute_in_turn<D: Session + ?Sized>(
    driver: &mut D,
    statements: &[&str],
) -> Result<Vec<u64>, (usize, SqlError)> {
    let mut affected = Vec::with_capacity(statements.len());
    for (index, sql) in statements.iter().enumerate() {
        affected.push(driver.execute(sql).await.map_err(|e| (index, e))?);
    }
    Ok(affected)
}

/// Settles a plugin's statement that ran on `session` with its meter `armed` (see
/// [`meter`]): when the meter held a row back, the statement's error becomes the typed
/// [`ResultTooLarge`](crate::ResultTooLarge). A result the host stopped reading early is read to its end while
/// the meter is still armed (by a statement that does nothing, before which sqlx reads
/// what is left of the result), so that no row of it reaches godwit whole later.
pub(crate) async fn settle_armed<T, S: Session + ?Sized>(
    session: &mut S,
    armed: Option<meter::Armed>,
    cap: ResultCap,
    result: Result<T, SqlError>,
) -> Result<T, SqlError> {
    let Some(armed) = armed else {
        return result;
    };
    if result.is_err() {
        let _ = session.execute("SELECT 1").await;
    }
    match (armed.disarm(), result) {
        (Some(held), Err(e)) if e.too_large().is_none() => Err(too_large(cap, 1, held).into()),
        (_, result) => result,
    }
}
