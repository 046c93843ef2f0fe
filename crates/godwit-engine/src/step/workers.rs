//! Parallel batches: a backfill's key range run by several connections at once.
//!
//! With `[batch] workers = N` (or `deploy --workers N`) above 1, the host splits the rest
//! of the key range up front into batches of about `size` rows and stores them in a
//! table of its own, [`BATCHES_TABLE`], in one transaction. Each worker is one connection
//! that, batch after batch:
//!
//! 1. waits until the database is healthy (`before_taking_a_batch`);
//! 2. begins a transaction and leases the next pending batch with
//!    `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; MySQL 8 and MariaDB 10.6+);
//! 3. reads the batch's rows by key range, hands them to the plugin's `transform`, writes
//!    what it returns, marks the batch done, and commits — all in that one transaction.
//!
//! **The lease is the row lock of the batch's transaction.** There is no lease expiry to
//! tune and no clock to trust: if a worker dies (kill -9, a lost connection), the server
//! rolls its transaction back, the batch is pending again and its row lock is gone, so
//! another worker takes it; if it is done, it was committed together with its rows. So
//! every row is transformed exactly once. A worker that hangs while it holds a batch is
//! cut off by the server: PostgreSQL's `idle_in_transaction_session_timeout`, MySQL's and
//! MariaDB's `wait_timeout` (set for the batch's transaction only), never below the
//! plugin's time limit plus 5 s ([`lease_timeout`]), so a plugin working within its
//! limit is never cut off. Statements themselves are bounded by `[batch] timeout`.
//!
//! MySQL and MariaDB worker sessions run at READ COMMITTED, so that a worker's range read
//! takes no gap locks that would stall its neighbours' batches.
//!
//! A step split into batches continues with its batches when it is resumed, whatever the
//! worker count then (1 included): its single-worker checkpoint stops moving at the split.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use super::{Ahead, BackfillSql, bound_from_now, decode_position, encode_position};
use crate::config::Config;
use crate::error::{Error, Failure};
use crate::event::Event;
use crate::health::Throttle;
use crate::plugin::registry::PluginEntry;
use crate::plugin::{self, LogLine, session};
use crate::step::BatchSettings;
use godwit_core::value::{Rows, Value};
use godwit_db::backfill::count;
use godwit_db::{Driver, Scope, Session, now_rfc3339};

pub use godwit_db::backfill::{BATCHES_TABLE, Range, Totals, batches_ddl, store_batches, totals};

/// How long a worker waits before it looks again when every pending batch is leased by
/// another worker (which may die and give its batch back).
const RETAKE_EVERY: Duration = Duration::from_millis(200);

/// How often the deploying process records the totals in the history table and tells
/// watchers: not per batch by every worker.
pub const TOTALS_EVERY: Duration = Duration::from_secs(1);

/// The longest a worker's batch transaction may sit idle before the server ends it (and
/// so gives its batch back): the host's own deadline for a plugin call plus 5 s, which is
/// never below the plugin's time limit plus 5 s.
pub fn lease_timeout(limits: &plugin::Limits) -> Duration {
    limits
        .host_deadline()
        .saturating_add(Duration::from_secs(5))
}

/// Splits the rows after `after` into ranges of `size` rows, by asking for the key
/// `size` rows further each time (an index walk of the key, once over the table).
pub(crate) async fn split(
    driver: &mut dyn Session,
    confinement: &mut session::Confinement,
    sql: &BackfillSql,
    after: Option<Vec<Value>>,
    size: u32,
) -> Result<Vec<Range>, String> {
    let mut ranges = Vec::new();
    let mut lower = after;
    loop {
        let rows = confinement
            .query(
                driver,
                &sql.boundary(lower.is_some(), size),
                lower.as_deref().unwrap_or(&[]),
            )
            .await
            .map_err(|e| e.to_string())?;
        let Some(upper) = rows.rows.into_iter().next() else {
            ranges.push(Range {
                lower: lower.as_deref().map(encode_position),
                upper: None,
            });
            return Ok(ranges);
        };
        ranges.push(Range {
            lower: lower.as_deref().map(encode_position),
            upper: Some(encode_position(&upper)),
        });
        lower = Some(upper);
    }
}

