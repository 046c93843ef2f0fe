//! A plugin built against an older version of the plugin API still runs: the guests in
//! `tests/guests/old-*` are built from the frozen `wit/since_v0.1.0`, and the host runs
//! them through its adapter (`crates/godwit-plugin/src/wit/since_v0_1_0.rs`). And what
//! the latest version added reaches the notifiers built against it: a step's pauses, and
//! the fleet target each event is about.

use std::path::Path;

use godwit::plugin::types::{self, Event};
use godwit::plugin::wit::{latest, since_v0_1_0};
use godwit::plugin::{Context, Limits, Plugin, Runtime, RuntimeConfig, World};

use crate::support::*;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig::default()).unwrap()
}

fn run_started() -> Event {
    Event::RunStarted(types::RunStarted {
        operation: "deploy".into(),
        pending: 2,
        database: "sqlite://app.db".into(),
    })
}

fn migration_failed() -> Event {
    Event::MigrationFailed(types::MigrationFailed {
        version: "20260101000000".into(),
        name: "create_users".into(),
        error: "syntax error".into(),
    })
}

fn health_query() -> types::PauseReason {
    types::PauseReason::HealthQuery("SELECT open FROM gate".into())
}

fn paused() -> Event {
    Event::StepPaused(types::StepPaused {
        version: "20260102000000".into(),
        reason: health_query(),
        message: "the health query returned false: SELECT open FROM gate".into(),
        paused_ms: 0,
        max_pause_ms: 60_000,
    })
}

fn resumed() -> Event {
    Event::StepResumed(types::StepResumed {
        version: "20260102000000".into(),
        paused_ms: 1_500,
        reason: types::PauseReason::ReplicationLag(types::ReplicationLag {
            replica: "standby 127.0.0.1".into(),
            lag_ms: 9_000,
            bound_ms: 5_000,
        }),
    })
}

/// What `plugin` logged when told `event` about `target`; `None` when it was not called.
fn notify(
    runtime: &Runtime,
    plugin: &Plugin,
    context: Context,
    event: &Event,
    target: Option<&str>,
) -> Option<(Result<(), String>, Vec<String>)> {
    let call = runtime
        .notify(plugin, &Limits::default(), context, event, target)
        .unwrap()?;
    let logs = call.logs.into_iter().map(|l| l.message).collect();
    Some((call.value, logs))
}

#[test]
fn an_old_notifier_hears_every_event_its_version_has_and_no_other() {
    let runtime = runtime();
    let plugin = runtime.load(&guest_wasm("old-notifier"), None).unwrap();
    assert_eq!(plugin.world(), Some(World::Notifier));
    assert_eq!(plugin.api(), since_v0_1_0::VERSION);
    runtime.check_exports(&plugin, World::Notifier).unwrap();

    // Through its own `host.log`, which the adapter hands to the latest one.
    let (answer, logs) = notify(
        &runtime,
        &plugin,
        Context::default(),
        &run_started(),
        Some("tenant-1"),
    )
    .expect("0.1 has run-started");
    assert_eq!(answer, Ok(()));
    assert_eq!(logs, ["old notifier heard run-started"]);

    // Its settings reach it, and its own `Err` comes back as its answer.
    let told = || Context {
        settings: vec![(
            "fail-on".into(),
            types::Value::Text("migration-failed".into()),
        )],
        ..Context::default()
    };
    let (answer, logs) = notify(&runtime, &plugin, told(), &migration_failed(), None).unwrap();
    assert_eq!(answer, Err("refusing migration-failed, as told".into()));
    assert_eq!(logs, ["old notifier heard migration-failed"]);
    let (answer, _) = notify(&runtime, &plugin, told(), &run_started(), None).unwrap();
    assert_eq!(answer, Ok(()));

    // 0.1 has no case for a pause: the plugin is not called at all.
    for event in [paused(), resumed()] {
        assert!(
            notify(&runtime, &plugin, Context::default(), &event, Some("t")).is_none(),
            "{event:?}"
        );
    }
}

#[test]
fn a_notifier_of_the_latest_api_hears_pauses_and_the_fleet_target() {
    let runtime = runtime();
    let plugin = runtime.load(&guest_wasm("audit-log"), None).unwrap();
    assert_eq!(plugin.api(), latest::VERSION);
    let dir = tempfile::tempdir().unwrap();
    let context = || Context {
        dir: Some(dir.path().to_owned()),
        ..Context::default()
    };
    for (event, target) in [(paused(), Some("tenant-7")), (resumed(), None)] {
        let (answer, _) = notify(&runtime, &plugin, context(), &event, target).unwrap();
        assert_eq!(answer, Ok(()), "{event:?}");
    }
    let lines = audit_lines(&dir.path().join("godwit-audit.jsonl"));
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0]["event"], "step-paused");
    assert_eq!(lines[0]["target"], "tenant-7");
    assert_eq!(lines[0]["reason"]["kind"], "health_query");
    assert_eq!(lines[0]["reason"]["query"], "SELECT open FROM gate");
    assert_eq!(lines[0]["max_pause_ms"], 60_000);
    assert_eq!(lines[1]["event"], "step-resumed");
    assert!(lines[1].get("target").is_none(), "{:#}", lines[1]);
    assert_eq!(lines[1]["reason"]["kind"], "replication_lag");
    assert_eq!(lines[1]["reason"]["lag_ms"], 9_000);
    assert_eq!(lines[1]["paused_ms"], 1_500);
}

