//! MySQL and MariaDB: DDL commits implicitly, so migrations run statement by statement
//! with progress recorded after each; `GET_LOCK` serialises deployers.

pub(crate) mod backfill;
pub(crate) mod copy;
pub(crate) mod dump;
mod introspect;
pub(crate) mod replica;
pub(crate) mod shadow;

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Row};

use crate::error::{DbError, Described, SqlError};
use crate::history::{HistorySql, HistoryValue};
use crate::lock::lease;
use crate::settings::{ConnectError, ConnectSettings, LockMode, with_connect_timeout};
use crate::traits::{Admin, Driver, HistoryStore, Introspect, Lock, OPEN_ROW, Session, Timeouts};
use crate::values;
use godwit_core::Dialect;
use godwit_core::history::{HistoryRow, TABLE};
use godwit_core::value::{Rows, Value};

pub struct MySqlDriver {
    conn: MySqlConnection,
    /// What `conn` reaches the server through when plugins may run on it (see
    /// [`super::meter`]).
    meter: Option<super::meter::Meter>,
    lock_conn: MySqlConnection,
    lock_mode: LockMode,
    /// When the session holding the advisory lock last answered (see
    /// [`crate::lock::keep_lock`]).
    lock_checked: Option<std::time::Instant>,
    /// `GET_LOCK` names are server-wide, so the name carries the database.
    lock_name: String,
    mariadb: bool,
    /// The work connection's id, for `KILL QUERY` from the lock connection.
    work_id: u64,
    /// Set by [`Session::limit_statements`]: MariaDB runs each statement under it.
    statement_limit: Option<std::time::Duration>,
    owner: String,
    sql: HistorySql,
    /// The row [`HistoryStore::insert_history_open`] opened last, which the caller knows
    /// as [`OPEN_ROW`].
    opened: Opened,
    /// History writes are waiting in an open transaction on `conn` for the next DDL
    /// statement's implicit commit (see [`HistoryStore::insert_history_open`]).
    open: bool,
    /// History writes not sent yet, as literal SQL: they go in the same round trip as
    /// the next statement godwit sends on `conn`, ahead of it.
    queued: Vec<String>,
}

/// Where the id of the row opened last ([`OPEN_ROW`]) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    /// No row is open, or its INSERT failed.
    None,
    /// Its INSERT is `queued[i]`, not sent yet.
    Queued(usize),
    /// Its INSERT's OK packet came back with this id.
    Known(i64),
}

/// Queued history writes taken as the start of a multi-statement batch.
struct Batch {
    sql: String,
    /// How many statements `sql` holds.
    statements: usize,
    /// The position in the batch of the open row's INSERT, when it is in it.
    insert: Option<usize>,
}

