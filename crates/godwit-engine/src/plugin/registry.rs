//! The plugins a project declares in godwit.toml, loaded, pinned and granted.
//!
//! A plugin is loaded only when a command needs it (a step in the plan, a validator, a
//! notifier). Loading checks, in order: the file (or the built-in) exists, its SHA-256
//! matches the pin, it compiles, it links against this host, its manifest is readable
//! and for an API this host speaks; then the grants are cut down to what the manifest
//! asked for. Anything wrong stops the command before a database is touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::capability::Capabilities;
use super::manifest::{LimitRequests, Manifest, ManifestError};
use super::wit::latest::types;
use super::{Context, Limits, Plugin, Runtime, RuntimeConfig, SessionHandler, World, builtin};
use crate::config::{Config, PluginLimits, PluginSettings, PluginSource};
use crate::error::{Error, Refusal};
use godwit_core::value::Value;

/// Where compiled plugins are cached, under the project directory unless
/// `GODWIT_CACHE_DIR` says otherwise.
pub fn cache_dir(project_dir: &Path) -> PathBuf {
    std::env::var_os("GODWIT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir.join(".godwit").join("cache"))
}

/// Where `godwit plugin` commands keep compiled plugins: `GODWIT_CACHE_DIR`, else the
/// user's cache directory (`$XDG_CACHE_HOME/godwit/plugins`, `~/.cache/godwit/plugins`).
pub fn user_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GODWIT_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("godwit").join("plugins"))
}

