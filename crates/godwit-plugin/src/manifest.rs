//! What a plugin says about itself: name, world, API version, the capabilities it asks
//! for and the limits it needs.
//!
//! The manifest is TOML, embedded in the component as a custom section named
//! `godwit-manifest` (the SDK's export macro emits it from the crate's
//! `godwit-plugin.toml`), or shipped beside the file: `foo.wasm` → `foo.toml`. A plugin
//! without one requests nothing. Asking is not getting: see [`super::capability`].
//!
//! ```
//! use godwit_plugin::manifest::Manifest;
//!
//! let m = Manifest::parse(
//!     "[plugin]\nname = \"column-copy\"\nversion = \"0.1.0\"\nworld = \"backfill\"\napi = \"0.1\"\n\
//!      [requests]\nread = [\"users\"]\nwrite = [\"users.email_normalized\"]\n",
//!     "column-copy.toml",
//! )
//! .unwrap();
//! m.check_api().unwrap();
//! assert_eq!(m.requests.write, ["users.email_normalized"]);
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::Digest as _;

use crate::wit::{self, ApiVersion, World};

/// The custom section holding an embedded manifest.
pub const SECTION: &str = "godwit-manifest";

/// A manifest that cannot be read or is not acceptable; every message names its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error(
        "plugin {plugin} was built against godwit:plugin API {api}, but this godwit supports {supported}; rebuild it with a matching godwit-sdk or use a godwit that supports {api}"
    )]
    UnsupportedApi {
        plugin: String,
        api: String,
        supported: String,
    },
    /// A sidecar manifest beside a pinned plugin, with no pin of its own.
    #[error(
        "{sidecar} is a sidecar manifest beside a pinned plugin, but it is not pinned itself (its SHA-256 is {actual}), so what the plugin asks for could change after it was reviewed; refusing to load the plugin\n  \
         if you trust it, install the plugin again with `godwit plugin add`, which pins both files in godwit.lock, or add manifest_sha256 = \"{actual}\" to the plugin's [plugins.NAME] in godwit.toml"
    )]
    SidecarUnpinned { sidecar: String, actual: String },
    /// The sidecar manifest is not the one pinned.
    #[error(
        "{sidecar} has SHA-256 {actual}, but the plugin's manifest is pinned to {expected} (godwit.lock, or manifest_sha256 in godwit.toml); refusing to load the plugin\n  \
         if the new manifest is intended, review what it asks for and install the plugin again with `godwit plugin add`, or update the pin"
    )]
    SidecarChanged {
        sidecar: String,
        expected: String,
        actual: String,
    },
    /// The pinned sidecar manifest is gone.
    #[error(
        "{sidecar} is missing, but the plugin's manifest is pinned to {expected} (godwit.lock, or manifest_sha256 in godwit.toml); refusing to load the plugin without it\n  \
         restore the file, or install the plugin again with `godwit plugin add`"
    )]
    SidecarMissing { sidecar: String, expected: String },
}

/// `godwit-plugin.toml` / the embedded section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub plugin: PluginInfo,
    #[serde(default)]
    pub requests: Requests,
    #[serde(default)]
    pub limits: LimitRequests,
}

/// `[plugin]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// `backfill`, `data-step`, `validator` or `notifier`.
    pub world: World,
    /// The `godwit:plugin` API version it was built against, `major.minor`.
    pub api: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `[requests]`: what the plugin asks for. Each entry means what the same entry in the
/// operator's grants means (see [`super::capability::Grants`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requests {
    /// Tables it reads: `users`, `public.users`, `*`.
    #[serde(default)]
    pub read: Vec<String>,
    /// Columns it writes: `users.email`, `users.*`, `*.*`.
    #[serde(default)]
    pub write: Vec<String>,
    /// Environment variables it reads.
    #[serde(default)]
    pub env: Vec<String>,
    /// Whether it wants a directory (the operator chooses which).
    #[serde(default)]
    pub dir: bool,
    /// Whether it wants files to append to (the operator chooses which).
    #[serde(default)]
    pub append: bool,
    /// Outbound HTTP authorities, `host` or `host:port`.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `[limits]`: what the plugin needs; the operator's limits win.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRequests {
    /// Bytes, written `"64MiB"`.
    #[serde(default, deserialize_with = "godwit_core::duration::deserialize_size")]
    pub memory: Option<u64>,
    /// Written `"5s"`.
    #[serde(
        default,
        deserialize_with = "godwit_core::duration::deserialize_duration"
    )]
    pub timeout: Option<Duration>,
    pub fuel: Option<u64>,
}

