//! Validator plugins at `lint`, `plan` and `deploy`.
//!
//! Every enabled validator declared in godwit.toml runs `check-migration` on each
//! migration in question and, where a database is at hand, `check-database` on a
//! read-only session. What they find is a [`Finding`] like any built-in rule's, with the
//! plugin named as its source, so the same reporters and exit codes apply.
//!
//! At deploy, validators fail closed: an error finding, or a validator that traps, runs
//! past its time limit or cannot be called, blocks the run (exit 4) before any backup is
//! taken or migration applied. Built-in lint rules never block a deploy: a project's old
//! migrations would trip them forever, and editing those files to silence them would
//! change their checksums. Validators are the deploy-time gate an organisation chooses.
//!
//! Plugins run on blocking threads (their WASI bindings block), never on the async thread.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::{Error, Refusal};
use crate::event::{Event, Events};
use crate::plugin::registry::{self, PluginEntry};
use crate::plugin::{Runtime, RuntimeConfig, World, session, types};
use godwit_core::Dialect;
use godwit_core::finding::{Finding, Location, Severity};
use godwit_core::source::Migration;
use godwit_db::{Driver, Session};

/// The rule name of the finding that stands for a validator that could not give an answer.
pub const FAILED_RULE: &str = "validator-failed";

/// Loads every enabled plugin of `world` declared in godwit.toml, in name order, with the
/// engine they run in (which must outlive the calls: it keeps their clock).
pub fn load_world(
    config: &Config,
    world: World,
) -> Result<(Arc<Runtime>, Vec<PluginEntry>), Error> {
    let (runtime, entries) = load_enabled(config)?;
    Ok((
        runtime,
        entries
            .into_iter()
            .filter(|e| e.plugin.world() == Some(world))
            .collect(),
    ))
}

/// Loads every enabled plugin declared in godwit.toml, whatever its world, in one engine:
/// a command that needs validators and notifiers loads (and pin-checks) each plugin once.
pub fn load_enabled(config: &Config) -> Result<(Arc<Runtime>, Vec<PluginEntry>), Error> {
    load_enabled_of(config, None)
}

/// [`load_enabled`], keeping only the plugins of `world` when one is given (see
/// [`registry::load_entry_of`]).
fn load_enabled_of(
    config: &Config,
    world: Option<World>,
) -> Result<(Arc<Runtime>, Vec<PluginEntry>), Error> {
    let declared: Vec<_> = config
        .file
        .plugins
        .iter()
        .filter(|(_, p)| p.enabled)
        .collect();
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig {
            cache_dir: Some(registry::cache_dir(&config.project_dir)),
            pooling: true,
        })
        .map_err(|e| Error::Config(e.to_string()))?,
    );
    let mut entries = Vec::new();
    for (name, settings) in declared {
        entries.extend(registry::load_entry_of(
            config, &runtime, name, settings, world,
        )?);
    }
    Ok((runtime, entries))
}

/// What one validator said about a run, or why it could not say.
#[derive(Clone, Debug)]
pub struct Report {
    /// The plugin's name in godwit.toml.
    pub source: String,
    pub findings: Vec<Finding>,
    /// Set when the validator trapped, timed out or could not be called: a check that
    /// did not run is not a check that passed.
    pub failure: Option<String>,
}

impl Report {
    /// The findings, with a failure turned into an error finding of rule [`FAILED_RULE`].
    pub fn into_findings(self) -> Vec<Finding> {
        let mut findings = self.findings;
        if let Some(message) = self.failure {
            findings.push(Finding {
                rule: FAILED_RULE.to_owned(),
                code: FAILED_RULE.to_owned(),
                severity: Severity::Error,
                message,
                location: Location::default(),
                help: Some(format!(
                    "fix or raise the limits of plugin `{}` in godwit.toml ([plugins.{}.limits]), or set enabled = false to stop running it",
                    self.source, self.source
                )),
                doc: None,
                source: self.source,
            });
        }
        findings
    }

