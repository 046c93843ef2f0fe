//! The other migration tools godwit knows: where each keeps its history table, and such
//! a table found in a database. `godwit adopt` reads them (godwit-db has the SQL,
//! `godwit_db::foreign`); deploy refuses to run over one that godwit has not adopted.

use serde::Serialize;

use crate::Dialect;

/// A tool whose history table godwit can read. With the `clap` feature, also a
/// command-line value (`adopt --from prisma`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Prisma,
    Drizzle,
    Sqlx,
    Flyway,
    Goose,
    Dbmate,
    GolangMigrate,
    Diesel,
    /// ory/popx (Kratos, Hydra, Keto).
    Popx,
}

impl Tool {
    /// The tool refuses to go on when an applied migration's file changed since (Flyway's
    /// validate on migrate, sqlx's `migrate run`); Prisma's `migrate deploy` and Drizzle's
    /// migrator do not look.
    pub fn refuses_changed_files(self) -> bool {
        matches!(self, Tool::Flyway | Tool::Sqlx)
    }

    /// Every tool, in the order `adopt` looks for their tables.
    pub const ALL: [Tool; 9] = [
        Tool::Prisma,
        Tool::Drizzle,
        Tool::Sqlx,
        Tool::Flyway,
        Tool::Goose,
        Tool::Dbmate,
        Tool::GolangMigrate,
        Tool::Diesel,
        Tool::Popx,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Prisma => "prisma",
            Tool::Drizzle => "drizzle",
            Tool::Sqlx => "sqlx",
            Tool::Flyway => "flyway",
            Tool::Goose => "goose",
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Diesel => "diesel",
            Tool::Popx => "popx",
        }
    }

    /// The history table, as it is named in `dialect`.
    pub fn table(self, dialect: Dialect) -> &'static str {
        match self {
            Tool::Prisma => "_prisma_migrations",
            Tool::Drizzle if dialect == Dialect::Postgres => "drizzle.__drizzle_migrations",
            Tool::Drizzle => "__drizzle_migrations",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Flyway => "flyway_schema_history",
            Tool::Goose => "goose_db_version",
            Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
            Tool::Diesel => "__diesel_schema_migrations",
            Tool::Popx => "schema_migration",
        }
    }
}

/// The tools that keep their history in `table` (named as the statement analyser names
/// tables: unquoted, without its schema), as `golang-migrate or dbmate`.
pub fn history_table_owners(table: &str, dialect: Dialect) -> Option<String> {
    let owners: Vec<&str> = Tool::ALL
        .into_iter()
        .filter(|t| t.table(dialect).rsplit('.').next() == Some(table))
        .map(Tool::name)
        .collect();
    (!owners.is_empty()).then(|| owners.join(" or "))
}

/// Another tool's history table found in a database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtherHistory {
    pub tool: Tool,
    pub table: String,
    pub rows: i64,
}
