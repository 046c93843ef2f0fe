//! `godwit plugin inspect|check|run|new|pack|add`: look inside a component, check it
//! against this host, run it on sample data with its costs measured, scaffold a new one,
//! embed its manifest, and install it into a project.
//!
//! Every command takes a plugin as a path to a `.wasm`, as `builtin:NAME` for one of the
//! first-party plugins compiled into godwit, or as the NAME of a `[plugins.NAME]` in the
//! project's godwit.toml (whose pin, settings and limits then apply).
//!
//! These commands call plugins, and wasmtime-wasi's synchronous bindings block on a tokio
//! runtime of their own: [`run`] must not be called on an async thread (the CLI hands it
//! to `spawn_blocking`).

mod package;
mod sample;
mod scaffold;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::config::{self, FileConfig, PluginSettings, PluginSource};
use crate::error::{Error, Failure, Refusal, exit};
use crate::plugin::builtin;
use crate::plugin::capability::Capabilities;
use crate::plugin::compat::{self, Inspection, Link};
use crate::plugin::manifest::{Manifest, ManifestError};
use crate::plugin::types::{self, BackfillSpec, Finding, Severity};
use crate::plugin::{
    self as runtime, Call, Context, Limits, LogLine, Plugin, Runtime, RuntimeConfig, World,
};
use crate::text::plural;

pub use scaffold::Lang;

/// `godwit plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show a plugin's world, API version, requested capabilities, digest, size, imports
    /// and exports.
    Inspect {
        /// A .wasm file, builtin:NAME, or the NAME of a [plugins.NAME] in godwit.toml.
        plugin: String,
    },
    /// Check that this godwit can run a plugin: its imports against what the host links,
    /// its exports against its world, its API version (exit 0 compatible, 4 not).
    Check {
        /// A .wasm file, builtin:NAME, or the NAME of a [plugins.NAME] in godwit.toml.
        plugin: String,
        /// The world it must be (default: its manifest's, else the one its exports match).
        #[arg(long, value_enum)]
        world: Option<WorldArg>,
    },
    /// Run a plugin on sample input and print what it returned, with time, fuel and peak
    /// memory per call: --rows for a backfill, --migration for a validator, --event for a
    /// notifier.
    Run(RunArgs),
    /// Write a new plugin project that builds and passes `godwit plugin check` as it is,
    /// in --dir DIR (default ./NAME).
    New(NewArgs),
    /// Embed a manifest (godwit-plugin.toml) in a component, so that the .wasm alone says
    /// what it is and what it asks for.
    Pack(package::PackArgs),
    /// Install a plugin from a file or an http(s) URL: check it, copy it to
    /// plugins/NAME.wasm, pin its SHA-256 in godwit.lock and declare it in godwit.toml.
    Add(package::AddArgs),
}

/// `godwit plugin run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A .wasm file, builtin:NAME, or the NAME of a [plugins.NAME] in godwit.toml.
    pub plugin: String,
    /// Backfill: sample rows, a JSON array of objects or one object per line; values are
    /// plain JSON (string = text, integer = int, other numbers = float) or tagged, e.g.
    /// {"bytes": "dead"}, {"timestamp": "2026-11-21T08:00:00Z"}, {"json": "{}"}.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["migration", "event"])]
    pub rows: Option<PathBuf>,
    /// Validator: a migration directory (with up.sql and maybe down.sql) to check.
    #[arg(long, value_name = "DIR", conflicts_with = "event")]
    pub migration: Option<PathBuf>,
    /// Notifier: an event as JSON, e.g. {"run-started": {"operation": "deploy",
    /// "pending": 2, "database": "sqlite://app.db"}}.
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Notifier: the fleet target the event is about, as a targets file names it
    /// (default: none, as when godwit deploys one database).
    #[arg(long, value_name = "NAME", requires = "event")]
    pub target: Option<String>,
    /// A setting for host.config(), KEY=VALUE; VALUE is read as TOML when it parses (10,
    /// true, 1.5) and as text otherwise. Repeatable; wins over [plugins.NAME.config].
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Rows per transform call (default: all rows in one call).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Memory limit per call, e.g. 64MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<usize>,
    /// Time limit per call, e.g. 2s.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Fuel budget per call (roughly, Wasm instructions); none by default.
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
}

/// `godwit plugin new`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name, e.g. normalize-email; also the crate's.
    pub name: String,
    /// What kind of plugin it is.
    #[arg(long, value_enum)]
    pub world: WorldArg,
    /// The language of the project: rust, python or js.
    #[arg(long, default_value = "rust", value_parser = Lang::parse)]
    pub lang: Lang,
    /// Where to create it; taken from the global --dir (-C), which defaults to ./NAME
    /// here.
    #[arg(skip)]
    pub dir: Option<PathBuf>,
}

/// A world, as flags spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WorldArg {
    Backfill,
    DataStep,
    Validator,
    Notifier,
}

impl From<WorldArg> for World {
    fn from(w: WorldArg) -> World {
        match w {
            WorldArg::Backfill => World::Backfill,
            WorldArg::DataStep => World::DataStep,
            WorldArg::Validator => World::Validator,
            WorldArg::Notifier => World::Notifier,
        }
    }
}

