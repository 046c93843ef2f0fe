//! A replica of the migrated database, asked for its own replication lag: the host's
//! throttle holds a step's batches back while a replica is too far behind. What each
//! database is asked lives with its driver (`postgres/replica.rs`, `mysql/replica.rs`).

use std::time::Duration;

use sqlx::Connection as _;

use godwit_core::Dialect;

use crate::error::{ReplicaError, SqlError, describe_db_error};
use crate::settings::Target;
use crate::traits::Session;

enum Connection {
    Postgres(sqlx::PgConnection),
    MySql(sqlx::MySqlConnection),
}

/// A replica, connected when it is first measured, and again after a failure.
pub struct Replica {
    target: Target,
    conn: Option<Connection>,
}

impl Replica {
    /// Connects nothing yet.
    pub fn new(target: Target) -> Replica {
        Replica { target, conn: None }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// How far behind its primary the replica says it is. Connecting and asking each
    /// wait at most `timeout`; after either fails, the next call connects afresh, since
    /// the connection may be what is broken.
    pub async fn lag(&mut self, timeout: Duration) -> Result<Duration, ReplicaError> {
        let no_answer = || format!("no answer within {}", humantime::format_duration(timeout));
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let url = self.target.url.as_str();
                let connected = tokio::time::timeout(timeout, async {
                    Ok(match self.target.dialect {
                        Dialect::Postgres => Connection::Postgres(
                            sqlx::PgConnection::connect(url)
                                .await
                                .map_err(|e| describe_db_error(&e))?,
                        ),
                        Dialect::MySql => Connection::MySql(
                            sqlx::MySqlConnection::connect(url)
                                .await
                                .map_err(|e| describe_db_error(&e))?,
                        ),
                        Dialect::Sqlite => {
                            return Err("a SQLite database has no replicas to ask".to_owned());
                        }
                    })
                })
                .await;
                match connected {
                    Ok(Ok(conn)) => self.conn.insert(conn),
                    Ok(Err(message)) => return Err(ReplicaError::Connect(message)),
                    Err(_) => return Err(ReplicaError::Connect(no_answer())),
                }
            }
        };
        let measured = tokio::time::timeout(timeout, async {
            match conn {
                Connection::Postgres(conn) => crate::postgres::replica::lag(conn).await,
                Connection::MySql(conn) => crate::mysql::replica::lag(conn).await,
            }
        })
        .await;
        let result = measured.unwrap_or_else(|_| Err(ReplicaError::Query(no_answer())));
        if let Err(ReplicaError::Query(_) | ReplicaError::Connect(_)) = &result {
            self.conn = None;
        }
        result
    }
}

pub use crate::postgres::replica::Standby;

/// The standbys of the primary `primary` is connected to, with their lag as the primary
/// sees it. PostgreSQL only: a MySQL or MariaDB primary cannot tell, so its replicas are
/// each asked ([`Replica`]).
pub async fn standbys(primary: &mut dyn Session) -> Result<Vec<Standby>, SqlError> {
    crate::postgres::replica::standbys(primary).await
}
