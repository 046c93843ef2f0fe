//! `godwit init`: godwit.toml and an empty migrations/ directory.

use std::path::Path;

use crate::config;
use crate::error::{Error, exit};

const CONFIG_TEMPLATE: &str = r#"# godwit configuration. Every key is optional.
#
# The database URL is taken from --database-url, then DATABASE_URL (environment or .env),
# then database_url below; with none of them godwit uses the SQLite file .godwit/godwit.db,
# but only in development.
# database_url = "env(DATABASE_URL)"
# direct_url = "env(DIRECT_URL)"     # used for migrations instead, e.g. to bypass PgBouncer

# "development" allows `godwit reset` and the embedded SQLite fallback.
environment = "development"

migrations = "migrations"

# lock_wait = "60s"           # how long to wait for another deployer
# lock_timeout = "5s"         # default per migration; `-- godwit:lock-timeout=...` overrides
# statement_timeout = "10min"
# lock_retries = 3            # retries after a lock timeout
# connect_timeout = "10s"
# shadow_url = "env(SHADOW_URL)"  # an empty database for `godwit verify`, if it may not create one
# schema = "schema"           # the declared schema `godwit diff --check` compares with; `godwit pull --out schema` writes it
# init_sql = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"  # run on every connection first

# Whole-database backups before deploy: "always", "destructive" (the default: before a
# run that drops, truncates or deletes) or "never" (which also turns off the in-database
# copies of dropped tables and columns that `godwit down` puts back).
# [backup]
# policy = "destructive"
# dir = ".godwit/backups"

# Plugin steps hold their batches back while the database is unhealthy (README:
# "Throttling on the database's health"); each step's [batch] may override these.
# [throttle]
# replicas = ["env(REPLICA_URL)"]   # replicas to ask for their lag (needed on MySQL/MariaDB)
# max_replication_lag = "5s"
# health_query = "SELECT ..."        # one boolean; false holds the batches back
# max_pause = "30m"                  # the longest one pause may last
"#;

pub(super) fn run(dir: &Path) -> Result<u8, Error> {
    let path = dir.join(config::CONFIG_FILE);
    if path.exists() {
        return Err(Error::Config(format!(
            "{} already exists; godwit init leaves it alone",
            path.display()
        )));
    }
    std::fs::create_dir_all(dir.join("migrations"))?;
    std::fs::write(&path, CONFIG_TEMPLATE)?;
    // .godwit/ holds the SQLite default, backups and caches: data, not source.
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing
        .lines()
        .any(|l| matches!(l.trim(), ".godwit" | ".godwit/" | "/.godwit" | "/.godwit/"))
    {
        let separator = if existing.is_empty() || existing.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        std::fs::write(&gitignore, format!("{existing}{separator}.godwit/\n"))?;
    }
    outln!(
        "Created {} and {}/",
        path.display(),
        dir.join("migrations").display()
    );
    outln!("Next: `godwit new create_users`, write up.sql and down.sql, then `godwit deploy`.");
    Ok(exit::OK)
}
