//! Where and how to connect: the target, the settings the host resolves from godwit.toml,
//! the session a folder's tool ran its migrations in, and what a failed attempt means.

use std::path::PathBuf;
use std::time::Duration;

use godwit_core::Dialect;

use crate::error::describe_db_error;
use crate::meter;
use crate::redact::redact;

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
/// resolved by the host's `Config::connect_settings`. The drivers see nothing else
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

/// Runs godwit.toml's `init_sql` on a connection just opened, so that every connection
/// (work, lock, plugin sessions, verify's shadow) has the session the migrations expect.
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
