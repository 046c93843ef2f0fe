//! What the host offers plugins: `log`, `config` and the `session` resource.
//!
//! Every import runs on the plugin's thread, against the call's [`State`]. The session
//! only forwards statements to a [`SessionHandler`] the caller lent for this one call; a
//! call without one (a notifier, `transform`) has no database at all, and a read-only
//! session refuses `execute` before the handler sees it.

use wasmtime::component::{HasSelf, Linker, Resource};

use crate::handler::{LogLine, SessionHandler};
use crate::sandbox::State;
use crate::text::sanitize;
use crate::wit::Session;
use crate::wit::latest::host::{self, Level};
use crate::wit::latest::types::{Row, Value};
use crate::wit::since_v0_1_0::host as old;

/// Bytes of `log` output kept per call; the first lines are kept, the rest counted.
pub const LOG_CAP: usize = 64 * 1024;

/// The longest single log message kept; longer ones are cut and marked.
const LOG_LINE_CAP: usize = 4 * 1024;

impl host::Host for State {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.push_log(level, message);
    }

    fn config(&mut self) -> Vec<(String, Value)> {
        self.context.settings.clone()
    }
}

impl host::HostSession for State {
    fn query(
        &mut self,
        session: Resource<Session>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, String> {
        self.session_handler(&session)?.query(&sql, params)
    }

    fn execute(
        &mut self,
        session: Resource<Session>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<u64, String> {
        let read_only = self
            .table
            .get(&session)
            .map(|s| s.read_only)
            .unwrap_or(true);
        if read_only {
            return Err(format!(
                "refused: this session is read-only, so `execute` cannot run: {}",
                first_line(&sql)
            ));
        }
        self.session_handler(&session)?.execute(&sql, params)
    }

    fn drop(&mut self, session: Resource<Session>) -> wasmtime::Result<()> {
        self.table.delete(session)?;
        Ok(())
    }
}

impl State {
    fn session_handler(
        &mut self,
        session: &Resource<Session>,
    ) -> Result<&mut (dyn SessionHandler + 'static), String> {
        if self.table.get(session).is_err() {
            return Err("refused: this session handle is not valid in this call".to_owned());
        }
        self.context
            .session
            .as_deref_mut()
            .ok_or_else(|| "refused: this call has no database session".to_owned())
    }

    pub(crate) fn push_log(&mut self, level: &'static str, message: String) {
        let mut message = sanitize(&message);
        if self.log_bytes >= LOG_CAP {
            self.logs_dropped += 1;
            return;
        }
        if message.len() > LOG_LINE_CAP {
            let mut end = LOG_LINE_CAP;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str(" […]");
        }
        self.log_bytes += message.len();
        self.logs.push(LogLine { level, message });
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or("")
}

// `host@0.1.0`, the adapter: each call goes to the latest implementation above (the
// functions did not change; only their `Level` is a type of each version's own).
impl old::Host for State {
    fn log(&mut self, level: old::Level, message: String) {
        let level = match level {
            old::Level::Trace => Level::Trace,
            old::Level::Debug => Level::Debug,
            old::Level::Info => Level::Info,
            old::Level::Warn => Level::Warn,
            old::Level::Error => Level::Error,
        };
        host::Host::log(self, level, message);
    }

    fn config(&mut self) -> Vec<(String, Value)> {
        host::Host::config(self)
    }
}

impl old::HostSession for State {
    fn query(
        &mut self,
        session: Resource<Session>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, String> {
        host::HostSession::query(self, session, sql, params)
    }

    fn execute(
        &mut self,
        session: Resource<Session>,
        sql: String,
        params: Vec<Value>,
    ) -> Result<u64, String> {
        host::HostSession::execute(self, session, sql, params)
    }

    fn drop(&mut self, session: Resource<Session>) -> wasmtime::Result<()> {
        host::HostSession::drop(self, session)
    }
}

/// Adds the `host` interface of every supported version to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    host::add_to_linker::<State, HasSelf<State>>(linker, |state| state)?;
    old::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
}