/// The directory a plugin's `dir` grant names, resolved against the project and created
/// if missing, or why it cannot be granted.
///
/// A plugin may write anything in its directory, so the directory must not hold what
/// godwit later trusts: a compile cache (the project's, the user's, `GODWIT_CACHE_DIR`),
/// godwit's state directory with the cache key, or the project's `.godwit` with its
/// SQLite database and backups. A grant that contains one of them, sits inside one, or is
/// one is refused; paths are compared after symlinks are resolved.
pub fn granted_dir(project_dir: &Path, plugin: &str, dir: &Path) -> Result<PathBuf, Error> {
    let granted = project_dir.join(dir);
    let resolved = resolve(&granted);
    let dot_godwit = project_dir.join(".godwit");
    let guarded = guarded_dirs(project_dir);
    let refuse = |what: &str, path: &Path| {
        Error::Config(format!(
            "plugin `{plugin}`: its granted directory {} would expose {what} ({}): a plugin could change what godwit later trusts\n  grant a directory of its own instead, e.g. dir = \".godwit/{plugin}\"",
            granted.display(),
            path.display()
        ))
    };
    for (path, what) in &guarded {
        let path = resolve(path);
        if path.starts_with(&resolved) || resolved.starts_with(&path) {
            return Err(refuse(what, &path));
        }
    }
    // `.godwit/NAME` is fine; `.godwit` itself, or anything above it, is not.
    let dot_godwit = resolve(&dot_godwit);
    if dot_godwit.starts_with(&resolved) {
        return Err(refuse(
            "the project's .godwit directory (its SQLite database, backups and cache)",
            &dot_godwit,
        ));
    }
    std::fs::create_dir_all(&granted).map_err(|e| {
        Error::Config(format!(
            "plugin `{plugin}`: cannot create its granted directory {}: {e}",
            granted.display()
        ))
    })?;
    // Every call removes the links it leaves; these are from a call godwit could not
    // finish (killed), or from outside godwit. Either way they go before any call.
    let removed = super::links::remove_links(&granted).map_err(|e| {
        Error::Config(format!(
            "plugin `{plugin}`: cannot check its granted directory {} for symbolic links: {e}",
            granted.display()
        ))
    })?;
    if !removed.is_empty() {
        eprintln!(
            "warning: plugin {plugin}: removed symbolic links from its granted directory {}: {} (no link may stay in a granted directory)",
            granted.display(),
            removed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(granted)
}

/// The directories whose content godwit later trusts, with what to call them: the compile
/// caches (the project's, the user's, `GODWIT_CACHE_DIR`), the project's backups, and
/// godwit's state directory with the cache key.
fn guarded_dirs(project_dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let dot_godwit = project_dir.join(".godwit");
    let mut guarded: Vec<(PathBuf, &str)> = vec![
        (cache_dir(project_dir), "the plugin compile cache"),
        (dot_godwit.join("cache"), "the plugin compile cache"),
        (dot_godwit.join("backups"), "godwit's backups"),
    ];
    if let Some(user) = user_cache_dir() {
        guarded.push((user, "the plugin compile cache"));
    }
    if let Some(state) = super::state_dir() {
        guarded.push((
            state,
            "godwit's state directory, which holds the compile cache key",
        ));
    }
    guarded
}

/// Refuses an `append` file that is one of godwit's own: inside a compile cache, the
/// backups or the state directory (see [`guarded_dirs`]), directly in the project's
/// `.godwit` (the SQLite database `godwit.db` and its journals), or the project's
/// `godwit.toml`, `godwit.lock` or `.env`. An append grant also lets the plugin read the
/// file, and what it appends godwit reads back as its own. `file` is compared as named and
/// with every link resolved, the file itself included.
fn not_godwits_own(
    project_dir: &Path,
    plugin: &str,
    entry: &str,
    file: &Path,
) -> Result<(), Error> {
    let named = resolve(file);
    let followed = std::fs::canonicalize(file).unwrap_or_else(|_| named.clone());
    let refuse = |what: &str| {
        Err(Error::Config(format!(
            "plugin `{plugin}`: append entry `{entry}` is {}, which is {what}: a plugin could read it or change what godwit later trusts\n  grant a file of its own instead, e.g. append = [\".godwit/{plugin}/log.txt\"]",
            file.display()
        )))
    };
    for path in [&named, &followed] {
        for (dir, what) in guarded_dirs(project_dir) {
            if path.starts_with(resolve(&dir)) {
                return refuse(&format!("in {what}"));
            }
        }
        if path.parent() == Some(resolve(&project_dir.join(".godwit")).as_path()) {
            return refuse("in the project's .godwit directory (its SQLite database and journals)");
        }
        for own in [crate::config::CONFIG_FILE, "godwit.lock", ".env"] {
            if *path == resolve(&project_dir.join(own)) {
                return refuse(&format!("the project's {own}"));
            }
        }
    }
    Ok(())
}

/// Refuses a `dir` grant that is strictly inside, or strictly contains, another declared
/// plugin's: the outer plugin could replace the inner directory with a link, and a call of
/// the inner one that starts before godwit removes it (notifiers run on their own thread)
/// would open its directory through the link. The same directory for both is fine.
fn not_nested(config: &Config, plugin: &str, dir: &Path) -> Result<(), Error> {
    not_nested_among(&config.project_dir, &config.file.plugins, plugin, dir)
}

/// `not_nested` against the plugins declared in `plugins` (godwit.toml's), for `godwit
/// plugin run`, which reads godwit.toml without a database.
pub fn not_nested_among(
    project_dir: &Path,
    plugins: &std::collections::BTreeMap<String, crate::config::PluginSettings>,
    plugin: &str,
    dir: &Path,
) -> Result<(), Error> {
    let mine = resolve(&project_dir.join(dir));
    for (other, declared) in plugins {
        let Some(theirs) = declared.grants.dir.as_deref().filter(|_| other != plugin) else {
            continue;
        };
        let theirs = resolve(&project_dir.join(theirs));
        let (outer, inner) = if mine != theirs && mine.starts_with(&theirs) {
            (other.as_str(), plugin)
        } else if mine != theirs && theirs.starts_with(&mine) {
            (plugin, other.as_str())
        } else {
            continue;
        };
        return Err(Error::Config(format!(
            "plugin `{plugin}`: its granted directory {} and plugin `{other}`'s {} are nested: `{outer}` could replace `{inner}`'s directory with a link out of it\n  grant them directories side by side (e.g. .godwit/{plugin} and .godwit/{other}), or the same one",
            mine.display(),
            theirs.display()
        )));
    }
    Ok(())
}

/// The files an `append` grant names, as absolute paths: `$NAME` (or `${NAME}`) is the
/// path in environment variable `NAME`, read now, and grants nothing when it is unset or
/// empty (the same godwit.toml serves CI, where `GITHUB_STEP_SUMMARY` is set, and a
/// laptop, where it is not); anything else is relative to the project. The directory is
/// resolved, the file name is kept as written: a file that is a link is refused at the
/// first call, never followed. A file of godwit's own (its database in `.godwit`, a
/// compile cache, the cache key, `godwit.toml`) is refused, as it is for `dir` grants,
/// with links resolved.
pub fn granted_files(
    project_dir: &Path,
    plugin: &str,
    entries: &[String],
) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for entry in entries {
        let path = match entry.strip_prefix('$') {
            Some(var) => {
                let var = var
                    .strip_prefix('{')
                    .and_then(|v| v.strip_suffix('}'))
                    .unwrap_or(var);
                match std::env::var_os(var).filter(|v| !v.is_empty()) {
                    Some(value) => PathBuf::from(value),
                    None => continue,
                }
            }
            None => PathBuf::from(entry),
        };
        let path = project_dir.join(path);
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Error::Config(format!(
                "plugin `{plugin}`: append entry `{entry}` is {}, which names no file",
                path.display()
            )));
        };
        if name == ".." || name == "." {
            return Err(Error::Config(format!(
                "plugin `{plugin}`: append entry `{entry}` is {}, which names no file",
                path.display()
            )));
        }
        let path = resolve(dir).join(name);
        not_godwits_own(project_dir, plugin, entry, &path)?;
        if !files.contains(&path) {
            files.push(path);
        }
    }
    Ok(files)
}

