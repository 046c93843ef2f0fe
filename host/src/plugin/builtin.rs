//! The first-party plugins, compiled into the godwit binary so that `builtin = "NAME"` in
//! godwit.toml needs no file. `build.rs` builds them from `plugins/` for `wasm32-wasip2`.

macro_rules! builtins {
    ($($name:literal => $file:literal,)*) => {
        const BUILTINS: &[(&str, &[u8])] = &[
            $(($name, include_bytes!(concat!(env!("GODWIT_GUEST_DIR"), "/", $file))),)*
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
