//! Embeds the Python and JavaScript SDKs and their templates, so that
//! `godwit plugin new --lang python|js` writes a project that builds anywhere.
//!
//! The first-party plugins the binary embeds are committed components in `builtin/`, not
//! built here: building godwit needs neither the wasm32-wasip2 target nor the plugins'
//! sources. The test-only crate `tests/artifacts` builds them from source, and a test
//! checks that the committed files match.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let host_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = host_dir
        .parent()
        .expect("the host crate is inside the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    write_sdk_files(root, &out_dir);
}

/// `$OUT_DIR/sdk_files.rs`: the Python and JavaScript SDKs and templates, embedded so that
/// `godwit plugin new --lang python|js` writes a project that builds anywhere.
fn write_sdk_files(root: &Path, out_dir: &Path) {
    let mut code = String::new();
    for (lang, dir) in [("PYTHON", "sdk/python"), ("JS", "sdk/js")] {
        let base = root.join(dir);
        let mut sdk = Vec::new();
        let mut templates = Vec::new();
        collect(&base, &base, &mut sdk, &mut templates);
        sdk.sort();
        templates.sort();
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
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
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
        let skipped = (name.starts_with('.') && name != ".gitignore")
            || matches!(name.as_str(), "node_modules" | "__pycache__")
            || name.ends_with(".pyc")
            || name.ends_with(".lock");
        if skipped {
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
