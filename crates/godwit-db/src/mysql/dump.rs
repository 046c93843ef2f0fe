//! MySQL and MariaDB: `mariadb-dump` (or `mysqldump`) of the one database, restored with
//! the `mariadb` (or `mysql`) client after dropping everything in it.
//!
//! DDL commits on its own in MySQL, so unlike PostgreSQL and SQLite this restore cannot
//! be one transaction: if it fails midway the database is partly restored, and the error
//! says to run the restore again.

use std::path::Path;

use crate::error::DumpError;
use crate::error::SqlError;
use crate::own::LOCK_TABLE;
use crate::settings::Target;
use crate::tools::{self, Tool};
use crate::traits::Driver;
use godwit_core::Dialect;
use godwit_core::sql::quote;

const PACKAGE: &str = "the MariaDB or MySQL client (Debian/Ubuntu: `apt-get install mariadb-client` \
or `mysql-client`, macOS: `brew install mariadb`)";

/// Flags naming the server and user, and the environment carrying the password.
struct Connection {
    args: Vec<String>,
    env: Vec<(String, String)>,
    database: String,
}

fn connection(target: &Target) -> Result<Connection, DumpError> {
    let url = url::Url::parse(&target.url).map_err(|e| {
        DumpError::Unsupported(format!(
            "the database URL cannot be handed to mariadb-dump: {e}"
        ))
    })?;
    let mut args = Vec::new();
    let socket = url
        .query_pairs()
        .find(|(k, _)| k == "socket")
        .map(|(_, v)| v.into_owned());
    match socket {
        Some(socket) => args.push(format!("--socket={socket}")),
        None => {
            // Like sqlx, always TCP: the clients would read `localhost` as the local socket.
            args.push("--protocol=TCP".into());
            if let Some(host) = url.host_str() {
                args.push(format!("--host={}", host.trim_matches(['[', ']'])));
            }
            args.push(format!("--port={}", url.port().unwrap_or(3306)));
        }
    }
    let user = if url.username().is_empty() {
        "root".to_string()
    } else {
        tools::decode(url.username())
    };
    args.push(format!("--user={user}"));
    args.push("--default-character-set=utf8mb4".into());
    // The clients read MYSQL_PWD; an empty one would still be sent, so only set it if given.
    let env = match url.password() {
        Some(p) => vec![("MYSQL_PWD".to_string(), tools::decode(p))],
        None => Vec::new(),
    };
    Ok(Connection {
        args,
        env,
        database: tools::decode(url.path().trim_start_matches('/')),
    })
}

fn dumper() -> Result<Tool, DumpError> {
    tools::find(
        &["mariadb-dump", "mysqldump"],
        PACKAGE,
        "a MySQL/MariaDB backup",
    )
}

pub(crate) async fn dump(
    target: &Target,
    driver: &mut dyn Driver,
    file: &Path,
) -> Result<String, DumpError> {
    let dumper = dumper()?;
    let conn = connection(target)?;
    let mut args = conn.args.clone();
    args.extend([
        "--single-transaction".to_string(),
        "--routines".into(),
        "--triggers".into(),
        "--events".into(),
        "--hex-blob".into(),
        "--no-tablespaces".into(),
        format!("--ignore-table={}.{LOCK_TABLE}", conn.database),
        format!("--result-file={}", file.display()),
        "--".into(),
        conn.database.clone(),
    ]);
    dumper
        .run(&args, &conn.env, None, None, driver, "dumping the database")
        .await?;
    // The dumpers end a complete dump with this line; without it the file is cut short.
    let text = std::fs::read(file).map_err(|e| DumpError::io("read", file, e))?;
    let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(200)..]).into_owned();
    if !tail.contains("-- Dump completed") {
        return Err(DumpError::ToolFailed {
            tool: dumper.name.into(),
            purpose: "dumping the database".into(),
            status: "exit status 0".into(),
            stderr: "the dump does not end with `-- Dump completed`, so it is incomplete".into(),
        });
    }
    Ok(dumper.version().await)
}

pub(crate) async fn restore(
    target: &Target,
    driver: &mut dyn Driver,
    file: &Path,
) -> Result<(), DumpError> {
    let client = tools::find(
        &["mariadb", "mysql"],
        PACKAGE,
        "restoring a MySQL/MariaDB backup",
    )?;
    let conn = connection(target)?;
    empty_database(driver).await?;
    let input = std::fs::File::open(file).map_err(|e| DumpError::io("open", file, e))?;
    let mut args = conn.args.clone();
    args.extend(["--".to_string(), conn.database.clone()]);
    client
        .run(
            &args,
            &conn.env,
            Some(input),
            None,
            driver,
            "restoring the database (it may be partly restored: run the restore again once the cause is fixed)",
        )
        .await
}

/// Drops every view, table, sequence, routine and event of the current database except
/// the lock table, so that nothing created after the backup survives the restore.
async fn empty_database(driver: &mut dyn Driver) -> Result<(), DumpError> {
    let fail = |e: SqlError| DumpError::db("cannot empty the database before restoring", &e);
    let rows = driver
        .query_text(&format!(
            "SELECT CONVERT(kind USING utf8mb4), CONVERT(name USING utf8mb4) FROM ( \
               SELECT 1 AS ord, 'VIEW' AS kind, TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() \
               UNION ALL SELECT 2, IF(TABLE_TYPE = 'SEQUENCE', 'SEQUENCE', 'TABLE'), TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE') AND TABLE_NAME <> '{LOCK_TABLE}' \
               UNION ALL SELECT 3, ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() \
               UNION ALL SELECT 4, 'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() \
             ) o ORDER BY ord"
        ))
        .await
        .map_err(fail)?;
    let mut sql = String::from("SET FOREIGN_KEY_CHECKS = 0;");
    for row in rows {
        let (Some(kind), Some(name)) = (row[0].clone(), row[1].clone()) else {
            continue;
        };
        sql.push_str(&format!(
            "DROP {kind} IF EXISTS {};",
            quote(Dialect::MySql, &name)
        ));
    }
    sql.push_str("SET FOREIGN_KEY_CHECKS = 1;");
    driver.execute(&sql).await.map_err(fail)?;
    Ok(())
}
