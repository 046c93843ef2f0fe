//! The shadow database: created next to the target and dropped afterwards, or given by
//! the user (who may not be allowed to create databases) and emptied before and after.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Config, Target, parse_target};
use crate::error::Error;
use godwit_core::Dialect;
use godwit_db::{self as driver, Driver, Session, SqlError};

pub(crate) struct Shadow {
    target: Target,
    kind: Kind,
    /// Run on the shadow before anything else (the target's schema, on PostgreSQL).
    setup: Option<String>,
}

enum Kind {
    /// `CREATE DATABASE` on the target's server; the name is ours.
    Database(String),
    /// A SQLite file in a directory of its own, removed with it.
    File(tempfile::TempDir),
    /// `--shadow-url` or `shadow_url`: not ours to drop, only to empty.
    Given,
}

/// Where the shadow was, for the report (and for tests that check it is gone).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShadowInfo {
    /// The shadow's URL, password hidden.
    pub url: String,
    /// The created database's name, the SQLite file, or the given URL.
    pub location: String,
    /// Created by verify (and so dropped by it), rather than given.
    pub created: bool,
    /// `--keep-shadow`: left in place for inspection.
    pub kept: bool,
}

impl ShadowInfo {
    /// The first line of the text output.
    pub fn describe(&self) -> String {
        match (self.created, self.kept) {
            (true, false) => format!(
                "Shadow database {} (created for this run, dropped at the end)",
                self.location
            ),
            (true, true) => format!(
                "Shadow database {} (created for this run, kept: --keep-shadow)",
                self.location
            ),
            (false, _) => format!("Shadow database {} (given; emptied first)", self.location),
        }
    }

    /// The last line: what became of the shadow.
    pub fn farewell(&self) -> String {
        match (self.created, self.kept) {
            (true, false) => format!("The shadow database {} was dropped.", self.location),
            (false, false) => format!("The shadow database {} was emptied.", self.location),
            (_, true) => format!("The shadow database was kept for inspection: {}", self.url),
        }
    }
}

