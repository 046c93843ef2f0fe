//! The runtime: one engine, a sandbox per call, and the plugins it has loaded.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::append;
use crate::cache::{self, Origin};
use crate::handler::LogLine;
use crate::imports;
use crate::links;
use crate::sandbox::{self, Context, LimitHit, State};
use crate::text::{mebibytes, sanitize, with_plugin_output};
use crate::wit::{self, ApiVersion, World};
use godwit_core::value::hex;
use sha2::{Digest as _, Sha256};
use wasmtime::component::{Instance, InstancePre, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

/// How often the ticker thread advances the engine's epoch; a call overruns its time limit
/// by at most this much.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest linear memory a plugin can have: the pooling allocator's slot size, and,
/// so that a limit means the same on every machine, the cap on [`Limits::memory_bytes`]
/// under on-demand allocation too.
pub const POOL_MAX_MEMORY: usize = 1 << 30;

/// The longest time limit a plugin call can have, whoever sets it. A call is one batch or
/// one check: one that needs longer is better split into smaller batches, and a bound here
/// keeps every deadline godwit derives from a limit (the host's grace period, statement
/// timeouts) far from overflowing.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Wasm stack a call may use before it traps with a stack overflow.
const MAX_WASM_STACK: usize = 512 * 1024;

/// What went wrong loading or calling a plugin, with the plugin named in every message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The plugin trapped or hit one of its limits; a plugin bug or a limit to raise.
    #[error("plugin {plugin} {message}")]
    Trap { plugin: String, message: String },

    /// The file is not a WebAssembly component this engine can compile.
    #[error("plugin {plugin} is not a usable WebAssembly component: {message}")]
    Malformed { plugin: String, message: String },

    /// The file is not the one godwit.toml or godwit.lock pins.
    #[error(
        "plugin file has SHA-256 {actual}, but it is pinned to {expected} (godwit.lock, or the sha256 in godwit.toml); refusing to load it\n  if the new file is intended, install it again with `godwit plugin add`, or update the pin"
    )]
    Digest { expected: String, actual: String },

    /// The component needs imports this host does not provide, or cannot be instantiated.
    #[error("plugin {plugin} cannot be linked: {message}")]
    Link { plugin: String, message: String },

    /// The engine could not be configured.
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),

    /// Reading the plugin or writing the compile cache failed.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },

    /// The plugin was asked to do what its world does not export.
    #[error(
        "plugin {plugin} is {} plugin, not {}; point this setting at a {expected} plugin",
        actual.map(World::with_article).unwrap_or("not a godwit"),
        expected.with_article()
    )]
    WrongWorld {
        plugin: String,
        expected: World,
        actual: Option<World>,
    },

    /// The plugin answered with its own `Err`.
    #[error(transparent)]
    Refused(#[from] PluginError),

    /// The plugin left symbolic links in its granted directory; godwit removed them, and
    /// the call failed whatever the plugin answered.
    #[error(
        "plugin {plugin} left symbolic links in its granted directory {}: {}; godwit removed them\n  a plugin may not leave links there: a program outside the sandbox (godwit, another plugin, a later CI step) would follow them out of the directory",
        dir.display(),
        links.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    LinksLeft {
        plugin: String,
        dir: PathBuf,
        links: Vec<links::RemovedLink>,
    },

    /// A file granted with `append` could not be handed to the plugin, or what the plugin
    /// did to it was refused (a rewrite, a link, too much); nothing was written to it.
    #[error("plugin {plugin}: {source}")]
    Append {
        plugin: String,
        source: append::AppendError,
    },

    /// The granted directory could not be checked for links after the call, so the call
    /// counts as failed.
    #[error("plugin {plugin}: cannot check its granted directory {} after the call: {source}", dir.display())]
    GrantedDir {
        plugin: String,
        dir: PathBuf,
        source: links::WalkError,
    },
}

/// A plugin's own refusal: the `Err` arm of an exported function's `result`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin} reported: {message}")]
pub struct PluginError {
    pub plugin: String,
    pub message: String,
}

/// Per-call resource limits.
///
/// [`Limits::default`] is godwit's ceiling for a plugin the operator set no limits for;
/// The host's registry (`godwit::plugin::registry::effective_limits`) combines it with
/// godwit.toml and the plugin's manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most any one linear memory of the plugin may grow to; growing past it traps.
    pub memory_bytes: usize,
    /// Instructions, roughly, a call may execute; `None` for no budget.
    pub fuel: Option<u64>,
    /// Wall-clock time for instantiation plus the call.
    pub timeout: Duration,
}

