//! Host bindings generated from `wit/godwit-plugin.wit`, one module per world.
//!
//! Generating them at build time is what proves the WIT well-formed: a broken package
//! fails the build. Each world gets its own copy of the `types` interface; the adapters
//! that turn them into godwit's own types come with the code that calls each world.

/// Bindings for the `backfill` world.
pub mod backfill {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "backfill",
    });
}

/// Bindings for the `data-step` world.
pub mod data_step {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "data-step",
    });
}

/// Bindings for the `validator` world.
pub mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "validator",
    });
}

/// Bindings for the `notifier` world.
pub mod notifier {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "notifier",
    });
}
