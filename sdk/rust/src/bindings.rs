//! Bindings of `wit/godwit-plugin.wit`, one module per world.
//!
//! All four worlds live in this one crate, yet a plugin that exports one world must not
//! be asked for the exports of the others. wit-bindgen's `pub_export_macro` is what makes
//! that work: the sections this crate carries describe only each world's imports (which
//! `wasm-component-ld` unions and then drops when unused), and the section describing a
//! world's exports is emitted by that world's export macro, in the plugin crate that
//! invokes it. So a plugin component ends up with exactly its own world.
//!
//! `types` and `host` are generated once, with the `backfill` world, and the other worlds
//! reuse them through `with`, so a `Value` is the same type whichever world uses it.

// Generated code: its shape is wit-bindgen's, not ours.
#![allow(clippy::all)]

/// The `backfill` world, and with it the shared `types` and `host` interfaces.
pub mod backfill {
    wit_bindgen::generate!({
        path: "wit",
        world: "backfill",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "godwit_sdk::__private::backfill",
        additional_derives: [PartialEq],
        generate_all,
    });
}

/// The `data-step` world.
pub mod data_step {
    wit_bindgen::generate!({
        path: "wit",
        world: "data-step",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "godwit_sdk::__private::data_step",
        with: {
            "godwit:plugin/types@0.2.0": crate::bindings::backfill::godwit::plugin::types,
            "godwit:plugin/host@0.2.0": crate::bindings::backfill::godwit::plugin::host,
        },
    });
}

/// The `validator` world.
pub mod validator {
    wit_bindgen::generate!({
        path: "wit",
        world: "validator",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "godwit_sdk::__private::validator",
        with: {
            "godwit:plugin/types@0.2.0": crate::bindings::backfill::godwit::plugin::types,
            "godwit:plugin/host@0.2.0": crate::bindings::backfill::godwit::plugin::host,
        },
    });
}

/// The `notifier` world.
pub mod notifier {
    wit_bindgen::generate!({
        path: "wit",
        world: "notifier",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "godwit_sdk::__private::notifier",
        with: {
            "godwit:plugin/types@0.2.0": crate::bindings::backfill::godwit::plugin::types,
            "godwit:plugin/host@0.2.0": crate::bindings::backfill::godwit::plugin::host,
        },
    });
}
