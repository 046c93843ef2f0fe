//! Plugin steps: a migration directory with a `step.toml` instead of `up.sql`.
//!
//! The host owns the loop. Each batch is one transaction that reads (or lets the plugin
//! read), writes, and records the checkpoint — the last key done, rows and batches so far
//! — in `godwit_step_progress`, so a step killed at any moment resumes at the last commit
//! with no row written twice and none skipped. Between batches the batch size adapts to
//! a target duration and the throttle (a pause, a rows-per-second ceiling) applies.
//!
//! A `backfill` plugin never sees SQL: the host pages the table by key, hands each batch
//! to `transform`, checks that every row it returns is one of that batch's and sets only
//! columns it may write, and writes them in one set-based `UPDATE`, compare-and-set: a row
//! only if the columns the plugin read are unchanged since the read (`write_batch`). A `data-step` plugin
//! runs its own statements through the session the host lends it, inside the batch's
//! transaction, each checked against its grants.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, Failure, JoinDifference, Refusal, WorkersRefusal};
use crate::event::{Done, Event, Events};
use crate::health::Throttle;
use crate::plugin::registry::{PluginEntry, Registry};
use crate::plugin::{self, Call, Limits, LogLine, World, session, types};
use godwit_core::Dialect;
use godwit_core::history::{HistoryRow, Operation, RowState};
use godwit_core::source::Migration;
use godwit_core::value::{Rows, Value};
use godwit_db::new_row;
use godwit_db::{Driver, Scope, Session, SqlError, now_rfc3339};

mod pause;
pub mod workers;

pub use godwit_db::backfill::{
    BackfillSql, Checkpoint, PROGRESS_TABLE, key_columns, pg_text, progress_ddl,
};
use godwit_db::backfill::{column_types, load_progress, save_progress};

/// How many batches in a row a data step may return without progress — no rows, the cursor
/// it was given, and not done — before the step is stopped: a plugin that never moves
/// would otherwise commit empty batches for ever while holding the migration lock.
pub const MAX_IDLE_BATCHES: u32 = 10;

pub use godwit_core::step::{BatchSettings, DEFAULT_BATCH_TIMEOUT, StepFile};

/// `now + bound`, or as far ahead as an `Instant` goes.
fn bound_from_now(bound: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(bound)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

/// Picks the next batch size: scaled towards the target duration, at most doubling or
/// halving at a time so that one slow batch (a checkpoint, a vacuum) does not swing it,
/// within `[min, max]` and under what the database accepts as parameters in one statement.
pub fn next_batch_size(
    settings: &BatchSettings,
    current: u32,
    took: Duration,
    ceiling: u32,
) -> u32 {
    let took = took.as_secs_f64().max(1e-4);
    let wanted = current as f64 * (settings.target.as_secs_f64() / took);
    let bounded = wanted.clamp(current as f64 / 2.0, current as f64 * 2.0);
    (bounded.round() as u32).clamp(settings.min, settings.max.min(ceiling).max(settings.min))
}

/// How long to wait before the next batch: the configured pause, or longer if the rows
/// per second ceiling asks for it.
pub fn throttle_delay(settings: &BatchSettings, rows: u64, took: Duration) -> Duration {
    let mut delay = settings.pause;
    if settings.max_rows_per_second > 0 && rows > 0 {
        let allowed = Duration::from_secs_f64(rows as f64 / settings.max_rows_per_second as f64);
        delay = delay.max(allowed.saturating_sub(took));
    }
    delay
}

/// Encodes a key as the checkpoint stores it.
pub fn encode_position(key: &[Value]) -> String {
    serde_json::to_string(key).expect("values serialise")
}

/// Decodes a checkpoint written by [`encode_position`].
pub fn decode_position(text: &str) -> Result<Vec<Value>, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("the step's checkpoint {text:?} is unreadable: {e}"))
}

/// Rows per second and time left, for the progress line.
pub fn rate_and_eta(rows: u64, elapsed: Duration, total: Option<u64>) -> (f64, Option<Duration>) {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let eta = total.and_then(|t| {
        (rate > 0.0).then(|| Duration::from_secs_f64(t.saturating_sub(rows) as f64 / rate))
    });
    (rate, eta)
}

/// When a step started, for rates measured across a resume.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub started: Instant,
    /// Rows done before this run (a resumed step), not counted in the rate.
    pub rows_before: u64,
}

/// What `godwit work` did for a running step.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WorkReport {
    pub version: String,
    pub name: String,
    pub workers: u32,
    /// Batches and rows this process did.
    pub batches: u64,
    pub rows: u64,
    /// The step's batches done (by every process) and in all, when this process stopped.
    pub step_batches_done: u64,
    pub step_batches: u64,
}

/// How a step ended, for the history row and the report.
#[derive(Clone, Debug, Default)]
pub struct StepOutcome {
    pub progress: Checkpoint,
    /// The digest of the plugin that ran.
    pub digest: String,
}

/// Runs plugin steps: a step's batches on the migrator's connection (or its workers'),
/// their checkpoints, throttling and events. Borrowed from the
/// [`Migrator`](crate::migrator::Migrator) for one step (`Migrator::steps`); the run
/// algorithm stays in `migrator.rs`.
pub(crate) struct StepRunner<'m> {
    pub(crate) driver: &'m mut dyn Driver,
    pub(crate) config: &'m Config,
    pub(crate) events: &'m mut Events,
    /// `--workers N` of the running deploy, over each step's `[batch] workers`.
    pub(crate) workers: Option<u32>,
}

