//! Throttling a step on the database's health: before each batch, the step asks whether
//! the database can take another one, and waits while it cannot.
//!
//! Two signals, each optional:
//!
//! - **Replication lag** (`max_replication_lag`). With no `[throttle] replicas`, PostgreSQL's
//!   primary is asked: `pg_stat_replication`'s `replay_lag` for every standby that replays
//!   (a `pg_receivewal` or a running `pg_basebackup` replays nothing and is not counted).
//!   With replicas listed, each is asked directly: PostgreSQL by
//!   `now() - pg_last_xact_replay_timestamp()` while it has WAL not yet replayed, MySQL and
//!   MariaDB by `Seconds_Behind_Source` (`Seconds_Behind_Master`) of `SHOW REPLICA STATUS`
//!   (`SHOW SLAVE STATUS` before MySQL 8.0.22 and MariaDB 10.5.1). A MySQL or MariaDB
//!   primary does not know its replicas' lag, so there the replicas must be listed.
//! - **The operator's health query** (`health_query`): one row, one boolean column, run
//!   on the migrated database in a read-only transaction; false holds the batches back.
//!
//! A lag that cannot be measured (a listed replica unreachable, its replication stopped)
//! holds the batches back too: a bound the host cannot check is not met. A pause lasts at
//! most `max_pause` (30 minutes by default); then the step stops with
//! [`HealthError::PausedTooLong`], resumable, every batch before it committed. While it
//! waits, the step tells watchers [`Event::StepPaused`](crate::event::Event::StepPaused) when it starts and every
//! [`TELL_EVERY`], and [`Event::StepResumed`](crate::event::Event::StepResumed) when it ends.

use std::time::{Duration, Instant};

use crate::config::Config;
use godwit_core::Dialect;
use godwit_db::{Replica, ReplicaError, Session, SqlError, Standby, standbys};

pub use crate::event::PauseReason;
use crate::text::secs;
use godwit_core::step::BatchSettings;
use godwit_core::value::{Rows, Value};
use godwit_db::describe_db_error;

/// How long a pause may last when neither the step nor godwit.toml says.
pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(30 * 60);
/// How often health is measured when neither godwit.toml nor the step says.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often a pause that goes on is reported again.
pub const TELL_EVERY: Duration = Duration::from_secs(10);
/// How often a paused step touches its connections, whatever `check_every`: well inside
/// the shortest idle timeout a server allows (MySQL's `wait_timeout` is at least 1 s).
pub const TOUCH_EVERY: Duration = Duration::from_millis(500);
/// The longest one measurement (a lag query, the health query, a replica's connect) may
/// take; one that takes longer fails like the database refusing it.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// What stops a throttled step, or the settings that would.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// `[throttle] replicas` in godwit.toml cannot be used (it becomes
    /// [`crate::error::Error::Config`], as any other setting would).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// SQLite has no replicas to lag.
    #[error(
        "{origin} sets max_replication_lag, but SQLite has no replication to measure; remove it (a health_query still works on SQLite)"
    )]
    NoReplication { origin: String },

    /// MySQL or MariaDB, no `[throttle] replicas`: the primary cannot tell.
    #[error(
        "{origin} sets max_replication_lag, but a MySQL or MariaDB primary does not know how far behind its replicas are\n  \
         list them in godwit.toml so that godwit asks each one (SHOW REPLICA STATUS): [throttle] replicas = [\"env(REPLICA_URL)\"]"
    )]
    ReplicasNeeded { origin: String },

    /// A listed replica could not be reached when the step started.
    #[error(
        "cannot connect to the replica {replica} ([throttle] replicas in godwit.toml) to measure its replication lag: {message}\n  \
         check the URL and that the replica is up; nothing of the step was run"
    )]
    ReplicaConnect { replica: String, message: String },

    /// A listed replica is not replicating from anything.
    #[error(
        "{replica} ([throttle] replicas in godwit.toml) is not a replica: {detail}\n  \
         list the replicas of the migrated database there, or remove it"
    )]
    NotAReplica { replica: String, detail: String },

    /// godwit's database user cannot see the standbys' progress.
    #[error(
        "the database user {user} cannot see the standbys' replication lag in pg_stat_replication (the columns are hidden from it)\n  \
         ask an administrator to run: GRANT pg_monitor TO \"{user}\"; or list the replicas under [throttle] replicas in godwit.toml"
    )]
    NoMonitorPrivilege { user: String },

    /// Measuring the lag failed when the step started (later failures pause instead).
    #[error("cannot measure the replication lag on {replica}: {message}")]
    LagQuery { replica: String, message: String },

    /// The health query failed in the database.
    #[error(
        "the health query ({origin}) failed: {message}\n  query: {query}\n  fix it so that it returns one row with one boolean column"
    )]
    HealthQueryFailed {
        origin: String,
        query: String,
        message: String,
    },

    /// The health query ran, but did not return one boolean.
    #[error(
        "the health query ({origin}) must return one row with one boolean column, but it returned {got}\n  query: {query}"
    )]
    HealthQueryNotBoolean {
        origin: String,
        query: String,
        got: String,
    },

    /// The database stayed unhealthy for longer than the step may pause.
    #[error(
        "step {step} paused for {} waiting for the database to be healthy, and max_pause is {}: {reason}\n  \
         every batch before the pause is committed and checkpointed: run `godwit deploy` again to resume the step once the database has recovered, or to wait longer, raise max_pause under [throttle] in godwit.toml (a max_pause in the step's step.toml wins over it, and a started step's step.toml cannot change)",
        secs(waited.as_millis() as u64),
        humantime::format_duration(*max_pause)
    )]
    PausedTooLong {
        step: String,
        waited: Duration,
        max_pause: Duration,
        reason: PauseReason,
    },
}

