//! `deploy --targets FILE` and `status --targets FILE`: the same migrations on a fleet of
//! databases. Each target is an ordinary run of its own, with its own connection, lock and
//! history table, through [`Migrator`]; this module only reads the targets file, runs a
//! few targets at a time (the canary ones first), and collects one report.
//!
//! The targets file has one target per line, `[NAME] URL` or `[NAME] env(VARIABLE)`;
//! `#` starts a comment. docs/fleet.md describes it.

use std::time::Instant;

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::config;
use crate::error::{Error, exit};
use crate::event::Event;
use crate::migrator::{DeployOptions, Migrator};
use crate::notify::Notifiers;
use crate::validate::Validators;
use godwit_core::history;
use godwit_core::source::{self, Migration};

pub use crate::config::targets::{Fleet, FleetTarget, LineProblem, Problem, TargetsError};

/// Targets worked on at once unless `--parallel` says otherwise: enough to hide network
/// round trips, few enough not to crowd a shared server with connections (each target
/// holds two).
pub const DEFAULT_PARALLEL: usize = 4;

impl Fleet {
    /// The migrations, read once for each dialect in the fleet, before any database is
    /// touched: a broken file stops the whole run.
    fn migrations(&self) -> Result<Vec<(godwit_core::Dialect, Vec<Migration>)>, Error> {
        let mut read: Vec<(godwit_core::Dialect, Vec<Migration>)> = Vec::new();
        for t in &self.targets {
            let dialect = t.config.target.dialect;
            if !read.iter().any(|(d, _)| *d == dialect) {
                let migrations =
                    source::read(&t.config.migrations_dir, &t.config.layout(), dialect)?;
                read.push((dialect, migrations));
            }
        }
        Ok(read)
    }
}

/// How one target came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetOutcome {
    /// deploy: at least one migration applied, none failed.
    Applied,
    /// Nothing was pending.
    UpToDate,
    /// status: migrations wait to be applied.
    Pending,
    /// status: failed, modified or missing migrations (or another tool's history).
    Problems,
    /// The run on this target stopped with an error (its exit code says which kind).
    Failed,
    /// Not run: a canary target failed.
    Skipped,
}

impl TargetOutcome {
    pub fn label(self) -> &'static str {
        match self {
            TargetOutcome::Applied => "applied",
            TargetOutcome::UpToDate => "up to date",
            TargetOutcome::Pending => "pending",
            TargetOutcome::Problems => "problems",
            TargetOutcome::Failed => "failed",
            TargetOutcome::Skipped => "skipped",
        }
    }
}

/// One target's line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    pub name: String,
    /// The URL with its password hidden.
    pub url: String,
    pub line: usize,
    /// The variable of an `env(NAME)` line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    pub outcome: TargetOutcome,
    /// deploy: migrations this run applied (also those before a failure); status:
    /// migrations applied so far.
    pub applied: usize,
    /// deploy: the versions this run applied, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<String>,
    /// status: migrations waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<usize>,
    /// status: failed, modified or missing migrations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<usize>,
    pub duration_ms: u64,
    /// What stopped the run, password hidden.
    pub error: Option<String>,
    /// The exit code `godwit deploy` (or `status`) would have returned for this target.
    pub exit_code: u8,
}

/// The whole fleet's report: the JSON document `--json` prints, and what the table shows.
#[derive(Debug, Serialize)]
pub struct FleetReport {
    /// `deploy` or `status`.
    pub command: &'static str,
    pub targets_file: String,
    pub parallel: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<usize>,
    pub targets: Vec<TargetReport>,
    /// The worst target's exit code (see [`worst`]).
    pub exit_code: u8,
}

impl FleetReport {
    fn new(
        command: &'static str,
        fleet: &Fleet,
        parallel: usize,
        canary: Option<usize>,
        targets: Vec<TargetReport>,
    ) -> FleetReport {
        FleetReport {
            command,
            targets_file: fleet.file.display().to_string(),
            parallel,
            canary,
            exit_code: worst(targets.iter().map(|t| t.exit_code)),
            targets,
        }
    }

    /// How many targets came out `outcome`.
    pub fn count(&self, outcome: TargetOutcome) -> usize {
        self.targets.iter().filter(|t| t.outcome == outcome).count()
    }
}