impl MySqlDriver {
    pub(crate) async fn connect(opts: &ConnectSettings) -> Result<MySqlDriver, ConnectError> {
        let tool = opts.session;
        let options = MySqlConnectOptions::from_str(&opts.target.url)
            .map_err(|e| crate::settings::connect_error(&opts.target, e))?
            .charset("utf8mb4")
            .pipes_as_concat(tool == crate::settings::ToolSession::Sqlx)
            .no_engine_substitution(tool == crate::settings::ToolSession::Sqlx)
            .timezone((tool != crate::settings::ToolSession::Server).then(|| "+00:00".to_string()))
            .disable_statement_logging();
        let upstream = match options.get_socket() {
            Some(path) => super::meter::Upstream::Unix(path.clone()),
            None => super::meter::Upstream::Tcp(options.get_host().to_owned(), options.get_port()),
        };
        let meter = crate::settings::work_meter(
            opts,
            super::meter::Protocol::MySql,
            upstream,
            "mysql.sock",
        )
        .await?;
        let work = match &meter {
            Some(meter) => options.clone().socket(meter.socket()),
            None => options.clone(),
        };
        let mut conn = with_connect_timeout(opts, work.connect()).await?;
        let mut lock_conn = with_connect_timeout(opts, options.connect()).await?;
        if tool != crate::settings::ToolSession::Sqlx {
            // sqlx asks for IGNORE_SPACE in its handshake, whatever the options say: the
            // server's own mode, as its client and every other tool get it. And sqlx
            // names utf8mb4_unicode_ci; the client, diesel and the Go driver get the
            // server's default collation of utf8mb4, which literals then carry
            // (`CREATE TABLE … AS SELECT 'x'`, comparisons with a literal).
            sqlx::raw_sql("SET SESSION sql_mode = @@GLOBAL.sql_mode, NAMES utf8mb4")
                .execute(&mut conn)
                .await
                .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
        }
        crate::settings::init_session::<sqlx::MySql>(opts, &mut conn).await?;
        crate::settings::init_session::<sqlx::MySql>(opts, &mut lock_conn).await?;
        let row = sqlx::query(
            "SELECT VERSION(), COALESCE(DATABASE(), ''), CAST(CONNECTION_ID() AS UNSIGNED)",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
        let (version, database): (String, String) = (row.get(0), row.get(1));
        let work_id: u64 = row.get(2);
        if database.is_empty() {
            return Err(ConnectError::Refused(
                "the URL names no database; add one, e.g. mysql://root@localhost:3306/app".into(),
            ));
        }
        let sql = HistorySql::new(Dialect::MySql);
        Ok(MySqlDriver {
            conn,
            meter,
            lock_conn,
            lock_mode: opts.lock_mode,
            lock_checked: None,
            lock_name: format!("godwit:{}", database.chars().take(56).collect::<String>()),
            mariadb: version.contains("MariaDB"),
            work_id,
            statement_limit: None,
            owner: lease::owner_token(),
            sql,
            opened: Opened::None,
            open: false,
            queued: Vec::new(),
        })
    }

    /// The queued history writes as the start of a multi-statement batch; `None` when
    /// nothing is queued. Two or more go in one transaction, opened unless one is open
    /// already and left open (one durable commit for all of them, when the next
    /// statement's implicit commit or an explicit one comes); from here on it counts as
    /// open, whatever the batch does. A single write outside a transaction commits on its
    /// own, just as durably, before the server reads the next statement.
    fn take_queued(&mut self) -> Option<Batch> {
        if self.queued.is_empty() {
            return None;
        }
        let mut sql = String::new();
        let mut statements = 0;
        if !self.open && self.queued.len() > 1 {
            sql.push_str("START TRANSACTION;\n");
            statements += 1;
            self.open = true;
        }
        let insert = match self.opened {
            Opened::Queued(i) => Some(statements + i),
            _ => None,
        };
        for write in self.queued.drain(..) {
            sql.push_str(&write);
            sql.push_str(";\n");
            statements += 1;
        }
        Some(Batch {
            sql,
            statements,
            insert,
        })
    }

    /// Takes the open row's id from its INSERT's OK packet, among the results of a
    /// batch that began with `insert` in it; a batch that stopped before it leaves no
    /// row open.
    fn learn_opened(
        &mut self,
        insert: Option<usize>,
        done: &[sqlx::mysql::MySqlQueryResult],
    ) -> Result<(), SqlError> {
        let Some(at) = insert else {
            return Ok(());
        };
        self.opened = Opened::None;
        if let Some(result) = done.get(at) {
            self.opened = Opened::Known(last_insert_id(result)?);
        }
        Ok(())
    }

    /// Sends the queued writes and then `tail` in one round trip.
    async fn send_queued_then(&mut self, tail: &str) -> Result<(), SqlError> {
        let (sql, insert) = match self.take_queued() {
            Some(batch) => (batch.sql + tail, batch.insert),
            None => (tail.to_owned(), None),
        };
        let (done, failed) = self.run_batch(&sql).await;
        self.learn_opened(insert, &done)?;
        failed.map_or(Ok(()), Err)
    }

    /// Inserts a history row inside whatever transaction is open; the id comes back in
    /// the INSERT's own OK packet: no second round trip.
    async fn insert_row(&mut self, row: &HistoryRow) -> Result<i64, SqlError> {
        let done =
            crate::history::history_insert::<sqlx::MySql>(Dialect::MySql, &self.sql.insert, row)
                .execute(&mut self.conn)
                .await?;
        last_insert_id(&done)
    }

    /// Sends `batch` (statements separated by `;`) in one round trip, under the lease's
    /// heartbeat in lease mode: each statement's result, up to the first that failed, and
    /// that failure. The server stops at a failed statement.
    async fn run_batch(
        &mut self,
        batch: &str,
    ) -> (Vec<sqlx::mysql::MySqlQueryResult>, Option<SqlError>) {
        let work = async {
            let mut done = Vec::new();
            let mut results = sqlx::raw_sql(batch).execute_many(&mut self.conn);
            while let Some(result) = crate::cap::next(&mut results).await {
                match result {
                    Ok(result) => done.push(result),
                    Err(e) => return (done, Some(SqlError::from(e))),
                }
            }
            (done, None)
        };
        if self.lock_mode == LockMode::Lease {
            lease::with_heartbeat::<sqlx::MySql, _>(
                work,
                &mut self.lock_conn,
                Dialect::MySql,
                &self.owner,
            )
            .await
        } else {
            work.await
        }
    }

    /// The UPDATE of `row` as literal SQL; [`OPEN_ROW`] is the row opened last, whose
    /// INSERT is sent first if it is still queued.
    async fn update_literal(&mut self, row: &HistoryRow) -> Result<String, SqlError> {
        let mut values = crate::history::update_values(Dialect::MySql, row);
        if row.id == OPEN_ROW {
            if let Opened::Queued(_) = self.opened {
                self.settle().await?;
            }
            let Opened::Known(id) = self.opened else {
                return Err(SqlError::from(sqlx::Error::Protocol(format!(
                    "no {TABLE} row is open to record progress in: its INSERT did not succeed"
                ))));
            };
            values.pop();
            values.push(HistoryValue::Int(Some(id)));
        }
        Ok(crate::history::literal_sql(
            Dialect::MySql,
            &self.sql.update,
            &values,
        ))
    }

    /// Runs `sql` on `conn` as it is, under the lease's heartbeat in lease mode.
    async fn run(&mut self, sql: &str) -> Result<u64, SqlError> {
        let work = crate::raw::execute_raw::<sqlx::MySql>(&mut self.conn, sql);
        if self.lock_mode == LockMode::Lease {
            lease::with_heartbeat::<sqlx::MySql, _>(
                work,
                &mut self.lock_conn,
                Dialect::MySql,
                &self.owner,
            )
            .await
            .map_err(SqlError::from)
        } else {
            work.await.map_err(SqlError::from)
        }
    }
}

/// The id of the row an INSERT created, from its OK packet.
fn last_insert_id(done: &sqlx::mysql::MySqlQueryResult) -> Result<i64, SqlError> {
    i64::try_from(done.last_insert_id()).map_err(|_| {
        sqlx::Error::Protocol("the history row's id does not fit in an i64".into()).into()
    })
}

/// Statements MySQL and MariaDB commit before, as if a `COMMIT` came first: DDL on
/// tables, indexes, views, routines, triggers, events and databases, except on temporary
/// tables. Anything else (or anything not recognised) gets an explicit `COMMIT` first.
fn commits_before(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(8)
        .map(str::to_ascii_uppercase)
        .collect();
    if !matches!(
        words.first().map(String::as_str),
        Some("CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE")
    ) {
        return false;
    }
    for word in &words[1..] {
        match word.as_str() {
            "TEMPORARY" => return false,
            "TABLE" | "INDEX" | "VIEW" | "FUNCTION" | "PROCEDURE" | "TRIGGER" | "EVENT"
            | "DATABASE" | "SCHEMA" => return true,
            _ => {}
        }
    }
    false
}

impl MySqlDriver {
    /// `sql` under the bound of [`Session::limit_statements`], on MariaDB. `SET STATEMENT
    /// … FOR` is part of the statement itself: nothing is left in the session to put back
    /// afterwards, and it holds however the statement is sent (sqlx prepares it).
    fn limited(&self, sql: String) -> String {
        match self.statement_limit {
            // 0 would mean no limit at all.
            Some(limit) if self.mariadb => format!(
                "SET STATEMENT max_statement_time = {:.3} FOR {sql}",
                limit.as_secs_f64().max(0.001)
            ),
            _ => sql,
        }
    }
}

#[async_trait(?Send)]
impl Driver for MySqlDriver {
    fn transactional_ddl(&self) -> bool {
        false
    }

