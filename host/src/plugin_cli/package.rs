//! `godwit plugin pack` and `godwit plugin add`: ship a plugin as one self-describing
//! `.wasm`, and install one into a project, pinned in `godwit.lock`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{Source, assess, check_text, print_json};
use crate::config::CONFIG_FILE;
use crate::error::{Error, Refusal, exit};
use crate::lockfile::{Lock, LockEntry, is_digest};
use crate::plugin::manifest::{self, Manifest};
use crate::value::hex;

/// The largest plugin `plugin add` downloads; Python components are ~20 MB.
const MAX_DOWNLOAD: u64 = 512 << 20;

/// `godwit plugin pack`
#[derive(Debug, Args)]
pub struct PackArgs {
    /// The component, as the language's toolchain built it.
    pub wasm: PathBuf,
    /// The plugin's manifest.
    #[arg(long, value_name = "FILE", default_value = "godwit-plugin.toml")]
    pub manifest: PathBuf,
    /// Where to write the packed component (default: replace WASM).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `godwit plugin add`
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A .wasm file, an http(s) URL of one (which needs --sha256), or builtin:NAME to pin
    /// a plugin built into godwit.
    pub source: String,
    /// The SHA-256 its publisher gives, lower-case hex; required for a URL.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// The name steps and godwit.toml use (default: the manifest's name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Embeds `manifest` into `wasm` as the `godwit-manifest` custom section.
pub fn pack(args: &PackArgs, json: bool) -> Result<u8, Error> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))
    };
    let bytes = read(&args.wasm)?;
    if !wasmparser::Parser::is_component(&bytes) {
        return Err(Error::Config(format!(
            "{} is not a WebAssembly component; build it for wasm32-wasip2 (cargo), with componentize-py or with componentize-js",
            args.wasm.display()
        )));
    }
    let text = String::from_utf8(read(&args.manifest)?).map_err(|e| {
        Error::Config(format!(
            "{} is not UTF-8 text: {e}",
            args.manifest.display()
        ))
    })?;
    let parsed = Manifest::parse(&text, &args.manifest.display().to_string())
        .map_err(|e| Error::Config(e.to_string()))?;
    parsed
        .check_api()
        .map_err(|e| Error::Config(e.to_string()))?;
    let wasm_name = args.wasm.display().to_string();
    if Manifest::from_component(&bytes, &wasm_name)
        .map_err(|e| Error::Config(e.to_string()))?
        .is_some()
    {
        return Err(Error::Config(format!(
            "{wasm_name} already carries a {} section; pack the component as its toolchain built it",
            manifest::SECTION
        )));
    }
    let packed = with_custom_section(&bytes, manifest::SECTION, text.as_bytes());
    let out = args.output.clone().unwrap_or_else(|| args.wasm.clone());
    let tmp = out.with_extension("wasm.tmp");
    std::fs::write(&tmp, &packed)
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| Error::Config(format!("cannot write {}: {e}", out.display())))?;
    let digest = hex(&Sha256::digest(&packed));
    if json {
        print_json(&json!({
            "packed": out,
            "name": parsed.plugin.name,
            "version": parsed.plugin.version,
            "world": parsed.plugin.world,
            "sha256": digest,
            "size": packed.len(),
        }));
    } else {
        outln!(
            "packed {} {} ({}) into {}: {}, sha256 {digest}",
            parsed.plugin.name,
            parsed.plugin.version,
            parsed.plugin.world,
            out.display(),
            crate::report::bytes(packed.len() as u64),
        );
    }
    Ok(exit::OK)
}

