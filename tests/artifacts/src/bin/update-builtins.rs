//! Copies the first-party plugins this crate just built from `plugins/` into
//! `crates/godwit-engine/builtin/`, the components the godwit binary embeds. Run it after changing a
//! plugin or the SDK: `cargo run -p godwit-test-guests --bin update-builtins`.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let plugins = root.join("plugins");
    let out = root.join("crates/godwit-engine/builtin");
    let mut names: Vec<String> = std::fs::read_dir(&plugins)
        .expect("plugins/ is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let built = godwit_test_guests::wasm(&name);
        let file = format!("{}.wasm", name.replace('-', "_"));
        let bytes = std::fs::read(&built)
            .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
        let dest = out.join(&file);
        let unchanged = std::fs::read(&dest).is_ok_and(|old| old == bytes);
        if !unchanged {
            std::fs::write(&dest, &bytes)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
        }
        println!(
            "crates/godwit-engine/builtin/{file}: {} ({} bytes)",
            if unchanged { "unchanged" } else { "updated" },
            bytes.len()
        );
    }
}