impl Manifest {
    /// Parses manifest text; `source_name` (a file, or "the godwit-manifest section of
    /// X") is named in every error, along with the line and key.
    pub fn parse(text: &str, source_name: &str) -> Result<Manifest, ManifestError> {
        let invalid = |message: String| ManifestError::Invalid {
            source_name: source_name.to_string(),
            message,
        };
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if manifest.plugin.name.trim().is_empty() {
            return Err(invalid("[plugin] name is empty".into()));
        }
        parse_api(&manifest.plugin.api).map_err(|m| invalid(format!("[plugin] api: {m}")))?;
        Ok(manifest)
    }

    /// The manifest embedded in a component, if any: a custom section named
    /// [`SECTION`] at the top level or in any nested component or core module.
    pub fn from_component(
        bytes: &[u8],
        source_name: &str,
    ) -> Result<Option<Manifest>, ManifestError> {
        let section = find_section(bytes, SECTION).map_err(|message| ManifestError::Invalid {
            source_name: source_name.to_string(),
            message: format!("cannot read the WebAssembly file: {message}"),
        })?;
        let Some(data) = section else {
            return Ok(None);
        };
        let where_ = format!("the {SECTION} section of {source_name}");
        let text = std::str::from_utf8(&data).map_err(|e| ManifestError::Invalid {
            source_name: where_.clone(),
            message: format!("not UTF-8 text: {e}"),
        })?;
        Manifest::parse(text, &where_).map(Some)
    }

    /// The manifest for the plugin at `wasm`: the embedded one, else the sidecar
    /// `foo.toml` beside `foo.wasm`, else none. Having both is refused, because they could
    /// disagree.
    ///
    /// This reads a sidecar as it is, for looking at a plugin; a project's plugins are
    /// loaded with [`Manifest::load_pinned`].
    pub fn load(wasm: &Path, bytes: &[u8]) -> Result<Option<Manifest>, ManifestError> {
        let sidecar = std::fs::read(sidecar_path(wasm));
        Manifest::resolve(wasm, bytes, sidecar)
    }