    async fn execute_ddl(&mut self, sql: &str) -> Result<u64, SqlError> {
        if !commits_before(sql) {
            return self.execute(sql).await;
        }
        // The server commits the open history writes before it starts the statement, so
        // they are durable before the statement can take effect; queued ones go ahead of
        // it in the same round trip, and the server stops at the first that fails. If the
        // statement fails before that commit (a syntax error), `open` stays set and the
        // next use of the connection commits explicitly; a COMMIT with nothing open does
        // nothing.
        let Some(Batch {
            sql: mut batch,
            statements: ours,
            insert,
        }) = self.take_queued()
        else {
            let n = self.run(sql).await?;
            self.open = false;
            return Ok(n);
        };
        batch.push_str(sql);
        let (done, failed) = self.run_batch(&batch).await;
        self.learn_opened(insert, &done)?;
        if let Some(e) = failed {
            return Err(e);
        }
        match done.get(ours) {
            Some(statement) => {
                self.open = false;
                Ok(statement.rows_affected())
            }
            None => Err(SqlError::from(sqlx::Error::Protocol(format!(
                "the server answered {} of the {} statements sent",
                done.len(),
                ours + 1
            )))),
        }
    }
}

#[async_trait(?Send)]
impl Lock for MySqlDriver {
    async fn try_lock(&mut self) -> Result<Option<String>, DbError> {
        if self.lock_mode == LockMode::Lease {
            return lease::try_acquire::<sqlx::MySql>(
                &mut self.lock_conn,
                Dialect::MySql,
                &self.owner,
            )
            .await
            .map_err(|e| DbError::db("cannot take the migration lease", &e));
        }
        let taken: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
            .bind(&self.lock_name)
            .fetch_one(&mut self.lock_conn)
            .await
            .map_err(|e| DbError::db("cannot take the migration lock", &e))?;
        if taken == Some(1) {
            return Ok(None);
        }
        let holder = sqlx::query(
            "SELECT p.ID, p.USER, p.HOST, p.TIME FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)",
        )
        .bind(&self.lock_name)
        .fetch_optional(&mut self.lock_conn)
        .await;
        Ok(Some(match holder {
            Ok(Some(r)) => format!(
                "GET_LOCK('{}') held by connection {} ({}@{}, connected {}s)",
                self.lock_name,
                r.try_get::<u64, _>(0).unwrap_or_default(),
                r.try_get::<String, _>(1).unwrap_or_default(),
                r.try_get::<String, _>(2).unwrap_or_default(),
                r.try_get::<i64, _>(3)
                    .or_else(|_| r.try_get::<i32, _>(3).map(i64::from))
                    .unwrap_or_default()
            ),
            _ => format!("GET_LOCK('{}') held by another connection", self.lock_name),
        }))
    }

