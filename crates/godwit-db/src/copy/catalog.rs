//! What the catalog says about a table: its columns, how each is stored in a copy, its
//! primary key (each database's query is in its `<database>/copy.rs`).

use super::of;
use crate::error::SqlError;
pub(crate) use crate::relation::{Column, Stored, Table};
use crate::traits::Session;
use godwit_core::analyze::destroys::Name;

/// Columns of `table` in order; empty when the table does not exist.
pub(crate) async fn columns(
    driver: &mut dyn Session,
    table: &Table,
) -> Result<Vec<Column>, SqlError> {
    of(driver.dialect()).columns(driver, table).await
}

pub(crate) async fn primary_key(
    driver: &mut dyn Session,
    table: &Table,
) -> Result<Vec<String>, SqlError> {
    let sql = of(driver.dialect()).primary_key_sql(table);
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
    let sql = of(d).tables_sql();
    let mut existing = super::created::Existing::default();
    for row in driver.query_text(sql).await? {
        if let [Some(schema), Some(table)] = row.as_slice() {
            existing.tables.insert((schema.clone(), table.clone()));
        }
    }
    for name in tables {
        let key = names.key(name);
        for column in columns(driver, &Table::from_name(d, name)).await? {
            let column = if of(d).folds_case() {
                column.name.to_ascii_lowercase()
            } else {
                column.name
            };
            existing.columns.insert((key.clone(), column));
        }
    }
    Ok(existing)
}
