//! Builds every Rust guest crate — the first-party plugins in `plugins/`, the test fixtures
//! in `tests/guests/` and the examples in `examples/plugins/rust/` — for `wasm32-wasip2`.
//!
//! The guests are built by a nested cargo into their own target directory, next to the
//! profile directories (`<target>/wasm-guests-<checkout>`): it never waits on the lock the
//! outer cargo holds, and `build`, `test`, `clippy` and `doc`, debug or release, share one
//! build. As wasmtime's `crates/test-programs/artifacts/build.rs` does, the flags cargo meant
//! for the host are kept away from the guests.
//!
//! Paths are remapped so that the bytes do not depend on where the checkout or the cargo
//! home is: the first-party plugins built here must equal the committed `crates/godwit-engine/builtin/`
//! files on any machine with the pinned toolchain.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let crate_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = crate_dir
        .parent()
        .and_then(Path::parent)
        .expect("tests/artifacts is inside the workspace");
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

    ensure_target();
    let guests = guest_packages(root);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let target_dir = guest_target_dir(&out_dir, &crate_dir);

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
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cargo.env_remove(var);
    }
    cargo.env("CARGO_ENCODED_RUSTFLAGS", remapped_paths(root).join("\x1f"));
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
    std::fs::write(out_dir.join("guests.rs"), format!("&{guests:?}")).expect("OUT_DIR is writable");
}

/// Installs the wasm32-wasip2 target into the toolchain building us when it lacks it.
///
/// `rust-toolchain.toml` names the target, but rustup adds targets only when it installs a
/// toolchain, not to one a machine already has; without this, a fresh machine's first
/// `cargo test` would stop at "can't find crate for `core`". Only the tests need the
/// target: the godwit binary embeds prebuilt components.
fn ensure_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if sysroot
        .as_ref()
        .is_some_and(|s| s.join("lib/rustlib").join(TARGET).is_dir())
    {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    match rustup.output() {
        Ok(out) if out.status.success() => println!(
            "cargo:warning=installed the {TARGET} target with `rustup target add {TARGET}`: the test guests are built for it"
        ),
        Ok(out) => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed:\n{}\ninstall it by hand, then run the tests again",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "the {TARGET} target is missing and rustup could not be run ({e}); \
             install the target for {} (e.g. `rustup target add {TARGET}`)",
            sysroot.map_or("this toolchain".into(), |s| s.display().to_string())
        ),
    }
}

/// `--remap-path-prefix` flags for the checkout and the cargo home, whose paths would
/// otherwise end up in panic messages inside the components.
fn remapped_paths(root: &Path) -> Vec<String> {
    let mut flags = vec![format!("--remap-path-prefix={}=/godwit", root.display())];
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags
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
fn guest_target_dir(out_dir: &Path, crate_dir: &Path) -> PathBuf {
    use std::hash::{DefaultHasher, Hash as _, Hasher as _};
    let mut hasher = DefaultHasher::new();
    crate_dir.hash(&mut hasher);
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
