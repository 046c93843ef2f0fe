//! The run algorithm: lock, ensure the history table, read and check the sources,
//! apply (or revert) in order, record, unlock. Read `deploy` top to bottom.
//!
//! Two ways to apply a script:
//! - **In one transaction** (PostgreSQL and SQLite by default): the history row is written
//!   inside the migration's own transaction, so a crash at any instant leaves either all
//!   of it, recorded, or none of it.
//! - **Statement by statement** (MySQL, whose DDL commits implicitly, and files marked
//!   `-- godwit:no-transaction`): a `running` row counts the statements applied. A DML
//!   statement commits together with its counter; before any other statement the row is
//!   marked "in doubt", so after a crash the next deploy either resumes exactly where the
//!   dead one stopped, or says precisely which statement needs a human to check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::adopt;
use crate::backup::{self, copy};
use crate::config::{BackupPolicy, Config};
use crate::error::{BackupWhy, Error, Refusal};
use crate::event::{DataCopy, Done, Event, Events};
use crate::plugin::registry::Registry;
use crate::step::{StepRunner, WorkReport};
use crate::text::one_line;
use godwit_core::Dialect;
use godwit_core::analyze::resume::{changes_data_only, rerunnable};
use godwit_core::history::{self, Entry, HistoryRow, Operation, RowState, Status};
use godwit_core::source::{self, Migration, Script, TransactionControl, Version};
use godwit_core::split::Statement;
use godwit_db::{
    self as driver, Driver, SqlError, Timeouts, TransactionError, new_row, now_rfc3339,
};
use godwit_db::{DbError, describe_db_error};

#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub to: Option<Version>,
    pub allow_out_of_order: bool,
    /// If a migration fails, restore the backup taken before the run (one is taken
    /// whatever the backup policy says).
    pub restore_on_failure: bool,
    /// Deploy although another tool's history table says it migrated this database and
    /// godwit's history is empty (normally refused: `godwit adopt` first).
    pub ignore_other_history: bool,
    /// `--workers N`: how many connections run each backfill's batches, instead of its
    /// step.toml's `[batch] workers`.
    pub workers: Option<u32>,
}

#[derive(Clone, Debug)]
pub enum DownTarget {
    Steps(usize),
    To(Version),
}

/// What a deploy or down did, including when it stopped on a failure: the migrations
/// before the failure stay applied and are listed here.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    pub applied: Vec<Done>,
    pub up_to_date: bool,
    pub duration_ms: u64,
    pub failure: Option<String>,
    /// The ID of the backup deploy took before applying anything, if it took one.
    pub backup: Option<String>,
    /// Data the run copied before dropping it, put back, or kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<DataCopy>,
    /// `down`: migrations whose down script is empty although their up changes something,
    /// so reverting them changed nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub empty_downs: Vec<String>,
    /// Why `godwit down` cannot put back what this run copied: the folder's tool keeps
    /// no down scripts (Prisma, Drizzle Kit), in its layout's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies_without_down: Option<String>,
}

pub struct Migrator {
    config: Config,
    pub(crate) driver: Box<dyn Driver>,
    /// Who hears the run's events, and what the run's report takes from them.
    events: Events,
    /// Events about work inside a migration, told only once that work is committed.
    deferred: Vec<Event>,
    /// The table rebuilds of the migration being deployed (by version), worked out at its
    /// first DROP TABLE and kept for the rest of its statements.
    rebuilds: Option<(Version, Vec<godwit_core::rebuild::Rebuild>)>,
    /// Validator plugins deploy runs before it changes anything.
    validators: Option<crate::validate::Validators>,
    /// What RunStarted and RunFinished call the run: `deploy`, `down`, `reset`.
    operation: &'static str,
    /// Reset checked the files with the validators before dropping everything.
    files_validated: bool,
    /// Where this run copies the data it drops, and puts it back from.
    copies: Option<copy::Copier>,
    /// Other tools' histories a deploy was told to ignore (`--ignore-other-history`):
    /// the likelier cause when its first migrations fail.
    other_histories: Vec<adopt::OtherHistory>,
    /// The migrations as the command line read them before connecting (see
    /// [`Migrator::use_sources`]); `None`: read the files each time.
    sources: Option<Vec<Migration>>,
    /// `--workers N` of the running deploy, over each step's `[batch] workers`.
    pub(crate) workers: Option<u32>,
}

impl Migrator {
    /// Connects (retrying for `--wait`); nothing is locked or written yet.
    pub async fn connect(config: &Config) -> Result<Migrator, Error> {
        let driver = driver::connect(&config.connect_settings()).await?;
        Ok(Migrator {
            config: config.clone(),
            driver,
            events: Events::new(),
            deferred: Vec::new(),
            rebuilds: None,
            validators: None,
            operation: "deploy",
            files_validated: false,
            copies: None,
            other_histories: Vec::new(),
            sources: None,
            workers: None,
        })
    }

    /// Uses these migrations, read from the project with [`source::read`] just before,
    /// instead of reading and checksumming every file again under the lock: one command
    /// of the command line reads its files once (issue 12).
    pub fn use_sources(&mut self, migrations: Vec<Migration>) {
        self.sources = Some(migrations);
    }

    /// Receives every [`Event`] as it happens.
    pub fn observe(&mut self, observer: impl FnMut(&Event) + Send + 'static) {
        self.events.observe(observer);
    }

    /// Runs these validator plugins on every deploy, after the plan is known and before
    /// any backup or migration: an error finding (or a validator that fails) blocks it.
    pub fn validate_with(&mut self, validators: crate::validate::Validators) {
        self.validators = Some(validators);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The connection, for read-only work such as `plan` counts and introspection.
    pub fn driver(&mut self) -> &mut dyn Driver {
        self.driver.as_mut()
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.emit(event);
    }

    /// The parts of this migrator that run a plugin step, borrowed for it.
    pub(crate) fn steps(&mut self) -> StepRunner<'_> {
        StepRunner {
            driver: self.driver.as_mut(),
            config: &self.config,
            events: &mut self.events,
            workers: self.workers,
        }
    }

    /// `godwit work`: joins the step a `godwit deploy` runs with workers, from another
    /// process or machine, and takes its batches on `count` connections until none is
    /// left. Waits up to `wait` for such a step to appear. Refuses when this project's
    /// migration or plugin differs from the ones the deploying process recorded. The
    /// deploying process keeps the history row and the lock; this one only takes batches.
    pub async fn work(&mut self, count: u32, wait: Option<Duration>) -> Result<WorkReport, Error> {
        let migrations = self.read_sources()?;
        self.steps().work(count, wait, &migrations).await
    }

    /// How many migrations the last run applied (or reverted), also when it failed.
    pub fn run_applied(&self) -> usize {
        self.events.applied()
    }

    /// Reads history without taking the lock (`status` must work while a deploy runs)
    /// and without writing: a database godwit never touched simply has no history.
    pub async fn history(&mut self) -> Result<Vec<HistoryRow>, Error> {
        Ok(self.driver.history().await?)
    }

    /// The project's migrations, read in the layout godwit.toml names (or the detected one).
    pub fn read_sources(&self) -> Result<Vec<Migration>, Error> {
        if let Some(migrations) = &self.sources {
            return Ok(migrations.clone());
        }
        Ok(source::read(
            &self.config.migrations_dir,
            &self.config.layout(),
            self.config.target.dialect,
        )?)
    }

    /// Of `migrations` (the project's, as [`Migrator::read_sources`] reads them) and the
    /// history `rows`, the ones the next deploy would apply, in order.
    pub fn pending(migrations: &[Migration], rows: &[HistoryRow]) -> Vec<Migration> {
        history::entries(migrations, rows)
            .into_iter()
            .filter(|e| e.status.is_pending() || e.status == Status::OutOfOrder)
            .filter_map(|e| e.migration.cloned())
            .collect()
    }

    /// Why `deploy` would refuse before applying anything (another tool's history not
    /// adopted, a failed migration awaiting `resolve`, a modified or missing file, …), in
    /// deploy's own words, from the history `rows`; `None` when it would go ahead. Reads
    /// only: what `plan` shows.
    pub async fn deploy_refusal(
        &mut self,
        migrations: &[Migration],
        mut rows: Vec<HistoryRow>,
    ) -> Result<Option<String>, Error> {
        let others = self.unadopted_histories().await?;
        if !others.is_empty() {
            return Ok(Some(Error::OtherToolHistory(others).to_string()));
        }
        Ok(self
            .checked_entries(migrations, &mut rows, false)
            .err()
            .map(|e| e.to_string()))
    }

