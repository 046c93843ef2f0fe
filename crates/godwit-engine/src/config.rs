//! Configuration: `godwit.toml`, the environment, `.env` and command-line flags.
//!
//! The database URL is looked up in a fixed order so that a deploy never lands on a
//! database the operator did not mean: `--database-url`, then `direct_url` from
//! godwit.toml (it exists precisely for migrations that must bypass a pooler), then
//! `DATABASE_URL`, then `.env`, then `database_url` from godwit.toml, and only then the
//! embedded SQLite file — which is refused outside development, and refused whenever a
//! look-alike variable such as `DB_URL` suggests the operator meant something else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use godwit_core::Dialect;

/// godwit.toml, a flag or the environment is wrong. The sentence says what, where, and
/// what to do; it becomes [`crate::error::Error::Config`] (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The file a project is configured by.
pub const CONFIG_FILE: &str = "godwit.toml";

/// Where the embedded SQLite database lives, relative to the project directory.
pub const DEFAULT_SQLITE_PATH: &str = ".godwit/godwit.db";

pub mod targets;

pub use godwit_core::project::keep_out_of_git;

/// Values given on the command line; they win over everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    /// Keep retrying an unreachable database for this long.
    pub wait: Option<Duration>,
    pub lock_wait: Option<Duration>,
}

/// godwit.toml as written by the user. Unknown keys are an error so that a typo such as
/// `lock_timout` is reported instead of silently ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `development` allows `reset` and the embedded SQLite fallback.
    pub environment: Option<String>,
    /// Directory holding one sub-directory per migration.
    pub migrations: Option<PathBuf>,
    /// The application's URL; may be `env(NAME)`.
    pub database_url: Option<String>,
    /// A URL used for migrations instead of `database_url` (e.g. bypassing PgBouncer).
    pub direct_url: Option<String>,
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub connect_timeout: Option<Duration>,
    /// How long to wait for another deployer's migration lock.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub lock_wait: Option<Duration>,
    /// Default `lock_timeout` for every migration; a file's directive overrides it.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub lock_timeout: Option<Duration>,
    /// Default `statement_timeout` for every migration; a file's directive overrides it.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub statement_timeout: Option<Duration>,
    /// How many times a migration is retried after hitting its lock timeout.
    pub lock_retries: Option<u32>,
    /// Apply a pending migration older than the newest applied one.
    pub allow_out_of_order: Option<bool>,
    /// `advisory` (default on PostgreSQL and MySQL) or `lease` (a row in `godwit_lock`,
    /// for connection poolers where session locks do not survive).
    pub lock: Option<LockMode>,
    /// Whose migrations folder this is: `godwit`, `prisma`, `drizzle`, `sqlx`, `flyway`,
    /// `goose`, `dbmate` or `golang-migrate`. Detected when unset.
    pub layout: Option<godwit_core::source::Layout>,
    /// File names as a pattern, e.g. `V{version}.{name}.{direction}.sql`, for folders no
    /// known tool wrote.
    pub pattern: Option<String>,
    /// A database `verify` may create objects in, for users who cannot create databases.
    pub shadow_url: Option<String>,
    /// The declared schema `godwit diff` compares the migrations with: a file or
    /// directory of DDL (`schema = "schema"`), or a command printing DDL
    /// (`schema = { command = "npx drizzle-kit export" }`).
    pub schema: Option<SchemaSource>,
    /// SQL run on every connection godwit opens to the database (and to `verify`'s
    /// shadow) before anything else: session settings the migrations were written for,
    /// e.g. `"SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"`. One statement or a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub init_sql: Vec<String>,
    #[serde(default)]
    pub lint: LintSettings,
    #[serde(default)]
    pub backup: BackupSettings,
    /// `[throttle]`: when steps hold their batches back for the database's health.
    #[serde(default)]
    pub throttle: ThrottleSettings,
    /// `[plugins.NAME]`: every plugin the project may run, by the name steps use.
    #[serde(default)]
    pub plugins: std::collections::BTreeMap<String, PluginSettings>,
}

/// Where the declared schema comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaSource {
    /// A `.sql` file, or a directory whose `.sql` files are read in name order; relative
    /// to the project directory.
    Path(PathBuf),
    /// A shell command run in the project directory; its standard output is the DDL.
    Command(String),
}

impl<'de> Deserialize<'de> for SchemaSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shape = "`schema` is a file or directory of DDL (schema = \"schema\") or a command \
                     that prints DDL (schema = { command = \"npx drizzle-kit export\" })";
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(path) if !path.trim().is_empty() => {
                Ok(SchemaSource::Path(PathBuf::from(path)))
            }
            toml::Value::Table(table) => match (table.get("command"), table.len()) {
                (Some(toml::Value::String(command)), 1) if !command.trim().is_empty() => {
                    Ok(SchemaSource::Command(command.clone()))
                }
                _ => Err(serde::de::Error::custom(format!(
                    "{shape}; a table takes one key, `command`, a non-empty string"
                ))),
            },
            _ => Err(serde::de::Error::custom(shape)),
        }
    }
}