/// Refuses file grants that reach what a deploy runs or the database behind the
/// confinement: a `dir` that holds the migrations directory, sits inside it, or holds the
/// SQLite database file; an `append` file inside the migrations directory, or the SQLite
/// database or one of its journals. A plugin that could write there could add SQL to a
/// pending migration, which godwit then runs with its own privileges, or read and change
/// every table past its grants. Paths are compared with symlinks resolved.
fn not_over_what_deploy_runs(
    migrations_dir: &Path,
    target: Option<&crate::config::Target>,
    plugin: &str,
    dir: Option<&Path>,
    append: &[PathBuf],
) -> Result<(), Error> {
    let migrations = resolve(migrations_dir);
    let database = target
        .filter(|t| t.dialect == godwit_core::Dialect::Sqlite)
        .and_then(|t| {
            use std::str::FromStr as _;
            sqlx::sqlite::SqliteConnectOptions::from_str(&t.url)
                .ok()
                .map(|o| o.get_filename().to_path_buf())
        })
        .filter(|f| !f.as_os_str().is_empty() && f.as_os_str() != ":memory:")
        .map(|f| resolve(&f));
    let refuse = |grant: String, what: &str, path: &Path| {
        Err(Error::Config(format!(
            "plugin `{plugin}`: {grant} would reach {what} ({}): a plugin could change what godwit runs, or read past its grants\n  grant a directory or file of its own instead, e.g. dir = \".godwit/{plugin}\"",
            path.display()
        )))
    };
    if let Some(dir) = dir {
        let granted = resolve(dir);
        let shown = || format!("its granted directory {}", dir.display());
        if migrations.starts_with(&granted) || granted.starts_with(&migrations) {
            return refuse(shown(), "the migrations directory", &migrations);
        }
        if let Some(db) = &database
            && db.starts_with(&granted)
        {
            return refuse(shown(), "the SQLite database", db);
        }
    }
    for file in append {
        for path in [
            resolve(file),
            std::fs::canonicalize(file).unwrap_or_default(),
        ] {
            let shown = || format!("append file {}", file.display());
            if path.starts_with(&migrations) {
                return refuse(shown(), "the migrations directory", &migrations);
            }
            if let Some(db) = &database {
                let journals = ["", "-wal", "-shm", "-journal"].map(|suffix| {
                    let mut name = db.as_os_str().to_owned();
                    name.push(suffix);
                    PathBuf::from(name)
                });
                if journals.contains(&path) {
                    return refuse(shown(), "the SQLite database", db);
                }
            }
        }
    }
    Ok(())
}

