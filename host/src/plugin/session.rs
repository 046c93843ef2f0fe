//! The database session a plugin borrows for one call, bridged across threads.
//!
//! A plugin runs on a blocking thread (Wasm execution is synchronous), while the
//! connection lives on the async side, inside the transaction the host opened. Each
//! `session.query`/`execute` is checked against the plugin's capabilities on the plugin's
//! thread — a statement the host cannot prove allowed never leaves it — then sent as a
//! [`Request`] to [`serve`], which runs it on the connection and sends the answer back.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::bindings::types;
use super::capability::Capabilities;
use super::imports::SessionHandler;
use crate::Dialect;
use crate::driver::Driver;
use crate::value::{Rows, Value};

/// A statement on its way from the plugin's thread to the connection.
#[derive(Debug)]
pub struct Request {
    sql: String,
    params: Vec<Value>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Query(oneshot::Sender<Result<Rows, String>>),
    Execute(oneshot::Sender<Result<u64, String>>),
}

/// The plugin's end: checks, forwards, waits.
pub struct Bridge {
    requests: mpsc::UnboundedSender<Request>,
    capabilities: Arc<Capabilities>,
    dialect: Dialect,
    read_only: bool,
}

/// A bridge and the receiver [`serve`] drains.
pub fn bridge(
    capabilities: Arc<Capabilities>,
    dialect: Dialect,
    read_only: bool,
) -> (Bridge, mpsc::UnboundedReceiver<Request>) {
    let (requests, receiver) = mpsc::unbounded_channel();
    (
        Bridge {
            requests,
            capabilities,
            dialect,
            read_only,
        },
        receiver,
    )
}

const GONE: &str = "the host ended this call's database session";

impl SessionHandler for Bridge {
    fn query(&mut self, sql: &str, params: Vec<types::Value>) -> Result<Vec<types::Row>, String> {
        self.capabilities
            .check_query(self.dialect, sql)
            .map_err(|denied| format!("refused: {denied}"))?;
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request {
                sql: sql.to_owned(),
                params: params.into_iter().map(Value::from).collect(),
                kind: Kind::Query(reply),
            })
            .map_err(|_| GONE.to_owned())?;
        let rows = answer.blocking_recv().map_err(|_| GONE.to_owned())??;
        Ok(to_wit_rows(rows))
    }

    fn execute(&mut self, sql: &str, params: Vec<types::Value>) -> Result<u64, String> {
        self.capabilities
            .check_execute(self.dialect, sql, self.read_only)
            .map_err(|denied| format!("refused: {denied}"))?;
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request {
                sql: sql.to_owned(),
                params: params.into_iter().map(Value::from).collect(),
                kind: Kind::Execute(reply),
            })
            .map_err(|_| GONE.to_owned())?;
        answer.blocking_recv().map_err(|_| GONE.to_owned())?
    }
}

/// Runs the plugin's statements on `driver` until `call` (the plugin's thread) ends, and
/// returns what it returned.
pub async fn serve<T>(
    driver: &mut dyn Driver,
    mut requests: mpsc::UnboundedReceiver<Request>,
    call: tokio::task::JoinHandle<T>,
) -> Result<T, tokio::task::JoinError> {
    tokio::pin!(call);
    let mut open = true;
    let pinned = pin_quoting(driver).await;
    let done = loop {
        tokio::select! {
            request = requests.recv(), if open => match request {
                Some(request) => run(driver, request, pinned.as_ref().err()).await,
                None => open = false,
            },
            done = &mut call => break done,
        }
    };
    if pinned.is_ok() {
        // Back to the operator's settings (init_sql) for godwit's own statements. If this
        // fails the transaction is broken and the batch fails on its next statement.
        let _ = unpin_quoting(driver).await;
    }
    done
}

