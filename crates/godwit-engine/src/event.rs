//! What a run tells whoever watches it: the [`Event`]s the CLI prints, `--json` streams
//! and notifier plugins receive, and `Events`, which hands them on and keeps what the
//! run's report takes from them. The modules that work inside a run (the migrator, steps,
//! health, validators) name this one; it names none of them, only what a data copy came
//! to ([`crate::backup::copy`]).

use serde::Serialize;

use crate::backup::copy;
use crate::text::secs;
use godwit_core::finding::Finding;
use godwit_core::history::Operation;

/// What the run tells whoever is watching: the CLI prints it, `--json` streams it as JSON
/// lines on stderr, and notifier plugins receive it (see [`Event::to_plugin`]).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    LockWaiting {
        holder: String,
    },
    LockAcquired {
        waited_ms: u64,
    },
    RunStarted {
        /// `deploy`, `down` or `reset`.
        operation: String,
        pending: usize,
        database: String,
    },
    /// The run ended, successfully or not; the last event of every run that started.
    RunFinished {
        /// As in [`Event::RunStarted`].
        operation: String,
        /// Migrations applied (or reverted) by this run, before any failure.
        applied: usize,
        /// What stopped the run: the failed migration's error, or why it was blocked.
        failed: Option<String>,
        duration_ms: u64,
    },
    /// Validator plugins (or built-in lint rules) reported findings about this run.
    FindingsReported {
        /// `lint` for built-in rules, else the validator plugin's name.
        source: String,
        findings: Vec<Finding>,
        /// Whether an error finding stopped the run.
        blocking: bool,
    },
    /// Something applied was undone: `--restore-on-failure` put a backup back.
    RolledBack {
        version: Option<String>,
        reason: String,
        backup_id: Option<String>,
    },
    MigrationStarted {
        version: String,
        name: String,
        /// `sql`, or `step` for a plugin step, whose `statements` count batches.
        kind: String,
        statements: usize,
        resume_at: Option<usize>,
    },
    Retrying {
        version: String,
        attempt: u32,
        error: String,
        delay_ms: u64,
    },
    MigrationFinished {
        version: String,
        name: String,
        /// `sql`, or `step` for a plugin step, whose `statements` count batches.
        kind: String,
        operation: Operation,
        duration_ms: u64,
        statements: usize,
        rows_affected: u64,
        /// Rows a backfill wrote only after reading and transforming them again, because
        /// another writer had changed them since they were read (compare-and-set).
        #[serde(skip_serializing_if = "is_zero")]
        rows_retried: u64,
    },
    MigrationFailed {
        version: String,
        name: String,
        error: String,
    },
    /// A whole-database backup was written before anything was applied.
    BackupTaken {
        id: String,
        size: u64,
        path: String,
        reason: String,
    },
    /// The database was put back from a backup, history table included.
    Restored {
        id: String,
        created_at: String,
    },
    /// Data a statement destroys was copied, or a copy was put back (or kept).
    DataCopy {
        version: String,
        #[serde(flatten)]
        outcome: copy::CopyOutcome,
    },
    /// A step committed another batch, checkpoint included.
    BatchProgress {
        version: String,
        batches: u64,
        rows: u64,
        /// Rows to do in all, when the host could count them.
        total: Option<u64>,
        /// Rows per second over this run.
        rate: f64,
        eta_ms: Option<u64>,
        batch_size: u32,
        /// Rows written again so far because another writer changed them after their
        /// batch read them (compare-and-set; see [`crate::step::BackfillSql::compared`]).
        retried: u64,
    },
    /// A step holds its batches back because the database is not healthy (see
    /// [`crate::health`]): told when the pause starts, when its reason changes, and every
    /// [`crate::health::TELL_EVERY`] while it lasts. No batch commits while paused.
    StepPaused {
        version: String,
        reason: PauseReason,
        /// How long the step has been paused so far (0 when the pause starts).
        paused_ms: u64,
        /// When the pause reaches this, the step stops (resumable).
        max_pause_ms: u64,
    },
    /// A paused step takes batches again.
    StepResumed {
        version: String,
        paused_ms: u64,
        /// What held it back last.
        reason: PauseReason,
    },
    /// A plugin wrote to `host.log` or to its stderr.
    PluginLog {
        plugin: String,
        level: String,
        message: String,
    },
}

