//! What a database backend provides, one narrow trait per concern:
//!
//! - [`Lock`]: the migration lock (take, keep alive, release);
//! - [`HistoryStore`]: godwit's history table;
//! - [`Session`]: running statements for the host and plugins: transactions, bound
//!   values, capped results, timeouts, and confining a plugin's statements;
//! - [`Introspect`]: the schema as the database has it;
//! - [`Admin`]: dropping everything (`reset`);
//! - [`Driver`]: all of them, plus what only the migration runner uses.
//!
//! The run algorithm in [`crate::migrator`] is written once against [`Driver`]; code that
//! needs only a part (schema introspection, the plugin session, health checks) takes
//! only that part. Each backend file says how its database does these things, one `impl`
//! block per trait. Every driver holds the migration lock on a connection of its own that
//! never enters a transaction, so a `CREATE INDEX CONCURRENTLY` on the work connection
//! cannot wait on our own lock.

mod confine;
mod error;
pub(crate) mod introspect;
pub mod meter;
pub mod mysql;
pub mod postgres;
pub mod sqlite;
mod values;

pub use confine::{Confined, Enforcement, Scope, ScopeRole};
pub use error::{DbError, RoleProblem, describe_db_error};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, Row, Type};

use crate::redact::redact;
use godwit_core::Dialect;
use godwit_core::history::{HistoryRow, TABLE};
use godwit_core::schema::{Definitions, Schema};
use godwit_core::value::{Rows, Value};

/// The database a command talks to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The full URL, password included: never print it, print [`Target::display`].
    pub url: String,
    pub display: String,
    pub dialect: Dialect,
    /// Where the URL came from, so that "wrong database" surprises are explainable.
    pub origin: String,
    /// PostgreSQL: the schema named by the URL's `?schema=` (as Prisma spells it), which
    /// godwit makes the whole `search_path`, so that the schema holds the migrations'
    /// objects, godwit's history table and its lock: one tenant of a schema-per-tenant
    /// database. Taken out of [`Target::url`], kept in [`Target::display`].
    pub schema: Option<String>,
}

impl Target {
    /// The file a SQLite target names (`None` for other databases and in-memory ones).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        if self.dialect != Dialect::Sqlite {
            return None;
        }
        let rest = self.url.strip_prefix("sqlite://")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = query.split('&').any(|pair| pair == "mode=memory");
        (!in_memory && !path.is_empty()).then(|| PathBuf::from(path))
    }

    /// The SQLite file this target names, when it does not exist yet.
    pub fn missing_sqlite_file(&self) -> Option<PathBuf> {
        self.sqlite_file().filter(|file| !file.exists())
    }

    /// This target read as an empty database: an in-memory SQLite one, for the commands
    /// that only read a SQLite file that does not exist yet (see [`Target::missing_sqlite_file`]).
    /// What it prints stays the file's URL.
    pub fn as_empty(&self) -> Target {
        Target {
            url: "sqlite::memory:".to_string(),
            ..self.clone()
        }
    }
}

/// How the migration lock is held: the database's advisory lock, or a row in `godwit_lock`
/// with an expiry (`lock_mode` in godwit.toml; always the lease on SQLite).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    #[default]
    Advisory,
    Lease,
}

/// What connecting to a target needs: the part of the configuration the drivers read,
/// resolved by [`crate::config::Config::connect_settings`]. The drivers see nothing else
/// of godwit.toml.
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    pub target: Target,
    /// Keep retrying an unreachable database for this long (`--wait`).
    pub wait: Option<Duration>,
    /// How long one attempt to connect may take.
    pub connect_timeout: Duration,
    /// godwit.toml's `init_sql`, run on every connection just opened.
    pub init_sql: Vec<String>,
    /// How the migration lock is held, already [`LockMode::Lease`] on SQLite.
    pub lock_mode: LockMode,
    /// The session the folder's tool ran its migrations in.
    pub session: ToolSession,
    /// Whether the work connection goes through the [`meter`]: when godwit.toml declares
    /// any plugin, whose statements could run on it. Without plugins, nothing of the
    /// server's is held back, and godwit's own statements skip the extra hop.
    pub meter: bool,
}

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

