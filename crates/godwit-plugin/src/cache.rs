//! Compiled plugins on disk, so that a deploy does not pay for Cranelift on every run.
//!
//! A file is named by the component's SHA-256 and the engine's precompile-compatibility
//! hash: a different component or a different wasmtime version, target or setting gets
//! a different file, and a stale entry is never picked up, only left behind.
//!
//! A cache file is machine code that wasmtime maps as executable and runs without
//! checking it, so its name proves nothing: the directory may be shared, restored by CI
//! from another machine, or written by someone else. godwit therefore deserializes a file
//! only when it carries a valid HMAC-SHA256 tag over the component's digest, the engine's
//! compatibility hash and the code, keyed by a per-user secret kept outside every cache
//! directory ([`key_path`]). A file without a valid tag — tampered with, compiled from
//! another component, copied from another user or machine, or written before tags
//! existed — is recompiled and replaced, with a warning.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a loaded plugin's machine code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Compiled from the component on this load.
    Compiled,
    /// Read back from the compile cache.
    Cache,
}

/// What a cache file starts with; the version changes if the layout does.
const MAGIC: &[u8; 8] = b"GWCACHE1";
/// Bytes of the HMAC-SHA256 tag that follows [`MAGIC`].
const TAG_LEN: usize = 32;
/// Bytes of the per-user key.
const KEY_LEN: usize = 32;

/// Why a component could not be had.
pub(super) enum Failure {
    /// The bytes are not a component this engine can compile.
    Compile(String),
    /// The cache directory or file could not be written.
    Io { path: PathBuf, message: String },
}

/// A component, where it came from, and what the user should hear about the cache.
pub(super) struct Loaded {
    pub component: Component,
    pub origin: Origin,
    /// A cache entry that was refused, or a cache that could not be used.
    pub warning: Option<String>,
}

/// The user's state directory for godwit: `$XDG_STATE_HOME/godwit`, else
/// `~/.local/state/godwit`. It holds what must not sit in a cache directory or a
/// project, such as the key of the compile cache.
pub fn state_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("state"))
        })
        .map(|d| d.join("godwit"))
}

/// The file holding the key that authenticates compile cache entries.
pub fn key_path() -> Option<PathBuf> {
    state_dir().map(|d| d.join("cache-key"))
}

/// The cache file for a component with `digest` under `engine`.
pub(super) fn entry(engine: &Engine, dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!("{digest}-{:016x}.cwasm", compatibility(engine)))
}

fn compatibility(engine: &Engine) -> u64 {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// Reads the compiled component from the cache if its tag proves this user's godwit wrote
/// it for these exact bytes and this engine; otherwise compiles it and stores it there.
pub(super) fn load_or_compile(
    engine: &Engine,
    dir: Option<&Path>,
    digest: &str,
    bytes: &[u8],
) -> Result<Loaded, Failure> {
    let compiled = |warning| {
        Ok(Loaded {
            component: compile(engine, bytes)?,
            origin: Origin::Compiled,
            warning,
        })
    };
    let Some(dir) = dir else {
        return compiled(None);
    };
    let key = match key() {
        Ok(key) => key,
        Err(why) => {
            return compiled(Some(format!(
                "the plugin compile cache is not used, so plugins are compiled on every run: {why}"
            )));
        }
    };
    let path = entry(engine, dir, digest);
    let mac = Tag {
        key: &key,
        digest,
        engine: compatibility(engine),
    };
    let mut warning = None;
    match std::fs::read(&path) {
        Ok(file) => match mac.verify(&file) {
            Some(code) => {
                // SAFETY: `deserialize` trusts its input to be wasmtime's own output, since
                // it maps it as executable code. `verify` has just checked, in constant
                // time, an HMAC-SHA256 over these bytes, the component's digest and the
                // engine's compatibility hash, keyed by this user's secret, which lives
                // outside any cache directory and is never shown to a plugin: only this
                // user's godwit, storing `Component::serialize` output for this component
                // and engine below, can have produced a valid tag. The bytes are in our
                // memory, so nothing can change them between the check and the load.
                match unsafe { Component::deserialize(engine, code) } {
                    Ok(component) => {
                        return Ok(Loaded {
                            component,
                            origin: Origin::Cache,
                            warning: None,
                        });
                    }
                    Err(e) => {
                        warning = Some(format!(
                            "compile cache entry {} could not be loaded ({e:#}); recompiled it",
                            path.display()
                        ))
                    }
                }
            }
            None => {
                warning = Some(format!(
                    "compile cache entry {} was not written by godwit with this user's key ({}): it was changed, compiled from another plugin, copied from another user or machine, or written by an older godwit; ignored it and recompiled the plugin",
                    path.display(),
                    key_path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            warning = Some(format!(
                "cannot read compile cache entry {} ({e}); recompiled the plugin",
                path.display()
            ))
        }
    }
    let component = compile(engine, bytes)?;
    store(&component, dir, &path, &mac)?;
    Ok(Loaded {
        component,
        origin: Origin::Compiled,
        warning,
    })
}

/// The HMAC of one cache entry: what it authenticates besides the code.
#[derive(Clone, Copy)]
struct Tag<'a> {
    key: &'a [u8; KEY_LEN],
    digest: &'a str,
    engine: u64,
}

impl Tag<'_> {
    fn mac(&self, code: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.key).expect("HMAC takes a key of any length");
        // Fixed-length fields first, so no two inputs can run into each other.
        mac.update(MAGIC);
        mac.update(&(self.digest.len() as u64).to_le_bytes());
        mac.update(self.digest.as_bytes());
        mac.update(&self.engine.to_le_bytes());
        mac.update(code);
        mac
    }

    /// The file's code if its tag is valid.
    fn verify<'f>(&self, file: &'f [u8]) -> Option<&'f [u8]> {
        let rest = file.strip_prefix(MAGIC.as_slice())?;
        if rest.len() < TAG_LEN {
            return None;
        }
        let (tag, code) = rest.split_at(TAG_LEN);
        self.mac(code).verify_slice(tag).ok().map(|()| code)
    }

    fn seal(&self, code: &[u8]) -> Vec<u8> {
        let tag = self.mac(code).finalize().into_bytes();
        let mut file = Vec::with_capacity(MAGIC.len() + TAG_LEN + code.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&tag);
        file.extend_from_slice(code);
        file
    }
}

