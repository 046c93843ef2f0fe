//! Where copies live: a namespace of godwit's own, never the application's.
//!
//! - PostgreSQL: the schema `godwit_copies`. Nothing in the application's schema, so its
//!   tools (Prisma, Drizzle, `pg_dump -n public`) never see the copies, and `DROP SCHEMA
//!   public CASCADE` does not reach them.
//! - MySQL/MariaDB: the database `<database>_godwit_copies`. Named after the
//!   application's database so that two applications on one server never share one, and
//!   so that a grant on a prefix (`GRANT ALL ON \`app\_%\`.*`, what shared hosting gives)
//!   covers it.
//! - SQLite: the file `<name>.godwit-copies.<ext>` next to the database, attached on
//!   godwit's own connection only while a migration that may copy (or put back) runs.
//!   ATTACH is refused inside a transaction, so it happens before the migration's
//!   transaction begins; the copy itself is written inside that transaction, and SQLite
//!   commits the two files atomically (with a super-journal) unless the database is in
//!   WAL mode, where a power cut in the middle of the commit can keep the drop and lose
//!   the copy — the whole-database backup taken before the deploy still has the data.
//!
//! When godwit may not create its namespace, nothing is copied, and the run says once
//! what to grant; the whole-database backup is then the only copy.

use std::path::{Path, PathBuf};

