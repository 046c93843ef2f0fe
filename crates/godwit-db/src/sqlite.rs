//! SQLite, the embedded default: transactional DDL, a lease row for the lock, and the
//! busy timeout standing in for a lock timeout.

use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Row};

mod authorizer;
pub(crate) mod backfill;
pub(crate) mod copy;
mod direct;
pub(crate) mod dump;
mod functions;
mod introspect;

use std::sync::Arc;

use crate::confine::{Confined, Scope};
use crate::error::{DbError, Described, SqlError};
use crate::history::HistorySql;
use crate::lock::lease;
use crate::settings::{ConnectError, ConnectSettings, with_connect_timeout};
use crate::traits::{
    Admin, Driver, HistoryStore, Introspect, Lock, MakeRow, Session, Timeouts, TransactionError,
};
use crate::values;
use godwit_core::Dialect;
use godwit_core::history::{HistoryRow, TABLE};
use godwit_core::value::{Rows, Value};

/// How long SQLite waits for another writer when no lock_timeout is configured.
const DEFAULT_BUSY: Duration = Duration::from_secs(30);

pub struct SqliteDriver {
    conn: SqliteConnection,
    /// SQLite has no statement_timeout; a progress handler interrupts statements instead.
    statement_timeout: Option<Duration>,
    /// [`Session::limit_statements`]' bound, enforced the same way.
    plugin_limit: Option<Duration>,
    /// `conn`'s database handle, for `sqlite3_interrupt`, which may be called from any
    /// thread while a statement runs; reaching it through `lock_handle` would wait for the
    /// statement to end. Valid as long as `conn` is open.
    interrupt: std::ptr::NonNull<libsqlite3_sys::sqlite3>,
    lock_conn: SqliteConnection,
    owner: String,
    sql: HistorySql,
    /// Inside begin_read_only(): `query_only` is on until the transaction ends.
    read_only: bool,
    /// Between confine() and unconfine(): the authorizer registered on `conn`, which
    /// must outlive its registration.
    authorizer: Option<Box<authorizer::Authorizer>>,
    /// When the lease was last extended for sure (taken, renewed, or renewed in a
    /// transaction that committed): each renewal on the lock connection is a commit of
    /// its own, with its own fsyncs, so keep_alive() renews only once this is old.
    renewed: Option<Instant>,
    /// A renewal inside the open transaction, which counts once that commits.
    renewing: Option<Instant>,
}

/// keep_alive() renews a lease older than this: a third of its lifetime, so it still has
/// two thirds left when a renewal is skipped.
const RENEW_AFTER: Duration = Duration::from_secs(lease::TTL.as_secs() / 3);