impl Shadow {
    /// Creates the shadow, or checks that the given one is empty and cleans it.
    pub async fn prepare(
        config: &Config,
        target: &mut dyn Driver,
        given: Option<&str>,
    ) -> Result<Shadow, Error> {
        let dialect = config.target.dialect;
        if let Some(shadow) = config.shadow_target(given)? {
            let shadow = Shadow {
                target: shadow,
                kind: Kind::Given,
                setup: None,
            };
            shadow.check_given(config).await?;
            return Ok(shadow);
        }
        let name = random_name();
        match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("godwit_shadow_")
                    .tempdir()
                    .map_err(|e| {
                        Error::Io(format!(
                            "cannot create a directory for the shadow database: {e}"
                        ))
                    })?;
                let url = format!(
                    "sqlite://{}",
                    dir.path().join(format!("{name}.db")).display()
                );
                Ok(Shadow {
                    target: parse_target(&url, "shadow database", &config.project_dir)?,
                    kind: Kind::File(dir),
                    setup: None,
                })
            }
            Dialect::Postgres | Dialect::MySql => {
                // Build the URL first: once the database exists, nothing may fail before
                // the caller owns it and will drop it.
                let mut url = url::Url::parse(&config.target.url).map_err(|e| {
                    Error::Config(format!("cannot derive a shadow URL from the target's: {e}"))
                })?;
                url.set_path(&format!("/{name}"));
                let shadow_target =
                    parse_target(url.as_str(), "shadow database", &config.project_dir)?;
                let setup = godwit_db::shadow::create_database(target, &name)
                    .await
                    .map_err(|e| create_error(config, &name, &e))?;
                Ok(Shadow {
                    target: shadow_target,
                    kind: Kind::Database(name),
                    setup,
                })
            }
        }
    }

    pub fn info(&self, kept: bool) -> ShadowInfo {
        let (location, created) = match &self.kind {
            Kind::Database(name) => (name.clone(), true),
            Kind::File(_) => (
                self.target.url.trim_start_matches("sqlite://").to_string(),
                true,
            ),
            Kind::Given => (self.target.display.clone(), false),
        };
        ShadowInfo {
            url: self.target.display.clone(),
            location,
            created,
            kept,
        }
    }

    /// SQL to run on the shadow before the first migration.
    pub fn setup(&self) -> Option<&str> {
        self.setup.as_deref()
    }

    /// The project's configuration pointed at the shadow.
    pub fn config(&self, base: &Config) -> Config {
        let mut config = base.clone();
        config.target = self.target.clone();
        config.wait = None;
        // A throwaway database needs no backups, nor copies of the data it drops.
        config.file.backup.policy = crate::config::BackupPolicy::Never;
        config
    }

    /// A given shadow must be another database, and hold nothing but godwit's tables:
    /// verify drops everything in it.
    async fn check_given(&self, config: &Config) -> Result<(), Error> {
        let origin = &self.target.origin;
        if self.target.dialect != config.target.dialect {
            return Err(Error::Config(format!(
                "{origin} is a {} database but the target is {}; the shadow must be the same kind of database",
                self.target.dialect, config.target.dialect
            )));
        }
        if same_database(&self.target, &config.target) {
            return Err(Error::Config(format!(
                "{origin} points at the target database itself ({}); verify empties its shadow, so give it a database of its own",
                self.target.display
            )));
        }
        let mut shadow = driver::connect(&self.config(config).connect_settings()).await?;
        let found = shadow.introspect().await?;
        if !found.is_empty() {
            let objects = found.object_names(5);
            return Err(Error::Config(format!(
                "the shadow database {} ({origin}) is not empty: {}{}\n  verify drops everything in its shadow, so it only uses a database that holds nothing but godwit's own tables; \
                 point {origin} at an empty database, or leave it out and let verify create one",
                self.target.display,
                objects.join(", "),
                if objects.len() == 5 { ", …" } else { "" }
            )));
        }
        // History and lock tables left by an earlier run.
        shadow.drop_everything().await?;
        Ok(())
    }

    /// Drops (or empties) the shadow unless `keep`; runs whatever happened before.
    pub async fn finish(
        self,
        config: &Config,
        target: &mut dyn Driver,
        keep: bool,
    ) -> Result<(), Error> {
        match self.kind {
            Kind::File(dir) if keep => {
                let _ = dir.keep();
                Ok(())
            }
            // Dropping the TempDir removes the file and its journal.
            Kind::File(dir) => dir
                .close()
                .map_err(|e| Error::Io(format!("cannot remove the shadow database file: {e}"))),
            Kind::Database(_) | Kind::Given if keep => Ok(()),
            Kind::Database(name) => {
                let fail = |e: &SqlError| {
                    Error::db(
                        format!("cannot drop the shadow database {name}; drop it by hand"),
                        e,
                    )
                };
                godwit_db::shadow::drop_database(target, &name)
                    .await
                    .map_err(|e| fail(&e))
            }
            Kind::Given => {
                let mut shadow = driver::connect(&self.config(config).connect_settings()).await?;
                shadow.drop_everything().await?;
                Ok(())
            }
        }
    }
}

/// Runs `work` on a shadow made for it (given its configuration, the SQL to run there
/// first, and where it is), then drops or empties the shadow whatever happened, Ctrl-C
/// included; an error that leaves a shadow behind says so.
pub(crate) async fn with_shadow<T, Fut>(
    command: &str,
    config: &Config,
    target: &mut dyn Driver,
    given: Option<&str>,
    keep: bool,
    work: impl FnOnce(Config, Option<String>, ShadowInfo) -> Fut,
) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let shadow = Shadow::prepare(config, target, given).await?;
    let work = work(
        shadow.config(config),
        shadow.setup().map(str::to_string),
        shadow.info(keep),
    );
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = interrupted() => Err(Error::Database {
            context: format!("{command} was interrupted"),
            message: format!("{signal}; the shadow database was cleaned up"),
        }),
    };
    let cleaned = shadow.finish(config, target, keep).await;
    match (outcome, cleaned) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        // A shadow left behind is the one thing the user must hear about.
        (Err(e), Err(cleanup)) => Err(Error::Database {
            context: e.to_string(),
            message: format!("and the shadow database could not be removed: {cleanup}"),
        }),
    }
}