/// The guard a deploy puts on file grants (see [`load_entry`]) for a plugin run outside a deploy (`godwit
/// plugin run`), on `dir` (relative to the project) and the resolved `append` files: the
/// migrations directory godwit.toml names, and the SQLite database its URL names
/// (`--database-url`, godwit.toml, `DATABASE_URL`, as `overrides` and a deploy would
/// find it). A run needs no database, so where no URL is configured there is no database
/// file to guard, and only the migrations directory is.
pub fn not_over_what_project_runs(
    project_dir: &Path,
    overrides: &crate::config::Overrides,
    plugin: &str,
    dir: Option<&Path>,
    append: &[PathBuf],
) -> Result<(), Error> {
    let file = crate::config::FileConfig::read(project_dir)?;
    let config = Config::load(project_dir, overrides).ok();
    let named = dir.map(|dir| project_dir.join(dir));
    not_over_what_deploy_runs(
        &file.migrations_dir(project_dir),
        config.as_ref().map(|c| &c.target),
        plugin,
        named.as_deref(),
        append,
    )
}

/// `path` made absolute, with `.`/`..` folded and symlinks resolved as far as it exists.
fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut lexical = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return lexical,
        }
    }
}

/// The authorities a call may reach: every entry of the operator's grant or the manifest's
/// request that both allow. So `*` on one side lets through exactly what the other names,
/// and `*` on both sides any host.
pub fn effective_hosts(
    granted: &[String],
    requested: &[String],
    capabilities: &Capabilities,
) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for h in granted.iter().chain(requested) {
        if capabilities.allows_host(h) && !hosts.contains(h) {
            hosts.push(h.clone());
        }
    }
    hosts
}

/// One declared plugin, ready to call.
pub struct PluginEntry {
    /// Its name in godwit.toml.
    pub name: String,
    pub plugin: Plugin,
    pub manifest: Option<Manifest>,
    /// What it may touch: its manifest's requests cut down to the operator's grants.
    pub capabilities: Arc<Capabilities>,
    pub limits: Limits,
    /// `[plugins.NAME.config]`.
    pub settings: Vec<(String, Value)>,
    /// Granted environment variables with their values at load time.
    pub env: Vec<(String, String)>,
    pub dir: Option<PathBuf>,
    /// Granted files to append to, as absolute paths.
    pub append: Vec<PathBuf>,
    pub hosts: Vec<String>,
}

impl PluginEntry {
    /// A call's context: settings (step settings override the plugin's key by key), the
    /// granted environment, directory and hosts, and a session if the call has one.
    pub fn context(
        &self,
        overrides: &toml::Table,
        session: Option<Box<dyn SessionHandler>>,
    ) -> Context {
        let mut settings = self.settings.clone();
        for (key, value) in overrides {
            let value = Value::from(value.clone());
            match settings.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => settings.push((key.clone(), value)),
            }
        }
        Context {
            settings: settings
                .into_iter()
                .map(|(k, v)| (k, types::Value::from(v)))
                .collect(),
            session,
            env: self.env.clone(),
            dir: self.dir.clone(),
            append: self.append.clone(),
            hosts: self.hosts.clone(),
        }
    }
}

/// The loaded plugins of a project, and the engine they run in.
pub struct Registry {
    /// `None` when no plugin was loaded: building wasmtime's engine (and reserving its
    /// pooling allocator's memory) costs a deploy without plugin steps tens of
    /// milliseconds for nothing (issue 12).
    runtime: Option<Arc<Runtime>>,
    entries: BTreeMap<String, PluginEntry>,
}

