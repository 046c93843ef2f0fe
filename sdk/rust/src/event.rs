//! Names for [`Event`]s, and their JSON form with the `json` feature.

use crate::Event;

impl Event {
    /// The event's kind as the WIT spells it, e.g. `migration-applied`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted(_) => "run-started",
            Event::RunFinished(_) => "run-finished",
            Event::MigrationStarted(_) => "migration-started",
            Event::MigrationApplied(_) => "migration-applied",
            Event::MigrationFailed(_) => "migration-failed",
            Event::BatchProgress(_) => "batch-progress",
            Event::FindingsReported(_) => "findings-reported",
            Event::BackupTaken(_) => "backup-taken",
            Event::RolledBack(_) => "rolled-back",
            Event::StepPaused(_) => "step-paused",
            Event::StepResumed(_) => "step-resumed",
        }
    }

    /// Every kind [`kind`](Event::kind) can return.
    pub const KINDS: [&'static str; 11] = [
        "run-started",
        "run-finished",
        "migration-started",
        "migration-applied",
        "migration-failed",
        "batch-progress",
        "findings-reported",
        "backup-taken",
        "rolled-back",
        "step-paused",
        "step-resumed",
    ];
}

impl crate::Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            crate::Severity::Info => "info",
            crate::Severity::Warning => "warning",
            crate::Severity::Error => "error",
        }
    }
}

/// Events and findings as JSON objects, with snake_case field names and an `event` field
/// holding [`Event::kind`].
#[cfg(feature = "json")]
pub mod json {
    use serde_json::{Value as Json, json};

    use crate::{Event, Finding, PauseReason};

    /// Why a step paused, as an object with a `kind`.
    pub fn pause_reason(r: &PauseReason) -> Json {
        match r {
            PauseReason::ReplicationLag(r) => json!({
                "kind": "replication_lag", "replica": r.replica, "lag_ms": r.lag_ms,
                "bound_ms": r.bound_ms,
            }),
            PauseReason::LagUnknown(r) => json!({
                "kind": "lag_unknown", "replica": r.replica, "why": r.why,
            }),
            PauseReason::HealthQuery(query) => json!({ "kind": "health_query", "query": query }),
        }
    }

    /// One finding as a JSON object.
    pub fn finding(f: &Finding) -> Json {
        json!({
            "rule": f.rule,
            "severity": f.severity.as_str(),
            "message": f.message,
            "location": f.location,
            "help": f.help,
        })
    }

    /// One event as a JSON object, e.g. `{"event": "run-started", "operation": "deploy", ...}`.
    pub fn event(e: &Event) -> Json {
        let mut object = match e {
            Event::RunStarted(e) => json!({
                "operation": e.operation, "pending": e.pending, "database": e.database,
            }),
            Event::RunFinished(e) => json!({
                "operation": e.operation, "applied": e.applied, "failed": e.failed,
                "duration_ms": e.duration_ms,
            }),
            Event::MigrationStarted(e) => json!({
                "version": e.version, "name": e.name, "kind": e.kind, "operation": e.operation,
            }),
            Event::MigrationApplied(e) => json!({
                "version": e.version, "name": e.name, "operation": e.operation,
                "duration_ms": e.duration_ms, "rows_affected": e.rows_affected,
            }),
            Event::MigrationFailed(e) => json!({
                "version": e.version, "name": e.name, "error": e.error,
            }),
            Event::BatchProgress(e) => json!({
                "version": e.version, "batches": e.batches, "rows": e.rows, "total": e.total,
                "rate": e.rate,
            }),
            Event::FindingsReported(e) => json!({
                "source": e.source, "blocking": e.blocking,
                "findings": e.findings.iter().map(finding).collect::<Vec<_>>(),
            }),
            Event::BackupTaken(e) => json!({ "id": e.id, "size": e.size }),
            Event::RolledBack(e) => json!({
                "version": e.version, "reason": e.reason, "backup_id": e.backup_id,
            }),
            Event::StepPaused(e) => json!({
                "version": e.version, "reason": pause_reason(&e.reason), "message": e.message,
                "paused_ms": e.paused_ms, "max_pause_ms": e.max_pause_ms,
            }),
            Event::StepResumed(e) => json!({
                "version": e.version, "paused_ms": e.paused_ms,
                "reason": pause_reason(&e.reason),
            }),
        };
        if let Some(map) = object.as_object_mut() {
            map.insert("event".into(), Json::from(e.kind()));
        }
        object
    }
}