/// `bytes` with a custom section appended; custom sections may come anywhere in a
/// component, and tools that do not know one skip it.
fn with_custom_section(bytes: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    leb128(&mut payload, name.len() as u64);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut out = Vec::with_capacity(bytes.len() + payload.len() + 6);
    out.extend_from_slice(bytes);
    out.push(0); // custom section id
    leb128(&mut out, payload.len() as u64);
    out.extend_from_slice(&payload);
    out
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Installs a plugin into the project: checks it, copies it to `plugins/NAME.wasm`, pins
/// it in godwit.lock and declares it in godwit.toml. Nothing is written unless every check
/// passes.
pub fn add(args: &AddArgs, project_dir: &Path, json: bool) -> Result<u8, Error> {
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let expected = match &args.sha256 {
        Some(pin) => {
            let pin = pin.trim().to_ascii_lowercase();
            let pin = pin.strip_prefix("sha256:").unwrap_or(&pin).to_owned();
            if !is_digest(&pin) {
                return Err(Error::Config(format!(
                    "--sha256 {pin} is not a SHA-256 digest (64 hex digits)"
                )));
            }
            Some(pin)
        }
        None if is_url => {
            return Err(Error::Config(format!(
                "a plugin from a URL needs --sha256: godwit installs downloaded code only when its digest matches the one its publisher gives\n  \
                 e.g. godwit plugin add {} --sha256 <64 hex digits>",
                args.source
            )));
        }
        None => None,
    };
    let builtin = args.source.strip_prefix("builtin:");
    let (bytes, sidecar) = if let Some(name) = builtin {
        let bytes = crate::plugin::builtin::get(name).ok_or_else(|| {
            Error::Config(format!(
                "no built-in plugin `{name}`; built-in plugins: {}",
                crate::plugin::builtin::names()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        (bytes.to_vec(), None)
    } else if is_url {
        (download(&args.source)?, None)
    } else {
        let path = if Path::new(&args.source).is_absolute() {
            PathBuf::from(&args.source)
        } else {
            std::env::current_dir()?.join(&args.source)
        };
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::Config(format!("cannot read plugin {}: {e}", path.display())))?;
        // Read once: what is pinned below is what is parsed and installed.
        let sidecar = manifest::sidecar_path(&path);
        let sidecar = match std::fs::read(&sidecar) {
            Ok(text) => Some((path.clone(), text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read the plugin's manifest {}: {e}",
                    sidecar.display()
                )));
            }
        };
        (bytes, sidecar)
    };
    let digest = hex(&Sha256::digest(&bytes));
    if let Some(expected) = &expected
        && *expected != digest
    {
        return Err(Error::blocked(
            Refusal::PluginFile,
            format!(
                "{}: its SHA-256 is {digest}, but --sha256 says {expected}; nothing was installed. \
             Check where the file came from before trusting it",
                args.source
            ),
        ));
    }

    let display = args
        .source
        .rsplit('/')
        .next()
        .unwrap_or(&args.source)
        .to_owned();
    let source = Source {
        name: display.clone(),
        origin: args.source.clone(),
        manifest: match &sidecar {
            Some((wasm, text)) => Manifest::resolve(wasm, &bytes, Ok(text.clone())),
            None => Manifest::from_component(&bytes, &display),
        },
        bytes,
        declared: None,
        project_dir: project_dir.to_path_buf(),
    };
    // Compiled into the project's cache, where a deploy looks: installing pays for
    // Cranelift, the first deploy does not.
    let runtime = crate::plugin::Runtime::new(crate::plugin::RuntimeConfig {
        cache_dir: Some(crate::plugin::registry::cache_dir(project_dir)),
        pooling: false,
    })
    .map_err(|e| Error::Config(e.to_string()))?;
    let (inspection, verdict) = match assess(&runtime, &source, None)? {
        Ok(assessed) => assessed,
        Err(message) => {
            return Err(Error::blocked(
                Refusal::PluginFile,
                format!("{}: not installed: {message}", args.source),
            ));
        }
    };
    if !verdict.compatible {
        return Err(Error::blocked(
            Refusal::PluginFile,
            format!(
                "{}: not installed, because this godwit cannot run it:\n{}",
                args.source,
                check_text(&source, &inspection, &verdict).trim_end()
            ),
        ));
    }
    let found = source
        .manifest
        .clone()
        .map_err(|e| Error::Config(e.to_string()))?;
    let name = match (&args.name, &found) {
        (Some(name), _) => name.clone(),
        (None, Some(m)) => m.plugin.name.clone(),
        (None, None) => {
            return Err(Error::Config(format!(
                "{} has no manifest to take its name from; give one with --name NAME",
                args.source
            )));
        }
    };
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::Config(format!(
            "`{name}` cannot name a plugin: use letters, digits, `-` and `_`, starting with a letter; pass --name"
        )));
    }
    let world = verdict
        .world
        .map(|w| w.name().to_owned())
        .unwrap_or_default();
    let entry = LockEntry {
        name: name.clone(),
        version: found
            .as_ref()
            .map(|m| m.plugin.version.clone())
            .unwrap_or_else(|| "unknown".into()),
        world,
        api: found
            .as_ref()
            .map(|m| m.plugin.api.clone())
            .unwrap_or_else(|| crate::plugin::wit::API_VERSION.api()),
        sha256: digest.clone(),
        manifest_sha256: sidecar.as_ref().map(|(_, text)| hex(&Sha256::digest(text))),
        source: args.source.clone(),
    };

    let mut lock = Lock::read(project_dir).map_err(Error::Config)?;
    let mut entry = entry;
    if let Some(old) = lock.get(&name)
        && old.sha256 == entry.sha256
    {
        // The same bytes again (say, the installed copy): keep where they first came from.
        entry.source = old.source.clone();
    }
    let config_path = project_dir.join(CONFIG_FILE);
    let config_text = match std::fs::read_to_string(&config_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read {}: {e}",
                config_path.display()
            )));
        }
    };
    let rel = PathBuf::from("plugins").join(format!("{name}.wasm"));
    let code = match builtin {
        Some(builtin) => Code::Builtin(builtin),
        None => Code::Path(&rel),
    };
    let new_config = declare(
        &config_text,
        &name,
        code,
        (&digest, entry.manifest_sha256.as_deref()),
        found.as_ref(),
    )
    .map_err(|e| Error::Config(format!("{}: {e}", config_path.display())))?;

    // Every check passed: write the plugin (a built-in one stays in godwit), then the
    // lock, then godwit.toml.
    if builtin.is_none() {
        install(
            project_dir,
            &rel,
            &source.bytes,
            sidecar.as_ref().map(|(_, text)| text.as_slice()),
        )?;
    }
    let replaced = lock.insert(entry.clone());
    lock.write(project_dir)?;
    if new_config != config_text {
        std::fs::write(&config_path, &new_config)?;
    }

    if json {
        print_json(&json!({
            "added": entry.name,
            "version": entry.version,
            "world": entry.world,
            "api": entry.api,
            "sha256": entry.sha256,
            "path": rel,
            "replaced": replaced.as_ref().map(|r| json!({"version": r.version, "sha256": r.sha256})),
            "requests": found.as_ref().map(|m| &m.requests),
        }));
        return Ok(exit::OK);
    }
    match &replaced {
        Some(old) if old.sha256 == entry.sha256 => outln!(
            "{name} {} ({}) is already installed with this digest",
            entry.version,
            entry.world
        ),
        Some(old) => outln!(
            "updated {name} {} -> {} ({}), sha256 {digest}",
            old.version,
            entry.version,
            entry.world
        ),
        None => outln!(
            "added {name} {} ({}) as {}, sha256 {digest}",
            entry.version,
            entry.world,
            match builtin {
                Some(builtin) => format!("builtin:{builtin}"),
                None => rel.display().to_string(),
            }
        ),
    }
    outln!("  pinned in {}", crate::lockfile::LOCK_FILE);
    if let Some(m) = &found {
        let r = &m.requests;
        let asks: Vec<String> = [
            ("read", &r.read),
            ("write", &r.write),
            ("env", &r.env),
            ("hosts", &r.hosts),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} = {v:?}"))
        .chain(
            r.dir
                .then(|| "dir = \"<a directory you choose>\"".to_owned()),
        )
        .chain(
            r.append
                .then(|| "append = [\"<files you choose>\"]".to_owned()),
        )
        .collect();
        if asks.is_empty() {
            outln!("  it asks for no capabilities");
        } else {
            outln!(
                "  it asks for: {}\n  it gets only what you grant under [plugins.{name}.grants] in {CONFIG_FILE}",
                asks.join("; ")
            );
        }
    }
    Ok(exit::OK)
}