/// Runs one `godwit plugin` command for the project in `project_dir` (`overrides`: the
/// global flags, which say where its database is); returns the exit code. Blocks: call it
/// off the async runtime.
pub fn run(
    command: PluginCommand,
    project_dir: &Path,
    overrides: &config::Overrides,
    json: bool,
) -> Result<u8, Error> {
    match command {
        PluginCommand::Inspect { plugin } => inspect(&Source::resolve(project_dir, &plugin)?, json),
        PluginCommand::Check { plugin, world } => check(
            &Source::resolve(project_dir, &plugin)?,
            world.map(World::from),
            json,
        ),
        PluginCommand::Run(args) => run_plugin(
            &Source::resolve(project_dir, &args.plugin)?,
            overrides,
            &args,
            json,
        ),
        PluginCommand::New(mut args) => {
            // `--dir` is the global project-directory flag; here it says where the new
            // project goes.
            if project_dir != Path::new(".") {
                args.dir = Some(project_dir.to_path_buf());
            }
            scaffold::new(&args, json)
        }
        PluginCommand::Pack(args) => package::pack(&args, json),
        PluginCommand::Add(args) => package::add(&args, project_dir, json),
    }
}

/// Where a plugin came from, and what godwit.toml says about it.
struct Source {
    /// What messages call it: the file name, `builtin:NAME`, or the godwit.toml name.
    name: String,
    /// How it was found, in words.
    origin: String,
    bytes: Vec<u8>,
    /// Its manifest, embedded or (for a file) the sidecar beside it; `None` if it has none.
    manifest: Result<Option<Manifest>, ManifestError>,
    /// `[plugins.NAME]`, when the plugin was named by it.
    declared: Option<PluginSettings>,
    project_dir: PathBuf,
}

impl Source {
    fn resolve(project_dir: &Path, spec: &str) -> Result<Source, Error> {
        let mut source = Source {
            name: spec.to_owned(),
            origin: String::new(),
            bytes: Vec::new(),
            manifest: Ok(None),
            declared: None,
            project_dir: project_dir.to_path_buf(),
        };
        if let Some(name) = spec.strip_prefix("builtin:") {
            source.origin = "built into godwit".to_owned();
            source.builtin(name)?;
            return Ok(source);
        }
        let as_path = Path::new(spec);
        let path = if as_path.is_absolute() || project_dir == Path::new(".") {
            as_path.to_path_buf()
        } else {
            project_dir.join(as_path)
        };
        let looks_like_a_file = path.is_file()
            || spec.ends_with(".wasm")
            || spec.contains('/')
            || spec.contains(std::path::MAIN_SEPARATOR);
        if looks_like_a_file {
            source.name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| spec.to_owned());
            source.origin = path.display().to_string();
            source.file(&path)?;
            return Ok(source);
        }
        let file = FileConfig::read(project_dir)?;
        let Some(declared) = file.plugins.get(spec) else {
            let declared: Vec<&str> = file.plugins.keys().map(String::as_str).collect();
            return Err(Error::Config(format!(
                "no plugin `{spec}`: not a file, not builtin:NAME (built-in: {}), and not a [plugins.NAME] of {} (declared: {})",
                builtin::names().collect::<Vec<_>>().join(", "),
                project_dir.join(config::CONFIG_FILE).display(),
                if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                }
            )));
        };
        declared.validate(spec).map_err(Error::Config)?;
        source.origin = format!("[plugins.{spec}] in {}", config::CONFIG_FILE);
        match declared.source(project_dir) {
            PluginSource::File(path) => {
                source.origin = format!("{}, {}", source.origin, path.display());
                source.file(&path)?;
                // As a deploy reads it: a sidecar must be the one pinned.
                source.manifest = Manifest::load_pinned(
                    &path,
                    &source.bytes,
                    declared.manifest_sha256.as_deref(),
                );
            }
            PluginSource::Builtin(name) => {
                source.origin = format!("{}, builtin {name}", source.origin);
                source.builtin(&name)?;
            }
        }
        source.declared = Some(declared.clone());
        Ok(source)
    }

    fn file(&mut self, path: &Path) -> Result<(), Error> {
        self.bytes = std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read plugin {}: {e}", path.display())))?;
        self.manifest = Manifest::load(path, &self.bytes);
        Ok(())
    }

    fn builtin(&mut self, name: &str) -> Result<(), Error> {
        let bytes = builtin::get(name).ok_or_else(|| {
            Error::Config(format!(
                "no built-in plugin `{name}`; built-in plugins: {}",
                builtin::names().collect::<Vec<_>>().join(", ")
            ))
        })?;
        self.bytes = bytes.to_vec();
        self.manifest = Manifest::from_component(bytes, &format!("builtin:{name}"));
        Ok(())
    }

    /// The pin godwit.toml gives it, if any.
    fn pin(&self) -> Option<&str> {
        self.declared.as_ref().and_then(|d| d.sha256.as_deref())
    }
}