/// The exit code of the worst target: a failed migration (1, the database is part-way and
/// needs a person) over a safety block (4), over an unreachable database or a lock not
/// acquired (3), over a configuration error (2), over pending migrations (5), over 0.
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    let rank = |code: u8| match code {
        exit::FAILED => 5,
        exit::BLOCKED => 4,
        exit::CONNECT => 3,
        exit::USAGE => 2,
        exit::PENDING => 1,
        _ => 0,
    };
    codes
        .into_iter()
        .max_by_key(|&c| rank(c))
        .unwrap_or(exit::OK)
}

/// How to run the fleet.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Targets worked on at once (at least 1).
    pub parallel: usize,
    /// Deploy the first K targets first, and the rest only if all of them succeed.
    pub canary: Option<usize>,
    /// Stream each target's events as JSON lines on stderr, each with its `target`,
    /// instead of one progress line per finished target.
    pub json: bool,
}

/// `godwit deploy --targets FILE`: every target deployed as `godwit deploy` would deploy
/// it alone. Plugins (validators, notifiers, steps) are loaded once, before anything.
pub async fn deploy(
    fleet: &Fleet,
    options: &DeployOptions,
    run: Run,
) -> Result<FleetReport, Error> {
    fleet.migrations()?;
    let first = &fleet.targets[0].config;
    let (notifiers, validators) = if first.file.plugins.values().any(|p| p.enabled) {
        let (runtime, entries) = crate::validate::load_enabled(first)?;
        let (notifying, validating): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|e| e.plugin.world() == Some(godwit_plugin::World::Notifier));
        (
            Notifiers::from_entries(std::sync::Arc::clone(&runtime), notifying),
            Validators::from_entries(runtime, validating, first.target.dialect),
        )
    } else {
        (Notifiers::none(), None)
    };
    let total = fleet.targets.len();
    let done = std::cell::Cell::new(0);
    let one = async |t: &FleetTarget| {
        let report = deploy_one(
            t,
            options,
            validators
                .as_ref()
                .map(|v| v.for_dialect(t.config.target.dialect)),
            &notifiers,
            run.json,
        )
        .await;
        done.set(done.get() + 1);
        progress(&report, done.get(), total, run.json);
        report
    };
    let canary = run.canary.unwrap_or(0).min(total);
    let (first_wave, rest) = fleet.targets.split_at(canary);
    let mut reports = all(first_wave, run.parallel, &one).await;
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome == TargetOutcome::Failed)
        .map(|r| r.name.clone())
        .collect();
    if failed.is_empty() {
        reports.extend(all(rest, run.parallel, &one).await);
    } else {
        let why = format!(
            "not deployed: canary target{} {} failed",
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        );
        reports.extend(rest.iter().map(|t| TargetReport {
            outcome: TargetOutcome::Skipped,
            error: Some(why.clone()),
            ..blank(t)
        }));
    }
    for warning in notifiers.finish() {
        eprintln!("warning: {}", config::redact(&warning));
    }
    Ok(FleetReport::new(
        "deploy",
        fleet,
        run.parallel,
        run.canary,
        reports,
    ))
}

/// `godwit status --targets FILE`: each target's state, read without the lock.
pub async fn status(fleet: &Fleet, run: Run) -> Result<FleetReport, Error> {
    let migrations = fleet.migrations()?;
    let total = fleet.targets.len();
    let done = std::cell::Cell::new(0);
    let one = async |t: &FleetTarget| {
        let of_dialect = migrations
            .iter()
            .find(|(d, _)| *d == t.config.target.dialect)
            .map(|(_, m)| m.as_slice())
            .unwrap_or_default();
        let report = status_one(t, of_dialect).await;
        done.set(done.get() + 1);
        progress(&report, done.get(), total, run.json);
        report
    };
    let reports = all(&fleet.targets, run.parallel, &one).await;
    Ok(FleetReport::new(
        "status",
        fleet,
        run.parallel,
        None,
        reports,
    ))
}