/// `[plugins.NAME]`: where a plugin comes from, its pin, and what the operator grants it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// A `.wasm` file, relative to the project directory.
    pub path: Option<PathBuf>,
    /// A first-party plugin embedded in godwit, e.g. `column-copy`.
    pub builtin: Option<String>,
    /// SHA-256 of the file, lower-case hex; required for `path` plugins.
    pub sha256: Option<String>,
    /// SHA-256 of the sidecar manifest beside the file (`NAME.toml` for `NAME.wasm`),
    /// required when there is one: the manifest says what the plugin asks for, so a pin
    /// that left it out would let it change after review. `godwit plugin add` records it
    /// in godwit.lock.
    pub manifest_sha256: Option<String>,
    /// Validators and notifiers run when declared and enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub grants: godwit_plugin::capability::Grants,
    #[serde(default)]
    pub limits: PluginLimits,
    /// `[plugins.NAME.config]`, handed to the plugin by `host.config()`; a step.toml's
    /// `[config]` overrides it key by key.
    #[serde(default, deserialize_with = "plugin_config")]
    pub config: Vec<(String, godwit_core::value::Value)>,
    /// Who, besides godwit's SQL checker, confines the plugin's statements to its grants:
    /// `"database"` (the default: SQLite's authorizer, a PostgreSQL role) or
    /// `"checker-only"`, the operator's explicit choice to rely on the checker alone.
    #[serde(default)]
    pub enforcement: Enforcement,
    /// PostgreSQL: a role an administrator created for this plugin's statements, which
    /// godwit enters and keeps the privileges of instead of creating one of its own.
    pub database_role: Option<String>,
}

pub use godwit_core::Enforcement;

fn yes() -> bool {
    true
}

fn plugin_config<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Vec<(String, godwit_core::value::Value)>, D::Error> {
    let table = toml::Table::deserialize(de)?;
    Ok(table.into_iter().map(|(k, v)| (k, v.into())).collect())
}

/// `[plugins.NAME.limits]`: the operator's ceilings. A limit not set here is godwit's
/// default (see [`godwit_plugin::Limits`]); a manifest may ask for less, never for more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Bytes, written `"128MiB"`.
    #[serde(default, deserialize_with = "deserialize_size")]
    pub memory: Option<u64>,
    /// Written `"10s"`.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub timeout: Option<Duration>,
    pub fuel: Option<u64>,
}

impl PluginLimits {
    /// Refuses limits no call can run under: no time at all, more time than
    /// [`godwit_plugin::MAX_TIMEOUT`], or more memory than a plugin can have.
    pub fn validate(&self) -> Result<(), String> {
        use godwit_plugin::{MAX_TIMEOUT, POOL_MAX_MEMORY};
        if let Some(timeout) = self.timeout {
            if timeout.is_zero() {
                return Err("timeout = \"0\" leaves a plugin no time at all; write how long one call may take, e.g. \"10s\"".to_owned());
            }
            if timeout > MAX_TIMEOUT {
                return Err(format!(
                    "timeout = \"{}\" is longer than godwit lets a plugin call run ({}); a call is one batch, so make batches smaller rather than calls longer",
                    humantime::format_duration(timeout),
                    humantime::format_duration(MAX_TIMEOUT)
                ));
            }
        }
        if let Some(memory) = self.memory
            && memory > POOL_MAX_MEMORY as u64
        {
            return Err(format!(
                "memory = {memory} bytes is more than a plugin can have ({} MiB)",
                POOL_MAX_MEMORY >> 20
            ));
        }
        Ok(())
    }
}

/// Where a plugin's code comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginSource {
    /// An absolute path, resolved against the project directory.
    File(PathBuf),
    Builtin(String),
}

impl PluginSettings {
    /// Checks what serde cannot: exactly one of `path`/`builtin`, a well-formed pin, and
    /// a pin for every file plugin.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        let at = format!("[plugins.{name}]");
        match (&self.path, &self.builtin) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{at} sets both `path` and `builtin`; a plugin comes from one or the other"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "{at} needs `path = \"plugins/NAME.wasm\"` or `builtin = \"NAME\"`"
                ));
            }
            _ => {}
        }
        if let Some(pin) = &self.sha256
            && !crate::lockfile::is_digest(pin)
        {
            return Err(format!(
                "{at} sha256 = \"{pin}\" is not a SHA-256 digest (64 lower-case hex digits)"
            ));
        }
        if let Some(pin) = &self.manifest_sha256
            && !crate::lockfile::is_digest(pin)
        {
            return Err(format!(
                "{at} manifest_sha256 = \"{pin}\" is not a SHA-256 digest (64 lower-case hex digits)"
            ));
        }
        if self.path.is_some() && self.sha256.is_none() {
            let path = self.path.as_deref().unwrap_or(Path::new("")).display();
            return Err(format!(
                "{at} is not pinned: neither godwit.toml nor godwit.lock gives its SHA-256, so a changed file could not be refused\n  \
                 install it with `godwit plugin add {path}`, which pins it in godwit.lock, \
                 or copy the digest `sha256sum {path}` prints into `sha256 = \"...\"`"
            ));
        }
        if let Some(role) = &self.database_role {
            if self.enforcement == Enforcement::CheckerOnly {
                return Err(format!(
                    "{at} sets both `database_role` and `enforcement = \"checker-only\"`: a role confines the plugin's statements, \
                     checker-only means nothing does; keep the one you mean"
                ));
            }
            if role.is_empty() || role.len() > 63 || role.contains('\0') {
                return Err(format!(
                    "{at} database_role = {role:?} is not a PostgreSQL role name (1 to 63 bytes)"
                ));
            }
        }
        self.limits
            .validate()
            .map_err(|e| format!("{at} limits: {e}"))?;
        self.grants
            .validate()
            .map_err(|e| format!("{at} grants: {e}"))
    }

    /// Takes the pin from godwit.lock when godwit.toml has none; a pin in both must agree.
    /// A built-in plugin added with `godwit plugin add builtin:NAME` is pinned too, so a
    /// godwit whose built-in differs refuses it until it is added again.
    fn apply_lock(&mut self, name: &str, lock: &crate::lockfile::Lock) -> Result<(), String> {
        let Some(entry) = lock.get(name) else {
            return Ok(());
        };
        match &self.sha256 {
            Some(pin) if *pin != entry.sha256 => {
                return Err(format!(
                    "[plugins.{name}] in godwit.toml pins sha256 = \"{pin}\", but godwit.lock pins {}; \
                     remove the `sha256` line from godwit.toml to use the lock, or `godwit plugin add` the file you trust again",
                    entry.sha256
                ));
            }
            Some(_) => {}
            None => self.sha256 = Some(entry.sha256.clone()),
        }
        match (&self.manifest_sha256, &entry.manifest_sha256) {
            (Some(pin), Some(locked)) if pin != locked => {
                return Err(format!(
                    "[plugins.{name}] in godwit.toml pins manifest_sha256 = \"{pin}\", but godwit.lock pins {locked}; \
                     remove the `manifest_sha256` line from godwit.toml to use the lock, or `godwit plugin add` the plugin you trust again"
                ));
            }
            (None, Some(locked)) => self.manifest_sha256 = Some(locked.clone()),
            _ => {}
        }
        Ok(())
    }

    /// Where the code is; relative paths are taken from the project directory.
    pub fn source(&self, project_dir: &Path) -> PluginSource {
        match (&self.path, &self.builtin) {
            (Some(path), _) => PluginSource::File(project_dir.join(path)),
            (None, Some(name)) => PluginSource::Builtin(name.clone()),
            (None, None) => PluginSource::Builtin(String::new()),
        }
    }
}