/// Runs the shadow's setup SQL (the target's schema, on PostgreSQL), if any.
pub(crate) async fn run_setup(shadow: &mut dyn Session, setup: Option<&str>) -> Result<(), Error> {
    if let Some(sql) = setup {
        shadow
            .execute(sql)
            .await
            .map_err(|e| Error::db(format!("cannot prepare the shadow database ({sql})"), &e))?;
    }
    Ok(())
}

async fn interrupted() -> &'static str {
    // A signal we cannot listen for must not look like one that arrived.
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = ctrl_c => "interrupted (Ctrl-C)",
                _ = term.recv() => "terminated (SIGTERM)",
            };
        }
    }
    ctrl_c.await;
    "interrupted (Ctrl-C)"
}

/// `godwit_shadow_` and 12 hex digits: unique enough for concurrent runs on one server,
/// and lowercase so that no dialect needs to quote it.
fn random_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!("{}:{nanos}:{}", std::process::id(), driver::hostname());
    let digest = Sha256::digest(seed.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("godwit_shadow_{hex}")
}

fn create_error(config: &Config, name: &str, err: &SqlError) -> Error {
    let denied = err.is_access_denied();
    let message = godwit_db::describe_db_error(err);
    if !denied {
        return Error::Database {
            context: format!("cannot create the shadow database {name}"),
            message,
        };
    }
    let grant = match config.target.dialect {
        Dialect::Postgres => "ALTER ROLE <user> CREATEDB",
        _ => "GRANT ALL ON `godwit_shadow_%`.* TO <user>",
    };
    Error::Config(format!(
        "cannot create the shadow database {name}: {message}\n  \
         the user in the database URL may not create databases. Either allow it ({grant}), \
         or give verify an empty database to use: `--shadow-url URL`, or shadow_url in godwit.toml"
    ))
}

/// Whether two URLs name the same database, so that verify never empties the target.
fn same_database(a: &Target, b: &Target) -> bool {
    if a.dialect == Dialect::Sqlite {
        let canonical = |p: std::path::PathBuf| std::fs::canonicalize(&p).unwrap_or(p);
        return match (a.sqlite_file(), b.sqlite_file()) {
            (Some(x), Some(y)) => canonical(x) == canonical(y),
            // In memory (or not a file): the same only if the URLs are.
            _ => a.url == b.url,
        };
    }
    let parts = |t: &Target| {
        let url = url::Url::parse(&t.url).ok()?;
        let host = match url.host_str()?.to_ascii_lowercase().as_str() {
            "127.0.0.1" | "::1" | "[::1]" => "localhost".to_string(),
            other => other.to_string(),
        };
        let port = url.port().unwrap_or(match t.dialect {
            Dialect::Postgres => 5432,
            _ => 3306,
        });
        Some((host, port, url.path().trim_matches('/').to_string()))
    };
    parts(a).is_some() && parts(a) == parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        parse_target(url, "test", std::path::Path::new("/tmp")).unwrap()
    }

    #[test]
    fn the_target_is_never_its_own_shadow() {
        assert!(same_database(
            &target("postgres://u:p@localhost/app"),
            &target("postgres://other@127.0.0.1:5432/app")
        ));
        assert!(!same_database(
            &target("postgres://u@localhost/app"),
            &target("postgres://u@localhost/app_shadow")
        ));
        assert!(!same_database(
            &target("mysql://u@db1/app"),
            &target("mysql://u@db2/app")
        ));
        assert!(same_database(
            &target("sqlite:///tmp/x/app.db"),
            &target("sqlite:///tmp/x/app.db?mode=rwc")
        ));
    }

    #[test]
    fn shadow_names_are_plain_and_distinct() {
        let a = random_name();
        std::thread::sleep(std::time::Duration::from_millis(1));
        let b = random_name();
        assert_ne!(a, b);
        assert!(a.starts_with("godwit_shadow_") && a.len() == "godwit_shadow_".len() + 12);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        );
    }
}