    async fn unlock(&mut self) -> Result<(), DbError> {
        // The last history write may be waiting for a DDL statement that will not come:
        // it is durable before another deployer can take over. The lock goes either way:
        // a write that did not commit reads as in doubt, which the next deployer stops on.
        let settled = self.settle().await;
        let result = if self.lock_mode == LockMode::Lease {
            lease::release::<sqlx::MySql>(&mut self.lock_conn, Dialect::MySql, &self.owner).await
        } else {
            sqlx::query("DO RELEASE_LOCK(?)")
                .bind(&self.lock_name)
                .execute(&mut self.lock_conn)
                .await
                .map(drop)
        };
        settled.map_err(|e| DbError::db(format!("cannot record progress in {TABLE}"), &e))?;
        result.map_err(|e| DbError::db("cannot release the migration lock", &e))
    }

    async fn keep_alive(&mut self) -> Result<(), DbError> {
        crate::lock::keep_lock::<sqlx::MySql>(
            self.lock_mode,
            &mut self.lock_conn,
            &mut self.lock_checked,
            Dialect::MySql,
            &self.owner,
        )
        .await
    }

    async fn confirm_before_commit(&mut self) -> Result<(), DbError> {
        // Not the last answer, however recent: the session may have ended since.
        self.lock_checked = None;
        self.keep_alive().await
    }
}

#[async_trait(?Send)]
impl HistoryStore for MySqlDriver {
    async fn ensure_history_table(&mut self) -> Result<(), DbError> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                version VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL,
                kind VARCHAR(16) NOT NULL,
                operation VARCHAR(16) NOT NULL,
                state VARCHAR(16) NOT NULL,
                checksum VARCHAR(64) NOT NULL,
                started_at DATETIME(6) NOT NULL,
                finished_at DATETIME(6) NULL,
                duration_ms BIGINT NULL,
                applied_by VARCHAR(255) NOT NULL,
                godwit_version VARCHAR(32) NOT NULL,
                plugin_digest VARCHAR(128) NULL,
                statements_applied BIGINT NOT NULL DEFAULT 0,
                statements_total BIGINT NOT NULL DEFAULT 0,
                rows_affected BIGINT NULL,
                error TEXT NULL,
                KEY {TABLE}_version_idx (version, id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        self.execute(&ddl)
            .await
            .map(drop)
            .map_err(|e| DbError::db(format!("cannot create the history table {TABLE}"), &e))
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        self.settle()
            .await
            .map_err(|e| DbError::db(format!("cannot record progress in {TABLE}"), &e))?;
        match crate::history::fetch_history::<sqlx::MySql>(&mut self.conn, &self.sql).await {
            Ok(rows) => Ok(rows),
            Err(e) if crate::raw::is_undefined_table(&e) => Ok(Vec::new()),
            Err(e) => Err(DbError::db(format!("cannot read {TABLE}"), &e)),
        }
    }