use crate::error::SqlError;
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::sql::{literal, quote};

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
    /// SQLite: the file attached as [`SCHEMA`] (`None` for an in-memory database).
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
        let (schema, namespace, file) = match dialect {
            Dialect::Postgres => {
                let namespace = first(driver, "SELECT current_schema()::text")
                    .await?
                    .unwrap_or_else(|| "public".into());
                (SCHEMA.to_string(), namespace, None)
            }
            Dialect::MySql => {
                let namespace = first(driver, "SELECT CONVERT(DATABASE() USING utf8mb4)")
                    .await?
                    .unwrap_or_default();
                (mysql_name(&namespace), namespace, None)
            }
            Dialect::Sqlite => {
                let main = first(
                    driver,
                    "SELECT file FROM pragma_database_list WHERE name = 'main'",
                )
                .await?
                .filter(|f| !f.is_empty());
                (
                    SCHEMA.to_string(),
                    "main".to_string(),
                    main.map(|m| sqlite_file(Path::new(&m))),
                )
            }
        };
        Ok(Store {
            dialect,
            schema,
            namespace,
            file,
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
        match (self.dialect, &self.file) {
            (Dialect::Postgres, _) => format!("schema {}", self.schema),
            (Dialect::MySql, _) => format!("database {}", self.schema),
            (Dialect::Sqlite, Some(file)) => {
                format!("{} (attached as {})", file.display(), self.schema)
            }
            (Dialect::Sqlite, None) => format!("an in-memory database attached as {}", self.schema),
        }
    }

    pub fn records(&self) -> String {
        self.qualified(RECORDS)
    }

    /// SQLite: attaches the store's file, creating it when `create`; must run outside a
    /// transaction. Elsewhere nothing to do. Returns whether the store can be used.
    pub async fn attach(
        &mut self,
        driver: &mut dyn Session,
        create: bool,
    ) -> Result<bool, SqlError> {
        if self.dialect != Dialect::Sqlite || self.attached {
            return Ok(true);
        }
        let path = match &self.file {
            Some(file) => {
                let exists = file.is_file();
                if !exists && !create {
                    return Ok(false);
                }
                self.created_file = !exists;
                file.display().to_string()
            }
            None => ":memory:".to_string(),
        };
        match driver
            .execute(&format!(
                "ATTACH DATABASE {} AS {}",
                literal(self.dialect, &path),
                quote(self.dialect, SCHEMA)
            ))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                let Some(refused) = e.server_message() else {
                    return Err(e);
                };
                self.unavailable = Some(format!("cannot open {path} to keep them in: {refused}"));
                return Ok(false);
            }
        }
        self.attached = true;
        if self.created_file {
            self.match_permissions(driver).await;
        }
        Ok(true)
    }

    /// A new copies file holds the same data as the database: give it the same mode.
    async fn match_permissions(&self, driver: &mut dyn Session) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let main = first(
                driver,
                "SELECT file FROM pragma_database_list WHERE name = 'main'",
            )
            .await
            .ok()
            .flatten();
            if let (Some(main), Some(file)) = (main, &self.file)
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
        let _ = driver;
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
        driver
            .execute(&format!("DETACH DATABASE {}", quote(self.dialect, SCHEMA)))
            .await?;
        self.attached = false;
        if empty && let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
            self.created_file = false;
        }
        Ok(())
    }

    async fn table_names(&self, driver: &mut dyn Session) -> Result<Vec<String>, SqlError> {
        let sql = match self.dialect {
            Dialect::Postgres => format!(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = {} AND c.relkind IN ('r', 'p')",
                literal(self.dialect, &self.schema)
            ),
            Dialect::MySql => format!(
                "SELECT CONVERT(TABLE_NAME USING utf8mb4) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
                literal(self.dialect, &self.schema)
            ),
            Dialect::Sqlite => format!(
                "SELECT name FROM {}.sqlite_master WHERE type = 'table'",
                quote(self.dialect, SCHEMA)
            ),
        };
        Ok(crate::raw::first_column(driver.query_text(&sql).await?))
    }

    /// Whether the store and its records exist and can be read; creates nothing.
    pub async fn exists(&mut self, driver: &mut dyn Session) -> Result<bool, SqlError> {
        let sql = match self.dialect {
            Dialect::Postgres => format!(
                "SELECT CAST(has_schema_privilege(n.oid, 'USAGE') AND EXISTS (SELECT 1 FROM pg_class c \
                 WHERE c.relnamespace = n.oid AND c.relname = '{RECORDS}') AS text) FROM pg_namespace n WHERE n.nspname = {}",
                literal(self.dialect, &self.schema)
            ),
            Dialect::MySql => format!(
                "SELECT CAST(count(*) AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = '{RECORDS}'",
                literal(self.dialect, &self.schema)
            ),
            Dialect::Sqlite => {
                if !self.attach(driver, false).await? {
                    return Ok(false);
                }
                format!(
                    "SELECT CAST(count(*) AS TEXT) FROM {}.sqlite_master WHERE type = 'table' AND name = '{RECORDS}'",
                    quote(self.dialect, SCHEMA)
                )
            }
        };
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
        let ready = match self.dialect {
            Dialect::Postgres => self.ensure_postgres(driver).await?,
            Dialect::MySql => self.ensure_mysql(driver).await?,
            Dialect::Sqlite => {
                if self.attached {
                    Ok(())
                } else {
                    Err(self
                        .unavailable
                        .clone()
                        .unwrap_or_else(|| "the copies file is not attached".to_string()))
                }
            }
        };
        if let Err(reason) = &ready {
            self.unavailable = Some(reason.clone());
            return Ok(ready);
        }
        driver.execute(&records_ddl(self)).await?;
        Ok(Ok(()))
    }

    async fn ensure_postgres(
        &mut self,
        driver: &mut dyn Session,
    ) -> Result<Result<(), String>, SqlError> {
        let d = self.dialect;
        let schema = literal(d, &self.schema);
        let row = driver
            .query_text(&format!(
                "SELECT CAST(EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {schema}) AS text), \
                 CAST(has_database_privilege(current_database(), 'CREATE') AS text), \
                 CAST((SELECT has_schema_privilege(oid, 'CREATE') AND has_schema_privilege(oid, 'USAGE') \
                       FROM pg_namespace WHERE nspname = {schema}) AS text), \
                 current_user::text, current_database()::text"
            ))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let flag = |i: usize| row.get(i).cloned().flatten().as_deref() == Some("true");
        let user = row.get(3).cloned().flatten().unwrap_or_default();
        let database = row.get(4).cloned().flatten().unwrap_or_default();
        let (exists, may_create, usable) = (flag(0), flag(1), flag(2));
        if exists && usable {
            return Ok(Ok(()));
        }
        if exists {
            return Ok(Err(format!(
                "the schema {} exists but {user} may not create tables in it; \
                 `GRANT USAGE, CREATE ON SCHEMA {} TO {}` lets godwit keep copies there",
                self.schema,
                quote(d, &self.schema),
                quote(d, &user)
            )));
        }
        if !may_create {
            return Ok(Err(format!(
                "{user} may not create the schema {} in {database}; to keep copies, have an owner run \
                 `CREATE SCHEMA {} AUTHORIZATION {}`",
                self.schema,
                quote(d, &self.schema),
                quote(d, &user)
            )));
        }
        driver
            .execute(&format!("CREATE SCHEMA {}", quote(d, &self.schema)))
            .await?;
        // Default privileges may grant a new schema to other roles; the copies are
        // nobody's business but the deployer's, and a grant would make `DROP ROLE` of
        // that role fail later.
        revoke_others(driver, "SCHEMA", &quote(d, &self.schema)).await?;
        Ok(Ok(()))
    }

    async fn ensure_mysql(
        &mut self,
        driver: &mut dyn Session,
    ) -> Result<Result<(), String>, SqlError> {
        let d = self.dialect;
        let create = format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
            quote(d, &self.schema)
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
                    literal(d, &self.schema)
                ),
            )
            .await?;
            if exists.as_deref() != Some("1") {
                return Ok(Err(self.mysql_grant_advice(driver, "create").await?));
            }
        }
        match driver.execute(&records_ddl(self)).await {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.is_access_denied() => {
                Ok(Err(self.mysql_grant_advice(driver, "use").await?))
            }
            Err(e) => Err(e),
        }
    }

    async fn mysql_grant_advice(
        &self,
        driver: &mut dyn Session,
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
            "{user} may not {verb} the database {} that keeps them; `GRANT ALL ON {}.* TO {grantee}` lets godwit keep copies there",
            self.schema,
            quote(self.dialect, &self.schema)
        ))
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