/// What every worker of one step shares: the step, its plugin and its SQL.
pub(crate) struct Job<'a> {
    pub history_id: i64,
    /// The migration's id (`V_name`), for messages.
    pub step: String,
    pub version: String,
    pub plugin: String,
    pub sql: BackfillSql,
    pub entry: &'a PluginEntry,
    pub runtime: Arc<plugin::Runtime>,
    /// The step's `[config]`.
    pub settings: &'a toml::Table,
    pub batch: &'a BatchSettings,
    pub scope: Arc<dyn Scope>,
    pub config: Config,
}

impl Job<'_> {
    fn at(&self, batch: i64) -> String {
        format!("step {} (plugin {}, batch {batch})", self.step, self.plugin)
    }
}

/// What the workers of one process tell each other and the process: events to pass on,
/// and a flag that stops them all after their current batch.
#[derive(Default)]
pub(crate) struct Shared {
    pub stop: Cell<bool>,
    pub events: RefCell<Vec<Event>>,
    /// Workers still running.
    pub running: Cell<usize>,
    /// Batches and rows done by this process's workers.
    pub batches: Cell<u64>,
    pub rows: Cell<u64>,
    /// The longest time one of this process's workers has spent paused for the
    /// database's health: they pause together, so this is the step's paused time, which
    /// its rate and time left leave out.
    pub paused: Cell<std::time::Duration>,
}

impl Shared {
    fn emit(&self, event: Event) {
        self.events.borrow_mut().push(event);
    }

    fn log(&self, plugin: &str, logs: &[LogLine], stderr: &str) {
        self.events
            .borrow_mut()
            .extend(super::plugin_log_events(plugin, logs, stderr));
    }
}

/// Opens a worker's connection and sets its session up: the lease timeout, READ
/// COMMITTED on MySQL/MariaDB, and the plugin's confinement. One after the other, not at
/// once: preparing the confinement may change a role's privileges, which PostgreSQL does
/// not let two sessions do at the same moment.
pub(crate) async fn connect(job: &Job<'_>) -> Result<Box<dyn Driver>, Error> {
    let mut driver = godwit_db::connect(&job.config.connect_settings()).await?;
    prepare_session(driver.as_mut(), job).await?;
    Ok(driver)
}

async fn prepare_session(driver: &mut dyn Session, job: &Job<'_>) -> Result<(), Error> {
    let lease = lease_timeout(&job.entry.limits);
    let Some(sql) = godwit_db::backfill::of(driver.dialect()).worker_session(lease) else {
        return Ok(());
    };
    driver.execute(&sql).await.map_err(|e| {
        Error::db(
            format!("step {}: cannot set up a worker's session", job.step),
            &e,
        )
    })?;
    session::Confinement::new(Arc::clone(&job.scope))
        .prepare(driver)
        .await
}

/// The one place where each worker waits for the database's health before it takes a
/// batch: the throttle of [`crate::health`] holds every worker back alike.
pub(crate) async fn before_taking_a_batch(
    driver: &mut dyn Driver,
    throttle: &mut Throttle,
    job: &Job<'_>,
    shared: &Shared,
) -> Result<(), Error> {
    let waited =
        super::pause::wait_until_healthy(driver, throttle, &job.step, &job.version, &mut |e| {
            shared.emit(e)
        })
        .await;
    shared
        .paused
        .set(shared.paused.get().max(throttle.paused()));
    waited
}