/// Copies the plugin to `plugins/NAME.wasm`, with its sidecar manifest if it has one.
fn install(
    project_dir: &Path,
    rel: &Path,
    bytes: &[u8],
    sidecar: Option<&[u8]>,
) -> Result<(), Error> {
    let target = project_dir.join(rel);
    std::fs::create_dir_all(target.parent().expect("plugins/NAME.wasm has a parent"))?;
    let tmp = target.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &target)?;
    // The manifest travels with the file: the sidecar as it was read and pinned, or none
    // (a stale one from an earlier version would contradict the embedded manifest).
    let target_sidecar = manifest::sidecar_path(&target);
    match sidecar {
        Some(text) => {
            let tmp = target.with_extension("toml.tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &target_sidecar)?;
        }
        None if target_sidecar.is_file() => std::fs::remove_file(&target_sidecar)?,
        None => {}
    }
    Ok(())
}

/// Where a declared plugin's code comes from.
#[derive(Clone, Copy)]
enum Code<'a> {
    /// A file in the project, relative to it.
    Path(&'a Path),
    /// A plugin built into godwit.
    Builtin(&'a str),
}

impl Code<'_> {
    /// The `key = "value"` that says so in `[plugins.NAME]`.
    fn key_value(self) -> (&'static str, String) {
        match self {
            Code::Path(rel) => ("path", rel.to_string_lossy().replace('\\', "/")),
            Code::Builtin(name) => ("builtin", name.to_owned()),
        }
    }
}

