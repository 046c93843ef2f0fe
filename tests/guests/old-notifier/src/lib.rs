//! A notifier of the first plugin API: it tells the host, through that version's
//! `host.log`, the kind of each event it hears, and fails on the one the test names in
//! its `fail-on` setting, so a test can see which events reached it and that its answer
//! came back.

// The generated constructors take as many arguments as the records of the `types` interface have fields.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    path: "../../../wit/since_v0.1.0",
    world: "notifier",
});

use godwit::plugin::host::{Level, config, log};
// The world's `use` puts `Event` in scope.
use godwit::plugin::types::Value;

struct OldNotifier;

fn kind(event: &Event) -> &'static str {
    match event {
        Event::RunStarted(_) => "run-started",
        Event::RunFinished(_) => "run-finished",
        Event::MigrationStarted(_) => "migration-started",
        Event::MigrationApplied(_) => "migration-applied",
        Event::MigrationFailed(_) => "migration-failed",
        Event::BatchProgress(_) => "batch-progress",
        Event::FindingsReported(_) => "findings-reported",
        Event::BackupTaken(_) => "backup-taken",
        Event::RolledBack(_) => "rolled-back",
    }
}

impl Guest for OldNotifier {
    fn notify(e: Event) -> Result<(), String> {
        let kind = kind(&e);
        log(Level::Warn, &format!("old notifier heard {kind}"));
        let fail_on = config().into_iter().find_map(|(key, value)| match value {
            Value::Text(text) if key == "fail-on" => Some(text),
            _ => None,
        });
        if fail_on.as_deref() == Some(kind) {
            return Err(format!("refusing {kind}, as told"));
        }
        Ok(())
    }
}

export!(OldNotifier);