/// Pins how the server reads quotes for the plugin's statements, to the rules the
/// capability checker reads them by (whatever godwit.toml's `init_sql` chose):
/// MySQL/MariaDB without ANSI_QUOTES and without NO_BACKSLASH_ESCAPES (a `"` is a string,
/// a backslash escapes), PostgreSQL with `standard_conforming_strings = on` (a backslash
/// in `'…'` is itself). The checker refuses backslashes in strings anyway; this is the
/// second line. The previous values are kept in the session and restored after the call.
async fn pin_quoting(driver: &mut dyn Driver) -> Result<(), String> {
    let statements: &[&str] = match driver.dialect() {
        Dialect::MySql => &[
            "SET @godwit_plugin_saved_sql_mode = @@SESSION.sql_mode",
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
        ],
        Dialect::Postgres => &[
            "SELECT set_config('godwit.plugin_saved_scs', current_setting('standard_conforming_strings'), false)",
            "SET standard_conforming_strings = on",
        ],
        Dialect::Sqlite => &[],
    };
    for sql in statements {
        driver.execute_values(sql, &[]).await.map_err(|e| {
            format!(
                "the host could not set the session's quoting rules: {}",
                database_error(&e)
            )
        })?;
    }
    Ok(())
}

async fn unpin_quoting(driver: &mut dyn Driver) -> Result<(), sqlx::Error> {
    let statements: &[&str] = match driver.dialect() {
        Dialect::MySql => &["SET SESSION sql_mode = @godwit_plugin_saved_sql_mode"],
        Dialect::Postgres => &[
            "SELECT set_config('standard_conforming_strings', current_setting('godwit.plugin_saved_scs'), false)",
        ],
        Dialect::Sqlite => &[],
    };
    for sql in statements {
        driver.execute_values(sql, &[]).await?;
    }
    Ok(())
}

async fn run(driver: &mut dyn Driver, request: Request, unpinned: Option<&String>) {
    let Request { sql, params, kind } = request;
    // Without the pinned quoting rules the checker's reading is not the server's: refuse.
    if let Some(why) = unpinned {
        let why = why.clone();
        match kind {
            Kind::Query(reply) => {
                let _ = reply.send(Err(why));
            }
            Kind::Execute(reply) => {
                let _ = reply.send(Err(why));
            }
        }
        return;
    }
    match kind {
        Kind::Query(reply) => {
            let result = driver
                .query_values(&sql, &params)
                .await
                .map_err(|e| database_error(&e));
            let _ = reply.send(result);
        }
        Kind::Execute(reply) => {
            let result = driver
                .execute_values(&sql, &params)
                .await
                .map_err(|e| database_error(&e));
            let _ = reply.send(result);
        }
    }
}

fn database_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!("database error: {}", db.message()),
        other => format!("database error: {other}"),
    }
}

/// Rows as the plugin sees them: each cell named.
pub fn to_wit_rows(rows: Rows) -> Vec<types::Row> {
    let Rows { columns, rows } = rows;
    rows.into_iter()
        .map(|row| {
            columns
                .iter()
                .zip(row)
                .map(|(name, value)| types::Column {
                    name: name.clone(),
                    value: value.into(),
                })
                .collect()
        })
        .collect()
}

impl From<types::Value> for Value {
    fn from(value: types::Value) -> Value {
        match value {
            types::Value::Null => Value::Null,
            types::Value::Boolean(b) => Value::Bool(b),
            types::Value::Int(i) => Value::Int(i),
            types::Value::Float(f) => Value::Float(f),
            types::Value::Text(t) => Value::Text(t),
            types::Value::Bytes(b) => Value::Bytes(b),
            types::Value::Json(j) => Value::Json(j),
            types::Value::Timestamp(t) => Value::Timestamp(t),
        }
    }
}

impl From<Value> for types::Value {
    fn from(value: Value) -> types::Value {
        match value {
            Value::Null => types::Value::Null,
            Value::Bool(b) => types::Value::Boolean(b),
            Value::Int(i) => types::Value::Int(i),
            Value::Float(f) => types::Value::Float(f),
            Value::Text(t) => types::Value::Text(t),
            Value::Bytes(b) => types::Value::Bytes(b),
            Value::Json(j) => types::Value::Json(j),
            Value::Timestamp(t) => types::Value::Timestamp(t),
        }
    }
}