/// A migration that ran.
#[derive(Clone, Debug, Serialize)]
pub struct Done {
    pub version: String,
    pub name: String,
    pub duration_ms: u64,
    pub statements: usize,
    pub rows_affected: u64,
    /// A backfill's rows read and transformed again because another writer changed them
    /// after their batch read them.
    #[serde(skip_serializing_if = "is_zero")]
    pub rows_retried: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One [`Event::DataCopy`], as the run's report lists it.
#[derive(Clone, Debug, Serialize)]
pub struct DataCopy {
    pub version: String,
    #[serde(flatten)]
    pub outcome: copy::CopyOutcome,
}

/// Where a run's events go: the watcher (`observe`), and the counts and copies the run's
/// report and its `RunFinished` take from them.
pub(crate) struct Events {
    observer: Box<dyn FnMut(&Event) + Send>,
    /// Migrations finished since the last RunStarted, and the one that failed.
    applied: usize,
    failed: Option<String>,
    /// What the run did with copies, for its report.
    copies: Vec<DataCopy>,
}

impl Events {
    /// Hands every event to `observer`; nothing is told until one is set.
    pub(crate) fn new() -> Events {
        Events {
            observer: Box::new(|_| {}),
            applied: 0,
            failed: None,
            copies: Vec::new(),
        }
    }

    /// Hands every event from now on to `observer`.
    pub(crate) fn observe(&mut self, observer: impl FnMut(&Event) + Send + 'static) {
        self.observer = Box::new(observer);
    }

    /// Migrations finished since the last `RunStarted`.
    pub(crate) fn applied(&self) -> usize {
        self.applied
    }

    /// The migration that failed since the last `RunStarted`, as `version_name`.
    pub(crate) fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// What the run did with copies of dropped data, for its report; told once.
    pub(crate) fn take_copies(&mut self) -> Vec<DataCopy> {
        std::mem::take(&mut self.copies)
    }

    /// Tells the watcher, after noting what the run's report needs.
    pub(crate) fn emit(&mut self, event: Event) {
        match &event {
            Event::RunStarted { .. } => {
                self.applied = 0;
                self.failed = None;
                self.copies.clear();
            }
            Event::DataCopy { version, outcome } => self.copies.push(DataCopy {
                version: version.clone(),
                outcome: outcome.clone(),
            }),
            Event::MigrationFinished { .. } => self.applied += 1,
            Event::MigrationFailed { version, name, .. } => {
                self.failed = Some(format!("{version}_{name}"));
            }
            _ => {}
        }
        (self.observer)(&event);
    }
}
/// Why a step holds its batches back.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// A replica is further behind than the bound.
    ReplicationLag {
        /// The standby's `application_name` and address, or the replica's URL without
        /// its password.
        replica: String,
        lag_ms: u64,
        bound_ms: u64,
    },
    /// A replica's lag cannot be measured, so the bound cannot be known to hold.
    LagUnknown { replica: String, why: String },
    /// The operator's health query returned false.
    HealthQuery { query: String },
}

impl std::fmt::Display for PauseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseReason::ReplicationLag {
                replica,
                lag_ms,
                bound_ms,
            } => write!(
                f,
                "replication lag {} on {replica} is over max_replication_lag {}",
                secs(*lag_ms),
                secs(*bound_ms)
            ),
            PauseReason::LagUnknown { replica, why } => write!(
                f,
                "the replication lag of {replica} cannot be measured ({why}), so max_replication_lag cannot be known to hold"
            ),
            PauseReason::HealthQuery { query } => {
                write!(f, "the health query returned false: {query}")
            }
        }
    }
}