fn new_runtime() -> Result<Runtime, Error> {
    Runtime::new(RuntimeConfig {
        // The user's cache, so that an author's second `check` or `run` of a big Python
        // or JavaScript component loads precompiled code.
        cache_dir: crate::plugin::registry::user_cache_dir(),
        // One plugin, a few calls: the pool's large reservation buys nothing here.
        pooling: false,
    })
    .map_err(plugin_error)
}

/// A plugin failure as the CLI reports it: a trap or a refusal is a failed run (1), a file
/// that is not what it should be a configuration problem (2), a pin mismatch a safety
/// stop (4).
fn plugin_error(e: runtime::Error) -> Error {
    match e {
        runtime::Error::Trap { .. }
        | runtime::Error::Refused(_)
        | runtime::Error::LinksLeft { .. }
        | runtime::Error::GrantedDir { .. }
        | runtime::Error::Append { .. } => Error::failed(Failure::Plugin, e.to_string()),
        runtime::Error::Digest { .. } => Error::blocked(Refusal::PluginFile, e.to_string()),
        _ => Error::Config(e.to_string()),
    }
}

fn print_json(value: &serde_json::Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializable")
    );
}

// ---------------------------------------------------------------------------- inspect

fn inspect(source: &Source, json: bool) -> Result<u8, Error> {
    let runtime = new_runtime()?;
    let inspection = runtime
        .inspect(&source.name, &source.bytes)
        .map_err(plugin_error)?;
    if json {
        let manifest = match &source.manifest {
            Ok(Some(m)) => json!({
                "name": m.plugin.name,
                "version": m.plugin.version,
                "world": m.plugin.world,
                "api": m.plugin.api,
                "description": m.plugin.description,
                "requests": m.requests,
                "limits": {
                    "memory": m.limits.memory,
                    "timeout_ms": m.limits.timeout.map(|t| t.as_millis() as u64),
                    "fuel": m.limits.fuel,
                },
            }),
            Ok(None) => serde_json::Value::Null,
            Err(e) => json!({ "error": e.to_string() }),
        };
        print_json(&json!({
            "plugin": source.name,
            "source": source.origin,
            "world": inspection.world,
            "api": api_label(&inspection),
            "api_versions": inspection.api_versions,
            "manifest": manifest,
            "requests": source.manifest.as_ref().ok().and_then(Option::as_ref).map(|m| &m.requests),
            "digest": format!("sha256:{}", inspection.digest),
            "pinned": source.pin().map(|p| pin_matches(p, &inspection.digest)),
            "size": inspection.size,
            "imports": inspection.imports,
            "exports": inspection.exports,
        }));
        return Ok(exit::OK);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}  ({})", source.name, source.origin);
    let _ = writeln!(
        out,
        "  world     {}",
        inspection
            .world
            .map(|w| w.name().to_owned())
            .unwrap_or_else(|| "none: its exports match no godwit world".to_owned())
    );
    let _ = writeln!(out, "  api       {}", api_label(&inspection));
    match &source.manifest {
        Ok(Some(m)) => {
            let _ = writeln!(
                out,
                "  manifest  {} {} ({}, api {}){}",
                m.plugin.name,
                m.plugin.version,
                m.plugin.world,
                m.plugin.api,
                m.plugin
                    .description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
            let r = &m.requests;
            let _ = writeln!(
                out,
                "  requests  read {}; write {}; env {}; dir {}; append {}; hosts {}",
                words(&r.read),
                words(&r.write),
                words(&r.env),
                if r.dir { "yes" } else { "no" },
                if r.append { "yes" } else { "no" },
                words(&r.hosts)
            );
            let l = &m.limits;
            if l.memory.is_some() || l.timeout.is_some() || l.fuel.is_some() {
                let _ = writeln!(
                    out,
                    "  limits    memory {}, timeout {}, fuel {}",
                    l.memory
                        .map(crate::report::bytes)
                        .unwrap_or_else(|| "default".into()),
                    l.timeout
                        .map(|t| humantime::format_duration(t).to_string())
                        .unwrap_or_else(|| "default".into()),
                    l.fuel
                        .map(|f| f.to_string())
                        .unwrap_or_else(|| "none".into())
                );
            }
        }
        Ok(None) => {
            let _ = writeln!(out, "  manifest  none");
            let _ = writeln!(out, "  requests  none: no manifest");
        }
        Err(e) => {
            let _ = writeln!(out, "  manifest  unreadable: {e}");
            let _ = writeln!(out, "  requests  none: the manifest cannot be read");
        }
    }
    let _ = writeln!(out, "  digest    sha256:{}", inspection.digest);
    if let Some(pin) = source.pin() {
        let _ = writeln!(
            out,
            "  pinned    {}",
            if pin_matches(pin, &inspection.digest) {
                "matches its pin".to_owned()
            } else {
                format!("MISMATCH: it is pinned to sha256:{pin}")
            }
        );
    }
    let _ = writeln!(
        out,
        "  size      {} ({} bytes)",
        crate::report::bytes(inspection.size as u64),
        inspection.size
    );
    let _ = writeln!(out, "  imports   {}", inspection.imports.len());
    for import in &inspection.imports {
        let _ = writeln!(out, "    {:<8}  {}", import.kind, import.name);
    }
    let _ = writeln!(out, "  exports   {}", inspection.exports.len());
    for export in &inspection.exports {
        let _ = writeln!(out, "    {:<8}  {}", export.kind, export.name);
    }
    out!("{out}");
    Ok(exit::OK)
}

fn words(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

fn pin_matches(pin: &str, digest: &str) -> bool {
    let pin = pin.trim().to_ascii_lowercase();
    pin.strip_prefix("sha256:").unwrap_or(&pin) == digest
}

fn api_label(inspection: &Inspection) -> String {
    match inspection.api_versions.as_slice() {
        [] => format!("unknown: it imports no {} interface", compat::API_PACKAGE),
        versions => versions
            .iter()
            .map(|v| format!("{}@{v}", compat::API_PACKAGE))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

// ------------------------------------------------------------------------------ check

/// One reason a plugin cannot run here, or a remark that does not stop it.
#[derive(Debug, serde::Serialize)]
struct Verdict {
    compatible: bool,
    world: Option<World>,
    api: Result<Vec<String>, String>,
    missing_imports: Vec<compat::Import>,
    missing_exports: Vec<&'static str>,
    extra_exports: Vec<String>,
    problems: Vec<String>,
    notes: Vec<String>,
}

fn check(source: &Source, expected: Option<World>, json: bool) -> Result<u8, Error> {
    let runtime = new_runtime()?;
    let (inspection, verdict) = match assess(&runtime, source, expected)? {
        Ok(assessed) => assessed,
        Err(message) => {
            if json {
                print_json(
                    &json!({ "plugin": source.name, "compatible": false, "problems": [message] }),
                );
            } else {
                outln!("{}: NOT compatible\n  - {message}", source.name);
            }
            return Ok(exit::BLOCKED);
        }
    };
    if json {
        print_json(&json!({
            "plugin": source.name,
            "source": source.origin,
            "digest": format!("sha256:{}", inspection.digest),
            "host_api": compat::API_VERSION,
            "compatible": verdict.compatible,
            "world": verdict.world,
            "api_versions": inspection.api_versions,
            "imports": inspection.imports,
            "missing_imports": verdict.missing_imports,
            "missing_exports": verdict.missing_exports,
            "extra_exports": verdict.extra_exports,
            "problems": verdict.problems,
            "notes": verdict.notes,
        }));
    } else {
        out!("{}", check_text(source, &inspection, &verdict));
    }
    Ok(if verdict.compatible {
        exit::OK
    } else {
        exit::BLOCKED
    })
}

/// Everything `check` finds out about `source`; the inner `Err` is a file that is not a
/// component at all.
fn assess(
    runtime: &Runtime,
    source: &Source,
    expected: Option<World>,
) -> Result<Result<(Inspection, Verdict), String>, Error> {
    let inspection = match runtime.inspect(&source.name, &source.bytes) {
        Ok(i) => i,
        Err(e @ runtime::Error::Malformed { .. }) => return Ok(Err(e.to_string())),
        Err(e) => return Err(plugin_error(e)),
    };
    let mut problems = Vec::new();
    let mut notes = Vec::new();

    let api = if inspection.api_versions.is_empty() {
        notes.push(format!(
            "it imports no {} interface, so its API version cannot be told from its imports",
            compat::API_PACKAGE
        ));
        Ok(Vec::new())
    } else {
        let refused: Vec<String> = inspection
            .api_versions
            .iter()
            .filter_map(|v| compat::check_api_version(v).err())
            .collect();
        if refused.is_empty() {
            let latest = runtime::wit::API_VERSION;
            if let Some(older) = inspection
                .api_versions
                .iter()
                .filter_map(|v| runtime::wit::ApiVersion::parse(v))
                .filter(|v| !v.runs_on(latest))
                .min()
            {
                notes.push(format!(
                    "it is built against {}@{older}, which this godwit still runs through an adapter; rebuild it with a godwit-sdk for {} for what {} added (for a notifier: the step-paused and step-resumed events and the fleet target)",
                    compat::API_PACKAGE,
                    latest.api(),
                    latest.api()
                ));
            }
            Ok(inspection.api_versions.clone())
        } else {
            problems.extend(refused.iter().cloned());
            Err(refused.join("; "))
        }
    };

    let declared_world = match &source.manifest {
        Ok(Some(m)) => {
            if let Err(e) = m.check_api() {
                problems.push(e.to_string());
            }
            Some(m.plugin.world)
        }
        Ok(None) => {
            notes.push("it has no manifest, so it requests no capabilities".to_owned());
            None
        }
        Err(e) => {
            problems.push(format!("its manifest cannot be read: {e}"));
            None
        }
    };
    if let (Some(declared), Some(actual)) = (declared_world, inspection.world)
        && declared != actual
    {
        problems.push(format!(
            "its manifest says it is {} plugin, but its exports make it {} plugin",
            declared.with_article(),
            actual.with_article()
        ));
    }
    if let Some(pin) = source.pin()
        && !pin_matches(pin, &inspection.digest)
    {
        problems.push(format!(
            "its SHA-256 is {}, but it is pinned to {pin}; `godwit plugin add` it again if the new file is intended",
            inspection.digest
        ));
    }
    let world = expected.or(declared_world).or(inspection.world);
    let (missing_exports, extra_exports) = match world {
        Some(world) => (
            inspection.missing_exports(world),
            inspection
                .extra_exports(world)
                .iter()
                .map(|e| e.name.clone())
                .collect(),
        ),
        None => {
            problems.push(format!(
                "its exports ({}) are those of no godwit world; a plugin exports {}",
                list(inspection.exports.iter().map(|e| e.name.as_str())),
                World::ALL
                    .iter()
                    .map(|w| format!("{} ({})", list(w.exports().iter().copied()), w.name()))
                    .collect::<Vec<_>>()
                    .join(", or ")
            ));
            (Vec::new(), Vec::new())
        }
    };
    if let Some(world) = world
        && !missing_exports.is_empty()
    {
        problems.push(format!(
            "the {world} world requires export{} {} and the component lacks {}",
            plural(missing_exports.len()),
            list(missing_exports.iter().copied()),
            if missing_exports.len() == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }
    if let Some(world) = world
        && !extra_exports.is_empty()
    {
        notes.push(format!(
            "export{} {} {} not part of the {world} world; godwit never calls {}",
            plural(extra_exports.len()),
            list(extra_exports.iter().map(String::as_str)),
            if extra_exports.len() == 1 {
                "is"
            } else {
                "are"
            },
            if extra_exports.len() == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }
    let missing_imports: Vec<compat::Import> = inspection
        .imports
        .iter()
        .filter(|i| i.link != Link::Provided)
        .cloned()
        .collect();
    for import in &missing_imports {
        problems.push(match &import.link {
            Link::Missing(reason) => format!(
                "it imports {} `{}`, which this host does not provide: {reason}",
                import.kind, import.name
            ),
            Link::Mismatch(reason) => format!(
                "it imports {} `{}` with a type this host does not provide: {reason}",
                import.kind, import.name
            ),
            Link::Provided => unreachable!("filtered"),
        });
    }
    // With everything named right, instantiate once: this is what catches an export of
    // the right name with the wrong signature.
    if problems.is_empty()
        && let Some(world) = world
    {
        let loaded = runtime
            .load_bytes(&source.name, &source.bytes, None)
            .and_then(|plugin| runtime.check_exports(&plugin, world));
        if let Err(e) = loaded {
            problems.push(format!("{e:#}"));
        }
    }

    let verdict = Verdict {
        compatible: problems.is_empty(),
        world,
        api,
        missing_imports,
        missing_exports,
        extra_exports,
        problems,
        notes,
    };
    Ok(Ok((inspection, verdict)))
}

fn check_text(source: &Source, inspection: &Inspection, verdict: &Verdict) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (sha256:{}) against this godwit ({}@{})",
        source.name,
        &inspection.digest[..12],
        compat::API_PACKAGE,
        compat::API_VERSION
    );
    let _ = writeln!(
        out,
        "  api      {}",
        match &verdict.api {
            Ok(v) if v.is_empty() => "unknown (no godwit:plugin import)".to_owned(),
            Ok(v) => format!("{} — supported", v.join(", ")),
            Err(e) => format!("REFUSED: {e}"),
        }
    );
    let _ = writeln!(
        out,
        "  world    {}",
        verdict
            .world
            .map(|w| w.name().to_owned())
            .unwrap_or_else(|| "none".to_owned())
    );
    let provided = inspection.imports.len() - verdict.missing_imports.len();
    let _ = writeln!(
        out,
        "  imports  {provided} of {} provided by this host",
        inspection.imports.len()
    );
    for import in &verdict.missing_imports {
        let reason = match &import.link {
            Link::Missing(r) => format!("not provided: {r}"),
            Link::Mismatch(r) => format!("provided with another type: {r}"),
            Link::Provided => String::new(),
        };
        let _ = writeln!(out, "    - {} {}  ({reason})", import.kind, import.name);
    }
    if let Some(world) = verdict.world {
        let _ = writeln!(
            out,
            "  exports  {} of {} required by {world}",
            world.exports().len() - verdict.missing_exports.len(),
            world.exports().len()
        );
        for name in &verdict.missing_exports {
            let _ = writeln!(out, "    - func {name}  (missing)");
        }
        for name in &verdict.extra_exports {
            let _ = writeln!(
                out,
                "    + {name}  (not in the {world} world; never called)"
            );
        }
    }
    if verdict.compatible {
        let _ = writeln!(out, "compatible");
    } else {
        let _ = writeln!(
            out,
            "NOT compatible: {} problem{}",
            verdict.problems.len(),
            plural(verdict.problems.len())
        );
        for problem in &verdict.problems {
            let _ = writeln!(out, "  - {problem}");
        }
    }
    for note in &verdict.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

// -------------------------------------------------------------------------------- run

fn run_plugin(
    source: &Source,
    overrides: &config::Overrides,
    args: &RunArgs,
    json: bool,
) -> Result<u8, Error> {
    let runtime = new_runtime()?;
    let plugin = runtime
        .load_bytes(&source.name, &source.bytes, source.pin())
        .map_err(plugin_error)?;
    let manifest = source
        .manifest
        .clone()
        .map_err(|e| Error::Config(e.to_string()))?;
    if let Some(m) = &manifest {
        m.check_api().map_err(|e| Error::Config(e.to_string()))?;
    }
    // godwit.toml (else godwit's defaults) bounds what the manifest asks for, as in a
    // deploy; the flags are the operator's for this run and win.
    let operator = source
        .declared
        .as_ref()
        .map(|d| d.limits.clone())
        .unwrap_or_default();
    let (mut limits, lowered) = crate::plugin::registry::effective_limits(
        &source.name,
        &operator,
        manifest.as_ref().map(|m| &m.limits),
    );
    for note in lowered {
        eprintln!("warning: {note}");
    }
    if let Some(timeout) = args.timeout {
        limits.timeout = timeout;
    }
    if let Some(fuel) = args.fuel {
        limits.fuel = Some(fuel);
    }
    if let Some(memory) = args.memory {
        limits.memory_bytes = memory;
    }
    let mut context = Context::default();
    if let Some(declared) = &source.declared {
        context.settings = declared
            .config
            .iter()
            .map(|(k, v)| (k.clone(), sample::wit_value(v.clone())))
            .collect();
        // What a deploy would grant it: its requests cut down to godwit.toml's grants.
        let requests = manifest
            .as_ref()
            .map(|m| m.requests.clone())
            .unwrap_or_default();
        let capabilities = Capabilities::effective(&requests, &declared.grants, &source.name);
        context.env = capabilities
            .env()
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect();
        // As a deploy would refuse it: no other plugin's directory inside this one's, or
        // this one's inside another's (the outer could swap the inner for a link out).
        if let Some(dir) = capabilities.dir() {
            let file = config::FileConfig::read(&source.project_dir)?;
            crate::plugin::registry::not_nested_among(
                &source.project_dir,
                &file.plugins,
                &source.name,
                dir,
            )?;
        }
        context.append = crate::plugin::registry::granted_files(
            &source.project_dir,
            &source.name,
            capabilities.append(),
        )?;
        // As a deploy would refuse it: no file grant reaches what the project runs.
        crate::plugin::registry::not_over_what_project_runs(
            &source.project_dir,
            overrides,
            &source.name,
            capabilities.dir(),
            &context.append,
        )?;
        context.dir = capabilities
            .dir()
            .map(|d| crate::plugin::registry::granted_dir(&source.project_dir, &source.name, d))
            .transpose()?;
        context.hosts = crate::plugin::registry::effective_hosts(
            &declared.grants.hosts,
            &requests.hosts,
            &capabilities,
        );
    }
    for (key, value) in settings(&args.config)? {
        match context.settings.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => context.settings.push((key, value)),
        }
    }
    let world = plugin.world().ok_or_else(|| {
        Error::Config(format!(
            "plugin {} exports the functions of no godwit world; `godwit plugin check` says what it lacks",
            plugin.label()
        ))
    })?;
    let wanted = match (&args.rows, &args.migration, &args.event) {
        (Some(_), _, _) => World::Backfill,
        (_, Some(_), _) => World::Validator,
        (_, _, Some(_)) => World::Notifier,
        _ => {
            return Err(Error::Config(format!(
                "say what to feed plugin {}: --rows FILE for a backfill, --migration DIR for a validator, --event FILE for a notifier (it is {})",
                plugin.label(),
                world.name()
            )));
        }
    };
    if world != wanted {
        let flag = match world {
            World::Backfill => "--rows FILE",
            World::Validator => "--migration DIR",
            World::Notifier => "--event FILE",
            World::DataStep => "a database: data steps run in `godwit deploy`",
        };
        return Err(Error::Config(format!(
            "plugin {} is {} plugin, and what you gave is input for {}; feed it {flag}",
            plugin.label(),
            world.with_article(),
            wanted.with_article()
        )));
    }
    let runner = Runner {
        runtime: &runtime,
        plugin: &plugin,
        limits,
        context,
        json,
    };
    match world {
        World::Backfill => runner.backfill(args),
        World::Validator => runner.validator(args.migration.as_deref().expect("checked")),
        World::Notifier => runner.notifier(
            args.event.as_deref().expect("checked"),
            args.target.as_deref(),
        ),
        World::DataStep => unreachable!("no flag asks for a data step"),
    }
}

/// `--config KEY=VALUE`s as the plugin sees them.
fn settings(pairs: &[String]) -> Result<Vec<(String, types::Value)>, Error> {
    let mut settings: Vec<(String, types::Value)> = Vec::new();
    for pair in pairs {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--config {pair}: write KEY=VALUE, e.g. --config table=users"
            ))
        })?;
        let value = sample::setting(value.trim());
        match settings.iter_mut().find(|(k, _)| k == key.trim()) {
            Some(slot) => slot.1 = value,
            None => settings.push((key.trim().to_owned(), value)),
        }
    }
    Ok(settings)
}

struct Runner<'a> {
    runtime: &'a Runtime,
    plugin: &'a Plugin,
    limits: Limits,
    /// Settings and grants; each call gets a copy.
    context: Context,
    json: bool,
}

/// Time, fuel and memory of one call, and what the plugin said on the side.
fn costs<T>(call: &Call<T>) -> serde_json::Value {
    json!({
        "elapsed_ms": call.elapsed.as_secs_f64() * 1000.0,
        "fuel_used": call.fuel_used,
        "peak_memory": call.peak_memory,
        "stdout": call.stdout,
        "stderr": call.stderr,
        "logs": call.logs,
    })
}

fn costs_line<T>(call: &Call<T>) -> String {
    format!(
        "{:.2} ms, fuel {}, peak memory {}",
        call.elapsed.as_secs_f64() * 1000.0,
        call.fuel_used,
        crate::report::bytes(call.peak_memory as u64)
    )
}

fn side_output(out: &mut String, stdout: &str, stderr: &str, logs: &[LogLine]) {
    for line in logs {
        let _ = writeln!(out, "    log {}: {}", line.level, line.message);
    }
    for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
        for line in text.lines() {
            let _ = writeln!(out, "    {name}: {line}");
        }
    }
}

