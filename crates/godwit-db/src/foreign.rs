//! Other migration tools' history tables, as `godwit adopt` reads them: whether each is
//! there and how many rows it holds, and its rows as text, in the columns the engine's
//! adopt expects of each tool.

use godwit_core::Dialect;
use godwit_core::foreign::Tool;

/// Counts the rows of `tool`'s history table; fails as an undefined table (or schema)
/// where it has none.
pub fn count_sql(tool: Tool, dialect: Dialect) -> String {
    format!("SELECT count(*) FROM {}", tool.table(dialect))
}

/// Succeeds only on golang-migrate's `schema_migrations`, which has a `dirty` column;
/// dbmate's, of the same name, has none.
pub fn golang_migrate_probe_sql(dialect: Dialect) -> String {
    format!(
        "SELECT count(dirty) FROM {}",
        Tool::GolangMigrate.table(dialect)
    )
}

/// `tool`'s history rows, every column as text, oldest first where the table says:
/// - Prisma: migration name, checksum, finished at, rolled back at;
/// - Drizzle: created at, hash;
/// - sqlx: version, success, checksum in lowercase hex;
/// - Flyway: version, description, checksum, success, type;
/// - goose: version, is applied;
/// - dbmate, diesel, popx: version;
/// - golang-migrate: version, dirty.
pub fn rows_sql(tool: Tool, dialect: Dialect) -> String {
    let table = tool.table(dialect);
    let t = |e: &str| text(dialect, e);
    match tool {
        Tool::Prisma => format!(
            "SELECT migration_name, checksum, {}, {} FROM {table} ORDER BY started_at",
            t("finished_at"),
            t("rolled_back_at")
        ),
        Tool::Drizzle => format!(
            "SELECT {}, hash FROM {table} ORDER BY created_at",
            t("created_at")
        ),
        Tool::Sqlx => format!(
            "SELECT {}, {}, {} FROM {table} ORDER BY version",
            t("version"),
            t("success"),
            hex(dialect, "checksum")
        ),
        Tool::Flyway => format!(
            "SELECT {}, description, {}, {}, type FROM {table} ORDER BY installed_rank",
            t("version"),
            t("checksum"),
            t("success")
        ),
        Tool::Goose => format!(
            "SELECT {}, {} FROM {table} ORDER BY id",
            t("version_id"),
            t("is_applied")
        ),
        Tool::Dbmate => format!("SELECT {} FROM {table}", t("version")),
        Tool::GolangMigrate => format!("SELECT {}, {} FROM {table}", t("version"), t("dirty")),
        Tool::Diesel | Tool::Popx => format!("SELECT {} FROM {table}", t("version")),
    }
}

fn text(dialect: Dialect, expr: &str) -> String {
    match dialect {
        Dialect::MySql => format!("CAST({expr} AS CHAR)"),
        _ => format!("CAST({expr} AS TEXT)"),
    }
}

fn hex(dialect: Dialect, expr: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("encode({expr}, 'hex')"),
        _ => format!("lower(hex({expr}))"),
    }
}