    async fn insert_history(&mut self, row: &HistoryRow) -> Result<i64, SqlError> {
        self.settle().await?;
        self.insert_row(row).await
    }

    async fn update_history(&mut self, row: &HistoryRow) -> Result<(), SqlError> {
        self.settle().await?;
        let sql = self.update_literal(row).await?;
        self.run(&sql).await.map(drop)
    }

    async fn insert_history_open(&mut self, row: &HistoryRow) -> Result<i64, SqlError> {
        // Nothing needs the row before the next statement either: it goes in the same
        // round trip, after the writes queued before it (the previous migration's last
        // one, typically), and its id comes back in its OK packet with that statement's
        // answer, before any later write of the row is built. Should the INSERT fail, no
        // row is open: no write of this row can land on another.
        self.opened = Opened::Queued(self.queued.len());
        self.queued.push(crate::history::literal_sql(
            Dialect::MySql,
            &self.sql.insert,
            &crate::history::insert_values(Dialect::MySql, row),
        ));
        Ok(OPEN_ROW)
    }

    async fn update_history_open(&mut self, row: &HistoryRow) -> Result<(), SqlError> {
        // Nothing needs it before the next statement, which it travels with.
        let write = self.update_literal(row).await?;
        self.queued.push(write);
        Ok(())
    }

    async fn settle(&mut self) -> Result<(), SqlError> {
        if self.queued.is_empty() && !self.open {
            return Ok(());
        }
        // A COMMIT with nothing open does nothing.
        self.send_queued_then("COMMIT").await?;
        self.open = false;
        Ok(())
    }
}

#[async_trait(?Send)]
impl Session for MySqlDriver {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, SqlError> {
        self.settle().await?;
        self.run(sql).await
    }