/// PostgreSQL: takes back every privilege on `object` that default privileges gave to
/// roles other than its owner.
pub(crate) async fn revoke_others(
    driver: &mut dyn Session,
    kind: &str,
    object: &str,
) -> Result<(), SqlError> {
    let d = Dialect::Postgres;
    let (catalog, acl, owner, oid) = match kind {
        "SCHEMA" => (
            "pg_namespace",
            "nspacl",
            "nspowner",
            format!("{}::regnamespace", literal(d, object)),
        ),
        _ => (
            "pg_class",
            "relacl",
            "relowner",
            format!("to_regclass({})", literal(d, object)),
        ),
    };
    let grantees = driver
        .query_text(&format!(
            "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END \
             FROM {catalog} o CROSS JOIN LATERAL aclexplode(o.{acl}) a LEFT JOIN pg_roles r ON r.oid = a.grantee \
             WHERE o.oid = {oid} AND a.grantee <> o.{owner}"
        ))
        .await?;
    for grantee in crate::raw::first_column(grantees) {
        driver
            .execute(&format!("REVOKE ALL ON {kind} {object} FROM {grantee}"))
            .await?;
    }
    Ok(())
}

/// `<database>_godwit_copies`, shortened with a digest when it would pass 64 characters.
pub(crate) fn mysql_name(database: &str) -> String {
    const SUFFIX: &str = "_godwit_copies";
    let name = format!("{database}{SUFFIX}");
    if name.chars().count() <= 64 {
        return name;
    }
    let digest = short_digest(database);
    let keep: String = database
        .chars()
        .take(64 - SUFFIX.len() - digest.len() - 1)
        .collect();
    format!("{keep}_{digest}{SUFFIX}")
}

/// Eight hex digits of SHA-256: enough to tell two long names apart.
pub(crate) fn short_digest(text: &str) -> String {
    use sha2::Digest as _;
    godwit_core::value::hex(&sha2::Sha256::digest(text.as_bytes()))[..8].to_string()
}

/// `app.db` → `app.godwit-copies.db`: ignore patterns such as `*.db` cover it too.
pub(crate) fn sqlite_file(main: &Path) -> PathBuf {
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

/// The first column of the first row.
pub(crate) async fn first(driver: &mut dyn Session, sql: &str) -> Result<Option<String>, SqlError> {
    Ok(driver
        .query_text(sql)
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_stay_recognisable() {
        assert_eq!(mysql_name("shop"), "shop_godwit_copies");
        let long = "a".repeat(60);
        let name = mysql_name(&long);
        assert!(name.len() <= 64, "{name}");
        assert!(name.starts_with("aaaa") && name.ends_with("_godwit_copies"));
        assert_ne!(mysql_name(&long), mysql_name(&format!("{long}b")));
        assert_eq!(
            sqlite_file(Path::new("/srv/app.db")),
            Path::new("/srv/app.godwit-copies.db")
        );
        assert_eq!(
            sqlite_file(Path::new("data")),
            Path::new("data.godwit-copies")
        );
    }
}
