//! The copies of dropped data on MySQL/MariaDB: kept in the database
//! `<database>_godwit_copies`, named after the application's database so that two
//! applications on one server never share one, and so that a grant on a prefix (`GRANT
//! ALL ON \`app\_%\`.*`, what shared hosting gives) covers it.

use std::path::Path;

use async_trait::async_trait;

use crate::error::SqlError;
use crate::relation::{Column, CopyDialect, Located, Stored, Table, first};
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::sql::{literal, quote};

const D: Dialect = Dialect::MySql;

pub(crate) struct Copies;

/// A `WHERE` fragment selecting `table`'s database in information_schema.
fn schema_filter(table: &Table, column: &str) -> String {
    let schema = table
        .schema
        .as_ref()
        .map(|s| literal(D, s))
        .unwrap_or_else(|| "DATABASE()".to_string());
    format!("{column} = {schema}")
}

#[async_trait(?Send)]
impl CopyDialect for Copies {
    fn has_tables_sql(&self) -> &'static str {
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' \
         AND table_name NOT LIKE 'godwit\\_%'"
    }

    async fn columns(
        &self,
        driver: &mut dyn Session,
        table: &Table,
    ) -> Result<Vec<Column>, SqlError> {
        let sql = format!(
            "SELECT CONVERT(COLUMN_NAME USING utf8mb4), CONVERT(EXTRA USING utf8mb4), CONVERT(COLUMN_TYPE USING utf8mb4) \
             FROM information_schema.COLUMNS WHERE {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            schema_filter(table, "TABLE_SCHEMA"),
            literal(D, &table.name)
        );
        let rows = driver.query_text(&sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let name = r.first().cloned().flatten()?;
                let extra = r.get(1).cloned().flatten().unwrap_or_default();
                Some(Column {
                    name,
                    generated: extra.to_ascii_uppercase().contains("GENERATED"),
                    type_name: r.get(2).cloned().flatten().unwrap_or_default(),
                    stored: Stored::AsIs,
                    own_collation: false,
                })
            })
            .collect())
    }

    fn primary_key_sql(&self, table: &Table) -> String {
        format!(
            "SELECT CONVERT(COLUMN_NAME USING utf8mb4) FROM information_schema.KEY_COLUMN_USAGE \
             WHERE {} AND TABLE_NAME = {} AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            schema_filter(table, "TABLE_SCHEMA"),
            literal(D, &table.name)
        )
    }

    fn tables_sql(&self) -> &'static str {
        "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
    }

    fn folds_case(&self) -> bool {
        false
    }

    fn as_text(&self, column: &str) -> String {
        format!("CAST({column} AS CHAR)")
    }

    async fn sizes(
        &self,
        driver: &mut dyn Session,
        schema: &str,
    ) -> Result<Option<Vec<Vec<Option<String>>>>, SqlError> {
        driver
            .query_text(&format!(
                "SELECT CONVERT(TABLE_NAME USING utf8mb4), CAST(coalesce(DATA_LENGTH, 0) + coalesce(INDEX_LENGTH, 0) AS CHAR) \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
                literal(D, schema)
            ))
            .await
            .map(Some)
    }

    async fn locate(&self, driver: &mut dyn Session) -> Result<Located, SqlError> {
        let namespace = first(driver, "SELECT CONVERT(DATABASE() USING utf8mb4)")
            .await?
            .unwrap_or_default();
        Ok(Located {
            schema: store_name(&namespace),
            namespace,
            attaches: false,
            file: None,
        })
    }

    fn describe(&self, schema: &str, _file: Option<&Path>) -> String {
        format!("database {schema}")
    }

    fn store_tables_sql(&self, schema: &str) -> String {
        format!(
            "SELECT CONVERT(TABLE_NAME USING utf8mb4) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            literal(D, schema)
        )
    }

    fn store_exists_sql(&self, schema: &str, records: &str) -> String {
        format!(
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            literal(D, schema),
            literal(D, records)
        )
    }

    async fn ensure_store(
        &self,
        driver: &mut dyn Session,
        schema: &str,
        records_ddl: &str,
    ) -> Result<Result<(), String>, SqlError> {
        let create = format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
            quote(D, schema)
        );
        let denied = match driver.execute(&create).await {
            Ok(_) => false,
            Err(e) if e.is_access_denied() => true,
            Err(e) => return Err(e),
        };
        if denied {
            // A database an administrator made for godwit needs no CREATE DATABASE.
            let exists = first(
                driver,
                &format!(
                    "SELECT CAST(count(*) AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                    literal(D, schema)
                ),
            )
            .await?;
            if exists.as_deref() != Some("1") {
                return Ok(Err(grant_advice(driver, schema, "create").await?));
            }
        }
        match driver.execute(records_ddl).await {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.is_access_denied() => Ok(Err(grant_advice(driver, schema, "use").await?)),
            Err(e) => Err(e),
        }
    }

    fn casts_retyped_columns(&self) -> bool {
        false
    }

    fn insert_overriding(&self) -> &'static str {
        ""
    }

    /// MySQL has no `UPDATE … FROM`; it joins.
    fn update_from_copy(
        &self,
        target: &str,
        copy: &str,
        column: &str,
        set: &str,
        on: &str,
    ) -> String {
        format!("UPDATE {target} AS t JOIN {copy} AS c ON {on} SET t.{column} = {set}")
    }

    /// DDL commits the transaction: there is none left to save a point in.
    fn savepoints(&self) -> bool {
        false
    }
}

async fn grant_advice(
    driver: &mut dyn Session,
    schema: &str,
    verb: &str,
) -> Result<String, SqlError> {
    let user = first(driver, "SELECT CONVERT(CURRENT_USER() USING utf8mb4)")
        .await?
        .unwrap_or_default();
    let grantee = match user.split_once('@') {
        Some((u, h)) => format!("'{u}'@'{h}'"),
        None => format!("'{user}'"),
    };
    Ok(format!(
        "{user} may not {verb} the database {schema} that keeps them; `GRANT ALL ON {}.* TO {grantee}` lets godwit keep copies there",
        quote(D, schema)
    ))
}

/// `<database>_godwit_copies`, shortened with a digest when it would pass 64 characters.
pub(crate) fn store_name(database: &str) -> String {
    const SUFFIX: &str = "_godwit_copies";
    let name = format!("{database}{SUFFIX}");
    if name.chars().count() <= 64 {
        return name;
    }
    let digest = crate::own::short_digest(database);
    let keep: String = database
        .chars()
        .take(64 - SUFFIX.len() - digest.len() - 1)
        .collect();
    format!("{keep}_{digest}{SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_stay_recognisable() {
        assert_eq!(store_name("shop"), "shop_godwit_copies");
        let long = "a".repeat(60);
        let name = store_name(&long);
        assert!(name.len() <= 64, "{name}");
        assert!(name.starts_with("aaaa") && name.ends_with("_godwit_copies"));
        assert_ne!(store_name(&long), store_name(&format!("{long}b")));
    }
}
