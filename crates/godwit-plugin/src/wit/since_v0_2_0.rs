//! `godwit:plugin@0.2.0`, the latest version: host bindings generated from
//! `wit/godwit-plugin.wit`, one module per world. It added the `step-paused` and
//! `step-resumed` events, and the fleet target a notifier's event is about.
//!
//! Generating them at build time is what proves the WIT well-formed: a broken package
//! fails the build. The `types` and `host` interfaces are generated once, with the
//! `backfill` world, and shared by the other three, so one implementation of the host
//! imports serves every world and a `Value` is the same type whichever world it came from.

use super::ApiVersion;

/// The version these bindings implement; the one place it is written in Rust.
pub const VERSION: ApiVersion = ApiVersion::new(0, 2, 0);

/// Bindings for the `backfill` world, and the home of the shared interfaces.
pub mod backfill {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "backfill",
        with: {
            "godwit:plugin/host.session": crate::wit::Session,
        },
    });
}

/// Bindings for the `data-step` world.
pub mod data_step {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "data-step",
        with: {
            "godwit:plugin/types": super::types,
            "godwit:plugin/host": super::host,
        },
    });
}

/// Bindings for the `validator` world.
pub mod validator {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "validator",
        with: {
            "godwit:plugin/types": super::types,
            "godwit:plugin/host": super::host,
        },
    });
}

/// Bindings for the `notifier` world.
pub mod notifier {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "notifier",
        with: {
            "godwit:plugin/types": super::types,
            "godwit:plugin/host": super::host,
        },
    });
}

pub use backfill::godwit::plugin::{host, types};
