//! A PostgreSQL standby's own view of its replication lag.

use std::time::Duration;

use crate::error::{ReplicaError, SqlError, describe_db_error};
use crate::traits::Session;

/// How old the last transaction the standby replayed is, while it has received WAL it has
/// not replayed yet (else none).
pub(crate) async fn lag(conn: &mut sqlx::PgConnection) -> Result<Duration, ReplicaError> {
    let query = |e: sqlx::Error| ReplicaError::Query(describe_db_error(&e));
    let (in_recovery,): (bool,) = sqlx::query_as("SELECT pg_is_in_recovery()")
        .fetch_one(&mut *conn)
        .await
        .map_err(query)?;
    if !in_recovery {
        return Err(ReplicaError::NotAReplica(
            "pg_is_in_recovery() is false: it is a primary".into(),
        ));
    }
    // A separate query: the recovery functions fail on a primary.
    let (caught_up, age, paused): (bool, Option<i64>, bool) = sqlx::query_as(
        "SELECT pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(), \
                (EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, \
                pg_is_wal_replay_paused()",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(query)?;
    match (caught_up, age) {
        (true, _) => Ok(Duration::ZERO),
        (false, Some(ms)) => Ok(Duration::from_millis(ms.max(0) as u64)),
        (false, None) => Err(ReplicaError::Stopped(format!(
            "it has WAL it has not replayed{}, and has replayed no transaction since it started, so the age of what it shows is unknown",
            if paused { " (replay is paused)" } else { "" }
        ))),
    }
}

/// One standby as the primary's `pg_stat_replication` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Standby {
    pub name: String,
    /// `None` when godwit's user may not see it (no `pg_monitor`).
    pub state: Option<String>,
    /// Whether it replays WAL at all (`replay_lsn` is set): `pg_receivewal` and a
    /// running `pg_basebackup` stream WAL but replay none.
    pub replays: bool,
    /// `replay_lag`; `None` once a standby has caught up and gone idle.
    pub lag: Option<Duration>,
}

/// The standbys a PostgreSQL primary streams to, as `pg_stat_replication` shows them to
/// the connected user.
pub(crate) async fn standbys(primary: &mut dyn Session) -> Result<Vec<Standby>, SqlError> {
    let rows = primary
        .query_text(
            "SELECT application_name::text, COALESCE(host(client_addr), 'local socket'), state::text, \
                    (replay_lsn IS NOT NULL)::text, (EXTRACT(EPOCH FROM replay_lag) * 1000)::bigint::text \
             FROM pg_stat_replication",
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let text = |i: usize| row.get(i).cloned().flatten();
            let name = match (text(0).filter(|n| !n.is_empty()), text(1)) {
                (Some(name), Some(addr)) => format!("standby {name} ({addr})"),
                (None, Some(addr)) => format!("standby at {addr}"),
                (Some(name), None) => format!("standby {name}"),
                (None, None) => "a standby".to_owned(),
            };
            Standby {
                name,
                state: text(2),
                replays: text(3).as_deref() == Some("true"),
                lag: text(4)
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .map(Duration::from_millis),
            }
        })
        .collect())
}
