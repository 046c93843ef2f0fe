//! Embeds the Python and JavaScript SDKs and their templates, so that
//! `godwit plugin new --lang python|js` writes a project that builds anywhere.
//!
//! Everything embedded comes from inside this package, so that it builds from its `.crate`
//! alone (`cargo install godwit-cli`): `sdk/python` and `sdk/js` here are symbolic links to
//! the workspace's `sdk/python` and `sdk/js` (one copy of the SDKs, which `cargo package`
//! turns into files), and the `exclude` list in Cargo.toml keeps out of the package what
//! [`skipped`] keeps out of the build.
//!
//! The first-party plugins the binary embeds are committed components in `builtin/`, not
//! built here: building godwit needs neither the wasm32-wasip2 target nor the plugins'
//! sources. The test-only crate `tests/artifacts` builds them from source, and a test
//! checks that the committed files match.

use std::env;
use std::path::{Path, PathBuf};

/// Files each SDK must have, relative to its directory: if one is missing, the SDK was not
/// found (a checkout without symbolic links, a package built without them) and the
/// projects `plugin new` writes would not build.
const REQUIRED: &[(&str, &[&str])] = &[
    (
        "python",
        &["godwit/__init__.py", "build.sh", "templates/backfill.py"],
    ),
    ("js", &["godwit.js", "build.sh", "templates/backfill.js"]),
];

fn main() {
    let host_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    write_sdk_files(&host_dir.join("sdk"), &out_dir);
}

/// `$OUT_DIR/sdk_files.rs`: the Python and JavaScript SDKs and templates, embedded so that
/// `godwit plugin new --lang python|js` writes a project that builds anywhere.
fn write_sdk_files(sdk_dir: &Path, out_dir: &Path) {
    let mut code = String::new();
    for (lang, required) in REQUIRED {
        let base = sdk_dir.join(lang);
        for file in *required {
            if !base.join(file).is_file() {
                panic!(
                    "{} is missing, so the {lang} SDK cannot be embedded. In a checkout, \
                     {} must be a symbolic link to ../../sdk/{lang} (with git's \
                     core.symlinks on; on Windows enable Developer Mode and clone again); \
                     in a package, the SDK's files must be inside it (`cargo package --list`).",
                    base.join(file).display(),
                    base.display(),
                );
            }
        }
        let mut sdk = Vec::new();
        let mut templates = Vec::new();
        collect(&base, &base, &mut sdk, &mut templates);
        sdk.sort();
        templates.sort();
        let lang = lang.to_uppercase();
        for (name, list) in [("SDK", &sdk), ("TEMPLATES", &templates)] {
            code.push_str(&format!("pub const {lang}_{name}: &[(&str, &[u8])] = &[\n"));
            for (rel, path) in list {
                println!("cargo:rerun-if-changed={path}");
                code.push_str(&format!("    ({rel:?}, include_bytes!({path:?})),\n"));
            }
            code.push_str("];\n");
        }
    }
    std::fs::write(out_dir.join("sdk_files.rs"), code).expect("OUT_DIR is writable");
}

/// Files under `dir` as (path relative to `base`, absolute path); `templates/` goes to
/// `templates`, toolchains, caches and dotfiles (but `.gitignore`) nowhere.
fn collect(
    base: &Path,
    dir: &Path,
    sdk: &mut Vec<(String, String)>,
    templates: &mut Vec<(String, String)>,
) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory").path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let rel = path
            .strip_prefix(base)
            .expect("under base")
            .to_string_lossy()
            .replace('\\', "/");
        if skipped(&name) {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, sdk, templates);
        } else if let Some(template) = rel.strip_prefix("templates/") {
            templates.push((template.to_owned(), path.display().to_string()));
        } else {
            sdk.push((rel, path.display().to_string()));
        }
    }
}

/// Toolchains, caches and dotfiles (but `.gitignore`) the SDK build scripts leave: never
/// embedded, and never packaged (the same names are in Cargo.toml's `exclude`).
fn skipped(name: &str) -> bool {
    (name.starts_with('.') && name != ".gitignore")
        || matches!(name, "node_modules" | "__pycache__")
        || name.ends_with(".pyc")
        || name.ends_with(".lock")
}
