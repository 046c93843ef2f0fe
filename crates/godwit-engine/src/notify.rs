//! Notifier plugins: every enabled notifier declared in godwit.toml hears the run's
//! events, in order, on a thread of its own.
//!
//! The run never waits for a notifier: [`Notifiers::sender`] only puts the event on a
//! queue, and one worker thread delivers the queue to each notifier in turn, so a slow
//! webhook delays the next notification, never the next migration. When the run is over,
//! [`Notifiers::finish`] waits for the queue to drain, for at most what the notifiers'
//! time limits allow, and returns what went wrong as warnings that name the plugin. A
//! notifier's `Err`, trap or timeout is never fatal to the run it reports on.
//!
//! ```no_run
//! # async fn demo(config: &godwit_engine::config::Config) -> Result<(), godwit_engine::Error> {
//! use godwit_engine::migrator::{DeployOptions, Migrator};
//! use godwit_engine::notify::Notifiers;
//!
//! let notifiers = Notifiers::from_config(config)?;
//! let mut migrator = Migrator::connect(config).await?;
//! let sender = notifiers.sender();
//! migrator.observe(move |event| sender.send(event));
//! let result = migrator.deploy(&DeployOptions::default()).await;
//! for warning in notifiers.finish() {
//!     eprintln!("warning: {warning}");
//! }
//! # result.map(|_| ()) }
//! ```

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::Error;
use crate::event::{Event, PauseReason};
use crate::plugin::registry::PluginEntry;
use crate::plugin::{Context, Limits, Plugin, Runtime, World};
use godwit_core::finding::{Finding, Severity};
use godwit_plugin::types;

/// One notifier, ready to call: what the worker needs and nothing tied to the run.
pub struct NotifierTarget {
    /// Its name in godwit.toml, as warnings name it.
    pub name: String,
    pub plugin: Plugin,
    pub limits: Limits,
    /// A fresh context per call: settings, granted env, directory and hosts; no session.
    pub context: Box<dyn Fn() -> Context + Send>,
}

impl std::fmt::Debug for NotifierTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierTarget")
            .field("name", &self.name)
            .field("plugin", &self.plugin)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

enum Message {
    /// An event, and the fleet target it is about.
    Event(Box<types::Event>, Option<Arc<str>>),
    /// Everything queued before this was delivered (or given up on).
    Drained(mpsc::Sender<()>),
}

/// The notifiers of one command, and the thread that delivers to them.
pub struct Notifiers {
    queue: Option<mpsc::Sender<Message>>,
    worker: Option<thread::JoinHandle<()>>,
    /// Events queued and not yet delivered to every notifier.
    backlog: Arc<Mutex<usize>>,
    warnings: Arc<Mutex<Vec<String>>>,
    /// The longest one event can take to go through every notifier.
    per_event: Duration,
}

impl std::fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifiers")
            .field("active", &self.queue.is_some())
            .field("per_event", &self.per_event)
            .finish_non_exhaustive()
    }
}

/// The run's end of the queue; cheap to clone, and `Send` so an observer can own one.
#[derive(Clone)]
pub struct Sender {
    queue: Option<mpsc::Sender<Message>>,
    backlog: Arc<Mutex<usize>>,
    /// The run's operation, for events that do not carry it.
    operation: Arc<Mutex<String>>,
    /// The fleet target whose run this is, as the targets file names it.
    target: Option<Arc<str>>,
}

impl Sender {
    /// Queues `event` for every notifier, if notifiers hear about it; never blocks.
    pub fn send(&self, event: &Event) {
        let Some(queue) = &self.queue else {
            return;
        };
        let operation = {
            let mut operation = self.operation.lock().unwrap_or_else(|p| p.into_inner());
            if let Event::RunStarted { operation: op, .. } = event {
                op.clone_into(&mut operation);
            }
            operation.clone()
        };
        let Some(event) = event.to_plugin(&operation) else {
            return;
        };
        *self.backlog.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        if queue
            .send(Message::Event(Box::new(event), self.target.clone()))
            .is_err()
        {
            *self.backlog.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        }
    }
}

impl Notifiers {
    /// No notifiers: sending does nothing, finishing returns no warnings.
    pub fn none() -> Notifiers {
        Notifiers {
            queue: None,
            worker: None,
            backlog: Arc::default(),
            warnings: Arc::default(),
            per_event: Duration::ZERO,
        }
    }

