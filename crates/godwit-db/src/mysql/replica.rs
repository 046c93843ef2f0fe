//! A MySQL or MariaDB replica's own view of its replication lag.

use std::time::Duration;

use sqlx::{Column as _, Row as _};

use crate::error::{ReplicaError, describe_db_error};

/// `SHOW REPLICA STATUS`, or `SHOW SLAVE STATUS` where the server predates it.
pub(crate) async fn lag(conn: &mut sqlx::MySqlConnection) -> Result<Duration, ReplicaError> {
    let rows = match sqlx::raw_sql("SHOW REPLICA STATUS")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42000") => {
            sqlx::raw_sql("SHOW SLAVE STATUS")
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| ReplicaError::Query(describe_db_error(&e)))?
        }
        Err(e) => return Err(ReplicaError::Query(describe_db_error(&e))),
    };
    let row: Vec<(String, Option<String>)> = match rows.first() {
        Some(row) => row
            .columns()
            .iter()
            .map(|c| (c.name().to_owned(), mysql_text(row, c.ordinal())))
            .collect(),
        None => Vec::new(),
    };
    match mysql_replica_lag(&row) {
        None => Err(ReplicaError::NotAReplica(
            "SHOW REPLICA STATUS returned nothing: it replicates from no primary".into(),
        )),
        Some(ReplicaLag::Behind(lag)) => Ok(lag),
        Some(ReplicaLag::Stopped(why)) => Err(ReplicaError::Stopped(why)),
    }
}

/// A cell of a `SHOW` result as text, whatever its type.
fn mysql_text(row: &sqlx::mysql::MySqlRow, i: usize) -> Option<String> {
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v;
    }
    if let Ok(v) = row.try_get::<Option<u64>, _>(i) {
        return v.map(|v| v.to_string());
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map(|v| v.to_string());
    }
    row.try_get::<Option<Vec<u8>>, _>(i)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// What a MySQL or MariaDB replica says of itself.
#[derive(Clone, Debug, PartialEq)]
enum ReplicaLag {
    Behind(Duration),
    /// Replicating, but not applying (a thread stopped): the lag is unknown.
    Stopped(String),
}

/// Reads `SHOW REPLICA STATUS` (or `SHOW SLAVE STATUS`) as column names and text values;
/// `None` when the result is empty: the server is not a replica.
fn mysql_replica_lag(row: &[(String, Option<String>)]) -> Option<ReplicaLag> {
    if row.is_empty() {
        return None;
    }
    let get = |names: &[&str]| {
        row.iter()
            .find(|(column, _)| names.iter().any(|n| column.eq_ignore_ascii_case(n)))
            .and_then(|(_, value)| value.clone())
    };
    let running = |names: &[&str]| get(names).is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let io = running(&["Replica_IO_Running", "Slave_IO_Running"]);
    let sql = running(&["Replica_SQL_Running", "Slave_SQL_Running"]);
    let error = |names: &[&str]| get(names).filter(|e| !e.trim().is_empty());
    let seconds = get(&["Seconds_Behind_Source", "Seconds_Behind_Master"])
        .and_then(|s| s.trim().parse::<u64>().ok());
    Some(match (io, sql, seconds) {
        (true, true, Some(s)) => ReplicaLag::Behind(Duration::from_secs(s)),
        _ => {
            let mut why = Vec::new();
            if !io {
                why.push("the replication I/O thread is not running".to_owned());
            }
            if !sql {
                why.push("the replication SQL thread is not running".to_owned());
            }
            if io && sql {
                why.push("Seconds_Behind_Source is NULL".to_owned());
            }
            for e in [error(&["Last_IO_Error"]), error(&["Last_SQL_Error"])]
                .into_iter()
                .flatten()
            {
                why.push(format!("last error: {e}"));
            }
            ReplicaLag::Stopped(why.join("; "))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn mysql_replica_status_reads_either_spelling() {
        let mariadb = status(&[
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", Some("12")),
            ("Last_IO_Error", Some("")),
        ]);
        assert_eq!(
            mysql_replica_lag(&mariadb),
            Some(ReplicaLag::Behind(Duration::from_secs(12)))
        );
        let mysql8 = status(&[
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Source", Some("0")),
        ]);
        assert_eq!(
            mysql_replica_lag(&mysql8),
            Some(ReplicaLag::Behind(Duration::ZERO))
        );
        assert_eq!(mysql_replica_lag(&[]), None, "not a replica");
    }

    #[test]
    fn a_stopped_mysql_replica_has_no_lag_to_trust() {
        let stopped = status(&[
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("No")),
            ("Seconds_Behind_Master", None),
            (
                "Last_SQL_Error",
                Some("Duplicate entry '1' for key 'PRIMARY'"),
            ),
        ]);
        let Some(ReplicaLag::Stopped(why)) = mysql_replica_lag(&stopped) else {
            panic!("{:?}", mysql_replica_lag(&stopped));
        };
        assert!(why.contains("SQL thread is not running"), "{why}");
        assert!(why.contains("Duplicate entry"), "{why}");
        // Connecting to its primary: both threads claim to run, no lag yet.
        let connecting = status(&[
            ("Slave_IO_Running", Some("Connecting")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", None),
        ]);
        assert!(matches!(
            mysql_replica_lag(&connecting),
            Some(ReplicaLag::Stopped(why)) if why.contains("I/O thread is not running")
        ));
        // A lag reported while a thread is down is stale: not trusted.
        let stale = status(&[
            ("Slave_IO_Running", Some("No")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Seconds_Behind_Master", Some("0")),
        ]);
        assert!(matches!(
            mysql_replica_lag(&stale),
            Some(ReplicaLag::Stopped(_))
        ));
    }
}