impl StepRunner<'_> {
    fn config(&self) -> &Config {
        self.config
    }

    fn emit(&mut self, event: Event) {
        self.events.emit(event);
    }

    /// Waits, before a step's next batch, until the database is healthy: see
    /// [`pause::wait_until_healthy`]; pauses are told to the migrator's watchers.
    async fn wait_until_healthy(
        &mut self,
        throttle: &mut Throttle,
        step: &str,
        version: &str,
    ) -> Result<(), Error> {
        let events = &mut *self.events;
        pause::wait_until_healthy(&mut *self.driver, throttle, step, version, &mut |event| {
            events.emit(event)
        })
        .await
    }

    /// Applies a step migration: batch after batch until the plugin (or the table) has
    /// nothing left, resuming from `resume`'s checkpoint when there is one.
    pub(crate) async fn run_step(
        &mut self,
        migration: &Migration,
        step: &StepFile,
        resume: Option<HistoryRow>,
        plugins: &Registry,
    ) -> Result<Done, Error> {
        // The host reads and writes the step's rows as values that take a MySQL TIMESTAMP
        // to be in UTC; the migrations around the step run in the server's time zone.
        let utc = godwit_db::backfill::of(self.driver.dialect()).utc_session();
        if let Some((into_utc, _)) = utc {
            self.driver.execute(into_utc).await.map_err(|e| {
                Error::db(
                    format!("{}: cannot set the session's time zone", migration.id()),
                    &e,
                )
            })?;
        }
        let done = self.run_step_in_utc(migration, step, resume, plugins).await;
        if let Some((_, back)) = utc {
            let restored = self.driver.execute(back).await;
            if let (Ok(_), Err(e)) = (&done, restored) {
                return Err(Error::db(
                    format!(
                        "{}: cannot set the session's time zone back",
                        migration.id()
                    ),
                    &e,
                ));
            }
        }
        done
    }

    async fn run_step_in_utc(
        &mut self,
        migration: &Migration,
        step: &StepFile,
        resume: Option<HistoryRow>,
        plugins: &Registry,
    ) -> Result<Done, Error> {
        let started = Instant::now();
        let entry = plugins
            .get(&step.plugin)
            .map_err(|e| Error::Config(format!("{}/step.toml: {e}", migration.id())))?;
        let record = |e: SqlError| {
            Error::db(
                format!(
                    "cannot record progress of {} in the history table",
                    migration.id()
                ),
                &e,
            )
        };
        let workers = self.workers.unwrap_or(step.batch.workers);
        if workers > 1 {
            let refusal = if self.driver.dialect() == Dialect::Sqlite {
                Some(WorkersRefusal::Sqlite)
            } else if entry.plugin.world() == Some(World::DataStep) {
                Some(WorkersRefusal::DataStep)
            } else {
                None
            };
            if let Some(reason) = refusal {
                return Err(Error::WorkersRefused {
                    step: migration.id(),
                    workers,
                    reason,
                });
            }
        }
        self.driver.keep_alive().await?;
        self.driver
            .execute(&progress_ddl(self.driver.dialect()))
            .await
            .map_err(|e| Error::db(format!("cannot create {PROGRESS_TABLE}"), &e))?;
        let resumed = resume.is_some();
        let mut row = match resume {
            Some(mut row) => {
                row.state = RowState::Running.as_str().into();
                row.checksum = migration.checksum.clone();
                row.plugin_digest = Some(entry.plugin.digest().to_owned());
                row.error = None;
                self.driver.update_history(&row).await.map_err(record)?;
                row
            }
            None => {
                let mut row = new_row(migration, Operation::Deploy, RowState::Running, 0);
                row.kind = "step".into();
                row.plugin_digest = Some(entry.plugin.digest().to_owned());
                row.id = self.driver.insert_history(&row).await.map_err(record)?;
                row
            }
        };
        let progress = if resumed {
            load_progress(&mut *self.driver, row.id)
                .await
                .map_err(record)?
        } else {
            None
        };
        self.emit(Event::MigrationStarted {
            version: migration.version.to_string(),
            name: migration.name.clone(),
            kind: "step".into(),
            statements: 0,
            resume_at: progress.as_ref().map(|p| p.batches as usize),
        });
        let progress = progress.unwrap_or_default();
        let result = match entry.plugin.world() {
            Some(World::Backfill) => {
                self.backfill(
                    migration, step, entry, plugins, &mut row, progress, resumed, workers,
                )
                .await
            }
            Some(World::DataStep) => {
                self.data_step(migration, step, entry, plugins, &mut row, progress)
                    .await
            }
            other => Err(Error::Config(format!(
                "{}/step.toml: plugin {} is {}, but a step needs a backfill or data-step plugin",
                migration.id(),
                step.plugin,
                other
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| "not a godwit plugin".into())
            ))),
        };
        row.finished_at = Some(now_rfc3339());
        row.duration_ms = Some(started.elapsed().as_millis() as i64);
        match result {
            Ok(progress) => {
                row.state = RowState::Applied.as_str().into();
                row.statements_applied = progress.batches as i64;
                row.statements_total = progress.batches as i64;
                row.rows_affected = Some(progress.rows as i64);
                self.driver.update_history(&row).await.map_err(record)?;
                self.emit(Event::MigrationFinished {
                    version: row.version.clone(),
                    name: row.name.clone(),
                    kind: "step".into(),
                    operation: Operation::Deploy,
                    duration_ms: started.elapsed().as_millis() as u64,
                    statements: progress.batches as usize,
                    rows_affected: progress.rows,
                    rows_retried: progress.retried,
                });
                Ok(Done {
                    version: row.version,
                    name: row.name,
                    duration_ms: started.elapsed().as_millis() as u64,
                    statements: progress.batches as usize,
                    rows_affected: progress.rows,
                    rows_retried: progress.retried,
                })
            }
            Err(err) => {
                let message = err.to_string();
                // A step is never half-applied: every committed batch is checkpointed, so
                // the next deploy picks up where this one stopped.
                row.state = RowState::Resumable.as_str().into();
                row.error = Some(message.clone());
                self.driver.update_history(&row).await.map_err(record)?;
                self.emit(Event::MigrationFailed {
                    version: migration.version.to_string(),
                    name: migration.name.clone(),
                    error: message,
                });
                // Its type, and so the exit code and what deploy does next (restore the
                // backup, or not when the lock was lost), stay what happened.
                Err(err)
            }
        }
    }

    /// Asks a backfill plugin what it does, checks that against its grants, and builds
    /// the SQL of its batches; also the plugin's batch size hint. `batch` is the number of
    /// the batch it would start with, for messages.
    pub(crate) async fn describe_backfill(
        &mut self,
        migration: &Migration,
        step: &StepFile,
        entry: &PluginEntry,
        runtime: &Arc<plugin::Runtime>,
        batch: u64,
    ) -> Result<(BackfillSql, Option<u32>), Error> {
        let dialect = self.driver.dialect();
        let name = &step.plugin;
        let where_ = |batch: u64| format!("step {} (plugin {name}, batch {batch})", migration.id());
        let spec = {
            let (runtime, plugin, limits, context) = (
                runtime.clone(),
                entry.plugin.clone(),
                entry.limits.clone(),
                entry.context(&step.config, None),
            );
            blocking(&entry.limits, move || {
                runtime.describe(&plugin, &limits, context)
            })
            .await
            .map_err(|e| {
                Error::failed(
                    Failure::Plugin,
                    format!("{}: describe failed: {e}", where_(batch)),
                )
            })?
        };
        log_plugin(self.events, name, &spec.logs, &spec.stderr);
        let spec = spec.value;
        let keys = key_columns(&spec.key);
        entry
            .capabilities
            .check_backfill(dialect, &spec.table, &spec.key, &spec.reads, &spec.writes, spec.filter.as_deref())
            .map_err(|denied| {
                Error::blocked(Refusal::Grants, format!(
                    "{}: refused before the first batch: {denied}\n  grant it under [plugins.{name}.grants] in godwit.toml if the plugin should have it",
                    where_(batch)
                ))
            })?;
        let types = if dialect == Dialect::Postgres {
            column_types(&mut *self.driver, &spec.table)
                .await
                .map_err(|e| {
                    Error::db(
                        format!(
                            "{}: cannot read the column types of {}",
                            where_(batch),
                            spec.table
                        ),
                        &e,
                    )
                })?
        } else {
            BTreeMap::new()
        };
        let hint = (spec.batch_size_hint > 0).then_some(spec.batch_size_hint);
        let sql = BackfillSql {
            dialect,
            table: spec.table.clone(),
            keys: keys.clone(),
            reads: spec.reads.clone(),
            writes: spec.writes.clone(),
            filter: spec.filter.clone(),
            types,
        };
        Ok((sql, hint))
    }

    #[allow(clippy::too_many_arguments)]
    async fn backfill(
        &mut self,
        migration: &Migration,
        step: &StepFile,
        entry: &PluginEntry,
        plugins: &Registry,
        row: &mut HistoryRow,
        mut progress: Checkpoint,
        resumed: bool,
        workers: u32,
    ) -> Result<Checkpoint, Error> {
        let dialect = self.driver.dialect();
        let runtime = plugins
            .runtime()
            .expect("a registry that holds the step's plugin holds its runtime")
            .clone();
        let name = &step.plugin;
        let where_ = |batch: u64| format!("step {} (plugin {name}, batch {batch})", migration.id());
        let mut throttle = Throttle::new(self.config(), &step.batch, &migration.id())?;
        let (sql, hint) = self
            .describe_backfill(migration, step, entry, &runtime, progress.batches + 1)
            .await?;
        let keys = sql.keys.clone();
        let mut cursor: Option<Vec<Value>> = progress
            .position
            .as_deref()
            .map(decode_position)
            .transpose()
            .map_err(|m| Error::failed(Failure::Batch, m))?;
        let rows_before = progress.rows;
        // Every statement built from the plugin's description (its table, columns and
        // filter) runs confined to its grants, like the plugin's own statements.
        let scope: Arc<dyn Scope> = entry.capabilities.clone();
        session::Confinement::new(Arc::clone(&scope))
            .prepare(&mut *self.driver)
            .await?;
        // Inside a transaction (rolled back) so that PostgreSQL's SET LOCAL ROLE holds.
        let counted = match self.driver.begin().await {
            Ok(()) => {
                let mut confinement = session::Confinement::new(Arc::clone(&scope))
                    .until(bound_from_now(step.batch.timeout));
                let counted = confinement
                    .query(
                        &mut *self.driver,
                        &sql.count(cursor.is_some()),
                        cursor.as_deref().unwrap_or(&[]),
                    )
                    .await;
                let _ = self.driver.rollback().await;
                counted.ok()
            }
            Err(_) => None,
        };
        let total = match counted {
            Some(rows) => rows
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| match v {
                    Value::Int(n) => Some(*n as u64 + rows_before),
                    _ => None,
                }),
            None => None,
        };
        let settings = &step.batch;
        // A step once split into batches goes on with its batches, whatever the worker
        // count now: its single-worker checkpoint stopped at the split.
        let split = resumed
            && dialect != Dialect::Sqlite
            && workers::totals(&mut *self.driver, row.id)
                .await
                .map_err(|e| {
                    Error::db(
                        format!("step {}: cannot read its batches", migration.id()),
                        &e,
                    )
                })?
                .is_some();
        if workers > 1 || split {
            let size = settings
                .size_or(hint)
                .clamp(settings.min, settings.max.max(settings.min));
            let job = workers::Job {
                history_id: row.id,
                step: migration.id(),
                version: migration.version.to_string(),
                plugin: name.clone(),
                sql,
                entry,
                runtime,
                settings: &step.config,
                batch: &step.batch,
                scope,
                config: self.config().clone(),
            };
            return self
                .backfill_in_batches(&job, row, progress, cursor, total, size, workers)
                .await;
        }
        let mut size = if progress.batch_size > 0 {
            progress.batch_size
        } else {
            settings.size_or(hint)
        }
        .clamp(
            settings.min,
            settings.max.min(sql.ceiling()).max(settings.min),
        );
        let started = Instant::now();
        let mut ahead: Option<Ahead> = None;
        let mut retried = 0u64;
        loop {
            let batch = progress.batches + 1;
            self.wait_until_healthy(
                &mut throttle,
                &migration.id(),
                &migration.version.to_string(),
            )
            .await?;
            let batch_started = Instant::now();
            self.driver.keep_alive().await?;
            self.driver
                .begin()
                .await
                .map_err(|e| Error::db(format!("{}: cannot begin", where_(batch)), &e))?;
            let mut confinement = session::Confinement::new(Arc::clone(&scope))
                .capped(&entry.limits)
                .until(bound_from_now(step.batch.timeout));
            let outcome: Result<Option<Written>, Error> = async {
                let mut this = match ahead.take() {
                    Some(ahead) => ahead,
                    None => {
                        let read = confinement
                            .query(
                                &mut *self.driver,
                                &sql.select(cursor.is_some(), size),
                                cursor.as_deref().unwrap_or(&[]),
                            )
                            .await
                            .map_err(|e| {
                                Error::failed(
                                    Failure::Batch,
                                    format!("{}: cannot read the batch: {e}", where_(batch)),
                                )
                            })?;
                        Ahead::start(&runtime, entry, &step.config, read, size)
                    }
                };
                if this.read.rows.is_empty() {
                    return Ok(None);
                }
                let read = &this.read;
                let last_key: Vec<Value> =
                    read.rows.last().expect("not empty")[..keys.len()].to_vec();
                let read_count = read.rows.len();
                // Read the next batch now, in this transaction, so that the plugin
                // transforms it while the database writes this one.
                let next = if read_count as u32 >= this.size {
                    let next_read = confinement
                        .query(&mut *self.driver, &sql.select(true, size), &last_key)
                        .await
                        .map_err(|e| {
                            Error::failed(
                                Failure::Batch,
                                format!("{}: cannot read the next batch: {e}", where_(batch)),
                            )
                        })?;
                    Some(Ahead::start(&runtime, entry, &step.config, next_read, size))
                } else {
                    None
                };
                let call = this.finish(&entry.limits).await.map_err(|e| {
                    Error::failed(Failure::Plugin, format!("{}: {e}", where_(batch)))
                })?;
                log_plugin(self.events, name, &call.logs, &call.stderr);
                let transformer = Transformer {
                    runtime: &runtime,
                    entry,
                    config: &step.config,
                };
                let cas = write_batch(
                    &mut *self.driver,
                    &mut confinement,
                    &sql,
                    &transformer,
                    std::mem::take(&mut this.read),
                    call.value,
                    &where_(batch),
                )
                .await?;
                for (logs, stderr) in &cas.logs {
                    log_plugin(self.events, name, logs, stderr);
                }
                retried += cas.retried;
                Ok(Some((read_count as u64, last_key, next)))
            }
            .await;
            match outcome {
                Ok(None) => {
                    self.driver
                        .commit()
                        .await
                        .map_err(|e| Error::db(format!("{}: cannot commit", where_(batch)), &e))?;
                    break;
                }
                Ok(Some((count, last_key, prefetched))) => {
                    ahead = prefetched;
                    let mut next = progress.clone();
                    next.position = Some(encode_position(&last_key));
                    next.rows += count;
                    next.batches += 1;
                    next.batch_size = size;
                    self.commit_batch(migration, row, &next, &where_(batch))
                        .await?;
                    progress = next;
                    cursor = Some(last_key);
                    let took = batch_started.elapsed();
                    let (rate, eta) = rate_and_eta(
                        progress.rows - rows_before,
                        started.elapsed().saturating_sub(throttle.paused()),
                        total.map(|t| t.saturating_sub(rows_before)),
                    );
                    self.emit(Event::BatchProgress {
                        version: migration.version.to_string(),
                        batches: progress.batches,
                        rows: progress.rows,
                        total,
                        rate,
                        eta_ms: eta.map(|d| d.as_millis() as u64),
                        batch_size: size,
                        retried,
                    });
                    if ahead.is_none() {
                        break;
                    }
                    size = next_batch_size(settings, size, took, sql.ceiling());
                    let delay = throttle_delay(settings, count, took);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                Err(err) => {
                    return Err(self.abandon_batch(migration, &progress, err).await);
                }
            }
        }
        progress.retried = retried;
        Ok(progress)
    }

    /// A backfill run by `workers` connections at once, batch by batch from
    /// [`workers::BATCHES_TABLE`]; splits the rest of the key range (after `cursor`, the
    /// single-worker checkpoint) first when the step was not split yet. See
    /// [`workers`] for why each batch is done exactly once.
    #[allow(clippy::too_many_arguments)]
    async fn backfill_in_batches(
        &mut self,
        job: &workers::Job<'_>,
        row: &mut HistoryRow,
        before: Checkpoint,
        cursor: Option<Vec<Value>>,
        total: Option<u64>,
        size: u32,
        count: u32,
    ) -> Result<Checkpoint, Error> {
        let dialect = self.driver.dialect();
        for ddl in workers::batches_ddl(dialect) {
            self.driver
                .execute(&ddl)
                .await
                .map_err(|e| Error::db(format!("cannot create {}", workers::BATCHES_TABLE), &e))?;
        }
        let at_start = workers::totals(&mut *self.driver, row.id)
            .await
            .map_err(|e| Error::db(format!("step {}: cannot read its batches", job.step), &e))?;
        if at_start.is_none() {
            // The boundaries run the plugin's filter: confined, in a transaction (rolled
            // back) so that PostgreSQL's SET LOCAL ROLE holds; the batches are stored as
            // godwit's own, in one transaction of their own.
            self.driver
                .begin()
                .await
                .map_err(|e| Error::db(format!("step {}: cannot begin", job.step), &e))?;
            let mut confinement = session::Confinement::new(Arc::clone(&job.scope))
                .until(bound_from_now(job.batch.timeout));
            let ranges =
                workers::split(&mut *self.driver, &mut confinement, &job.sql, cursor, size).await;
            let _ = self.driver.rollback().await;
            let ranges = ranges.map_err(|e| {
                Error::failed(
                    Failure::Batch,
                    format!(
                        "step {}: cannot split its key range into batches: {e}",
                        job.step
                    ),
                )
            })?;
            workers::store_batches(&mut *self.driver, row.id, &job.version, &ranges)
                .await
                .map_err(|e| {
                    Error::db(format!("step {}: cannot record its batches", job.step), &e)
                })?;
        }
        let at_start = at_start.map_or((0, 0), |t| (t.rows, t.retried));
        let mut drivers = Vec::new();
        for _ in 0..count.max(1) {
            drivers.push(workers::connect(job).await?);
        }
        let shared = workers::Shared::default();
        shared.running.set(drivers.len());
        let started = Instant::now();
        let coordinator = async {
            let mut last = Instant::now();
            while shared.running.get() > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if last.elapsed() >= workers::TOTALS_EVERY {
                    last = Instant::now();
                    let told = self
                        .record_batches(job, row, &before, &shared, total, size, started, at_start)
                        .await;
                    if let Err(e) = told {
                        shared.stop.set(true);
                        return Some(e);
                    }
                }
            }
            None
        };
        let ran = workers::run_workers(job, drivers, &shared, coordinator).await;
        let totals = self
            .record_batches(job, row, &before, &shared, total, size, started, at_start)
            .await;
        let done = |t: &workers::Totals| Checkpoint {
            position: before.position.clone(),
            rows: before.rows + t.rows,
            batches: before.batches + t.done,
            batch_size: size,
            retried: t.retried.saturating_sub(at_start.1),
        };
        match (ran, totals) {
            (Ok(()), Ok(t)) if t.pending == 0 => Ok(done(&t)),
            (Ok(()), Ok(t)) => Err(Error::failed(
                Failure::Batch,
                format!(
                    "step {}: its workers stopped with {} batches not done",
                    job.step, t.pending
                ),
            )),
            (Ok(()), Err(e)) => Err(e),
            (Err(e), t) => Err(rolled_back(e, &done(&t.unwrap_or_default()))),
        }
    }

    /// `godwit work` (see `Migrator::work`), with the project's `migrations`.
    pub(crate) async fn work(
        &mut self,
        count: u32,
        wait: Option<Duration>,
        migrations: &[Migration],
    ) -> Result<WorkReport, Error> {
        let deadline = wait.map(bound_from_now);
        let (row, _) = loop {
            let mut found = None;
            let history = self.driver.history().await?;
            for row in history
                .iter()
                .rev()
                .filter(|r| r.kind == "step" && r.row_state() == Some(RowState::Running))
            {
                let totals = workers::totals(&mut *self.driver, row.id)
                    .await
                    .map_err(|e| Error::db("cannot read the batches of the running step", &e))?;
                if let Some(t) = totals.filter(|t| t.pending > 0) {
                    found = Some((row.clone(), t));
                    break;
                }
            }
            if let Some(found) = found {
                break found;
            }
            if deadline.is_none_or(|d| Instant::now() >= d) {
                return Err(Error::NoStepToJoin {
                    target: self.config().target.display.clone(),
                    waited: wait,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let id = format!("{}_{}", row.version, row.name);
        let mismatch = |what, recorded: &str, here: &str| Error::JoinMismatch {
            step: id.clone(),
            what,
            recorded: recorded.to_owned(),
            here: here.to_owned(),
        };
        let Some(migration) = migrations
            .iter()
            .find(|m| m.version.to_string() == row.version)
        else {
            return Err(mismatch(
                JoinDifference::MigrationMissing,
                &row.version,
                "no such migration",
            ));
        };
        if migration.checksum != row.checksum {
            return Err(mismatch(
                JoinDifference::Checksum,
                &row.checksum,
                &migration.checksum,
            ));
        }
        let Some(step) = migration.step.as_ref() else {
            return Err(mismatch(JoinDifference::NotAStep, "a step", "SQL"));
        };
        let plugins = Registry::load(self.config(), &[step.plugin.as_str()])?;
        let entry = plugins
            .get(&step.plugin)
            .map_err(|e| Error::Config(format!("{}/step.toml: {e}", migration.id())))?;
        let recorded = row.plugin_digest.clone().unwrap_or_default();
        if entry.plugin.digest() != recorded {
            return Err(mismatch(
                JoinDifference::Plugin,
                &recorded,
                entry.plugin.digest(),
            ));
        }
        let runtime = plugins
            .runtime()
            .expect("a registry that holds the step's plugin holds its runtime")
            .clone();
        let (sql, _) = self
            .describe_backfill(migration, step, entry, &runtime, 1)
            .await?;
        let job = workers::Job {
            history_id: row.id,
            step: migration.id(),
            version: migration.version.to_string(),
            plugin: step.plugin.clone(),
            sql,
            entry,
            runtime,
            settings: &step.config,
            batch: &step.batch,
            scope: entry.capabilities.clone(),
            config: self.config().clone(),
        };
        let mut drivers = Vec::new();
        for _ in 0..count.max(1) {
            drivers.push(workers::connect(&job).await?);
        }
        let shared = workers::Shared::default();
        shared.running.set(drivers.len());
        // The deploying process records the totals; this one passes its workers' events on.
        let coordinator = async {
            while shared.running.get() > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                for event in shared.events.take() {
                    self.emit(event);
                }
            }
            None
        };
        let ran = workers::run_workers(&job, drivers, &shared, coordinator).await;
        for event in shared.events.take() {
            self.emit(event);
        }
        ran?;
        let totals = workers::totals(&mut *self.driver, row.id)
            .await
            .map_err(|e| Error::db(format!("step {}: cannot read its batches", job.step), &e))?
            .unwrap_or_default();
        Ok(WorkReport {
            version: row.version.clone(),
            name: row.name.clone(),
            workers: count.max(1),
            batches: shared.batches.get(),
            rows: shared.rows.get(),
            step_batches_done: totals.done,
            step_batches: totals.done + totals.pending,
        })
    }

    /// Tells watchers the events of the workers and the totals of a split step's batches
    /// (all processes' work), records them in the history row, and keeps the migration
    /// lock; about once a second while workers run (not per batch by every worker).
    #[allow(clippy::too_many_arguments)]
    async fn record_batches(
        &mut self,
        job: &workers::Job<'_>,
        row: &mut HistoryRow,
        before: &Checkpoint,
        shared: &workers::Shared,
        total: Option<u64>,
        size: u32,
        started: Instant,
        (rows_at_start, retried_at_start): (u64, u64),
    ) -> Result<workers::Totals, Error> {
        let events = shared.events.take();
        for event in events {
            self.emit(event);
        }
        self.driver.keep_alive().await?;
        let totals = workers::totals(&mut *self.driver, row.id)
            .await
            .map_err(|e| Error::db(format!("step {}: cannot read its batches", job.step), &e))?
            .unwrap_or_default();
        row.statements_applied = (before.batches + totals.done) as i64;
        row.rows_affected = Some((before.rows + totals.rows) as i64);
        self.driver.update_history(row).await.map_err(|e| {
            Error::db(
                format!(
                    "cannot record progress of {} in the history table",
                    job.step
                ),
                &e,
            )
        })?;
        let (rate, eta) = rate_and_eta(
            totals.rows.saturating_sub(rows_at_start),
            started.elapsed().saturating_sub(shared.paused.get()),
            total.map(|t| t.saturating_sub(before.rows + rows_at_start)),
        );
        self.emit(Event::BatchProgress {
            version: job.version.clone(),
            batches: before.batches + totals.done,
            rows: before.rows + totals.rows,
            total,
            rate,
            eta_ms: eta.map(|d| d.as_millis() as u64),
            batch_size: size,
            retried: totals.retried.saturating_sub(retried_at_start),
        });
        Ok(totals)
    }

    /// Commits a batch with its checkpoint and the history row's counters, all in the
    /// batch's own transaction.
    async fn commit_batch(
        &mut self,
        migration: &Migration,
        row: &mut HistoryRow,
        next: &Checkpoint,
        batch: &str,
    ) -> Result<(), Error> {
        let cannot = || format!("{batch}: cannot commit the batch and its checkpoint");
        let ended = async {
            save_progress(&mut *self.driver, row, &migration.version.to_string(), next)
                .await
                .map_err(|e| Error::db(cannot(), &e))?;
            row.statements_applied = next.batches as i64;
            row.rows_affected = Some(next.rows as i64);
            self.driver
                .update_history(row)
                .await
                .map_err(|e| Error::db(cannot(), &e))?;
            self.driver
                .confirm_before_commit()
                .await
                .map_err(|e| Error::from(e.rolled_back(batch)))?;
            self.driver
                .commit()
                .await
                .map_err(|e| Error::db(cannot(), &e))
        }
        .await;
        if ended.is_err() {
            let _ = self.driver.rollback().await;
        }
        ended
    }

    /// After a batch failed: rolls it back, tells notifiers, and says what to do next.
    async fn abandon_batch(
        &mut self,
        migration: &Migration,
        progress: &Checkpoint,
        err: Error,
    ) -> Error {
        let _ = self.driver.rollback().await;
        self.emit(Event::RolledBack {
            version: Some(migration.version.to_string()),
            reason: format!(
                "batch {} of step {} was rolled back: {err}",
                progress.batches + 1,
                migration.id()
            ),
            backup_id: None,
        });
        rolled_back(err, progress)
    }

    async fn data_step(
        &mut self,
        migration: &Migration,
        step: &StepFile,
        entry: &PluginEntry,
        plugins: &Registry,
        row: &mut HistoryRow,
        mut progress: Checkpoint,
    ) -> Result<Checkpoint, Error> {
        let dialect = self.driver.dialect();
        let runtime = plugins
            .runtime()
            .expect("a registry that holds the step's plugin holds its runtime")
            .clone();
        let name = &step.plugin;
        let where_ = |batch: u64| format!("step {} (plugin {name}, batch {batch})", migration.id());
        let mut throttle = Throttle::new(self.config(), &step.batch, &migration.id())?;
        let settings = &step.batch;
        let mut size = if progress.batch_size > 0 {
            progress.batch_size
        } else {
            settings.size_or(None)
        }
        .clamp(settings.min, settings.max);
        let rows_before = progress.rows;
        let started = Instant::now();
        let scope: Arc<dyn Scope> = entry.capabilities.clone();
        session::Confinement::new(Arc::clone(&scope))
            .prepare(&mut *self.driver)
            .await?;
        // Batches in a row that moved nothing: see MAX_IDLE_BATCHES.
        let mut idle_batches = 0u32;
        loop {
            let batch = progress.batches + 1;
            self.wait_until_healthy(
                &mut throttle,
                &migration.id(),
                &migration.version.to_string(),
            )
            .await?;
            let batch_started = Instant::now();
            self.driver.keep_alive().await?;
            self.driver
                .begin()
                .await
                .map_err(|e| Error::db(format!("{}: cannot begin", where_(batch)), &e))?;
            // The plugin's statements get what is left of its time limit, enforced by the
            // database, so that none outlives the call, even if godwit is killed.
            let mut confinement = session::Confinement::new(Arc::clone(&scope))
                .capped(&entry.limits)
                .until(Instant::now() + entry.limits.timeout);
            let (bridge, requests) = session::bridge(entry.capabilities.clone(), dialect, false);
            let (runtime, plugin, limits) =
                (runtime.clone(), entry.plugin.clone(), entry.limits.clone());
            let context = entry.context(&step.config, Some(Box::new(bridge)));
            let cursor = progress.position.clone();
            let call = tokio::task::spawn_blocking(move || {
                runtime.run_batch(&plugin, &limits, context, cursor.as_deref(), size)
            });
            let served = tokio::time::timeout(
                entry.limits.host_deadline(),
                session::serve(&mut *self.driver, &mut confinement, requests, call),
            )
            .await;
            if served.is_err() {
                // The host gave up on the call, perhaps while a statement of the plugin runs
                // on the server: end it, or the rollback would wait behind it.
                if let Err(e) = session::abandon(&mut *self.driver).await {
                    confinement.notes.push(format!(
                        "cannot cancel the plugin's statement: {}",
                        godwit_db::describe_db_error(&e)
                    ));
                }
            }
            log_database_notes(self.events, name, &mut confinement);
            let outcome = match served {
                _ if confinement.escaped.is_some() => Err(Error::failed(
                    Failure::Confinement,
                    format!(
                        "{}: a statement of the plugin escaped its database confinement ({}); the batch is rolled back",
                        where_(batch),
                        confinement.escaped.as_deref().unwrap_or_default()
                    ),
                )),
                _ if confinement.too_large.is_some() => Err(Error::failed(
                    Failure::Confinement,
                    format!(
                        "{}: {}; the batch is rolled back",
                        where_(batch),
                        confinement.stopped_result(name).unwrap_or_default()
                    ),
                )),
                Err(_) => Err(Error::failed(
                    Failure::Plugin,
                    format!(
                        "{}: the plugin did not return within {} (its time limit plus a grace period)",
                        where_(batch),
                        humantime::format_duration(entry.limits.host_deadline())
                    ),
                )),
                Ok(Err(join)) => Err(Error::failed(
                    Failure::Plugin,
                    format!("{}: the plugin's thread failed: {join}", where_(batch)),
                )),
                Ok(Ok(Err(e))) => Err(Error::failed(
                    Failure::Plugin,
                    format!("{}: {e}", where_(batch)),
                )),
                Ok(Ok(Ok(call))) => {
                    log_plugin(self.events, name, &call.logs, &call.stderr);
                    Ok(call.value)
                }
            };
            let result = match outcome {
                Ok(result) => result,
                Err(err) => {
                    return Err(self.abandon_batch(migration, &progress, err).await);
                }
            };
            // The plugin's count is reported and recorded in history (a signed 64-bit
            // column): a total that does not fit is not a count, whatever the plugin says.
            let Some(rows_total) = progress
                .rows
                .checked_add(result.rows)
                .filter(|&total| i64::try_from(total).is_ok())
            else {
                let err = Error::failed(
                    Failure::Plugin,
                    format!(
                        "{}: the plugin reported {} rows for this batch, on top of {} so far; that is not a row count (the total must fit in a signed 64-bit integer), so the batch was not recorded",
                        where_(batch),
                        result.rows,
                        progress.rows
                    ),
                );
                return Err(self.abandon_batch(migration, &progress, err).await);
            };
            let idle = !result.done && result.rows == 0 && result.next_cursor == progress.position;
            idle_batches = if idle { idle_batches + 1 } else { 0 };
            if idle_batches >= MAX_IDLE_BATCHES {
                let err = Error::failed(
                    Failure::Plugin,
                    format!(
                        "{}: the plugin made no progress in {MAX_IDLE_BATCHES} batches in a row (no rows, the same cursor {}, not done); it would loop for ever, so the step was stopped. Fix the plugin so that each batch moves its cursor, does some work, or returns done = true",
                        where_(batch),
                        progress
                            .position
                            .as_deref()
                            .map_or("(none)".to_owned(), |c| format!("{c:?}"))
                    ),
                );
                return Err(self.abandon_batch(migration, &progress, err).await);
            }
            let mut next = progress.clone();
            next.position = result.next_cursor.clone();
            next.rows = rows_total;
            next.batches += 1;
            next.batch_size = size;
            self.commit_batch(migration, row, &next, &where_(batch))
                .await?;
            progress = next;
            let took = batch_started.elapsed();
            let (rate, _) = rate_and_eta(
                progress.rows - rows_before,
                started.elapsed().saturating_sub(throttle.paused()),
                None,
            );
            self.emit(Event::BatchProgress {
                version: migration.version.to_string(),
                batches: progress.batches,
                rows: progress.rows,
                total: None,
                rate,
                eta_ms: None,
                batch_size: size,
                retried: 0,
            });
            if result.done {
                break;
            }
            if result.next_cursor.is_none() && progress.batches > 0 && result.rows == 0 {
                return Err(Error::failed(
                    Failure::Plugin,
                    format!(
                        "{}: the plugin did no work, returned no cursor and did not say it was done; it would loop forever",
                        where_(batch)
                    ),
                ));
            }
            size = next_batch_size(settings, size, took, settings.max);
            let delay = throttle_delay(settings, result.rows, took);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
        Ok(progress)
    }
}

/// How many times a batch is written before the step stops when other writers keep
/// changing its rows (after the first, the rows are read `FOR UPDATE`, so a second short
/// write means something other than a concurrent update, such as a trigger).
pub const WRITE_TRIES: u32 = 3;

/// The savepoint a batch's write rolls back to when some of its rows changed.
const WRITE_SAVEPOINT: &str = "godwit_write";

/// What runs a backfill's `transform` again, for rows read again.
pub(crate) struct Transformer<'a> {
    pub runtime: &'a Arc<plugin::Runtime>,
    pub entry: &'a PluginEntry,
    pub config: &'a toml::Table,
}

/// A batch written compare-and-set.
#[derive(Debug, Default)]
pub(crate) struct CasWrite {
    /// Rows found changed since they were read, and so written again (over all tries).
    pub retried: u64,
    /// The plugin's log lines and stderr of the calls made again.
    pub logs: Vec<(Vec<LogLine>, String)>,
}

/// Writes a backfill's batch compare-and-set: each row only if the columns the plugin read
/// still hold the values it read ([`BackfillSql::compared`]). When fewer rows are written
/// than returned, another writer changed some since the read: the write is rolled back to
/// a savepoint, the batch's rows are read again `FOR UPDATE` (so that they cannot change
/// again before the write), transformed again and written again, at most [`WRITE_TRIES`]
/// times. `at` names the batch in errors.
pub(crate) async fn write_batch(
    driver: &mut dyn Session,
    confinement: &mut session::Confinement,
    sql: &BackfillSql,
    transformer: &Transformer<'_>,
    mut read: Rows,
    mut returned: Vec<types::Row>,
    at: &str,
) -> Result<CasWrite, Error> {
    let mut done = CasWrite::default();
    let checked = !sql.compared().is_empty();
    for attempt in 1..=WRITE_TRIES {
        let params = update_params(&read, &sql.keys, &sql.writes, returned).map_err(|m| {
            Error::blocked(
                Refusal::Grants,
                format!("{at}: refused the plugin's output: {m}"),
            )
        })?;
        let expected = (params.len() / sql.width()) as u64;
        if expected == 0 {
            return Ok(done);
        }
        let savepoint = |verb: &str| format!("{verb} {WRITE_SAVEPOINT}");
        if checked {
            driver.execute(&savepoint("SAVEPOINT")).await.map_err(|e| {
                Error::db(format!("{at}: cannot set a savepoint before the write"), &e)
            })?;
        }
        let written = write_rows(driver, confinement, sql, &read, params)
            .await
            .map_err(|e| {
                Error::failed(Failure::Batch, format!("{at}: cannot write the batch: {e}"))
            })?;
        if written >= expected {
            return Ok(done);
        }
        let changed = expected - written;
        done.retried += changed;
        driver
            .execute(&savepoint("ROLLBACK TO SAVEPOINT"))
            .await
            .map_err(|e| Error::db(format!("{at}: cannot roll the write back"), &e))?;
        if attempt == WRITE_TRIES {
            return Err(Error::failed(
                Failure::Batch,
                format!(
                    "{at}: {changed} of the batch's rows were still not written after {WRITE_TRIES} tries: each try found them changed since they were read (by another writer, or a trigger) or gone, so nothing of the batch was written; find what keeps changing them, then run `godwit deploy` again: the step resumes at this batch"
                ),
            ));
        }
        let k = sql.keys.len();
        let mut bounds = read.rows[0][..k].to_vec();
        bounds.extend_from_slice(&read.rows[read.rows.len() - 1][..k]);
        read = confinement
            .query(driver, &sql.select_locked(), &bounds)
            .await
            .map_err(|e| {
                Error::failed(
                    Failure::Batch,
                    format!("{at}: cannot read the changed rows again: {e}"),
                )
            })?;
        if read.rows.is_empty() {
            return Ok(done);
        }
        let size = read.rows.len() as u32;
        let mut again = Ahead::start(
            transformer.runtime,
            transformer.entry,
            transformer.config,
            read,
            size,
        );
        let call = again
            .finish(&transformer.entry.limits)
            .await
            .map_err(|e| Error::failed(Failure::Plugin, format!("{at}: {e}")))?;
        done.logs.push((call.logs, call.stderr));
        returned = call.value;
        read = again.read;
    }
    Ok(done)
}

/// Writes a batch's new values (as [`update_params`] lays them out), in statements no
/// larger than the database takes; returns how many rows were written.
async fn write_rows(
    driver: &mut dyn Session,
    confinement: &mut session::Confinement,
    sql: &BackfillSql,
    read: &Rows,
    params: Vec<Value>,
) -> Result<u64, session::ConfinedError> {
    let width = sql.width();
    let rows = params.len() / width;
    if rows == 0 {
        return Ok(0);
    }
    if sql.dialect == Dialect::Postgres {
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows); width];
        for (i, value) in params.into_iter().enumerate() {
            columns[i % width].push(pg_text(value));
        }
        return confinement
            .execute_text_arrays(driver, &sql.update_arrays(), columns)
            .await;
    }
    let per_statement = (sql.ceiling() as usize).max(1) * width;
    let mut written = 0;
    for chunk in params.chunks(per_statement) {
        let n = chunk.len() / width;
        let mut chunk = chunk.to_vec();
        if sql.ranged() {
            // Every row written is one of the batch's, so within its first and last key.
            chunk.push(read.rows[0][0].clone());
            chunk.push(read.rows[read.rows.len() - 1][0].clone());
        }
        written += confinement.execute(driver, &sql.update(n), &chunk).await?;
    }
    Ok(written)
}

