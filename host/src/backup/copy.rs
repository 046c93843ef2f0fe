//! Copies of exactly the data a destructive statement destroys, kept in the database.
//!
//! Before a deploy runs `DROP TABLE t` it copies `t` into `godwit_backup_<version>_<n>`
//! (`n` is the statement's number in the file); before `ALTER TABLE t DROP COLUMN c` it
//! copies `t`'s primary key and `c`. On PostgreSQL and SQLite the copy is made in the
//! migration's own transaction, so it exists exactly when the drop happened. Each copy is
//! recorded in `godwit_data_copies`. When `godwit down` reverts that migration and its
//! down.sql has re-created the table or column, the data is put back (rows inserted, or
//! the column updated by primary key) and the copy dropped; otherwise the copy stays and
//! the run says so.
//!
//! A dropped column of a table without a primary key is not copied: its values could not
//! be matched back to their rows, and a restore that may give rows each other's values is
//! worse than none. The run says so, and the whole-database backup still has them.

use serde::Serialize;

use super::{Destroys, Name, literal, quote};
use crate::Dialect;
use crate::driver::{Driver, now_rfc3339};

/// The table recording every copy.
pub const TABLE: &str = "godwit_data_copies";

/// What happened to one piece of data a statement destroys or a revert restores.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Copied before the statement ran.
    Copied {
        source: String,
        copy_table: String,
        rows: i64,
    },
    /// Not copied; the reason says why and what protects the data instead.
    NotCopied { source: String, reason: String },
    /// Put back after down.sql re-created it; the copy is dropped.
    Restored {
        source: String,
        copy_table: String,
        rows: i64,
    },
    /// down.sql did not re-create it, so the copy stays.
    Kept {
        source: String,
        copy_table: String,
        reason: String,
    },
}

/// The statements' drops whose data is copied (truncates and deletes are left to the
/// whole-database backup: copying every deleted row would double a purge's work).
pub fn copied(sql: &str) -> Vec<Destroys> {
    super::destroys(sql)
        .into_iter()
        .filter(|d| matches!(d, Destroys::Table(_) | Destroys::Column(..)))
        .collect()
}

/// A table name as the catalog spells it, ready to quote.
#[derive(Clone, Debug)]
struct Table {
    schema: Option<String>,
    name: String,
}

impl Table {
    fn from_name(dialect: Dialect, name: &Name) -> Table {
        Table {
            schema: name.schema.as_ref().map(|s| s.catalog(dialect)),
            name: name.table.catalog(dialect),
        }
    }

    fn sql(&self, dialect: Dialect) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(dialect, s), quote(dialect, &self.name)),
            None => quote(dialect, &self.name),
        }
    }

    fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// A `WHERE` fragment selecting this table in information_schema.
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

pub async fn ensure_table(driver: &mut dyn Driver) -> Result<(), sqlx::Error> {
    driver
        .execute(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                copy_table VARCHAR(128) NOT NULL,
                created_at VARCHAR(40) NOT NULL,
                version VARCHAR(64) NOT NULL,
                statement_index INT NOT NULL,
                kind VARCHAR(16) NOT NULL,
                source_schema VARCHAR(255),
                source_table VARCHAR(255) NOT NULL,
                source_column VARCHAR(255),
                key_columns TEXT,
                rows_copied BIGINT NOT NULL,
                restored_at VARCHAR(40),
                PRIMARY KEY (copy_table, created_at)
            )"
        ))
        .await
        .map(drop)
}

/// Columns of `table` in order, each with whether a value can be inserted into it.
async fn columns(
    driver: &mut dyn Driver,
    table: &Table,
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let d = driver.dialect();
    let sql = match d {
        Dialect::Postgres => format!(
            "SELECT column_name::text, is_generated::text FROM information_schema.columns \
             WHERE {} AND table_name = {} ORDER BY ordinal_position",
            table.schema_filter(d, "table_schema"),
            literal(d, &table.name)
        ),
        Dialect::MySql => format!(
            "SELECT CONVERT(COLUMN_NAME USING utf8mb4), CONVERT(EXTRA USING utf8mb4) FROM information_schema.COLUMNS \
             WHERE {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            table.schema_filter(d, "TABLE_SCHEMA"),
            literal(d, &table.name)
        ),
        Dialect::Sqlite => format!(
            "SELECT name, CAST(hidden AS TEXT) FROM pragma_table_xinfo({}, {}) ORDER BY cid",
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
                Dialect::Postgres => extra == "ALWAYS",
                Dialect::MySql => extra.to_ascii_uppercase().contains("GENERATED"),
                Dialect::Sqlite => extra != "0",
            };
            Some((name, !generated))
        })
        .collect())
}