/// Runs `one` on every target, `parallel` at a time; the reports come back in file order.
async fn all<F>(targets: &[FleetTarget], parallel: usize, one: &F) -> Vec<TargetReport>
where
    F: AsyncFn(&FleetTarget) -> TargetReport,
{
    let mut reports: Vec<(usize, TargetReport)> =
        futures_util::stream::iter(targets.iter().enumerate())
            .map(|(i, t)| async move { (i, one(t).await) })
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

fn blank(t: &FleetTarget) -> TargetReport {
    TargetReport {
        name: t.name.clone(),
        url: t.config.target.display.clone(),
        line: t.line,
        variable: t.variable.clone(),
        outcome: TargetOutcome::Skipped,
        applied: 0,
        migrations: Vec::new(),
        pending: None,
        problems: None,
        duration_ms: 0,
        error: None,
        exit_code: exit::OK,
    }
}

fn failed(t: &FleetTarget, err: &Error, applied: usize, started: Instant) -> TargetReport {
    TargetReport {
        outcome: TargetOutcome::Failed,
        applied,
        duration_ms: started.elapsed().as_millis() as u64,
        error: Some(config::redact(&err.to_string())),
        exit_code: err.exit_code(),
        ..blank(t)
    }
}

async fn deploy_one(
    t: &FleetTarget,
    options: &DeployOptions,
    validators: Option<Validators>,
    notifiers: &Notifiers,
    json: bool,
) -> TargetReport {
    let started = Instant::now();
    let mut migrator = match Migrator::connect(&t.config).await {
        Ok(m) => m,
        Err(e) => return failed(t, &e, 0, started),
    };
    let sender = notifiers.sender_for(&t.name);
    let name = t.name.clone();
    migrator.observe(move |e: &Event| {
        if json && let Ok(mut line) = serde_json::to_value(e) {
            line["target"] = serde_json::Value::String(name.clone());
            eprintln!("{line}");
        }
        sender.send(e);
    });
    if let Some(v) = validators {
        migrator.validate_with(v);
    }
    match migrator.deploy(options).await {
        Ok(report) => TargetReport {
            outcome: if report.applied.is_empty() {
                TargetOutcome::UpToDate
            } else {
                TargetOutcome::Applied
            },
            applied: report.applied.len(),
            migrations: report.applied.iter().map(|d| d.version.clone()).collect(),
            duration_ms: started.elapsed().as_millis() as u64,
            ..blank(t)
        },
        Err(e) => failed(t, &e, migrator.run_applied(), started),
    }
}

async fn status_one(t: &FleetTarget, migrations: &[Migration]) -> TargetReport {
    let started = Instant::now();
    let read = async {
        let mut migrator = Migrator::connect(&t.config).await?;
        let rows = migrator.history().await?;
        let others = migrator.unadopted_histories().await?;
        Ok::<_, Error>((rows, others))
    };
    let (rows, others) = match read.await {
        Ok(read) => read,
        Err(e) => return failed(t, &e, 0, started),
    };
    let summary = history::summarize(&history::entries(migrations, &rows));
    let exit_code = status_code(&summary, !others.is_empty());
    TargetReport {
        outcome: match exit_code {
            exit::OK => TargetOutcome::UpToDate,
            exit::PENDING => TargetOutcome::Pending,
            _ => TargetOutcome::Problems,
        },
        applied: summary.applied,
        pending: Some(summary.pending),
        problems: Some(summary.problems + others.len()),
        duration_ms: started.elapsed().as_millis() as u64,
        exit_code,
        ..blank(t)
    }
}

/// `godwit status`'s exit code: 4 when something needs attention (a failed, modified or
/// missing migration, or another tool's history not adopted), 5 when migrations are
/// pending, else 0.
pub fn status_code(summary: &history::Summary, other_history: bool) -> u8 {
    if summary.problems > 0 || other_history {
        exit::BLOCKED
    } else if summary.pending > 0 {
        exit::PENDING
    } else {
        exit::OK
    }
}

/// One line on stderr per finished target, so a long fleet run shows it is moving.
fn progress(report: &TargetReport, done: usize, total: usize, json: bool) {
    if json {
        return;
    }
    let width = total.to_string().len();
    let detail = match report.outcome {
        TargetOutcome::Applied => format!(
            "applied {} migration{}",
            report.applied,
            if report.applied == 1 { "" } else { "s" }
        ),
        TargetOutcome::Failed => format!("failed (exit {})", report.exit_code),
        other => other.label().to_string(),
    };
    eprintln!(
        "[{done:>width$}/{total}] {}: {detail} in {}",
        report.name,
        crate::text::ms(report.duration_ms)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_migration_is_worse_than_a_block_than_a_connection_than_pending() {
        assert_eq!(
            worst([exit::OK, exit::PENDING, exit::CONNECT]),
            exit::CONNECT
        );
        assert_eq!(
            worst([exit::CONNECT, exit::BLOCKED, exit::USAGE]),
            exit::BLOCKED
        );
        assert_eq!(
            worst([exit::BLOCKED, exit::FAILED, exit::PENDING]),
            exit::FAILED
        );
        assert_eq!(worst([exit::OK, exit::PENDING]), exit::PENDING);
        assert_eq!(worst([]), exit::OK);
    }
}