impl HealthError {
    pub fn exit_code(&self) -> u8 {
        use crate::exit;
        match self {
            HealthError::Config(_)
            | HealthError::NoReplication { .. }
            | HealthError::ReplicasNeeded { .. }
            | HealthError::NotAReplica { .. }
            | HealthError::NoMonitorPrivilege { .. }
            | HealthError::HealthQueryFailed { .. }
            | HealthError::HealthQueryNotBoolean { .. } => exit::USAGE,
            HealthError::ReplicaConnect { .. } => exit::CONNECT,
            HealthError::LagQuery { .. } | HealthError::PausedTooLong { .. } => exit::FAILED,
        }
    }
}

/// The lag that counts among the primary's standbys: the worst of those that replay, with
/// its name; `None` when none replays.
pub fn worst_standby(standbys: &[Standby]) -> Option<(String, Duration)> {
    standbys
        .iter()
        .filter(|s| s.replays && s.state.as_deref() != Some("backup"))
        .map(|s| (s.name.clone(), s.lag.unwrap_or_default()))
        .max_by_key(|(_, lag)| *lag)
}

/// What the health query returned, as a boolean; MySQL and SQLite have no boolean type,
/// so there `0` and `1` are too.
pub fn health_answer(dialect: Dialect, rows: &Rows) -> Result<bool, String> {
    let [row] = rows.rows.as_slice() else {
        return Err(format!("{} rows", rows.rows.len()));
    };
    let [value] = row.as_slice() else {
        return Err(format!("a row of {} columns", row.len()));
    };
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Int(i @ (0 | 1)) if dialect != Dialect::Postgres => Ok(*i == 1),
        Value::Null => Err("NULL".into()),
        other => Err(format!("a value of type {} ({other:?})", other.kind())),
    }
}

/// The settings in force for one step: its `[batch]` over godwit.toml's `[throttle]`.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthSettings {
    pub max_replication_lag: Option<Duration>,
    pub health_query: Option<String>,
    pub max_pause: Duration,
    pub check_every: Duration,
}

impl HealthSettings {
    pub fn resolve(config: &Config, batch: &BatchSettings) -> HealthSettings {
        let project = &config.file.throttle;
        HealthSettings {
            max_replication_lag: batch.max_replication_lag.or(project.max_replication_lag),
            health_query: batch
                .health_query
                .clone()
                .or_else(|| project.health_query.clone())
                .filter(|q| !q.trim().is_empty()),
            max_pause: batch
                .max_pause
                .or(project.max_pause)
                .unwrap_or(DEFAULT_MAX_PAUSE),
            check_every: project.check_every.unwrap_or(DEFAULT_CHECK_EVERY),
        }
    }

    /// Whether there is anything to check at all.
    pub fn active(&self) -> bool {
        self.max_replication_lag.is_some() || self.health_query.is_some()
    }
}

/// The health checks of one step. Built before its first batch; asked before each one.
pub struct Throttle {
    settings: HealthSettings,
    /// Where the settings come from, for messages (`step.toml of V_name`).
    origin: String,
    dialect: Dialect,
    replicas: Vec<Replica>,
    /// When the database was last found healthy: no need to ask again for `check_every`.
    healthy_at: Option<Instant>,
    /// Whether a measurement has been made: the first one's failure is an error (the
    /// settings are wrong), a later one's a pause (the replica went away).
    measured: bool,
    /// How long this connection has waited for the database's health so far: a step's
    /// rate and time left leave it out, so that they describe the batches, not the pauses.
    pub(crate) paused: Duration,
}