impl SqliteDriver {
    pub(crate) async fn connect(opts: &ConnectSettings) -> Result<SqliteDriver, ConnectError> {
        let options = SqliteConnectOptions::from_str(&opts.target.url)
            .map_err(|e| crate::settings::connect_error(&opts.target, e))?
            .create_if_missing(true)
            .busy_timeout(DEFAULT_BUSY)
            .row_buffer_size(ROW_BUFFER)
            .disable_statement_logging();
        let path = options.get_filename();
        if let Some(parent) = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty() && !p.exists())
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                ConnectError::Refused(format!(
                    "cannot create the directory {} for the SQLite file: {e}",
                    parent.display()
                ))
            })?;
            godwit_core::project::keep_out_of_git(parent);
        }
        let mut conn = with_connect_timeout(opts, options.connect()).await?;
        let interrupt = {
            let mut handle = conn
                .lock_handle()
                .await
                .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
            let raw = handle.as_raw_handle();
            // SAFETY: the handle is locked for this block, so sqlx's worker runs
            // nothing on the connection meanwhile.
            unsafe { functions::install(raw) }.map_err(ConnectError::Refused)?;
            raw
        };
        crate::settings::init_session::<sqlx::Sqlite>(opts, &mut conn).await?;
        // The lock loop polls and honours lock_wait; a long busy wait here would not.
        let mut lock_conn = with_connect_timeout(
            opts,
            options
                .clone()
                .busy_timeout(Duration::from_millis(100))
                .connect(),
        )
        .await?;
        crate::settings::init_session::<sqlx::Sqlite>(opts, &mut lock_conn).await?;
        Ok(SqliteDriver {
            conn,
            statement_timeout: None,
            plugin_limit: None,
            interrupt,
            lock_conn,
            owner: lease::owner_token(),
            sql: HistorySql::new(Dialect::Sqlite),
            read_only: false,
            authorizer: None,
            renewed: None,
            renewing: None,
        })
    }

    /// Whether the lease was extended for sure less than [`RENEW_AFTER`] ago.
    fn renewed_recently(&self) -> bool {
        self.renewed.is_some_and(|at| at.elapsed() < RENEW_AFTER)
    }

    /// Sets SQLite's busy timeout on the connection's handle: what `PRAGMA busy_timeout`
    /// does, without a statement and a trip to sqlx's worker thread before every migration.
    async fn set_busy_timeout(&mut self, busy: Duration) -> Result<(), sqlx::Error> {
        let ms = i32::try_from(busy.as_millis()).unwrap_or(i32::MAX);
        let mut handle = self.conn.lock_handle().await?;
        // SAFETY: the handle is `conn`'s and locked for this call, so no statement of
        // sqlx's worker runs on it meanwhile.
        let rc =
            unsafe { libsqlite3_sys::sqlite3_busy_timeout(handle.as_raw_handle().as_ptr(), ms) };
        if rc == libsqlite3_sys::SQLITE_OK {
            Ok(())
        } else {
            Err(sqlx::Error::Protocol(format!(
                "sqlite3_busy_timeout({ms}) failed with code {rc}"
            )))
        }
    }

    /// The bound on the next statement: the migration's, the plugin's, whichever is less.
    fn limit(&self) -> Option<Duration> {
        match (self.statement_timeout, self.plugin_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// SQLite has no statement_timeout; a progress handler interrupts the statement.
    async fn arm_timeout(&mut self) -> Result<(), sqlx::Error> {
        if let Some(limit) = self.limit() {
            let deadline = std::time::Instant::now() + limit;
            self.conn
                .lock_handle()
                .await?
                .set_progress_handler(10_000, move || std::time::Instant::now() < deadline);
        }
        Ok(())
    }

    async fn disarm_timeout(&mut self) -> Result<(), sqlx::Error> {
        if self.limit().is_some() {
            self.conn.lock_handle().await?.remove_progress_handler();
        }
        Ok(())
    }

    /// How many columns `sql` returns, by preparing it on the side (and finalizing it
    /// unrun); 1 when it does not prepare, as sqlx's preparation will then fail the same.
    async fn result_columns(&mut self, sql: &str) -> Result<usize, sqlx::Error> {
        use libsqlite3_sys as ffi;
        let Ok(len) = std::ffi::c_int::try_from(sql.len()) else {
            return Ok(1);
        };
        let mut handle = self.conn.lock_handle().await?;
        let db = handle.as_raw_handle().as_ptr();
        let mut statement = std::ptr::null_mut();
        // SAFETY: the handle is `conn`'s and locked for this call, so no statement of
        // sqlx's worker runs on it meanwhile; `sql` outlives the call, its length is
        // given, and the statement prepared here is finalized before the lock is released.
        let columns = unsafe {
            let rc = ffi::sqlite3_prepare_v2(
                db,
                sql.as_ptr().cast(),
                len,
                &mut statement,
                std::ptr::null_mut(),
            );
            let columns = if rc == ffi::SQLITE_OK && !statement.is_null() {
                ffi::sqlite3_column_count(statement)
            } else {
                1
            };
            ffi::sqlite3_finalize(statement);
            columns
        };
        Ok(usize::try_from(columns).unwrap_or(1).max(1))
    }

    /// Sets `SQLITE_LIMIT_LENGTH`, the largest string or blob (and row record) the engine
    /// builds on the work connection, and returns the limit it replaces.
    async fn set_length_limit(&mut self, limit: usize) -> Result<usize, sqlx::Error> {
        let limit = std::ffi::c_int::try_from(limit).unwrap_or(std::ffi::c_int::MAX);
        let mut handle = self.conn.lock_handle().await?;
        // SAFETY: as in result_columns; sqlite3_limit only reads and writes the handle's
        // limits.
        let previous = unsafe {
            libsqlite3_sys::sqlite3_limit(
                handle.as_raw_handle().as_ptr(),
                libsqlite3_sys::SQLITE_LIMIT_LENGTH,
                limit,
            )
        };
        Ok(usize::try_from(previous).unwrap_or(0))
    }

    /// The names an unqualified table reference can resolve to besides a CTE: the tables
    /// and views of every attached database and the virtual-table modules. The confined
    /// authorizer needs them to tell a CTE from a table (see `Authorizer::only_a_cte`).
    async fn reachable_names(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let databases: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_database_list")
            .fetch_all(&mut self.conn)
            .await?;
        let mut names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_module_list")
            .fetch_all(&mut self.conn)
            .await?;
        for db in databases {
            let sql = format!(
                "SELECT name FROM \"{}\".sqlite_master WHERE type IN ('table', 'view')",
                db.replace('"', "\"\"")
            );
            names.extend(
                sqlx::query_scalar::<_, String>(&sql)
                    .fetch_all(&mut self.conn)
                    .await?,
            );
        }
        Ok(names)
    }

    /// `sql` with `?` placeholders in SQLite's order; when confined, its CTEs are noted
    /// for the authorizer first.
    fn translate(&self, sql: &str, params: usize) -> Result<Translated, sqlx::Error> {
        let (sql, order) = values::translate(Dialect::Sqlite, sql, params)?;
        if let Some(auth) = &self.authorizer {
            auth.prepare(&sql);
        }
        Ok(Translated { sql, order })
    }

    /// Ends a read-only transaction's `query_only`, whatever became of the transaction.
    async fn end_read_only<T>(&mut self, ended: Result<T, SqlError>) -> Result<(), SqlError> {
        if std::mem::take(&mut self.read_only) {
            let restored = self.execute("PRAGMA query_only = OFF").await;
            ended?;
            restored.map(drop)
        } else {
            ended.map(drop)
        }
    }
}

#[async_trait(?Send)]
impl Driver for SqliteDriver {
    fn transactional_ddl(&self) -> bool {
        true
    }

    async fn commit_with_history(&mut self, row: &HistoryRow) -> Result<(), TransactionError> {
        self.confirm_before_commit()
            .await
            .map_err(TransactionError::Lock)?;
        // The row and the COMMIT in one trip to the worker thread; the COMMIT does not
        // run if the INSERT fails.
        let insert = crate::history::literal_sql(
            Dialect::Sqlite,
            &self.sql.insert,
            &crate::history::insert_values(Dialect::Sqlite, row),
        );
        let ended = self.execute(&format!("{insert};\nCOMMIT")).await;
        let renewing = self.renewing.take();
        if ended.is_ok() {
            self.renewed = renewing.or(self.renewed);
        }
        self.end_read_only(ended)
            .await
            .map_err(TransactionError::around)
    }

    async fn apply_in_transaction(
        &mut self,
        statements: &[&str],
        timeouts: &Timeouts,
        finish: &mut MakeRow<'_>,
    ) -> Result<Vec<u64>, TransactionError> {
        // A statement timeout needs a progress handler armed around each statement, and
        // a lease due for renewal is renewed inside the transaction: both go through
        // sqlx, a step at a time, as does a read-only session (plugins' checks).
        self.statement_timeout = timeouts.statement_timeout.filter(|d| !d.is_zero());
        if self.limit().is_some() || !self.renewed_recently() || self.read_only {
            return crate::traits::apply_in_turn(self, statements, timeouts, finish).await;
        }
        let busy = timeouts.lock_timeout.unwrap_or(DEFAULT_BUSY);
        let insert_sql = &self.sql.insert;
        let mut handle = self
            .conn
            .lock_handle()
            .await
            .map_err(|error| TransactionError::around(error.into()))?;
        direct::apply(&mut handle, busy, statements, finish, |row| {
            crate::history::literal_sql(
                Dialect::Sqlite,
                insert_sql,
                &crate::history::insert_values(Dialect::Sqlite, row),
            )
        })
    }
}

#[async_trait(?Send)]
impl Lock for SqliteDriver {
    async fn try_lock(&mut self) -> Result<Option<String>, DbError> {
        let at = Instant::now();
        match lease::try_acquire::<sqlx::Sqlite>(&mut self.lock_conn, Dialect::Sqlite, &self.owner)
            .await
        {
            Ok(None) => {
                self.renewed = Some(at);
                Ok(None)
            }
            Ok(outcome) => Ok(outcome),
            // Another deployer is inside a write transaction: it holds the lease anyway.
            Err(e) if busy_or_locked(&e) => {
                Ok(Some("the database file is locked by another writer".into()))
            }
            Err(e) => Err(DbError::db("cannot take the migration lease", &e)),
        }
    }

    async fn unlock(&mut self) -> Result<(), DbError> {
        self.renewed = None;
        lease::release::<sqlx::Sqlite>(&mut self.lock_conn, Dialect::Sqlite, &self.owner)
            .await
            .map_err(|e| DbError::db("cannot release the migration lease", &e))
    }

    async fn keep_alive(&mut self) -> Result<(), DbError> {
        // Nobody takes a lease before it expires (a deployer on this host whose process
        // is gone aside), so one renewed this recently is still ours.
        if self.renewed_recently() {
            return Ok(());
        }
        let at = Instant::now();
        let still_ours =
            lease::renew::<sqlx::Sqlite>(&mut self.lock_conn, Dialect::Sqlite, &self.owner)
                .await
                .map_err(|e| DbError::db("cannot renew the migration lease", &e))?;
        if still_ours {
            self.renewed = Some(at);
            Ok(())
        } else {
            Err(lease::lost())
        }
    }

    async fn confirm_before_commit(&mut self) -> Result<(), DbError> {
        // As in keep_alive(): a lease renewed this recently has two thirds of its life
        // left, and the UPDATE would be one more page in every migration's commit.
        if self.renewed_recently() {
            return Ok(());
        }
        // Extended in this transaction, the extension commits with the work. The work
        // connection holds the write lock once the transaction has written, so nobody
        // takes the lease between this and the COMMIT; if somebody took it before (ours
        // had expired), the UPDATE finds another owner and the work must not commit.
        let at = Instant::now();
        let ours = lease::renew::<sqlx::Sqlite>(&mut self.conn, Dialect::Sqlite, &self.owner)
            .await
            .map_err(|e| DbError::db("cannot extend the migration lease", &e))?;
        if ours {
            self.renewing = Some(at);
            Ok(())
        } else {
            Err(lease::lost())
        }
    }
}

#[async_trait(?Send)]
impl HistoryStore for SqliteDriver {
    async fn ensure_history_table(&mut self) -> Result<(), DbError> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                version TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                operation TEXT NOT NULL,
                state TEXT NOT NULL,
                checksum TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                duration_ms INTEGER,
                applied_by TEXT NOT NULL,
                godwit_version TEXT NOT NULL,
                plugin_digest TEXT,
                statements_applied INTEGER NOT NULL DEFAULT 0,
                statements_total INTEGER NOT NULL DEFAULT 0,
                rows_affected INTEGER,
                error TEXT
            );
            CREATE INDEX IF NOT EXISTS {TABLE}_version_idx ON {TABLE} (version, id);"
        );
        self.execute(&ddl)
            .await
            .map(drop)
            .map_err(|e| DbError::db(format!("cannot create the history table {TABLE}"), &e))
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        match crate::history::fetch_history::<sqlx::Sqlite>(&mut self.conn, &self.sql).await {
            Ok(rows) => Ok(rows),
            Err(e) if crate::raw::is_undefined_table(&e) => Ok(Vec::new()),
            Err(e) => Err(DbError::db(format!("cannot read {TABLE}"), &e)),
        }
    }

    async fn insert_history(&mut self, row: &HistoryRow) -> Result<i64, SqlError> {
        let sql = format!("{} RETURNING id", self.sql.insert);
        Ok(crate::history::insert_history::<sqlx::Sqlite>(
            &mut self.conn,
            Dialect::Sqlite,
            &sql,
            row,
        )
        .await?
        .unwrap_or_default())
    }

    async fn update_history(&mut self, row: &HistoryRow) -> Result<(), SqlError> {
        crate::history::update_history::<sqlx::Sqlite>(
            &mut self.conn,
            Dialect::Sqlite,
            &self.sql.update,
            row,
        )
        .await
        .map_err(SqlError::from)
    }
}