    fn blocking(&self) -> bool {
        self.failure.is_some() || self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// The validators of a project, loaded and ready to call.
pub struct Validators {
    runtime: Arc<Runtime>,
    entries: Vec<Arc<PluginEntry>>,
    dialect: Dialect,
}

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validators")
            .field("names", &self.names())
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl Validators {
    /// Every enabled validator in godwit.toml; `None` when there is none. `dialect` is the
    /// one the checks are for, handed to plugins as the `dialect` setting (`postgres`,
    /// `mysql` or `sqlite`) unless their `[config]` sets one.
    pub fn from_config(config: &Config, dialect: Dialect) -> Result<Option<Validators>, Error> {
        if !config.file.plugins.values().any(|p| p.enabled) {
            return Ok(None);
        }
        // Only the validators: lint must not make a notifier's granted directory.
        let (runtime, entries) = load_enabled_of(config, Some(World::Validator))?;
        Ok(Validators::from_entries(runtime, entries, dialect))
    }

    /// The validators among `entries` (loaded into `runtime`); `None` when there is none.
    pub fn from_entries(
        runtime: Arc<Runtime>,
        entries: Vec<PluginEntry>,
        dialect: Dialect,
    ) -> Option<Validators> {
        let entries: Vec<Arc<PluginEntry>> = entries
            .into_iter()
            .filter(|e| e.plugin.world() == Some(World::Validator))
            .map(Arc::new)
            .collect();
        (!entries.is_empty()).then_some(Validators {
            runtime,
            entries,
            dialect,
        })
    }

    /// The same validators, checking for another dialect (a fleet mixes them).
    pub fn for_dialect(&self, dialect: Dialect) -> Validators {
        Validators {
            runtime: Arc::clone(&self.runtime),
            entries: self.entries.clone(),
            dialect,
        }
    }

    /// The validators' names, in the order they run.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// The validators, in the order they run.
    pub fn entries(&self) -> impl Iterator<Item = &PluginEntry> {
        self.entries.iter().map(|e| e.as_ref())
    }

    fn overrides(&self, entry: &PluginEntry) -> toml::Table {
        let mut table = toml::Table::new();
        if !entry.settings.iter().any(|(k, _)| k == "dialect") {
            let dialect = match self.dialect {
                Dialect::Postgres => "postgres",
                Dialect::MySql => "mysql",
                Dialect::Sqlite => "sqlite",
            };
            table.insert("dialect".into(), toml::Value::String(dialect.into()));
        }
        table
    }

    /// `check-migration` of every validator on every one of `migrations`: one report per
    /// validator, in order.
    pub async fn check_migrations(&self, migrations: &[&Migration]) -> Vec<Report> {
        let wit: Arc<Vec<(types::Migration, Migration)>> = Arc::new(
            migrations
                .iter()
                .map(|m| (to_plugin_migration(m), (*m).clone()))
                .collect(),
        );
        let mut reports = Vec::new();
        for entry in &self.entries {
            let runtime = Arc::clone(&self.runtime);
            let entry = Arc::clone(entry);
            let overrides = self.overrides(&entry);
            let wit = Arc::clone(&wit);
            let name = entry.name.clone();
            let report = tokio::task::spawn_blocking(move || {
                let mut report = Report {
                    source: entry.name.clone(),
                    findings: Vec::new(),
                    failure: None,
                };
                for (migration, source) in wit.iter() {
                    let context = entry.context(&overrides, None);
                    match runtime.check_migration(&entry.plugin, &entry.limits, context, migration)
                    {
                        Ok(call) => {
                            echo_output(&entry.name, &call.logs, &call.stderr);
                            report.findings.extend(
                                call.value
                                    .into_iter()
                                    .map(|f| from_plugin(&entry.name, f, Some(source))),
                            )
                        }
                        Err(e) => {
                            report.failure = Some(format!(
                                "validator {} could not check {}: {e}",
                                entry.name,
                                source.id()
                            ));
                            break;
                        }
                    }
                }
                report
            })
            .await
            .unwrap_or_else(|e| Report {
                source: name.clone(),
                findings: Vec::new(),
                failure: Some(format!("validator {name} could not run: {e}")),
            });
            reports.push(report);
        }
        reports
    }

    /// `check-database` of every validator, each on a read-only transaction of `driver`
    /// that is rolled back afterwards.
    pub async fn check_database(&self, driver: &mut dyn Session) -> Vec<Report> {
        let mut reports = Vec::new();
        for entry in &self.entries {
            let name = entry.name.clone();
            let failed = |message: String| Report {
                source: name.clone(),
                findings: Vec::new(),
                failure: Some(message),
            };
            let scope: Arc<dyn godwit_db::Scope> = entry.capabilities.clone();
            let prepare = session::Confinement::new(Arc::clone(&scope));
            if let Err(e) = prepare.prepare(driver).await {
                reports.push(failed(format!(
                    "validator {name} could not check the database: {e}"
                )));
                continue;
            }
            if let Err(e) = driver.begin_read_only().await {
                reports.push(failed(format!(
                    "validator {name} could not check the database: cannot open a read-only transaction: {}",
                    godwit_db::describe_db_error(&e)
                )));
                continue;
            }
            let (bridge, requests) =
                session::bridge(Arc::clone(&entry.capabilities), self.dialect, true);
            let context = entry.context(&self.overrides(entry), Some(Box::new(bridge)));
            let runtime = Arc::clone(&self.runtime);
            let call_entry = Arc::clone(entry);
            // The validator's queries get what is left of its time limit, enforced by the
            // database, so that none outlives the call, even if godwit is killed.
            let mut confinement = session::Confinement::new(scope)
                .capped(&entry.limits)
                .until(Instant::now() + entry.limits.timeout);
            let call = tokio::task::spawn_blocking(move || {
                runtime.check_database(&call_entry.plugin, &call_entry.limits, context)
            });
            let deadline = entry.limits.host_deadline();
            let outcome = tokio::time::timeout(
                deadline,
                session::serve(driver, &mut confinement, requests, call),
            )
            .await;
            if outcome.is_err() {
                // The host gave up on the call, perhaps while a query of the validator runs
                // on the server: end it, or the rollback would wait behind it.
                if let Err(e) = session::abandon(driver).await {
                    confinement.notes.push(format!(
                        "cannot cancel the validator's query: {}",
                        godwit_db::describe_db_error(&e)
                    ));
                }
            }
            // Nothing was written (the transaction is read-only); rolling back ends it.
            let _ = driver.rollback().await;
            for note in &confinement.notes {
                eprintln!("    [{name}] database: {note}");
            }
            reports.push(match outcome {
                _ if confinement.escaped.is_some() => failed(format!(
                    "validator {name} could not check the database: a statement escaped its database confinement ({})",
                    confinement.escaped.as_deref().unwrap_or_default()
                )),
                _ if confinement.too_large.is_some() => failed(format!(
                    "validator {name} could not check the database: {}",
                    confinement.stopped_result(&name).unwrap_or_default()
                )),
                Err(_) => failed(format!(
                    "validator {name} could not check the database: it did not return within {} (its time limit plus a grace period)",
                    humantime::format_duration(deadline)
                )),
                Ok(outcome) => match outcome {
                Ok(Ok(call)) => {
                    echo_output(&name, &call.logs, &call.stderr);
                    Report {
                        source: name.clone(),
                        findings: call
                            .value
                            .into_iter()
                            .map(|f| from_plugin(&name, f, None))
                            .collect(),
                        failure: None,
                    }
                }
                Ok(Err(e)) => failed(format!(
                    "validator {name} could not check the database: {e}"
                )),
                Err(e) => failed(format!("validator {name} could not run: {e}")),
                },
            });
        }
        reports
    }

    /// The deploy gate: every validator on every pending migration (`files`), then on the
    /// database as it is now (`database`). Findings go to the run's observers (and so to
    /// notifiers) as [`Event::FindingsReported`]; any error finding, or a validator that
    /// could not give an answer, blocks the deploy with everything it found in the message.
    pub(crate) async fn before_deploy(
        &self,
        driver: &mut dyn Driver,
        events: &mut Events,
        pending: &[&Migration],
        files: bool,
        database: bool,
    ) -> Result<(), Error> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut reports: Vec<Report> = self
            .entries
            .iter()
            .map(|e| Report {
                source: e.name.clone(),
                findings: Vec::new(),
                failure: None,
            })
            .collect();
        let mut merge = |more: Vec<Report>| {
            for (report, more) in reports.iter_mut().zip(more) {
                report.findings.extend(more.findings);
                if report.failure.is_none() {
                    report.failure = more.failure;
                }
            }
        };
        if files {
            merge(self.check_migrations(pending).await);
        }
        if database {
            merge(self.check_database(driver).await);
        }
        let mut blocked = Vec::new();
        let mut blockers: Vec<String> = Vec::new();
        for report in reports {
            if report.findings.is_empty() && report.failure.is_none() {
                continue;
            }
            let blocking = report.blocking();
            let source = report.source.clone();
            let findings = report.into_findings();
            if blocking {
                blockers.push(source.clone());
                blocked.extend(
                    findings
                        .iter()
                        .filter(|f| f.severity == Severity::Error)
                        .map(|f| {
                            let place = f
                                .location
                                .migration
                                .as_deref()
                                .map(|m| format!(" ({m})"))
                                .unwrap_or_default();
                            format!("  {source}: [{}]{place} {}", f.rule, f.message)
                        }),
                );
            }
            events.emit(Event::FindingsReported {
                source,
                findings,
                blocking,
            });
        }
        if blocked.is_empty() {
            Ok(())
        } else {
            Err(Error::blocked(
                Refusal::Validation,
                format!(
                    "deploy blocked by validator{} {}; nothing was applied\n{}\n  fix the migrations (or the database), or change the rule in godwit.toml's [plugins.NAME.config]",
                    if blockers.len() == 1 { "" } else { "s" },
                    blockers.join(", "),
                    blocked.join("\n")
                ),
            ))
        }
    }
}

/// A migration as validators see it: version, name and the SQL of both directions.
/// What a validator logged or printed, on stderr under its name, as a step's plugin
/// output is shown; stdout stays the report's (lint --json, SARIF).
fn echo_output(plugin: &str, logs: &[godwit_plugin::LogLine], stderr: &str) {
    for line in logs {
        eprintln!("    [{plugin}] {}: {}", line.level, line.message);
    }
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        eprintln!("    [{plugin}] stderr: {line}");
    }
}