    /// The history as deploy goes by it, once it has passed deploy's checks: doubts that
    /// settle themselves settled, then every problem that stops a deploy before it
    /// starts, all at once. Out-of-order migrations pass with `allow_out_of_order` or
    /// godwit.toml's setting.
    fn checked_entries<'a>(
        &self,
        migrations: &'a [Migration],
        rows: &'a mut [HistoryRow],
        allow_out_of_order: bool,
    ) -> Result<Vec<Entry<'a>>, Error> {
        self.settle_rerunnable_doubts(migrations, rows)?;
        let entries = history::entries(migrations, rows);
        check_blockers(
            &entries,
            allow_out_of_order || self.config.file.allow_out_of_order.unwrap_or(false),
        )?;
        Ok(entries)
    }

    /// Other tools' history tables holding rows, when godwit's own history is empty: the
    /// database was migrated by another tool and not adopted yet. Reads only.
    pub async fn unadopted_histories(&mut self) -> Result<Vec<adopt::OtherHistory>, Error> {
        adopt::unadopted_histories(self.driver.as_mut(), self.config.target.dialect).await
    }

    /// `godwit adopt`: records what `tool` (detected when `None`) applied as applied in
    /// godwit's history. Its table is read first; the rows are written under the lock.
    pub async fn adopt(&mut self, tool: Option<adopt::Tool>) -> Result<adopt::AdoptReport, Error> {
        let dialect = self.config.target.dialect;
        let adoption = adopt::Adoption::read(self.driver.as_mut(), dialect, tool).await?;
        let migrations = self.read_sources()?;
        self.locked(async |m: &mut Migrator| adoption.record(m.driver.as_mut(), &migrations).await)
            .await
    }

    /// Runs `body` holding the migration lock, and always lets go of it.
    pub(crate) async fn locked<T>(
        &mut self,
        body: impl AsyncFnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.lock().await?;
        let result = body(self).await;
        let unlocked = self.driver.unlock().await;
        match (result, unlocked) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }

    async fn lock(&mut self) -> Result<(), Error> {
        let start = Instant::now();
        let mut announced = false;
        loop {
            match self.driver.try_lock().await? {
                None => {
                    if announced {
                        self.emit(Event::LockAcquired {
                            waited_ms: start.elapsed().as_millis() as u64,
                        });
                    }
                    return Ok(());
                }
                Some(holder) => {
                    let waited = start.elapsed();
                    if waited >= self.config.lock_wait {
                        return Err(Error::LockTimeout {
                            waited: self.config.lock_wait,
                            holder,
                        });
                    }
                    if !announced {
                        self.emit(Event::LockWaiting { holder });
                        announced = true;
                    }
                    let left = self.config.lock_wait - waited;
                    tokio::time::sleep(left.min(Duration::from_millis(200))).await;
                }
            }
        }
    }

    /// Applies every pending migration (up to `--to`), in version order.
    pub async fn deploy(&mut self, options: &DeployOptions) -> Result<RunReport, Error> {
        self.operation = "deploy";
        self.workers = options.workers;
        self.locked(async |m| m.deploy_locked(options).await).await
    }

    /// Tells RunFinished once the run that `RunStarted` announced has ended, either way.
    fn finish_run(&mut self, started: Instant, result: &Result<RunReport, Error>) {
        // The failed migration when one failed, else what stopped the run (a validator,
        // a backup that could not be taken), in its first line.
        let failed = result.as_ref().err().map(|err| {
            self.events.failed().map(str::to_owned).unwrap_or_else(|| {
                let message = crate::config::redact(&err.to_string());
                message.lines().next().unwrap_or_default().to_owned()
            })
        });
        let applied = match result {
            Ok(report) => report.applied.len(),
            Err(_) => self.events.applied(),
        };
        self.emit(Event::RunFinished {
            operation: self.operation.to_owned(),
            applied,
            failed,
            duration_ms: started.elapsed().as_millis() as u64,
        });
    }

    async fn deploy_locked(&mut self, options: &DeployOptions) -> Result<RunReport, Error> {
        let started = Instant::now();
        let others = self.unadopted_histories().await?;
        if !others.is_empty() && !options.ignore_other_history {
            return Err(Error::OtherToolHistory(others));
        }
        self.other_histories = others;
        self.driver.ensure_history_table().await?;
        let migrations = self.read_sources()?;
        let mut rows = self.driver.history().await?;
        // Rows with a higher id are this run's: a restore must write them back.
        let last_row = rows.iter().map(|r| r.id).max().unwrap_or(0);
        let entries = self.checked_entries(&migrations, &mut rows, options.allow_out_of_order)?;

        // Decide the whole plan, and split every file, before touching anything.
        let mut plan: Vec<(&Migration, Option<HistoryRow>, Vec<Statement>)> = Vec::new();
        for entry in &entries {
            let Some(migration) = entry.migration else {
                continue;
            };
            if options
                .to
                .as_ref()
                .is_some_and(|to| &migration.version > to)
            {
                break;
            }
            let resume = match entry.status {
                Status::Pending | Status::RolledBack | Status::OutOfOrder => None,
                Status::Resumable | Status::Running => entry.row.cloned(),
                _ => continue,
            };
            let statements = migration.up.statements(self.driver.dialect())?;
            plan.push((migration, resume, statements));
        }
        if let Some(to) = &options.to {
            require_version(&migrations, to)?;
        }

        // Load (pin-check, compile, grant) every plugin the plan needs before anything is
        // applied: a plugin that cannot run must not leave half a deploy behind.
        let steps: Vec<&str> = plan
            .iter()
            .filter_map(|(m, _, _)| m.step.as_ref().map(|s| s.plugin.as_str()))
            .collect();
        let plugins = Registry::load(&self.config, &steps).map_err(|e| {
            let needed: Vec<String> = plan
                .iter()
                .filter(|(m, _, _)| m.step.is_some())
                .map(|(m, _, _)| m.id())
                .collect();
            let note = format!(
                "\n  nothing was applied; the plugin steps pending: {}",
                needed.join(", ")
            );
            match e {
                Error::Blocked { .. } | Error::Config(_) => e.with_note(&note),
                other => other,
            }
        })?;

        let database = self.config.target.display.clone();
        self.emit(Event::RunStarted {
            operation: self.operation.to_owned(),
            pending: plan.len(),
            database,
        });
        let result = self
            .deploy_started(options, &entries, plan, &plugins, last_row, started)
            .await;
        self.finish_run(started, &result);
        result
    }

    /// The part of a deploy that RunStarted and RunFinished bracket: validators, backup,
    /// then each migration.
    async fn deploy_started(
        &mut self,
        options: &DeployOptions,
        entries: &[Entry<'_>],
        plan: Vec<(&Migration, Option<HistoryRow>, Vec<Statement>)>,
        plugins: &Registry,
        last_row: i64,
        started: Instant,
    ) -> Result<RunReport, Error> {
        self.prepare_plugin_roles(plugins).await?;
        if let Some(validators) = self.validators.take() {
            let pending: Vec<&Migration> = plan.iter().map(|(m, _, _)| *m).collect();
            let files = !std::mem::take(&mut self.files_validated);
            let outcome = validators
                .before_deploy(
                    self.driver.as_mut(),
                    &mut self.events,
                    &pending,
                    files,
                    true,
                )
                .await;
            self.validators = Some(validators);
            outcome?;
        }
        let applied = in_effect(entries);
        let backup = self
            .backup_before_deploy(&plan, applied, options.restore_on_failure)
            .await?;
        self.copies = if self.config.file.backup.policy == BackupPolicy::Never {
            None
        } else {
            let steps: Vec<(String, usize, &[Statement])> = plan
                .iter()
                .map(|(m, resume, statements)| {
                    let from = resume.as_ref().map_or(0, |r| r.statements_applied as usize);
                    (m.version.to_string(), from, statements.as_slice())
                })
                .collect();
            copy::Copier::for_deploy(self.driver.as_mut(), &steps)
                .await
                .map_err(|e| Error::db("cannot look up what the run's drops would destroy", &e))?
        };
        let mut report = RunReport {
            up_to_date: plan.is_empty(),
            backup: backup.as_ref().map(|b| b.id.clone()),
            ..Default::default()
        };
        let without_down: BTreeMap<String, &'static str> = plan
            .iter()
            .filter_map(|(m, _, _)| match m.down_place {
                source::DownPlace::Nowhere { reason } => Some((m.version.to_string(), reason)),
                _ => None,
            })
            .collect();
        for (migration, resume, statements) in plan {
            let outcome = match &migration.step {
                Some(step) => {
                    self.steps()
                        .run_step(migration, step, resume, plugins)
                        .await
                }
                None => {
                    self.run_script(
                        migration,
                        &migration.up,
                        &statements,
                        Operation::Deploy,
                        resume,
                    )
                    .await
                }
            };
            match outcome {
                Ok(done) => report.applied.push(done),
                Err(err) => {
                    let err = match (&backup, err) {
                        // Without the lock another deployer may be at work: restoring
                        // now would undo its migrations too.
                        (Some(meta), err)
                            if options.restore_on_failure
                                && matches!(err.unnoted(), Error::Db(DbError::LockLost(_))) =>
                        {
                            err.with_note(&format!(
                                "\n\n--restore-on-failure: backup {} was NOT restored, because the migration lock was lost; \
                                 once no deploy is running, `godwit restore {}` puts the database back as it was before this deploy",
                                meta.id, meta.id
                            ))
                        }
                        (Some(meta), err) if options.restore_on_failure => {
                            let (err, restored) =
                                self.restore_after_failure(meta, last_row, err).await;
                            if restored {
                                // The note says which; the restore undid them.
                                let err = with_report(err, &report, Operation::Restore);
                                report.failure = Some(err.to_string());
                                report.duration_ms = started.elapsed().as_millis() as u64;
                                self.copies = None;
                                return Err(err);
                            }
                            err
                        }
                        (_, err) => err,
                    };
                    let err = with_report(err, &report, Operation::Deploy);
                    report.failure = Some(err.to_string());
                    report.duration_ms = started.elapsed().as_millis() as u64;
                    self.copies = None;
                    return Err(err);
                }
            }
        }
        self.copies = None;
        report.copies = self.events.take_copies();
        report.copies_without_down = report.copies.iter().find_map(|c| {
            matches!(c.outcome, copy::CopyOutcome::Copied { .. })
                .then(|| without_down.get(&c.version))
                .flatten()
                .map(|reason| reason.to_string())
        });
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Makes the database ready to confine every pending step's plugin (PostgreSQL: its
    /// role exists, holds no more than it should, and godwit may enter it and grant it
    /// the grants' privileges) before anything is applied: a role godwit may not create
    /// stops the deploy here, with the SQL an administrator would run, not after the
    /// migrations before the step. Each step prepares its role again before its first
    /// batch, for the tables the migrations before it created.
    async fn prepare_plugin_roles(&mut self, plugins: &Registry) -> Result<(), Error> {
        for entry in plugins.entries() {
            let scope: std::sync::Arc<dyn driver::Scope> = entry.capabilities.clone();
            crate::plugin::session::Confinement::new(scope)
                .prepare(self.driver.as_mut())
                .await?;
        }
        Ok(())
    }

    /// Takes the backup the policy asks for (or `--restore-on-failure` needs) before
    /// anything is applied. A backup that cannot be made stops the deploy.
    async fn backup_before_deploy(
        &mut self,
        plan: &[(&Migration, Option<HistoryRow>, Vec<Statement>)],
        applied: Vec<String>,
        restore_on_failure: bool,
    ) -> Result<Option<backup::Meta>, Error> {
        let runs: Vec<(String, &[Statement])> = plan
            .iter()
            .map(|(m, resume, statements)| {
                let from = resume.as_ref().map_or(0, |r| r.statements_applied as usize);
                (m.id(), statements.get(from..).unwrap_or_default())
            })
            .collect();
        self.backup_before(Operation::Deploy, &runs, applied, restore_on_failure)
            .await
    }

    /// The whole-database backup `[backup] policy` asks for before `operation` runs these
    /// statements (each migration's id and what of it will run), or `None`.
    async fn backup_before(
        &mut self,
        operation: Operation,
        runs: &[(String, &[Statement])],
        applied: Vec<String>,
        restore_on_failure: bool,
    ) -> Result<Option<backup::Meta>, Error> {
        if runs.is_empty() {
            return Ok(None);
        }
        let verb = operation.as_str();
        let ids = |ids: Vec<String>| match ids.len() {
            0..=3 => ids.join(", "),
            n => format!("{} … {} ({n} migrations)", ids[0], ids[n - 1]),
        };
        let all = ids(runs.iter().map(|(id, _)| id.clone()).collect());
        // A backup taken now holds only data that exists now: a drop of a table the run
        // itself creates (or a `DROP TABLE IF EXISTS` on a fresh database) needs none.
        // A down drops what its up created, so there the question is whether the table
        // holds rows: reverting what was never used needs no backup.
        let dialect = self.driver.dialect();
        let mut destructive: Vec<String> = Vec::new();
        let mut has_tables = None;
        // A table renamed earlier in the run is dropped under its new name (keto's SQLite
        // rebuild down: RENAME TO x_old, then DROP TABLE x_old): its rows are the old one's.
        let mut renamed: Vec<(backup::Name, backup::Name)> = Vec::new();
        for (id, statements) in runs {
            let mut destroys = false;
            for statement in statements.iter() {
                if let Some((from, to)) = backup::renames(&statement.sql, dialect) {
                    let live = renamed
                        .iter()
                        .rev()
                        .find(|(new, _)| new.same_as(&from))
                        .map_or(from, |(_, live)| live.clone());
                    renamed.push((to, live));
                }
                for what in backup::destroys(&statement.sql, dialect) {
                    let table = renamed
                        .iter()
                        .rev()
                        .find(|(new, _)| new.same_as(what.table()))
                        .map_or(what.table(), |(_, live)| live);
                    let loses = match operation {
                        Operation::Down => copy::table_has_rows(self.driver.as_mut(), table).await,
                        _ => copy::table_exists(self.driver.as_mut(), table).await,
                    };
                    destroys |= loses
                        .map_err(|e| Error::db(format!("cannot look up table {table}"), &e))?;
                }
            }
            // What no table can be named for (a dropped schema, dynamic SQL) counts when
            // the database holds any table of its own.
            if !destroys
                && backup::destroys_unnamed(statements.iter().map(|s| s.sql.as_str()), dialect)
                    .is_some()
            {
                if has_tables.is_none() {
                    has_tables =
                        Some(copy::has_tables(self.driver.as_mut()).await.map_err(|e| {
                            Error::db("cannot look up whether the database has tables", &e)
                        })?);
                }
                destroys = has_tables == Some(true);
            }
            if destroys {
                destructive.push(id.clone());
            }
        }
        let (reason, why) = match self.config.file.backup.policy {
            BackupPolicy::Always => (format!("before {verb} of {all}"), BackupWhy::PolicyAlways),
            BackupPolicy::Destructive if !destructive.is_empty() => {
                let destructive = ids(destructive);
                (
                    format!("before {verb} of {all}; destructive: {destructive}"),
                    BackupWhy::Destructive(destructive),
                )
            }
            _ if restore_on_failure => (
                format!("--restore-on-failure, before {verb} of {all}"),
                BackupWhy::RestoreOnFailure,
            ),
            _ => return Ok(None),
        };
        let meta = backup::take(&self.config, self.driver.as_mut(), &reason, applied)
            .await
            .map_err(|source| Error::RunBackup {
                operation,
                why,
                source: Box::new(source),
            })?;
        self.emit(Event::BackupTaken {
            id: meta.id.clone(),
            size: meta.size,
            path: backup::dir(&self.config)
                .join(&meta.file)
                .display()
                .to_string(),
            reason,
        });
        Ok(Some(meta))
    }

    /// `--restore-on-failure`: puts the database back as it was before the deploy. The
    /// restore also puts back the history table of that moment, which knows nothing of
    /// this run; so the run's rows are written again, each migration it touched followed
    /// by a `restore` row saying it was undone. The migration is then "rolled back":
    /// nothing of it is in effect, and the next deploy applies it from the start.
    async fn restore_after_failure(
        &mut self,
        meta: &backup::Meta,
        last_row: i64,
        err: Error,
    ) -> (Error, bool) {
        let add = |err: Error, note: String| err.with_note(&note);
        let id = &meta.id;
        let written: Vec<HistoryRow> = match self.driver.history().await {
            Ok(rows) => rows.into_iter().filter(|r| r.id > last_row).collect(),
            Err(e) => {
                return (
                    add(
                        err,
                        format!(
                            "\n\n--restore-on-failure: backup {id} was NOT restored, because the history could not be read first: {e}"
                        ),
                    ),
                    false,
                );
            }
        };
        if let Err(e) = backup::restore(&self.config, self.driver.as_mut(), meta).await {
            return (
                add(
                    err,
                    format!(
                        "\n\n--restore-on-failure: restoring backup {id} failed too: {e}\n  the database may be partly restored; run `godwit restore {id}` once the cause is fixed"
                    ),
                ),
                false,
            );
        }
        self.emit(Event::Restored {
            id: id.clone(),
            created_at: meta.created_at.clone(),
        });
        // The restore put back the data this run's copies hold; keeping them would only
        // leave a second copy to prune.
        if let Some(copies) = self.copies.as_mut() {
            let why = format!("backup {id} was restored after the deploy failed");
            let _ = copies.forget_run(self.driver.as_mut(), &why).await;
        }
        let failed_row = written
            .iter()
            .rev()
            .find(|r| r.state != RowState::Applied.as_str());
        let failed = failed_row
            .map(|r| format!("{}_{}", r.version, r.name))
            .unwrap_or_else(|| "a migration".into());
        self.emit(Event::RolledBack {
            version: failed_row.map(|r| r.version.clone()),
            reason: format!(
                "restored backup {id} after {failed} failed (deploy --restore-on-failure); nothing of this deploy remains in effect"
            ),
            backup_id: Some(id.clone()),
        });
        let mut undone: Vec<HistoryRow> = Vec::new();
        for row in &written {
            if let Some(last) = undone.iter_mut().find(|u| u.version == row.version) {
                *last = row.clone();
            } else {
                undone.push(row.clone());
            }
        }
        let mut rewrite = Vec::new();
        rewrite.extend(written.iter().cloned());
        for row in undone {
            let now = now_rfc3339();
            rewrite.push(HistoryRow {
                operation: Operation::Restore.as_str().into(),
                state: RowState::RolledBack.as_str().into(),
                started_at: now.clone(),
                finished_at: Some(now),
                duration_ms: Some(0),
                applied_by: driver::whoami(),
                godwit_version: godwit_core::VERSION.into(),
                statements_applied: 0,
                rows_affected: None,
                error: Some(format!(
                    "undone by restoring backup {id} after {failed} failed (deploy --restore-on-failure)"
                )),
                ..row
            });
        }
        for row in &rewrite {
            if let Err(e) = self.driver.insert_history(row).await {
                return (
                    add(
                        err.without_advice(),
                        format!(
                            "\n\n--restore-on-failure: backup {id} was restored, but writing this run back into the history failed: {}\n  \
                         the database is as it was before the deploy; `godwit status` may not show the failed attempt",
                            describe_db_error(&e)
                        ),
                    ),
                    true,
                );
            }
        }
        // What to do about the failed migration (resolve it) no longer applies: the
        // restore undid it.
        let restored = add(
            err.without_advice(),
            format!(
                "\n\n--restore-on-failure: restored backup {id} (taken just before this deploy), history table included; \
                 nothing of this deploy remains in effect and no `godwit resolve` is needed.\n  \
                 The history keeps the failed attempt, marked rolled back by the restore. Fix the cause above, then run `godwit deploy` again."
            ),
        );
        (restored, true)
    }

    /// The versions whose newest history row says applied.
    async fn applied_versions(&mut self) -> Result<Vec<String>, Error> {
        self.driver.ensure_history_table().await?;
        let rows = self.driver.history().await?;
        let mut latest: std::collections::BTreeMap<String, String> = Default::default();
        for row in rows {
            latest.insert(row.version, row.state);
        }
        Ok(latest
            .into_iter()
            .filter(|(_, state)| state == RowState::Applied.as_str())
            .map(|(v, _)| v)
            .collect())
    }

    /// The copies of dropped data that remain, without taking the lock (like `status`).
    /// Each copy whose migration has no down script in its layout says so: `down` cannot
    /// put it back. A migrations folder that cannot be read leaves the copies unmarked
    /// rather than hiding them.
    pub async fn copies(&mut self) -> Result<copy::Listing, Error> {
        let mut listing = copy::list(self.driver.as_mut())
            .await
            .map_err(|e| Error::db("cannot list the copies of dropped data", &e))?;
        if let Ok(migrations) = self.read_sources() {
            for copy in &mut listing.copies {
                copy.without_down = migrations
                    .iter()
                    .find(|m| m.version.to_string() == copy.version)
                    .and_then(|m| match m.down_place {
                        source::DownPlace::Nowhere { reason } => Some(reason.to_string()),
                        _ => None,
                    });
            }
        }
        Ok(listing)
    }

    /// Drops the copies `which` selects, holding the migration lock so that no deploy
    /// or down is making or putting back one of them meanwhile.
    pub async fn prune_copies(&mut self, which: &copy::Prune) -> Result<Vec<copy::Listed>, Error> {
        self.locked(async |m| {
            copy::prune(m.driver.as_mut(), which)
                .await
                .map_err(|e| Error::db("cannot drop the copies of dropped data", &e))
        })
        .await
    }

    /// Takes a whole-database backup now, holding the migration lock so that no deploy
    /// changes the database halfway through it.
    pub async fn backup(&mut self, reason: &str) -> Result<backup::Meta, Error> {
        self.locked(async |m| {
            let applied = m.applied_versions().await?;
            Ok(backup::take(&m.config, m.driver.as_mut(), reason, applied).await?)
        })
        .await
    }

    /// Restores backup `id`, history table included. A backup of another database is
    /// refused unless `force`: restoring production's backup into staging may be meant,
    /// the other way round never is.
    pub async fn restore(&mut self, id: &str, force: bool) -> Result<backup::Meta, Error> {
        self.locked(async |m| {
            let meta = backup::find(&backup::dir(&m.config), id)?;
            if meta.dialect != m.config.target.dialect {
                return Err(backup::BackupError::OtherDialect {
                    id: meta.id,
                    from: meta.dialect,
                    to: m.config.target.dialect,
                }
                .into());
            }
            // Before --force is offered: it cannot make one tenant's archive another's.
            backup::same_scope(&meta, &m.config)?;
            if meta.database != m.config.target.display && !force {
                return Err(backup::BackupError::OtherDatabase {
                    id: meta.id,
                    from: meta.database,
                    to: m.config.target.display.clone(),
                }
                .into());
            }
            backup::restore(&m.config, m.driver.as_mut(), &meta).await?;
            m.emit(Event::RolledBack {
                version: None,
                reason: format!(
                    "restored backup {} (taken {}, {}) with `godwit restore`",
                    meta.id, meta.created_at, meta.reason
                ),
                backup_id: Some(meta.id.clone()),
            });
            Ok(meta)
        })
        .await
    }

    /// A deployer killed during a statement that is safe to run twice (`CREATE TABLE IF NOT
    /// EXISTS`, `DROP … IF EXISTS`, `CREATE OR REPLACE`) left nothing to ask a person: the
    /// resumed deploy simply runs that statement again.
    fn settle_rerunnable_doubts(
        &self,
        migrations: &[Migration],
        rows: &mut [HistoryRow],
    ) -> Result<(), Error> {
        let mut seen = std::collections::HashSet::new();
        for row in rows.iter_mut().rev() {
            if !seen.insert(row.version.clone())
                || row.state != RowState::Running.as_str()
                || row.error.is_none()
            {
                continue;
            }
            let Some(migration) = migrations
                .iter()
                .find(|m| m.version.as_str() == row.version && m.checksum == row.checksum)
            else {
                continue;
            };
            if row.operation != Operation::Deploy.as_str() {
                continue;
            }
            let statements = migration.up.statements(self.driver.dialect())?;
            if statements
                .get(row.statements_applied as usize)
                .is_some_and(|s| rerunnable(&s.sql, self.driver.dialect()))
            {
                row.error = None;
            }
        }
        Ok(())
    }

    /// Reverts applied migrations, newest first, with their `down.sql`.
    pub async fn down(&mut self, target: &DownTarget) -> Result<RunReport, Error> {
        self.operation = "down";
        self.locked(async |m| m.down_locked(target).await).await
    }

    async fn down_locked(&mut self, target: &DownTarget) -> Result<RunReport, Error> {
        let started = Instant::now();
        self.driver.ensure_history_table().await?;
        let migrations = self.read_sources()?;
        let rows = self.driver.history().await?;
        let entries = history::entries(&migrations, &rows);
        if let Some(blocked) = entries
            .iter()
            .find(|e| matches!(e.status, Status::Failed | Status::Running))
        {
            return Err(Error::blocked(
                Refusal::History,
                format!(
                    "{} {} is {}; resolve it before reverting anything (see `godwit status`)",
                    blocked.version,
                    blocked.name,
                    blocked.status.label()
                ),
            ));
        }
        let applied: Vec<&Entry> = entries
            .iter()
            .rev()
            .filter(|e| {
                // A repeatable has no down; it is simply applied again when it changes.
                matches!(
                    e.status,
                    Status::Applied | Status::Modified | Status::Missing | Status::InBaseline
                ) && !e.version.is_repeatable()
            })
            .collect();
        let chosen: Vec<&Entry> = match target {
            DownTarget::Steps(n) => applied.into_iter().take(*n).collect(),
            DownTarget::To(v) => {
                // A version a Flyway baseline stands for has no entry, but names a
                // state all the same: the baseline's.
                if !entries.iter().any(|e| &e.version == v)
                    && !migrations.iter().any(|m| &m.version == v)
                {
                    return Err(Error::Config(format!(
                        "--to {v}: there is no migration with that version"
                    )));
                }
                applied.into_iter().take_while(|e| &e.version > v).collect()
            }
        };
        let mut plan = Vec::new();
        let mut empty_downs = Vec::new();
        for entry in chosen {
            let Some(migration) = entry.migration else {
                return Err(Error::blocked(
                    Refusal::History,
                    format!(
                        "{} {} is applied but its directory is gone, so there is no down.sql to run; restore it first",
                        entry.version, entry.name
                    ),
                ));
            };
            let Some(down) = &migration.down else {
                return Err(Error::Config(no_down_advice(migration)));
            };
            let statements = down.statements(self.driver.dialect())?;
            // An empty down script (the blank file `migrate create` and others write)
            // changes nothing. Some histories mean it (authelia widens a column and keeps
            // it wide on the way down), so the revert goes ahead, but the report says so:
            // the migration is recorded as reverted and the next deploy runs its up again.
            // An empty up (a version kept for the application's own code) is no news.
            let up_changes_something = migration.step.is_some()
                || !migration.up.statements(self.driver.dialect())?.is_empty();
            if statements.is_empty() && up_changes_something {
                empty_downs.push(migration.id());
            }
            plan.push((migration, down, statements));
        }
        if !plan.is_empty() {
            self.copies = Some(
                copy::Copier::for_down(self.driver.as_mut())
                    .await
                    .map_err(|e| Error::db("cannot find the copies of dropped data", &e))?,
            );
        }
        let database = self.config.target.display.clone();
        self.emit(Event::RunStarted {
            operation: self.operation.to_owned(),
            pending: plan.len(),
            database,
        });
        // A down.sql drops what its up created, and by now that may hold data: the same
        // policy as deploy's decides whether a whole-database backup comes first.
        let runs: Vec<(String, &[Statement])> = plan
            .iter()
            .map(|(m, _, statements)| (m.id(), statements.as_slice()))
            .collect();
        let applied_now = in_effect(&entries);
        let backup = self
            .backup_before(Operation::Down, &runs, applied_now, false)
            .await?;
        let mut report = RunReport {
            up_to_date: plan.is_empty(),
            empty_downs,
            backup: backup.map(|b| b.id),
            ..Default::default()
        };
        let mut result = Ok(());
        for (migration, down, statements) in plan {
            match self
                .run_script(migration, down, &statements, Operation::Down, None)
                .await
            {
                Ok(done) => report.applied.push(done),
                Err(err) => {
                    report.failure = Some(err.to_string());
                    let mut err = with_report(err, &report, Operation::Down);
                    // The empty down scripts reverted before the failure are news too.
                    let reverted_empty: Vec<String> = report
                        .empty_downs
                        .iter()
                        .filter(|id| {
                            report
                                .applied
                                .iter()
                                .any(|d| format!("{}_{}", d.version, d.name) == **id)
                        })
                        .cloned()
                        .collect();
                    if let Some(warning) = empty_downs_warning(&reverted_empty) {
                        err = err.with_note(&format!("\n\n{warning}"));
                    }
                    result = Err(err);
                    break;
                }
            }
        }
        self.copies = None;
        report.copies = self.events.take_copies();
        report.duration_ms = started.elapsed().as_millis() as u64;
        let result = result.map(|()| report);
        self.finish_run(started, &result);
        result
    }

    /// Applies or reverts one script and records it; on failure the history says what
    /// happened and the error says what to do next.
    async fn run_script(
        &mut self,
        migration: &Migration,
        script: &Script,
        statements: &[Statement],
        operation: Operation,
        resume: Option<HistoryRow>,
    ) -> Result<Done, Error> {
        self.driver.keep_alive().await?;
        let timeouts = Timeouts {
            lock_timeout: script
                .directives
                .lock_timeout
                .or(self.config.file.lock_timeout),
            statement_timeout: script
                .directives
                .statement_timeout
                .or(self.config.file.statement_timeout),
        };
        let resume_at = resume.as_ref().map(|r| r.statements_applied as usize);
        self.emit(Event::MigrationStarted {
            version: migration.version.to_string(),
            name: migration.name.clone(),
            kind: "sql".into(),
            statements: statements.len(),
            resume_at,
        });
        // A resumed migration goes on statement by statement from where it stopped.
        let transactional = script
            .transaction_mode(statements, self.driver.dialect())
            .is_transaction()
            && resume.is_none();
        let foreign_keys_off = script.foreign_keys_off(statements, self.driver.dialect());
        if foreign_keys_off {
            self.driver
                .execute("PRAGMA foreign_keys = OFF")
                .await
                .map_err(|e| Error::db("cannot turn SQLite's foreign keys off", &e))?;
        }
        let copies = match (self.copies.as_mut(), operation) {
            (Some(c), Operation::Deploy) => c
                .may_copy(migration.version.as_str(), statements)
                .then_some(c),
            (Some(c), Operation::Down) => Some(c),
            _ => None,
        };
        if let Some(copies) = copies {
            copies
                .enter(self.driver.as_mut(), operation == Operation::Deploy)
                .await
                .map_err(|e| Error::db("cannot open the copies of dropped data", &e))?;
        }
        let result = if transactional {
            self.run_in_transaction(migration, script, statements, operation, &timeouts)
                .await
        } else {
            self.run_statement_by_statement(
                migration, script, statements, operation, &timeouts, resume,
            )
            .await
        };
        let left = match self.copies.as_mut() {
            Some(copies) => copies.leave(self.driver.as_mut()).await,
            None => Ok(()),
        };
        let result = match (result, left) {
            (Ok(_), Err(e)) => Err(Error::db("cannot close the copies of dropped data", &e)),
            (result, _) => result,
        };
        if foreign_keys_off {
            let on = self.driver.execute("PRAGMA foreign_keys = ON").await;
            // A failure of the script itself is what the user needs to hear about.
            if let (Ok(_), Err(e)) = (&result, on) {
                return Err(Error::db("cannot turn SQLite's foreign keys back on", &e));
            }
        }
        let deferred = std::mem::take(&mut self.deferred);
        match &result {
            Ok(done) => self.emit(Event::MigrationFinished {
                version: done.version.clone(),
                name: done.name.clone(),
                kind: "sql".into(),
                operation,
                duration_ms: done.duration_ms,
                statements: done.statements,
                rows_affected: done.rows_affected,
                rows_retried: done.rows_retried,
            }),
            Err(err) => self.emit(Event::MigrationFailed {
                version: migration.version.to_string(),
                name: migration.name.clone(),
                error: err.to_string(),
            }),
        }
        // After a failure in a transaction the copies were rolled back with it; after a
        // failure outside one (MySQL) they exist, and the history row says how far it got.
        if result.is_ok() || !transactional {
            for event in deferred {
                self.emit(event);
            }
        }
        result
    }

    async fn run_in_transaction(
        &mut self,
        migration: &Migration,
        script: &Script,
        statements: &[Statement],
        operation: Operation,
        timeouts: &Timeouts,
    ) -> Result<Done, Error> {
        let success = if operation == Operation::Down {
            RowState::RolledBack
        } else {
            RowState::Applied
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let mut row = new_row(migration, operation, success, statements.len());
            let uncommitted = match self
                .transaction(migration, statements, operation, timeouts, &row, started)
                .await
            {
                Ok(rows) => {
                    return Ok(Done {
                        version: row.version,
                        name: row.name,
                        duration_ms: started.elapsed().as_millis() as u64,
                        statements: statements.len(),
                        rows_affected: rows,
                        rows_retried: 0,
                    });
                }
                Err(uncommitted) => uncommitted,
            };
            let _ = self.driver.rollback().await;
            self.deferred.clear();
            let failure = match uncommitted {
                Uncommitted::Failed(failure) => failure,
                // Not the migration's failure, and no history row for it: the lock (and
                // with it the history) may be another deployer's now.
                Uncommitted::Lock(e) => return Err(e.rolled_back(&migration.id()).into()),
            };
            if self.driver.is_lock_timeout(&failure.error) && attempt <= self.config.lock_retries {
                self.back_off(migration, attempt, &failure.error).await;
                continue;
            }
            let (message, next) = failure_message(
                migration,
                script,
                statements,
                &failure,
                Applied::RolledBack,
                Run {
                    operation,
                    dialect: self.driver.dialect(),
                    other_histories: &self.other_histories,
                },
            );
            // A down.sql rolled back changed nothing: the migration is still applied, and
            // the row says so (with the error), so that `status` shows it applied rather
            // than "failed, 0 of N statements applied" and `godwit down` can run again
            // once down.sql is fixed.
            row.state = if operation == Operation::Down {
                RowState::Applied
            } else {
                RowState::Failed
            }
            .as_str()
            .into();
            row.statements_applied = 0;
            row.finished_at = Some(now_rfc3339());
            row.duration_ms = Some(started.elapsed().as_millis() as i64);
            row.error = Some(format!("{message}{next}"));
            self.driver.insert_history(&row).await.map_err(|e| {
                Error::db(
                    format!("{message}{next}\n\nand then recording the failure failed too"),
                    &e,
                )
            })?;
            return Err(Error::failed_with_advice(
                crate::error::Failure::Statement,
                message,
                next,
            ));
        }
    }

    /// One attempt at a migration's transaction, committed together with `row` finished
    /// (statements applied, rows affected, times): the rows the statements affected.
    async fn transaction(
        &mut self,
        migration: &Migration,
        statements: &[Statement],
        operation: Operation,
        timeouts: &Timeouts,
        row: &HistoryRow,
        started: Instant,
    ) -> Result<u64, Uncommitted> {
        let finished = |rows: u64| {
            let mut row = row.clone();
            row.statements_applied = statements.len() as i64;
            row.rows_affected = Some(rows as i64);
            row.finished_at = Some(now_rfc3339());
            row.duration_ms = Some(started.elapsed().as_millis() as i64);
            row
        };
        if self.copies.is_none() {
            // Nothing to copy before a statement or put back after them: the driver runs
            // the whole transaction, history row and all (SQLite in one go).
            let sqls: Vec<&str> = statements.iter().map(|s| s.sql.as_str()).collect();
            let mut rows = 0;
            let dialect = self.driver.dialect();
            self.driver
                .apply_in_transaction(&sqls, timeouts, &mut |affected: &[u64]| {
                    rows = counted_rows(statements, affected, dialect);
                    finished(rows)
                })
                .await?;
            return Ok(rows);
        }
        let rows = self
            .transaction_body(migration, statements, operation, timeouts)
            .await
            .map_err(Uncommitted::Failed)?;
        self.driver.commit_with_history(&finished(rows)).await?;
        Ok(rows)
    }

    /// A transaction's statements when copies are kept: copying before each statement
    /// that destroys data (deploy), putting data back after them (down).
    async fn transaction_body(
        &mut self,
        migration: &Migration,
        statements: &[Statement],
        operation: Operation,
        timeouts: &Timeouts,
    ) -> Result<u64, Failure> {
        let fail = |index: Option<usize>| {
            move |error| Failure {
                index,
                error,
                context: None,
            }
        };
        self.driver.begin().await.map_err(fail(None))?;
        self.driver
            .set_timeouts(timeouts, true)
            .await
            .map_err(fail(None))?;
        let mut rows = 0;
        let dialect = self.driver.dialect();
        let counted = |statement: &Statement, n: u64| {
            if changes_data_only(&statement.sql, dialect) {
                n
            } else {
                0
            }
        };
        if operation == Operation::Deploy && self.copies.is_some() {
            for (index, statement) in statements.iter().enumerate() {
                self.copy_before(migration, operation, statements, index)
                    .await?;
                let n = self
                    .driver
                    .execute(&statement.sql)
                    .await
                    .map_err(fail(Some(index)))?;
                rows += counted(statement, n);
            }
        } else {
            // Nothing to copy between statements: the driver may send them together.
            let sqls: Vec<&str> = statements.iter().map(|s| s.sql.as_str()).collect();
            let affected = self
                .driver
                .execute_each(&sqls)
                .await
                .map_err(|(index, error)| fail(Some(index))(error))?;
            rows = counted_rows(statements, &affected, self.driver.dialect());
        }
        self.put_back_after(migration, operation, true).await?;
        Ok(rows)
    }

    /// Before a deploy's DROP TABLE / DROP COLUMN (statement `index` of `statements`):
    /// copies the data it destroys.
    async fn copy_before(
        &mut self,
        migration: &Migration,
        operation: Operation,
        statements: &[Statement],
        index: usize,
    ) -> Result<(), Failure> {
        if operation != Operation::Deploy {
            return Ok(());
        }
        let Some(copies) = self.copies.as_mut() else {
            return Ok(());
        };
        let version = migration.version.to_string();
        let destroys = copy::copied(&statements[index].sql, self.driver.dialect());
        // A table rebuilt (rows copied into a new table, the old one dropped, the new
        // one renamed) keeps its rows: copying them again would only have `down` put
        // them back on top of the rows its own rebuild copies back.
        let dialect = self.driver.dialect();
        let drops_table = destroys
            .iter()
            .any(|d| matches!(d, backup::Destroys::Table(_)));
        if drops_table
            && self
                .rebuilds
                .as_ref()
                .is_none_or(|(v, _)| *v != migration.version)
        {
            let found =
                godwit_core::rebuild::rebuilds(&godwit_core::analyze::analyze(statements, dialect));
            self.rebuilds = Some((migration.version.clone(), found));
        }
        let rebuilds: &[godwit_core::rebuild::Rebuild] = match &self.rebuilds {
            Some((_, r)) if drops_table => r,
            _ => &[],
        };
        for (k, what) in destroys.iter().enumerate() {
            let rebuilt = match what {
                backup::Destroys::Table(name) => {
                    let key =
                        godwit_core::sql::name_key(dialect, &name.table.text, name.table.quoted);
                    godwit_core::rebuild::dropping(rebuilds, &key, index)
                }
                _ => None,
            };
            let outcome = copies
                .take(self.driver.as_mut(), &version, index + 1, k + 1, what, rebuilt)
                .await
                .map_err(|error| Failure {
                    index: Some(index),
                    error,
                    context: Some(format!(
                        "copying the data this statement destroys into {} failed (set `[backup] policy = \"never\"` to drop without a copy)",
                        copy::SCHEMA
                    )),
                })?;
            if let Some(outcome) = outcome {
                self.deferred.push(Event::DataCopy {
                    version: version.clone(),
                    outcome,
                });
            }
        }
        Ok(())
    }

    /// After a down.sql: puts back data copied when the migration was deployed.
    async fn put_back_after(
        &mut self,
        migration: &Migration,
        operation: Operation,
        in_transaction: bool,
    ) -> Result<(), Failure> {
        if operation != Operation::Down {
            return Ok(());
        }
        let Some(copies) = self.copies.as_mut() else {
            return Ok(());
        };
        let version = migration.version.to_string();
        let outcomes = copies
            .put_back(self.driver.as_mut(), &version, in_transaction)
            .await
            .map_err(|error| Failure {
                index: None,
                error,
                context: Some(format!(
                    "putting back the data copied when {} was deployed failed",
                    migration.id()
                )),
            })?;
        for outcome in outcomes {
            self.deferred.push(Event::DataCopy {
                version: version.clone(),
                outcome,
            });
        }
        Ok(())
    }

    async fn run_statement_by_statement(
        &mut self,
        migration: &Migration,
        script: &Script,
        statements: &[Statement],
        operation: Operation,
        timeouts: &Timeouts,
        resume: Option<HistoryRow>,
    ) -> Result<Done, Error> {
        let started = Instant::now();
        let record = |e: SqlError| {
            Error::db(
                format!(
                    "cannot record progress of {} in the history table",
                    migration.id()
                ),
                &e,
            )
        };
        // Only limits from godwit.toml or a directive are set, so only those are put back:
        // without them the session keeps its own (the server's, or init_sql's).
        let limited = *timeouts != Timeouts::default();
        self.driver
            .set_timeouts(timeouts, false)
            .await
            .map_err(|e| Error::db("cannot set timeouts", &e))?;
        // Every write of the row also says whether the next statement is in doubt, so the
        // row is written once between two statements, not twice (see ddl_with_progress).
        let first = resume.as_ref().map_or(0, |r| r.statements_applied as usize);
        // A resumed run is a new session: the settings the file made before `first`
        // (`SET foreign_key_checks = 0`, `SET search_path`, `SET @v := …`) are made again,
        // so the statements after it run as they would have in the first session. One
        // that fails leaves the row as it was, to resume again.
        for (index, statement) in statements[..first.min(statements.len())]
            .iter()
            .enumerate()
            .filter(|(_, s)| source::sets_session(&s.sql))
        {
            if let Err(e) = self.driver.execute(&statement.sql).await {
                if limited {
                    let _ = self.driver.reset_timeouts().await;
                }
                return Err(Error::db(
                    format!(
                        "cannot resume {} at statement {}: statement {} (line {}), a session setting the statements after it \
                         were written to run under, failed when made again",
                        migration.id(),
                        first + 1,
                        index + 1,
                        statement.line
                    ),
                    &e,
                ));
            }
        }
        let opened = match resume {
            Some(mut row) => {
                row.state = RowState::Running.as_str().into();
                row.checksum = migration.checksum.clone();
                row.error = in_doubt(statements, first, self.driver.dialect());
                self.driver.update_history_open(&row).await.map(|()| row)
            }
            None => {
                let mut row = new_row(migration, operation, RowState::Running, statements.len());
                row.error = in_doubt(statements, first, self.driver.dialect());
                match self.driver.insert_history_open(&row).await {
                    Ok(id) => {
                        row.id = id;
                        Ok(row)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let mut row = match opened {
            Ok(row) => row,
            Err(e) => {
                if limited {
                    let _ = self.driver.reset_timeouts().await;
                }
                return Err(record(e));
            }
        };
        let mut progress = RowWrites {
            marked: row.error.is_some().then_some(first),
            // Putting back copies (a down) comes between the last statement and the
            // final write, so there the last statement's progress is written on its own.
            last_is_final: operation != Operation::Down || self.copies.is_none(),
            finished: false,
        };
        let mut rows_affected = row.rows_affected.unwrap_or(0) as u64;
        // A resumed migration's row keeps the count of every attempt; the run reports its own.
        let rows_before_this_run = rows_affected;
        // A transaction the script opened itself (a Prisma file's own BEGIN … COMMIT),
        // since the statement that opened it. On PostgreSQL and SQLite a failure inside it
        // leaves it to be rolled back, with the progress written in it: MySQL commits at
        // each DDL statement instead, so there the count written after each one stands.
        let transactional_ddl = self.driver.dialect() != godwit_core::Dialect::MySql;
        let mut own_transaction: Option<usize> = None;
        // The copy events made since the script's own BEGIN: a rollback takes the copies.
        let mut copies_before_begin = 0;
        for (index, statement) in statements.iter().enumerate().skip(first) {
            self.driver.keep_alive().await?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut context = None;
                let outcome = if let Err(f) = self
                    .copy_before(migration, operation, statements, index)
                    .await
                {
                    context = f.context;
                    Err(f.error)
                } else if changes_data_only(&statement.sql, self.driver.dialect()) {
                    let finish = (progress.last_is_final && index + 1 == statements.len())
                        .then_some(Finish {
                            operation,
                            started,
                            rows_before: rows_affected,
                        });
                    self.dml_with_progress(
                        &mut row,
                        index,
                        statements,
                        finish,
                        &mut progress,
                        own_transaction.is_some(),
                    )
                    .await
                } else {
                    self.ddl_with_progress(&mut row, index, statements, &mut progress)
                        .await
                        .map(|_| 0)
                };
                match outcome {
                    Ok(n) => {
                        rows_affected += n;
                        match source::transaction_control(&statement.sql) {
                            Some(TransactionControl::Begin) if transactional_ddl => {
                                own_transaction = Some(index);
                                copies_before_begin = self.deferred.len();
                            }
                            Some(TransactionControl::End) => own_transaction = None,
                            _ => {}
                        }
                        break;
                    }
                    // Retrying one statement of a transaction that failed is no retry.
                    Err(error)
                        if self.driver.is_lock_timeout(&error)
                            && attempt <= self.config.lock_retries
                            && own_transaction.is_none() =>
                    {
                        self.back_off(migration, attempt, &error).await;
                    }
                    Err(error) => {
                        let failure = Failure {
                            index: Some(index),
                            error,
                            context,
                        };
                        // The script's own transaction goes, with every statement since
                        // its BEGIN and the progress written in it; the history row is
                        // written after, outside it.
                        let applied = match own_transaction {
                            Some(begin) => {
                                let _ = self.driver.execute("ROLLBACK").await;
                                self.deferred.truncate(copies_before_begin);
                                Applied::OwnTransactionRolledBack { begin }
                            }
                            None if index == 0 => Applied::Nothing,
                            None => Applied::First(index),
                        };
                        let index = own_transaction.unwrap_or(index);
                        // A down.sql that failed before anything of it took effect leaves
                        // the migration applied, as a rolled-back one does: the row says
                        // so, and `down` can run again once the script is fixed.
                        let untouched = matches!(
                            applied,
                            Applied::Nothing | Applied::OwnTransactionRolledBack { begin: 0 }
                        );
                        let (message, next) = failure_message(
                            migration,
                            script,
                            statements,
                            &failure,
                            applied,
                            Run {
                                operation,
                                dialect: self.driver.dialect(),
                                other_histories: &self.other_histories,
                            },
                        );
                        // A failed CREATE INDEX CONCURRENTLY leaves its index behind,
                        // INVALID, and the next run would fail on the name.
                        let failed_sql = failure
                            .index
                            .and_then(|i| statements.get(i))
                            .map_or("", |s| s.sql.as_str());
                        let next = match invalid_index_left(self.driver.as_mut(), failed_sql).await
                        {
                            Some(name) => format!(
                                "\n\nPostgreSQL left the index {name} behind, marked INVALID (a failed CREATE INDEX CONCURRENTLY does): \
                                 drop it with `DROP INDEX CONCURRENTLY {name};` before the migration runs again, or that run fails on it.{next}"
                            ),
                            None => next,
                        };
                        row.state = if operation == Operation::Down && untouched {
                            RowState::Applied
                        } else {
                            RowState::Failed
                        }
                        .as_str()
                        .into();
                        row.statements_applied = index as i64;
                        row.rows_affected = Some(rows_affected as i64);
                        row.finished_at = Some(now_rfc3339());
                        row.duration_ms = Some(started.elapsed().as_millis() as i64);
                        row.error = Some(format!("{message}{next}"));
                        if limited {
                            let _ = self.driver.reset_timeouts().await;
                        }
                        self.driver.update_history(&row).await.map_err(record)?;
                        return Err(Error::failed_with_advice(
                            crate::error::Failure::Statement,
                            message,
                            next,
                        ));
                    }
                }
            }
        }
        if limited {
            let _ = self.driver.reset_timeouts().await;
        }
        if let Err(failure) = self.put_back_after(migration, operation, false).await {
            let (message, next) = failure_message(
                migration,
                script,
                statements,
                &failure,
                Applied::Everything,
                Run {
                    operation,
                    dialect: self.driver.dialect(),
                    other_histories: &self.other_histories,
                },
            );
            row.state = RowState::Failed.as_str().into();
            row.statements_applied = statements.len() as i64;
            row.finished_at = Some(now_rfc3339());
            row.duration_ms = Some(started.elapsed().as_millis() as i64);
            row.error = Some(format!("{message}{next}"));
            self.driver.update_history(&row).await.map_err(record)?;
            return Err(Error::failed_with_advice(
                crate::error::Failure::Statement,
                message,
                next,
            ));
        }
        if !progress.finished {
            finish_row(
                &mut row,
                operation,
                statements.len(),
                rows_affected,
                started,
            );
            // Left open on MySQL: the next migration's first DDL statement commits it,
            // or failing that the next other use of the connection (at the latest the
            // lock's release). Lost to a kill before that, the row still says the last
            // statement is in doubt, as after a kill between that statement and this.
            self.driver
                .update_history_open(&row)
                .await
                .map_err(record)?;
        }
        Ok(Done {
            version: row.version,
            name: row.name,
            duration_ms: started.elapsed().as_millis() as u64,
            statements: statements.len(),
            rows_affected: rows_affected.saturating_sub(rows_before_this_run),
            rows_retried: 0,
        })
    }

    /// After a lock timeout: says so, then waits 0.5 s, 1 s, 2 s, … before attempt + 1.
    async fn back_off(&mut self, migration: &Migration, attempt: u32, error: &SqlError) {
        let delay = Duration::from_millis(500 * 2u64.pow(attempt - 1));
        self.emit(Event::Retrying {
            version: migration.version.to_string(),
            attempt,
            error: describe_db_error(error),
            delay_ms: delay.as_millis() as u64,
        });
        tokio::time::sleep(delay).await;
    }

    /// A data statement and its progress counter commit together: never in doubt. The
    /// same write says whether the next statement is in doubt, and after the last
    /// statement it is the migration's final write (`finish`).
    async fn dml_with_progress(
        &mut self,
        row: &mut HistoryRow,
        index: usize,
        statements: &[Statement],
        finish: Option<Finish>,
        progress: &mut RowWrites,
        in_own_transaction: bool,
    ) -> Result<u64, SqlError> {
        let before = row.clone();
        // Inside a transaction the script opened, the statement and its count already
        // share one, which the script commits (or the failure path rolls back).
        if !in_own_transaction {
            self.driver.begin().await?;
        }
        let result = async {
            let n = self.driver.execute(&statements[index].sql).await?;
            row.statements_applied = index as i64 + 1;
            row.error = in_doubt(statements, index + 1, self.driver.dialect());
            if let Some(f) = &finish {
                finish_row(
                    row,
                    f.operation,
                    statements.len(),
                    f.rows_before + n,
                    f.started,
                );
            }
            self.driver.update_history(row).await?;
            if !in_own_transaction {
                self.driver.commit().await?;
            }
            Ok(n)
        }
        .await;
        match &result {
            Ok(_) => {
                progress.marked = row.error.is_some().then_some(index + 1);
                progress.finished = finish.is_some();
            }
            Err(_) => {
                *row = before;
                if !in_own_transaction {
                    let _ = self.driver.rollback().await;
                }
            }
        }
        result
    }

    /// DDL commits on its own, so the row says "in doubt" while it runs: if we die
    /// mid-statement the next deploy knows exactly what to ask the operator. That note
    /// rides in the write before it (the row's insert, or the previous statement's
    /// progress), so a statement costs one write of the row, not two; only the last
    /// statement's progress waits for the migration's final write.
    async fn ddl_with_progress(
        &mut self,
        row: &mut HistoryRow,
        index: usize,
        statements: &[Statement],
        progress: &mut RowWrites,
    ) -> Result<u64, SqlError> {
        // On MySQL the writes of the row are left open, and the statement's implicit
        // commit, which the server makes before it starts the statement, makes them
        // durable: one flush for the note and the statement instead of two.
        if progress.marked != Some(index) {
            row.error = in_doubt(statements, index, self.driver.dialect());
            self.driver.update_history_open(row).await?;
            progress.marked = Some(index);
        }
        let n = self.driver.execute_ddl(&statements[index].sql).await?;
        row.statements_applied = index as i64 + 1;
        row.error = in_doubt(statements, index + 1, self.driver.dialect());
        if self.driver.transactional_ddl()
            && source::transaction_control(&statements[index].sql)
                == Some(TransactionControl::Begin)
        {
            // The script opened a transaction of its own: nothing of godwit's goes first in
            // it, for what must be its first statement (`SET TRANSACTION ISOLATION LEVEL`,
            // langfuse's Prisma backfill). Written in it, the progress would go with it on
            // a failure or a kill anyway: the row as it stood before BEGIN already says
            // where to start again.
            progress.marked = Some(index + 1);
            return Ok(n);
        }
        if index + 1 < statements.len() || !progress.last_is_final {
            self.driver.update_history_open(row).await?;
            progress.marked = row.error.is_some().then_some(index + 1);
        }
        Ok(n)
    }

    /// Repairs the state of one migration after a person fixed things by hand.
    pub async fn resolve(&mut self, version: &Version, action: Resolve) -> Result<String, Error> {
        self.locked(async |m| m.resolve_locked(version, action).await)
            .await
    }

    async fn resolve_locked(
        &mut self,
        version: &Version,
        action: Resolve,
    ) -> Result<String, Error> {
        self.driver.ensure_history_table().await?;
        let migrations = self.read_sources()?;
        let rows = self.driver.history().await?;
        let entries = history::entries(&migrations, &rows);
        let entry = entries
            .iter()
            .find(|e| &e.version == version)
            .ok_or_else(|| {
                Error::Config(format!(
                    "there is no migration {version} in the files or the history"
                ))
            })?;
        let refuse = |what: &str| {
            Err(Error::blocked(
                Refusal::NotApplicable,
                format!(
                    "{version} {} is {}; `resolve {what}` is for failed or interrupted migrations{}",
                    entry.name,
                    entry.status.label(),
                    match entry.status {
                        Status::Applied => " (to revert an applied migration, run `godwit down`)",
                        Status::Pending => " (a pending migration is applied by `godwit deploy`)",
                        _ => "",
                    }
                ),
            ))
        };
        let previous = entry.row;
        let (state, applied, message) = match action {
            Resolve::Applied => match entry.status {
                Status::Failed
                | Status::Running
                | Status::Resumable
                | Status::Pending
                | Status::RolledBack
                | Status::OutOfOrder => (
                    RowState::Applied,
                    None,
                    format!("{version} {} recorded as applied", entry.name),
                ),
                Status::Modified => (
                    RowState::Applied,
                    None,
                    format!(
                        "{version} {}: the new checksum is recorded as applied",
                        entry.name
                    ),
                ),
                _ => return refuse("--applied"),
            },
            Resolve::RolledBack => match entry.status {
                Status::Failed | Status::Running | Status::Resumable | Status::Missing => (
                    RowState::RolledBack,
                    Some(0),
                    format!(
                        "{version} {} recorded as rolled back; `godwit deploy` will apply it from the start",
                        entry.name
                    ),
                ),
                // `down` cannot revert a migration without a down script, so a person
                // undid it by hand; only the newest applied one, as `down` would.
                // Likewise after its down.sql failed and was rolled back, and a person
                // then undid it by hand (verify does so on its shadow to go on).
                Status::Applied | Status::Modified
                    if entry.migration.is_some_and(|m| m.down.is_none())
                        || entry.row.is_some_and(HistoryRow::is_rolled_back_down) =>
                {
                    if let Some(newer) = entries.iter().find(|e| {
                        e.version > *version
                            && !e.version.is_repeatable()
                            && matches!(e.status, Status::Applied | Status::Modified)
                    }) {
                        return Err(Error::blocked(
                            Refusal::NotApplicable,
                            format!(
                                "{version} {} is not the newest applied migration: {} {} is applied after it; revert the newer ones first (`godwit down`)",
                                entry.name, newer.version, newer.name
                            ),
                        ));
                    }
                    (
                        RowState::RolledBack,
                        Some(0),
                        format!(
                            "{version} {} recorded as rolled back (undone by hand); `godwit deploy` will apply it again",
                            entry.name
                        ),
                    )
                }
                _ => return refuse("--rolled-back"),
            },
            Resolve::Continue => {
                let row = previous.filter(|r| {
                    r.operation == Operation::Deploy.as_str()
                        && r.statements_applied < r.statements_total
                });
                match (entry.status, row) {
                    (Status::Failed | Status::Running, Some(row))
                        if row.statements_applied > 0
                            || !self.driver.transactional_ddl()
                            || row.state == "running" =>
                    {
                        let next = row.statements_applied + 1;
                        let message = if next >= row.statements_total {
                            format!(
                                "{version} {}: the last statement was done by hand, so it is recorded as applied",
                                entry.name
                            )
                        } else {
                            format!(
                                "{version} {}: statement {} is taken as done; `godwit deploy` continues with statement {} of {}",
                                entry.name,
                                next,
                                next + 1,
                                row.statements_total
                            )
                        };
                        let state = if next >= row.statements_total {
                            RowState::Applied
                        } else {
                            RowState::Resumable
                        };
                        (state, Some(next), message)
                    }
                    (Status::Failed, _) => {
                        return Err(Error::blocked(
                            Refusal::NotApplicable,
                            format!(
                                "{version} {} ran in a transaction that was rolled back, so there is nothing to continue: \
                             fix it, then run `godwit resolve --rolled-back {version}` and `godwit deploy`",
                                entry.name
                            ),
                        ));
                    }
                    _ => return refuse("--continue"),
                }
            }
        };
        let migration = entry.migration;
        let total = migration
            .map(|m| m.up.statements(self.driver.dialect()).map(|s| s.len()))
            .transpose()?
            .or(previous.map(|r| r.statements_total as usize))
            .unwrap_or(0);
        let row = HistoryRow {
            id: 0,
            version: version.to_string(),
            name: entry.name.clone(),
            kind: "sql".into(),
            operation: Operation::Resolve.as_str().into(),
            state: state.as_str().into(),
            checksum: migration
                .map(|m| m.checksum.clone())
                .or(previous.map(|r| r.checksum.clone()))
                .unwrap_or_default(),
            started_at: now_rfc3339(),
            finished_at: Some(now_rfc3339()),
            duration_ms: Some(0),
            applied_by: driver::whoami(),
            godwit_version: godwit_core::VERSION.into(),
            plugin_digest: None,
            statements_applied: applied.unwrap_or(total as i64),
            statements_total: total as i64,
            rows_affected: previous.and_then(|r| r.rows_affected),
            error: None,
        };
        self.driver
            .insert_history(&row)
            .await
            .map_err(|e| Error::db("cannot record the resolution", &e))?;
        Ok(message)
    }

    /// Records every migration up to `version` as applied without running it, for a
    /// database whose schema already has them.
    pub async fn baseline(&mut self, version: &Version) -> Result<Vec<String>, Error> {
        self.locked(async |m| {
            m.driver.ensure_history_table().await?;
            let migrations = m.read_sources()?;
            let rows = m.driver.history().await?;
            let entries = history::entries(&migrations, &rows);
            let mut recorded = Vec::new();
            for entry in entries.iter().filter(|e| {
                &e.version <= version && matches!(e.status, Status::Pending | Status::OutOfOrder)
            }) {
                let Some(migration) = entry.migration else {
                    continue;
                };
                let mut row = new_row(migration, Operation::Baseline, RowState::Applied, 0);
                row.finished_at = Some(now_rfc3339());
                row.duration_ms = Some(0);
                m.driver
                    .insert_history(&row)
                    .await
                    .map_err(|e| Error::db("cannot record the baseline", &e))?;
                recorded.push(migration.id());
            }
            Ok(recorded)
        })
        .await
    }

    /// Drops everything in the database and applies all migrations again.
    pub async fn reset(&mut self) -> Result<(Vec<String>, RunReport), Error> {
        self.operation = "reset";
        self.locked(async |m| {
            // Read the files first: a broken file must not leave an empty database behind.
            let migrations = m.read_sources()?;
            for migration in &migrations {
                migration.up.statements(m.driver.dialect())?;
            }
            // Likewise the validators' verdict on the files; the database they would
            // check is about to be dropped, so that check waits for the empty one.
            if let Some(validators) = m.validators.take() {
                let all: Vec<&Migration> = migrations.iter().collect();
                let outcome = validators
                    .before_deploy(m.driver.as_mut(), &mut m.events, &all, true, false)
                    .await;
                m.validators = Some(validators);
                outcome?;
                m.files_validated = true;
            }
            // And whether the database can confine the steps' plugins (PostgreSQL: a role
            // godwit may not create), which the deploy after the drop would stop on.
            let steps: Vec<&str> = migrations
                .iter()
                .filter_map(|m| m.step.as_ref().map(|s| s.plugin.as_str()))
                .collect();
            let plugins = Registry::load(&m.config, &steps)?;
            for entry in plugins.entries() {
                if entry.capabilities.enforcement() != crate::config::Enforcement::CheckerOnly {
                    m.driver.check_scope(entry.capabilities.as_ref()).await?;
                }
            }
            let dropped = m.driver.drop_everything().await?;
            let report = m
                .deploy_locked(&DeployOptions {
                    to: None,
                    allow_out_of_order: true,
                    restore_on_failure: false,
                    // Everything was dropped, other tools' tables too.
                    ignore_other_history: true,
                    workers: None,
                })
                .await?;
            Ok((dropped, report))
        })
        .await
    }
}

/// What `down` says about a migration it cannot revert: where a down script would go,
/// or, for tools that keep none, how to undo it by hand and tell godwit so.
fn no_down_advice(migration: &Migration) -> String {
    let v = &migration.version;
    let by_hand = format!(
        "undo its changes by hand, then record that with `godwit resolve --rolled-back {v}` (the next deploy applies it again)"
    );
    match &migration.down_place {
        source::DownPlace::File(path) => format!(
            "{} has no down script, so it cannot be reverted: write {}, or {by_hand}",
            migration.id(),
            path.display()
        ),
        source::DownPlace::Section { file, marker } => format!(
            "{} has no down script, so it cannot be reverted: add a `{marker}` section to {}, or {by_hand}",
            migration.id(),
            file.display()
        ),
        source::DownPlace::Nowhere { reason } => format!(
            "{reason}, so godwit cannot revert {}: {by_hand}",
            migration.id()
        ),
    }
}

/// The versions whose migration is in effect (applied, changed since, or gone from the
/// folder), as a backup's sidecar records them.
fn in_effect(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                Status::Applied | Status::Modified | Status::Missing | Status::InBaseline
            )
        })
        .map(|e| e.version.to_string())
        .collect()
}

/// A history row for `migration` as it starts (or, for baseline, as it is recorded).
/// `--to VERSION` must name one of `migrations` (deploy's and plan's check).
pub(crate) fn require_version(migrations: &[Migration], to: &Version) -> Result<(), Error> {
    if migrations.iter().any(|m| &m.version == to) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "--to {to}: there is no migration with that version"
    )))
}

