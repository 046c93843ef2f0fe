//! The copies of dropped data on SQLite: kept in the file `<name>.godwit-copies.<ext>`
//! next to the database, attached on godwit's own connection only while a migration
//! that may copy (or put back) runs. ATTACH is refused inside a transaction, so it
//! happens before the migration's transaction begins; the copy itself is written inside
//! that transaction, and SQLite commits the two files atomically (with a super-journal)
//! unless the database is in WAL mode, where a power cut in the middle of the commit can
//! keep the drop and lose the copy — the whole-database backup taken before the deploy
//! still has the data.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::error::{SqlError, SqlErrorKind};
use crate::own::COPIES_SCHEMA;
use crate::relation::{Attach, Column, CopyDialect, Located, Stored, Table, first};
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::sql::{literal, quote};

const D: Dialect = Dialect::Sqlite;

pub(crate) struct Copies;

#[async_trait(?Send)]
impl CopyDialect for Copies {
    fn has_tables_sql(&self) -> &'static str {
        "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'godwit\\_%' ESCAPE '\\'"
    }

    async fn columns(
        &self,
        driver: &mut dyn Session,
        table: &Table,
    ) -> Result<Vec<Column>, SqlError> {
        let sql = format!(
            "SELECT name, CAST(hidden AS TEXT), type FROM pragma_table_xinfo({}, {}) ORDER BY cid",
            literal(D, &table.name),
            literal(D, table.schema.as_deref().unwrap_or("main"))
        );
        let rows = driver.query_text(&sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let name = r.first().cloned().flatten()?;
                let hidden = r.get(1).cloned().flatten().unwrap_or_default();
                Some(Column {
                    name,
                    generated: hidden != "0",
                    type_name: r.get(2).cloned().flatten().unwrap_or_default(),
                    stored: Stored::AsIs,
                    own_collation: false,
                })
            })
            .collect())
    }

    fn primary_key_sql(&self, table: &Table) -> String {
        format!(
            "SELECT name FROM pragma_table_info({}, {}) WHERE pk > 0 ORDER BY pk",
            literal(D, &table.name),
            literal(D, table.schema.as_deref().unwrap_or("main"))
        )
    }

    fn tables_sql(&self) -> &'static str {
        "SELECT 'main', lower(name) FROM sqlite_master WHERE type = 'table'"
    }

    /// SQLite compares names without regard to ASCII case, quoted or not.
    fn folds_case(&self) -> bool {
        true
    }

    fn as_text(&self, column: &str) -> String {
        format!("CAST({column} AS TEXT)")
    }

    /// A SQLite built without the dbstat table cannot tell.
    async fn sizes(
        &self,
        driver: &mut dyn Session,
        schema: &str,
    ) -> Result<Option<Vec<Vec<Option<String>>>>, SqlError> {
        match driver
            .query_text(&format!(
                "SELECT name, CAST(sum(pgsize) AS TEXT) FROM dbstat({}) GROUP BY name",
                literal(D, schema)
            ))
            .await
        {
            Ok(rows) => Ok(Some(rows)),
            Err(e) if matches!(e.kind(), SqlErrorKind::Server { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn locate(&self, driver: &mut dyn Session) -> Result<Located, SqlError> {
        let main = main_file(driver).await?;
        Ok(Located {
            schema: COPIES_SCHEMA.to_string(),
            namespace: "main".to_string(),
            attaches: true,
            file: main.map(|m| copies_file(Path::new(&m))),
        })
    }

    fn describe(&self, schema: &str, file: Option<&Path>) -> String {
        match file {
            Some(file) => format!("{} (attached as {schema})", file.display()),
            None => format!("an in-memory database attached as {schema}"),
        }
    }

    async fn attach(
        &self,
        driver: &mut dyn Session,
        file: Option<&Path>,
        create: bool,
    ) -> Result<Attach, SqlError> {
        let (path, created_file) = match file {
            Some(file) => {
                let exists = file.is_file();
                if !exists && !create {
                    return Ok(Attach::Missing);
                }
                (file.display().to_string(), !exists)
            }
            None => (":memory:".to_string(), false),
        };
        if let Err(e) = driver
            .execute(&format!(
                "ATTACH DATABASE {} AS {}",
                literal(D, &path),
                quote(D, COPIES_SCHEMA)
            ))
            .await
        {
            let Some(refused) = e.server_message() else {
                return Err(e);
            };
            return Ok(Attach::Refused(format!(
                "cannot open {path} to keep them in: {refused}"
            )));
        }
        if created_file && let Some(file) = file {
            match_permissions(driver, file).await;
        }
        Ok(Attach::Attached { created_file })
    }

    async fn detach(&self, driver: &mut dyn Session) -> Result<(), SqlError> {
        driver
            .execute(&format!("DETACH DATABASE {}", quote(D, COPIES_SCHEMA)))
            .await
            .map(drop)
    }

    fn store_tables_sql(&self, _schema: &str) -> String {
        format!(
            "SELECT name FROM {}.sqlite_master WHERE type = 'table'",
            quote(D, COPIES_SCHEMA)
        )
    }

    fn store_exists_sql(&self, _schema: &str, records: &str) -> String {
        format!(
            "SELECT CAST(count(*) AS TEXT) FROM {}.sqlite_master WHERE type = 'table' AND name = {}",
            quote(D, COPIES_SCHEMA),
            literal(D, records)
        )
    }

    /// The store is the attached file: there is nothing more to create.
    async fn ensure_store(
        &self,
        _driver: &mut dyn Session,
        _schema: &str,
        _records_ddl: &str,
    ) -> Result<Result<(), String>, SqlError> {
        Ok(Ok(()))
    }

    fn casts_retyped_columns(&self) -> bool {
        false
    }

    fn insert_overriding(&self) -> &'static str {
        ""
    }

    fn update_from_copy(
        &self,
        target: &str,
        copy: &str,
        column: &str,
        set: &str,
        on: &str,
    ) -> String {
        format!("UPDATE {target} AS t SET {column} = {set} FROM {copy} AS c WHERE {on}")
    }

    fn savepoints(&self) -> bool {
        true
    }
}

async fn main_file(driver: &mut dyn Session) -> Result<Option<String>, SqlError> {
    Ok(first(
        driver,
        "SELECT file FROM pragma_database_list WHERE name = 'main'",
    )
    .await?
    .filter(|f| !f.is_empty()))
}

/// A new copies file holds the same data as the database: give it the same mode.
async fn match_permissions(driver: &mut dyn Session, file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(Some(main)) = main_file(driver).await
            && let Ok(meta) = std::fs::metadata(main)
        {
            let mode = meta.permissions().mode() & 0o777;
            // The file exists once SQLite has written to it; create it empty first.
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file);
            let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode));
        }
    }
    #[cfg(not(unix))]
    let _ = (driver, file);
}

/// `app.db` → `app.godwit-copies.db`: ignore patterns such as `*.db` cover it too.
pub(crate) fn copies_file(main: &Path) -> PathBuf {
    let stem = main
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match main.extension() {
        Some(ext) => format!("{stem}.godwit-copies.{}", ext.to_string_lossy()),
        None => format!("{stem}.godwit-copies"),
    };
    main.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copies_file_sits_beside_the_database() {
        assert_eq!(
            copies_file(Path::new("/srv/app.db")),
            Path::new("/srv/app.godwit-copies.db")
        );
        assert_eq!(
            copies_file(Path::new("data")),
            Path::new("data.godwit-copies")
        );
    }
}