    /// Loads every enabled notifier declared in godwit.toml and starts delivering to them.
    /// A notifier that cannot be loaded (missing file, wrong pin) stops the command before
    /// the database is touched, like any other configuration error.
    pub fn from_config(config: &Config) -> Result<Notifiers, Error> {
        if !config.file.plugins.values().any(|p| p.enabled) {
            return Ok(Notifiers::none());
        }
        let (runtime, entries) = crate::validate::load_enabled(config)?;
        Ok(Notifiers::from_entries(runtime, entries))
    }

    /// Starts delivering to the notifiers among `entries` (loaded into `runtime`).
    pub fn from_entries(runtime: Arc<Runtime>, entries: Vec<PluginEntry>) -> Notifiers {
        let targets = entries
            .into_iter()
            .filter(|e| e.plugin.world() == Some(World::Notifier))
            .map(|entry| {
                let entry = Arc::new(entry);
                let context = Arc::clone(&entry);
                NotifierTarget {
                    name: entry.name.clone(),
                    plugin: entry.plugin.clone(),
                    limits: entry.limits.clone(),
                    context: Box::new(move || context.context(&toml::Table::new(), None)),
                }
            })
            .collect();
        Notifiers::start(runtime, targets)
    }

    /// Starts the worker thread for `targets`.
    pub fn start(runtime: Arc<Runtime>, targets: Vec<NotifierTarget>) -> Notifiers {
        if targets.is_empty() {
            return Notifiers::none();
        }
        let per_event = targets
            .iter()
            .map(|t| t.limits.timeout)
            .fold(Duration::ZERO, Duration::saturating_add)
            // Instantiation and the queue hand-off, on a loaded machine.
            .saturating_add(Duration::from_millis(500));
        let (queue, inbox) = mpsc::channel::<Message>();
        let backlog = Arc::new(Mutex::new(0usize));
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let worker = {
            let backlog = Arc::clone(&backlog);
            let warnings = Arc::clone(&warnings);
            thread::Builder::new()
                .name("godwit-notify".into())
                .spawn(move || deliver(&runtime, targets, inbox, &backlog, &warnings))
        };
        match worker {
            Ok(worker) => Notifiers {
                queue: Some(queue),
                worker: Some(worker),
                backlog,
                warnings,
                per_event,
            },
            Err(e) => {
                let notifiers = Notifiers::none();
                notifiers
                    .warnings
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "notifiers are off for this run: cannot start their thread: {e}"
                    ));
                notifiers
            }
        }
    }

    /// Whether any notifier is listening.
    pub fn is_active(&self) -> bool {
        self.queue.is_some()
    }

    /// A handle for the run's observer.
    pub fn sender(&self) -> Sender {
        Sender {
            queue: self.queue.clone(),
            backlog: Arc::clone(&self.backlog),
            operation: Arc::new(Mutex::new("deploy".to_owned())),
            target: None,
        }
    }

    /// A handle for the observer of one fleet target's run: its events reach notifiers
    /// with `target`, the target's name in the targets file.
    pub fn sender_for(&self, target: &str) -> Sender {
        Sender {
            target: Some(Arc::from(target)),
            ..self.sender()
        }
    }

    /// Waits for everything queued so far to be delivered, for at most as long as the
    /// notifiers' time limits allow for what is left, and returns the delivery problems,
    /// each naming its notifier. Events still undelivered then are dropped (and said so).
    pub fn finish(mut self) -> Vec<String> {
        if let Some(queue) = self.queue.take() {
            let left = *self.backlog.lock().unwrap_or_else(|p| p.into_inner());
            let bound = self.per_event * (left as u32 + 1);
            let (done, drained) = mpsc::channel();
            let started = Instant::now();
            let finished =
                queue.send(Message::Drained(done)).is_ok() && drained.recv_timeout(bound).is_ok();
            if finished {
                drop(queue);
                if let Some(worker) = self.worker.take() {
                    let _ = worker.join();
                }
            } else {
                let left = *self.backlog.lock().unwrap_or_else(|p| p.into_inner());
                self.warnings
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "notifiers did not finish within {} (their time limits for what was queued); {left} event{} left undelivered",
                        humantime::format_duration(Duration::from_millis(
                            started.elapsed().as_millis() as u64
                        )),
                        if left == 1 { "" } else { "s" }
                    ));
                // The worker is left to end with the process: a call blocked on the
                // network cannot be interrupted from here.
            }
        }
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// How one notifier fared over the run, for one warning line at the end.
#[derive(Default)]
struct Tally {
    failed: usize,
    delivered: usize,
    first_error: Option<String>,
    /// Traps and timeouts: the notifier is skipped for the rest of the run.
    disabled: bool,
    /// Warnings and errors the plugin logged (and host notes such as refused hosts).
    logged: Vec<String>,
}

