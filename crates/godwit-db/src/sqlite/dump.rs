//! SQLite: `VACUUM INTO` a new file; restored inside one `BEGIN IMMEDIATE` transaction
//! on godwit's own connection.
//!
//! Copying the backup over the database file would be quicker and wrong: other
//! connections may hold it open, a `-wal` file next to it would be replayed onto the new
//! content, and a `-journal` could roll it back. Inside a write transaction SQLite's own
//! locking keeps every other writer out, readers see the old or the new database and
//! never a mix, and a failure rolls everything back. The lease row in `godwit_lock` is
//! left alone, so the lock held by whoever restores stays held.

use std::path::Path;

use crate::error::DumpError;
use crate::error::SqlError;
use crate::own::LOCK_TABLE;
use crate::traits::Driver;
use godwit_core::Dialect;
use godwit_core::sql::{literal, quote};

const SCHEMA: &str = "godwit_restore";

pub(crate) async fn dump(driver: &mut dyn Driver, file: &Path) -> Result<String, DumpError> {
    let version = driver
        .query_text("SELECT sqlite_version()")
        .await
        .map_err(|e| DumpError::db("cannot read the SQLite version", &e))?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .unwrap_or_default();
    let in_memory = driver
        .query_text("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .await
        .map_err(|e| DumpError::db("cannot find the database file", &e))?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .is_none_or(|f| f.is_empty());
    if in_memory {
        return Err(DumpError::Unsupported(
            "an in-memory SQLite database has nothing on disk to back up or restore".into(),
        ));
    }
    let path = file.display().to_string();
    driver
        .execute(&format!("VACUUM INTO {}", literal(Dialect::Sqlite, &path)))
        .await
        .map_err(|e| DumpError::db(format!("VACUUM INTO {path} failed"), &e))?;
    Ok(format!("SQLite {version} VACUUM INTO"))
}

pub(crate) async fn restore(driver: &mut dyn Driver, file: &Path) -> Result<(), DumpError> {
    let path = file.display().to_string();
    let fail = |what: &'static str| {
        move |e: SqlError| DumpError::db(format!("cannot restore from {what}"), &e)
    };
    // ATTACH and the foreign-key switch are refused inside a transaction.
    driver
        .execute(&format!(
            "ATTACH DATABASE {} AS {SCHEMA}",
            literal(Dialect::Sqlite, &path)
        ))
        .await
        .map_err(fail("the backup file"))?;
    driver
        .execute("PRAGMA foreign_keys = OFF")
        .await
        .map_err(fail("the backup file"))?;
    let result = async {
        driver.begin().await.map_err(fail("the backup file"))?;
        match copy_back(driver).await {
            Ok(()) => driver.commit().await.map_err(fail("the backup file")),
            Err(e) => {
                let _ = driver.rollback().await;
                Err(e)
            }
        }
    }
    .await;
    let _ = driver.execute("PRAGMA foreign_keys = ON").await;
    let _ = driver.execute(&format!("DETACH DATABASE {SCHEMA}")).await;
    result
}

/// Replaces every object of `main` (but the lock table) with the attached backup's.
async fn copy_back(driver: &mut dyn Driver) -> Result<(), DumpError> {
    let fail = |e: SqlError| DumpError::db("cannot restore the SQLite database", &e);
    // Objects SQLite makes on its own (autoindexes, sqlite_sequence) have no SQL or an
    // internal name; shadow tables of virtual tables come with their virtual table.
    let objects = |schema: &str| {
        format!(
            "SELECT m.type, m.name, m.tbl_name, m.sql FROM {schema}.sqlite_master m \
             WHERE m.sql IS NOT NULL AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.tbl_name <> '{LOCK_TABLE}' \
             AND NOT EXISTS (SELECT 1 FROM pragma_table_list t WHERE t.schema = '{schema}' AND t.name = m.name AND t.type = 'shadow') \
             ORDER BY m.rowid"
        )
    };
    let current = driver.query_text(&objects("main")).await.map_err(fail)?;
    let mut sql = String::new();
    for row in current.iter().rev() {
        let (Some(kind), Some(name)) = (&row[0], &row[1]) else {
            continue;
        };
        if matches!(kind.as_str(), "table" | "view" | "trigger" | "index") {
            sql.push_str(&format!(
                "DROP {} IF EXISTS main.{};",
                kind.to_uppercase(),
                quote(Dialect::Sqlite, name)
            ));
        }
    }
    if !sql.is_empty() {
        driver.execute(&sql).await.map_err(fail)?;
    }
    let wanted = driver.query_text(&objects(SCHEMA)).await.map_err(fail)?;
    // Tables first and filled, then indexes, views and triggers, so that no trigger fires
    // on the rows being put back.
    let mut later = String::new();
    for row in &wanted {
        let (Some(kind), Some(name), Some(create)) = (&row[0], &row[1], &row[3]) else {
            continue;
        };
        if kind == "table" {
            let quoted = quote(Dialect::Sqlite, name);
            driver.execute(create).await.map_err(fail)?;
            // Generated columns compute themselves and refuse values: name the others.
            let columns: Vec<String> = driver
                .query_text(&format!(
                    "SELECT name FROM pragma_table_xinfo({}, '{SCHEMA}') WHERE hidden = 0 ORDER BY cid",
                    literal(Dialect::Sqlite, name)
                ))
                .await
                .map_err(fail)?
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .map(|c| quote(Dialect::Sqlite, &c))
                .collect();
            let columns = columns.join(", ");
            driver
                .execute(&format!(
                    "INSERT INTO main.{quoted} ({columns}) SELECT {columns} FROM {SCHEMA}.{quoted}"
                ))
                .await
                .map_err(fail)?;
        } else {
            later.push_str(create);
            later.push_str(";\n");
        }
    }
    let has_sequence = !driver
        .query_text(&format!(
            "SELECT name FROM {SCHEMA}.sqlite_master WHERE name = 'sqlite_sequence'"
        ))
        .await
        .map_err(fail)?
        .is_empty();
    let main_has_sequence = !driver
        .query_text("SELECT name FROM main.sqlite_master WHERE name = 'sqlite_sequence'")
        .await
        .map_err(fail)?
        .is_empty();
    if main_has_sequence {
        later.push_str("DELETE FROM main.sqlite_sequence;");
    }
    if has_sequence {
        later.push_str(&format!(
            "INSERT INTO main.sqlite_sequence SELECT * FROM {SCHEMA}.sqlite_sequence;"
        ));
    }
    let user_version = driver
        .query_i64(&format!("PRAGMA {SCHEMA}.user_version"))
        .await
        .map_err(fail)?
        .unwrap_or(0);
    later.push_str(&format!("PRAGMA main.user_version = {user_version};"));
    driver.execute(&later).await.map_err(fail)?;
    Ok(())
}
