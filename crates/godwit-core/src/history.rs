//! The history table's rows, and what they mean for each migration.
//!
//! The table is append-only: every attempt, revert and manual resolution is a row, and
//! a migration's state is the state of its newest row. That keeps `history --stats`
//! honest (failures are never overwritten) and makes every change auditable.

use serde::Serialize;

use crate::source::{Migration, Version};

/// The history table's name on every database.
pub const TABLE: &str = "godwit_migrations";

/// What a history row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Statements are being applied outside a transaction, or the deployer died doing so.
    Running,
    Applied,
    Failed,
    RolledBack,
    /// `resolve --continue`: the next deploy resumes after the statement that failed.
    Resumable,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Running => "running",
            RowState::Applied => "applied",
            RowState::Failed => "failed",
            RowState::RolledBack => "rolled_back",
            RowState::Resumable => "resumable",
        }
    }

    pub fn parse(text: &str) -> Option<RowState> {
        Some(match text {
            "running" => RowState::Running,
            "applied" => RowState::Applied,
            "failed" => RowState::Failed,
            "rolled_back" => RowState::RolledBack,
            "resumable" => RowState::Resumable,
            _ => return None,
        })
    }
}

/// Why a row was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Deploy,
    Down,
    Resolve,
    Baseline,
    /// Recorded from another tool's history table by `godwit adopt`.
    Adopt,
    /// A restore from a backup undid the migration (`deploy --restore-on-failure`).
    Restore,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Deploy => "deploy",
            Operation::Down => "down",
            Operation::Resolve => "resolve",
            Operation::Baseline => "baseline",
            Operation::Adopt => "adopt",
            Operation::Restore => "restore",
        }
    }
}

/// One row of `godwit_migrations`. Timestamps are RFC 3339 in UTC.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryRow {
    pub id: i64,
    pub version: String,
    pub name: String,
    pub kind: String,
    pub operation: String,
    pub state: String,
    pub checksum: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub applied_by: String,
    pub godwit_version: String,
    pub plugin_digest: Option<String>,
    pub statements_applied: i64,
    pub statements_total: i64,
    pub rows_affected: Option<i64>,
    pub error: Option<String>,
}

impl HistoryRow {
    pub fn row_state(&self) -> Option<RowState> {
        RowState::parse(&self.state)
    }

    /// A `down` whose down.sql failed in a transaction that was rolled back: the
    /// migration stays applied, and this row says so, with the error.
    pub fn is_rolled_back_down(&self) -> bool {
        self.operation == Operation::Down.as_str()
            && self.row_state() == Some(RowState::Applied)
            && self.error.is_some()
    }
}

/// What `status` shows for a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Applied,
    Failed,
    RolledBack,
    /// Applied, but the file's checksum differs from the one recorded.
    Modified,
    /// Applied, but its directory is gone.
    Missing,
    /// Pending, yet older than a migration already applied.
    OutOfOrder,
    /// A deployer is applying it right now, or died while doing so.
    Running,
    /// Waiting for deploy to continue after `resolve --continue`.
    Resumable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::RolledBack => "rolled back",
            Status::Modified => "modified",
            Status::Missing => "missing",
            Status::OutOfOrder => "out of order",
            Status::Running => "running",
            Status::Resumable => "resumable",
        }
    }

    /// Needs a person before deploy can go on.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Status::Failed
                | Status::Modified
                | Status::Missing
                | Status::OutOfOrder
                | Status::Running
        )
    }

    /// Will be (re-)applied by the next deploy.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::Pending | Status::RolledBack | Status::Resumable
        )
    }
}

/// A migration as `status` reports it: the file (if any) and its newest history row (if any).
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub version: Version,
    pub name: String,
    pub status: Status,
    pub migration: Option<&'a Migration>,
    pub row: Option<&'a HistoryRow>,
}

/// Matches files with history. Rows must be in insertion order (ascending id).
pub fn entries<'a>(migrations: &'a [Migration], rows: &'a [HistoryRow]) -> Vec<Entry<'a>> {
    let mut latest: std::collections::BTreeMap<Version, &HistoryRow> = Default::default();
    for row in rows {
        if let Some(v) = Version::parse(&row.version) {
            latest.insert(v, row);
        }
    }
    // Repeatables sort after every versioned migration; they cannot make others late.
    let newest_applied = latest
        .iter()
        .filter(|(v, r)| r.row_state() == Some(RowState::Applied) && !v.is_repeatable())
        .map(|(v, _)| v.clone())
        .max();
    let mut out: Vec<Entry> = migrations
        .iter()
        .map(|m| {
            let row = latest.get(&m.version).copied();
            let status = match row.and_then(HistoryRow::row_state) {
                // A repeatable is applied again whenever its content changes.
                Some(RowState::Applied)
                    if m.version.is_repeatable()
                        && row.is_some_and(|r| r.checksum != m.checksum) =>
                {
                    Status::Pending
                }
                None | Some(RowState::RolledBack) if m.version.is_repeatable() => Status::Pending,
                None if newest_applied.as_ref().is_some_and(|n| *n > m.version) => {
                    Status::OutOfOrder
                }
                None => Status::Pending,
                Some(RowState::RolledBack)
                    if newest_applied.as_ref().is_some_and(|n| *n > m.version) =>
                {
                    Status::OutOfOrder
                }
                Some(RowState::RolledBack) => Status::RolledBack,
                Some(RowState::Applied) if row.is_some_and(|r| r.checksum != m.checksum) => {
                    Status::Modified
                }
                Some(RowState::Applied) => Status::Applied,
                Some(RowState::Failed) => Status::Failed,
                Some(RowState::Running) => Status::Running,
                Some(RowState::Resumable) => Status::Resumable,
            };
            Entry {
                version: m.version.clone(),
                name: m.name.clone(),
                status,
                migration: Some(m),
                row,
            }
        })
        .collect();
    for (version, row) in &latest {
        let gone = !migrations.iter().any(|m| &m.version == version);
        let matters = !matches!(row.row_state(), Some(RowState::RolledBack));
        if gone && matters {
            out.push(Entry {
                version: version.clone(),
                name: row.name.clone(),
                status: Status::Missing,
                migration: None,
                row: Some(row),
            });
        }
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    out
}