    /// [`Manifest::load`] for a pinned plugin: a sidecar must match `pin` (the SHA-256 of
    /// its bytes, lower-case hex), a pinned one must be there, and one without a pin is
    /// refused. The file is read once, so what was checked is what is parsed.
    pub fn load_pinned(
        wasm: &Path,
        bytes: &[u8],
        pin: Option<&str>,
    ) -> Result<Option<Manifest>, ManifestError> {
        let path = sidecar_path(wasm);
        let sidecar_name = path.display().to_string();
        let sidecar = std::fs::read(&path);
        match (&sidecar, pin) {
            (Ok(text), pin) => {
                let actual = godwit_core::value::hex(&sha2::Sha256::digest(text));
                match pin {
                    None => {
                        return Err(ManifestError::SidecarUnpinned {
                            sidecar: sidecar_name,
                            actual,
                        });
                    }
                    Some(expected) if expected != actual => {
                        return Err(ManifestError::SidecarChanged {
                            sidecar: sidecar_name,
                            expected: expected.to_owned(),
                            actual,
                        });
                    }
                    Some(_) => {}
                }
            }
            (Err(e), Some(expected)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::SidecarMissing {
                    sidecar: sidecar_name,
                    expected: expected.to_owned(),
                });
            }
            (Err(_), _) => {}
        }
        Manifest::resolve(wasm, bytes, sidecar)
    }

    /// The embedded manifest or the sidecar's (`sidecar`, as read), refusing both.
    pub fn resolve(
        wasm: &Path,
        bytes: &[u8],
        sidecar: std::io::Result<Vec<u8>>,
    ) -> Result<Option<Manifest>, ManifestError> {
        let name = wasm.display().to_string();
        let sidecar_name = sidecar_path(wasm).display().to_string();
        let embedded = Manifest::from_component(bytes, &name)?;
        match (embedded, sidecar) {
            (Some(_), Ok(_)) => Err(ManifestError::Invalid {
                source_name: name,
                message: format!(
                    "has an embedded manifest and a sidecar {sidecar_name} as well; remove one"
                ),
            }),
            (Some(m), Err(_)) => Ok(Some(m)),
            (None, Ok(data)) => {
                let text = String::from_utf8(data).map_err(|e| ManifestError::Invalid {
                    source_name: sidecar_name.clone(),
                    message: format!("not UTF-8 text: {e}"),
                })?;
                Manifest::parse(&text, &sidecar_name).map(Some)
            }
            (None, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            (None, Err(e)) => Err(ManifestError::Invalid {
                source_name: sidecar_name,
                message: format!("cannot be read: {e}"),
            }),
        }
    }

    /// Refuses an API version this host does not run.
    pub fn check_api(&self) -> Result<(), ManifestError> {
        check_api(&self.plugin.name, &self.plugin.api)
    }
}

/// `foo.wasm` → `foo.toml`.
pub fn sidecar_path(wasm: &Path) -> PathBuf {
    wasm.with_extension("toml")
}

fn parse_api(api: &str) -> Result<ApiVersion, String> {
    let bad = || {
        format!(
            "`{api}` is not an API version; write major.minor, e.g. \"{}\"",
            wit::API_VERSION.api()
        )
    };
    let (major, minor) = api.trim().split_once('.').ok_or_else(bad)?;
    Ok(ApiVersion::new(
        major.parse().map_err(|_| bad())?,
        minor.parse().map_err(|_| bad())?,
        0,
    ))
}

/// Whether `api` (`major.minor`) is a version [`wit::supports`].
pub fn check_api(plugin: &str, api: &str) -> Result<(), ManifestError> {
    match parse_api(api) {
        Ok(v) if wit::supports(v) => Ok(()),
        _ => Err(ManifestError::UnsupportedApi {
            plugin: plugin.to_string(),
            api: api.to_string(),
            supported: wit::supported_apis(),
        }),
    }
}

