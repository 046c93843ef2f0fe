//! Whole-database dumps and restores with each database's own means, for the engine's
//! backups (`godwit_engine::backup`, which names, keeps and checks the files):
//!
//! - PostgreSQL: `pg_dump --format=custom`; restored in one transaction (`psql
//!   --single-transaction`) after emptying the schemas, so a failed restore changes
//!   nothing and a successful one leaves exactly what was dumped
//!   ([`crate::postgres`]'s `dump.rs`).
//! - MySQL/MariaDB: `mariadb-dump` (or `mysqldump`); restored with the `mariadb` (or
//!   `mysql`) client after dropping everything in the database. MySQL cannot do DDL in a
//!   transaction, so this restore is not atomic.
//! - SQLite: `VACUUM INTO`; restored inside one write transaction on godwit's own
//!   connection, never by copying files over a database others may have open.
//!
//! Every object and row godwit can reach is dumped, the history table included, except
//! the migration lock table ([`LOCK_TABLE`]), which belongs to whoever runs now, and the
//! copies of dropped data ([`COPIES_SCHEMA`]), which outlive a restore.

use std::path::Path;

use godwit_core::Dialect;

pub use crate::error::DumpError;
pub use crate::own::{COPIES_SCHEMA, LOCK_TABLE};
use crate::settings::Target;
use crate::traits::Driver;

/// Dumps `target`'s database (its schema, for a tenant's `?schema=`) into `file`, and
/// returns what made the dump (the tool's version line). The caller holds the migration
/// lock; `driver`, connected to the same database, keeps a lease alive meanwhile.
pub async fn dump(
    target: &Target,
    driver: &mut dyn Driver,
    file: &Path,
) -> Result<String, DumpError> {
    match target.dialect {
        Dialect::Postgres => crate::postgres::dump::dump(target, driver, file).await,
        Dialect::MySql => crate::mysql::dump::dump(target, driver, file).await,
        Dialect::Sqlite => crate::sqlite::dump::dump(driver, file).await,
    }
}

/// Puts `target`'s database back as `file` (a [`dump`] of it) holds it.
pub async fn restore(
    target: &Target,
    driver: &mut dyn Driver,
    file: &Path,
) -> Result<(), DumpError> {
    match target.dialect {
        Dialect::Postgres => crate::postgres::dump::restore(target, driver, file).await,
        Dialect::MySql => crate::mysql::dump::restore(target, driver, file).await,
        Dialect::Sqlite => crate::sqlite::dump::restore(driver, file).await,
    }
}
