//! The migration lock's parts that every database shares: keeping a lock alive, and the
//! lease row in `godwit_lock`.

use std::time::{Duration, Instant};

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, Row, Type};

use godwit_core::Dialect;

use crate::error::DbError;
use crate::history::{now_rfc3339, placeholders};
use crate::raw::{execute_raw, rows_affected};
use crate::settings::{LockMode, hostname};

/// How often [`keep_lock`] asks the session holding an advisory lock whether it is still
/// there.
pub(crate) const SESSION_CHECK_EVERY: Duration = Duration::from_secs(1);

/// [`Lock::keep_alive`] of the PostgreSQL and MySQL drivers, on their lock connection.
///
/// A lease is renewed; one another deployer took is [`DbError::LockLost`]. A session-level
/// lock (PostgreSQL's advisory lock, MySQL's `GET_LOCK`) lives exactly as long as the
/// connection that took it: if the server ended that session (an administrator's
/// `pg_terminate_backend` or `KILL`, a failover, a broken network path), the lock is gone
/// and another deployer may hold it now, so that is [`DbError::LockLost`] too. The session is
/// asked at most once per [`SESSION_CHECK_EVERY`]; `checked` is when it last answered.
pub(crate) async fn keep_lock<DB>(
    mode: LockMode,
    conn: &mut DB::Connection,
    checked: &mut Option<Instant>,
    dialect: Dialect,
    owner: &str,
) -> Result<(), DbError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    if mode == LockMode::Lease {
        let held = lease::renew::<DB>(conn, dialect, owner)
            .await
            .map_err(|e| DbError::db("cannot renew the migration lease", &e))?;
        return if held { Ok(()) } else { Err(lease::lost()) };
    }
    if checked.is_some_and(|at| at.elapsed() < SESSION_CHECK_EVERY) {
        return Ok(());
    }
    execute_raw::<DB>(conn, "SELECT 1").await.map_err(|e| {
        DbError::LockLost(format!(
            "the database session that held the migration lock has ended ({e}); another \
             deployer may hold the lock now, so this one stops here. `godwit status` shows \
             what was applied; `godwit deploy` again goes on from there"
        ))
    })?;
    *checked = Some(Instant::now());
    Ok(())
}

/// A lease row in `godwit_lock`: the SQLite lock, and the PostgreSQL/MySQL lock behind
/// poolers. A heartbeat keeps it alive; an owner on this host whose process is gone is
/// taken over at once instead of after expiry.
pub(crate) mod lease {
    use super::*;

    pub const TTL: Duration = Duration::from_secs(30);

    /// The lease row names another owner now.
    pub fn lost() -> DbError {
        DbError::LockLost(
            "another deployer has taken the migration lease over, so this one stops here. \
             `godwit status` shows what was applied; `godwit deploy` again, once the other \
             deployer is done, goes on from there"
                .into(),
        )
    }

    pub fn owner_token() -> String {
        format!("{}:{}:{}", hostname(), std::process::id(), now_rfc3339())
    }