/// A batch written, not yet committed: rows read, the last key, and the next batch
/// already read and being transformed (`None` when this one was the last).
type Written = (u64, Vec<Value>, Option<Ahead>);

/// A batch read and handed to the plugin, its `transform` running on a blocking thread.
struct Ahead {
    read: Rows,
    /// The size it was read with: fewer rows means it is the last.
    size: u32,
    call: tokio::task::JoinHandle<Result<Call<Vec<types::Row>>, plugin::Error>>,
}

impl Ahead {
    fn start(
        runtime: &std::sync::Arc<plugin::Runtime>,
        entry: &PluginEntry,
        config: &toml::Table,
        read: Rows,
        size: u32,
    ) -> Ahead {
        let rows = session::to_wit_rows(read.clone());
        let (runtime, plugin, limits, context) = (
            runtime.clone(),
            entry.plugin.clone(),
            entry.limits.clone(),
            entry.context(config, None),
        );
        let call = tokio::task::spawn_blocking(move || {
            runtime.transform(&plugin, &limits, context, &rows)
        });
        Ahead { read, size, call }
    }

    /// Waits for the plugin's answer, under the host-side deadline.
    async fn finish(&mut self, limits: &Limits) -> Result<Call<Vec<types::Row>>, String> {
        let deadline = limits.host_deadline();
        match tokio::time::timeout(deadline, &mut self.call).await {
            Err(_) => Err(format!(
                "the plugin did not return within {} (its time limit plus a grace period)",
                humantime::format_duration(deadline)
            )),
            Ok(Err(join)) => Err(format!("the plugin's thread failed: {join}")),
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Ok(Ok(call))) => Ok(call),
        }
    }
}