/// One worker: takes batches until none is left, or until another worker failed.
pub(crate) async fn work(
    job: &Job<'_>,
    mut driver: Box<dyn Driver>,
    shared: &Shared,
    number: usize,
) -> Result<(), Error> {
    // Who did a batch, for the operator: host, process and worker.
    let worker = format!("{}:{}/{number}", godwit_db::hostname(), std::process::id());
    let result = async {
        let mut throttle = Throttle::new(&job.config, job.batch, &job.step)?;
        // `pause` holds each worker back after each batch; the rows-per-second ceiling is
        // shared among this process's workers.
        let mut paced = job.batch.clone();
        paced.max_rows_per_second = paced
            .max_rows_per_second
            .div_ceil(shared.running.get().max(1) as u64);
        while !shared.stop.get() {
            before_taking_a_batch(driver.as_mut(), &mut throttle, job, shared).await?;
            if shared.stop.get() {
                break;
            }
            let started = std::time::Instant::now();
            match take_batch(job, driver.as_mut(), shared, &worker).await? {
                Taken::Done(rows) => {
                    let delay = super::throttle_delay(&paced, rows, started.elapsed());
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                Taken::NoneFree => tokio::time::sleep(RETAKE_EVERY).await,
                Taken::NoneLeft => break,
            }
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        shared.stop.set(true);
    }
    shared.running.set(shared.running.get().saturating_sub(1));
    result
}

enum Taken {
    /// A batch was done, with this many rows.
    Done(u64),
    /// Batches are pending, but other workers hold them all.
    NoneFree,
    NoneLeft,
}

/// Leases the next pending batch and runs it, all in one transaction.
async fn take_batch(
    job: &Job<'_>,
    driver: &mut dyn Session,
    shared: &Shared,
    worker: &str,
) -> Result<Taken, Error> {
    let dialect = driver.dialect();
    driver
        .begin()
        .await
        .map_err(|e| Error::db(format!("step {}: cannot begin a batch", job.step), &e))?;
    let leased = driver
        .query_values(
            &godwit_db::backfill::lease_batch_sql(),
            &[Value::Int(job.history_id)],
        )
        .await;
    let leased = match leased {
        Ok(rows) => rows,
        Err(e) => {
            let _ = driver.rollback().await;
            return Err(Error::db(
                format!(
                    "step {}: cannot lease a batch from {BATCHES_TABLE}",
                    job.step
                ),
                &e,
            ));
        }
    };
    let Some(lease) = leased.rows.into_iter().next() else {
        let _ = driver.rollback().await;
        let left = totals(driver, job.history_id)
            .await
            .map_err(|e| Error::db(format!("step {}: cannot count its batches", job.step), &e))?
            .map_or(0, |t| t.pending);
        return Ok(if left == 0 {
            Taken::NoneLeft
        } else {
            Taken::NoneFree
        });
    };
    let batch_no = count(&lease[0]) as i64;
    let bound = |v: &Value| match v {
        Value::Text(t) => decode_position(t).map(Some),
        _ => Ok(None),
    };
    let ran = async {
        let lower = bound(&lease[1]).map_err(|m| Error::failed(Failure::Batch, m))?;
        let upper = bound(&lease[2]).map_err(|m| Error::failed(Failure::Batch, m))?;
        let session_lease =
            godwit_db::backfill::of(dialect).session_lease(lease_timeout(&job.entry.limits));
        if let Some((start, _)) = &session_lease {
            // The lease on MySQL/MariaDB: the server closes a connection idle this long,
            // rolling its batch back (see the module's documentation).
            driver.execute(start).await.map_err(|e| {
                Error::db(format!("{}: cannot set the lease", job.at(batch_no)), &e)
            })?;
        }
        let (rows, retried) = run_batch(job, driver, shared, batch_no, lower, upper).await?;
        driver
            .execute_values(
                &godwit_db::backfill::finish_batch_sql(),
                &[
                    Value::Int(rows as i64),
                    Value::Int(retried as i64),
                    Value::Text(now_rfc3339()),
                    Value::Int(job.history_id),
                    Value::Int(batch_no),
                    Value::Text(worker.to_owned()),
                ],
            )
            .await
            .map_err(|e| {
                Error::db(
                    format!("{}: cannot mark the batch done", job.at(batch_no)),
                    &e,
                )
            })?;
        driver
            .commit()
            .await
            .map_err(|e| Error::db(format!("{}: cannot commit", job.at(batch_no)), &e))?;
        if let Some((_, end)) = session_lease {
            driver.execute(end).await.map_err(|e| {
                Error::db(format!("{}: cannot end the lease", job.at(batch_no)), &e)
            })?;
        }
        Ok(rows)
    }
    .await;
    match ran {
        Ok(rows) => {
            shared.batches.set(shared.batches.get() + 1);
            shared.rows.set(shared.rows.get() + rows);
            Ok(Taken::Done(rows))
        }
        Err(err) => {
            let _ = driver.rollback().await;
            shared.emit(Event::RolledBack {
                version: Some(job.version.clone()),
                reason: format!(
                    "batch {batch_no} of step {} was rolled back: {err}",
                    job.step
                ),
                backup_id: None,
            });
            Err(err)
        }
    }
}

/// Reads, transforms and writes one batch's rows, in the transaction that leases it;
/// returns how many rows it read.
async fn run_batch(
    job: &Job<'_>,
    driver: &mut dyn Session,
    shared: &Shared,
    batch_no: i64,
    lower: Option<Vec<Value>>,
    upper: Option<Vec<Value>>,
) -> Result<(u64, u64), Error> {
    let sql = &job.sql;
    let at = job.at(batch_no);
    let mut confinement = session::Confinement::new(Arc::clone(&job.scope))
        .capped(&job.entry.limits)
        .until(bound_from_now(job.batch.timeout));
    let mut params = lower.clone().unwrap_or_default();
    params.extend(upper.clone().unwrap_or_default());
    let read: Rows = confinement
        .query(
            driver,
            &sql.select_range(lower.is_some(), upper.is_some()),
            &params,
        )
        .await
        .map_err(|e| Error::failed(Failure::Batch, format!("{at}: cannot read the batch: {e}")))?;
    if read.rows.is_empty() {
        return Ok((0, 0));
    }
    let count = read.rows.len() as u64;
    let size = read.rows.len() as u32;
    let mut ahead = Ahead::start(&job.runtime, job.entry, job.settings, read, size);
    let call = ahead
        .finish(&job.entry.limits)
        .await
        .map_err(|e| Error::failed(Failure::Plugin, format!("{at}: {e}")))?;
    shared.log(&job.plugin, &call.logs, &call.stderr);
    let transformer = super::Transformer {
        runtime: &job.runtime,
        entry: job.entry,
        config: job.settings,
    };
    let cas = super::write_batch(
        driver,
        &mut confinement,
        sql,
        &transformer,
        std::mem::take(&mut ahead.read),
        call.value,
        &at,
    )
    .await?;
    for (logs, stderr) in &cas.logs {
        shared.log(&job.plugin, logs, stderr);
    }
    Ok((count, cas.retried))
}

/// Drives the workers of this process beside `coordinator`, the deploying process's own
/// loop (totals about once a [`TOTALS_EVERY`], events passed on), which runs until
/// [`Shared::running`] is 0 and returns the error that made it stop the workers, if any.
/// Ends when every worker has ended, with the coordinator's or the first worker's error.
pub(crate) async fn run_workers(
    job: &Job<'_>,
    drivers: Vec<Box<dyn Driver>>,
    shared: &Shared,
    coordinator: impl std::future::Future<Output = Option<Error>>,
) -> Result<(), Error> {
    let workers = futures_util::future::join_all(
        drivers
            .into_iter()
            .enumerate()
            .map(|(i, driver)| work(job, driver, shared, i + 1)),
    );
    let (results, failed) = futures_util::future::join(workers, coordinator).await;
    if let Some(err) = failed {
        return Err(err);
    }
    results.into_iter().collect::<Result<Vec<()>, Error>>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_is_never_shorter_than_the_plugin_limit_plus_5s() {
        for secs in [1, 10, 60] {
            let limits = plugin::Limits {
                timeout: Duration::from_secs(secs),
                ..plugin::Limits::default()
            };
            assert!(lease_timeout(&limits) >= Duration::from_secs(secs + 5));
        }
    }
}