/// Connects the work connection and the lock connection, retrying for `--wait`.
pub async fn connect(opts: &ConnectSettings) -> Result<Box<dyn Driver>, DbError> {
    let deadline = opts.wait.map(|w| Instant::now() + w);
    loop {
        let attempt = match opts.target.dialect {
            Dialect::Postgres => postgres::PgDriver::connect(opts)
                .await
                .map(|d| Box::new(d) as Box<dyn Driver>),
            Dialect::MySql => mysql::MySqlDriver::connect(opts)
                .await
                .map(|d| Box::new(d) as Box<dyn Driver>),
            Dialect::Sqlite => sqlite::SqliteDriver::connect(opts)
                .await
                .map(|d| Box::new(d) as Box<dyn Driver>),
        };
        match attempt {
            Ok(driver) => return Ok(driver),
            Err(ConnectError::Unreachable(_)) if deadline.is_some_and(|d| Instant::now() < d) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(ConnectError::Unreachable(message)) => {
                let hint = if opts.wait.is_some() {
                    format!(
                        "; gave up after waiting {}",
                        humantime::format_duration(opts.wait.unwrap_or_default())
                    )
                } else {
                    "; is the server running and reachable? `--wait SECONDS` retries while it starts".to_string()
                };
                return Err(DbError::Connect(format!(
                    "cannot connect to {} ({}): {message}{hint}",
                    opts.target.display, opts.target.origin
                )));
            }
            Err(ConnectError::Refused(message)) => {
                return Err(DbError::Connect(format!(
                    "{} ({}) refused the connection: {message}",
                    opts.target.display, opts.target.origin
                )));
            }
            Err(ConnectError::InitSql(message)) => return Err(DbError::InitSql(message)),
            Err(ConnectError::Local(message)) => {
                return Err(DbError::Connect(format!(
                    "cannot connect to {} ({}): {message}",
                    opts.target.display, opts.target.origin
                )));
            }
            Err(ConnectError::SchemaMissing { schema, database }) => {
                return Err(DbError::SchemaMissing {
                    schema,
                    database,
                    target: opts.target.display.clone(),
                });
            }
        }
    }
}

/// Whether a connection failure is worth retrying.
pub(crate) enum ConnectError {
    Unreachable(String),
    Refused(String),
    /// A statement of godwit.toml's `init_sql` failed: the configuration needs fixing.
    InitSql(String),
    /// PostgreSQL: the URL's `?schema=` names a schema the database does not have.
    SchemaMissing {
        schema: String,
        database: String,
    },
    /// Something on this machine, not the server, kept godwit from opening the connection
    /// (the meter's socket, see [`meter`]): waiting for the server would not help.
    Local(String),
}

/// Runs godwit.toml's `init_sql` on a connection just opened, so that every connection
/// (work, lock, plugin sessions, verify's shadow) has the session the migrations expect.
/// The session a migration's statements run in, as the tool that wrote the folder ran
/// them. It decides what the SQL means: on MySQL/MariaDB, under `PIPES_AS_CONCAT` `a || b`
/// concatenates rather than ORs, under `IGNORE_SPACE` `CREATE TABLE position (…)` is a
/// syntax error; everywhere, the time zone decides what a timestamp literal and `now()`
/// are, and PostgreSQL's `DateStyle` how `01/02/2026` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolSession {
    /// The server's own settings (`sql_mode`, `time_zone`; `TimeZone`, `DateStyle`), as
    /// the database's client, Prisma, Drizzle, Flyway and the Go tools get them; godwit's
    /// own layout too.
    Server,
    /// sqlx-cli's session: UTC; on MySQL `PIPES_AS_CONCAT`, `NO_ENGINE_SUBSTITUTION` and
    /// (through its handshake) `IGNORE_SPACE` added to the server's mode.
    Sqlx,
    /// diesel's: UTC, the server's `sql_mode`.
    Diesel,
}

