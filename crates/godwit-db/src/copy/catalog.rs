//! What the catalog says about a table: its columns, how each is stored in a copy, its
//! primary key.

use crate::error::SqlError;
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::analyze::destroys::Name;
use godwit_core::sql::{literal, quote};

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

    /// A `WHERE` fragment selecting this table's schema in information_schema.
    fn schema_filter(&self, dialect: Dialect, column: &str) -> String {
        let current = match dialect {
            Dialect::Postgres => "current_schema()".to_string(),
            _ => "DATABASE()".to_string(),
        };
        let schema = self
            .schema
            .as_ref()
            .map(|s| literal(dialect, s))
            .unwrap_or(current);
        format!("{column} = {schema}")
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

/// Columns of `table` in order; empty when the table does not exist.
pub(crate) async fn columns(
    driver: &mut dyn Session,
    table: &Table,
) -> Result<Vec<Column>, SqlError> {
    let d = driver.dialect();
    if d == Dialect::Postgres {
        return postgres_columns(driver, table).await;
    }
    let sql = match d {
        Dialect::MySql => format!(
            "SELECT CONVERT(COLUMN_NAME USING utf8mb4), CONVERT(EXTRA USING utf8mb4), CONVERT(COLUMN_TYPE USING utf8mb4) \
             FROM information_schema.COLUMNS WHERE {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            table.schema_filter(d, "TABLE_SCHEMA"),
            literal(d, &table.name)
        ),
        _ => format!(
            "SELECT name, CAST(hidden AS TEXT), type FROM pragma_table_xinfo({}, {}) ORDER BY cid",
            literal(d, &table.name),
            literal(d, table.schema.as_deref().unwrap_or("main"))
        ),
    };
    let rows = driver.query_text(&sql).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name = r.first().cloned().flatten()?;
            let extra = r.get(1).cloned().flatten().unwrap_or_default();
            let generated = match d {
                Dialect::MySql => extra.to_ascii_uppercase().contains("GENERATED"),
                _ => extra != "0",
            };
            Some(Column {
                name,
                generated,
                type_name: r.get(2).cloned().flatten().unwrap_or_default(),
                stored: Stored::AsIs,
                own_collation: false,
            })
        })
        .collect())
}

/// PostgreSQL keeps dependencies: a copy with a column of an application's type would
/// stop a later `DROP TYPE`, `DROP DOMAIN` or `DROP EXTENSION`. Only types of
/// `pg_catalog` that no extension owns are kept as they are.
async fn postgres_columns(
    driver: &mut dyn Session,
    table: &Table,
) -> Result<Vec<Column>, SqlError> {
    let d = Dialect::Postgres;
    let builtin = |oid: &str| {
        format!(
            "(SELECT bt.typnamespace = 'pg_catalog'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend e \
             WHERE e.classid = 'pg_type'::regclass AND e.objid = bt.oid AND e.deptype = 'e') FROM pg_type bt WHERE bt.oid = {oid})"
        )
    };
    let sql = format!(
        "SELECT a.attname::text, CAST(a.attgenerated <> '' AS text), format_type(a.atttypid, a.atttypmod), \
         CASE WHEN {own} AND (t.typelem = 0 OR t.typcategory <> 'A' OR {elem}) THEN 'as-is' \
              WHEN t.typtype = 'd' AND {base} THEN 'base' ELSE 'text' END, \
         CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END, \
         CAST(coalesce(co.collnamespace <> 'pg_catalog'::regnamespace, false) AS text) \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE a.attrelid = to_regclass({rel}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        own = builtin("t.oid"),
        elem = builtin("t.typelem"),
        base = builtin("t.typbasetype"),
        rel = literal(d, &table.sql(d)),
    );
    let rows = driver.query_text(&sql).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let name = r.first().cloned().flatten()?;
            let stored = match text(3).as_str() {
                "as-is" => Stored::AsIs,
                "base" => Stored::Base(text(4)),
                _ => Stored::Text,
            };
            Some(Column {
                name,
                generated: text(1) == "true",
                type_name: text(2),
                stored,
                own_collation: text(5) == "true",
            })
        })
        .collect())
}

pub(crate) async fn primary_key(
    driver: &mut dyn Session,
    table: &Table,
) -> Result<Vec<String>, SqlError> {
    let d = driver.dialect();
    let sql = match d {
        Dialect::Postgres => format!(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = to_regclass({}) AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            literal(d, &table.sql(d))
        ),
        Dialect::MySql => format!(
            "SELECT CONVERT(COLUMN_NAME USING utf8mb4) FROM information_schema.KEY_COLUMN_USAGE \
             WHERE {} AND TABLE_NAME = {} AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            table.schema_filter(d, "TABLE_SCHEMA"),
            literal(d, &table.name)
        ),
        Dialect::Sqlite => format!(
            "SELECT name FROM pragma_table_info({}, {}) WHERE pk > 0 ORDER BY pk",
            literal(d, &table.name),
            literal(d, table.schema.as_deref().unwrap_or("main"))
        ),
    };
    Ok(crate::raw::first_column(driver.query_text(&sql).await?))
}

/// Whether the table holds at least one row: an empty table's drop destroys nothing.
pub(crate) async fn has_rows(driver: &mut dyn Session, table: &Table) -> Result<bool, SqlError> {
    let d = driver.dialect();
    Ok(driver
        .query_i64(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) AS any_row",
            table.sql(d)
        ))
        .await?
        .unwrap_or(0)
        > 0)
}

/// The tables of the current namespace, and the columns of `tables`, as they are now.
pub(crate) async fn snapshot(
    driver: &mut dyn Session,
    names: &super::created::Names,
    tables: &[Name],
) -> Result<super::created::Existing, SqlError> {
    let d = driver.dialect();
    let sql = match d {
        Dialect::Postgres => {
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
                              WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                .to_string()
        }
        Dialect::MySql => {
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4) \
                           FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                .to_string()
        }
        Dialect::Sqlite => {
            "SELECT 'main', lower(name) FROM sqlite_master WHERE type = 'table'".to_string()
        }
    };
    let mut existing = super::created::Existing::default();
    for row in driver.query_text(&sql).await? {
        if let [Some(schema), Some(table)] = row.as_slice() {
            existing.tables.insert((schema.clone(), table.clone()));
        }
    }
    for name in tables {
        let key = names.key(name);
        for column in columns(driver, &Table::from_name(d, name)).await? {
            let column = if d == Dialect::Sqlite {
                column.name.to_ascii_lowercase()
            } else {
                column.name
            };
            existing.columns.insert((key.clone(), column));
        }
    }
    Ok(existing)
}
