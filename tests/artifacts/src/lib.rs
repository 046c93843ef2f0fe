//! The Rust wasm guests godwit's tests and benches load: the first-party plugins of
//! `plugins/`, the fixtures of `tests/guests/` and the examples of `examples/plugins/rust/`,
//! built from source for `wasm32-wasip2` by this crate's build script.
//!
//! Only tests depend on this crate. The godwit binary embeds the committed components in
//! `crates/godwit-engine/builtin/` instead, so that building it needs neither the wasm target nor the
//! plugins' sources; `tests/all/guests.rs` checks those files against this build.
//!
//! ```
//! let hostile = godwit_test_guests::wasm("hostile-step");
//! assert!(hostile.ends_with("hostile_step.wasm"));
//! ```

use std::path::{Path, PathBuf};

/// The directory holding every guest, as `<package name with _>.wasm`.
pub const GUEST_DIR: &str = env!("GODWIT_GUEST_DIR");

/// The packages built into [`GUEST_DIR`], sorted, as their Cargo package names.
pub const GUESTS: &[&str] = include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The component built from the package called `name` (`hostile-step` or `hostile_step`).
pub fn wasm(name: &str) -> PathBuf {
    Path::new(GUEST_DIR).join(format!("{}.wasm", name.replace('-', "_")))
}
