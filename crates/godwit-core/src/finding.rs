//! One type for everything a check can say: built-in lint rules, validator plugins and
//! `plan` all produce [`Finding`]s, so reporters and exit codes treat them alike.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    /// Blocks deploy (exit 4).
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Where a finding points.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// `20261121090000_create_users`, when the finding is about a migration.
    pub migration: Option<String>,
    pub file: Option<PathBuf>,
    /// 1-based line of the statement's first token.
    pub line: Option<usize>,
    /// 1-based statement number within the file.
    pub statement: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Kebab-case rule name, e.g. `ban-drop-column`.
    pub rule: String,
    /// Stable code, e.g. `GW101`; never reused for another rule.
    pub code: String,
    pub severity: Severity,
    /// Names the table and the lock at risk.
    pub message: String,
    pub location: Location,
    /// The safe pattern, in a sentence or two.
    pub help: Option<String>,
    /// Where the rule's documentation lives.
    pub doc: Option<String>,
    /// `godwit` for built-in rules, else the plugin's name.
    pub source: String,
}
