//! Compiled plugins on disk, so that a deploy does not pay for Cranelift on every run.
//!
//! A file is named by the component's SHA-256 and the engine's precompile-compatibility
//! hash: a different component or a different wasmtime version, target or setting gets
//! a different file, and a stale entry is never picked up, only left behind.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::Origin;

/// Why a component could not be had.
pub(super) enum Failure {
    /// The bytes are not a component this engine can compile.
    Compile(String),
    /// The cache directory or file could not be written.
    Io { path: PathBuf, message: String },
}

/// The cache file for a component with `digest` under `engine`.
pub(super) fn entry(engine: &Engine, dir: &Path, digest: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!("{digest}-{:016x}.cwasm", hasher.finish()))
}

/// Reads the compiled component from the cache, or compiles it and stores it there.
/// An entry that does not deserialize (truncated, corrupted) is recompiled and replaced.
pub(super) fn load_or_compile(
    engine: &Engine,
    dir: Option<&Path>,
    digest: &str,
    bytes: &[u8],
) -> Result<(Component, Origin), Failure> {
    let Some(dir) = dir else {
        return Ok((compile(engine, bytes)?, Origin::Compiled));
    };
    let path = entry(engine, dir, digest);
    if path.is_file() {
        // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output, since it
        // maps it as executable code. The cache directory is ours, the file name carries the
        // SHA-256 of the component it was compiled from and the engine's compatibility
        // hash, and we only ever write it with `Component::serialize` via a rename, so a
        // file at this path is what this engine compiled from these exact bytes. Damage
        // wasmtime can detect (bad header, wrong version) comes back as an error and we
        // recompile.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok((component, Origin::Cache));
        }
    }
    let component = compile(engine, bytes)?;
    store(&component, dir, &path)?;
    Ok((component, Origin::Compiled))
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, Failure> {
    if !bytes.starts_with(b"\0asm") {
        return Err(Failure::Compile(
            "the file does not start with the WebAssembly magic bytes".into(),
        ));
    }
    Component::from_binary(engine, bytes).map_err(|e| Failure::Compile(format!("{e:#}")))
}

/// Writes through a temporary file and a rename, so that a reader never sees half a file.
fn store(component: &Component, dir: &Path, path: &Path) -> Result<(), Failure> {
    let io = |path: &Path, what: &str, e: &dyn std::fmt::Display| Failure::Io {
        path: path.to_owned(),
        message: format!("cannot {what} the plugin compile cache: {e}"),
    };
    let code = component
        .serialize()
        .map_err(|e| io(path, "serialize into", &format!("{e:#}")))?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, "create", &e))?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, "write to", &e))?;
    file.write_all(&code)
        .map_err(|e| io(path, "write to", &e))?;
    file.persist(path)
        .map_err(|e| io(path, "write to", &e.error))?;
    Ok(())
}