/// The warning about reverted migrations whose down script was empty (`ids`), if any.
pub fn empty_downs_warning(ids: &[String]) -> Option<String> {
    match ids {
        [] => None,
        [one] => Some(format!(
            "warning: the down script of {one} is empty, so reverting it changed nothing, although its up script does something. \
             It is recorded as reverted, and the next deploy runs its up again over what is still there. \
             If that is not what you meant, write the statements that undo it (`godwit verify` reports it where up changes the schema; it compares schemas, not rows)."
        )),
        many => Some(format!(
            "warning: {} down scripts are empty, so reverting them changed nothing, although their up scripts do something:\n{}\n\
             They are recorded as reverted, and the next deploy runs their up again over what is still there. \
             If that is not what you meant, write the statements that undo them (`godwit verify` reports those whose up changes the schema; it compares schemas, not rows).",
            many.len(),
            crate::text::listed(many, 10)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_copy_events_serialize_flat_for_notifiers() {
        let event = Event::DataCopy {
            version: "20260101000000".into(),
            outcome: copy::CopyOutcome::Copied {
                source: "users.email".into(),
                copy_table: "godwit_copies.users_email_20260101000000_2".into(),
                rows: 3,
            },
        };
        let v = serde_json::to_value(&event).unwrap();
        assert_eq!(v["event"], "data_copy");
        assert_eq!(v["outcome"], "copied");
        assert_eq!(v["source"], "users.email");
        assert_eq!(v["rows"], 3);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolve {
    Applied,
    RolledBack,
    Continue,
}

/// A statement (or BEGIN/COMMIT when `index` is None) that failed.
/// Where a statement-by-statement run's writes of its history row stand.
struct RowWrites {
    /// The statement whose in-doubt note the stored row carries.
    marked: Option<usize>,
    /// The migration's final write follows the last statement directly, so that
    /// statement's progress rides in it.
    last_is_final: bool,
    /// The last statement's transaction wrote the final row already.
    finished: bool,
}

/// What the final write of a statement-by-statement run needs.
struct Finish {
    operation: Operation,
    started: Instant,
    rows_before: u64,
}

/// The rows the statements affected, from each one's count. Only data statements count:
/// SQLite repeats the last DML count after DDL.
fn counted_rows(statements: &[Statement], affected: &[u64], dialect: Dialect) -> u64 {
    statements
        .iter()
        .zip(affected)
        .filter(|(s, _)| changes_data_only(&s.sql, dialect))
        .map(|(_, n)| n)
        .sum()
}

/// The note a row carries while statement `index` runs outside a transaction; data
/// statements commit with their progress, so only the others are ever in doubt.
fn in_doubt(statements: &[Statement], index: usize, dialect: Dialect) -> Option<String> {
    let statement = statements
        .get(index)
        .filter(|s| !changes_data_only(&s.sql, dialect))?;
    Some(format!(
        "interrupted while running statement {} of {} (line {}), which may or may not have taken effect:\n    {}",
        index + 1,
        statements.len(),
        statement.line,
        one_line(&statement.sql, 160)
    ))
}

/// A statement-by-statement run's row once every statement took effect.
fn finish_row(
    row: &mut HistoryRow,
    operation: Operation,
    total: usize,
    rows_affected: u64,
    started: Instant,
) {
    row.state = if operation == Operation::Down {
        RowState::RolledBack
    } else {
        RowState::Applied
    }
    .as_str()
    .into();
    row.statements_applied = total as i64;
    row.rows_affected = Some(rows_affected as i64);
    row.finished_at = Some(now_rfc3339());
    row.duration_ms = Some(started.elapsed().as_millis() as i64);
    row.error = None;
}

struct Failure {
    index: Option<usize>,
    error: SqlError,
    /// What godwit was doing around the statement, when the error is not the statement's.
    context: Option<String>,
}

/// What ended a migration's transaction without committing it.
enum Uncommitted {
    /// A statement, or godwit's own work around the statements, failed.
    Failed(Failure),
    /// The lock was no longer this deployer's just before COMMIT, or godwit could not
    /// find out ([`driver::Lock::confirm_before_commit`]).
    Lock(DbError),
}

impl From<TransactionError> for Uncommitted {
    fn from(e: TransactionError) -> Uncommitted {
        match e {
            TransactionError::Sql { statement, error } => Uncommitted::Failed(Failure {
                index: statement,
                error,
                context: None,
            }),
            TransactionError::Lock(e) => Uncommitted::Lock(e),
        }
    }
}

enum Applied {
    /// Statement by statement, and the first one failed.
    Nothing,
    /// Statement by statement, and one failed inside the transaction the script opened at
    /// statement `begin` (0-based): that transaction was rolled back, so only the
    /// statements before it took effect.
    OwnTransactionRolledBack { begin: usize },
    /// In one transaction, rolled back: none of the script took effect.
    RolledBack,
    /// Statement by statement: these first statements took effect, the next one failed.
    First(usize),
    /// Every statement took effect; what failed came after them (putting back copies).
    Everything,
}

/// The run a failure happened in, as its message needs it.
#[derive(Clone, Copy)]
struct Run<'a> {
    operation: Operation,
    dialect: godwit_core::Dialect,
    /// Other tools' histories this deploy was told to ignore.
    other_histories: &'a [adopt::OtherHistory],
}

/// The other tools' history table `statement` reads or changes, and which tools keep
/// their history there (`golang-migrate or dbmate` for `schema_migrations`).
fn foreign_history_touched(
    statement: &Statement,
    dialect: godwit_core::Dialect,
) -> Option<(String, String)> {
    let info = godwit_core::analyze::analyze(std::slice::from_ref(statement), dialect);
    info.first()?.tables.iter().find_map(|table| {
        adopt::history_table_owners(table, dialect).map(|owners| (table.clone(), owners))
    })
}

/// What happened, and what to do next (kept apart: a restore makes it moot).
fn failure_message(
    migration: &Migration,
    script: &Script,
    statements: &[Statement],
    failure: &Failure,
    applied: Applied,
    run: Run<'_>,
) -> (String, String) {
    let Run {
        operation,
        dialect,
        other_histories,
    } = run;
    let why = match dialect {
        godwit_core::Dialect::MySql => "MySQL commits DDL as it goes",
        _ => "the migration runs without a transaction, one statement at a time",
    };
    let id = migration.id();
    let v = &migration.version;
    let file = script.path.display();
    let error = match &failure.context {
        Some(context) => format!("{context}: {}", describe_db_error(&failure.error)),
        None => describe_db_error(&failure.error),
    };
    let text = match failure.index {
        Some(i) => format!(
            "{id} failed at statement {} of {} ({file}, line {}):\n    {}\n  {error}",
            i + 1,
            statements.len(),
            statements[i].line,
            one_line(&statements[i].sql, 160),
        ),
        None => format!("{id} failed ({file}): {error}"),
    };
    // What to fix: the migration, unless the cause is godwit's own work around it (the
    // copy of dropped data: `context`), or the database was migrated by another tool
    // whose objects the first migrations collide with.
    let fix = if failure.context.is_some() {
        "The migration itself is not the cause: godwit's own work around the statement failed (above). Deal with that".to_owned()
    } else if operation == Operation::Deploy && !other_histories.is_empty() {
        let tables: Vec<String> = other_histories
            .iter()
            .map(|h| format!("{} ({}'s history)", h.table, h.tool.name()))
            .collect();
        format!(
            "The migration is probably not at fault: this database has {} and this deploy was told to ignore it, \
             so it ran migrations that tool may have applied already.\n\
             To take over that tool's history instead: `godwit resolve --rolled-back {v}`, then `godwit adopt`, then `godwit deploy`.\n\
             Otherwise, fix the migration",
            tables.join(" and ")
        )
    } else if let Some((table, owners)) = failure
        .index
        .and_then(|i| foreign_history_touched(&statements[i], dialect))
    {
        // harbor's golang-migrate files add a column to golang-migrate's own table.
        format!(
            "The migration is probably not at fault: it changes {table}, the history table of {owners}, which that tool creates before its first \
             migration and godwit does not (godwit keeps its own history). This history was written to run under {owners}.\n\
             Create {table} as {owners} would, or deploy to a database {owners} has migrated (after `godwit adopt`)"
        )
    } else {
        "Fix the migration".to_owned()
    };
    let next = match (operation, applied) {
        (Operation::Down, Applied::RolledBack) => format!(
            "\n\n{file} ran in one transaction, which was rolled back: nothing of the revert took effect, and {id} is still applied.\n\
             {fix}, then run `godwit down` again."
        ),
        (Operation::Down, Applied::Nothing | Applied::OwnTransactionRolledBack { begin: 0 }) => {
            format!(
                "\n\n{file} runs statement by statement, and its first statement failed: nothing of the revert took effect, and {id} is still applied.\n\
                 {fix}, then run `godwit down` again."
            )
        }
        (Operation::Down, applied) => {
            // Say what of the down.sql stayed: on MySQL its DDL committed as it went.
            let first = |n: usize| match n {
                1 => ("Statement 1".to_owned(), "was"),
                n => (format!("Statements 1-{n}"), "were"),
            };
            let kept = match applied {
                Applied::First(n) => {
                    let (done, were) = first(n);
                    format!(
                        " {done} of {file} {were} applied and committed ({why}); statement {} was not.",
                        n + 1
                    )
                }
                Applied::OwnTransactionRolledBack { begin } if begin > 0 => {
                    let (done, were) = first(begin);
                    format!(
                        " {done} of {file} {were} applied and committed; its own transaction, from statement {}, was rolled back.",
                        begin + 1
                    )
                }
                _ => String::new(),
            };
            format!(
                "\n\nThe revert did not complete.{kept} Put the schema back in a known state by hand, then record it:\n  \
                 godwit resolve --applied {v}       (the migration is still in effect)\n  \
                 godwit resolve --rolled-back {v}   (the revert is complete)"
            )
        }
        (_, Applied::Nothing | Applied::RolledBack) => format!(
            "\n\nNothing of it was applied. {fix}, then run:\n  godwit resolve --rolled-back {v}\n  godwit deploy"
        ),
        (_, Applied::OwnTransactionRolledBack { begin: 0 }) => format!(
            "\n\nThe migration's own transaction (statement 1, {}) was rolled back: nothing of it was applied. {fix}, then run:\n  godwit resolve --rolled-back {v}\n  godwit deploy",
            one_line(&statements[0].sql, 40)
        ),
        (_, Applied::OwnTransactionRolledBack { begin }) => {
            let (done, were) = if begin == 1 {
                ("statement 1".to_owned(), "was")
            } else {
                (format!("statements 1-{begin}"), "were")
            };
            format!(
                "\n\nThe migration's own transaction (opened by statement {opened}) was rolled back, so nothing from statement {opened} on took effect; {done} before it {were} applied and committed.\n\
                 Next, pick one:\n  \
                 - undo {done} by hand and fix the migration, then `godwit resolve --rolled-back {v}` and `godwit deploy`\n  \
                 - finish the migration by hand, then `godwit resolve --applied {v}`",
                opened = begin + 1
            )
        }
        (_, Applied::Everything) => format!(
            "\n\nAll {n} statements were applied and committed ({why}); what failed came after them.\n\
             {fix}; the migration itself is in effect, so record it with `godwit resolve --applied {v}`",
            n = statements.len()
        ),
        (_, Applied::First(n)) => {
            let failed = n + 1;
            let total = statements.len();
            // After the last statement nothing is left for deploy to run.
            let resume = if failed + 1 < total {
                format!(
                    "`godwit resolve --continue {v}` and `godwit deploy` (runs statements {}-{total})",
                    failed + 1
                )
            } else if failed + 1 == total {
                format!(
                    "`godwit resolve --continue {v}` and `godwit deploy` (runs statement {total}, the last)"
                )
            } else {
                format!(
                    "`godwit resolve --continue {v}` (statement {failed} is the last, so that records it as applied)"
                )
            };
            // "Statement 1 of 2 was", never "Statements 1-1 of 2 were".
            let (done, were) = if n == 1 {
                ("statement 1".to_owned(), "was")
            } else {
                (format!("statements 1-{n}"), "were")
            };
            let mut head = done.clone();
            head[..1].make_ascii_uppercase();
            format!(
                "\n\n{head} of {total} {were} applied and committed ({why}); statement {failed} was not.\n\
                 Next, pick one:\n  \
                 - fix the cause, run statement {failed} by hand, then {resume}\n  \
                 - finish the migration by hand, then `godwit resolve --applied {v}`\n  \
                 - undo {done} by hand, then `godwit resolve --rolled-back {v}`"
            )
        }
    };
    (text, next)
}

/// On PostgreSQL, after `sql` failed: the name of the INVALID index it left, when it is
/// a `CREATE INDEX CONCURRENTLY` whose index now exists, unusable, in the current schema.
async fn invalid_index_left(driver: &mut dyn driver::Driver, sql: &str) -> Option<String> {
    if driver.dialect() != Dialect::Postgres {
        return None;
    }
    let index = godwit_core::analyze::creates::concurrent_index(sql, Dialect::Postgres)?;
    let invalid = godwit_db::postgres::invalid_index(driver, &index.catalog(Dialect::Postgres))
        .await
        .ok()?;
    invalid.then(|| index.sql(Dialect::Postgres))
}

/// The problems that stop a deploy before it starts, all of them at once.
fn check_blockers(entries: &[Entry], allow_out_of_order: bool) -> Result<(), Error> {
    let mut problems = Vec::new();
    for entry in entries {
        let (v, name) = (&entry.version, &entry.name);
        match entry.status {
            Status::Failed => {
                let error = entry.row.and_then(|r| r.error.as_deref()).unwrap_or("no error recorded");
                problems.push(format!("{v} {name} failed and awaits resolve:\n  {}", error.replace('\n', "\n  ")));
            }
            Status::Running => {
                let row = entry.row.expect("running comes from a row");
                if row.operation != Operation::Deploy.as_str() {
                    problems.push(format!(
                        "{v} {name}: a `godwit {}` was interrupted; check the schema, then `godwit resolve --applied {v}` or `godwit resolve --rolled-back {v}`",
                        row.operation
                    ));
                } else if let Some(doubt) = &row.error {
                    problems.push(format!(
                        "{v} {name}: a deploy was {doubt}\n  check the database; then `godwit resolve --continue {v}` if it took effect (the deploy goes on with the next statement), \
                         `godwit resolve --rolled-back {v}` after undoing the statements before it, or `godwit resolve --applied {v}` after finishing it by hand"
                    ));
                } else if entry.migration.is_some_and(|m| m.checksum != row.checksum) {
                    problems.push(format!(
                        "{v} {name} was interrupted after {} of {} statements, and its file has changed since; restore the file to resume",
                        row.statements_applied, row.statements_total
                    ));
                }
            }
            Status::Resumable if entry.migration.is_some_and(|m| entry.row.is_some_and(|r| r.checksum != m.checksum)) => {
                problems.push(format!("{v} {name} changed after `resolve --continue`; restore the file, or resolve it again"));
            }
            Status::Modified => {
                let m = entry.migration.expect("modified has a file");
                problems.push(format!(
                    "{v} {name} was modified after it was applied (checksum {} recorded, {} on disk: {})\n  \
                     restore the file (e.g. `git checkout -- {}`); if the edit changes nothing in the database, record it with `godwit resolve --applied {v}`; \
                     to change the schema, write a new migration",
                    short(&entry.row.map(|r| r.checksum.clone()).unwrap_or_default()),
                    short(&m.checksum),
                    m.up.path.display(),
                    m.up.path.display()
                ));
            }
            Status::Missing => problems.push(format!(
                "{v} {name} is applied but its directory is missing from the migrations folder; restore it (other deployers need it), \
                 or if it was reverted by hand, run `godwit resolve --rolled-back {v}`"
            )),
            Status::OutOfOrder if !allow_out_of_order => problems.push(format!(
                "{v} {name} is pending but older than migrations already applied (it probably arrived in a merge)\n  \
                 rename it to a newer version, or apply it anyway with `godwit deploy --allow-out-of-order`"
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::blocked(
            Refusal::History,
            format!(
                "deploy refused: {} problem{} must be dealt with first\n\n{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join("\n\n")
            ),
        ))
    }
}

/// A checksum as a person compares it: godwit's SHA-256 by its first 12 digits, another
/// tool's (`flyway:-1149994491`, recorded by `adopt`) whole, since it is short and never
/// equal to godwit's.
fn short(checksum: &str) -> &str {
    if checksum.contains(':') {
        return checksum;
    }
    &checksum[..checksum.len().min(12)]
}

/// Keeps the error's exit code but says which migrations did apply (or, for `down`,
/// were reverted) before it: how many, the first and the last. A history of hundreds of
/// migrations would otherwise put hundreds of names on one line; `godwit status` and
/// `godwit history` list them all.
fn with_report(err: Error, report: &RunReport, operation: Operation) -> Error {
    let Some(note) = done_before_failure(&report.applied, operation) else {
        return err;
    };
    match err.unnoted() {
        Error::MigrationFailed { .. } | Error::Blocked { .. } | Error::Db(DbError::LockLost(_)) => {
            err.with_note(&note)
        }
        _ => err,
    }
}

fn done_before_failure(done: &[Done], operation: Operation) -> Option<String> {
    let ids: Vec<String> = done
        .iter()
        .map(|d| format!("{}_{}", d.version, d.name))
        .collect();
    let span = crate::text::span(&ids)?;
    let one = done.len() == 1;
    let (verb, state) = match operation {
        Operation::Down if one => ("Reverted", "it stays reverted"),
        Operation::Down => ("Reverted", "they stay reverted"),
        Operation::Restore if one => ("Applied", "the restore undid it"),
        Operation::Restore => ("Applied", "the restore undid them"),
        _ if one => ("Applied", "it stays applied"),
        _ => ("Applied", "they stay applied"),
    };
    let which = match done.len() {
        1 | 2 => span,
        n => format!("{n} migrations, {span}"),
    };
    Some(format!(
        "\n\n{verb} before the failure ({}): {which}; {state} (`godwit status` lists them)",
        done.len()
    ))
}
