//! Scratch databases on the target's server, made for a while and dropped after: the
//! shadow databases `verify` and `diff --check` apply migrations to. The engine names them
//! and decides when they go; what each server is told is here, beside its driver
//! (`postgres/shadow.rs`, `mysql/shadow.rs`). SQLite has no server: its shadow is a file
//! of its own, and these refuse it.

use godwit_core::Dialect;

use crate::error::SqlError;
use crate::traits::Session;

/// Creates the empty database `name` on the server `session` is connected to, like the
/// database it is connected to. Returns the SQL to run first in the new database, if the
/// migrations need something there before they start (PostgreSQL: the schema a
/// `search_path` names, other than `public`). `name` must need no quoting.
pub async fn create_database(
    session: &mut dyn Session,
    name: &str,
) -> Result<Option<String>, SqlError> {
    match session.dialect() {
        Dialect::Postgres => crate::postgres::shadow::create(session, name).await,
        Dialect::MySql => crate::mysql::shadow::create(session, name).await,
        Dialect::Sqlite => Err(no_server()),
    }
}

/// Drops the database `name` (if it is there), ending the connections to it that linger
/// where the server can.
pub async fn drop_database(session: &mut dyn Session, name: &str) -> Result<(), SqlError> {
    match session.dialect() {
        Dialect::Postgres => crate::postgres::shadow::drop(session, name).await,
        Dialect::MySql => crate::mysql::shadow::drop(session, name).await,
        Dialect::Sqlite => Err(no_server()),
    }
}

fn no_server() -> SqlError {
    SqlError::from(sqlx::Error::InvalidArgument(
        "SQLite has no server to create a database on: a SQLite shadow is a file of its own".into(),
    ))
}
