//! What the copies of dropped data (`crate::copy`) need of a database: a table as the
//! catalog spells it ([`Table`]), its columns as a copy keeps them ([`Column`]), and the
//! [`CopyDialect`] each database implements in its `<database>/copy.rs`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::error::SqlError;
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::analyze::destroys::Name;
use godwit_core::sql::quote;

/// A table name as the catalog spells it, ready to quote.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub schema: Option<String>,
    pub name: String,
}

impl Table {
    pub fn from_name(dialect: Dialect, name: &Name) -> Table {
        Table {
            schema: name.schema.as_ref().map(|s| s.catalog(dialect)),
            name: name.table.catalog(dialect),
        }
    }

    pub fn sql(&self, dialect: Dialect) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(dialect, s), quote(dialect, &self.name)),
            None => quote(dialect, &self.name),
        }
    }

    pub fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// How a column's values are kept in a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// As they are: a built-in type, which nothing the application drops can take away.
    AsIs,
    /// A domain over a built-in type, kept as that type.
    Base(String),
    /// An enum, composite, range, an extension's type or an array of those: kept as
    /// their text form, which every PostgreSQL type has, and cast back on the way home.
    Text,
}

#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub name: String,
    /// Computed by the database: never written back.
    pub generated: bool,
    /// The type as `format_type` spells it (PostgreSQL), or the declared type.
    pub type_name: String,
    pub stored: Stored,
    /// PostgreSQL: the column's collation is one the application created, which a copy
    /// must not keep (it would stop a `DROP COLLATION`).
    pub own_collation: bool,
}

impl Column {
    /// The select-list entry that copies this column without depending on anything of
    /// the application's.
    pub fn copied(&self, dialect: Dialect) -> String {
        let q = quote(dialect, &self.name);
        let value = match &self.stored {
            Stored::AsIs => q.clone(),
            Stored::Base(base) => format!("CAST({q} AS {base})"),
            Stored::Text => format!("CAST({q} AS text)"),
        };
        let value = if self.own_collation {
            format!("{value} COLLATE pg_catalog.\"default\"")
        } else {
            value
        };
        if value == q {
            q
        } else {
            format!("{value} AS {q}")
        }
    }
}

/// Where a database keeps the copies of one application namespace.
#[derive(Debug)]
pub(crate) struct Located {
    /// The PostgreSQL schema, the MySQL database, or the SQLite attachment's name.
    pub schema: String,
    /// The application's namespace (current schema, database, or `main`).
    pub namespace: String,
    /// The store is a database of its own that godwit's connection attaches (SQLite).
    pub attaches: bool,
    /// The file attached (`None` for an in-memory database).
    pub file: Option<PathBuf>,
}

/// What [`CopyDialect::attach`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Attach {
    /// The store is a schema or database of the server: nothing to attach.
    NotNeeded,
    /// Attached; `created_file` when the file did not exist before.
    Attached { created_file: bool },
    /// The file does not exist, and was not to be created.
    Missing,
    /// The database refused to open it, with why.
    Refused(String),
}

/// How one database keeps, reads and puts back the copies of dropped data, where
/// databases differ; `crate::copy` does the rest.
#[async_trait(?Send)]
pub(crate) trait CopyDialect: Sync {
    /// Counts the tables besides godwit's own that the database holds.
    fn has_tables_sql(&self) -> &'static str;
    /// The columns of `table` in order; empty when the table does not exist.
    async fn columns(
        &self,
        driver: &mut dyn Session,
        table: &Table,
    ) -> Result<Vec<Column>, SqlError>;
    /// The primary key's columns of `table`, in order, one per row.
    fn primary_key_sql(&self, table: &Table) -> String;
    /// The tables of the current namespace, as `(schema, table)` rows.
    fn tables_sql(&self) -> &'static str;
    /// Whether the catalog's names compare without regard to case (SQLite).
    fn folds_case(&self) -> bool;
    /// `column` read as text.
    fn as_text(&self, column: &str) -> String;
    /// The size on disk of each table in the store `schema`, as `(table, bytes)` rows;
    /// `None` when the database cannot tell.
    async fn sizes(
        &self,
        driver: &mut dyn Session,
        schema: &str,
    ) -> Result<Option<Vec<Vec<Option<String>>>>, SqlError>;

    /// Where the connected namespace's copies go; changes nothing.
    async fn locate(&self, driver: &mut dyn Session) -> Result<Located, SqlError>;
    /// Where the store is, for listings.
    fn describe(&self, schema: &str, file: Option<&Path>) -> String;
    /// Opens a store that is a file of its own on godwit's connection (SQLite), creating
    /// the file when `create`; must run outside a transaction. A store on the server
    /// needs nothing.
    async fn attach(
        &self,
        _driver: &mut dyn Session,
        _file: Option<&Path>,
        _create: bool,
    ) -> Result<Attach, SqlError> {
        Ok(Attach::NotNeeded)
    }
    /// Closes what [`CopyDialect::attach`] opened.
    async fn detach(&self, _driver: &mut dyn Session) -> Result<(), SqlError> {
        Ok(())
    }
    /// The names of the store's tables, one per row.
    fn store_tables_sql(&self, schema: &str) -> String;
    /// Whether the store and its `records` table exist and can be read: `true` or `1`.
    fn store_exists_sql(&self, schema: &str, records: &str) -> String;
    /// Makes sure the store exists, creating it if godwit may (a file the database
    /// attaches is attached by `crate::copy` before this); `Err(reason)` inside `Ok`
    /// when it may not. `records_ddl` creates the table of records inside it.
    async fn ensure_store(
        &self,
        driver: &mut dyn Session,
        schema: &str,
        records_ddl: &str,
    ) -> Result<Result<(), String>, SqlError>;
    /// After a copy (or the store) is created: takes back what the database handed to
    /// others than its owner by default (PostgreSQL's default privileges). Where a new
    /// table is its owner's alone, nothing.
    async fn keep_private(
        &self,
        _driver: &mut dyn Session,
        _kind: &str,
        _object: &str,
    ) -> Result<(), SqlError> {
        Ok(())
    }

    /// Whether a column put back is cast to its type when down.sql re-created it with
    /// another type than the copy's (PostgreSQL assigns no text to an integer).
    fn casts_retyped_columns(&self) -> bool;
    /// What follows the column list of the `INSERT` that puts a table back, so that
    /// identity columns take their old values too.
    fn insert_overriding(&self) -> &'static str;
    /// The `UPDATE` that puts a column back from copy `c` into table `t`, joined `on`.
    fn update_from_copy(
        &self,
        target: &str,
        copy: &str,
        column: &str,
        set: &str,
        on: &str,
    ) -> String;
    /// Whether a put back inside the down's transaction can be undone alone, with a
    /// savepoint (not where DDL has committed the transaction already).
    fn savepoints(&self) -> bool;
    /// After rows went back into `table`: what the database needs so that the next
    /// insert does not collide with them (PostgreSQL's sequences); elsewhere nothing.
    async fn after_put_back(
        &self,
        _driver: &mut dyn Session,
        _table: &Table,
        _columns: &[String],
    ) -> Result<(), SqlError> {
        Ok(())
    }
}

/// The first column of the first row.
pub(crate) async fn first(driver: &mut dyn Session, sql: &str) -> Result<Option<String>, SqlError> {
    Ok(driver
        .query_text(sql)
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}