async fn primary_key(driver: &mut dyn Driver, table: &Table) -> Result<Vec<String>, sqlx::Error> {
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
    Ok(driver
        .query_text(&sql)
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

async fn exists(driver: &mut dyn Driver, table: &Table) -> Result<bool, sqlx::Error> {
    Ok(!columns(driver, table).await?.is_empty())
}

/// Whether the table a statement names exists now.
pub async fn table_exists(driver: &mut dyn Driver, name: &Name) -> Result<bool, sqlx::Error> {
    let table = Table::from_name(driver.dialect(), name);
    exists(driver, &table).await
}

/// Copies what `what` (statement `statement` of migration `version`, its `ordinal`-th
/// drop) is about to destroy. `None` when there is nothing to destroy (`IF EXISTS`).
pub async fn take(
    driver: &mut dyn Driver,
    version: &str,
    statement: usize,
    ordinal: usize,
    what: &Destroys,
) -> Result<Option<Outcome>, sqlx::Error> {
    let d = driver.dialect();
    let (table, column) = match what {
        Destroys::Table(n) => (Table::from_name(d, n), None),
        Destroys::Column(n, c) => (Table::from_name(d, n), Some(c.catalog(d))),
        _ => return Ok(None),
    };
    let cols = columns(driver, &table).await?;
    if cols.is_empty() {
        return Ok(None);
    }
    let source = match &column {
        Some(c) => format!("{}.{c}", table.display()),
        None => table.display(),
    };
    let (kind, select, keys) = match &column {
        None => ("table", "*".to_string(), Vec::new()),
        Some(c) => {
            if !cols.iter().any(|(name, _)| name == c) {
                return Ok(None);
            }
            let keys = primary_key(driver, &table).await?;
            let refuse = |reason: &str| {
                Ok(Some(Outcome::NotCopied {
                    source: source.clone(),
                    reason: reason.to_string(),
                }))
            };
            if keys.is_empty() {
                return refuse(
                    "the table has no primary key, so the values could not be matched back to their rows; only the whole-database backup has them",
                );
            }
            if keys.contains(c) {
                return refuse(
                    "the column is part of the primary key; only the whole-database backup has its values",
                );
            }
            let list: Vec<String> = keys
                .iter()
                .chain(std::iter::once(c))
                .map(|k| quote(d, k))
                .collect();
            ("column", list.join(", "), keys)
        }
    };
    let copy_table = if ordinal <= 1 {
        format!("godwit_backup_{version}_{statement}")
    } else {
        format!("godwit_backup_{version}_{statement}_{ordinal}")
    };
    let copy = quote(d, &copy_table);
    // The source still holds the data, so a copy left by an earlier attempt at this same
    // statement is stale: replace it.
    driver
        .execute(&format!("DROP TABLE IF EXISTS {copy}"))
        .await?;
    driver
        .execute(&format!(
            "DELETE FROM {TABLE} WHERE copy_table = {} AND restored_at IS NULL",
            literal(d, &copy_table)
        ))
        .await?;
    driver
        .execute(&format!(
            "CREATE TABLE {copy} AS SELECT {select} FROM {}",
            table.sql(d)
        ))
        .await?;
    let rows = driver
        .query_i64(&format!("SELECT count(*) FROM {copy}"))
        .await?
        .unwrap_or(0);
    let opt = |v: Option<&String>| v.map(|s| literal(d, s)).unwrap_or_else(|| "NULL".into());
    let keys_json = (!keys.is_empty()).then(|| serde_json::to_string(&keys).expect("serializable"));
    driver
        .execute(&format!(
            "INSERT INTO {TABLE} (copy_table, created_at, version, statement_index, kind, source_schema, \
             source_table, source_column, key_columns, rows_copied) VALUES ({}, {}, {}, {statement}, '{kind}', {}, {}, {}, {}, {rows})",
            literal(d, &copy_table),
            literal(d, &now_rfc3339()),
            literal(d, version),
            opt(table.schema.as_ref()),
            literal(d, &table.name),
            opt(column.as_ref()),
            opt(keys_json.as_ref()),
        ))
        .await?;
    Ok(Some(Outcome::Copied {
        source,
        copy_table,
        rows,
    }))
}

/// After down.sql of `version` ran: puts back every copy it made whose table or column
/// exists again, newest first, and drops those copies.
pub async fn put_back(driver: &mut dyn Driver, version: &str) -> Result<Vec<Outcome>, sqlx::Error> {
    let d = driver.dialect();
    let records = Table {
        schema: None,
        name: TABLE.into(),
    };
    if !exists(driver, &records).await? {
        return Ok(Vec::new());
    }
    let text = |c: &str| match d {
        Dialect::MySql => format!("CONVERT({c} USING utf8mb4)"),
        _ => format!("CAST({c} AS TEXT)"),
    };
    let rows = driver
        .query_text(&format!(
            "SELECT copy_table, kind, source_schema, source_table, source_column, key_columns, {} FROM {TABLE} \
             WHERE version = {} AND restored_at IS NULL ORDER BY statement_index DESC, copy_table DESC",
            text("rows_copied"),
            literal(d, version)
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let [
            Some(copy_table),
            Some(kind),
            schema,
            Some(name),
            column,
            keys,
            rows,
        ] = <[Option<String>; 7]>::try_from(row).unwrap_or_default()
        else {
            continue;
        };
        let table = Table { schema, name };
        let rows: i64 = rows.and_then(|r| r.parse().ok()).unwrap_or(0);
        let source = match &column {
            Some(c) => format!("{}.{c}", table.display()),
            None => table.display(),
        };
        let copy = Table {
            schema: None,
            name: copy_table.clone(),
        };
        let keep = |reason: String| Outcome::Kept {
            source: source.clone(),
            copy_table: copy_table.clone(),
            reason,
        };
        let copy_cols: Vec<String> = columns(driver, &copy)
            .await?
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        if copy_cols.is_empty() {
            out.push(keep(format!("the copy {copy_table} is gone")));
            continue;
        }
        let target = columns(driver, &table).await?;
        if target.is_empty() {
            out.push(keep(format!(
                "down.sql did not re-create {}",
                table.display()
            )));
            continue;
        }
        let writable = |c: &String| target.iter().any(|(t, ok)| t == c && *ok);
        let missing: Vec<&String> = copy_cols.iter().filter(|c| !writable(c)).collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            out.push(keep(format!(
                "down.sql re-created {} without {} (or made it generated)",
                table.display(),
                names.join(", ")
            )));
            continue;
        }
        let target_sql = table.sql(d);
        let copy_sql = quote(d, &copy_table);
        if kind == "table" {
            let list: Vec<String> = copy_cols.iter().map(|c| quote(d, c)).collect();
            let list = list.join(", ");
            // Identity columns GENERATED ALWAYS take their old values back too.
            let overriding = if d == Dialect::Postgres {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            };
            driver
                .execute(&format!(
                    "INSERT INTO {target_sql} ({list}){overriding} SELECT {list} FROM {copy_sql}"
                ))
                .await?;
            if d == Dialect::Postgres {
                advance_sequences(driver, &table, &copy_cols).await?;
            }
        } else {
            let Some(column) = &column else { continue };
            let keys: Vec<String> = keys
                .and_then(|k| serde_json::from_str(&k).ok())
                .unwrap_or_default();
            let on: Vec<String> = keys
                .iter()
                .map(|k| format!("t.{k} = c.{k}", k = quote(d, k)))
                .collect();
            let on = on.join(" AND ");
            let col = quote(d, column);
            let sql = match d {
                Dialect::MySql => format!(
                    "UPDATE {target_sql} AS t JOIN {copy_sql} AS c ON {on} SET t.{col} = c.{col}"
                ),
                _ => format!(
                    "UPDATE {target_sql} AS t SET {col} = c.{col} FROM {copy_sql} AS c WHERE {on}"
                ),
            };
            driver.execute(&sql).await?;
        }
        driver.execute(&format!("DROP TABLE {copy_sql}")).await?;
        driver
            .execute(&format!(
                "UPDATE {TABLE} SET restored_at = {} WHERE copy_table = {} AND restored_at IS NULL",
                literal(d, &now_rfc3339()),
                literal(d, &copy_table)
            ))
            .await?;
        out.push(Outcome::Restored {
            source,
            copy_table,
            rows,
        });
    }
    Ok(out)
}

/// Rows put back with their old ids leave a re-created serial or identity sequence
/// behind them; the next insert would collide.
async fn advance_sequences(
    driver: &mut dyn Driver,
    table: &Table,
    columns: &[String],
) -> Result<(), sqlx::Error> {
    let d = Dialect::Postgres;
    for column in columns {
        let seq = driver
            .query_text(&format!(
                "SELECT pg_get_serial_sequence({}, {})",
                literal(d, &table.sql(d)),
                literal(d, column)
            ))
            .await?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten());
        if let Some(seq) = seq {
            driver
                .execute(&format!(
                    "SELECT setval({}, max({})) FROM {} HAVING max({}) IS NOT NULL",
                    literal(d, &seq),
                    quote(d, column),
                    table.sql(d),
                    quote(d, column)
                ))
                .await?;
        }
    }
    Ok(())
}