#[async_trait(?Send)]
impl Session for SqliteDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, SqlError> {
        self.arm_timeout().await?;
        let result = crate::raw::execute_raw::<sqlx::Sqlite>(&mut self.conn, sql).await;
        self.disarm_timeout().await?;
        result.map_err(SqlError::from)
    }

    async fn execute_each(&mut self, statements: &[&str]) -> Result<Vec<u64>, (usize, SqlError)> {
        // A statement timeout bounds each statement on its own: one by one, then.
        if self.limit().is_some() || statements.len() < 2 {
            return crate::traits::execute_in_turn(self, statements).await;
        }
        // One trip to sqlx's worker thread instead of one per statement. SQLite prepares
        // each statement only once the one before it has run, and stops at the first that
        // fails; each statement that finishes reports its count, so the failed one is
        // the next. The splitter trims every statement to its own tokens (no trailing
        // comment, never empty), so each gives exactly one count.
        let joined = statements.join("\n;\n");
        let mut affected = Vec::with_capacity(statements.len());
        let mut results = sqlx::raw_sql(&joined).fetch_many(&mut self.conn);
        while let Some(result) = crate::cap::next(&mut results).await {
            match result {
                Ok(sqlx::Either::Left(done)) => affected.push(done.rows_affected()),
                Ok(sqlx::Either::Right(_row)) => {}
                Err(e) => return Err((affected.len().min(statements.len() - 1), e.into())),
            }
        }
        Ok(affected)
    }

    async fn query_i64(&mut self, sql: &str) -> Result<Option<i64>, SqlError> {
        crate::raw::query_i64::<sqlx::Sqlite>(&mut self.conn, sql)
            .await
            .map_err(SqlError::from)
    }

    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SqlError> {
        crate::raw::query_text::<sqlx::Sqlite>(&mut self.conn, sql)
            .await
            .map_err(SqlError::from)
    }

    async fn query_values(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        let sql = self.translate(sql, params.len())?;
        let query = bind(&sql, params, self.authorizer.is_none());
        self.arm_timeout().await?;
        let rows = query.fetch_all(&mut self.conn).await;
        self.disarm_timeout().await?;
        let rows = rows?;
        values::sqlite_rows(&rows).map_err(SqlError::from)
    }

    async fn query_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: crate::cap::ResultCap,
    ) -> Result<Rows, SqlError> {
        let sql = self.translate(sql, params.len())?;
        let limit = value_limit(cap, self.result_columns(&sql.sql).await?);
        let previous = self.set_length_limit(limit).await?;
        let query = bind(&sql, params, self.authorizer.is_none());
        let rows = match self.arm_timeout().await {
            Ok(()) => {
                let guard = crate::cap::Guard::ValueLimit {
                    limit,
                    refused: too_big,
                };
                let rows = crate::cap::read_capped(
                    query.fetch(&mut self.conn),
                    cap,
                    values::sqlite_rows,
                    guard,
                    None,
                )
                .await;
                self.disarm_timeout().await.and(rows)
            }
            Err(e) => Err(e),
        };
        // godwit's own statements keep SQLite's limit, whatever became of this one.
        let restored = self.set_length_limit(previous).await;
        let rows = rows?;
        restored?;
        Ok(rows)
    }

    async fn execute_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: crate::cap::ResultCap,
    ) -> Result<u64, SqlError> {
        // A write builds its values and rows in godwit's own memory too.
        let previous = self.set_length_limit(value_limit(cap, 1)).await?;
        let result = self.execute_values(sql, params).await;
        let restored = self.set_length_limit(previous).await;
        let count = result?;
        restored?;
        Ok(count)
    }

    async fn execute_values(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let sql = self.translate(sql, params.len())?;
        let query = bind(&sql, params, self.authorizer.is_none());
        self.arm_timeout().await?;
        let result = query.execute(&mut self.conn).await;
        self.disarm_timeout().await?;
        Ok(result?.rows_affected())
    }

    async fn confine(&mut self, scope: &Arc<dyn Scope>) -> Result<(), SqlError> {
        if self.authorizer.is_some() {
            self.unconfine().await?;
        }
        let auth = authorizer::Authorizer::new(Arc::clone(scope), self.reachable_names().await?);
        let mut handle = self.conn.lock_handle().await?;
        authorizer::install(handle.as_raw_handle(), &auth).map_err(sqlx::Error::Protocol)?;
        self.authorizer = Some(auth);
        Ok(())
    }

    async fn unconfine(&mut self) -> Result<(), SqlError> {
        let Some(auth) = self.authorizer.take() else {
            return Ok(());
        };
        let removed = match self.conn.lock_handle().await {
            Ok(mut handle) => {
                authorizer::remove(handle.as_raw_handle()).map_err(sqlx::Error::Protocol)
            }
            Err(e) => Err(e),
        };
        match removed {
            Ok(()) => Ok(()),
            Err(e) => {
                // Still registered, as far as we can tell: the callback's data must stay.
                Box::leak(auth);
                Err(e.into())
            }
        }
    }

    fn take_denial(&mut self) -> Option<String> {
        self.authorizer.as_ref().and_then(|a| a.take_denied())
    }

    async fn limit_statements(&mut self, limit: Option<Duration>) -> Result<(), SqlError> {
        // Zero would mean no limit at all.
        self.plugin_limit = limit.map(|l| l.max(Duration::from_millis(1)));
        Ok(())
    }

    async fn cancel_running(&mut self) -> Result<(), SqlError> {
        // A statement abandoned mid-way (the host's deadline fired) never disarmed its
        // progress handler, whose deadline has passed: it would interrupt the ROLLBACK.
        self.plugin_limit = None;
        let interrupt = self.interrupt;
        let send = || {
            // SAFETY: the handle is `conn`'s, which is open while `self` lives;
            // sqlite3_interrupt may be called from any thread, and does nothing when no
            // statement runs.
            unsafe { libsqlite3_sys::sqlite3_interrupt(interrupt.as_ptr()) }
        };
        // Taking the handle waits for the interrupted statement to end. An interrupt sent
        // before sqlx's worker started stepping the statement is lost (SQLite clears it
        // when a statement starts with none running), so it is sent again until then.
        let handle = self.conn.lock_handle();
        tokio::pin!(handle);
        loop {
            send();
            if let Ok(handle) =
                tokio::time::timeout(crate::traits::CANCEL_RESEND, &mut handle).await
            {
                handle?.remove_progress_handler();
                return Ok(());
            }
        }
    }

    fn confined(&self) -> Confined {
        Confined::Authorizer
    }

    async fn begin_read_only(&mut self) -> Result<(), SqlError> {
        // SQLite has no read-only transaction; query_only refuses writes on this
        // connection until commit() or rollback() turns it off again.
        self.execute("BEGIN").await?;
        self.read_only = true;
        if let Err(e) = self.execute("PRAGMA query_only = ON").await {
            let _ = self.rollback().await;
            return Err(e);
        }
        Ok(())
    }

    async fn begin(&mut self) -> Result<(), SqlError> {
        // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading.
        self.execute("BEGIN IMMEDIATE").await.map(drop)
    }

    async fn commit(&mut self) -> Result<(), SqlError> {
        let ended = self.execute("COMMIT").await;
        let renewing = self.renewing.take();
        if ended.is_ok() {
            self.renewed = renewing.or(self.renewed);
        }
        self.end_read_only(ended).await
    }

    async fn rollback(&mut self) -> Result<(), SqlError> {
        self.renewing = None;
        let ended = self.execute("ROLLBACK").await;
        self.end_read_only(ended).await
    }

    async fn set_timeouts(&mut self, t: &Timeouts, _in_transaction: bool) -> Result<(), SqlError> {
        self.statement_timeout = t.statement_timeout.filter(|d| !d.is_zero());
        self.set_busy_timeout(t.lock_timeout.unwrap_or(DEFAULT_BUSY))
            .await
            .map_err(SqlError::from)
    }

    async fn reset_timeouts(&mut self) -> Result<(), SqlError> {
        self.statement_timeout = None;
        self.set_busy_timeout(DEFAULT_BUSY)
            .await
            .map_err(SqlError::from)
    }

    fn is_lock_timeout(&self, err: &SqlError) -> bool {
        busy_or_locked(err.sqlx())
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), extended codes included: another connection
/// holds the lock. Read from the result code, never from the message.
fn busy_or_locked(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6)))
}

