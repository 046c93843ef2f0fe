//! The WebAssembly plugin runtime: one engine, a sandbox per call, and a compile cache.
//!
//! This crate is godwit's plugin host without the database or the configuration: what a
//! plugin may touch comes in as [`Limits`], [`capability::Grants`] and a
//! [`SessionHandler`] the caller implements (godwit's own, over its database drivers, is
//! `godwit::plugin::session`). Which plugins a project configures, and with which grants,
//! is the host's business too (`godwit::plugin::registry`).
//!
//! Plugins are components built against `wit/godwit-plugin.wit`. Every call gets a fresh
//! [`Store`](wasmtime::Store) with deny-by-default WASI, a memory cap, a time limit (epoch deadline checked
//! against the wall clock) and, when asked, a fuel budget. A store is never reused, so a
//! plugin that trapped cannot leave broken state behind for the next call; what makes that
//! cheap is [`InstancePre`](wasmtime::component::InstancePre), which does the linking once per plugin.
//!
//! A call that goes wrong inside the sandbox — a trap, a limit — is an [`Error::Trap`]; a
//! plugin that returns its own `Err` is a [`PluginError`]. The two stay apart up to the
//! message the user reads: one is a plugin bug or a limit to raise, the other the plugin's
//! considered answer.
//!
//! ```no_run
//! # fn demo() -> Result<(), godwit_plugin::Error> {
//! use godwit_plugin::{Limits, Runtime, RuntimeConfig};
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let plugin = runtime.load(std::path::Path::new("plugins/check.wasm"), None)?;
//! let call = runtime.call(&plugin, &Limits::default(), |store, instance| {
//!     let run = instance.get_typed_func::<(), ()>(&mut *store, "run")?;
//!     run.call(&mut *store, ())
//! })?;
//! print!("{}", call.stdout);
//! # Ok(()) }
//! ```

// In layers, each naming only the layers below it (`.ci/module-cycles` checks that no two
// modules import each other): `wit` (the bindings, the worlds, the API versions) at the
// bottom; `handler` (what a caller lends a call) and `text`; `sandbox`; `imports` (the
// host side of the WIT imports); `cache` and `links`; `runtime`; and on top of the
// runtime, `calls` (one typed call per export) and `compat`. `manifest` and `capability`
// (a plugin's requests and grants) need only `wit`; this file only re-exports.
pub mod append;
mod cache;
mod calls;
pub mod capability;
pub mod compat;
mod handler;
mod imports;
pub mod links;
pub mod manifest;
pub mod runtime;
mod sandbox;
mod text;
pub mod wit;

pub use cache::{Origin, key_path as cache_key_path, state_dir};
pub use handler::{LogLine, SessionHandler};
pub use imports::LOG_CAP;
pub use runtime::{
    Allocation, Call, EPOCH_TICK, Error, Limits, MAX_TIMEOUT, POOL_MAX_MEMORY, Plugin, PluginError,
    Runtime, RuntimeConfig,
};
pub use sandbox::{Context, OUTPUT_CAP, State, authority_allowed};
pub use text::{mebibytes, sanitize, sanitize_lines};
pub use wit::latest::{backfill, data_step, notifier, types, validator};
pub use wit::{Session, World};