pub use godwit_lint::{LintSettings, RuleLevel};

/// `[backup]`: when deploy backs up the whole database first, and where files go.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    #[serde(default)]
    pub policy: BackupPolicy,
    /// Directory for backup files, relative to the project (default `.godwit/backups`).
    pub dir: Option<PathBuf>,
}

/// `[throttle]`: the project's defaults for holding a step's batches back while the
/// database is unhealthy (each step's `[batch]` overrides them), and the replicas whose lag
/// counts. See [`crate::health`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Replicas to measure lag on, each a URL or `env(NAME)`. Empty: PostgreSQL asks the
    /// primary (`pg_stat_replication`); MySQL and MariaDB need them, as a primary there
    /// does not know its replicas' lag.
    #[serde(default)]
    pub replicas: Vec<String>,
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub max_replication_lag: Option<Duration>,
    pub health_query: Option<String>,
    /// The longest one pause may last before the step stops (default 30 minutes).
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub max_pause: Option<Duration>,
    /// How often the health is measured: before a batch at most this often while healthy,
    /// and this often while paused (default 1s).
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub check_every: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupPolicy {
    Always,
    /// Before a run that contains a destructive statement (drop, truncate, delete).
    #[default]
    Destructive,
    Never,
}

/// `"SQL"` or `["SQL", ...]`.
fn one_or_many<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

pub use godwit_core::duration::{MAX_DURATION, parse_duration, parse_size};
use godwit_core::duration::{deserialize_duration, deserialize_size};
use godwit_db::redact::{is_secret_param, redact_url_text, register_secret};
pub use godwit_db::redact::{redact, redact_url};
pub use godwit_db::{ConnectSettings, LockMode, Target};

/// Everything a command needs, resolved once.
#[derive(Clone, Debug)]
pub struct Config {
    pub project_dir: PathBuf,
    pub file: FileConfig,
    pub migrations_dir: PathBuf,
    pub target: Target,
    pub connect_timeout: Duration,
    pub wait: Option<Duration>,
    pub lock_wait: Duration,
    pub lock_retries: u32,
    pub lock_mode: LockMode,
    /// The layout detected from the migrations folder, when godwit.toml names neither a
    /// layout nor a pattern: detecting reads every file, so it is done once per command
    /// (the drivers' session and the reader both need it). `None` inside: detection
    /// failed, and the reader reports why.
    pub(crate) detected: std::sync::OnceLock<Option<godwit_core::source::Layout>>,
}

impl Config {
    /// What the drivers need to connect to [`Config::target`], and nothing else of the
    /// configuration.
    pub fn connect_settings(&self) -> ConnectSettings {
        ConnectSettings {
            target: self.target.clone(),
            wait: self.wait,
            connect_timeout: self.connect_timeout,
            init_sql: self.file.init_sql.clone(),
            lock_mode: if self.target.dialect == Dialect::Sqlite {
                LockMode::Lease
            } else {
                self.lock_mode
            },
            session: match self.layout().layout {
                Some(godwit_core::source::Layout::Sqlx) => godwit_db::ToolSession::Sqlx,
                Some(godwit_core::source::Layout::Diesel) => godwit_db::ToolSession::Diesel,
                _ => godwit_db::ToolSession::Server,
            },
            meter: !self.file.plugins.is_empty(),
        }
    }

    /// Reads `dir/godwit.toml` (optional), `.env` and the environment.
    pub fn load(dir: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        let project_dir = project_dir(dir)?;
        let file = FileConfig::read(&project_dir)?;
        let dotenv = read_dotenv(&project_dir)?;
        let target = resolve_target(&project_dir, &file, overrides, &dotenv, &|k| {
            std::env::var(k).ok()
        })?;
        Config::for_target(project_dir, file, overrides, target)
    }