/// Runs a plugin call on a blocking thread, under the host-side deadline.
async fn blocking<T: Send + 'static>(
    limits: &Limits,
    f: impl FnOnce() -> Result<Call<T>, plugin::Error> + Send + 'static,
) -> Result<Call<T>, String> {
    let deadline = limits.host_deadline();
    match tokio::time::timeout(deadline, tokio::task::spawn_blocking(f)).await {
        Err(_) => Err(format!(
            "the plugin did not return within {} (its time limit plus a grace period)",
            humantime::format_duration(deadline)
        )),
        Ok(Err(join)) => Err(format!("the plugin's thread failed: {join}")),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Ok(Ok(call))) => Ok(call),
    }
}

/// What the plugin logged or printed to stderr, under its name, as events.
pub(crate) fn plugin_log_events<'a>(
    plugin: &'a str,
    logs: &'a [LogLine],
    stderr: &'a str,
) -> impl Iterator<Item = Event> + 'a {
    let logged = logs.iter().map(move |line| Event::PluginLog {
        plugin: plugin.to_owned(),
        level: line.level.to_owned(),
        message: line.message.clone(),
    });
    let printed = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(move |line| Event::PluginLog {
            plugin: plugin.to_owned(),
            level: "stderr".to_owned(),
            message: line.to_owned(),
        });
    logged.chain(printed)
}

