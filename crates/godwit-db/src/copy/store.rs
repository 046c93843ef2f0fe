//! Where copies live: a namespace of godwit's own, never the application's. Each
//! database says where ([`CopyDialect::locate`](crate::relation::CopyDialect::locate)):
//! the schema `godwit_copies` on PostgreSQL, the database `<database>_godwit_copies` on
//! MySQL/MariaDB, a file beside the database attached on godwit's own connection on
//! SQLite (see each `<database>/copy.rs`).
//!
//! When godwit may not create its namespace, nothing is copied, and the run says once
//! what to grant; the whole-database backup is then the only copy.

use std::path::PathBuf;

use super::of;
use crate::error::SqlError;
use crate::relation::{Attach, first};
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::sql::quote;

/// The PostgreSQL schema, and the SQLite attachment's name.
pub const SCHEMA: &str = crate::own::COPIES_SCHEMA;

/// The table recording every copy, inside the store.
pub const RECORDS: &str = "godwit_data_copies";

/// Identifiers are cut at 63 bytes by PostgreSQL and refused past 64 by MySQL.
pub(crate) const MAX_NAME: usize = 63;

/// Where the copies of one application namespace are kept.
#[derive(Debug)]
pub(crate) struct Store {
    pub dialect: Dialect,
    /// The PostgreSQL schema, the MySQL database, or the SQLite attachment's name.
    pub schema: String,
    /// The application's namespace (current schema, database, or `main`): copies made
    /// from one project are never put back into another that shares the store.
    pub namespace: String,
    /// The store is a database of its own, attached as [`SCHEMA`] (SQLite).
    attaches: bool,
    /// The file attached as [`SCHEMA`] (`None` for an in-memory database).
    file: Option<PathBuf>,
    attached: bool,
    /// SQLite: the file did not exist before this run attached it.
    created_file: bool,
    /// Why copies cannot be kept, once that is known.
    unavailable: Option<String>,
}

impl Store {
    /// Finds where the copies of the connected namespace go; changes nothing.
    pub async fn locate(driver: &mut dyn Session) -> Result<Store, SqlError> {
        let dialect = driver.dialect();
        let located = of(dialect).locate(driver).await?;
        Ok(Store {
            dialect,
            schema: located.schema,
            namespace: located.namespace,
            attaches: located.attaches,
            file: located.file,
            attached: false,
            created_file: false,
            unavailable: None,
        })
    }

    /// `schema.name`, quoted.
    pub fn qualified(&self, name: &str) -> String {
        format!(
            "{}.{}",
            quote(self.dialect, &self.schema),
            quote(self.dialect, name)
        )
    }

    /// `schema.name` as people read it.
    pub fn display(&self, name: &str) -> String {
        format!("{}.{name}", self.schema)
    }

    /// Where the store is, for listings.
    pub fn describe(&self) -> String {
        of(self.dialect).describe(&self.schema, self.file.as_deref())
    }

    pub fn records(&self) -> String {
        self.qualified(RECORDS)
    }

    /// Opens a store that is a file of its own (SQLite), creating it when `create`; must
    /// run outside a transaction. Elsewhere nothing to do. Returns whether the store can
    /// be used.
    pub async fn attach(
        &mut self,
        driver: &mut dyn Session,
        create: bool,
    ) -> Result<bool, SqlError> {
        if self.attached {
            return Ok(true);
        }
        match of(self.dialect)
            .attach(driver, self.file.as_deref(), create)
            .await?
        {
            Attach::NotNeeded => Ok(true),
            Attach::Attached { created_file } => {
                self.attached = true;
                self.created_file = created_file;
                Ok(true)
            }
            Attach::Missing => Ok(false),
            Attach::Refused(why) => {
                self.unavailable = Some(why);
                Ok(false)
            }
        }
    }

    /// SQLite: detaches the store; a file this run created and never wrote to is removed.
    pub async fn detach(&mut self, driver: &mut dyn Session) -> Result<(), SqlError> {
        if !self.attached {
            return Ok(());
        }
        let empty = if self.created_file {
            self.table_names(driver).await?.is_empty()
        } else {
            false
        };
        of(self.dialect).detach(driver).await?;
        self.attached = false;
        if empty && let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
            self.created_file = false;
        }
        Ok(())
    }

    async fn table_names(&self, driver: &mut dyn Session) -> Result<Vec<String>, SqlError> {
        let sql = of(self.dialect).store_tables_sql(&self.schema);
        Ok(crate::raw::first_column(driver.query_text(&sql).await?))
    }

    /// Whether the store and its records exist and can be read; creates nothing.
    pub async fn exists(&mut self, driver: &mut dyn Session) -> Result<bool, SqlError> {
        if !self.attach(driver, false).await? {
            return Ok(false);
        }
        let sql = of(self.dialect).store_exists_sql(&self.schema, RECORDS);
        Ok(matches!(
            first(driver, &sql).await?.as_deref(),
            Some("true" | "1")
        ))
    }

    /// Makes sure the store and its records table exist, creating them if godwit may.
    /// `Err(reason)` inside `Ok` when it may not: copies are then not made. Cheap enough
    /// to run before every copy, which matters because on PostgreSQL and SQLite a
    /// rolled-back migration takes a store it created with it.
    pub async fn ensure(
        &mut self,
        driver: &mut dyn Session,
    ) -> Result<Result<(), String>, SqlError> {
        if let Some(reason) = &self.unavailable {
            return Ok(Err(reason.clone()));
        }
        let ready = if self.attaches && !self.attached {
            Err(self
                .unavailable
                .clone()
                .unwrap_or_else(|| "the copies file is not attached".to_string()))
        } else {
            of(self.dialect)
                .ensure_store(driver, &self.schema, &records_ddl(self))
                .await?
        };
        if let Err(reason) = &ready {
            self.unavailable = Some(reason.clone());
            return Ok(ready);
        }
        driver.execute(&records_ddl(self)).await?;
        Ok(Ok(()))
    }
}

fn records_ddl(store: &Store) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (
            copy_table VARCHAR(64) NOT NULL PRIMARY KEY,
            namespace VARCHAR(255) NOT NULL,
            version VARCHAR(255) NOT NULL,
            statement_index INT NOT NULL,
            ordinal INT NOT NULL,
            kind VARCHAR(16) NOT NULL,
            source_schema VARCHAR(255),
            source_table VARCHAR(255) NOT NULL,
            source_column VARCHAR(255),
            key_columns TEXT,
            converted TEXT,
            rows_copied BIGINT NOT NULL,
            created_at VARCHAR(40) NOT NULL,
            state VARCHAR(16) NOT NULL,
            state_at VARCHAR(40),
            note TEXT
        )",
        store.records()
    )
}