fn deliver(
    runtime: &Runtime,
    targets: Vec<NotifierTarget>,
    inbox: mpsc::Receiver<Message>,
    backlog: &Mutex<usize>,
    warnings: &Mutex<Vec<String>>,
) {
    let mut tallies: Vec<Tally> = targets.iter().map(|_| Tally::default()).collect();
    let report = |tallies: &mut Vec<Tally>| {
        let mut out = warnings.lock().unwrap_or_else(|p| p.into_inner());
        for (target, tally) in targets.iter().zip(tallies.iter_mut()) {
            let done = std::mem::take(tally);
            tally.disabled = done.disabled;
            out.extend(summarize(&target.name, done));
        }
    };
    for message in inbox {
        match message {
            Message::Event(event, about) => {
                for (target, tally) in targets.iter().zip(&mut tallies) {
                    if tally.disabled {
                        tally.failed += 1;
                    } else {
                        notify_one(runtime, target, &event, about.as_deref(), tally);
                    }
                }
                *backlog.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
            }
            Message::Drained(done) => {
                report(&mut tallies);
                let _ = done.send(());
            }
        }
    }
    report(&mut tallies);
}

fn notify_one(
    runtime: &Runtime,
    target: &NotifierTarget,
    event: &types::Event,
    about: Option<&str>,
    tally: &mut Tally,
) {
    let result = runtime.notify(
        &target.plugin,
        &target.limits,
        (target.context)(),
        event,
        about,
    );
    match result {
        // Built against an API version that has no such event: nothing to deliver.
        Ok(None) => {}
        Ok(Some(call)) => {
            for line in &call.logs {
                if matches!(line.level, "warn" | "error") && !tally.logged.contains(&line.message) {
                    tally.logged.push(line.message.clone());
                }
            }
            match call.value {
                Ok(()) => tally.delivered += 1,
                Err(message) => {
                    tally.failed += 1;
                    tally.first_error.get_or_insert(message);
                }
            }
        }
        Err(e) => {
            tally.failed += 1;
            tally.disabled = true;
            tally
                .first_error
                .get_or_insert_with(|| format!("{e}; it was skipped for the rest of the run"));
        }
    }
}

fn summarize(name: &str, tally: Tally) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(error) = tally.first_error {
        let total = tally.failed + tally.delivered;
        out.push(format!(
            "notifier {name}: {} of {total} event{} not delivered: {error}",
            tally.failed,
            if total == 1 { "" } else { "s" }
        ));
    }
    for line in tally.logged {
        out.push(format!("notifier {name}: {line}"));
    }
    out
}

impl Event {
    /// The event as notifier plugins receive it (`godwit:plugin/types.event`), or `None`
    /// for what only the terminal shows (lock waits, retries, data copies, plugin logs).
    /// `operation` is the run's (`deploy`, `down`, `reset`), which migration-started
    /// needs and this event does not carry.
    pub fn to_plugin(&self, operation: &str) -> Option<types::Event> {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Some(match self {
            Event::RunStarted {
                operation,
                pending,
                database,
            } => types::Event::RunStarted(types::RunStarted {
                operation: operation.clone(),
                pending: count(*pending),
                database: crate::config::redact(database),
            }),
            Event::RunFinished {
                operation,
                applied,
                failed,
                duration_ms,
            } => types::Event::RunFinished(types::RunFinished {
                operation: operation.clone(),
                applied: count(*applied),
                failed: failed.clone(),
                duration_ms: *duration_ms,
            }),
            Event::MigrationStarted {
                version,
                name,
                kind,
                ..
            } => types::Event::MigrationStarted(types::MigrationStarted {
                version: version.clone(),
                name: name.clone(),
                kind: kind.clone(),
                operation: operation.to_owned(),
            }),
            Event::MigrationFinished {
                version,
                name,
                operation,
                duration_ms,
                rows_affected,
                ..
            } => types::Event::MigrationApplied(types::MigrationApplied {
                version: version.clone(),
                name: name.clone(),
                operation: operation.as_str().to_owned(),
                duration_ms: *duration_ms,
                rows_affected: *rows_affected,
            }),
            Event::MigrationFailed {
                version,
                name,
                error,
            } => types::Event::MigrationFailed(types::MigrationFailed {
                version: version.clone(),
                name: name.clone(),
                error: crate::config::redact(error),
            }),
            Event::BatchProgress {
                version,
                batches,
                rows,
                total,
                rate,
                ..
            } => types::Event::BatchProgress(types::BatchProgress {
                version: version.clone(),
                batches: *batches,
                rows: *rows,
                total: *total,
                rate: *rate,
            }),
            Event::FindingsReported {
                source,
                findings,
                blocking,
            } => types::Event::FindingsReported(types::FindingsReported {
                source: source.clone(),
                findings: findings.iter().map(to_plugin_finding).collect(),
                blocking: *blocking,
            }),
            Event::BackupTaken { id, size, .. } => types::Event::BackupTaken(types::BackupTaken {
                id: id.clone(),
                size: *size,
            }),
            Event::RolledBack {
                version,
                reason,
                backup_id,
            } => types::Event::RolledBack(types::RolledBack {
                version: version.clone(),
                reason: crate::config::redact(reason),
                backup_id: backup_id.clone(),
            }),
            Event::StepPaused {
                version,
                reason,
                paused_ms,
                max_pause_ms,
            } => types::Event::StepPaused(types::StepPaused {
                version: version.clone(),
                reason: to_plugin_reason(reason),
                message: crate::config::redact(&reason.to_string()),
                paused_ms: *paused_ms,
                max_pause_ms: *max_pause_ms,
            }),
            Event::StepResumed {
                version,
                paused_ms,
                reason,
            } => types::Event::StepResumed(types::StepResumed {
                version: version.clone(),
                paused_ms: *paused_ms,
                reason: to_plugin_reason(reason),
            }),
            Event::LockWaiting { .. }
            | Event::LockAcquired { .. }
            | Event::Retrying { .. }
            | Event::Restored { .. }
            | Event::DataCopy { .. }
            | Event::PluginLog { .. } => return None,
        })
    }
}

