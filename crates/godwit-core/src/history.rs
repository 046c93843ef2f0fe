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

    /// A failed run of the up script that left nothing of it applied (its transaction,
    /// or its first statement, failed). Not a failed `down`, and not a failure another
    /// tool recorded, which says nothing of how much ran.
    pub fn nothing_applied(&self) -> bool {
        self.statements_applied == 0
            && self.operation != Operation::Down.as_str()
            && self.operation != Operation::Adopt.as_str()
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
    /// Applied, and its file is gone because a Flyway baseline migration in the folder
    /// (a `B` file of its version or a later one) now stands for it: what Flyway's
    /// `ignoreMigrationPatterns = *:missing` lets a project do when it replaces its old
    /// scripts with a baseline (eclipse-hawkbit). Nothing to restore.
    InBaseline,
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
            Status::InBaseline => "in baseline",
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

/// Which of a folder's Flyway baseline migrations (`B<version>__name.sql`) a database
/// takes, as Flyway decides: a database with no history starts from the newest baseline,
/// and the versioned migrations at or below it are never run there (the baseline builds
/// what they would have); a database that applied a baseline keeps it; any other database
/// with a history ignores every baseline and goes on with its versioned migrations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline(Option<Version>);

impl Baseline {
    /// From godwit's own history: rows rolled back do not count.
    pub fn of(migrations: &[Migration], rows: &[HistoryRow]) -> Baseline {
        let recorded: Vec<Version> = rows
            .iter()
            .filter(|r| r.row_state() != Some(RowState::RolledBack))
            .filter_map(|r| Version::parse_recorded(&r.version))
            .collect();
        Baseline::from_recorded(migrations, &recorded)
    }

    /// From the versions a history records as in effect (another tool's, for `adopt`).
    pub fn from_recorded(migrations: &[Migration], recorded: &[Version]) -> Baseline {
        let taken = recorded.iter().filter(|v| v.is_baseline()).max();
        if let Some(taken) = taken {
            return Baseline(Some(taken.clone()));
        }
        if !recorded.is_empty() {
            return Baseline(None);
        }
        Baseline(
            migrations
                .iter()
                .map(|m| &m.version)
                .filter(|v| v.is_baseline())
                .max()
                .cloned(),
        )
    }

    /// The baseline taken, if any.
    pub fn version(&self) -> Option<&Version> {
        self.0.as_ref()
    }

    /// Whether `migration` is part of this database's path: not a baseline it does not
    /// take, nor a versioned migration the baseline it takes stands for.
    pub fn keeps(&self, migration: &Migration) -> bool {
        let v = &migration.version;
        match &self.0 {
            _ if v.is_baseline() => self.0.as_ref() == Some(v),
            Some(taken) if !v.is_repeatable() => v.number_cmp(taken).is_gt(),
            _ => true,
        }
    }

    /// The migrations on this database's path, in order (see [`Baseline::keeps`]).
    pub fn path(&self, migrations: &[Migration]) -> Vec<Migration> {
        migrations
            .iter()
            .filter(|m| self.keeps(m))
            .cloned()
            .collect()
    }

    /// How many of `migrations` the baseline taken stands for.
    pub fn covers(&self, migrations: &[Migration]) -> usize {
        migrations
            .iter()
            .filter(|m| !m.version.is_baseline() && !self.keeps(m))
            .count()
    }
}

/// `migrations` as a database with `rows` in its history goes through them: see
/// [`Baseline`]. Without baseline migrations in the folder, all of them.
pub fn in_effect(migrations: &[Migration], rows: &[HistoryRow]) -> Vec<Migration> {
    Baseline::of(migrations, rows).path(migrations)
}

/// Matches files with history. Rows must be in insertion order (ascending id). A Flyway
/// baseline the database does not take, and the migrations a baseline it takes stands
/// for, have no entry (see [`Baseline`]).
pub fn entries<'a>(migrations: &'a [Migration], rows: &'a [HistoryRow]) -> Vec<Entry<'a>> {
    let baseline = Baseline::of(migrations, rows);
    let mut latest: std::collections::BTreeMap<Version, &HistoryRow> = Default::default();
    for row in rows {
        if let Some(v) = Version::parse_recorded(&row.version) {
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
        .filter(|m| baseline.keeps(m))
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
        let in_baseline = !version.is_repeatable()
            && !version.is_baseline()
            && row.row_state() == Some(RowState::Applied)
            && migrations
                .iter()
                .any(|m| m.version.is_baseline() && version.number_cmp(&m.version).is_le());
        if gone && matters {
            out.push(Entry {
                version: version.clone(),
                name: row.name.clone(),
                status: if in_baseline {
                    Status::InBaseline
                } else {
                    Status::Missing
                },
                migration: None,
                row: Some(row),
            });
        }
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    out
}
/// How many migrations of a folder's history are applied, pending, or need attention
/// (failed, modified, missing from the folder…), as `status` counts them.
#[derive(serde::Serialize, Default)]
pub struct Summary {
    pub applied: usize,
    pub pending: usize,
    pub problems: usize,
}

/// Counts `entries` by their status.
pub fn summarize(entries: &[Entry]) -> Summary {
    let mut s = Summary::default();
    for e in entries {
        if e.status.is_problem() {
            s.problems += 1;
        } else if e.status.is_pending() {
            s.pending += 1;
        } else {
            s.applied += 1;
        }
    }
    s
}
