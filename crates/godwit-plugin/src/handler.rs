//! What a caller lends a plugin's call, and what it gets back from the plugin's logging.

use crate::wit::latest::types::{Row, Value};

/// The host side of `host.session`: one per call that needs the database.
///
/// Implementations check each statement against the plugin's grants (failing closed)
/// before anything reaches the database, and answer with the message the plugin sees.
pub trait SessionHandler: Send {
    fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, String>;
    fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, String>;
}

/// One line a plugin logged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}