impl Default for Limits {
    /// 64 MiB, 10 s, no fuel budget: room for an interpreted (Python, JavaScript) plugin's
    /// batch on a loaded machine, and what first-party plugins' manifests ask for at most.
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            fuel: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// The host's own deadline for a call: the time limit plus a grace period, for when
    /// the epoch deadline cannot fire (the plugin is waiting in a host call, such as a
    /// database statement). When it fires, the host abandons the call and cancels the
    /// statement the call was waiting for. Saturating: godwit.toml bounds the limit, but no
    /// limit may turn this sum into a panic.
    pub fn host_deadline(&self) -> Duration {
        self.timeout
            .saturating_add(Duration::from_secs(5))
            .saturating_add(self.timeout / 2)
    }
}

/// How the engine is set up.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where compiled plugins are kept, e.g. `.godwit/cache`; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// Try the pooling allocator (fast instantiation, large virtual reservation) and fall
    /// back to on-demand allocation if the machine refuses the reservation.
    pub pooling: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            pooling: true,
        }
    }
}

/// How instances get their memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    Pooling,
    OnDemand,
}

/// The engine plugins run in, and the thread that keeps its clock.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<State>,
    allocation: Allocation,
    cache_dir: Option<PathBuf>,
    ticker: Option<Ticker>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("allocation", &self.allocation)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

/// Advances the epoch every [`EPOCH_TICK`] until the runtime drops its sender.
struct Ticker {
    stop: mpsc::Sender<()>,
    thread: thread::JoinHandle<()>,
}

