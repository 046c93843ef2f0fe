//! Builds every guest crate — the first-party plugins in `plugins/` and the test fixtures
//! in `tests/guests/` — for `wasm32-wasip2`, so that `builtin.rs` can embed the plugins and
//! tests can load the fixtures from `env!("GODWIT_GUEST_DIR")`.
//!
//! The guests are built by a nested cargo into their own target directory, next to the
//! profile directories (`<target>/wasm-guests-<checkout>`): it never waits on the lock the outer
//! cargo holds, and `build`, `test`, `clippy` and `doc`, debug or release, share one build.
//! As wasmtime's `crates/test-programs/artifacts/build.rs` does, the flags cargo meant for
//! the host are kept away from the guests.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let host_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = host_dir
        .parent()
        .expect("the host crate is inside the workspace");
    // Not the whole of sdk/: the Python and JS SDKs hold the toolchains their build scripts
    // install (.venv, .toolchain); write_sdk_files watches their own files instead.
    for dir in [
        "sdk/rust",
        "plugins",
        "tests/guests",
        "examples/plugins/rust",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let guests = guest_packages(root);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let target_dir = guest_target_dir(&out_dir);

    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(root)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir);
    for guest in &guests {
        cargo.args(["--package", guest]);
    }
    // Flags for the host target (and clippy-driver, under `cargo clippy`) must not reach
    // the guests; nor must a target dir the outer build was told to use.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cargo.env_remove(var);
    }
    let output = cargo
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?}: {e}"));
    if !output.status.success() {
        panic!(
            "building the wasm guests failed: {cargo:?}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }

    let guest_dir = target_dir.join(TARGET).join("release");
    for guest in &guests {
        let wasm = guest_dir.join(format!("{}.wasm", guest.replace('-', "_")));
        assert!(wasm.is_file(), "{} was not built", wasm.display());
    }
    println!("cargo:rustc-env=GODWIT_GUEST_DIR={}", guest_dir.display());

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

/// The package names of `plugins/*`, `tests/guests/*` and `examples/plugins/rust/*`.
fn guest_packages(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for parent in ["plugins", "tests/guests", "examples/plugins/rust"] {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
            continue;
        };
        for entry in entries {
            let manifest = entry.expect("readable directory").path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            let name = text
                .lines()
                .find_map(|l| {
                    let (key, value) = l.split_once('=')?;
                    (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
                })
                .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
            names.push(name);
        }
    }
    names.sort();
    names
}

/// `<target>/wasm-guests-<checkout>` for an `OUT_DIR` of `<target>/<profile>/build/<pkg>/out`
/// (or `<target>/<triple>/<profile>/...`); inside `OUT_DIR` if the layout is unexpected.
///
/// The checkout's hash keeps two checkouts sharing one `CARGO_TARGET_DIR` (git worktrees)
/// from overwriting each other's guests, whose digests tests and pins depend on.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    use std::hash::{DefaultHasher, Hash as _, Hasher as _};
    let mut hasher = DefaultHasher::new();
    env!("CARGO_MANIFEST_DIR").hash(&mut hasher);
    let name = format!("wasm-guests-{:08x}", hasher.finish() as u32);
    let build = out_dir.parent().and_then(Path::parent);
    match build {
        Some(build) if build.file_name().is_some_and(|n| n == "build") => build
            .parent()
            .and_then(Path::parent)
            .map(|base| base.join(&name))
            .unwrap_or_else(|| out_dir.join(&name)),
        _ => out_dir.join(&name),
    }
}
