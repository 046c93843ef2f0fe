//! `deploy --targets FILE` and `status --targets FILE`: the same migrations on a fleet of
//! databases. Each target is an ordinary run of its own, with its own connection, lock and
//! history table, through [`Migrator`]; this module only reads the targets file, runs a
//! few targets at a time (the canary ones first), and collects one report.
//!
//! The targets file has one target per line, `[NAME] URL` or `[NAME] env(VARIABLE)`;
//! `#` starts a comment. docs/fleet.md describes it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::config::{self, Config, FileConfig, Overrides};
use crate::error::{Error, exit};
use crate::history;
use crate::migrator::{DeployOptions, Event, Migrator};
use crate::notify::Notifiers;
use crate::source::{self, Migration};
use crate::validate::Validators;

/// Targets worked on at once unless `--parallel` says otherwise: enough to hide network
/// round trips, few enough not to crowd a shared server with connections (each target
/// holds two).
pub const DEFAULT_PARALLEL: usize = 4;

/// One database of the fleet.
#[derive(Debug)]
pub struct FleetTarget {
    /// The name the file gives it, else its variable's name or its URL (password hidden).
    pub name: String,
    /// Its line in the targets file.
    pub line: usize,
    /// The variable of an `env(NAME)` line.
    pub variable: Option<String>,
    /// The project's settings, pointed at this database.
    pub config: Config,
}

/// The targets of a targets file, in its order.
#[derive(Debug)]
pub struct Fleet {
    pub file: PathBuf,
    pub targets: Vec<FleetTarget>,
}

/// What is wrong with a targets file. Every problem of every line is reported at once,
/// before any database is touched.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error("cannot read the targets file {}: {source}\n  give --targets a file listing one database URL or env(NAME) per line (see docs/fleet.md)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the targets file {} lists no targets: write one database URL or env(NAME) per line, e.g.\n  tenant_1 postgres://app@db1:5432/app\n  tenant_2 env(TENANT_2_URL)", path.display())]
    Empty { path: PathBuf },
    #[error("{}", lines_message(path, problems))]
    Lines {
        path: PathBuf,
        problems: Vec<LineProblem>,
    },
}

/// A line of a targets file that cannot be used.
#[derive(Debug)]
pub struct LineProblem {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug)]
pub enum Problem {
    /// `env(NAME)` names a variable that is set neither in the environment nor in `.env`.
    Unset {
        variable: String,
    },
    /// The URL (or the variable's value) is not one godwit can use.
    BadTarget {
        message: String,
    },
    /// A name with characters other than letters, digits, `_`, `-`, `.` and `:`.
    BadName {
        name: String,
    },
    /// More than `NAME TARGET` on the line.
    TooManyFields {
        fields: usize,
    },
    DuplicateName {
        name: String,
        first: usize,
    },
    /// The same database (and schema) as an earlier line: two deploys of it would race.
    DuplicateTarget {
        first: usize,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unset { variable } => write!(
                f,
                "env({variable}) is not set in the environment or in the project's .env; set {variable} to the database's URL, or remove the line"
            ),
            Problem::BadTarget { message } => f.write_str(message),
            Problem::BadName { name } => write!(
                f,
                "`{name}` cannot be a target's name: use letters, digits, `_`, `-`, `.` and `:` (a line is `[NAME] URL` or `[NAME] env(VARIABLE)`)"
            ),
            Problem::TooManyFields { fields } => write!(
                f,
                "{fields} fields where a line has one or two, `[NAME] URL` or `[NAME] env(VARIABLE)`; percent-encode spaces in a URL as %20, and start a comment with `#`"
            ),
            Problem::DuplicateName { name, first } => write!(
                f,
                "the name `{name}` is already taken by line {first}; give each target its own name"
            ),
            Problem::DuplicateTarget { first } => write!(
                f,
                "the same database as line {first}; list each database (and schema) once"
            ),
        }
    }
}

fn lines_message(path: &Path, problems: &[LineProblem]) -> String {
    let mut out = format!(
        "the targets file {} has {} problem{}; nothing was done on any database:",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!("\n  {}:{}: {}", path.display(), p.line, p.problem));
    }
    out
}