    async fn query_i64(&mut self, sql: &str) -> Result<Option<i64>, SqlError> {
        self.settle().await?;
        crate::raw::query_i64::<sqlx::MySql>(&mut self.conn, sql)
            .await
            .map_err(SqlError::from)
    }

    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SqlError> {
        self.settle().await?;
        crate::raw::query_text::<sqlx::MySql>(&mut self.conn, sql)
            .await
            .map_err(SqlError::from)
    }

    async fn query_values(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        self.settle().await?;
        let (sql, order) = values::translate(Dialect::MySql, sql, params.len())?;
        let sql = self.limited(sql);
        let mut query = sqlx::query(&sql);
        for &i in &order {
            query = query.bind(values::Param(&params[i]));
        }
        let rows = query.fetch_all(&mut self.conn).await?;
        values::mysql_rows(&rows).map_err(SqlError::from)
    }

    async fn query_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: crate::cap::ResultCap,
    ) -> Result<Rows, SqlError> {
        self.settle().await?;
        let (sql, order) = values::translate(Dialect::MySql, sql, params.len())?;
        let sql = self.limited(sql);
        let mut query = sqlx::query(&sql);
        for &i in &order {
            query = query.bind(values::Param(&params[i]));
        }
        let armed = self.meter.as_ref().map(|m| m.arm(cap.bytes));
        let result = crate::cap::read_capped(
            query.fetch(&mut self.conn),
            cap,
            values::mysql_rows,
            crate::cap::Guard::OnArrival,
            armed.as_ref(),
        )
        .await
        .map_err(SqlError::from);
        crate::traits::settle_armed(self, armed, cap, result).await
    }

    fn meter(&self) -> Option<&super::meter::Meter> {
        self.meter.as_ref()
    }

    async fn execute_values(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.settle().await?;
        let (sql, order) = values::translate(Dialect::MySql, sql, params.len())?;
        let sql = self.limited(sql);
        let mut query = sqlx::query(&sql);
        for &i in &order {
            query = query.bind(values::Param(&params[i]));
        }
        Ok(query.execute(&mut self.conn).await?.rows_affected())
    }

    async fn limit_statements(
        &mut self,
        limit: Option<std::time::Duration>,
    ) -> Result<(), SqlError> {
        self.statement_limit = limit;
        Ok(())
    }

    async fn cancel_running(&mut self) -> Result<(), SqlError> {
        // KILL QUERY is lost on a thread that has read its statement but not yet started
        // it; so it is sent again for as long as the server shows the work connection
        // executing a statement (nothing else runs there while the host waits).
        loop {
            sqlx::raw_sql(&format!("KILL QUERY {}", self.work_id))
                .execute(&mut self.lock_conn)
                .await?;
            tokio::time::sleep(crate::traits::CANCEL_RESEND / 5).await;
            let running: Option<String> = sqlx::query_scalar(
                "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ? AND COMMAND IN ('Query', 'Execute')",
            )
            .bind(self.work_id)
            .fetch_optional(&mut self.lock_conn)
            .await?;
            if running.is_none() {
                return Ok(());
            }
            tokio::time::sleep(crate::traits::CANCEL_RESEND).await;
        }
    }

    async fn begin_read_only(&mut self) -> Result<(), SqlError> {
        self.execute("START TRANSACTION READ ONLY").await.map(drop)
    }

    async fn begin(&mut self) -> Result<(), SqlError> {
        // START TRANSACTION commits the open transaction first, history writes and all:
        // the queued ones go ahead of it in the same round trip.
        self.send_queued_then("START TRANSACTION").await?;
        self.open = false;
        Ok(())
    }

    async fn set_timeouts(&mut self, t: &Timeouts, _in_transaction: bool) -> Result<(), SqlError> {
        let mut sets = Vec::new();
        if let Some(d) = t.lock_timeout {
            // Both are whole seconds, at least 1: metadata locks (DDL) and row locks (DML).
            let secs = d.as_secs().max(1);
            sets.push(format!("lock_wait_timeout = {secs}"));
            sets.push(format!("innodb_lock_wait_timeout = {secs}"));
        }
        if let Some(d) = t.statement_timeout {
            if self.mariadb {
                sets.push(format!("max_statement_time = {}", d.as_secs_f64()));
            } else {
                sets.push(format!("max_execution_time = {}", d.as_millis()));
            }
        }
        if !sets.is_empty() {
            // Session variables, not data: they may go inside an open history write.
            self.run(&format!("SET SESSION {}", sets.join(", ")))
                .await?;
        }
        Ok(())
    }

