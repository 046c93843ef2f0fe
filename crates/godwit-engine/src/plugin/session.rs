//! The database session a plugin borrows for one call, bridged across threads.
//!
//! A plugin runs on a blocking thread (Wasm execution is synchronous), while the
//! connection lives on the async side, inside the transaction the host opened. Each
//! `session.query`/`execute` is checked against the plugin's capabilities on the plugin's
//! thread — a statement the host cannot prove allowed never leaves it — then sent as a
//! [`Request`] to [`serve`], which runs it on the connection and sends the answer back.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::SessionHandler;
use super::capability::Capabilities;
use super::wit::latest::types;
use godwit_core::Dialect;
use godwit_core::value::{Rows, Value};
use godwit_db::{Scope, Session, SqlError, SqlErrorKind};

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

/// Runs the plugin's statements on `driver`, each confined by the database to what the
/// plugin was granted (see [`Confinement`]), until `call` (the plugin's thread) ends, and
/// returns what it returned. After a statement escaped its confinement, no further
/// statement runs and `confinement.escaped` says why: the caller must roll back.
pub async fn serve<T>(
    driver: &mut dyn Session,
    confinement: &mut Confinement,
    mut requests: mpsc::UnboundedReceiver<Request>,
    call: tokio::task::JoinHandle<T>,
) -> Result<T, tokio::task::JoinError> {
    tokio::pin!(call);
    let mut open = true;
    let pinned = pin_quoting(driver).await;
    let done = loop {
        tokio::select! {
            request = requests.recv(), if open => match request {
                Some(request) => run(driver, confinement, request, pinned.as_ref().err()).await,
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

/// After the host gave up on a call while [`serve`] ran it (its deadline fired): cancels
/// the statement the plugin may still have running on the server ([`Session::cancel_running`])
/// and takes the connection back from the plugin — no time bound, no confinement, the
/// operator's quoting rules — for the ROLLBACK that must follow. On PostgreSQL the
/// aborted transaction refuses those steps, and the ROLLBACK undoes them all anyway.
pub async fn abandon(driver: &mut dyn Session) -> Result<(), SqlError> {
    let cancelled = driver.cancel_running().await;
    let _ = driver.limit_statements(None).await;
    // SQLite's authorizer would refuse the ROLLBACK itself.
    let _ = driver.unconfine().await;
    let _ = unpin_quoting(driver).await;
    cancelled
}

/// Pins how the server reads quotes for the plugin's statements, to the rules the
/// capability checker reads them by (whatever godwit.toml's `init_sql` chose):
/// MySQL/MariaDB without ANSI_QUOTES and without NO_BACKSLASH_ESCAPES (a `"` is a string,
/// a backslash escapes), PostgreSQL with `standard_conforming_strings = on` (a backslash
/// in `'…'` is itself). The checker refuses backslashes in strings anyway; this is the
/// second line. The previous values are kept in the session and restored after the call.
async fn pin_quoting(driver: &mut dyn Session) -> Result<(), String> {
    let (statements, _) = godwit_db::plugin_quoting_sql(driver.dialect());
    for sql in statements {
        driver.execute_values(sql, &[]).await.map_err(|e| {
            format!(
                "the host could not set the session's quoting rules: {}",
                godwit_db::describe_db_error(&e)
            )
        })?;
    }
    Ok(())
}

async fn unpin_quoting(driver: &mut dyn Session) -> Result<(), SqlError> {
    let (_, statements) = godwit_db::plugin_quoting_sql(driver.dialect());
    for sql in statements {
        driver.execute_values(sql, &[]).await?;
    }
    Ok(())
}

async fn run(
    driver: &mut dyn Session,
    confinement: &mut Confinement,
    request: Request,
    unpinned: Option<&String>,
) {
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
            let result = confinement.query(driver, &sql, &params).await;
            let _ = reply.send(result.map_err(ConfinedError::for_plugin));
        }
        Kind::Execute(reply) => {
            let result = confinement.execute(driver, &sql, &params).await;
            let _ = reply.send(result.map_err(ConfinedError::for_plugin));
        }
    }
}

/// A plugin's statements (or the host's statements built from a plugin's description)
/// running under the database-side enforcement of its grants.
///
/// Around each statement: [`Session::confine`] (SQLite's authorizer, PostgreSQL's `SET
/// LOCAL ROLE`), the statement, [`Session::check_confined`] (did it change role or
/// search_path?), [`Session::unconfine`] — all on the open transaction, so the batch and
/// its checkpoint stay one transaction. The full database error of a failed statement is
/// kept in `notes` for godwit's own output; the plugin gets only its class (see
/// [`generic_error`]), since a server's message can quote the data a write-only grant
/// must not reveal.
pub struct Confinement {
    scope: Arc<dyn Scope>,
    /// Full errors and what the database refused, for the operator; never the plugin's.
    pub notes: Vec<String>,
    /// Why a statement got out of its confinement; the batch must be rolled back.
    pub escaped: Option<String>,
    /// The cap a query's result passed. The plugin got an error instead of the rows, but
    /// may have gone on without them: whatever it did next rests on data it never saw, so
    /// the batch must be rolled back (see [`Confinement::stopped_result`]).
    pub too_large: Option<godwit_db::ResultCap>,
    /// How much of a query's result is read for the plugin; `None` reads it all.
    cap: Option<godwit_db::ResultCap>,
    /// Set by [`Confinement::until`]: each statement may run for what is left until then.
    deadline: Option<Instant>,
}

/// Why a confined statement failed.
#[derive(Debug)]
pub enum ConfinedError {
    /// The database refused or failed the statement.
    Database(SqlError),
    /// The statement got out of its confinement (or the confinement could not be set up
    /// or lifted); nothing it returned was handed on.
    Escaped(String),
    /// The result passed the cap set by the plugin's memory limit; it was not read further
    /// and nothing of it was handed on.
    TooLarge(godwit_db::ResultCap),
    /// The deadline of [`Confinement::until`] has passed; the statement was not run.
    OutOfTime,
}

const OUT_OF_TIME: &str = "the call's time limit is used up; the statement was not run";

impl std::fmt::Display for ConfinedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfinedError::Database(e) => f.write_str(&godwit_db::describe_db_error(e)),
            ConfinedError::Escaped(why) => {
                write!(f, "the statement escaped its database confinement: {why}")
            }
            ConfinedError::TooLarge(cap) => write!(
                f,
                "the result is larger than the host reads for this plugin ({} rows or {} bytes, from its memory limit)",
                cap.rows, cap.bytes
            ),
            ConfinedError::OutOfTime => f.write_str(OUT_OF_TIME),
        }
    }
}

