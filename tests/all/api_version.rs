//! The SDKs, manifests, templates and docs write the `godwit:plugin` version out, since
//! none of them can refer to the host's constant; this holds every copy to
//! [`API_VERSION`], the one the host implements.

use std::path::{Path, PathBuf};

use godwit::plugin::wit::{API_PACKAGE, API_VERSION};
use regex::Regex;

/// Where copies live; each is searched whole (but toolchains and caches).
const SEARCHED: &[&str] = &[
    "wit",
    "sdk",
    "plugins",
    "examples",
    "docs",
    "tests/guests",
    "README.md",
];

/// Files that must hold at least one copy: if one stops matching the patterns below (the
/// constant is renamed, the import is rewritten), this test fails rather than going blind.
const KNOWN_COPIES: &[&str] = &[
    "wit/godwit-plugin.wit",
    "sdk/rust/src/lib.rs",
    "sdk/rust/src/bindings.rs",
    "sdk/rust/Cargo.toml",
    "sdk/python/godwit/__init__.py",
    "sdk/js/godwit.js",
    "docs/plugins/rust.md",
    "docs/plugins/python.md",
    "docs/plugins/js.md",
    "examples/plugins/rust/normalize-email/godwit-plugin.toml",
    "examples/plugins/python/normalize-email/godwit-plugin.toml",
    "examples/plugins/js/normalize-email/godwit-plugin.toml",
];

#[test]
fn every_copy_of_the_api_version_is_the_hosts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let full = Regex::new(&format!(
        r"{}(?:/[a-z-]+)?@(\d+\.\d+\.\d+)",
        regex::escape(API_PACKAGE)
    ))
    .unwrap();
    let constant = Regex::new(r#"API_VERSION(?::\s*&str)?\s*=\s*["']([^"']*)["']"#).unwrap();
    let manifest_api = Regex::new(r#"(?m)^api\s*=\s*"([^"]*)""#).unwrap();
    let (version, api) = (API_VERSION.to_string(), API_VERSION.api());

    let mut files = Vec::new();
    for entry in SEARCHED {
        collect(&root.join(entry), &mut files);
    }
    let mut wrong = Vec::new();
    let mut found = Vec::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let rel = path.strip_prefix(&root).unwrap().to_string_lossy();
        let mut check = |re: &Regex, expected: &str| {
            for m in re.captures_iter(&text) {
                let line = text[..m.get(0).unwrap().start()].lines().count().max(1);
                found.push(rel.to_string());
                if &m[1] != expected {
                    wrong.push(format!("{rel}:{line}: `{}`, not {expected}", &m[0]));
                }
            }
        };
        check(&full, &version);
        check(&constant, &version);
        check(&manifest_api, &api);
    }
    assert!(
        wrong.is_empty(),
        "these copies of the {API_PACKAGE} version disagree with the host's {version} (crates/godwit-plugin/src/wit/since_v*.rs):\n  {}",
        wrong.join("\n  ")
    );
    let missing: Vec<_> = KNOWN_COPIES
        .iter()
        .filter(|known| !found.iter().any(|f| f == *known))
        .collect();
    assert!(
        missing.is_empty(),
        "no copy of the {API_PACKAGE} version found in {missing:?}: teach this test the new form"
    );
}

/// `path` itself, or the files under it, skipping what a build or a toolchain leaves.
fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if name.starts_with('.') || matches!(&*name, "node_modules" | "__pycache__" | "target" | "dist")
    {
        return;
    }
    // A released version, frozen as it was (crates/godwit-plugin/src/wit.rs), and the
    // guest built against it to prove the host still runs it.
    if name.starts_with("since_v") || name == "old-notifier" {
        return;
    }
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect(&entry.unwrap().path(), files);
        }
    } else if path.is_file() {
        files.push(path.to_owned());
    } else {
        panic!("{} is gone: update SEARCHED", path.display());
    }
}
