//! The first-party plugins, compiled into the godwit binary so that `builtin = "NAME"` in
//! godwit.toml needs no file.
//!
//! The components are committed in `crates/godwit-engine/builtin/`, built from `plugins/` with
//! `cargo run -p godwit-test-guests --bin update-builtins`, so that building godwit needs
//! neither the wasm32-wasip2 target nor the plugins' sources (`cargo install` builds from
//! the packaged crate alone). A test rebuilds them from source and compares the bytes.

macro_rules! builtins {
    ($($name:literal => $file:literal,)*) => {
        const BUILTINS: &[(&str, &[u8])] = &[
            $(($name, include_bytes!(concat!("../../builtin/", $file))),)*
        ];
    };
}

builtins! {
    "audit-log" => "audit_log.wasm",
    "column-copy" => "column_copy.wasm",
    "github-summary" => "github_summary.wasm",
    "org-rules" => "org_rules.wasm",
    "webhook" => "webhook.wasm",
}

/// The component of the built-in plugin called `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The names of all built-in plugins, sorted.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|(name, _)| *name)
}