/// This user's cache key, created with random bytes on first use: the file
/// [`key_path`], 0600 in a 0700 directory. A key that other users could read or write
/// is refused, since whoever knows it can make godwit run their code.
fn key() -> Result<[u8; KEY_LEN], String> {
    let path = key_path().ok_or(
        "neither XDG_STATE_HOME (absolute) nor HOME is set, so there is nowhere to keep its key; set one of them",
    )?;
    match read_key(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path),
        other => other,
    }
    .map_err(|e| format!("its key {}: {e}", path.display()))
}

fn read_key(path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(
            "is not a regular file; remove it and godwit creates a new one",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::other(format!(
                "other users can access it (mode {mode:o}); run `chmod 600 {}`, or remove it and godwit creates a new one",
                path.display()
            )));
        }
    }
    let bytes = std::fs::read(path)?;
    bytes.try_into().map_err(|_| {
        std::io::Error::other(
            "is not a godwit key (wrong length); remove it and godwit creates a new one",
        )
    })
}

fn create_key(path: &Path) -> std::io::Result<[u8; KEY_LEN]> {
    let dir = path.parent().expect("the key path has a directory");
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    // Written whole under a temporary name (0600, tempfile's default) and linked into
    // place only if no other godwit got there first, so nobody reads half a key.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&key)?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(key),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(e.error),
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, Failure> {
    if !bytes.starts_with(b"\0asm") {
        return Err(Failure::Compile(
            "the file does not start with the WebAssembly magic bytes".into(),
        ));
    }
    Component::from_binary(engine, bytes).map_err(|e| Failure::Compile(format!("{e:#}")))
}

/// Writes the tagged code through a temporary file and a rename, so that a reader never
/// sees half a file.
fn store(component: &Component, dir: &Path, path: &Path, mac: &Tag<'_>) -> Result<(), Failure> {
    let io = |path: &Path, what: &str, e: &dyn std::fmt::Display| Failure::Io {
        path: path.to_owned(),
        message: format!("cannot {what} the plugin compile cache: {e}"),
    };
    let code = component
        .serialize()
        .map_err(|e| io(path, "serialize into", &format!("{e:#}")))?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, "create", &e))?;
    godwit_core::project::keep_out_of_git(dir);
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, "write to", &e))?;
    file.write_all(&mac.seal(&code))
        .map_err(|e| io(path, "write to", &e))?;
    file.persist(path)
        .map_err(|e| io(path, "write to", &e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_covers_the_key_the_digest_the_engine_and_every_byte() {
        let key = [7u8; KEY_LEN];
        let tag = Tag {
            key: &key,
            digest: "ab",
            engine: 1,
        };
        let file = tag.seal(b"code");
        assert_eq!(tag.verify(&file), Some(&b"code"[..]));
        for i in 0..file.len() {
            let mut flipped = file.clone();
            flipped[i] ^= 0x01;
            assert_eq!(tag.verify(&flipped), None, "byte {i} flipped");
        }
        assert_eq!(tag.verify(&file[..file.len() - 1]), None);
        let other_key = [8u8; KEY_LEN];
        for other in [
            Tag {
                key: &other_key,
                ..tag
            },
            Tag {
                digest: "ac",
                ..tag
            },
            Tag { engine: 2, ..tag },
        ] {
            assert_eq!(other.verify(&file), None);
        }
        assert_eq!(tag.verify(b"\0asm"), None);
    }
}
