//! `cargo install godwit-cli` builds the package from its `.crate` alone, far from this
//! workspace: everything the binary embeds must be inside the package. These tests hold
//! the package (`cargo package --list`) to what the build embedded, and the embedded copies
//! to their one source in the workspace. `.ci/package` builds the unpacked `.crate` offline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What host/build.rs embedded in this very build: the same module the binary includes.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));
}

fn host_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files `cargo package` puts in godwit-cli's `.crate`, as paths inside the package.
fn packaged_files() -> BTreeSet<String> {
    files_of_package(env!("CARGO_PKG_NAME"))
}

/// The files `cargo package` puts in `package`'s `.crate`, as paths inside the package.
fn files_of_package(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(host_dir())
        .args(["package", "--list", "--offline", "--allow-dirty"])
        .args(["--package", package])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo package --list failed:\n{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// Each embedded SDK file as the path it has in the package.
fn embedded_files() -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for (dir, list) in [
        ("sdk/python", embedded::PYTHON_SDK),
        ("sdk/python/templates", embedded::PYTHON_TEMPLATES),
        ("sdk/js", embedded::JS_SDK),
        ("sdk/js/templates", embedded::JS_TEMPLATES),
    ] {
        for (name, bytes) in list {
            let path = format!("{dir}/{name}");
            assert_eq!(
                std::fs::read(host_dir().join(&path)).unwrap_or_default(),
                *bytes,
                "{path} changed since this build embedded it: build again"
            );
            files.insert(path);
        }
    }
    files
}

#[test]
fn the_crate_ships_exactly_the_sdk_files_the_binary_embeds() {
    let packaged = packaged_files();
    let embedded = embedded_files();
    assert!(
        embedded.contains("sdk/python/godwit/__init__.py")
            && embedded.contains("sdk/js/godwit.js")
            && embedded.contains("sdk/python/templates/backfill.py")
            && embedded.contains("sdk/js/templates/backfill.js"),
        "the build embedded no SDK: {embedded:?}"
    );
    let packaged_sdk: BTreeSet<String> = packaged
        .iter()
        .filter(|f| f.starts_with("sdk/"))
        .cloned()
        .collect();
    let missing: Vec<_> = embedded.difference(&packaged_sdk).collect();
    assert!(
        missing.is_empty(),
        "the binary embeds these, but the package lacks them, so a godwit built by \
         `cargo install godwit-cli` would lack them or fail to build: {missing:?}. \
         Fix `exclude` in host/Cargo.toml."
    );
    let extra: Vec<_> = packaged_sdk.difference(&embedded).collect();
    assert!(
        extra.is_empty(),
        "the package ships these SDK files, which the binary does not embed (a toolchain or \
         cache left by a build?): {extra:?}. Keep `exclude` in host/Cargo.toml and `skipped` \
         in host/build.rs the same."
    );
}

#[test]
fn the_binary_crate_ships_its_build_script_and_the_wit() {
    let packaged = packaged_files();
    let wanted = ["build.rs", "wit/godwit-plugin.wit"];
    let missing: Vec<_> = wanted.iter().filter(|f| !packaged.contains(**f)).collect();
    assert!(missing.is_empty(), "the package lacks {missing:?}");
}

/// godwit-engine embeds the built-in plugins (`plugin/builtin.rs`), so its `.crate` must
/// hold every committed component.
#[test]
fn the_engine_crate_ships_the_builtin_plugins() {
    let packaged = files_of_package("godwit-engine");
    let mut wanted = Vec::new();
    for entry in std::fs::read_dir(host_dir().join("../crates/godwit-engine/builtin")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        wanted.push(format!("builtin/{name}"));
    }
    assert!(
        wanted.len() > 2,
        "crates/godwit-engine/builtin holds no plugin: {wanted:?}"
    );
    let missing: Vec<_> = wanted.iter().filter(|f| !packaged.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "godwit-engine's package lacks {missing:?}"
    );
}

/// godwit-plugin generates its bindings from the WIT at build time, so its `.crate` must
/// hold the WIT itself, not the link to the workspace's copy.
#[test]
fn the_plugin_crate_ships_the_wit_it_generates_bindings_from() {
    let packaged = files_of_package("godwit-plugin");
    let wit: Vec<_> = std::fs::read_dir(host_dir().join("../wit"))
        .unwrap()
        .map(|e| format!("wit/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".wit"))
        .collect();
    assert!(!wit.is_empty(), "the workspace's wit/ holds no .wit file");
    let missing: Vec<_> = wit.iter().filter(|f| !packaged.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "godwit-plugin's package lacks {missing:?}"
    );
}

/// The copies a package needs inside its directory are links to the one source, never
/// copies that could drift from it.
#[test]
fn what_packages_embed_has_one_source_in_the_workspace() {
    let root = host_dir().join("..");
    for (link, source) in [
        ("host/sdk/python", "sdk/python"),
        ("host/sdk/js", "sdk/js"),
        ("host/wit", "wit"),
        ("crates/godwit-plugin/wit", "wit"),
        ("sdk/rust/wit", "wit"),
    ] {
        let link_path = root.join(link);
        assert!(
            std::fs::symlink_metadata(&link_path)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false),
            "{link} must be a symbolic link to {source}, so that there is one copy"
        );
        assert_eq!(
            canonical(&link_path),
            canonical(&root.join(source)),
            "{link} does not lead to {source}"
        );
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