    /// The project's settings for this database rather than the configured one: each
    /// target of `deploy --targets` (`project_dir` as [`project_dir`] returns it).
    pub fn for_target(
        project_dir: PathBuf,
        file: FileConfig,
        overrides: &Overrides,
        target: Target,
    ) -> Result<Config, ConfigError> {
        let migrations_dir = file.migrations_dir(&project_dir);
        if target.dialect != Dialect::Postgres
            && let Some((name, _)) = file.plugins.iter().find(|(_, p)| p.database_role.is_some())
        {
            return Err(ConfigError(format!(
                "[plugins.{name}] database_role names a PostgreSQL role, but {} is a {} database: \
                 remove it (on SQLite godwit's authorizer confines plugins; on MySQL/MariaDB only the checker does, see docs/security.md)",
                target.display, target.dialect
            )));
        }
        Ok(Config {
            connect_timeout: file.connect_timeout.unwrap_or(Duration::from_secs(10)),
            wait: overrides.wait,
            lock_wait: overrides
                .lock_wait
                .or(file.lock_wait)
                .unwrap_or(Duration::from_secs(60)),
            lock_retries: file.lock_retries.unwrap_or(3),
            lock_mode: file.lock.unwrap_or_default(),
            project_dir,
            migrations_dir,
            target,
            file,
            detected: std::sync::OnceLock::new(),
        })
    }

    /// The same settings against another database.
    pub fn with_target(self, target: Target) -> Config {
        Config { target, ..self }
    }

    /// How to read the migrations folder: godwit.toml's layout or pattern, else the
    /// layout detected from the folder (once per command).
    pub fn layout(&self) -> godwit_core::source::LayoutSpec {
        let mut spec = self.file.layout();
        if spec.layout.is_none() && spec.pattern.is_none() {
            spec.layout = *self
                .detected
                .get_or_init(|| godwit_core::source::detect(&self.migrations_dir).ok());
        }
        spec
    }

    pub fn is_development(&self) -> bool {
        self.file.environment.as_deref() == Some("development")
    }

    /// The database `verify` was given to use as its shadow: `--shadow-url` (passed in as
    /// `flag`), else `shadow_url` in godwit.toml; `None` means godwit creates one.
    pub fn shadow_target(&self, flag: Option<&str>) -> Result<Option<Target>, ConfigError> {
        let (url, origin) = match (flag, &self.file.shadow_url) {
            (Some(url), _) => (url.to_string(), "--shadow-url"),
            (None, Some(value)) => {
                let dotenv = read_dotenv(&self.project_dir)?;
                let lookup = |key: &str| {
                    std::env::var(key).ok().or_else(|| {
                        dotenv
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, v)| v.clone())
                    })
                };
                (
                    expand_env("shadow_url", value, &lookup)?,
                    "shadow_url in godwit.toml",
                )
            }
            (None, None) => return Ok(None),
        };
        parse_target(&url, origin, &self.project_dir).map(Some)
    }

    /// The replicas of `[throttle] replicas`, with `env(NAME)` read from the environment
    /// and then .env; each must be a database of the same kind as the target.
    pub fn replica_targets(&self) -> Result<Vec<Target>, ConfigError> {
        if self.file.throttle.replicas.is_empty() {
            return Ok(Vec::new());
        }
        let dotenv = read_dotenv(&self.project_dir)?;
        let lookup = |key: &str| {
            std::env::var(key).ok().or_else(|| {
                dotenv
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
        };
        let mut targets = Vec::new();
        for (i, value) in self.file.throttle.replicas.iter().enumerate() {
            let field = format!("[throttle] replicas[{i}]");
            let url = expand_env(&field, value, &lookup)?;
            let target = parse_target(&url, &format!("{field} in godwit.toml"), &self.project_dir)?;
            if target.dialect != self.target.dialect {
                return Err(ConfigError(format!(
                    "{field} in godwit.toml is a {} database ({}), but the database migrated is {} ({}): a replica is a copy of it, of the same kind",
                    target.dialect, target.display, self.target.dialect, self.target.display
                )));
            }
            targets.push(target);
        }
        Ok(targets)
    }
}

/// The project directory given with `-C`, made absolute so that relative SQLite paths
/// and messages do not depend on the working directory.
pub fn project_dir(dir: &Path) -> Result<PathBuf, ConfigError> {
    std::fs::canonicalize(dir).map_err(|e| {
        ConfigError(format!(
            "project directory {} cannot be used (given with -C): {e}",
            dir.display()
        ))
    })
}

/// Looks a variable up as `env(NAME)` in godwit.toml does: the environment, then the
/// project's `.env`.
pub fn env_lookup(project_dir: &Path) -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    let dotenv = read_dotenv(project_dir)?;
    Ok(move |key: &str| {
        std::env::var(key).ok().or_else(|| {
            dotenv
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        })
    })
}

