//! The Rust guests `tests/artifacts` compiles for wasm32-wasip2 — first-party plugins and test
//! fixtures — are components of exactly their world, carry their manifest, and link
//! against the host.

use godwit::plugin::wit::API_VERSION;
use godwit::plugin::{Runtime, RuntimeConfig, builtin};
use wasmparser::{Parser, Payload};

const BACKFILL: &[&str] = &["describe", "transform"];
const DATA_STEP: &[&str] = &["run-batch"];
const VALIDATOR: &[&str] = &["check-migration", "check-database"];
const NOTIFIER: &[&str] = &["notify"];

/// Every guest: its manifest name, its world, and the functions that world exports.
const GUESTS: &[(&str, &str, &[&str])] = &[
    ("audit-log", "notifier", NOTIFIER),
    ("column-copy", "backfill", BACKFILL),
    ("github-summary", "notifier", NOTIFIER),
    ("hello-validator", "validator", VALIDATOR),
    ("hostile", "backfill", BACKFILL),
    ("hostile-step", "data-step", DATA_STEP),
    ("hostile-validator", "validator", VALIDATOR),
    ("org-rules", "validator", VALIDATOR),
    ("webhook", "notifier", NOTIFIER),
];

use crate::support::guest_wasm as guest_path;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).unwrap()
}

/// The `godwit-manifest` custom section, searched through nested modules and components.
fn manifest_section(bytes: &[u8]) -> Option<String> {
    let mut found = None;
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::CustomSection(section) = payload.expect("the component parses")
            && section.name() == "godwit-manifest"
        {
            assert!(found.is_none(), "two godwit-manifest sections");
            found = Some(String::from_utf8(section.data().to_vec()).expect("UTF-8 manifest"));
        }
    }
    found
}

#[test]
fn guests_export_exactly_their_world() {
    let runtime = runtime();
    for (name, world, exports) in GUESTS {
        let bytes = std::fs::read(guest_path(name)).unwrap();
        let component = wasmtime::component::Component::new(runtime.engine(), &bytes)
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let mut actual: Vec<String> = component
            .component_type()
            .exports(runtime.engine())
            .map(|(export, _)| export.to_owned())
            .collect();
        actual.sort();
        let mut expected: Vec<String> = exports.iter().map(|e| e.to_string()).collect();
        expected.sort();
        assert_eq!(actual, expected, "{name} should export the {world} world");
    }
}

#[test]
fn guests_carry_their_manifest() {
    for (name, world, _) in GUESTS {
        let bytes = std::fs::read(guest_path(name)).unwrap();
        let text = manifest_section(&bytes)
            .unwrap_or_else(|| panic!("{name} has no godwit-manifest section"));
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        let plugin = manifest["plugin"].as_table().unwrap();
        assert_eq!(plugin["name"].as_str(), Some(*name), "{text}");
        assert_eq!(plugin["world"].as_str(), Some(*world), "{text}");
        assert_eq!(plugin["api"].as_str(), Some(&*API_VERSION.api()), "{text}");
    }
}

#[test]
fn guests_link_against_the_host() {
    let runtime = runtime();
    for (name, _, _) in GUESTS {
        let path = guest_path(name);
        if let Err(e) = runtime.load(&path, None) {
            panic!("{name} does not link: {e}");
        }
    }
}

#[test]
fn builtin_plugins_are_the_built_first_party_plugins() {
    let names: Vec<&str> = builtin::names().collect();
    assert_eq!(
        names,
        [
            "audit-log",
            "column-copy",
            "github-summary",
            "org-rules",
            "webhook"
        ]
    );
    // The binary embeds committed files so that building it needs no wasm target; they
    // must be exactly what the sources build to.
    for name in names {
        let embedded = builtin::get(name).unwrap();
        let built = std::fs::read(guest_path(name)).unwrap();
        assert!(
            embedded == built,
            "crates/godwit-engine/builtin/{}.wasm is not a build of plugins/{name} ({} bytes embedded, {} built); \
             run `cargo run -p godwit-test-guests --bin update-builtins` and commit the result",
            name.replace('-', "_"),
            embedded.len(),
            built.len()
        );
    }
    assert!(builtin::get("hostile").is_none());
}
