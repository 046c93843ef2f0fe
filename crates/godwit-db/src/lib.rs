//! godwit's database drivers: what a database backend provides, one narrow trait per
//! concern:
//!
//! - [`Lock`]: the migration lock (take, keep alive, release);
//! - [`HistoryStore`]: godwit's history table;
//! - [`Session`]: running statements for the host and plugins: transactions, bound
//!   values, capped results, timeouts, and confining a plugin's statements;
//! - [`Introspect`]: the schema as the database has it;
//! - [`Admin`]: dropping everything (`reset`);
//! - [`Driver`]: all of them, plus what only the migration runner uses.
//!
//! godwit's run algorithm (the host's `migrator`) is written once against [`Driver`];
//! code that needs only a part (schema introspection, the plugin session, health checks)
//! takes only that part. Each backend file says how its database does these things, one
//! `impl` block per trait. Every driver holds the migration lock on a connection of its
//! own that never enters a transaction, so a `CREATE INDEX CONCURRENTLY` on the work
//! connection cannot wait on our own lock.
//!
//! The crate sees nothing of godwit.toml but [`ConnectSettings`], nothing of plugins but
//! the [`Scope`] their statements are confined to, and fails with its own [`DbError`].
//!
//! Beside the drivers, what else each database is sent, so that adding a database is
//! this crate's work: whole-database dumps and restores ([`dump`]), the copies of the
//! data a migration drops ([`copy`]), scratch databases for shadows ([`shadow`]), a
//! backfill's batches, checkpoints and leases ([`backfill`]), and a replica's lag and a
//! primary's standbys ([`Replica`], [`standbys`]).

pub mod backfill;
mod cap;
mod confine;
pub mod copy;
pub mod dump;
mod error;
pub mod foreign;
mod history;
pub(crate) mod introspect;
mod lock;
pub mod meter;
pub mod mysql;
mod own;
pub mod postgres;
mod raw;
pub mod redact;
mod relation;
mod replica;
mod settings;
pub mod shadow;
pub mod sqlite;
mod tools;
mod traits;
mod values;

pub use cap::{ResultCap, ResultTooLarge};
pub use confine::{Confined, Enforcement, Scope, ScopeRole, plugin_quoting_sql};
pub use error::{
    DbError, Described, ReplicaError, RoleProblem, SqlError, SqlErrorKind, describe_db_error,
};
pub use history::{new_row, now_rfc3339};
pub use raw::first_column;
pub use replica::{Replica, Standby, standbys};
pub use settings::{ConnectSettings, LockMode, Target, ToolSession, hostname, whoami};
pub use traits::{
    Admin, CANCEL_RESEND, Driver, HistoryStore, Introspect, Lock, MakeRow, OPEN_ROW, Session,
    Timeouts, TransactionError,
};

use std::time::{Duration, Instant};

use godwit_core::Dialect;

use settings::ConnectError;

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