/// What the plugin logged or printed to stderr, under its name.
fn log_plugin(events: &mut Events, plugin: &str, logs: &[LogLine], stderr: &str) {
    for event in plugin_log_events(plugin, logs, stderr) {
        events.emit(event);
    }
}

/// The full errors of the plugin's failed statements, which the plugin itself only saw as
/// an error class, for the operator.
fn log_database_notes(events: &mut Events, plugin: &str, confinement: &mut session::Confinement) {
    for note in confinement.notes.drain(..) {
        events.emit(Event::PluginLog {
            plugin: plugin.to_owned(),
            level: "database".to_owned(),
            message: note,
        });
    }
}

/// Adds what the user needs to know after a batch failed and was rolled back.
fn rolled_back(err: Error, progress: &Checkpoint) -> Error {
    let done = if progress.batches == 0 {
        "no batch was committed before it".to_owned()
    } else {
        format!(
            "the {} batch{} committed before it ({} rows) stay done and checkpointed",
            progress.batches,
            if progress.batches == 1 { "" } else { "es" },
            progress.rows
        )
    };
    let note = format!(
        "\n  the failed batch was rolled back; {done}\n  fix the cause and run `godwit deploy` again: the step resumes at the next batch"
    );
    err.with_note(&note)
}

/// Checks a backfill's output against the batch it was given and turns it into the
/// `UPDATE`'s parameters: for each row, its key values, its written values, then the
/// values it was read with of the other columns read (for the compare-and-set).
///
/// Every returned row must carry the key of a row of this batch (a plugin cannot reach
/// rows it was not handed) and may set only columns of `writes`; a column of `writes` it
/// leaves out keeps the value read... which the host does not have for columns it did not
/// read, so every returned row must set every column of `writes`.
pub fn update_params(
    read: &Rows,
    keys: &[String],
    writes: &[String],
    returned: Vec<types::Row>,
) -> Result<Vec<Value>, String> {
    let key_index: Vec<usize> = keys
        .iter()
        .map(|k| {
            read.columns
                .iter()
                .position(|c| c.eq_ignore_ascii_case(k))
                .ok_or_else(|| format!("the key column {k} was not read"))
        })
        .collect::<Result<_, _>>()?;
    // The columns read besides the key, in the order read: BackfillSql::compared.
    let compared: Vec<usize> = (0..read.columns.len())
        .filter(|i| !key_index.contains(i))
        .collect();
    let key_of = |row: &[Value]| {
        key_index
            .iter()
            .map(|&i| row[i].clone())
            .collect::<Vec<_>>()
    };
    // Plugins nearly always return the batch's rows in the order they were handed: walk
    // the batch alongside, which also proves each key new. Only a plugin that reorders
    // pays for a set of every key of the batch.
    let mut next_read = 0;
    let mut unordered: Option<(
        std::collections::HashMap<String, usize>,
        std::collections::HashSet<String>,
    )> = None;
    let names: Vec<&String> = keys.iter().chain(writes).collect();
    let mut params = Vec::with_capacity(returned.len() * (names.len() + compared.len()));
    for (n, row) in returned.into_iter().enumerate() {
        let mut cells: Vec<Option<Value>> = vec![None; names.len()];
        for column in row {
            let slot = names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(&column.name))
                .ok_or_else(|| {
                    format!(
                        "row {} sets column {}, which is not among the columns it declared it writes ({})",
                        n + 1,
                        column.name,
                        writes.join(", ")
                    )
                })?;
            if cells[slot].replace(column.value.into()).is_some() {
                return Err(format!("row {} sets column {} twice", n + 1, column.name));
            }
        }
        let mut cells = cells
            .into_iter()
            .zip(&names)
            .map(|(cell, name)| (cell, *name));
        let key: Vec<Value> = cells
            .by_ref()
            .take(keys.len())
            .map(|(cell, k)| {
                cell.ok_or_else(|| format!("row {} has no value for the key column {k}", n + 1))
            })
            .collect::<Result<_, _>>()?;
        let width = names.len() + compared.len();
        let in_order = if unordered.is_none() {
            read.rows[next_read..]
                .iter()
                .position(|r| key_index.iter().zip(&key).all(|(&i, v)| &r[i] == v))
                .map(|at| {
                    next_read += at + 1;
                    next_read - 1
                })
        } else {
            None
        };
        let at = match in_order {
            Some(at) => at,
            None => {
                let (batch, seen) = unordered.get_or_insert_with(|| {
                    let batch = read
                        .rows
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (encode_position(&key_of(r)), i))
                        .collect();
                    // Keys already walked past in order count as seen.
                    let seen = params
                        .chunks(width)
                        .map(|chunk: &[Value]| encode_position(&chunk[..keys.len()]))
                        .collect();
                    (batch, seen)
                });
                let encoded = encode_position(&key);
                let Some(&at) = batch.get(&encoded) else {
                    return Err(format!(
                        "row {} has key {encoded}, which is not a row of this batch; a backfill may only write the rows it was handed",
                        n + 1
                    ));
                };
                if !seen.insert(encoded.clone()) {
                    return Err(format!("row {} returns key {encoded} a second time", n + 1));
                }
                at
            }
        };
        params.extend(key);
        for (cell, w) in cells {
            params.push(cell.ok_or_else(|| {
                format!(
                    "row {} has no value for {w}; every returned row sets every column it writes",
                    n + 1
                )
            })?);
        }
        params.extend(compared.iter().map(|&i| read.rows[at][i].clone()));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BatchSettings {
        BatchSettings::default()
    }

    #[test]
    fn host_deadline_of_any_limit_does_not_overflow() {
        for timeout in [Duration::MAX, Duration::from_secs(u64::MAX / 3 * 2)] {
            let limits = Limits {
                timeout,
                ..Limits::default()
            };
            assert_eq!(limits.host_deadline(), Duration::MAX);
        }
        let limits = Limits {
            timeout: Duration::from_secs(2),
            ..Limits::default()
        };
        assert_eq!(limits.host_deadline(), Duration::from_secs(8));
    }

    #[test]
    fn batch_size_moves_towards_the_target_at_most_twofold() {
        let s = settings();
        let ms = Duration::from_millis;
        assert_eq!(next_batch_size(&s, 1000, ms(125), 60_000), 2000);
        assert_eq!(next_batch_size(&s, 1000, ms(10), 60_000), 2000);
        assert_eq!(next_batch_size(&s, 1000, ms(500), 60_000), 500);
        assert_eq!(next_batch_size(&s, 1000, ms(5000), 60_000), 500);
        assert_eq!(next_batch_size(&s, 1000, ms(250), 60_000), 1000);
        assert_eq!(next_batch_size(&s, 40_000, ms(1), 60_000), 50_000);
        assert_eq!(next_batch_size(&s, 40_000, ms(1), 10_000), 10_000);
        assert_eq!(next_batch_size(&s, 1, ms(1000), 60_000), 1);
    }

    #[test]
    fn backfill_output_is_checked_against_its_batch() {
        let read = Rows {
            columns: vec!["id".into(), "email".into()],
            rows: (1..=4)
                .map(|i| vec![Value::Int(i), Value::Text(format!("U{i}"))])
                .collect(),
        };
        let keys = ["id".to_owned()];
        let writes = ["email_norm".to_owned()];
        let row = |id: i64, col: &str| {
            vec![
                types::Column {
                    name: "ID".into(),
                    value: types::Value::Int(id),
                },
                types::Column {
                    name: col.into(),
                    value: types::Value::Text(format!("u{id}")),
                },
            ]
        };
        let check = |rows: Vec<types::Row>| update_params(&read, &keys, &writes, rows);
        // In order, skipping some, and out of order.
        let ok = check(vec![row(1, "email_norm"), row(3, "email_norm")]).unwrap();
        assert_eq!(
            ok,
            vec![
                Value::Int(1),
                Value::Text("u1".into()),
                Value::Text("U1".into()),
                Value::Int(3),
                Value::Text("u3".into()),
                Value::Text("U3".into())
            ],
            "each row: its key, its written value, and the value read to compare"
        );
        assert_eq!(
            check(vec![
                row(4, "email_norm"),
                row(2, "email_norm"),
                row(1, "email_norm")
            ])
            .unwrap()
            .len(),
            9
        );
        let err = |rows| check(rows).unwrap_err();
        assert!(err(vec![row(9, "email_norm")]).contains("not a row of this batch"));
        assert!(err(vec![row(2, "email_norm"), row(2, "email_norm")]).contains("second time"));
        assert!(
            err(vec![
                row(3, "email_norm"),
                row(1, "email_norm"),
                row(3, "email_norm")
            ])
            .contains("second time")
        );
        assert!(err(vec![row(1, "email")]).contains("not among the columns"));
        assert!(
            err(vec![vec![row(1, "email_norm")[0].clone()]]).contains("no value for email_norm")
        );
    }

    #[test]
    fn throttle_keeps_under_the_rate_ceiling() {
        let mut s = settings();
        assert_eq!(throttle_delay(&s, 100, Duration::ZERO), Duration::ZERO);
        s.max_rows_per_second = 1000;
        assert_eq!(
            throttle_delay(&s, 500, Duration::from_millis(100)),
            Duration::from_millis(400)
        );
        s.pause = Duration::from_secs(1);
        assert_eq!(
            throttle_delay(&s, 500, Duration::from_millis(100)),
            Duration::from_secs(1)
        );
    }
}