impl Registry {
    /// Loads the plugins named in `names` (deduplicated), plus nothing else.
    pub fn load(config: &Config, names: &[&str]) -> Result<Registry, Error> {
        let mut wanted: Vec<&str> = names.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(Registry {
                runtime: None,
                entries: BTreeMap::new(),
            });
        }
        let runtime = Arc::new(runtime(config)?);
        let mut entries = BTreeMap::new();
        for name in wanted {
            let declared = config.file.plugins.get(name).ok_or_else(|| {
                let known: Vec<&String> = config.file.plugins.keys().collect();
                Error::Config(format!(
                    "no plugin named `{name}` in godwit.toml{}; declare it under [plugins.{name}] with a path (or builtin) and its sha256",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (declared: {})", known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))
                    }
                ))
            })?;
            entries.insert(
                name.to_owned(),
                load_entry(config, &runtime, name, declared)?,
            );
        }
        Ok(Registry {
            runtime: Some(runtime),
            entries,
        })
    }

    /// The engine the loaded plugins run in; `None` when no plugin was loaded, so when
    /// [`Registry::get`] has found none.
    pub fn runtime(&self) -> Option<&Arc<Runtime>> {
        self.runtime.as_ref()
    }

    /// Every plugin loaded, in name order.
    pub fn entries(&self) -> impl Iterator<Item = &PluginEntry> {
        self.entries.values()
    }

    /// A plugin loaded by [`Registry::load`].
    pub fn get(&self, name: &str) -> Result<&PluginEntry, Error> {
        self.entries
            .get(name)
            .ok_or_else(|| Error::Config(format!("plugin `{name}` was not loaded")))
    }
}

fn runtime(config: &Config) -> Result<Runtime, Error> {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir(&config.project_dir)),
        pooling: true,
    })
    .map_err(|e| Error::Config(e.to_string()))
}

/// Whether the declared plugin can have a database session: every world but a notifier's,
/// by the world its manifest names (embedded, or the sidecar its pin covers). The loader
/// refuses a component whose exports say otherwise, so a manifest cannot hide a data step
/// as a notifier; a plugin whose manifest cannot be read, or that has none, counts.
pub fn may_use_database(project_dir: &Path, declared: &PluginSettings) -> bool {
    let manifest = match declared.source(project_dir) {
        PluginSource::File(path) => std::fs::read(&path).ok().and_then(|bytes| {
            Manifest::load_pinned(&path, &bytes, declared.manifest_sha256.as_deref())
                .ok()
                .flatten()
        }),
        PluginSource::Builtin(name) => builtin::get(&name).and_then(|bytes| {
            Manifest::from_component(bytes, &format!("builtin:{name}"))
                .ok()
                .flatten()
        }),
    };
    manifest.is_none_or(|m| m.plugin.world != super::World::Notifier)
}

/// Reads, pins, compiles and grants one declared plugin.
pub fn load_entry(
    config: &Config,
    runtime: &Runtime,
    name: &str,
    declared: &PluginSettings,
) -> Result<PluginEntry, Error> {
    load_entry_of(config, runtime, name, declared, None)
        .map(|entry| entry.expect("a plugin of any world is loaded, whatever its world"))
}