pub fn to_plugin_migration(m: &Migration) -> types::Migration {
    types::Migration {
        version: m.version.to_string(),
        name: m.name.clone(),
        up_sql: m.up.text.clone(),
        down_sql: m.down.as_ref().map(|d| d.text.clone()),
    }
}

/// A plugin's finding as godwit reports it. About a migration, it points at the
/// migration's file (the down script when the plugin's location names it), at the line
/// the location ends with (`...up.sql:12`); about the database, the location text is kept
/// where a migration's name would go.
pub fn from_plugin(source: &str, f: types::Finding, migration: Option<&Migration>) -> Finding {
    use godwit_plugin::sanitize;
    let f = types::Finding {
        rule: sanitize(&f.rule),
        message: sanitize(&f.message),
        location: f.location.as_deref().map(sanitize),
        help: f.help.as_deref().map(sanitize),
        ..f
    };
    let line = f
        .location
        .as_deref()
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, n)| n.trim().parse::<usize>().ok());
    let location = match migration {
        Some(m) => {
            let down = f
                .location
                .as_deref()
                .is_some_and(|l| l.contains(".down.") || l.contains("down.sql"));
            let script = match (&m.down, down) {
                (Some(d), true) => d,
                _ => &m.up,
            };
            Location {
                migration: Some(m.id()),
                file: Some(script.path.clone()),
                line,
                statement: None,
            }
        }
        None => Location {
            migration: f.location.clone(),
            ..Location::default()
        },
    };
    Finding {
        code: f.rule.clone(),
        rule: f.rule,
        severity: match f.severity {
            types::Severity::Info => Severity::Info,
            types::Severity::Warning => Severity::Warning,
            types::Severity::Error => Severity::Error,
        },
        message: f.message,
        location,
        help: f.help,
        doc: None,
        source: source.to_owned(),
    }
}

/// The configuration `lint` runs validators with: godwit.toml as read, and no database
/// (`lint` never connects; the target is only there to name the dialect).
pub fn files_only_config(
    dir: &std::path::Path,
    file: crate::config::FileConfig,
    dialect: Dialect,
) -> Result<Config, Error> {
    let project_dir = std::fs::canonicalize(dir).map_err(|e| {
        Error::Config(format!(
            "project directory {} cannot be used (given with -C): {e}",
            dir.display()
        ))
    })?;
    let migrations_dir = file.migrations_dir(&project_dir);
    Ok(Config {
        target: crate::config::Target {
            url: String::new(),
            display: format!("(no database: lint checks for {dialect})"),
            dialect,
            origin: "lint".into(),
            schema: None,
        },
        connect_timeout: std::time::Duration::from_secs(10),
        wait: None,
        lock_wait: std::time::Duration::from_secs(60),
        lock_retries: 0,
        lock_mode: Default::default(),
        project_dir,
        migrations_dir,
        file,
        detected: Default::default(),
    })
}