impl Throttle {
    /// The time this connection has spent paused, waiting for the database's health.
    pub fn paused(&self) -> Duration {
        self.paused
    }

    /// Checks the step's settings against the database and godwit.toml; connects nothing.
    pub fn new(
        config: &Config,
        batch: &BatchSettings,
        step: &str,
    ) -> Result<Throttle, HealthError> {
        let settings = HealthSettings::resolve(config, batch);
        let origin = if batch.max_replication_lag.is_some() || batch.health_query.is_some() {
            format!("[batch] of {step}/step.toml")
        } else {
            "[throttle] in godwit.toml".to_owned()
        };
        let dialect = config.target.dialect;
        let replicas = if settings.max_replication_lag.is_some() {
            match dialect {
                Dialect::Sqlite => return Err(HealthError::NoReplication { origin }),
                _ => config.replica_targets()?,
            }
        } else {
            Vec::new()
        };
        if dialect == Dialect::MySql
            && settings.max_replication_lag.is_some()
            && replicas.is_empty()
        {
            return Err(HealthError::ReplicasNeeded { origin });
        }
        Ok(Throttle {
            settings,
            origin,
            dialect,
            replicas: replicas.into_iter().map(Replica::new).collect(),
            healthy_at: None,
            measured: false,
            paused: Duration::ZERO,
        })
    }

    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// Measures, unless the database was found healthy less than `check_every` ago: `None`
    /// when a batch may go, else why not. `primary` is the migrated database's connection,
    /// outside any transaction.
    pub async fn check(
        &mut self,
        primary: &mut dyn Session,
    ) -> Result<Option<PauseReason>, HealthError> {
        if !self.settings.active()
            || self
                .healthy_at
                .is_some_and(|at| at.elapsed() < self.settings.check_every)
        {
            return Ok(None);
        }
        let first = !self.measured;
        self.measured = true;
        let reason = match self.lag(primary, first).await? {
            Some(reason) => Some(reason),
            None => self.health_query(primary).await?,
        };
        self.healthy_at = reason.is_none().then(Instant::now);
        Ok(reason)
    }

    async fn lag(
        &mut self,
        primary: &mut dyn Session,
        first: bool,
    ) -> Result<Option<PauseReason>, HealthError> {
        let Some(bound) = self.settings.max_replication_lag else {
            return Ok(None);
        };
        let over = |replica: String, lag: Duration| {
            (lag > bound).then_some(PauseReason::ReplicationLag {
                replica,
                lag_ms: lag.as_millis() as u64,
                bound_ms: bound.as_millis() as u64,
            })
        };
        if self.replicas.is_empty() {
            // PostgreSQL's primary (Throttle::new refused the other dialects).
            let standbys = standbys(primary).await.map_err(|e| HealthError::LagQuery {
                replica: "the primary (pg_stat_replication)".into(),
                message: describe_db_error(&e),
            })?;
            if standbys.iter().any(|s| s.state.is_none()) {
                let user = primary
                    .query_text("SELECT current_user::text")
                    .await
                    .ok()
                    .and_then(|rows| rows.into_iter().next())
                    .and_then(|row| row.into_iter().next().flatten())
                    .unwrap_or_else(|| "godwit uses".into());
                return Err(HealthError::NoMonitorPrivilege { user });
            }
            return Ok(worst_standby(&standbys).and_then(|(name, lag)| over(name, lag)));
        }
        let mut worst: Option<PauseReason> = None;
        for replica in &mut self.replicas {
            let display = replica.target().display.clone();
            let measured = replica.lag(CHECK_TIMEOUT).await;
            let reason = match measured {
                Ok(lag) => over(display, lag),
                Err(ReplicaError::NotAReplica(detail)) => {
                    return Err(HealthError::NotAReplica {
                        replica: display,
                        detail,
                    });
                }
                Err(ReplicaError::Connect(message)) if first => {
                    return Err(HealthError::ReplicaConnect {
                        replica: display,
                        message,
                    });
                }
                Err(ReplicaError::Query(message)) if first => {
                    return Err(HealthError::LagQuery {
                        replica: display,
                        message,
                    });
                }
                Err(
                    ReplicaError::Connect(why)
                    | ReplicaError::Query(why)
                    | ReplicaError::Stopped(why),
                ) => Some(PauseReason::LagUnknown {
                    replica: display,
                    why,
                }),
            };
            worst = match (worst, reason) {
                (None, r) | (r, None) => r,
                // An unknown lag outranks a measured one: it could be anything.
                (Some(w @ PauseReason::LagUnknown { .. }), _) => Some(w),
                (_, Some(r @ PauseReason::LagUnknown { .. })) => Some(r),
                (
                    Some(PauseReason::ReplicationLag { lag_ms: a, .. }),
                    Some(r @ PauseReason::ReplicationLag { lag_ms: b, .. }),
                ) if b > a => Some(r),
                (w, _) => w,
            };
        }
        Ok(worst)
    }