#[async_trait(?Send)]
impl Introspect for SqliteDriver {
    async fn introspect(&mut self) -> Result<godwit_core::schema::Schema, DbError> {
        introspect::introspect(self).await
    }

    async fn definitions(&mut self) -> Result<godwit_core::schema::Definitions, DbError> {
        // sqlite_master keeps every object's text, and the model has all of it.
        Ok(godwit_core::schema::Definitions::default())
    }
}

#[async_trait(?Send)]
impl Admin for SqliteDriver {
    async fn drop_everything(&mut self) -> Result<Vec<String>, DbError> {
        fn fail(e: &impl Described) -> DbError {
            DbError::db("cannot drop the database's objects", e)
        }
        let objects = sqlx::query(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') \
             AND name NOT LIKE 'sqlite_%' AND name <> 'godwit_lock' ORDER BY type = 'table'",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| fail(&e))?;
        let mut sql = String::from("PRAGMA foreign_keys = OFF;");
        let mut dropped = Vec::new();
        for row in objects {
            let (kind, name): (String, String) = (
                row.try_get(0).map_err(|e| fail(&e))?,
                row.try_get(1).map_err(|e| fail(&e))?,
            );
            sql.push_str(&format!(
                "DROP {kind} IF EXISTS \"{}\";",
                name.replace('"', "\"\"")
            ));
            dropped.push(format!("{kind} {name}"));
        }
        sql.push_str("PRAGMA foreign_keys = ON;");
        self.execute(&sql).await.map_err(|e| fail(&e))?;
        Ok(dropped)
    }
}

/// A statement rewritten for SQLite: its text, and which parameter goes in each place.
struct Translated {
    sql: String,
    order: Vec<usize>,
}

/// The query for `sql` with `params` bound. The authorizer runs at prepare time, so a
/// confined statement (`persistent` false) is prepared afresh, never cached.
/// Rows sqlx's worker thread reads ahead of a capped query's reader ([`ROW_BUFFER`]),
/// plus the row the worker is building and the one being decoded.
const ROWS_IN_FLIGHT: usize = ROW_BUFFER + 2;

/// How many rows sqlx's worker thread may read ahead of the task that asked for them
/// (sqlx's default is 50): each of a plugin's rows is held in memory meanwhile.
pub(crate) const ROW_BUFFER: usize = 2;

/// The largest value the engine may build for a capped statement returning `columns`
/// columns: the rows in flight then hold no more than the cap between them, however the
/// value is made (a function, a stored value, `||`, `group_concat`, `json_group_array`).
fn value_limit(cap: crate::cap::ResultCap, columns: usize) -> usize {
    (cap.bytes / columns.max(1) / ROWS_IN_FLIGHT).max(1)
}

/// SQLite refused to build a value over `SQLITE_LIMIT_LENGTH` (SQLITE_TOOBIG).
fn too_big(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| c & 0xff == i64::from(libsqlite3_sys::SQLITE_TOOBIG)))
}

fn bind<'q>(
    sql: &'q Translated,
    params: &'q [Value],
    persistent: bool,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    let mut query = sqlx::query(&sql.sql).persistent(persistent);
    for &i in &sql.order {
        query = query.bind(values::Param(&params[i]));
    }
    query
}
