//! `godwit:plugin@0.1.0`, the first version, frozen in `wit/since_v0.1.0/`, and its
//! adapter onto [`latest`].
//!
//! What changed in 0.2.0 is the `notifier` world alone: its `event` gained the pause
//! events, and `notify` the fleet target. Everything else is the same shape, so:
//!
//! - the `host` interface a 0.1 plugin imports is generated here, over the latest types
//!   (its functions use `value` and `row`, which did not change), and implemented in
//!   `imports` by handing each call to the latest implementation;
//! - a 0.1 backfill, data step or validator is called through the latest bindings: the
//!   component model checks exports by structure, and theirs did not change;
//! - a 0.1 notifier is called through [`notifier`], its own bindings, with each event
//!   converted by [`event`]; an event 0.1 has no case for is not delivered.

use super::{ApiVersion, latest};

/// The version these bindings implement.
pub const VERSION: ApiVersion = ApiVersion::new(0, 1, 0);

/// The `host@0.1.0` interface, over the latest types.
mod imports {
    wasmtime::component::bindgen!({
        path: "wit/since_v0.1.0",
        world: "backfill",
        with: {
            "godwit:plugin/types": crate::wit::latest::types,
            "godwit:plugin/host.session": crate::wit::Session,
        },
    });
}

pub use imports::godwit::plugin::host;

/// The `notifier` world as 0.1.0 has it, with its own `event`.
pub mod notifier {
    wasmtime::component::bindgen!({
        path: "wit/since_v0.1.0",
        world: "notifier",
        with: {
            "godwit:plugin/host": super::host,
        },
    });

    pub use godwit::plugin::types;
}

/// `event` as a 0.1 notifier can read it; `None` for the events 0.1 has no case for.
pub fn event(event: &latest::types::Event) -> Option<notifier::types::Event> {
    use latest::types::Event as New;
    use notifier::types as old;
    Some(match event.clone() {
        New::RunStarted(e) => old::Event::RunStarted(old::RunStarted {
            operation: e.operation,
            pending: e.pending,
            database: e.database,
        }),
        New::RunFinished(e) => old::Event::RunFinished(old::RunFinished {
            operation: e.operation,
            applied: e.applied,
            failed: e.failed,
            duration_ms: e.duration_ms,
        }),
        New::MigrationStarted(e) => old::Event::MigrationStarted(old::MigrationStarted {
            version: e.version,
            name: e.name,
            kind: e.kind,
            operation: e.operation,
        }),
        New::MigrationApplied(e) => old::Event::MigrationApplied(old::MigrationApplied {
            version: e.version,
            name: e.name,
            operation: e.operation,
            duration_ms: e.duration_ms,
            rows_affected: e.rows_affected,
        }),
        New::MigrationFailed(e) => old::Event::MigrationFailed(old::MigrationFailed {
            version: e.version,
            name: e.name,
            error: e.error,
        }),
        New::BatchProgress(e) => old::Event::BatchProgress(old::BatchProgress {
            version: e.version,
            batches: e.batches,
            rows: e.rows,
            total: e.total,
            rate: e.rate,
        }),
        New::FindingsReported(e) => old::Event::FindingsReported(old::FindingsReported {
            source: e.source,
            findings: e.findings.into_iter().map(finding).collect(),
            blocking: e.blocking,
        }),
        New::BackupTaken(e) => old::Event::BackupTaken(old::BackupTaken {
            id: e.id,
            size: e.size,
        }),
        New::RolledBack(e) => old::Event::RolledBack(old::RolledBack {
            version: e.version,
            reason: e.reason,
            backup_id: e.backup_id,
        }),
        New::StepPaused(_) | New::StepResumed(_) => return None,
    })
}

fn finding(f: latest::types::Finding) -> notifier::types::Finding {
    use latest::types::Severity as New;
    use notifier::types::Severity as Old;
    notifier::types::Finding {
        rule: f.rule,
        severity: match f.severity {
            New::Info => Old::Info,
            New::Warning => Old::Warning,
            New::Error => Old::Error,
        },
        message: f.message,
        location: f.location,
        help: f.help,
    }
}