    async fn health_query(
        &mut self,
        primary: &mut dyn Session,
    ) -> Result<Option<PauseReason>, HealthError> {
        let Some(query) = self.settings.health_query.clone() else {
            return Ok(None);
        };
        let failed = |e: &SqlError| HealthError::HealthQueryFailed {
            origin: self.origin.clone(),
            query: query.clone(),
            message: describe_db_error(e),
        };
        // Read-only, so that a query meant to look cannot change anything, and bounded.
        primary.begin_read_only().await.map_err(|e| failed(&e))?;
        let rows = match primary.limit_statements(Some(CHECK_TIMEOUT)).await {
            Ok(()) => primary.query_values(&query, &[]).await,
            Err(e) => Err(e),
        };
        let _ = primary.limit_statements(None).await;
        let _ = primary.rollback().await;
        let rows = rows.map_err(|e| failed(&e))?;
        match health_answer(self.dialect, &rows) {
            Ok(true) => Ok(None),
            Ok(false) => Ok(Some(PauseReason::HealthQuery { query })),
            Err(got) => Err(HealthError::HealthQueryNotBoolean {
                origin: self.origin.clone(),
                query,
                got,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_replaying_standby_counts() {
        let standby = |name: &str, state: &str, replays: bool, lag: Option<u64>| Standby {
            name: name.into(),
            state: Some(state.into()),
            replays,
            lag: lag.map(Duration::from_millis),
        };
        let standbys = [
            standby("a", "streaming", true, Some(300)),
            standby("b", "streaming", true, Some(7_000)),
            // pg_receivewal: streams, replays nothing.
            standby("receivewal", "streaming", false, None),
            standby("idle", "streaming", true, None),
        ];
        assert_eq!(
            worst_standby(&standbys),
            Some(("b".into(), Duration::from_secs(7)))
        );
        assert_eq!(worst_standby(&standbys[2..3]), None);
        assert_eq!(
            worst_standby(&standbys[3..]),
            Some(("idle".into(), Duration::ZERO))
        );
    }

    #[test]
    fn the_health_query_must_return_one_boolean() {
        let rows = |rows: Vec<Vec<Value>>| Rows {
            columns: vec!["ok".into()],
            rows,
        };
        let pg = Dialect::Postgres;
        assert_eq!(
            health_answer(pg, &rows(vec![vec![Value::Bool(true)]])),
            Ok(true)
        );
        assert_eq!(
            health_answer(pg, &rows(vec![vec![Value::Bool(false)]])),
            Ok(false)
        );
        assert_eq!(
            health_answer(Dialect::MySql, &rows(vec![vec![Value::Int(0)]])),
            Ok(false)
        );
        assert_eq!(
            health_answer(Dialect::Sqlite, &rows(vec![vec![Value::Int(1)]])),
            Ok(true)
        );
        let err = health_answer(pg, &rows(vec![vec![Value::Int(1)]])).unwrap_err();
        assert!(err.contains("int"), "{err}");
        assert_eq!(health_answer(pg, &rows(vec![])).unwrap_err(), "0 rows");
        assert_eq!(
            health_answer(
                pg,
                &rows(vec![vec![Value::Bool(true)], vec![Value::Bool(true)]])
            )
            .unwrap_err(),
            "2 rows"
        );
        assert_eq!(
            health_answer(pg, &rows(vec![vec![Value::Bool(true), Value::Int(1)]])).unwrap_err(),
            "a row of 2 columns"
        );
        assert_eq!(
            health_answer(pg, &rows(vec![vec![Value::Null]])).unwrap_err(),
            "NULL"
        );
        assert!(
            health_answer(Dialect::MySql, &rows(vec![vec![Value::Int(2)]])).is_err(),
            "2 is not a boolean"
        );
    }

    #[test]
    fn pause_reasons_say_measured_against_bound() {
        let lag = PauseReason::ReplicationLag {
            replica: "standby r1 (127.0.0.1)".into(),
            lag_ms: 12_345,
            bound_ms: 5_000,
        };
        assert_eq!(
            lag.to_string(),
            "replication lag 12.3s on standby r1 (127.0.0.1) is over max_replication_lag 5.0s"
        );
        assert_eq!(secs(850), "850ms");
        assert_eq!(secs(125_000), "2m 5s");
    }
}