/// [`load_entry`] for a command that uses only plugins of one `world` (`lint`, which runs
/// validators): a plugin of another world is checked and compiled, but `None` comes back
/// before its grants are resolved, so that nothing is made for it (its granted directory).
pub fn load_entry_of(
    config: &Config,
    runtime: &Runtime,
    name: &str,
    declared: &PluginSettings,
    world: Option<World>,
) -> Result<Option<PluginEntry>, Error> {
    declared.validate(name).map_err(Error::Config)?;
    let (label, bytes, path) = match declared.source(&config.project_dir) {
        PluginSource::File(path) => {
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::Config(format!(
                    "plugin `{name}`: cannot read {}: {e}",
                    path.display()
                ))
            })?;
            (path.display().to_string(), bytes, Some(path))
        }
        PluginSource::Builtin(builtin) => {
            let bytes = builtin::get(&builtin).ok_or_else(|| {
                Error::Config(format!(
                    "plugin `{name}`: there is no built-in plugin `{builtin}`; the built-in plugins are {}",
                    builtin::names().collect::<Vec<_>>().join(", ")
                ))
            })?;
            (format!("builtin:{builtin}"), bytes.to_vec(), None)
        }
    };
    let shown = match &path {
        Some(path) => path
            .strip_prefix(&config.project_dir)
            .unwrap_or(path)
            .display()
            .to_string(),
        None => label.clone(),
    };
    let plugin = runtime
        .load_bytes(
            &format!("{name} ({shown})"),
            &bytes,
            declared.sha256.as_deref(),
        )
        .map_err(|e| match e {
            super::Error::Digest { .. } => Error::blocked(
                Refusal::PluginFile,
                format!("plugin `{name}` ({label}): {e}"),
            ),
            other => Error::Config(other.to_string()),
        })?;
    let manifest = match &path {
        Some(path) => Manifest::load_pinned(path, &bytes, declared.manifest_sha256.as_deref()),
        None => Manifest::from_component(&bytes, &label),
    }
    .map_err(|e| match e {
        ManifestError::SidecarUnpinned { .. }
        | ManifestError::SidecarChanged { .. }
        | ManifestError::SidecarMissing { .. } => Error::blocked(
            Refusal::PluginFile,
            format!("plugin `{name}` ({label}): {e}"),
        ),
        ManifestError::Invalid { .. } | ManifestError::UnsupportedApi { .. } => {
            Error::Config(e.to_string())
        }
    })?;
    if let Some(m) = &manifest {
        m.check_api().map_err(|e| Error::Config(e.to_string()))?;
        if let Some(world) = plugin.world()
            && world.name() != m.plugin.world.to_string()
        {
            return Err(Error::Config(format!(
                "plugin `{name}` ({label}): its manifest says it is a {} plugin, but the component exports the {world} world",
                m.plugin.world
            )));
        }
    }
    if world.is_some_and(|w| plugin.world() != Some(w)) {
        return Ok(None);
    }
    let requests = manifest
        .as_ref()
        .map(|m| m.requests.clone())
        .unwrap_or_default();
    let capabilities = Capabilities::effective(&requests, &declared.grants, name)
        .enforced(declared.enforcement, declared.database_role.clone());
    let (limits, lowered) =
        effective_limits(name, &declared.limits, manifest.as_ref().map(|m| &m.limits));
    for note in lowered {
        warn_once(note);
    }
    let env = capabilities
        .env()
        .iter()
        .filter_map(|key| std::env::var(key).ok().map(|v| (key.clone(), v)))
        .collect();
    if let Some(dir) = capabilities.dir() {
        not_nested(config, name, dir)?;
    }
    let append = granted_files(&config.project_dir, name, capabilities.append())?;
    let named = capabilities.dir().map(|dir| config.project_dir.join(dir));
    not_over_what_deploy_runs(
        &config.migrations_dir,
        Some(&config.target),
        name,
        named.as_deref(),
        &append,
    )?;
    let dir = capabilities
        .dir()
        .map(|dir| granted_dir(&config.project_dir, name, dir))
        .transpose()?;
    let hosts = effective_hosts(&declared.grants.hosts, &requests.hosts, &capabilities);
    Ok(Some(PluginEntry {
        append,
        name: name.to_owned(),
        plugin,
        manifest,
        hosts,
        capabilities: Arc::new(capabilities),
        limits,
        settings: declared.config.clone(),
        env,
        dir,
    }))
}

/// Prints a warning unless this process printed it already: a command can load the same
/// plugin more than once (to plan, then to run).
fn warn_once(warning: String) {
    static SHOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !shown.contains(&warning) {
        eprintln!("warning: {warning}");
        shown.push(warning);
    }
}