pub(crate) async fn init_session<DB: sqlx::Database>(
    opts: &ConnectSettings,
    conn: &mut DB::Connection,
) -> Result<(), ConnectError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    for (i, sql) in opts.init_sql.iter().enumerate() {
        if let Err(e) = sqlx::raw_sql(sql).execute(&mut *conn).await {
            return Err(ConnectError::InitSql(format!(
                "init_sql in godwit.toml: statement {} (`{}`) failed on {}: {}",
                i + 1,
                sql.trim(),
                opts.target.display,
                describe_db_error(&e)
            )));
        }
    }
    Ok(())
}

/// Classifies a connect error: network trouble may pass, credentials and names will not.
pub(crate) fn connect_error(target: &Target, err: sqlx::Error) -> ConnectError {
    match &err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            ConnectError::Unreachable(redact(&err.to_string()))
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let hint = match (target.dialect, code.as_str()) {
                (Dialect::Postgres, "28P01" | "28000") | (Dialect::MySql, "28000") => {
                    "\n  check the user name and password in the URL (bad credentials)"
                }
                (Dialect::Postgres, "3D000") | (Dialect::MySql, "42000") => {
                    "\n  the database does not exist yet: create it (e.g. `createdb NAME`, `CREATE DATABASE name`) and try again"
                }
                (Dialect::Postgres, "57P03") => {
                    return ConnectError::Unreachable(describe_db_error(&err));
                }
                _ => "",
            };
            ConnectError::Refused(format!("{}{hint}", describe_db_error(&err)))
        }
        _ => ConnectError::Refused(redact(&err.to_string())),
    }
}

/// Runs a connect future under the configured timeout.
pub(crate) async fn with_connect_timeout<T>(
    opts: &ConnectSettings,
    fut: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, ConnectError> {
    match tokio::time::timeout(opts.connect_timeout, fut).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(connect_error(&opts.target, err)),
        Err(_) => Err(ConnectError::Unreachable(format!(
            "no answer within {} (connect_timeout)",
            humantime::format_duration(opts.connect_timeout)
        ))),
    }
}

/// The meter the work connection goes through (see [`meter`]), connected to `upstream`,
/// when godwit.toml declares plugins that could run statements on it.
pub(crate) async fn work_meter(
    opts: &ConnectSettings,
    protocol: meter::Protocol,
    upstream: meter::Upstream,
    socket: &str,
) -> Result<Option<meter::Meter>, ConnectError> {
    if !opts.meter {
        return Ok(None);
    }
    let server = with_connect_timeout(opts, async {
        meter::connect(&upstream).await.map_err(sqlx::Error::Io)
    })
    .await?;
    meter::Meter::start(protocol, server, socket)
        .map(Some)
        .map_err(|e| ConnectError::Local(e.to_string()))
}