/// A notifier whose `notify` has the shape of no version is refused when its exports are
/// checked, as a mistyped export of any world is.
#[test]
fn a_notify_of_no_versions_shape_is_refused() {
    let wat = r#"(component
      (core module $m (func (export "notify") (param i32)))
      (core instance $i (instantiate $m))
      (func (export "notify") (param "e" u32) (canon lift (core func $i "notify"))))"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.wasm");
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    let runtime = runtime();
    let plugin = runtime.load(&path, None).unwrap();
    assert_eq!(plugin.world(), Some(World::Notifier));
    assert!(runtime.check_exports(&plugin, World::Notifier).is_err());
    assert!(
        runtime
            .notify(
                &plugin,
                &Limits::default(),
                Context::default(),
                &run_started(),
                None
            )
            .is_err()
    );
}

/// An old validator's two exports are called through the latest bindings (their shapes did
/// not change), and its `session` through the old `host` interface.
#[test]
fn an_old_validator_checks_migrations_and_the_database() {
    let p = Project::empty(Dialect::Postgres);
    p.db.exec("CREATE TABLE accounts (id INT PRIMARY KEY); INSERT INTO accounts VALUES (1), (2)");
    let local = p.path().join("old.wasm");
    std::fs::copy(guest_wasm("old-validator"), &local).unwrap();
    // Its manifest, as a sidecar: the API it names is the old one too.
    let manifest = p.path().join("old.toml");
    std::fs::write(
        &manifest,
        "[plugin]\nname = \"old-validator\"\nversion = \"1.0.0\"\nworld = \"validator\"\napi = \"0.1\"\n\
         [requests]\nread = [\"accounts\"]\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("godwit.toml"),
        format!(
            "[plugins.old]\npath = \"old.wasm\"\nsha256 = \"{}\"\nmanifest_sha256 = \"{}\"\n\
             [plugins.old.grants]\nread = [\"accounts\"]\n",
            sha256(&local),
            sha256(&manifest)
        ),
    )
    .unwrap();
    p.write(
        "20260101000000_create_users/up.sql",
        "CREATE TABLE users (id INT PRIMARY KEY);\n",
    );
    let plan = p.godwit(&["plan", "--json"]);
    plan.expect(0);
    let value: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let found = &value["database_findings"][0];
    assert_eq!(found["rule"], "old-count", "{value:#}");
    assert_eq!(found["message"], "accounts has 2 rows", "{value:#}");

    p.write(
        "20260102000000_drop_users/up.sql",
        "-- godwit:ignore ban-drop-table -- reason: a test\nDROP TABLE users;\n",
    );
    p.godwit(&["lint"])
        .expect(4)
        .says("old-no-drop-table")
        .says("20260102000000_drop_users drops a table");
}

fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// `godwit plugin check` runs an old plugin and says what rebuilding would bring;
/// `godwit plugin run` says an event its version lacks was not delivered.
#[test]
fn the_cli_says_what_an_old_notifier_misses() {
    let wasm = guest_wasm("old-notifier");
    let dir = tempfile::tempdir().unwrap();
    let mut check = godwit_cmd();
    check
        .current_dir(dir.path())
        .arg("plugin")
        .arg("check")
        .arg(&wasm);
    run(check)
        .expect(0)
        .says("godwit:plugin@0.1.0")
        .says("still runs through an adapter");

    let paused = dir.path().join("paused.json");
    std::fs::write(
        &paused,
        r#"{"step-paused": {"version": "20260102000000", "reason": {"health-query": "SELECT open FROM gate"}, "max-pause-ms": 60000}}"#,
    )
    .unwrap();
    let started = dir.path().join("started.json");
    std::fs::write(
        &started,
        r#"{"run-started": {"operation": "deploy", "pending": 2, "database": "sqlite://app.db"}}"#,
    )
    .unwrap();
    let plugin_run = |event: &Path| {
        let mut cmd = godwit_cmd();
        cmd.current_dir(dir.path())
            .args(["plugin", "run"])
            .arg(&wasm)
            .arg("--event")
            .arg(event)
            .args(["--target", "tenant-1"]);
        run(cmd)
    };
    plugin_run(&paused)
        .expect(0)
        .says("not delivered")
        .says("has no `step-paused` event");
    plugin_run(&started)
        .expect(0)
        .says("old notifier heard run-started")
        .says("delivered");
}