impl Runner<'_> {
    fn context(&self) -> Context {
        Context {
            settings: self.context.settings.clone(),
            session: None,
            env: self.context.env.clone(),
            dir: self.context.dir.clone(),
            append: self.context.append.clone(),
            hosts: self.context.hosts.clone(),
        }
    }

    /// Reports a failed call — a trap, a limit, a refusal — with what the plugin printed
    /// and logged before it failed (in the error's message), and fails the command. With
    /// --json the calls that succeeded and the error go out as one document, with the
    /// exit code, and the error to stderr.
    fn failed(
        &self,
        what: &str,
        e: runtime::Error,
        calls: Vec<serde_json::Value>,
    ) -> Result<u8, Error> {
        let e = plugin_error(e);
        if self.json {
            let message = config::redact(&e.to_string());
            print_json(&json!({
                "plugin": self.plugin.label(),
                "calls": calls,
                "failed": what,
                "error": message,
                "exit_code": e.exit_code(),
            }));
            eprintln!("error: {message}");
            Ok(e.exit_code())
        } else {
            outln!("{what}: FAILED");
            Err(e)
        }
    }

    fn backfill(&self, args: &RunArgs) -> Result<u8, Error> {
        let path = args.rows.as_deref().expect("checked");
        let rows = sample::read_rows(path)?;
        let mut out = String::new();
        let mut calls = Vec::new();
        let describe = match self
            .runtime
            .describe(self.plugin, &self.limits, self.context())
        {
            Ok(call) => call,
            Err(e) => return self.failed("describe", e, calls),
        };
        let spec = &describe.value;
        let _ = writeln!(out, "describe  {}", costs_line(&describe));
        let _ = writeln!(out, "  {}", spec_line(spec));
        side_output(&mut out, &describe.stdout, &describe.stderr, &describe.logs);
        calls.push(
            json!({ "call": "describe", "spec": spec_json(spec), "costs": costs(&describe) }),
        );
        let allowed: Vec<&str> = spec
            .key
            .split(',')
            .map(str::trim)
            .chain(spec.writes.iter().map(String::as_str))
            .collect();
        let batch = args.batch.map(|n| n as usize).unwrap_or(rows.len().max(1));
        let mut total_out = 0usize;
        for (i, chunk) in rows.chunks(batch).enumerate() {
            let first = i * batch + 1;
            let what = format!("transform rows {first}-{}", first + chunk.len() - 1);
            if !self.json {
                out!("{out}");
                out.clear();
            }
            let call =
                match self
                    .runtime
                    .transform(self.plugin, &self.limits, self.context(), chunk)
                {
                    Ok(call) => call,
                    Err(e) => return self.failed(&what, e, calls),
                };
            total_out += call.value.len();
            let _ = writeln!(out, "{what}  {}", costs_line(&call));
            let mut refused = Vec::new();
            for row in &call.value {
                let _ = writeln!(out, "  {}", sample::row_text(row));
                for column in row {
                    if !allowed.contains(&column.name.as_str()) && !refused.contains(&column.name) {
                        refused.push(column.name.clone());
                    }
                }
            }
            if !refused.is_empty() {
                let _ = writeln!(
                    out,
                    "  warning: it returned column{} {} outside the key and `writes` of describe; a deploy refuses such rows",
                    plural(refused.len()),
                    list(refused.iter().map(String::as_str))
                );
            }
            side_output(&mut out, &call.stdout, &call.stderr, &call.logs);
            calls.push(json!({
                "call": "transform",
                "rows_in": chunk.len(),
                "rows": call.value.iter().map(sample::row_json).collect::<Vec<_>>(),
                "outside_writes": refused,
                "costs": costs(&call),
            }));
        }
        if self.json {
            print_json(
                &json!({ "plugin": self.plugin.label(), "world": "backfill", "calls": calls }),
            );
        } else {
            let _ = writeln!(
                out,
                "{} row{} in, {total_out} out, in {} transform call{}",
                rows.len(),
                plural(rows.len()),
                rows.len().div_ceil(batch),
                plural(rows.len().div_ceil(batch))
            );
            out!("{out}");
        }
        Ok(exit::OK)
    }

    fn validator(&self, dir: &Path) -> Result<u8, Error> {
        let migration = sample::read_migration(dir)?;
        let call = match self.runtime.check_migration(
            self.plugin,
            &self.limits,
            self.context(),
            &migration,
        ) {
            Ok(call) => call,
            Err(e) => return self.failed("check-migration", e, Vec::new()),
        };
        let errors = call
            .value
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        if self.json {
            print_json(&json!({
                "plugin": self.plugin.label(),
                "world": "validator",
                "migration": format!("{}_{}", migration.version, migration.name),
                "findings": call.value.iter().map(finding_json).collect::<Vec<_>>(),
                "costs": costs(&call),
            }));
        } else {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "check-migration {}_{}  {}",
                migration.version,
                migration.name,
                costs_line(&call)
            );
            for f in &call.value {
                let _ = writeln!(
                    out,
                    "  {}[{}] {}{}",
                    severity(f.severity),
                    f.rule,
                    f.message,
                    f.location
                        .as_deref()
                        .map(|l| format!("  at {l}"))
                        .unwrap_or_default()
                );
                if let Some(help) = &f.help {
                    let _ = writeln!(out, "      help: {help}");
                }
            }
            side_output(&mut out, &call.stdout, &call.stderr, &call.logs);
            let _ = writeln!(
                out,
                "{} finding{}, {errors} error{}",
                call.value.len(),
                plural(call.value.len()),
                plural(errors)
            );
            out!("{out}");
        }
        // As `godwit lint`: an error finding is what blocks a deploy.
        Ok(if errors > 0 { exit::BLOCKED } else { exit::OK })
    }

    fn notifier(&self, path: &Path, target: Option<&str>) -> Result<u8, Error> {
        let event = sample::read_event(path)?;
        let call = match self.runtime.notify(
            self.plugin,
            &self.limits,
            self.context(),
            &event,
            target,
        ) {
            Ok(Some(call)) => call,
            Ok(None) => {
                let why = format!(
                    "plugin {} is built against {}@{}, which has no `{}` event, so it was not called",
                    self.plugin.label(),
                    runtime::wit::API_PACKAGE,
                    self.plugin.api(),
                    sample::event_kind(&event)
                );
                if self.json {
                    print_json(
                        &json!({ "plugin": self.plugin.label(), "world": "notifier", "delivered": false, "reason": why }),
                    );
                } else {
                    out!("not delivered: {why}\n");
                }
                return Ok(exit::OK);
            }
            Err(e) => return self.failed("notify", e, Vec::new()),
        };
        let call = match self.plugin.answer(call) {
            Ok(call) => call,
            Err(e) => return self.failed("notify", e, Vec::new()),
        };
        if self.json {
            print_json(
                &json!({ "plugin": self.plugin.label(), "world": "notifier", "delivered": true, "costs": costs(&call) }),
            );
        } else {
            let mut out = String::new();
            let _ = writeln!(out, "notify  {}", costs_line(&call));
            side_output(&mut out, &call.stdout, &call.stderr, &call.logs);
            let _ = writeln!(out, "delivered");
            out!("{out}");
        }
        Ok(exit::OK)
    }
}