/// The first custom section named `name`, searching nested components and modules.
fn find_section(bytes: &[u8], name: &str) -> Result<Option<Vec<u8>>, String> {
    use wasmparser::{Parser, Payload};
    // The parser walks nested modules and components in one flat stream of payloads.
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CustomSection(reader) = payload.map_err(|e| e.to_string())?
            && reader.name() == name
        {
            return Ok(Some(reader.data().to_vec()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[plugin]
name = "column-copy"
version = "0.1.0"
world = "backfill"
api = "0.1"
description = "Copy a column."

[requests]
read = ["*"]
write = ["*.*"]
env = []
dir = false
hosts = []

[limits]
memory = "64MiB"
timeout = "5s"
fuel = 1000
"#;

    #[test]
    fn parses_every_section() {
        let m = Manifest::parse(FULL, "m.toml").unwrap();
        assert_eq!(m.plugin.world, World::Backfill);
        assert_eq!(m.requests.read, ["*"]);
        assert_eq!(m.limits.memory, Some(64 << 20));
        assert_eq!(m.limits.timeout, Some(Duration::from_secs(5)));
        assert_eq!(m.limits.fuel, Some(1000));
        m.check_api().unwrap();
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let err = Manifest::parse(&FULL.replace("dir = false", "dirs = false"), "x/m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x/m.toml: "), "{err}");
        assert!(err.contains("dirs"), "{err}");
        let err = Manifest::parse(&FULL.replace("\"backfill\"", "\"backfil\""), "m.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("backfil") && err.contains("data-step"),
            "{err}"
        );
        let err = Manifest::parse(&FULL.replace("\"64MiB\"", "\"lots\""), "m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory") || err.contains("lots"), "{err}");
        let err = Manifest::parse(&FULL.replace("\"0.1\"", "\"one\""), "m.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("api"), "{err}");
    }

    #[test]
    fn unsupported_api_says_what_is_supported() {
        let m = Manifest::parse(&FULL.replace("\"0.1\"", "\"1.0\""), "m.toml").unwrap();
        let err = m.check_api().unwrap_err().to_string();
        assert!(
            err.contains("API 1.0") && err.contains("supports 0.1"),
            "{err}"
        );
        assert!(check_api("p", "0.3").is_err());
        assert!(check_api("p", "0.2").is_ok());
        assert!(
            check_api("p", "0.1").is_ok(),
            "0.1 plugins run through an adapter"
        );
    }

    #[test]
    fn finds_the_section_in_a_nested_core_module() {
        let manifest = FULL.replace('"', "\\\"").replace('\n', "\\n");
        let wat = format!(
            r#"(component
                 (core module (@custom "{SECTION}" "{manifest}"))
               )"#
        );
        let bytes = wat::parse_str(&wat).unwrap();
        let m = Manifest::from_component(&bytes, "p.wasm").unwrap().unwrap();
        assert_eq!(m.plugin.name, "column-copy");
        let plain = wat::parse_str("(component)").unwrap();
        assert_eq!(Manifest::from_component(&plain, "p.wasm").unwrap(), None);
        let err = Manifest::from_component(b"not wasm", "p.wasm").unwrap_err();
        assert!(err.to_string().starts_with("p.wasm: cannot read"), "{err}");
    }

    #[test]
    fn sidecar_beside_the_wasm() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("foo.wasm");
        let bytes = wat::parse_str("(component)").unwrap();
        assert_eq!(Manifest::load(&wasm, &bytes).unwrap(), None);
        std::fs::write(dir.path().join("foo.toml"), FULL).unwrap();
        let m = Manifest::load(&wasm, &bytes).unwrap().unwrap();
        assert_eq!(m.plugin.version, "0.1.0");
        std::fs::write(dir.path().join("foo.toml"), "[plugin]\nname = 1\n").unwrap();
        let err = Manifest::load(&wasm, &bytes).unwrap_err().to_string();
        assert!(err.contains("foo.toml"), "{err}");
    }

    #[test]
    fn a_pinned_sidecar_must_be_the_one_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("foo.wasm");
        let bytes = wat::parse_str("(component)").unwrap();
        let pin = godwit_core::value::hex(&sha2::Sha256::digest(FULL.as_bytes()));
        // No sidecar and no pin: no manifest.
        assert_eq!(Manifest::load_pinned(&wasm, &bytes, None).unwrap(), None);
        // Pinned but gone.
        let err = Manifest::load_pinned(&wasm, &bytes, Some(&pin)).unwrap_err();
        assert!(matches!(err, ManifestError::SidecarMissing { .. }), "{err}");
        std::fs::write(dir.path().join("foo.toml"), FULL).unwrap();
        let m = Manifest::load_pinned(&wasm, &bytes, Some(&pin))
            .unwrap()
            .unwrap();
        assert_eq!(m.requests.read, ["*"]);
        // There but unpinned.
        let err = Manifest::load_pinned(&wasm, &bytes, None).unwrap_err();
        assert!(
            matches!(err, ManifestError::SidecarUnpinned { .. }),
            "{err}"
        );
        // Changed after pinning, even by a byte of whitespace.
        for changed in [FULL.replace("\"*\"", "\"secrets\""), format!("{FULL}\n")] {
            std::fs::write(dir.path().join("foo.toml"), changed).unwrap();
            let err = Manifest::load_pinned(&wasm, &bytes, Some(&pin)).unwrap_err();
            assert!(matches!(err, ManifestError::SidecarChanged { .. }), "{err}");
        }
    }
}