/// Why a step paused, in the WIT's shape; replicas are named without their passwords.
fn to_plugin_reason(reason: &PauseReason) -> types::PauseReason {
    match reason {
        PauseReason::ReplicationLag {
            replica,
            lag_ms,
            bound_ms,
        } => types::PauseReason::ReplicationLag(types::ReplicationLag {
            replica: crate::config::redact(replica),
            lag_ms: *lag_ms,
            bound_ms: *bound_ms,
        }),
        PauseReason::LagUnknown { replica, why } => {
            types::PauseReason::LagUnknown(types::LagUnknown {
                replica: crate::config::redact(replica),
                why: crate::config::redact(why),
            })
        }
        PauseReason::HealthQuery { query } => types::PauseReason::HealthQuery(query.clone()),
    }
}

/// A finding in the WIT's shape: the location becomes `file:line` (or the migration).
pub fn to_plugin_finding(f: &Finding) -> types::Finding {
    let location = match (&f.location.file, f.location.line, &f.location.migration) {
        (Some(file), Some(line), _) => Some(format!("{}:{line}", file.display())),
        (Some(file), None, _) => Some(file.display().to_string()),
        (None, _, migration) => migration.clone(),
    };
    types::Finding {
        rule: f.rule.clone(),
        severity: match f.severity {
            Severity::Info => types::Severity::Info,
            Severity::Warning => types::Severity::Warning,
            Severity::Error => types::Severity::Error,
        },
        message: f.message.clone(),
        location,
        help: f.help.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use godwit_core::history::Operation;

    #[test]
    fn run_events_convert_with_the_runs_operation() {
        let started = Event::MigrationStarted {
            version: "20260101000000".into(),
            name: "create_users".into(),
            kind: "sql".into(),
            statements: 2,
            resume_at: None,
        };
        match started.to_plugin("down") {
            Some(types::Event::MigrationStarted(m)) => {
                assert_eq!(m.operation, "down");
                assert_eq!(m.kind, "sql");
            }
            other => panic!("{other:?}"),
        }
        let finished = Event::MigrationFinished {
            version: "20260101000000".into(),
            name: "create_users".into(),
            kind: "sql".into(),
            operation: Operation::Deploy,
            duration_ms: 3,
            statements: 2,
            rows_affected: 7,
            rows_retried: 0,
        };
        match finished.to_plugin("deploy") {
            Some(types::Event::MigrationApplied(m)) => {
                assert_eq!((m.operation.as_str(), m.rows_affected), ("deploy", 7));
            }
            other => panic!("{other:?}"),
        }
        let waiting = Event::LockWaiting {
            holder: "pid 1".into(),
        };
        assert!(waiting.to_plugin("deploy").is_none());
    }

    #[test]
    fn no_notifiers_means_nothing_to_wait_for() {
        let notifiers = Notifiers::none();
        notifiers
            .sender()
            .send(&Event::LockAcquired { waited_ms: 1 });
        assert!(!notifiers.is_active());
        assert!(notifiers.finish().is_empty());
    }
}