fn spec_line(spec: &BackfillSpec) -> String {
    format!(
        "table {}, key {}, reads [{}], writes [{}], filter {}, batch size hint {}",
        spec.table,
        spec.key,
        spec.reads.join(", "),
        spec.writes.join(", "),
        spec.filter.as_deref().unwrap_or("none"),
        spec.batch_size_hint
    )
}

fn spec_json(spec: &BackfillSpec) -> serde_json::Value {
    json!({
        "table": spec.table,
        "key": spec.key,
        "reads": spec.reads,
        "writes": spec.writes,
        "filter": spec.filter,
        "batch_size_hint": spec.batch_size_hint,
    })
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

fn finding_json(f: &Finding) -> serde_json::Value {
    json!({
        "rule": f.rule,
        "severity": severity(f.severity),
        "message": f.message,
        "location": f.location,
        "help": f.help,
    })
}

/// `--timeout`: a duration a plugin call can run under, as `[plugins.NAME.limits]` allows.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = config::parse_duration(text)?;
    config::PluginLimits {
        timeout: Some(timeout),
        ..Default::default()
    }
    .validate()?;
    Ok(timeout)
}

/// `--memory`: bytes, or with a KiB/MiB/GiB suffix, as godwit.toml writes sizes.
fn parse_size(text: &str) -> Result<usize, String> {
    let bytes = config::parse_size(text)?;
    usize::try_from(bytes).map_err(|_| format!("`{}` is too large", text.trim()))
}