/// godwit.toml's text with `[plugins.NAME]` pointing at `code`: added when missing, its
/// `path` or `builtin` set when present, and a `sha256` and `manifest_sha256` there
/// updated to `digests` (the code's, the sidecar manifest's) so that they agree with the
/// lock. Comments and layout elsewhere are kept.
fn declare(
    text: &str,
    name: &str,
    code: Code<'_>,
    digests: (&str, Option<&str>),
    manifest: Option<&Manifest>,
) -> Result<String, String> {
    let (digest, manifest_digest) = digests;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let (key, value) = code.key_value();
    if let Some(existing) = doc
        .get_mut("plugins")
        .and_then(|p| p.get_mut(name))
        .and_then(toml_edit::Item::as_table_mut)
    {
        existing.remove(if key == "path" { "builtin" } else { "path" });
        existing[key] = toml_edit::value(value);
        if existing.contains_key("sha256") {
            existing["sha256"] = toml_edit::value(digest);
        }
        if existing.contains_key("manifest_sha256") {
            match manifest_digest {
                Some(pin) => existing["manifest_sha256"] = toml_edit::value(pin),
                None => {
                    existing.remove("manifest_sha256");
                }
            }
        }
        return Ok(doc.to_string());
    }
    // A new table goes at the very end, after any trailing comments, so that none of
    // them ends up looking like part of it.
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str("# Installed by `godwit plugin add`; its SHA-256 is pinned in godwit.lock.\n");
    if let Some(m) = manifest {
        let r = &m.requests;
        let lists = [
            ("read", &r.read),
            ("write", &r.write),
            ("env", &r.env),
            ("hosts", &r.hosts),
        ];
        if r.dir || r.append || lists.iter().any(|(_, l)| !l.is_empty()) {
            out.push_str(&format!(
                "# It asks for the following; grant what you trust under [plugins.{name}.grants]:\n"
            ));
            for (key, list) in lists {
                if !list.is_empty() {
                    out.push_str(&format!("#   {key} = {list:?}\n"));
                }
            }
            if r.dir {
                out.push_str("#   dir = \"<a directory under the project>\"\n");
            }
            if r.append {
                out.push_str("#   append = [\"<files it may append to>\"]\n");
            }
        }
    }
    out.push_str(&format!("[plugins.{name}]\n{key} = {value:?}\n"));
    out.parse::<toml_edit::DocumentMut>()
        .map_err(|e| format!("adding [plugins.{name}] would not be valid TOML: {e}"))?;
    Ok(out)
}