    pub fn create_sql() -> &'static str {
        "CREATE TABLE IF NOT EXISTS godwit_lock (id INT PRIMARY KEY, owner VARCHAR(255), host VARCHAR(255), pid BIGINT, expires_at BIGINT)"
    }

    pub fn seed_sql(dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Postgres => "INSERT INTO godwit_lock (id) VALUES (1) ON CONFLICT DO NOTHING",
            Dialect::MySql => "INSERT IGNORE INTO godwit_lock (id) VALUES (1)",
            Dialect::Sqlite => "INSERT OR IGNORE INTO godwit_lock (id) VALUES (1)",
        }
    }

    pub fn now_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// Whether the process that owns a lease on this host is still alive.
    pub fn owner_alive(host: &str, pid: i64) -> bool {
        if host != hostname() {
            return true;
        }
        if cfg!(target_os = "linux") {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        } else {
            true
        }
    }

    /// One attempt; `Ok(None)` when acquired.
    pub async fn try_acquire<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> Result<Option<String>, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
        for<'r> Option<String>: Decode<'r, DB>,
        for<'r> Option<i64>: Decode<'r, DB>,
        for<'r> String: Decode<'r, DB> + Type<DB>,
        for<'r> i64: Decode<'r, DB>,
        usize: ColumnIndex<DB::Row>,
    {
        match execute_raw::<DB>(conn, create_sql()).await {
            Ok(_) => {}
            // Two deployers creating the table at once collide in PostgreSQL's catalog
            // even with IF NOT EXISTS: the other one won. Depending on timing it surfaces
            // as unique_violation on pg_type (23505), duplicate_table (42P07) or
            // duplicate_object, "type already exists" (42710).
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("23505" | "42P07" | "42710")) =>
            {
                return Ok(Some("another deployer is creating the lease table".into()));
            }
            Err(e) => return Err(e),
        }
        execute_raw::<DB>(conn, seed_sql(dialect)).await?;
        let now = now_ms();
        let expires = now + TTL.as_millis() as i64;
        if claim::<DB>(
            conn,
            dialect,
            "owner IS NULL OR expires_at < ?",
            owner,
            expires,
            Bound::Int(now),
        )
        .await?
        {
            return Ok(None);
        }
        let row = sqlx::query("SELECT owner, host, pid, expires_at FROM godwit_lock WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let (held_by, host, pid, until): (
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
        ) = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        );
        let (Some(held_by), Some(host), Some(pid)) = (held_by, host, pid) else {
            return Ok(Some(
                "the lease row changed while we looked; retrying".into(),
            ));
        };
        if !owner_alive(&host, pid)
            && claim::<DB>(
                conn,
                dialect,
                "owner = ?",
                owner,
                expires,
                Bound::Text(held_by),
            )
            .await?
        {
            return Ok(None);
        }
        let left = until.map(|u| (u - now).max(0) / 1000).unwrap_or(0);
        Ok(Some(format!(
            "lease held by process {pid} on {host} (expires in {left}s unless renewed)"
        )))
    }

    enum Bound {
        Int(i64),
        Text(String),
    }

    /// Takes the lease row for `owner` if `condition` (with one `?`, bound last) holds.
    async fn claim<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        condition: &str,
        owner: &str,
        expires: i64,
        bound: Bound,
    ) -> Result<bool, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let sql = format!(
            "UPDATE godwit_lock SET owner = ?, host = ?, pid = ?, expires_at = ? WHERE id = 1 AND ({condition})"
        );
        let sql = placeholders(dialect, &sql);
        let query = sqlx::query(&sql)
            .bind(owner.to_string())
            .bind(hostname())
            .bind(std::process::id() as i64)
            .bind(expires);
        let query = match bound {
            Bound::Int(v) => query.bind(v),
            Bound::Text(v) => query.bind(v),
        };
        let result = query.execute(&mut *conn).await?;
        Ok(rows_affected::<DB>(&result) == 1)
    }

    /// Drives `work` while renewing the lease on the lock connection every third of its
    /// lifetime, so that one long statement cannot outlive the lease.
    pub async fn with_heartbeat<DB, T>(
        work: impl std::future::Future<Output = T>,
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> T
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = tokio::time::sleep(TTL / 3) => {
                    // A failed renewal is noticed by keep_alive() before the next statement.
                    let _ = renew::<DB>(conn, dialect, owner).await;
                }
            }
        }
    }

    /// Extends our lease; `false` when someone else owns it now.
    pub async fn renew<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> Result<bool, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let sql = placeholders(
            dialect,
            "UPDATE godwit_lock SET expires_at = ? WHERE id = 1 AND owner = ?",
        );
        let result = sqlx::query(&sql)
            .bind(now_ms() + TTL.as_millis() as i64)
            .bind(owner.to_string())
            .execute(&mut *conn)
            .await?;
        // MySQL counts changed rows: a renewal within the same millisecond changes nothing.
        Ok(rows_affected::<DB>(&result) == 1
            || dialect == Dialect::MySql && still_owner::<DB>(conn, owner).await?)
    }

    async fn still_owner<DB>(conn: &mut DB::Connection, owner: &str) -> Result<bool, sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let rows = sqlx::query("SELECT id FROM godwit_lock WHERE id = 1 AND owner = ?")
            .bind(owner.to_string())
            .fetch_all(&mut *conn)
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn release<DB>(
        conn: &mut DB::Connection,
        dialect: Dialect,
        owner: &str,
    ) -> Result<(), sqlx::Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let sql = placeholders(
            dialect,
            "UPDATE godwit_lock SET owner = NULL, host = NULL, pid = NULL, expires_at = NULL WHERE id = 1 AND owner = ?",
        );
        sqlx::query(&sql)
            .bind(owner.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
