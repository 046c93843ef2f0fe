//! A PostgreSQL standby's own view of its replication lag.

use std::time::Duration;

use crate::error::{ReplicaError, describe_db_error};

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