/// GETs `url` with a time limit and a size cap.
fn download(url: &str) -> Result<Vec<u8>, Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(300)))
        .build()
        .into();
    let fail = |e: &dyn std::fmt::Display| {
        Error::Config(format!("cannot download {url}: {e}; nothing was installed"))
    };
    let response = agent.get(url).call().map_err(|e| fail(&e))?;
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_DOWNLOAD + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_DOWNLOAD {
        return Err(fail(&format!(
            "it is larger than {}",
            crate::report::bytes(MAX_DOWNLOAD)
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_component_carries_the_manifest() {
        let bytes = wat::parse_str("(component)").unwrap();
        let text =
            "[plugin]\nname = \"x\"\nversion = \"1.2.3\"\nworld = \"notifier\"\napi = \"0.1\"\n";
        let packed = with_custom_section(&bytes, manifest::SECTION, text.as_bytes());
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&packed)
            .unwrap();
        let m = Manifest::from_component(&packed, "x.wasm")
            .unwrap()
            .unwrap();
        assert_eq!(m.plugin.version, "1.2.3");
    }

    #[test]
    fn leb128_encodes_multi_byte_lengths() {
        let mut out = Vec::new();
        leb128(&mut out, 624_485);
        assert_eq!(out, [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn declare_adds_a_table_and_keeps_the_rest() {
        let text = "# my project\ndatabase_url = \"sqlite://app.db\"\n\n[plugins.other]\nbuiltin = \"column-copy\"\n";
        let m = Manifest::parse(
            "[plugin]\nname = \"n\"\nversion = \"0.1.0\"\nworld = \"backfill\"\napi = \"0.1\"\n[requests]\nread = [\"users\"]\n",
            "m.toml",
        )
        .unwrap();
        let out = declare(
            text,
            "n",
            Code::Path(Path::new("plugins/n.wasm")),
            (&"a".repeat(64), None),
            Some(&m),
        )
        .unwrap();
        assert!(out.starts_with("# my project\n"), "{out}");
        assert!(
            out.contains("[plugins.other]\nbuiltin = \"column-copy\""),
            "{out}"
        );
        assert!(
            out.contains("[plugins.n]\npath = \"plugins/n.wasm\""),
            "{out}"
        );
        assert!(out.contains("#   read = [\"users\"]"), "{out}");
        assert!(!out.contains("sha256"), "{out}");

        let pinned = "[plugins.n]\npath = \"old.wasm\"\nsha256 = \"".to_owned()
            + &"b".repeat(64)
            + "\"\nmanifest_sha256 = \""
            + &"b".repeat(64)
            + "\"\n[plugins.n.grants]\nread = [\"users\"]\n";
        let out = declare(
            &pinned,
            "n",
            Code::Path(Path::new("plugins/n.wasm")),
            (&"c".repeat(64), Some(&"d".repeat(64))),
            None,
        )
        .unwrap();
        assert!(
            out.contains(&format!("\nsha256 = \"{}\"", "c".repeat(64))),
            "{out}"
        );
        assert!(
            out.contains(&format!("manifest_sha256 = \"{}\"", "d".repeat(64))),
            "{out}"
        );
        let out = declare(
            &pinned,
            "n",
            Code::Path(Path::new("plugins/n.wasm")),
            (&"c".repeat(64), None),
            None,
        )
        .unwrap();
        assert!(!out.contains("manifest_sha256"), "{out}");
        assert!(out.contains("path = \"plugins/n.wasm\""), "{out}");
        assert!(
            out.contains("[plugins.n.grants]\nread = [\"users\"]"),
            "{out}"
        );
    }
}