/// The limits a plugin's calls run under: the operator's `[plugins.NAME.limits]`, else
/// godwit's defaults ([`Limits::default`]), are ceilings; the manifest's `[limits]` may
/// lower each of them, never raise it. A request above its ceiling gets the ceiling, and
/// the second value says so, in words for the operator (`name` is the plugin's name in
/// godwit.toml).
pub fn effective_limits(
    name: &str,
    operator: &PluginLimits,
    manifest: Option<&LimitRequests>,
) -> (Limits, Vec<String>) {
    let defaults = Limits::default();
    let whose = |set: bool| {
        if set {
            "godwit.toml allows"
        } else {
            "godwit allows by default"
        }
    };
    let mut notes = Vec::new();
    let mut lowered = |what: &str, key: &str, asked: String, ceiling: String, set: bool| {
        notes.push(format!(
            "plugin `{name}`: its manifest asks for {what} of {asked}, more than the {ceiling} {}; its calls get {ceiling}\n  \
             to give it more, set {key} under [plugins.{name}.limits] in godwit.toml",
            whose(set)
        ));
    };
    let request = manifest.cloned().unwrap_or_default();

    let memory_ceiling = operator
        .memory
        .map_or(defaults.memory_bytes, |m| {
            usize::try_from(m).unwrap_or(usize::MAX)
        })
        .min(super::POOL_MAX_MEMORY);
    let memory_bytes = match request
        .memory
        .map(|m| usize::try_from(m).unwrap_or(usize::MAX))
    {
        Some(asked) if asked > memory_ceiling => {
            lowered(
                "a memory limit",
                "memory",
                super::mebibytes(asked),
                super::mebibytes(memory_ceiling),
                operator.memory.is_some(),
            );
            memory_ceiling
        }
        Some(asked) => asked,
        None => memory_ceiling,
    };

    let timeout_ceiling = operator
        .timeout
        .unwrap_or(defaults.timeout)
        .min(super::MAX_TIMEOUT);
    let timeout = match request.timeout {
        Some(asked) if asked > timeout_ceiling => {
            lowered(
                "a time limit",
                "timeout",
                humantime::format_duration(asked).to_string(),
                humantime::format_duration(timeout_ceiling).to_string(),
                operator.timeout.is_some(),
            );
            timeout_ceiling
        }
        Some(asked) => asked,
        None => timeout_ceiling,
    };

    // No budget by default: a fuel ceiling exists only where the operator set one.
    let fuel = match (operator.fuel, request.fuel) {
        (Some(ceiling), Some(asked)) if asked > ceiling => {
            lowered(
                "a fuel budget",
                "fuel",
                asked.to_string(),
                ceiling.to_string(),
                true,
            );
            Some(ceiling)
        }
        (_, Some(asked)) => Some(asked),
        (ceiling, None) => ceiling,
    };
    (
        Limits {
            memory_bytes,
            fuel,
            timeout,
        },
        notes,
    )
}

/// Why only godwit's checker confines a plugin's statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckerOnlyBecause {
    /// `enforcement = "checker-only"` in godwit.toml.
    OperatorChoice,
    /// MySQL/MariaDB, where the database cannot confine them within the batch's
    /// transaction (docs/security.md).
    Mysql,
}

/// A plugin whose statements only godwit's checker confines, as `deploy`, `plan` and
/// `status` show it every time.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckerOnly {
    pub plugin: String,
    pub because: CheckerOnlyBecause,
}

/// Every enabled plugin of `config` whose statements godwit's checker alone confines on
/// its target database, by the operator's choice or by the database's nature. Notifiers
/// are not among them: they have no database session.
pub fn checker_only(config: &crate::config::Config) -> Vec<CheckerOnly> {
    config
        .file
        .plugins
        .iter()
        .filter(|(_, p)| p.enabled && may_use_database(&config.project_dir, p))
        .filter_map(|(name, p)| {
            let because = if config.target.dialect == godwit_core::Dialect::MySql {
                CheckerOnlyBecause::Mysql
            } else if p.enforcement == godwit_core::Enforcement::CheckerOnly {
                CheckerOnlyBecause::OperatorChoice
            } else {
                return None;
            };
            Some(CheckerOnly {
                plugin: name.clone(),
                because,
            })
        })
        .collect()
}