impl Fleet {
    /// Reads the targets file (`file` relative to the project directory, like every path
    /// godwit is given) and resolves every target, `env(NAME)` from the environment or
    /// the project's `.env`. A relative SQLite path is relative to the targets file.
    pub fn read(dir: &Path, file: &Path, overrides: &Overrides) -> Result<Fleet, Error> {
        let project_dir = config::project_dir(dir)?;
        let settings = FileConfig::read(&project_dir)?;
        let path = project_dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|source| TargetsError::Read {
            path: path.clone(),
            source,
        })?;
        let lookup = config::env_lookup(&project_dir)?;
        let base = path.parent().unwrap_or(&project_dir).to_path_buf();
        let mut targets = Vec::new();
        let mut problems = Vec::new();
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let mut problem = |problem| problems.push(LineProblem { line, problem });
            let fields: Vec<&str> = strip_comment(raw).split_whitespace().collect();
            let (name, entry) = match fields[..] {
                [] => continue,
                [entry] => (None, entry),
                [name, entry] => (Some(name), entry),
                _ => {
                    problem(Problem::TooManyFields {
                        fields: fields.len(),
                    });
                    continue;
                }
            };
            if let Some(name) = name
                && !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
            {
                problem(Problem::BadName { name: name.into() });
                continue;
            }
            let variable = entry
                .strip_prefix("env(")
                .and_then(|v| v.strip_suffix(')'))
                .map(|v| v.trim().trim_matches('"'));
            let (url, origin) = match variable {
                Some(variable) => match lookup(variable) {
                    Some(url) => (url, format!("env({variable})")),
                    None => {
                        problem(Problem::Unset {
                            variable: variable.into(),
                        });
                        continue;
                    }
                },
                None => (entry.to_string(), "the target".to_string()),
            };
            let target = match config::parse_target(&url, &origin, &base) {
                Ok(target) => target,
                Err(e) => {
                    problem(Problem::BadTarget {
                        message: config::redact(&e.to_string()),
                    });
                    continue;
                }
            };
            let name = match (name, variable) {
                (Some(name), _) => name.to_string(),
                (None, Some(variable)) => variable.to_string(),
                (None, None) => target.display.clone(),
            };
            if let Some(&(_, first)) = seen.iter().find(|(n, _)| *n == name) {
                problem(Problem::DuplicateName { name, first });
                continue;
            }
            let key = (target.url.clone(), target.schema.clone());
            if let Some(first) = targets
                .iter()
                .find(|t: &&FleetTarget| {
                    (t.config.target.url.clone(), t.config.target.schema.clone()) == key
                })
                .map(|t| t.line)
            {
                problem(Problem::DuplicateTarget { first });
                continue;
            }
            seen.push((name.clone(), line));
            match Config::for_target(project_dir.clone(), settings.clone(), overrides, target) {
                Ok(config) => targets.push(FleetTarget {
                    name,
                    line,
                    variable: variable.map(str::to_string),
                    config,
                }),
                Err(e) => problem(Problem::BadTarget {
                    message: e.to_string(),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(TargetsError::Lines { path, problems }.into());
        }
        if targets.is_empty() {
            return Err(TargetsError::Empty { path }.into());
        }
        Ok(Fleet {
            file: path,
            targets,
        })
    }

    /// The migrations, read once for each dialect in the fleet, before any database is
    /// touched: a broken file stops the whole run.
    fn migrations(&self) -> Result<Vec<(crate::Dialect, Vec<Migration>)>, Error> {
        let mut read: Vec<(crate::Dialect, Vec<Migration>)> = Vec::new();
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

/// A `#` at the start of a line or after a space begins a comment; inside a URL (a
/// fragment) it does not.
fn strip_comment(line: &str) -> &str {
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_whitespace() {
            return &line[..i];
        }
        previous = c;
    }
    line
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
            .partition(|e| e.plugin.world() == Some(crate::plugin::World::Notifier));
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
    let sender = notifiers.sender();
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
        let others = crate::adopt::unadopted_histories(&mut migrator).await?;
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

    #[test]
    fn a_comment_starts_at_a_hash_after_a_space_not_inside_a_url() {
        assert_eq!(strip_comment("# all of it"), "");
        assert_eq!(
            strip_comment("a sqlite://x.db  # note"),
            "a sqlite://x.db  "
        );
        assert_eq!(
            strip_comment("postgres://u:p#w@h/db"),
            "postgres://u:p#w@h/db"
        );
    }

    #[test]
    fn bad_lines_are_all_reported_with_their_numbers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.txt"),
            "ok sqlite://a.db\n\n# comment\nok sqlite://b.db\nx y z\n",
        )
        .unwrap();
        let err = Fleet::read(dir.path(), Path::new("t.txt"), &Overrides::default()).unwrap_err();
        let Error::Targets(TargetsError::Lines { problems, .. }) = err else {
            panic!("{err:?}");
        };
        assert!(matches!(
            problems[..],
            [
                LineProblem {
                    line: 4,
                    problem: Problem::DuplicateName { first: 1, .. }
                },
                LineProblem {
                    line: 5,
                    problem: Problem::TooManyFields { fields: 3 }
                }
            ]
        ));
    }
}