    async fn reset_timeouts(&mut self) -> Result<(), SqlError> {
        let statement = if self.mariadb {
            "max_statement_time"
        } else {
            "max_execution_time"
        };
        self.run(&format!(
            "SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT, {statement} = DEFAULT"
        ))
        .await
        .map(drop)
    }

    fn is_lock_timeout(&self, err: &SqlError) -> bool {
        // 1205 lock wait timeout (row and metadata locks), 1213 deadlock.
        matches!(err.mysql_number(), Some(1205 | 1213))
    }
}

#[async_trait(?Send)]
impl Introspect for MySqlDriver {
    async fn introspect(&mut self) -> Result<godwit_core::schema::Schema, DbError> {
        let mariadb = self.mariadb;
        introspect::introspect(self, mariadb).await
    }

    async fn definitions(&mut self) -> Result<godwit_core::schema::Definitions, DbError> {
        let mariadb = self.mariadb;
        introspect::definitions(self, mariadb).await
    }
}

#[async_trait(?Send)]
impl Admin for MySqlDriver {
    async fn drop_everything(&mut self) -> Result<Vec<String>, DbError> {
        fn fail(e: &impl Described) -> DbError {
            DbError::db("cannot list the database's objects", e)
        }
        self.settle().await.map_err(|e| fail(&e))?;
        let mut dropped = Vec::new();
        let objects = sqlx::query(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             UNION ALL SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() \
             UNION ALL SELECT EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| fail(&e))?;
        let mut sql = String::from("SET FOREIGN_KEY_CHECKS = 0;");
        for row in objects {
            let name: String = row.try_get(0).map_err(|e| fail(&e))?;
            let kind: String = row.try_get(1).map_err(|e| fail(&e))?;
            let keyword = match kind.as_str() {
                "VIEW" | "SYSTEM VIEW" => "VIEW",
                "PROCEDURE" => "PROCEDURE",
                "FUNCTION" => "FUNCTION",
                "EVENT" => "EVENT",
                "SEQUENCE" => "SEQUENCE",
                _ => "TABLE",
            };
            sql.push_str(&format!(
                "DROP {keyword} IF EXISTS `{}`;",
                name.replace('`', "``")
            ));
            dropped.push(format!("{} {name}", keyword.to_lowercase()));
        }
        sql.push_str("SET FOREIGN_KEY_CHECKS = 1;");
        self.execute(&sql)
            .await
            .map_err(|e| DbError::db("cannot drop the database's objects", &e))?;
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::commits_before;

    #[test]
    fn only_ddl_the_server_commits_before_skips_the_explicit_commit() {
        for sql in [
            "CREATE TABLE t (id INT)",
            "create table if not exists t(id int)",
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            "CREATE UNIQUE INDEX i ON t (a)",
            "CREATE DEFINER=`root`@`localhost` FUNCTION f() RETURNS INT RETURN 1",
            "ALTER TABLE t ADD COLUMN c INT",
            "DROP TABLE IF EXISTS t",
            "RENAME TABLE a TO b",
            "TRUNCATE TABLE t",
        ] {
            assert!(commits_before(sql), "{sql}");
        }
        for sql in [
            "CREATE TEMPORARY TABLE t (id INT)",
            "CREATE OR REPLACE TEMPORARY TABLE t (id INT)",
            "DROP TEMPORARY TABLE t",
            "CALL p()",
            "SET @x = 1",
            "DO SLEEP(1)",
            "TRUNCATE t",
            "INSERT INTO t VALUES (1)",
            "",
        ] {
            assert!(!commits_before(sql), "{sql}");
        }
    }
}