/// The lines that say so, for people; empty when the database confines every plugin.
pub fn checker_only_text(list: &[CheckerOnly]) -> String {
    let mut out = String::new();
    let chosen: Vec<&str> = list
        .iter()
        .filter(|c| c.because == CheckerOnlyBecause::OperatorChoice)
        .map(|c| c.plugin.as_str())
        .collect();
    let mysql: Vec<&str> = list
        .iter()
        .filter(|c| c.because == CheckerOnlyBecause::Mysql)
        .map(|c| c.plugin.as_str())
        .collect();
    if !chosen.is_empty() {
        out.push_str(&format!(
            "enforcement: checker-only for plugin{} {} (enforcement = \"checker-only\" in godwit.toml): \
             only godwit's SQL checker confines {} statements to {} grants; the database does not\n",
            if chosen.len() == 1 { "" } else { "s" },
            chosen.join(", "),
            if chosen.len() == 1 { "its" } else { "their" },
            if chosen.len() == 1 { "its" } else { "their" },
        ));
    }
    if !mysql.is_empty() {
        out.push_str(&format!(
            "enforcement: checker-only on MySQL/MariaDB, by necessity, for plugin{} {}: \
             only godwit's SQL checker confines plugins' statements to their grants (docs/security.md says why)\n",
            if mysql.len() == 1 { "" } else { "s" },
            mysql.join(", "),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use godwit_plugin::capability::Grants;
    use godwit_plugin::manifest::Requests;

    fn hosts(granted: &[&str], requested: &[&str]) -> Vec<String> {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let requests = Requests {
            hosts: own(requested),
            ..Requests::default()
        };
        let grants = Grants {
            hosts: own(granted),
            ..Grants::default()
        };
        let capabilities = Capabilities::effective(&requests, &grants, "n");
        effective_hosts(&grants.hosts, &requests.hosts, &capabilities)
    }

    #[test]
    fn a_manifest_may_lower_a_limit_but_never_raise_it() {
        use std::time::Duration;
        let asks = |memory: Option<u64>, timeout: &str, fuel: Option<u64>| LimitRequests {
            memory,
            timeout: Some(crate::config::parse_duration(timeout).unwrap()),
            fuel,
        };
        let none = PluginLimits::default();
        let defaults = Limits::default();

        // More than godwit's defaults, with no operator limits: the defaults.
        let (limits, notes) =
            effective_limits("p", &none, Some(&asks(Some(1 << 30), "1000h", Some(5))));
        assert_eq!(limits.memory_bytes, defaults.memory_bytes);
        assert_eq!(limits.timeout, defaults.timeout);
        assert_eq!(
            limits.fuel,
            Some(5),
            "a budget the operator did not set is the plugin's own"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");

        // More than the operator's: the operator's.
        let operator = PluginLimits {
            memory: Some(16 << 20),
            timeout: Some(Duration::from_secs(1)),
            fuel: Some(1000),
        };
        let (limits, notes) = effective_limits(
            "p",
            &operator,
            Some(&asks(Some(64 << 20), "10s", Some(u64::MAX))),
        );
        assert_eq!(
            limits,
            Limits {
                memory_bytes: 16 << 20,
                fuel: Some(1000),
                timeout: Duration::from_secs(1)
            }
        );
        assert_eq!(notes.len(), 3, "{notes:?}");

        // Less: what it asked, silently.
        let (limits, notes) = effective_limits(
            "p",
            &operator,
            Some(&asks(Some(1 << 20), "100ms", Some(10))),
        );
        assert_eq!(
            limits,
            Limits {
                memory_bytes: 1 << 20,
                fuel: Some(10),
                timeout: Duration::from_millis(100)
            }
        );
        assert!(notes.is_empty(), "{notes:?}");

        // Nothing asked: the ceilings.
        let (limits, _) = effective_limits("p", &operator, None);
        assert_eq!(limits.memory_bytes, 16 << 20);
        assert_eq!(limits.timeout, Duration::from_secs(1));
        assert_eq!(effective_limits("p", &none, None).0, defaults);
    }

    #[test]
    fn a_star_on_one_side_lets_through_what_the_other_names() {
        assert_eq!(hosts(&["*"], &["hooks.slack.com"]), ["hooks.slack.com"]);
        assert_eq!(hosts(&["hooks.slack.com"], &["*"]), ["hooks.slack.com"]);
        assert_eq!(hosts(&["*"], &["*"]), ["*"]);
        assert!(hosts(&["a.example"], &["b.example"]).is_empty());
        assert!(hosts(&[], &["*"]).is_empty());
        assert!(hosts(&["*"], &[]).is_empty());
    }
}