impl FileConfig {
    /// Reads `dir/godwit.toml`; a missing file is an empty configuration.
    ///
    /// Commands that need no database (`lint`) use this instead of [`Config::load`], so a
    /// missing or broken database URL does not stop them.
    pub fn read(dir: &Path) -> Result<FileConfig, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let mut file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<FileConfig>(&text).map_err(|e| {
                ConfigError(format!(
                    "{} is not valid: {}",
                    path.display(),
                    e.to_string().trim_end()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(e) => {
                return Err(ConfigError(format!("cannot read {}: {e}", path.display())));
            }
        };
        file.lint.lock_timeout = file.lock_timeout;
        let lock = crate::lockfile::Lock::read(dir).map_err(ConfigError)?;
        for (name, plugin) in &mut file.plugins {
            plugin.apply_lock(name, &lock).map_err(ConfigError)?;
        }
        for (name, plugin) in &file.plugins {
            plugin
                .validate(name)
                .map_err(|e| ConfigError(format!("{} is not valid: {e}", path.display())))?;
        }
        Ok(file)
    }

    /// How to read the migrations folder: `layout` / `pattern`, else detected.
    pub fn layout(&self) -> godwit_core::source::LayoutSpec {
        godwit_core::source::LayoutSpec {
            layout: self.layout,
            pattern: self.pattern.clone(),
        }
    }

    /// The migrations directory under the project directory `dir`: `migrations` from
    /// godwit.toml, else the first folder another tool would use that exists.
    pub fn migrations_dir(&self, dir: &Path) -> PathBuf {
        match &self.migrations {
            Some(migrations) => dir.join(migrations),
            None => default_migrations_dir(dir),
        }
    }
}

/// The dialect of the database URL the project is configured with, and where that URL
/// came from, looked up in the same order as [`Config::load`] but never failing: for
/// commands that only need to know which SQL to expect.
pub fn configured_dialect(
    dir: &Path,
    file: &FileConfig,
    database_url: Option<&str>,
) -> Option<(Dialect, String)> {
    let dotenv = read_dotenv(dir).unwrap_or_default();
    let lookup = |key: &str| {
        std::env::var(key).ok().or_else(|| {
            dotenv
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        })
    };
    let from_file = |value: &str| match value
        .trim()
        .strip_prefix("env(")
        .and_then(|v| v.strip_suffix(')'))
    {
        Some(name) => lookup(name.trim().trim_matches('"')),
        None => Some(value.to_string()),
    };
    let candidates = [
        database_url.map(|u| (u.to_string(), "--database-url")),
        file.direct_url
            .as_deref()
            .and_then(from_file)
            .map(|u| (u, "direct_url in godwit.toml")),
        lookup("DATABASE_URL").map(|u| (u, "DATABASE_URL")),
        file.database_url
            .as_deref()
            .and_then(from_file)
            .map(|u| (u, "database_url in godwit.toml")),
    ];
    candidates.into_iter().flatten().find_map(|(url, origin)| {
        let scheme = url.trim().split(':').next()?.to_ascii_lowercase();
        let dialect = match scheme.as_str() {
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            "sqlite" => Dialect::Sqlite,
            _ => return None,
        };
        Some((dialect, origin.to_string()))
    })
}

/// Where each tool keeps its migrations, so an existing project needs no `migrations` key.
const MIGRATION_DIRS: &[&str] = &[
    "migrations",
    "prisma/migrations",
    "drizzle",
    "db/migrations",
    "db/migration",
    "src/main/resources/db/migration",
    "sql",
];

fn default_migrations_dir(project_dir: &Path) -> PathBuf {
    MIGRATION_DIRS
        .iter()
        .map(|d| project_dir.join(d))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| project_dir.join("migrations"))
}

fn read_dotenv(dir: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let path = dir.join(".env");
    match dotenvy::from_path_iter(&path) {
        Ok(iter) => iter
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError(format!("{} cannot be read: {e}", path.display()))),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ConfigError(format!(
            "{} cannot be read: {e}",
            path.display()
        ))),
    }
}

/// Names people put their URL under when they meant `DATABASE_URL`.
const LOOK_ALIKES: &[&str] = &[
    "DB_URL",
    "DATABASE_URI",
    "DB_URI",
    "DATABASEURL",
    "DATABASE_DSN",
    "DB_DSN",
    "DB_CONNECTION",
    "DB_CONNECTION_STRING",
    "POSTGRES_URL",
    "POSTGRESQL_URL",
    "PG_URL",
    "MYSQL_URL",
    "SQLITE_URL",
];