impl ConfinedError {
    /// What the plugin is told: never the server's message.
    fn for_plugin(self) -> String {
        match self {
            ConfinedError::Database(e) => generic_error(&e),
            ConfinedError::Escaped(_) => {
                "refused: the statement left its database confinement; the batch is rolled back"
                    .to_owned()
            }
            ConfinedError::TooLarge(cap) => format!(
                "refused: the result is larger than the host hands this plugin ({} rows or {} bytes, set by its memory limit); select fewer rows or columns, or page with LIMIT",
                cap.rows, cap.bytes
            ),
            ConfinedError::OutOfTime => format!("refused: {OUT_OF_TIME}"),
        }
    }
}

enum Op<'a> {
    Query(&'a [Value]),
    Execute(&'a [Value]),
    TextArrays(Vec<Vec<Option<String>>>),
}

enum Answer {
    Rows(Rows),
    Count(u64),
}

impl Confinement {
    pub fn new(scope: Arc<dyn Scope>) -> Confinement {
        Confinement {
            scope,
            notes: Vec::new(),
            escaped: None,
            too_large: None,
            cap: None,
            deadline: None,
        }
    }

    /// Reads no more of a query's result than a plugin with `limits` could be handed: see
    /// [`godwit_db::ResultCap::for_memory`].
    pub fn capped(mut self, limits: &super::Limits) -> Confinement {
        self.cap = Some(godwit_db::ResultCap::for_memory(
            limits.memory_bytes.min(super::POOL_MAX_MEMORY),
        ));
        self
    }

    /// Bounds every statement to what is left of the time until `deadline` (the end of a
    /// plugin call's time limit), enforced by the database ([`Session::limit_statements`]):
    /// none outlives the call on the server, even if godwit is killed while it runs.
    pub fn until(mut self, deadline: Instant) -> Confinement {
        self.deadline = Some(deadline);
        self
    }

    /// Why the call's work cannot be kept after a query's result passed the cap, whether
    /// or not the plugin passed the error on: it went on without rows it asked for.
    /// `plugin` is its name in godwit.toml.
    pub fn stopped_result(&self, plugin: &str) -> Option<String> {
        self.too_large.map(|cap| {
            format!(
                "a query's result was larger than the host hands this plugin ({} rows or {} bytes, set by its memory limit), so the plugin worked without it; \
                 select fewer rows or columns, page with LIMIT, or raise [plugins.{}.limits] memory",
                cap.rows, cap.bytes, plugin
            )
        })
    }

    /// [`Session::prepare_scope`] for this confinement's grants, before the first batch and
    /// outside any transaction.
    /// Nothing to prepare when the operator chose the checker alone.
    pub async fn prepare(&self, driver: &mut dyn Session) -> Result<(), crate::error::Error> {
        if self.checker_only() {
            return Ok(());
        }
        Ok(driver.prepare_scope(self.scope.as_ref()).await?)
    }

    /// `enforcement = "checker-only"`: statements run as godwit's own, after the checker.
    fn checker_only(&self) -> bool {
        self.scope.enforcement() == godwit_db::Enforcement::CheckerOnly
    }

    /// A confined [`Session::query_values`].
    pub async fn query(
        &mut self,
        driver: &mut dyn Session,
        sql: &str,
        params: &[Value],
    ) -> Result<Rows, ConfinedError> {
        match self.run(driver, sql, Op::Query(params)).await? {
            Answer::Rows(rows) => Ok(rows),
            Answer::Count(_) => unreachable!("a query answers rows"),
        }
    }

    /// A confined [`Session::execute_values`].
    pub async fn execute(
        &mut self,
        driver: &mut dyn Session,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, ConfinedError> {
        match self.run(driver, sql, Op::Execute(params)).await? {
            Answer::Count(n) => Ok(n),
            Answer::Rows(_) => unreachable!("an execute answers a count"),
        }
    }

    /// A confined [`Session::execute_text_arrays`].
    pub async fn execute_text_arrays(
        &mut self,
        driver: &mut dyn Session,
        sql: &str,
        columns: Vec<Vec<Option<String>>>,
    ) -> Result<u64, ConfinedError> {
        match self.run(driver, sql, Op::TextArrays(columns)).await? {
            Answer::Count(n) => Ok(n),
            Answer::Rows(_) => unreachable!("an execute answers a count"),
        }
    }

    async fn run(
        &mut self,
        driver: &mut dyn Session,
        sql: &str,
        op: Op<'_>,
    ) -> Result<Answer, ConfinedError> {
        if let Some(why) = &self.escaped {
            return Err(ConfinedError::Escaped(why.clone()));
        }
        let Some(deadline) = self.deadline else {
            return self.confined(driver, sql, op).await;
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConfinedError::OutOfTime);
        }
        if let Err(e) = driver.limit_statements(Some(left)).await {
            self.notes.push(format!(
                "cannot bound the time of `{}`: {}",
                sql.trim(),
                godwit_db::describe_db_error(&e)
            ));
            return Err(ConfinedError::Database(e));
        }
        let result = self.confined(driver, sql, op).await;
        let lifted = driver.limit_statements(None).await;
        match (result, lifted) {
            // A failed statement aborted PostgreSQL's transaction, which refuses every
            // statement until ROLLBACK; the bound ends with it.
            (Err(e), _) => Err(e),
            (Ok(answer), Ok(())) => Ok(answer),
            // Nothing it returned is handed on: the host's own statements would run
            // under the plugin's bound.
            (Ok(_), Err(e)) => {
                self.notes.push(format!(
                    "cannot lift the time bound after `{}`: {}",
                    sql.trim(),
                    godwit_db::describe_db_error(&e)
                ));
                Err(ConfinedError::Database(e))
            }
        }
    }

    /// One statement between [`Session::confine`] and [`Session::unconfine`], or as it is
    /// when the operator chose the checker alone.
    async fn confined(
        &mut self,
        driver: &mut dyn Session,
        sql: &str,
        op: Op<'_>,
    ) -> Result<Answer, ConfinedError> {
        if self.checker_only() {
            let result = send(driver, sql, op, self.cap).await;
            return result.map_err(|e| self.failed(sql, e, None));
        }
        if let Err(e) = driver.confine(&self.scope).await {
            let why = format!(
                "cannot enter the database confinement: {}",
                godwit_db::describe_db_error(&e)
            );
            return Err(self.escape(driver, why).await);
        }
        let result = send(driver, sql, op, self.cap).await;
        let denied = driver.take_denial();
        // Checked before anything the statement returned is handed on. A statement that
        // failed returned nothing, and on PostgreSQL its error aborted the transaction,
        // which put the role back already and refuses every statement until ROLLBACK.
        let failed = result.is_err();
        let check = if failed {
            Ok(None)
        } else {
            driver.check_confined().await
        };
        let lifted = driver
            .unconfine()
            .await
            .or_else(|e| if failed { Ok(()) } else { Err(e) });
        match (check, lifted) {
            (Ok(None), Ok(())) => {}
            (Ok(Some(changed)), _) => return Err(self.escape(driver, changed).await),
            (Err(e), _) | (_, Err(e)) => {
                let why = format!(
                    "cannot verify or lift the database confinement: {}",
                    godwit_db::describe_db_error(&e)
                );
                return Err(self.escape(driver, why).await);
            }
        }
        result.map_err(|e| self.failed(sql, e, denied))
    }

    /// Keeps the full error (and what the database refused) for the operator.
    fn failed(&mut self, sql: &str, e: SqlError, denied: Option<String>) -> ConfinedError {
        if let Some(too_large) = e.too_large() {
            self.notes
                .push(format!("`{}` stopped: {too_large}", sql.trim()));
            self.too_large = Some(too_large.cap);
            return ConfinedError::TooLarge(too_large.cap);
        }
        let mut note = format!(
            "`{}` failed: {}",
            sql.trim(),
            godwit_db::describe_db_error(&e)
        );
        if let Some(denied) = denied {
            note.push_str(&format!(" (the database refused {denied})"));
        }
        self.notes.push(note);
        ConfinedError::Database(e)
    }

    async fn escape(&mut self, driver: &mut dyn Session, why: String) -> ConfinedError {
        // Whatever state the session is in, no further statement of this batch runs; the
        // caller rolls the transaction back, which also ends a SET LOCAL ROLE.
        let _ = driver.unconfine().await;
        self.escaped.get_or_insert_with(|| why.clone());
        self.notes.push(format!("stopped: {why}"));
        ConfinedError::Escaped(why)
    }
}

/// Runs one statement of `op`'s kind on `driver`, as it is.
async fn send(
    driver: &mut dyn Session,
    sql: &str,
    op: Op<'_>,
    cap: Option<godwit_db::ResultCap>,
) -> Result<Answer, SqlError> {
    match op {
        Op::Query(params) => match cap {
            Some(cap) => driver.query_values_capped(sql, params, cap).await,
            None => driver.query_values(sql, params).await,
        }
        .map(Answer::Rows),
        Op::Execute(params) => match cap {
            Some(cap) => driver.execute_values_capped(sql, params, cap).await,
            None => driver.execute_values(sql, params).await,
        }
        .map(Answer::Count),
        Op::TextArrays(columns) => driver
            .execute_text_arrays(sql, columns)
            .await
            .map(Answer::Count),
    }
}

/// A failed statement as a plugin sees it: the error class and code, never the server's
/// message, which can quote values (`invalid input syntax for type integer: "s3cret"`)
/// that a write-only grant must not reveal. godwit's own output gets the full error.
pub fn generic_error(e: &SqlError) -> String {
    match e.kind() {
        SqlErrorKind::Server { code } => {
            let code = code.unwrap_or_default();
            let class = if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
                sqlite_class(code.parse().unwrap_or_default())
            } else {
                sqlstate_class(&code)
            };
            format!("database error {code} ({class})")
        }
        // Host-made messages about the statement's own text and parameter count.
        SqlErrorKind::Argument { message } => format!("database error: {message}"),
        SqlErrorKind::Decode | SqlErrorKind::TooLarge => {
            "database error (a result value could not be decoded)".to_owned()
        }
        SqlErrorKind::Other => "database error (the statement could not be run)".to_owned(),
    }
}

/// SQLSTATE classes (PostgreSQL, MySQL/MariaDB), by their first two characters.
fn sqlstate_class(code: &str) -> &'static str {
    match code.get(..2).unwrap_or_default() {
        "08" => "connection exception",
        "0A" => "feature not supported",
        "21" => "cardinality violation",
        "22" => "data exception",
        "23" => "integrity constraint violation",
        "25" => "invalid transaction state",
        "28" => "invalid authorization",
        "40" => "transaction rollback",
        "42" => "syntax error or access rule violation",
        "53" => "insufficient resources",
        "54" => "program limit exceeded",
        "55" => "object not in prerequisite state",
        "57" => "operator intervention",
        "HY" => "general error",
        "XX" => "internal error",
        _ => "database error",
    }
}

/// SQLite result codes, by their primary code (the low byte of an extended one).
fn sqlite_class(code: i64) -> &'static str {
    match code & 0xff {
        1 => "SQL error",
        5 => "database busy",
        6 => "table locked",
        9 => "interrupted",
        13 => "database full",
        18 => "value too big",
        19 => "constraint violation",
        20 => "datatype mismatch",
        23 => "not authorized",
        25 => "parameter out of range",
        _ => "database error",
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

#[cfg(test)]
mod confine_tests;