impl Runtime {
    /// Builds the engine, falling back from pooling to on-demand allocation when pooling
    /// cannot reserve its address space.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, Error> {
        let (engine, allocation) = if config.pooling {
            match Engine::new(&engine_config(Allocation::Pooling)) {
                Ok(engine) => (engine, Allocation::Pooling),
                Err(_) => (new_engine(Allocation::OnDemand)?, Allocation::OnDemand),
            }
        } else {
            (new_engine(Allocation::OnDemand)?, Allocation::OnDemand)
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::Engine(format!("{e:#}")))?;
        // Outgoing HTTP only (no incoming handler), gated per call by `Context::hosts`.
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| Error::Engine(format!("{e:#}")))?;
        imports::add_to_linker(&mut linker).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let (stop, ticks) = mpsc::channel::<()>();
        let clock = engine.clone();
        let thread = thread::Builder::new()
            .name("godwit-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = ticks.recv_timeout(EPOCH_TICK) {
                    clock.increment_epoch();
                }
            })
            .map_err(|e| Error::Engine(format!("cannot start the epoch thread: {e}")))?;
        Ok(Runtime {
            engine,
            linker,
            allocation,
            cache_dir: config.cache_dir,
            ticker: Some(Ticker { stop, thread }),
        })
    }

    /// Whether the pooling allocator is in use, or the on-demand fallback.
    pub fn allocation(&self) -> Allocation {
        self.allocation
    }

    /// The engine, for callers that build their own bindings.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads a plugin file, checking it against `pin` (hex SHA-256) when given.
    pub fn load(&self, path: &Path, pin: Option<&str>) -> Result<Plugin, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_owned(),
            message: format!("cannot read plugin: {e}"),
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.load_bytes(&name, &bytes, pin)
    }

    /// Loads a plugin from memory; `name` is what errors call it.
    pub fn load_bytes(&self, name: &str, bytes: &[u8], pin: Option<&str>) -> Result<Plugin, Error> {
        let digest = hex(&Sha256::digest(bytes));
        if let Some(expected) = pin {
            let expected = expected.trim().to_ascii_lowercase();
            let expected = expected.strip_prefix("sha256:").unwrap_or(&expected);
            if expected != digest {
                return Err(Error::Digest {
                    expected: expected.to_owned(),
                    actual: digest,
                });
            }
        }
        let label = format!("{name} (sha256:{})", &digest[..12]);
        let (component, origin) = self.compile(&label, &digest, bytes)?;
        // An API this host does not speak would fail to link anyway; say why in its terms.
        if let Some(refusal) = wit::api_versions(&self.engine, &component)
            .iter()
            .find_map(|v| wit::check_api_version(v).err())
        {
            return Err(Error::Link {
                plugin: label,
                message: refusal,
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| Error::Link {
                plugin: label.clone(),
                message: format!("{e:#}"),
            })?;
        let world = World::of(&self.engine, &component);
        let api = api_of(&pre, world);
        Ok(Plugin {
            label,
            digest,
            origin,
            world,
            api,
            size: bytes.len(),
            pre,
        })
    }

    /// The component for `bytes` (SHA-256 `digest`), from the compile cache or compiled
    /// and stored there; `label` names it in errors.
    pub(crate) fn compile(
        &self,
        label: &str,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(wasmtime::component::Component, Origin), Error> {
        let loaded = cache::load_or_compile(&self.engine, self.cache_dir.as_deref(), digest, bytes)
            .map_err(|e| match e {
                cache::Failure::Compile(message) => Error::Malformed {
                    plugin: label.to_owned(),
                    message,
                },
                cache::Failure::Io { path, message } => Error::Io { path, message },
            })?;
        if let Some(warning) = loaded.warning {
            // Not an error: the plugin was compiled from its pinned bytes and runs as it
            // should. But a refused cache entry may be an attack, so it is said out loud.
            eprintln!("warning: plugin {label}: {warning}");
        }
        Ok((loaded.component, loaded.origin))
    }

    /// Instantiates `plugin` in a fresh sandbox under `limits` and runs `f` against it.
    ///
    /// `f` returns whatever the export returned, typically a `Result<T, String>` that the
    /// caller turns into a [`PluginError`]; any error `f` itself returns is treated as a trap.
    /// The store is dropped when the call ends, trapped or not.
    pub fn call<R>(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        f: impl FnOnce(&mut Store<State>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<Call<R>, Error> {
        self.call_with(plugin, limits, Context::default(), f)
    }

    /// [`Runtime::call`] with settings, a database session, or grants in `context`.
    pub fn call_with<R>(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        context: Context,
        f: impl FnOnce(&mut Store<State>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<Call<R>, Error> {
        let memory_bytes = limits.memory_bytes.min(POOL_MAX_MEMORY);
        let append_error = |source| Error::Append {
            plugin: plugin.label.clone(),
            source,
        };
        let staged = append::stage(&context.append).map_err(append_error)?;
        let mounts: Vec<(PathBuf, String)> = staged
            .mounts
            .iter()
            .map(|(dir, guest)| (dir.path().to_owned(), guest.clone()))
            .collect();
        let state = State::new(memory_bytes, context, &mounts).map_err(|message| Error::Link {
            plugin: plugin.label.clone(),
            message,
        })?;
        let mut store = Store::new(&self.engine, state);
        store.data_mut().outbound.timeout = limits.timeout;
        store.limiter(|state| &mut state.limiter);
        let fuel = limits.fuel.unwrap_or(u64::MAX);
        store
            .set_fuel(fuel)
            .map_err(|e| Error::Engine(format!("{e:#}")))?;
        let started = Instant::now();
        let timeout = limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() >= timeout {
                Err(wasmtime::Error::new(LimitHit::Time))
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&mut store, &instance));
        let elapsed = started.elapsed();
        let fuel_used = fuel.saturating_sub(store.get_fuel().unwrap_or(fuel));
        let (stdout, stderr) = store.data().output();
        let state = store.data_mut();
        let denied = std::mem::take(&mut state.outbound.denied);
        for authority in &denied {
            state.push_log(
                "warn",
                format!(
                    "outbound HTTP to {authority} refused: not among the hosts granted to this plugin (grants.hosts)"
                ),
            );
        }
        let logs = std::mem::take(&mut state.logs);
        let logs_dropped = state.logs_dropped;
        let peak_memory = state.limiter.peak;
        let dir = state.context.dir.clone();
        drop(store);
        // Whatever the call returned, trapped or not: what it left behind outlives it.
        if let Some(dir) = dir {
            let links = links::remove_links(&dir).map_err(|source| Error::GrantedDir {
                plugin: plugin.label.clone(),
                dir: dir.clone(),
                source,
            })?;
            if !links.is_empty() {
                return Err(Error::LinksLeft {
                    plugin: plugin.label.clone(),
                    dir,
                    links,
                });
            }
        }
        // A trapped call's additions are dropped with its store.
        if result.is_ok() {
            staged.commit().map_err(append_error)?;
        }
        match result {
            Ok(value) => Ok(Call {
                value,
                stdout,
                stderr,
                logs,
                logs_dropped,
                elapsed,
                fuel_used,
                peak_memory,
            }),
            Err(e) => Err(Error::Trap {
                plugin: plugin.label.clone(),
                message: describe_trap(&e, limits, memory_bytes, &stderr, &logs)
                    + &denied
                        .iter()
                        .map(|a| format!("\n  outbound HTTP to {a} was refused: not granted"))
                        .collect::<String>(),
            }),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(Ticker { stop, thread }) = self.ticker.take() {
            drop(stop);
            // The thread only sleeps and ticks; a panic there would already have stopped it.
            let _ = thread.join();
        }
    }
}

/// The version of [`wit::API_PACKAGE`] the host calls a linked component of `world` as.
///
/// Only a notifier's exports differ between the supported versions, so its version is
/// the one whose `notify` its export has the shape of; any other world is called through
/// the latest bindings, and is said to be of the newest version its imports name (or the
/// latest, when it imports none).
fn api_of(pre: &InstancePre<State>, world: Option<World>) -> ApiVersion {
    if world == Some(World::Notifier)
        && wit::latest::notifier::NotifierIndices::new(pre).is_err()
        && wit::since_v0_1_0::notifier::NotifierIndices::new(pre).is_ok()
    {
        return wit::since_v0_1_0::VERSION;
    }
    if world == Some(World::Notifier) {
        return wit::latest::VERSION;
    }
    wit::api_versions(pre.engine(), pre.component())
        .iter()
        .filter_map(|v| ApiVersion::parse(v))
        .filter_map(|v| wit::SUPPORTED.iter().copied().find(|&s| v.runs_on(s)))
        .max()
        .unwrap_or(wit::latest::VERSION)
}

/// A compiled, linked plugin, ready to be instantiated once per call; cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) label: String,
    digest: String,
    origin: Origin,
    pub(crate) world: Option<World>,
    /// The version of the API the component was built against, as far as the host
    /// needs to know it to call the component.
    pub(crate) api: ApiVersion,
    size: usize,
    pub(crate) pre: InstancePre<State>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("label", &self.label)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// The file name and digest prefix, as errors name the plugin.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The component's SHA-256, in lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether this load compiled the component or read it from the cache.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Which godwit world the component's exports make it, if any.
    pub fn world(&self) -> Option<World> {
        self.world
    }

    /// The version of `godwit:plugin` the host calls the component as: the one its
    /// exports have the shape of, else the one its imports name, else the latest.
    pub fn api(&self) -> ApiVersion {
        self.api
    }

    /// The component's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The linked component, for typed bindings such as [`validator::Validator`](crate::validator::Validator).
    pub fn instance_pre(&self) -> &InstancePre<State> {
        &self.pre
    }

    /// Turns the `Err` arm of an export's `result` into a [`PluginError`] naming this plugin.
    pub fn refusal<T>(&self, result: Result<T, String>) -> Result<T, PluginError> {
        result.map_err(|message| PluginError {
            plugin: self.label.clone(),
            message: sanitize(&message),
        })
    }
}

/// What a successful call returned, with what the plugin printed.
#[derive(Debug)]
pub struct Call<R> {
    pub value: R,
    /// At most [`OUTPUT_CAP`](crate::OUTPUT_CAP) bytes of the plugin's stdout, lossily decoded.
    pub stdout: String,
    /// At most [`OUTPUT_CAP`](crate::OUTPUT_CAP) bytes of the plugin's stderr, lossily decoded.
    pub stderr: String,
    /// What the plugin sent to `host.log`, up to [`LOG_CAP`](crate::LOG_CAP) bytes.
    pub logs: Vec<LogLine>,
    /// Log lines past the cap, counted but not kept.
    pub logs_dropped: usize,
    /// Instantiation plus the call.
    pub elapsed: Duration,
    /// Fuel the call burnt: roughly, Wasm instructions executed.
    pub fuel_used: u64,
    /// The largest linear memory the call reached, in bytes.
    pub peak_memory: usize,
}

fn new_engine(allocation: Allocation) -> Result<Engine, Error> {
    Engine::new(&engine_config(allocation)).map_err(|e| Error::Engine(format!("{e:#}")))
}

fn engine_config(allocation: Allocation) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Always on so that one engine (and one cache key) serves calls with and without a
    // budget; calls without one get `u64::MAX`.
    config.consume_fuel(true);
    config.max_wasm_stack(MAX_WASM_STACK);
    if allocation == Allocation::Pooling {
        let mut pool = PoolingAllocationConfig::default();
        // Enough for a deploy's plugins running side by side, small enough that the
        // address space reserved up front stays in the hundreds of gigabytes.
        pool.total_component_instances(64)
            .total_core_instances(128)
            .total_memories(64)
            .total_tables(64)
            .max_memory_size(POOL_MAX_MEMORY);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Says which limit stopped a call, in words a person can act on.
fn describe_trap(
    e: &wasmtime::Error,
    limits: &Limits,
    memory: usize,
    stderr: &str,
    logs: &[LogLine],
) -> String {
    // `downcast_ref` looks through the whole chain, past wasmtime's backtrace context.
    let hit = e.downcast_ref::<LimitHit>();
    let trap = e.downcast_ref::<Trap>();
    let message = if let Some(hit) = hit {
        match hit {
            LimitHit::Time => format!(
                "ran past its {} time limit",
                humantime::format_duration(limits.timeout)
            ),
            LimitHit::Memory => format!(
                "exceeded its memory limit of {} (all of its linear memories together)",
                mebibytes(memory)
            ),
            LimitHit::Table => format!(
                "exceeded its table limit of {} elements (all of its tables together)",
                sandbox::TABLE_ELEMENTS
            ),
        }
    } else {
        match trap {
            Some(Trap::OutOfFuel) => format!(
                "ran out of fuel (budget {})",
                limits.fuel.unwrap_or(u64::MAX)
            ),
            Some(Trap::StackOverflow) => "trapped: stack overflow".to_owned(),
            Some(Trap::Interrupt) => format!(
                "ran past its {} time limit",
                humantime::format_duration(limits.timeout)
            ),
            Some(trap) => format!("trapped: {trap}"),
            // Host functions' errors can quote what the guest passed them.
            None => format!("failed: {}", sanitize(&format!("{e:#}"))),
        }
    };
    let mut message = with_plugin_output(message, logs, stderr);
    if let Some(backtrace) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
        message.push_str(&guest_backtrace(backtrace));
    }
    message
}

/// The guest's own stack where it stopped, innermost first, with the function names its
/// name section kept (demangled) and file:line where it kept DWARF.
fn guest_backtrace(backtrace: &wasmtime::WasmBacktrace) -> String {
    let frames = backtrace.frames();
    if frames.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n  plugin backtrace (innermost first):");
    for (i, frame) in frames.iter().take(BACKTRACE_FRAMES).enumerate() {
        let name = frame
            .func_name()
            .map(|n| sanitize(&format!("{:#}", rustc_demangle::demangle(n))))
            .unwrap_or_else(|| format!("<function {}>", frame.func_index()));
        out.push_str(&format!("\n    {i:>2}: {name}"));
        if let Some(symbol) = frame.symbols().first()
            && let Some(file) = symbol.file()
        {
            out.push_str(&format!(" at {}", sanitize(file)));
            if let Some(line) = symbol.line() {
                out.push_str(&format!(":{line}"));
            }
        }
    }
    if frames.len() > BACKTRACE_FRAMES {
        out.push_str(&format!(
            "\n    … {} more frames",
            frames.len() - BACKTRACE_FRAMES
        ));
    }
    out
}

/// How many frames of a guest backtrace a trap's message shows.
const BACKTRACE_FRAMES: usize = 16;

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn plugin_text_cannot_start_or_rewrite_a_line() {
        let forged = "Applied 1 migration; database is up to date.";
        for raw in [
            format!("x\n{forged}"),
            format!("x\r{forged}"),
            format!("\x1b[2K\x1b[1A{forged}"),
            format!("\x1b]0;t\x07{forged}"),
            format!("x\x08\x08{forged}"),
            format!("\u{9b}2K{forged}"),
            format!("\u{202e}{forged}"),
            format!("x\u{2028}{forged}"),
            format!("x\x0b{forged}"),
        ] {
            let shown = sanitize(&raw);
            assert!(shown.contains(forged), "{shown:?}");
            for line in shown.lines() {
                assert!(!line.trim().starts_with(forged), "{raw:?} -> {shown:?}");
            }
            assert!(
                !shown.chars().any(
                    |c| (c.is_control() && c != '\n') || ('\u{2028}'..='\u{202e}').contains(&c)
                ),
                "{raw:?} -> {shown:?}"
            );
        }
        assert_eq!(
            sanitize("plain text, tabs\tand ünïcode"),
            "plain text, tabs\tand ünïcode"
        );
        assert_eq!(sanitize("a\nb\n"), "a\n  | b");
    }
}