/// Who is deploying, for the `applied_by` column and lock holders: `user@host`. Read
/// once per process: every history row asks.
pub fn whoami() -> String {
    static WHO: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    WHO.get_or_init(|| {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        format!("{user}@{}", hostname())
    })
    .clone()
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

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

/// The first column of each row of [`Session::query_text`], NULLs left out: the names a
/// catalog query lists.
pub(crate) fn first_column(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
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

/// How often [`keep_lock`] asks the session holding an advisory lock whether it is still
/// there.
pub(crate) const SESSION_CHECK_EVERY: Duration = Duration::from_secs(1);

/// [`Lock::keep_alive`] of the PostgreSQL and MySQL drivers, on their lock connection.
///
/// A lease is renewed; one another deployer took is [`DbError::LockLost`]. A session-level
/// lock (PostgreSQL's advisory lock, MySQL's `GET_LOCK`) lives exactly as long as the
/// connection that took it: if the server ended that session (an administrator's
/// `pg_terminate_backend` or `KILL`, a failover, a broken network path), the lock is gone
/// and another deployer may hold it now, so that is [`DbError::LockLost`] too. The session is
/// asked at most once per [`SESSION_CHECK_EVERY`]; `checked` is when it last answered.
pub(crate) async fn keep_lock<DB>(
    mode: LockMode,
    conn: &mut DB::Connection,
    checked: &mut Option<Instant>,
    dialect: Dialect,
    owner: &str,
) -> Result<(), DbError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    if mode == LockMode::Lease {
        let held = lease::renew::<DB>(conn, dialect, owner)
            .await
            .map_err(|e| DbError::db("cannot renew the migration lease", &e))?;
        return if held {
            Ok(())
        } else {
            Err(DbError::LockLost(
                "lost the migration lease to another deployer; stopping".into(),
            ))
        };
    }
    if checked.is_some_and(|at| at.elapsed() < SESSION_CHECK_EVERY) {
        return Ok(());
    }
    execute_raw::<DB>(conn, "SELECT 1").await.map_err(|e| {
        DbError::LockLost(format!(
            "the database session that held the migration lock has ended ({e}); another \
             deployer may hold the lock now, so this one stops here. `godwit status` shows \
             what was applied; `godwit deploy` again goes on from there"
        ))
    })?;
    *checked = Some(Instant::now());
    Ok(())
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

fn rows_affected<DB: Database>(result: &DB::QueryResult) -> u64 {
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

/// A lease row in `godwit_lock`: the SQLite lock, and the PostgreSQL/MySQL lock behind
/// poolers. A heartbeat keeps it alive; an owner on this host whose process is gone is
/// taken over at once instead of after expiry.
pub(crate) mod lease {
    use super::*;

    pub const TTL: Duration = Duration::from_secs(30);

    pub fn owner_token() -> String {
        format!("{}:{}:{}", hostname(), std::process::id(), now_rfc3339())
    }

    pub fn create_sql() -> &'static str {
        "CREATE TABLE IF NOT EXISTS godwit_lock (id INT PRIMARY KEY, owner VARCHAR(255), host VARCHAR(255), pid BIGINT, expires_at BIGINT)"
    }

    pub fn seed_sql(dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Postgres => "INSERT INTO godwit_lock (id) VALUES (1) ON CONFLICT DO NOTHING",
            Dialect::MySql => "INSERT IGNORE INTO godwit_lock (id) VALUES (1)",
            Dialect::Sqlite => "INSERT OR IGNORE INTO godwit_lock (id) VALUES (1)",
        }
    }

    pub fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// Whether the process that owns a lease on this host is still alive.
    pub fn owner_alive(host: &str, pid: i64) -> bool {
        if host != hostname() {
            return true;
        }
        if cfg!(target_os = "linux") {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        } else {
            true
        }
    }

    /// One attempt; `Ok(None)` when acquired.
    pub async fn try_acquire<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> Result<Option<String>, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'r> Option<String>: Decode<'r, DB>,
        for<'r> Option<i64>: Decode<'r, DB>,
        for<'r> String: Decode<'r, DB> + Type<DB>,
        for<'r> i64: Decode<'r, DB>,
        usize: ColumnIndex<DB::Row>,
    {
        match execute_raw::<DB>(conn, create_sql()).await {
            Ok(_) => {}
            // Two deployers creating the table at once collide in PostgreSQL's catalog
            // even with IF NOT EXISTS: the other one won. Depending on timing it surfaces
            // as unique_violation on pg_type (23505), duplicate_table (42P07) or
            // duplicate_object, "type already exists" (42710).
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("23505" | "42P07" | "42710")) =>
            {
                return Ok(Some("another deployer is creating the lease table".into()));
            }
            Err(e) => return Err(e),
        }
        execute_raw::<DB>(conn, seed_sql(dialect)).await?;
        let now = now_ms();
        let expires = now + TTL.as_millis() as i64;
        if claim::<DB>(
            conn,
            dialect,
            "owner IS NULL OR expires_at < ?",
            owner,
            expires,
            Bound::Int(now),
        )
        .await?
        {
            return Ok(None);
        }
        let row = sqlx::query("SELECT owner, host, pid, expires_at FROM godwit_lock WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let (held_by, host, pid, until): (
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
        ) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        let (Some(held_by), Some(host), Some(pid)) = (held_by, host, pid) else {
            return Ok(Some(
                "the lease row changed while we looked; retrying".into(),
            ));
        };
        if !owner_alive(&host, pid)
            && claim::<DB>(
                conn,
                dialect,
                "owner = ?",
                owner,
                expires,
                Bound::Text(held_by),
            )
            .await?
        {
            return Ok(None);
        }
        let left = until.map(|u| (u - now).max(0) / 1000).unwrap_or(0);
        Ok(Some(format!(
            "lease held by process {pid} on {host} (expires in {left}s unless renewed)"
        )))
    }

    enum Bound {
        Int(i64),
        Text(String),
    }

    /// Takes the lease row for `owner` if `condition` (with one `?`, bound last) holds.
    async fn claim<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        condition: &str,
        owner: &str,
        expires: i64,
        bound: Bound,
    ) -> Result<bool, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let sql = format!(
            "UPDATE godwit_lock SET owner = ?, host = ?, pid = ?, expires_at = ? WHERE id = 1 AND ({condition})"
        );
        let sql = placeholders(dialect, &sql);
        let query = sqlx::query(&sql)
            .bind(owner.to_string())
            .bind(hostname())
            .bind(std::process::id() as i64)
            .bind(expires);
        let query = match bound {
            Bound::Int(v) => query.bind(v),
            Bound::Text(v) => query.bind(v),
        };
        let result = query.execute(&mut *conn).await?;
        Ok(rows_affected::<DB>(&result) == 1)
    }

    /// Drives `work` while renewing the lease on the lock connection every third of its
    /// lifetime, so that one long statement cannot outlive the lease.
    pub async fn with_heartbeat<DB, T>(
        work: impl std::future::Future<Output = T>,
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> T
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = tokio::time::sleep(TTL / 3) => {
                    // A failed renewal is noticed by keep_alive() before the next statement.
                    let _ = renew::<DB>(conn, dialect, owner).await;
                }
            }
        }
    }

    /// Extends our lease; `false` when someone else owns it now.
    pub async fn renew<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> Result<bool, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let sql = placeholders(
            dialect,
            "UPDATE godwit_lock SET expires_at = ? WHERE id = 1 AND owner = ?",
        );
        let result = sqlx::query(&sql)
            .bind(now_ms() + TTL.as_millis() as i64)
            .bind(owner.to_string())
            .execute(&mut *conn)
            .await?;
        // MySQL counts changed rows: a renewal within the same millisecond changes nothing.
        Ok(rows_affected::<DB>(&result) == 1
            || dialect == Dialect::MySql && still_owner::<DB>(conn, owner).await?)
    }

    async fn still_owner<DB>(conn: &mut DB::Connection, owner: &str) -> Result<bool, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let rows = sqlx::query("SELECT id FROM godwit_lock WHERE id = 1 AND owner = ?")
            .bind(owner.to_string())
            .fetch_all(&mut *conn)
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn release<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> Result<(), sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let sql = placeholders(
            dialect,
            "UPDATE godwit_lock SET owner = NULL, host = NULL, pid = NULL, expires_at = NULL WHERE id = 1 AND owner = ?",
        );
        sqlx::query(&sql)
            .bind(owner.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
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