fn resolve_target(
    project_dir: &Path,
    file: &FileConfig,
    overrides: &Overrides,
    dotenv: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, ConfigError> {
    let from_dotenv = |key: &str| {
        dotenv
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let lookup = |key: &str| env(key).or_else(|| from_dotenv(key));
    let config_value = |field: &str, value: &str| expand_env(field, value, &lookup);

    let (url, origin) = if let Some(url) = &overrides.database_url {
        (url.clone(), "--database-url".to_string())
    } else if let Some(direct) = &file.direct_url {
        (
            config_value("direct_url", direct)?,
            "direct_url in godwit.toml".to_string(),
        )
    } else if let Some(url) = env("DATABASE_URL") {
        (url, "DATABASE_URL".to_string())
    } else if let Some(url) = from_dotenv("DATABASE_URL") {
        (url, "DATABASE_URL in .env".to_string())
    } else if let Some(url) = &file.database_url {
        (
            config_value("database_url", url)?,
            "database_url in godwit.toml".to_string(),
        )
    } else {
        let look_alikes: Vec<&str> = LOOK_ALIKES
            .iter()
            .copied()
            .chain(["database_url", "Database_Url"])
            .filter(|k| lookup(k).is_some())
            .collect();
        if !look_alikes.is_empty() {
            return Err(ConfigError(format!(
                "DATABASE_URL is not set, but {} is: did you mean DATABASE_URL?\n  godwit reads --database-url, DATABASE_URL (environment or .env) and database_url in godwit.toml; \
                 it will not guess, so that a deploy never lands on the wrong database",
                look_alikes.join(", ")
            )));
        }
        if file
            .environment
            .as_deref()
            .is_some_and(|e| e != "development")
        {
            return Err(ConfigError(format!(
                "DATABASE_URL is not set, and environment = \"{}\" in godwit.toml rules out the embedded SQLite default\n  \
                 set DATABASE_URL, pass --database-url, or set database_url in godwit.toml",
                file.environment.as_deref().unwrap_or_default()
            )));
        }
        // A folder that says which database it was written for (Prisma's lock file,
        // Drizzle's journal) is not applied to SQLite by default: it would fail there,
        // or worse, half work.
        if let Some((dialect, said)) =
            godwit_core::source::declared_dialect(&file.migrations_dir(project_dir))
                .filter(|(d, _)| *d != Dialect::Sqlite)
        {
            return Err(ConfigError(format!(
                "DATABASE_URL is not set, and the migrations are written for {dialect} ({said}): the embedded SQLite default does not fit them\n  \
                 set DATABASE_URL, pass --database-url, or set database_url in godwit.toml"
            )));
        }
        let path = project_dir.join(DEFAULT_SQLITE_PATH);
        (
            format!("sqlite://{}", path.display()),
            "embedded SQLite default".to_string(),
        )
    };
    parse_target(&url, &origin, project_dir)
}

/// `env(NAME)` in godwit.toml reads the environment, then .env.
fn expand_env(
    field: &str,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    match value
        .trim()
        .strip_prefix("env(")
        .and_then(|v| v.strip_suffix(')'))
    {
        Some(name) => {
            let name = name.trim().trim_matches('"');
            lookup(name).ok_or_else(|| {
                ConfigError(format!(
                    "godwit.toml sets {field} = \"env({name})\" but {name} is not set in the environment or in .env"
                ))
            })
        }
        None => Ok(value.to_string()),
    }
}

/// Checks a URL and works out its dialect; the error names where the URL came from.
pub fn parse_target(url: &str, origin: &str, project_dir: &Path) -> Result<Target, ConfigError> {
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(ConfigError(format!(
            "{origin} is set but empty; give a URL such as postgres://user:password@localhost:5432/app, mysql://root@localhost/app or sqlite://app.db"
        )));
    }
    let scheme = trimmed
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let dialect = match scheme.as_str() {
        "postgres" | "postgresql" => Dialect::Postgres,
        "mysql" | "mariadb" => Dialect::MySql,
        "sqlite" => Dialect::Sqlite,
        _ if !trimmed.contains("://") && !trimmed.starts_with("sqlite:") => {
            return Err(ConfigError(format!(
                "{origin} is not a URL: it needs a scheme, e.g. postgres://user:password@localhost:5432/app"
            )));
        }
        other => {
            let hint = match other {
                "postgress" | "pg" | "psql" | "pgsql" | "postgre" => " (did you mean postgres://?)",
                "mysql2" | "mysqlx" => " (did you mean mysql://?)",
                "sqlite3" | "file" => " (did you mean sqlite://?)",
                _ => "",
            };
            return Err(ConfigError(format!(
                "{origin} uses the scheme `{other}`{hint}, which godwit does not support; use postgres://, postgresql://, mysql://, mariadb:// or sqlite://"
            )));
        }
    };
    let schema_param = trimmed
        .split_once('?')
        .into_iter()
        .flat_map(|(_, query)| url::form_urlencoded::parse(query.as_bytes()))
        .find(|(key, _)| key == "schema")
        .map(|(_, value)| value.into_owned());
    match (dialect, &schema_param) {
        (Dialect::Postgres, Some(schema)) if schema.is_empty() || schema.len() > 63 => {
            return Err(ConfigError(format!(
                "{origin} has `?schema={schema}`: a PostgreSQL schema name is 1 to 63 bytes long; name the tenant's schema, e.g. ?schema=tenant_1"
            )));
        }
        (Dialect::MySql, Some(_)) => {
            return Err(ConfigError(format!(
                "{origin} has `?schema=`, which names a PostgreSQL schema; on MySQL/MariaDB a schema is a database: name it in the URL's path (mysql://user@host/tenant_1) and drop `?schema=`"
            )));
        }
        (Dialect::Sqlite, Some(_)) => {
            return Err(ConfigError(format!(
                "{origin} has `?schema=`, which names a PostgreSQL schema; SQLite has no schemas: give each tenant its own file (sqlite://tenant_1.db) and drop `?schema=`"
            )));
        }
        _ => {}
    }
    if dialect == Dialect::Sqlite {
        let path = trimmed
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        if path.is_empty() {
            return Err(ConfigError(format!(
                "{origin} names no SQLite file; write e.g. sqlite://app.db"
            )));
        }
        let url = if path == ":memory:" {
            "sqlite::memory:".to_string()
        } else {
            // Relative to the project, like every other path in godwit.toml.
            let full = if Path::new(path).is_absolute() {
                PathBuf::from(path)
            } else {
                project_dir.join(path)
            };
            let sep = if query.is_empty() { "" } else { "?" };
            format!("sqlite://{}{sep}{query}", full.display())
        };
        return Ok(Target {
            display: url.clone(),
            url,
            dialect,
            origin: origin.to_string(),
            schema: None,
        });
    }
    let parsed = url::Url::parse(trimmed).map_err(|e| {
        ConfigError(format!(
            "{origin} is not a valid URL ({e}): {}\n  expected e.g. postgres://user:password@localhost:5432/app (percent-encode special characters in the password)",
            redact_url_text(trimmed)
        ))
    })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError(format!(
            "{origin} names no host: {}",
            redact_url_text(trimmed)
        )));
    }
    if let Some(password) = parsed.password() {
        register_secret(password);
    }
    for (key, value) in parsed.query_pairs() {
        if is_secret_param(&key) {
            register_secret(&value);
        }
    }
    let shown = redact_url(&parsed);
    let mut real = parsed;
    if schema_param.is_some() {
        // godwit's own parameter: the driver sets the search_path from it.
        let kept: Vec<(String, String)> = real
            .query_pairs()
            .filter(|(key, _)| key != "schema")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        real.set_query(None);
        if !kept.is_empty() {
            real.query_pairs_mut().extend_pairs(kept);
        }
    }
    if real.scheme() == "mariadb" {
        let rest = &real.as_str()["mariadb".len()..];
        real = url::Url::parse(&format!("mysql{rest}")).expect("same URL with a different scheme");
    }
    Ok(Target {
        url: real.to_string(),
        display: shown,
        dialect,
        origin: origin.to_string(),
        schema: schema_param,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        file: FileConfig,
        env: &[(&str, &str)],
        dotenv: &[(&str, &str)],
    ) -> Result<Target, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dotenv: Vec<(String, String)> = dotenv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve_target(
            Path::new("/p"),
            &file,
            &Overrides::default(),
            &dotenv,
            &|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
        )
    }

    #[test]
    fn precedence_env_over_dotenv_over_file() {
        let file = FileConfig {
            database_url: Some("mysql://file/db".into()),
            ..Default::default()
        };
        let t = resolve(
            file.clone(),
            &[("DATABASE_URL", "postgres://env/db")],
            &[("DATABASE_URL", "postgres://dot/db")],
        )
        .unwrap();
        assert_eq!(t.origin, "DATABASE_URL");
        let t = resolve(file.clone(), &[], &[("DATABASE_URL", "postgres://dot/db")]).unwrap();
        assert_eq!(t.origin, "DATABASE_URL in .env");
        let t = resolve(file, &[], &[]).unwrap();
        assert_eq!(t.dialect, Dialect::MySql);
    }

    #[test]
    fn direct_url_wins_over_pooled_database_url() {
        let file = FileConfig {
            direct_url: Some("env(DIRECT_URL)".into()),
            ..Default::default()
        };
        let t = resolve(
            file,
            &[
                ("DATABASE_URL", "postgres://pooler:6432/db"),
                ("DIRECT_URL", "postgres://primary/db"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(t.url, "postgres://primary/db");
    }

    #[test]
    fn sqlite_default_is_refused_outside_development() {
        let file = FileConfig {
            environment: Some("production".into()),
            ..Default::default()
        };
        let err = resolve(file, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL is not set"), "{err}");
        let t = resolve(FileConfig::default(), &[], &[]).unwrap();
        assert_eq!(t.url, "sqlite:///p/.godwit/godwit.db");
    }

    #[test]
    fn look_alike_is_named() {
        let err = resolve(FileConfig::default(), &[("DB_URL", "postgres://x/y")], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DB_URL is: did you mean DATABASE_URL?"),
            "{err}"
        );
    }

    #[test]
    fn password_never_shown() {
        let t = parse_target("postgres://u:s3cr%40t@h/db", "x", Path::new("/")).unwrap();
        assert_eq!(t.display, "postgres://u:***@h/db");
        assert_eq!(
            redact("failed for s3cr@t and s3cr%40t"),
            "failed for *** and ***"
        );
        let err = parse_target(
            "postgres://u:p@ss word@h:99999/db",
            "DATABASE_URL",
            Path::new("/"),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("ss word"), "{err}");
    }

    /// Each place a password can sit in a URL, alone and together, plain and
    /// percent-encoded, for every scheme: the shown URL keeps everything else.
    #[test]
    fn every_password_in_a_url_is_hidden() {
        let cases = [
            (
                "postgres://u:pw1aa@h/db",
                "postgres://u:***@h/db",
                &["pw1aa"][..],
            ),
            (
                "postgres://u@h/db?password=pw2bb&sslmode=require",
                "postgres://u@h/db?password=***&sslmode=require",
                &["pw2bb"],
            ),
            (
                "postgresql://u:pw3cc@h:5432/db?sslpassword=pw4dd&password=pw5ee",
                "postgresql://u:***@h:5432/db?sslpassword=***&password=***",
                &["pw3cc", "pw4dd", "pw5ee"],
            ),
            (
                "mysql://root:p%40ss%3Aw6@h/db?PASSWORD=p%26w7",
                "mysql://root:***@h/db?PASSWORD=***",
                &["p%40ss%3Aw6", "p@ss:w6", "p%26w7", "p&w7"],
            ),
            (
                "mariadb://u:pw8ff@h/db?ssl-mode=REQUIRED",
                "mariadb://u:***@h/db?ssl-mode=REQUIRED",
                &["pw8ff"],
            ),
        ];
        for (url, shown, secrets) in cases {
            let t = parse_target(url, "x", Path::new("/")).unwrap();
            assert_eq!(t.display, shown, "{url}");
            for secret in secrets {
                // Once seen, the secret is gone from any later message, even out of a URL.
                let message = redact(&format!("server said: bad auth for {secret}"));
                assert!(!message.contains(secret), "{secret}: {message}");
            }
        }
    }

    /// URLs and settings godwit never parsed (a targets file, a driver's message) are
    /// masked too, without hiding what is not a secret.
    #[test]
    fn unseen_urls_and_settings_are_masked() {
        let text = "cannot reach mysql://app:zz9q@db:3306/x and postgres://a@b/c?sslmode=disable&password=yy8r; host=h password='x y z' user=u pwd=ww7s";
        let out = redact(text);
        for secret in ["zz9q", "yy8r", "x y z", "ww7s"] {
            assert!(!out.contains(secret), "{secret}: {out}");
        }
        for kept in [
            "mysql://app:***@db:3306/x",
            "sslmode=disable",
            "host=h",
            "user=u",
        ] {
            assert!(out.contains(kept), "{kept}: {out}");
        }
    }

    #[test]
    fn schemes() {
        let err = parse_target("postgress://h/db", "DATABASE_URL", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean postgres://"), "{err}");
        let t = parse_target("mariadb://root@h/db", "x", Path::new("/")).unwrap();
        assert!(t.url.starts_with("mysql://"));
        let t = parse_target("sqlite:app.db", "x", Path::new("/proj")).unwrap();
        assert_eq!(t.url, "sqlite:///proj/app.db");
        assert!(parse_target("   ", "DATABASE_URL", Path::new("/")).is_err());
    }

    fn plugins(text: &str) -> Result<FileConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        FileConfig::read(dir.path())
    }

    const PIN: &str = "9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c9f2c";

    #[test]
    fn plugin_sections_parse_in_full() {
        let file = plugins(&format!(
            r#"
[plugins.normalize-email]
path = "plugins/normalize_email.wasm"
sha256 = "{PIN}"
enabled = false

[plugins.normalize-email.grants]
read = ["users"]
write = ["users.email_normalized"]
env = ["GITHUB_STEP_SUMMARY"]
dir = "audit"
hosts = ["127.0.0.1:8080"]

[plugins.normalize-email.limits]
memory = "128MiB"
timeout = "10s"
fuel = 100000000

[plugins.normalize-email.config]
table = "users"
batch = 10
tags = ["a", "b"]

[plugins.copy]
builtin = "column-copy"
"#
        ))
        .unwrap();
        let p = &file.plugins["normalize-email"];
        assert!(!p.enabled);
        assert_eq!(p.grants.write, ["users.email_normalized"]);
        assert_eq!(p.grants.dir.as_deref(), Some(Path::new("audit")));
        assert_eq!(p.limits.memory, Some(128 << 20));
        assert_eq!(p.limits.timeout, Some(Duration::from_secs(10)));
        assert_eq!(p.limits.fuel, Some(100_000_000));
        use godwit_core::value::Value;
        assert_eq!(
            p.config,
            vec![
                ("batch".to_string(), Value::Int(10)),
                ("table".to_string(), Value::Text("users".into())),
                ("tags".to_string(), Value::Json(r#"["a","b"]"#.into())),
            ]
        );
        assert_eq!(
            p.source(Path::new("/proj")),
            PluginSource::File(PathBuf::from("/proj/plugins/normalize_email.wasm"))
        );
        let copy = &file.plugins["copy"];
        assert!(copy.enabled, "enabled by default");
        assert_eq!(
            copy.source(Path::new("/proj")),
            PluginSource::Builtin("column-copy".into())
        );
    }

    #[test]
    fn plugin_mistakes_are_named() {
        for (text, needle) in [
            ("[plugins.a]\nbuiltin = \"x\"\nenable = true\n", "enable"),
            (
                "[plugins.a]\nbuiltin = \"x\"\n[plugins.a.grants]\nreads = []\n",
                "reads",
            ),
            (
                "[plugins.a]\nbuiltin = \"x\"\n[plugins.a.limits]\nmemory = \"lots\"\n",
                "not a size",
            ),
            (
                "[plugins.a]\nbuiltin = \"x\"\n[plugins.a.limits]\ntimeout = \"soon\"\n",
                "not a duration",
            ),
            ("[plugins.a]\n", "needs `path"),
            (
                "[plugins.a]\nbuiltin = \"x\"\npath = \"a.wasm\"\n",
                "both `path` and `builtin`",
            ),
            ("[plugins.a]\npath = \"a.wasm\"\n", "is not pinned"),
            (
                "[plugins.a]\nbuiltin = \"x\"\nsha256 = \"abc\"\n",
                "not a SHA-256",
            ),
            (
                "[plugins.a]\nbuiltin = \"x\"\n[plugins.a.grants]\nwrite = [\"users\"]\n",
                "table.column",
            ),
        ] {
            let err = plugins(text).unwrap_err().to_string();
            assert!(err.contains("godwit.toml is not valid"), "{text}: {err}");
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn absurd_durations_are_refused_not_overflowed() {
        for text in [
            "400000000000years",
            "600000000000years",
            "1000years",
            "367days",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(text), "{text}: {err}");
        }
        assert_eq!(parse_duration("366days"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("1000h"), Ok(Duration::from_secs(3_600_000)));
        for (limits, needle) in [
            (
                "timeout = \"1000h\"",
                "longer than godwit lets a plugin call run",
            ),
            ("timeout = \"400000000000years\"", "400000000000years"),
            ("timeout = \"0\"", "no time at all"),
            ("memory = \"2GiB\"", "more than a plugin can have"),
        ] {
            let err = plugins(&format!(
                "[plugins.a]\nbuiltin = \"x\"\n[plugins.a.limits]\n{limits}\n"
            ))
            .unwrap_err();
            assert!(matches!(err, ConfigError(_)), "{limits}: {err:?}");
            assert!(err.to_string().contains(needle), "{limits}: {err}");
        }
        plugins("[plugins.a]\nbuiltin = \"x\"\n[plugins.a.limits]\ntimeout = \"1h\"\nmemory = \"1GiB\"\n")
            .unwrap();
    }
}
