//! `godwit verify`: build the schema the migrations describe in a shadow database, check
//! the down.sql files, and compare the result with the target.
//!
//! The run, top to bottom:
//! 1. read and split every file (a malformed one stops us before any database is made);
//! 2. read the target's history: the shadow is compared as of the newest migration
//!    applied there, so pending migrations are not drift;
//! 3. get a shadow: a fresh database next to the target (dropped at the end, whatever
//!    happens), or the empty one named by `--shadow-url` / `shadow_url`;
//! 4. on the shadow, apply every migration and check the down.sql files in one of three
//!    ways ([`DownCheck`]):
//!    - `Each` (the default): for each migration in order, up; if it has a down.sql, down
//!      and up again, checking that the schema after down equals the schema before up.
//!      This tests each down.sql in the state `godwit down` meets right after a deploy.
//!      When some of them fail or do not undo their up.sql, the `All` check is then run
//!      by itself on a second, fresh shadow (the first no longer follows the migrations
//!      after a failed round trip), and the report says whether the history undoes
//!      itself as a whole (some histories write each down for the group, not for its own
//!      up). That does not change the verdict: it says which check fits the history;
//!    - `All` (`--down-all`): every up.sql, then every down.sql from the newest back to
//!      the newest migration without one (or to the start), and the schema must be what
//!      it was there;
//!    - `Skip` (`--skip-down`): up.sql only;
//! 5. compare the shadow's schema (as of the target's version) with the target's.
//!
//! A script that fails does not stop the run. The shadow records it as applied (or, in
//! the middle of a full down, as reverted) and goes on, so every problem is reported:
//! - a failed up.sql leaves the shadow without (all of) what it should have built. From
//!   there on the shadow no longer follows the migrations: the later ups still run, and
//!   their failures are reported as "after an earlier failure"; the later down.sql files
//!   are not checked (their starting state is not the one the migrations describe); and
//!   differences with the target in objects that a failed script names are listed apart,
//!   as possibly caused by the failure, rather than as drift;
//! - a failed down.sql that changed nothing (it ran in a transaction, failed at its first
//!   statement, or the schema is still what up.sql built) leaves the shadow as it was
//!   after up, so everything goes on as usual; one that changed the schema before it
//!   failed has the same effect as a failed up.sql;
//! - an up.sql that fails when applied again after its down.sql makes the migration
//!   irreversible; if the shadow is not then back to what the first up.sql built (the
//!   schema is read after each up.sql that has a down.sql to check), it lacks some of
//!   that, as after a failed up.sql.
//!
//! Exit codes: 0 clean; 1 an up.sql or down.sql failed on the shadow (the scripts themselves
//! are broken; this wins); 4 drift, or a down.sql that does not undo its up.sql (or, with
//! `--down-all`, the history); 2 and 3 as everywhere (configuration, connection).

pub(crate) mod shadow;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Refusal, exit};
use crate::migrator::{DeployOptions, DownTarget, Migrator, Resolve};
use crate::schema::{self, Drift, Perspective, Schema};
use godwit_core::history::{self, Status};
use godwit_core::source::{Migration, Version};
use godwit_db::SqlError;

pub use shadow::ShadowInfo;

/// How verify checks the down.sql files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownCheck {
    /// Each down.sql right after its own up.sql: up, down, up.
    #[default]
    Each,
    /// `--down-all`: every up.sql, then every down.sql from the newest, and the schema must
    /// be back where it started.
    All,
    /// `--skip-down`: no down.sql is run.
    Skip,
}

/// Flags of `godwit verify`.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Use this (empty) database instead of creating one; wins over `shadow_url`.
    pub shadow_url: Option<String>,
    /// Leave the shadow database behind for inspection.
    pub keep_shadow: bool,
    pub down: DownCheck,
}

/// Whether a migration's down.sql undoes its up.sql.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversibility {
    Reversible,
    /// The schema after down.sql differs from the schema before up.sql, or up.sql fails
    /// when applied again after it.
    Irreversible,
    NoDownSql,
    /// up.sql failed, so its down.sql was not run.
    UpFailed,
    /// down.sql failed.
    DownFailed,
    /// down.sql was not run: the shadow no longer follows the migrations (see `note`).
    NotChecked,
}

/// One drifted object, with the sentence a person reads.
#[derive(Clone, Debug, Serialize)]
pub struct DriftLine {
    #[serde(flatten)]
    pub drift: Drift,
    pub message: String,
}

impl DriftLine {
    pub(crate) fn new(drift: Drift, perspective: Perspective) -> DriftLine {
        DriftLine {
            message: drift.describe(perspective),
            drift,
        }
    }
}

/// What verify found about one migration on the shadow.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationCheck {
    pub migration: String,
    pub reversibility: Reversibility,
    /// What down.sql left different from before up.sql.
    pub problems: Vec<DriftLine>,
    /// up.sql failed when applied again after down.sql (usually because of the above).
    pub reapply_error: Option<String>,
    /// Why the down.sql was not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl MigrationCheck {
    /// Checked on its own, its down.sql failed or did not undo its up.sql.
    pub fn failed_alone(&self) -> bool {
        matches!(
            self.reversibility,
            Reversibility::Irreversible | Reversibility::DownFailed
        )
    }

    fn new(migration: String, reversibility: Reversibility) -> MigrationCheck {
        MigrationCheck {
            migration,
            reversibility,
            problems: Vec::new(),
            reapply_error: None,
            note: None,
        }
    }

    /// One line of progress: the migration and what up-down-up showed.
    pub fn line(&self) -> String {
        let verdict = match self.reversibility {
            Reversibility::Reversible => "up, down, up: down.sql undoes up.sql".to_string(),
            Reversibility::Irreversible if self.problems.is_empty() => {
                "up, down, up: up.sql fails after down.sql".to_string()
            }
            Reversibility::Irreversible => format!(
                "up, down, up: down.sql does NOT undo up.sql ({} difference{})",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            ),
            Reversibility::NoDownSql => "up: no down script, reversibility not checked".to_string(),
            Reversibility::UpFailed => "up: FAILED (see below)".to_string(),
            Reversibility::DownFailed => "up, down: down.sql FAILED (see below)".to_string(),
            Reversibility::NotChecked => format!(
                "up: down.sql not checked{}",
                self.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        };
        format!("{}  {verdict}", self.migration)
    }
}

/// Which script of a migration failed on the shadow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptKind {
    Up,
    Down,
}

/// A script that failed on the shadow.
#[derive(Clone, Debug, Serialize)]
pub struct ScriptFailure {
    pub migration: String,
    pub script: ScriptKind,
    /// The script's file as its layout names it (`migration.sql` for Prisma,
    /// `0001_x.up.sql` for golang-migrate); `up.sql`/`down.sql` when not known.
    pub file: Option<String>,
    /// The section of `file` the script is, where one file holds both (goose, dbmate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    pub error: String,
    /// The earlier failure that left the shadow off the path the migrations describe,
    /// and may be the cause of this one.
    pub after: Option<String>,
}

/// A script's file name, as a reader finds it in the migration's folder.
fn file_name(path: &std::path::Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

impl ScriptFailure {
    /// `migration`'s `kind` script failed with `error`. The script is named as its layout
    /// names it: its file, and for goose and dbmate, which keep both in one file, the
    /// section of it (`-- +goose Down`; `up` for the part before it).
    fn new(migration: &Migration, kind: ScriptKind, error: String, after: Option<String>) -> Self {
        let script = match kind {
            ScriptKind::Up => Some(&migration.up),
            ScriptKind::Down => migration.down.as_ref(),
        };
        let section = match (&migration.down_place, kind) {
            (godwit_core::source::DownPlace::Section { marker, .. }, ScriptKind::Down) => {
                Some(marker.to_string())
            }
            (godwit_core::source::DownPlace::Section { .. }, ScriptKind::Up) => {
                Some("up".to_string())
            }
            _ => None,
        };
        ScriptFailure {
            migration: migration.id(),
            script: kind,
            file: script.and_then(|s| file_name(&s.path)),
            section,
            error,
            after,
        }
    }

    /// The script as a person names it: `up.sql of 2_users`, `the up section of 2_users.sql`.
    fn script_name(&self) -> String {
        // A section's file is named after the migration already.
        let of = format!(" of {}", self.migration);
        let (script, of) = match (&self.file, &self.section, self.script) {
            (Some(file), Some(section), _) if section == "up" => {
                (format!("the up section of {file}"), String::new())
            }
            (Some(file), Some(section), _) => {
                (format!("the `{section}` section of {file}"), String::new())
            }
            // `1_x.down.sql` is named after the migration already, as a section's file is.
            (Some(file), None, _) if file.starts_with(&self.migration) => {
                (file.clone(), String::new())
            }
            (Some(file), None, _) => (file.clone(), of),
            (None, _, ScriptKind::Up) => ("up.sql".into(), of),
            (None, _, ScriptKind::Down) => ("down.sql".into(), of),
        };
        format!("{script}{of}")
    }

    fn text(&self) -> String {
        let after = match &self.after {
            Some(earlier) => format!(" (after an earlier failure, of {earlier})"),
            None => String::new(),
        };
        format!(
            "{}{after} failed: {}",
            self.script_name(),
            self.error.replace('\n', "\n    ")
        )
    }
}

/// Every down.sql from the newest migration back, as `--down-all` runs them (or as the
/// default run tries them when one at a time fails).
#[derive(Clone, Debug, Serialize)]
pub struct GroupCheck {
    /// Run by the default mode after per-migration checks failed, rather than asked for.
    pub automatic: bool,
    /// How many down.sql files ran to completion.
    pub reverted: usize,
    /// The migration the shadow went back to (the newest without a down.sql), or `None`:
    /// back to before the first migration.
    pub back_to: Option<String>,
    /// The down.sql files that failed; each was recorded as reverted and the older ones
    /// still ran.
    pub failures: Vec<ScriptFailure>,
    /// What differs from the schema at `back_to`.
    pub problems: Vec<DriftLine>,
    /// The second shadow database the automatic check ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowInfo>,
}

impl GroupCheck {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.problems.is_empty()
    }

    /// Whether any down.sql ran: with none (the newest migration has no down.sql), the
    /// check shows nothing either way.
    pub fn ran_any(&self) -> bool {
        self.reverted + self.failures.len() > 0
    }

    fn text(&self) -> String {
        let back = match &self.back_to {
            Some(v) => format!("back to {v} (the newest migration without a down.sql)"),
            None => "back to before the first migration".to_string(),
        };
        if !self.ran_any() {
            return match &self.back_to {
                Some(v) => format!(
                    "down all: no down.sql ran, since the newest migration, {v}, has none: nothing was checked.\n"
                ),
                None => "down all: no down.sql ran: nothing was checked.\n".to_string(),
            };
        }
        let ran = self.reverted + self.failures.len();
        let mut out = format!(
            "down all: {ran} down.sql file{} ran from the newest migration {back}",
            if ran == 1 { "" } else { "s" }
        );
        if !self.failures.is_empty() {
            out.push_str(&format!("; {} of them failed:\n", self.failures.len()));
            for failure in &self.failures {
                out.push_str(&format!("    {}\n", indent(&failure.text(), "  ")));
            }
            out.push_str("  and after them");
        }
        if self.failures.is_empty() {
            out.push_str(";\n ");
        }
        if self.problems.is_empty() {
            out.push_str(" the schema is what it was there.\n");
        } else {
            out.push_str(&format!(
                " the schema is NOT what it was there ({} difference{}):\n",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            ));
            for problem in &self.problems {
                out.push_str(&format!("    {}\n", indent(&problem.message, "    ")));
            }
        }
        out
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// The target database, password hidden.
    pub target: String,
    pub shadow: ShadowInfo,
    pub down_check: DownCheck,
    /// Per migration, with `DownCheck::Each` (the other modes do not go one by one).
    pub migrations: Vec<MigrationCheck>,
    /// How many up.sql files ran on the shadow without failing (the first time).
    pub applied: usize,
    /// Every down.sql from the newest back: `--down-all`, or tried after per-migration
    /// checks failed.
    pub group: Option<GroupCheck>,
    /// The version the target was compared at: its newest applied migration (`None`:
    /// nothing applied, compared with an empty schema; also `None` when not compared).
    pub compared_at: Option<String>,
    pub compared: bool,
    /// The schema compared with came from the second shadow database, built straight up
    /// to `compared_at`: the first one was left changed by the one-at-a-time down checks
    /// and the scripts that then failed on it.
    pub compared_straight_up: bool,
    pub pending_on_target: Vec<String>,
    pub drift: Vec<DriftLine>,
    /// Differences in objects that a script which failed on the shadow names: probably
    /// the failure's doing rather than drift.
    pub drift_near_failures: Vec<DriftLine>,
    pub notes: Vec<String>,
    /// Every up.sql or down.sql that failed on the shadow, in the order they ran.
    pub failures: Vec<ScriptFailure>,
}

impl VerifyReport {
    pub fn irreversible(&self) -> impl Iterator<Item = &MigrationCheck> {
        self.migrations
            .iter()
            .filter(|m| m.reversibility == Reversibility::Irreversible)
    }

    /// 1 when a script failed, 4 on drift or an irreversible migration (or history, with
    /// `--down-all`), else 0.
    ///
    /// The automatic whole-history pass (after one-at-a-time checks failed) fails a
    /// script when it is the only check that script got: a down.sql whose migration
    /// was never checked on its own (quickwit's syntax errors, after the first shadow
    /// left the path). One that was checked on its own and fails only in the whole-history
    /// pass, after a newer down.sql that undoes too much, is that migration's problem (4).
    pub fn exit_code(&self) -> u8 {
        let asked = self.group.as_ref().filter(|g| !g.automatic);
        let group_problems = asked.is_some_and(|g| !g.problems.is_empty());
        let checked_alone = |migration: &str| {
            self.migrations.iter().any(|m| {
                m.migration == migration
                    && matches!(
                        m.reversibility,
                        Reversibility::Reversible
                            | Reversibility::Irreversible
                            | Reversibility::DownFailed
                    )
            })
        };
        let failed_unchecked = self
            .group
            .as_ref()
            .filter(|g| g.automatic)
            .is_some_and(|g| g.failures.iter().any(|f| !checked_alone(&f.migration)));
        if !self.failures.is_empty()
            || asked.is_some_and(|g| !g.failures.is_empty())
            || failed_unchecked
        {
            exit::FAILED
        } else if !self.drift.is_empty()
            || !self.drift_near_failures.is_empty()
            || self.irreversible().next().is_some()
            || group_problems
        {
            exit::BLOCKED
        } else {
            exit::OK
        }
    }

    /// The summary after the per-migration lines that [`verify`] streamed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let irreversible: Vec<&MigrationCheck> = self.irreversible().collect();
        if !irreversible.is_empty() {
            out.push_str(&format!(
                "\n{} migration{} not reversible:\n",
                irreversible.len(),
                if irreversible.len() == 1 {
                    " is"
                } else {
                    "s are"
                }
            ));
            for check in irreversible {
                out.push_str(&format!(
                    "  down.sql of {} does not undo its up.sql:\n",
                    check.migration
                ));
                for problem in &check.problems {
                    out.push_str(&format!("    {}\n", indent(&problem.message, "    ")));
                }
                if let Some(error) = &check.reapply_error {
                    out.push_str(&format!(
                        "    and then up.sql failed when applied again: {}\n",
                        error.replace('\n', "\n    ")
                    ));
                }
            }
        }
        if !self.failures.is_empty() {
            out.push_str(&format!(
                "\n{} script{} failed on the shadow database:\n",
                self.failures.len(),
                if self.failures.len() == 1 { "" } else { "s" }
            ));
            for failure in &self.failures {
                out.push_str(&format!("  {}\n", failure.text()));
            }
        }
        if let Some(group) = &self.group {
            if group.automatic {
                let failing = self.migrations.iter().filter(|m| m.failed_alone()).count();
                out.push_str(&format!(
                    "\nOne at a time, {failing} down.sql file{} failed or did not undo {}; so verify also applied \
                     every migration on a second shadow database and ran every down.sql from the newest back, \
                     as `godwit verify --down-all` does:\n  {}",
                    if failing == 1 { "" } else { "s" },
                    if failing == 1 { "its up.sql" } else { "their up.sql" },
                    group.text()
                ));
                // The down-all stops at the newest migration without a down.sql: the
                // failing down files older than it were never part of the group.
                let floor = group
                    .back_to
                    .as_ref()
                    .and_then(|b| self.migrations.iter().position(|m| &m.migration == b));
                let unreached: Vec<String> = floor
                    .map(|f| {
                        self.migrations[..=f]
                            .iter()
                            .filter(|m| m.failed_alone())
                            .map(|m| m.migration.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if !unreached.is_empty() {
                    let mut named = unreached
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ");
                    if unreached.len() > 5 {
                        named.push_str(&format!(" and {} more", unreached.len() - 5));
                    }
                    out.push_str(&format!(
                        "  That check stopped at {}, which has no down.sql, so it says nothing about {}: \
                         older than it, {} not reached, and stay{} reported as above.\n",
                        group.back_to.as_deref().unwrap_or_default(),
                        named,
                        if unreached.len() == 1 { "it was" } else { "they were" },
                        if unreached.len() == 1 { "s" } else { "" },
                    ));
                } else if group.passed() && group.ran_any() {
                    out.push_str(
                        "  So the history as a whole comes back to where it started when every migration is \
                         reverted, from the newest back, although the down files above do not each undo their own \
                         up.sql. A history whose down files are written for a group looks like this (ory/kratos: one \
                         version's down.sql drops what the next one's up.sql created), and so does a wrong down.sql \
                         whose damage an older down.sql happens to sweep away (a DROP TABLE of the whole table). \
                         Either way `godwit down` to a point between them leaves the schema as the checks above \
                         show, and a deploy from there can fail; only if this history is always reverted whole is \
                         `godwit verify --down-all` the check that fits it.\n",
                    );
                }
            } else {
                out.push_str(&format!("\n{}", group.text()));
            }
        }
        if self.compared {
            let mut at = match &self.compared_at {
                Some(v) => format!("as of {v}"),
                None => "with nothing applied".into(),
            };
            if self.compared_straight_up {
                at.push_str(
                    ", as the second shadow database built them straight up, not the first, which the down.sql checks had changed",
                );
            }
            if self.drift.is_empty() {
                out.push_str(&format!(
                    "\nNo drift{}: {} matches the migrations ({at}).\n",
                    if self.drift_near_failures.is_empty() {
                        ""
                    } else {
                        " apart from the objects below"
                    },
                    self.target
                ));
            } else {
                out.push_str(&format!(
                    "\nDrift: {} object{} in {} differ{} from the migrations ({at}):\n",
                    self.drift.len(),
                    if self.drift.len() == 1 { "" } else { "s" },
                    self.target,
                    if self.drift.len() == 1 { "s" } else { "" }
                ));
                for line in &self.drift {
                    out.push_str(&format!("  {}\n", indent(&line.message, "  ")));
                }
            }
            if !self.drift_near_failures.is_empty() {
                out.push_str(&format!(
                    "\n{} object{} differ{} in objects that a script which failed on the shadow names, \
                     so the failure may be the cause rather than drift:\n",
                    self.drift_near_failures.len(),
                    if self.drift_near_failures.len() == 1 { "" } else { "s" },
                    if self.drift_near_failures.len() == 1 { "s" } else { "" },
                ));
                for line in &self.drift_near_failures {
                    out.push_str(&format!("  {}\n", indent(&line.message, "  ")));
                }
            }
        }
        for note in &self.notes {
            out.push_str(&format!("\nnote: {note}\n"));
        }
        out.push_str(&format!("\n{}", self.shadow.farewell()));
        out.trim_end().to_string()
    }
}

/// Continues a multi-line message (a definition's diff) under its first line.
pub(crate) fn indent(message: &str, by: &str) -> String {
    message.replace('\n', &format!("\n{by}"))
}

/// What [`verify`] tells the caller as it goes.
#[derive(Clone, Debug)]
pub enum VerifyProgress<'a> {
    ShadowReady(&'a ShadowInfo),
    Checked(&'a MigrationCheck),
    /// A step of `--down-all` or `--skip-down`, which do not go migration by migration.
    Step(String),
}

/// Runs the whole check; `target` is connected to the database being verified.
pub async fn verify(
    target: &mut Migrator,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(VerifyProgress<'_>),
) -> Result<VerifyReport, Error> {
    let config = target.config().clone();
    let dialect = config.target.dialect;
    // The same reader deploy uses, so that adopted layouts (Prisma, Flyway…) work too.
    let migrations = target.read_sources()?;
    for migration in &migrations {
        migration.up.statements(dialect)?;
        if let Some(down) = &migration.down {
            down.statements(dialect)?;
        }
    }
    let rows = target.history().await?;
    // The path the target takes: of Flyway baseline migrations, the one it took or would
    // take, and not the migrations that one stands for (nor the other way round). A target
    // whose old scripts were replaced by a baseline (their files are gone) can be rebuilt
    // only from the baseline, as an empty database would be.
    let replaced = history::entries(&migrations, &rows)
        .iter()
        .any(|e| e.status == Status::InBaseline);
    let migrations = history::in_effect(&migrations, if replaced { &[] } else { &rows });
    // The schemas the migrations create are theirs too: compared on both sides.
    let created = created_schemas(&migrations, dialect);
    target.driver().compare_schemas(&created);
    let position = TargetPosition::read(&history::entries(&migrations, &rows));

    let mut report = VerifyReport {
        target: config.target.display.clone(),
        shadow: ShadowInfo::default(),
        down_check: options.down,
        migrations: Vec::new(),
        applied: 0,
        group: None,
        compared_at: position.compare_at.as_ref().map(ToString::to_string),
        compared: false,
        compared_straight_up: false,
        pending_on_target: position.pending.clone(),
        drift: Vec::new(),
        drift_near_failures: Vec::new(),
        notes: position.notes.clone(),
        failures: Vec::new(),
    };
    let on_target = position.compare_at.as_ref();
    let (mut expected, mut failed_scripts) = on_new_shadow(
        target,
        &migrations,
        on_target,
        options,
        options.down,
        &mut report,
        progress,
    )
    .await?;

    // One at a time failed: try every down.sql from the newest back, on a fresh shadow,
    // since the first one no longer follows the migrations after a failed round trip.
    let troubled = report.migrations.iter().any(MigrationCheck::failed_alone);
    if options.down == DownCheck::Each && troubled {
        if options.keep_shadow && (options.shadow_url.is_some() || config.file.shadow_url.is_some())
        {
            report.notes.push(
                "some down.sql files failed or did not undo their up.sql one at a time; `godwit verify --down-all` checks whether they undo the history as a whole".into(),
            );
        } else {
            progress(VerifyProgress::Step(
                "one at a time, some down.sql files failed or did not undo their up.sql: trying every down.sql from the newest back, \
                 on a second shadow database (as --down-all does)"
                    .into(),
            ));
            let mut second = VerifyReport {
                migrations: Vec::new(),
                applied: 0,
                group: None,
                drift: Vec::new(),
                drift_near_failures: Vec::new(),
                notes: Vec::new(),
                failures: Vec::new(),
                ..report.clone()
            };
            let quiet = VerifyOptions {
                keep_shadow: false,
                ..options.clone()
            };
            // The first shadow went through every round trip, and a down.sql that undid
            // more than its up.sql (a CASCADE) left it without what no later up.sql builds
            // again: it is no longer what the migrations build. The second one went up
            // straight to the target's position first, so drift is measured against it.
            let (straight_up, _) = on_new_shadow(
                target,
                &migrations,
                on_target,
                &quiet,
                DownCheck::All,
                &mut second,
                &mut |_| {},
            )
            .await?;
            if straight_up.is_some() {
                expected = straight_up;
                report.compared_straight_up = true;
            }
            // Went straight up through every migration (see `built_straight_up`).
            if second.group.is_some() {
                built_straight_up(&mut report, &second.failures);
            }
            // An up.sql that failed there failed on the path the migrations describe: a
            // failing script, whatever the first shadow showed (reportportal's 40 passed
            // there only because a failed round trip before it had emptied a table).
            for failed in second
                .failures
                .iter()
                .filter(|f| f.script == ScriptKind::Up)
            {
                if !report
                    .failures
                    .iter()
                    .any(|f| f.script == ScriptKind::Up && f.migration == failed.migration)
                {
                    report.failures.push(failed.clone());
                }
            }
            if let Some(mut group) = second.group {
                group.automatic = true;
                group.shadow = Some(second.shadow.clone());
                report.group = Some(group);
            }
            if !second.failures.is_empty() {
                report.notes.push(format!(
                    "on the second shadow database, built straight up, {} up.sql file{} failed before the full down (listed with the failures)",
                    second.failures.len(),
                    if second.failures.len() == 1 { "" } else { "s" }
                ));
            }
        }
    }

    failed_scripts.extend(position.partial);
    match expected {
        Some(expected) => {
            let actual = target.driver().introspect().await?;
            for drift in schema::diff(&expected, &actual) {
                let line = DriftLine::new(drift, Perspective::Target);
                if failed_scripts.iter().any(|sql| names(sql, &line.drift)) {
                    report.drift_near_failures.push(line);
                } else {
                    report.drift.push(line);
                }
            }
            report.compared = true;
            let others = other_schemas(target.driver(), &created)
                .await
                .map_err(|e| Error::db("cannot list the target's other schemas", &e))?;
            if !others.is_empty() {
                let compared = match created.len() {
                    0 => "the current schema".to_string(),
                    _ => format!(
                        "the current schema and the schemas the migrations create ({})",
                        created.join(", ")
                    ),
                };
                report.notes.push(format!(
                    "verify compared {compared}; it does not look into {}, which {} also has and no migration creates with CREATE SCHEMA, so drift there would not show",
                    others.join(", "),
                    report.target
                ));
            }
        }
        None => report.notes.push(format!(
            "{} was not compared with the migrations: the shadow stopped before reaching {}",
            report.target,
            report.compared_at.as_deref().unwrap_or("its version")
        )),
    }
    Ok(report)
}

/// The up.sql files that failed on the first shadow, after the round trips of earlier
/// migrations took it off the path the migrations describe, but built on the second one,
/// which went straight up through every migration (`second`: its failures). A down.sql
/// that undoes more than its own up.sql (kratos' and keto's undo the next version's
/// objects too) is what failed them: they count as that, a migration that is not
/// reversible (exit 4), not as scripts that fail (exit 1).
fn built_straight_up(report: &mut VerifyReport, second: &[ScriptFailure]) {
    let (consequences, failures): (Vec<_>, Vec<_>) = std::mem::take(&mut report.failures)
        .into_iter()
        .partition(|f| {
            f.script == ScriptKind::Up
                && !second
                    .iter()
                    .any(|g| g.script == ScriptKind::Up && g.migration == f.migration)
        });
    report.failures = failures;
    let Some(first) = consequences.first() else {
        return;
    };
    // The server's own words, after godwit's line saying where.
    let cause = first
        .error
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned();
    for failure in &consequences {
        if let Some(check) = report
            .migrations
            .iter_mut()
            .find(|m| m.migration == failure.migration)
        {
            check.reversibility = Reversibility::NotChecked;
            check.note = Some("its up.sql failed after earlier round trips, see the notes".into());
        }
    }
    let names: Vec<String> = consequences
        .iter()
        .map(ScriptFailure::script_name)
        .collect();
    let shown = match names.len() {
        0..=5 => names.join(", "),
        n => format!("{} and {} more", names[..5].join(", "), n - 5),
    };
    report.notes.push(format!(
        "{shown} failed on the first shadow database only, after the round trips of earlier migrations, and built on the second one, which went straight up: \
         an earlier down.sql that undoes more than its own up.sql left the first one without what {} (the first: {cause})",
        if consequences.len() == 1 { "it needs" } else { "they need" }
    ));
}

/// The schemas besides the current one that the migrations create (`CREATE SCHEMA`), which
/// verify compares along with it; on PostgreSQL only (a MySQL schema is a database, a
/// SQLite file has none).
fn created_schemas(migrations: &[Migration], dialect: godwit_core::Dialect) -> Vec<String> {
    if dialect != godwit_core::Dialect::Postgres {
        return Vec::new();
    }
    let mut schemas: Vec<String> = migrations
        .iter()
        .filter_map(|m| m.up.statements(dialect).ok())
        .flatten()
        .flat_map(|s| godwit_core::analyze::created_schemas(&s.sql, dialect))
        .collect();
    schemas.sort();
    schemas.dedup();
    schemas
}

/// On PostgreSQL, the target's schemas besides the current one (and those in `compared`)
/// that hold tables, views or routines, as `schema app (3 tables)`; elsewhere none (a
/// MySQL database or a SQLite file is the whole namespace compared).
async fn other_schemas(
    driver: &mut dyn godwit_db::Driver,
    compared: &[String],
) -> Result<Vec<String>, SqlError> {
    if driver.dialect() != godwit_core::Dialect::Postgres {
        return Ok(Vec::new());
    }
    let schemas = godwit_db::postgres::other_schemas(driver).await?;
    Ok(schemas
        .into_iter()
        .filter_map(|schema| {
            let name = schema.name;
            if compared.contains(&name) {
                return None;
            }
            let what = match (schema.relations, schema.routines) {
                (0, 0) => return None,
                (r, 0) => format!(
                    "{r} table{}",
                    if r == 1 { " or view" } else { "s or views" }
                ),
                (0, f) => format!("{f} routine{}", if f == 1 { "" } else { "s" }),
                (r, f) => format!(
                    "{r} table{}, {f} routine{}",
                    if r == 1 { " or view" } else { "s or views" },
                    if f == 1 { "" } else { "s" }
                ),
            };
            Some(format!("schema {name} ({what})"))
        })
        .collect())
}

/// Makes a shadow, applies the migrations there as `mode` says, and removes it (unless
/// kept); returns the schema as of `compare_at` and the failed scripts that shaped it.
async fn on_new_shadow(
    target: &mut Migrator,
    migrations: &[Migration],
    compare_at: Option<&Version>,
    options: &VerifyOptions,
    mode: DownCheck,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(VerifyProgress<'_>),
) -> Result<(Option<Schema>, Vec<String>), Error> {
    let config = target.config().clone();
    let mut failed_scripts = Vec::new();
    let failed = &mut failed_scripts;
    let expected = shadow::with_shadow(
        "verify",
        &config,
        target.driver(),
        options.shadow_url.as_deref(),
        options.keep_shadow,
        move |shadow_config, setup, info| {
            report.shadow = info;
            progress(VerifyProgress::ShadowReady(&report.shadow));
            on_shadow(
                shadow_config,
                setup,
                migrations,
                compare_at,
                mode,
                report,
                failed,
                progress,
            )
        },
    )
    .await?;
    Ok((expected, failed_scripts))
}

/// Whether `sql` names the object of `drift` (as a whole word, any case): the object's own
/// name, or, for a constraint SQLite keeps no name for, its table.
fn names(sql: &str, drift: &Drift) -> bool {
    let object = drift.object.as_str();
    let rest = object.split_once(' ').map(|(_, r)| r).unwrap_or(object);
    let (own, table) = match rest.split_once(" on ") {
        Some((own, table)) => (own, Some(table)),
        None => (rest, None),
    };
    let name = if object.starts_with("column ") {
        own.rsplit_once('.').map(|(_, c)| c).unwrap_or(own)
    } else if object.starts_with("routine ") {
        own.split('(').next().unwrap_or(own)
    } else if own.contains(' ') {
        // SQLite's unnamed constraints are named by their definition.
        table.unwrap_or(own)
    } else {
        own
    };
    let sql = sql.to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let named = |name: &str| {
        let name = name.trim_matches(|c| c == '"' || c == '`').to_lowercase();
        !name.is_empty()
            && sql.match_indices(&name).any(|(at, _)| {
                let before = sql[..at].chars().next_back();
                let after = sql[at + name.len()..].chars().next();
                !before.is_some_and(word) && !after.is_some_and(word)
            })
    };
    // An index, trigger or constraint of a table the script names may be its doing even
    // when the script never spells the object's own name: a trigger created by a function
    // it calls, a constraint named after the table by the database (harbor:
    // `notification_policy_name_project_id_key`).
    named(name) || table.is_some_and(named)
}

/// The shadow and what the run learned about it so far.
struct Run<'a> {
    shadow: Migrator,
    migrations: &'a [Migration],
    compare_at: Option<&'a Version>,
    /// The first migration whose failure left the shadow off the path the migrations
    /// describe.
    diverged: Option<String>,
    /// What happened to it: "failed", …
    diverged_how: &'static str,
    /// The scripts (text) whose failure shaped the shadow as of `compare_at`.
    failed_scripts: Vec<String>,
}

/// The migration a failed run left as failed on the shadow, and how many of its
/// statements took effect.
struct Failed<'a> {
    migration: &'a Migration,
    applied: i64,
}

impl<'a> Run<'a> {
    fn options(to: Option<&Version>) -> DeployOptions {
        DeployOptions {
            to: to.cloned(),
            allow_out_of_order: true,
            restore_on_failure: false,
            // The shadow holds nothing but godwit's own tables.
            ignore_other_history: true,
            workers: None,
        }
    }

    async fn failed(&mut self) -> Result<Option<Failed<'a>>, Error> {
        let rows = self.shadow.history().await?;
        let entries = history::entries(self.migrations, &rows);
        let Some(entry) = entries
            .iter()
            .find(|e| matches!(e.status, Status::Failed | Status::Running))
        else {
            return Ok(None);
        };
        let applied = entry.row.map_or(0, |r| r.statements_applied);
        Ok(self
            .migrations
            .iter()
            .find(|m| m.version == entry.version)
            .map(|migration| Failed { migration, applied }))
    }

    /// The migration whose down.sql just failed and was rolled back in its transaction:
    /// still applied, its newest row saying so.
    async fn rolled_back_down(&mut self) -> Result<Option<Failed<'a>>, Error> {
        let rows = self.shadow.history().await?;
        let Some(row) = rows.iter().max_by_key(|r| r.id) else {
            return Ok(None);
        };
        if !row.is_rolled_back_down() {
            return Ok(None);
        }
        Ok(self
            .migrations
            .iter()
            .find(|m| m.version.as_str() == row.version)
            .map(|migration| Failed {
                migration,
                applied: 0,
            }))
    }

    /// Whether a failure of this migration's script shapes the schema that is compared.
    fn before_compare(&self, migration: &Migration) -> bool {
        self.compare_at.is_some_and(|at| &migration.version <= at)
    }

    /// The shadow no longer has what `migration` should have built (or still has what its
    /// down.sql should have removed).
    fn diverge(&mut self, migration: &Migration, sql: &str, how: &'static str) {
        if self.diverged.is_none() {
            self.diverged = Some(migration.id());
            self.diverged_how = how;
        }
        if self.before_compare(migration) {
            self.failed_scripts.push(sql.to_string());
        }
    }

    /// Applies everything up to `to`; a migration that fails is reported, recorded as
    /// applied on the shadow, and the rest goes on. Returns the migrations that failed,
    /// or `None` when the shadow refused to go on (reported in the notes).
    async fn up_to(
        &mut self,
        to: Option<&Version>,
        report: &mut VerifyReport,
    ) -> Result<Option<Vec<String>>, Error> {
        let mut failed_here = Vec::new();
        loop {
            let error = match self.shadow.deploy(&Self::options(to)).await {
                Ok(run) => {
                    report.applied += run.applied.len();
                    return Ok(Some(failed_here));
                }
                Err(e) => script_error(e)?,
            };
            let Some(failed) = self.failed().await? else {
                // Refused before any migration ran: nothing to resolve, so stop here.
                report.notes.push(format!(
                    "verify stopped applying migrations on the shadow: {error}"
                ));
                return Ok(None);
            };
            let id = failed.migration.id();
            if failed_here.contains(&id) {
                report.notes.push(format!(
                    "verify stopped applying migrations on the shadow at {id}: it failed again after being recorded as applied"
                ));
                return Ok(None);
            }
            report.applied += self.shadow_run_applied();
            report.failures.push(ScriptFailure::new(
                failed.migration,
                ScriptKind::Up,
                error,
                self.diverged.clone(),
            ));
            self.diverge(failed.migration, &failed.migration.up.text, "failed");
            self.shadow
                .resolve(&failed.migration.version, Resolve::Applied)
                .await?;
            failed_here.push(id);
        }
    }

    /// How many migrations the last (failed) deploy applied before its failure.
    fn shadow_run_applied(&self) -> usize {
        self.shadow.run_applied()
    }

    /// Reverts with `target`; a down.sql that fails is recorded as reverted on the shadow,
    /// and the older ones still run. Returns how many ran, and the failures.
    async fn down_to(
        &mut self,
        target: &DownTarget,
        report: &mut VerifyReport,
    ) -> Result<(usize, Vec<ScriptFailure>), Error> {
        let mut reverted = 0;
        let mut failures: Vec<ScriptFailure> = Vec::new();
        loop {
            let error = match self.shadow.down(target).await {
                Ok(run) => return Ok((reverted + run.applied.len(), failures)),
                Err(e) => script_error(e)?,
            };
            reverted += self.shadow_run_applied();
            let failed = match self.failed().await? {
                Some(failed) => Some(failed),
                None => self.rolled_back_down().await?,
            };
            let Some(failed) = failed else {
                report
                    .notes
                    .push(format!("verify stopped reverting on the shadow: {error}"));
                return Ok((reverted, failures));
            };
            let after = failures
                .first()
                .map(|f| f.migration.clone())
                .or_else(|| self.diverged.clone());
            failures.push(ScriptFailure::new(
                failed.migration,
                ScriptKind::Down,
                error,
                after,
            ));
            self.shadow
                .resolve(&failed.migration.version, Resolve::RolledBack)
                .await?;
        }
    }

    /// Every down.sql from the newest back to `back_to` (and its schema then).
    async fn group(
        &mut self,
        back_to: (Option<&Migration>, &Schema),
        report: &mut VerifyReport,
        progress: &mut dyn FnMut(VerifyProgress<'_>),
    ) -> Result<(), Error> {
        let (migration, expected) = back_to;
        let target = match migration {
            Some(m) => DownTarget::To(m.version.clone()),
            None => DownTarget::Steps(usize::MAX),
        };
        let repeatable: Vec<String> = self
            .migrations
            .iter()
            .filter(|m| m.version.is_repeatable())
            .map(Migration::id)
            .collect();
        if !repeatable.is_empty() {
            report.notes.push(format!(
                "repeatable migrations ({}) have no down.sql and are never reverted, so what they create \
                 is still there after the full down and shows as a difference",
                repeatable.join(", ")
            ));
        }
        let newest = self
            .migrations
            .iter()
            .filter(|m| !m.version.is_repeatable())
            .max_by(|a, b| a.version.cmp(&b.version));
        progress(VerifyProgress::Step(match migration {
            // flipt: nothing above the floor, so nothing to run (the report says so too).
            Some(m) if newest.is_some_and(|n| n.version == m.version) => format!(
                "down: none to run, since the newest migration, {}, has no down.sql",
                m.id()
            ),
            Some(m) => format!(
                "down: every down.sql from the newest migration back to {}",
                m.id()
            ),
            None => "down: every down.sql from the newest migration back to the first".into(),
        }));
        let (reverted, failures) = self.down_to(&target, report).await?;
        let after = self.shadow.driver().introspect().await?;
        report.group = Some(GroupCheck {
            automatic: false,
            reverted,
            back_to: migration.map(Migration::id),
            failures,
            shadow: None,
            problems: schema::diff(expected, &after)
                .into_iter()
                .map(|d| DriftLine::new(d, Perspective::Reversal))
                .collect(),
        });
        Ok(())
    }
}

/// Applies the migrations to the shadow and checks their down.sql files as `mode` says;
/// returns the schema as of `compare_at`, or `None` when the shadow stopped before.
#[allow(clippy::too_many_arguments)]
async fn on_shadow(
    config: Config,
    setup: Option<String>,
    migrations: &[Migration],
    compare_at: Option<&Version>,
    mode: DownCheck,
    report: &mut VerifyReport,
    failed_scripts: &mut Vec<String>,
    progress: &mut dyn FnMut(VerifyProgress<'_>),
) -> Result<Option<Schema>, Error> {
    let mut shadow = Migrator::connect(&config).await?;
    shadow::run_setup(shadow.driver(), setup.as_deref()).await?;
    shadow
        .driver()
        .compare_schemas(&created_schemas(migrations, config.target.dialect));
    let start = shadow.driver().introspect().await?;
    let mut run = Run {
        shadow,
        migrations,
        compare_at,
        diverged: None,
        diverged_how: "failed",
        failed_scripts: Vec::new(),
    };
    let at_target = match mode {
        DownCheck::Each => each(&mut run, start, report, progress).await?,
        DownCheck::All | DownCheck::Skip => {
            // The newest migration without a down.sql: no down goes past it.
            let floor = migrations
                .iter()
                .filter(|m| m.down.is_none() && !m.version.is_repeatable())
                .max_by(|a, b| a.version.cmp(&b.version));
            let mut stops: Vec<&Version> = compare_at.into_iter().collect();
            if let (DownCheck::All, Some(floor)) = (mode, floor) {
                stops.push(&floor.version);
            }
            stops.sort();
            stops.dedup();
            let mut at_target = compare_at.is_none().then(|| start.clone());
            let mut at_floor = None;
            let mut stopped = false;
            for stop in stops {
                if run.up_to(Some(stop), report).await?.is_none() {
                    stopped = true;
                    break;
                }
                let schema = run.shadow.driver().introspect().await?;
                if compare_at == Some(stop) {
                    at_target = Some(schema.clone());
                }
                if floor.is_some_and(|f| &f.version == stop) {
                    at_floor = Some(schema);
                }
            }
            if !stopped && run.up_to(None, report).await?.is_none() {
                stopped = true;
            }
            progress(VerifyProgress::Step(format!(
                "up: {} migration{} applied{}",
                report.applied,
                if report.applied == 1 { "" } else { "s" },
                match report.failures.len() {
                    0 => String::new(),
                    n => format!(", {n} failed (see below)"),
                }
            )));
            if mode == DownCheck::All {
                if stopped {
                    report.notes.push(
                        "the down.sql files were not run: the shadow stopped before the newest migration".into(),
                    );
                } else {
                    let expected = at_floor.unwrap_or(start);
                    run.group((floor, &expected), report, progress).await?;
                }
            } else {
                report
                    .notes
                    .push("no down.sql was run (--skip-down)".into());
            }
            at_target
        }
    };
    *failed_scripts = run.failed_scripts;
    Ok(at_target)
}

/// `DownCheck::Each`: up, down, up for every migration.
async fn each(
    run: &mut Run<'_>,
    start: Schema,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(VerifyProgress<'_>),
) -> Result<Option<Schema>, Error> {
    let compare_at = run.compare_at;
    let mut at_target = compare_at.is_none().then(|| start.clone());
    let mut before = start;
    for migration in run.migrations {
        let id = migration.id();
        let Some(failed) = run.up_to(Some(&migration.version), report).await? else {
            return Ok(at_target);
        };
        let check = if failed.contains(&id) {
            MigrationCheck::new(id.clone(), Reversibility::UpFailed)
        } else {
            match &migration.down {
                None => MigrationCheck::new(id.clone(), Reversibility::NoDownSql),
                Some(_) if run.diverged.is_some() => MigrationCheck {
                    note: Some(format!(
                        "the shadow no longer follows the migrations since {} {}",
                        run.diverged.as_deref().unwrap_or_default(),
                        run.diverged_how
                    )),
                    ..MigrationCheck::new(id.clone(), Reversibility::NotChecked)
                },
                Some(down) => round_trip(run, migration, &down.text, &before, report).await?,
            }
        };
        progress(VerifyProgress::Checked(&check));
        report.migrations.push(check);
        before = run.shadow.driver().introspect().await?;
        if compare_at == Some(&migration.version) {
            at_target = Some(before.clone());
        }
    }
    Ok(at_target)
}

/// down.sql of the migration just applied, and up.sql again.
async fn round_trip(
    run: &mut Run<'_>,
    migration: &Migration,
    down_sql: &str,
    before: &Schema,
    report: &mut VerifyReport,
) -> Result<MigrationCheck, Error> {
    let id = migration.id();
    // What up.sql built: after a failed down.sql or second up.sql, the shadow still
    // follows the migrations exactly when it is back to this.
    let after_up = run.shadow.driver().introspect().await?;
    if let Some(error) = script_failure(run.shadow.down(&DownTarget::Steps(1)).await)? {
        let failed = run.failed().await?;
        let applied = failed.as_ref().map_or(0, |f| f.applied);
        report
            .failures
            .push(ScriptFailure::new(migration, ScriptKind::Down, error, None));
        // Rolled back, or failed at its first statement: the shadow is as up.sql left it.
        // Otherwise what ran of it may have changed the schema.
        if applied > 0 && run.shadow.driver().introspect().await? != after_up {
            run.diverge(migration, down_sql, "failed half way through its down.sql");
        }
        // A down.sql rolled back in its transaction leaves the migration applied, and the
        // history says so; one that stopped part-way (MySQL) awaits resolve.
        if failed.is_some() {
            run.shadow
                .resolve(&migration.version, Resolve::Applied)
                .await?;
        }
        return Ok(MigrationCheck::new(id, Reversibility::DownFailed));
    }
    let after_down = run.shadow.driver().introspect().await?;
    let problems: Vec<DriftLine> = schema::diff(before, &after_down)
        .into_iter()
        .map(|d| DriftLine::new(d, Perspective::Reversal))
        .collect();
    let reapply_error = script_failure(
        run.shadow
            .deploy(&Run::options(Some(&migration.version)))
            .await,
    )?;
    if reapply_error.is_some() {
        if run.failed().await?.is_some() {
            run.shadow
                .resolve(&migration.version, Resolve::Applied)
                .await?;
        }
        // What down.sql left behind broke the second up. If that left the shadow without
        // some of what up.sql builds, it no longer follows the migrations, as after a
        // failed up.sql; if down.sql simply did nothing, it still does.
        if run.shadow.driver().introspect().await? != after_up {
            run.diverge(
                migration,
                &migration.up.text,
                "lost part of what it built to its down.sql",
            );
        }
    }
    Ok(MigrationCheck {
        reversibility: if problems.is_empty() && reapply_error.is_none() {
            Reversibility::Reversible
        } else {
            Reversibility::Irreversible
        },
        problems,
        reapply_error,
        ..MigrationCheck::new(id, Reversibility::Reversible)
    })
}

/// A script that failed on the shadow is a finding (exit 1), not an error of verify's
/// own; the advice about `resolve` in the message is for real databases, so it goes.
fn script_failure<T>(result: Result<T, Error>) -> Result<Option<String>, Error> {
    result.err().map(script_error).transpose()
}

/// The finding in a script's failure, or the error when it is verify's own.
fn script_error(error: Error) -> Result<String, Error> {
    match error {
        // What happened, without the notes and advice after it.
        Error::MigrationFailed { message, .. } => {
            Ok(message.split("\n\n").next().unwrap_or(&message).to_string())
        }
        // The shadow is fresh, so nothing can be modified or out of order there; a
        // refusal of the history means a script left the shadow in a state deploy will
        // not touch, and a step refused by its grants or a validator is the scripts' too.
        Error::Blocked {
            reason: Refusal::History | Refusal::Grants | Refusal::Validation,
            message,
        } => Ok(message),
        // A plugin file that is not the one pinned, or a command that does not apply, is
        // not something a script did.
        other => Err(other),
    }
}

/// Where the target stands: the version to compare at, and what is worth saying.
struct TargetPosition {
    compare_at: Option<Version>,
    pending: Vec<String>,
    notes: Vec<String>,
    /// The up.sql of each migration that failed or stopped partway on the target: part of
    /// it may be there, so drift in what it names is set apart, as for a shadow failure.
    partial: Vec<String>,
}

impl TargetPosition {
    fn read(entries: &[history::Entry]) -> TargetPosition {
        let applied = |s: Status| matches!(s, Status::Applied | Status::Modified);
        let compare_at = entries
            .iter()
            .filter(|e| applied(e.status) && e.migration.is_some())
            .map(|e| e.version.clone())
            .max();
        let id = |e: &history::Entry| format!("{}_{}", e.version, e.name);
        let pending: Vec<String> = entries
            .iter()
            .filter(|e| e.status.is_pending() || e.status == Status::OutOfOrder)
            .map(id)
            .collect();
        let mut notes = Vec::new();
        if let Some(which) = crate::text::span(&pending) {
            let at = match &compare_at {
                Some(v) => format!("the shadow as of {v}, the newest migration applied there"),
                None => "an empty schema, since nothing is applied there yet".into(),
            };
            notes.push(format!(
                "the target has {} pending migration{} ({}); it is compared with {at}",
                pending.len(),
                crate::text::plural(pending.len()),
                which
            ));
        }
        for e in entries {
            let note = match e.status {
                Status::OutOfOrder => format!(
                    "{} is pending on the target but older than migrations applied there; the shadow has it, so its objects show as drift",
                    id(e)
                ),
                Status::Modified => format!(
                    "{} was modified after it was applied to the target; the shadow runs the file as it is now",
                    id(e)
                ),
                Status::Missing => format!(
                    "{} is applied on the target but its directory is gone; whatever it created shows as drift",
                    id(e)
                ),
                // As status says it: a failure in a transaction that was rolled back.
                Status::Failed if e.row.is_some_and(history::HistoryRow::nothing_applied) => {
                    format!("{} failed on the target with nothing of it applied", id(e))
                }
                Status::Failed | Status::Running | Status::Resumable => format!(
                    "{} is {} on the target, so part of it may be in the database",
                    id(e),
                    e.status.label()
                ),
                _ => continue,
            };
            notes.push(note);
        }
        let partial = entries
            .iter()
            .filter(|e| {
                matches!(
                    e.status,
                    Status::Failed | Status::Running | Status::Resumable
                )
            })
            .filter_map(|e| Some(e.migration?.up.text.clone()))
            .collect();
        TargetPosition {
            compare_at,
            pending,
            notes,
            partial,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so that a cancelled CI job still drops the shadow.
#[cfg(test)]
mod tests {
    use super::*;
    use godwit_core::schema::DriftKind;

    fn line(object: &str, kind: DriftKind, perspective: Perspective) -> DriftLine {
        let (expected, actual) = match kind {
            DriftKind::Missing => (Some("(email)".to_string()), None),
            DriftKind::Extra => (None, Some("text NULL".to_string())),
            DriftKind::Different => (Some("integer".to_string()), Some("bigint".to_string())),
        };
        DriftLine::new(
            Drift {
                object: object.into(),
                kind,
                expected,
                actual,
            },
            perspective,
        )
    }

    fn report() -> VerifyReport {
        VerifyReport {
            target: "postgres://app:***@db/app".into(),
            shadow: ShadowInfo {
                url: "postgres://app:***@db/godwit_shadow_0123456789ab".into(),
                location: "godwit_shadow_0123456789ab".into(),
                created: true,
                kept: false,
            },
            down_check: DownCheck::Each,
            applied: 2,
            group: None,
            migrations: vec![
                MigrationCheck {
                    migration: "20260801000000_create_users".into(),
                    reversibility: Reversibility::Reversible,
                    problems: Vec::new(),
                    reapply_error: None,
                    note: None,
                },
                MigrationCheck {
                    migration: "20260802000000_add_users_bio".into(),
                    reversibility: Reversibility::Irreversible,
                    problems: vec![line(
                        "column users.bio",
                        DriftKind::Extra,
                        Perspective::Reversal,
                    )],
                    reapply_error: None,
                    note: None,
                },
            ],
            compared_at: Some("20260802000000".into()),
            compared: true,
            compared_straight_up: false,
            pending_on_target: vec!["20260803000000_seed_users".into()],
            drift: vec![
                line("column users.nickname", DriftKind::Extra, Perspective::Target),
                line(
                    "index users_email_idx on users",
                    DriftKind::Missing,
                    Perspective::Target,
                ),
                line("column users.id", DriftKind::Different, Perspective::Target),
            ],
            notes: vec!["the target has 1 pending migration (20260803000000_seed_users); it is compared with the shadow as of 20260802000000, the newest migration applied there".into()],
            drift_near_failures: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// defguard's newest migration has no down.sql: down all ran nothing, and must not
    /// say the history comes back to where it started.
    #[test]
    fn a_down_all_that_ran_nothing_says_so() {
        let group = GroupCheck {
            automatic: true,
            reverted: 0,
            back_to: Some("20260511085206_x".into()),
            failures: Vec::new(),
            problems: Vec::new(),
            shadow: None,
        };
        let mut report = report();
        report.group = Some(group);
        let text = report.text();
        assert!(
            text.contains(
                "no down.sql ran, since the newest migration, 20260511085206_x, has none"
            ),
            "{text}"
        );
        assert!(!text.contains("comes back to where it started"), "{text}");
    }

    #[test]
    fn the_report_people_read() {
        let report = report();
        assert_eq!(report.exit_code(), exit::BLOCKED);
        let lines: Vec<String> = report.migrations.iter().map(MigrationCheck::line).collect();
        insta::assert_snapshot!(format!("{}\n{}", lines.join("\n"), report.text()), @r"
        20260801000000_create_users  up, down, up: down.sql undoes up.sql
        20260802000000_add_users_bio  up, down, up: down.sql does NOT undo up.sql (1 difference)

        1 migration is not reversible:
          down.sql of 20260802000000_add_users_bio does not undo its up.sql:
            column users.bio still exists after down.sql: text NULL

        Drift: 3 objects in postgres://app:***@db/app differ from the migrations (as of 20260802000000):
          column users.nickname: in the database but not in the migrations (added by hand?): text NULL
          index users_email_idx on users: in the migrations but not in the database (dropped by hand?): (email)
          column users.id: the migrations give `integer`, the database has `bigint`

        note: the target has 1 pending migration (20260803000000_seed_users); it is compared with the shadow as of 20260802000000, the newest migration applied there

        The shadow database godwit_shadow_0123456789ab was dropped.
        ");
    }

    /// Each script is named once: `1_x.down.sql`, never `1_x.down.sql of 1_x`.
    #[test]
    fn a_failed_script_is_named_once() {
        let named = |file: Option<&str>, section: Option<&str>| {
            ScriptFailure {
                migration: "20250402170430_unique_names".into(),
                script: ScriptKind::Down,
                file: file.map(Into::into),
                section: section.map(Into::into),
                error: String::new(),
                after: None,
            }
            .script_name()
        };
        assert_eq!(
            named(Some("20250402170430_unique_names.down.sql"), None),
            "20250402170430_unique_names.down.sql"
        );
        assert_eq!(
            named(Some("migration.sql"), None),
            "migration.sql of 20250402170430_unique_names"
        );
        assert_eq!(named(None, None), "down.sql of 20250402170430_unique_names");
        assert_eq!(
            named(Some("20250402170430_unique_names.sql"), Some("down")),
            "the `down` section of 20250402170430_unique_names.sql"
        );
    }

    #[test]
    fn drift_is_put_near_the_failed_script_that_names_it() {
        let sql = "CREATE TABLE tags (id INT);\nALTER TABLE users ADD COLUMN \"Bio\" TEXT;\nCREATE INDEX tags_label_idx ON tags (label);";
        let named = |object: &str| {
            names(
                sql,
                &Drift {
                    object: object.into(),
                    kind: DriftKind::Extra,
                    expected: None,
                    actual: None,
                },
            )
        };
        assert!(named("table tags"));
        assert!(named("column users.bio"), "any case");
        assert!(named("index tags_label_idx on tags"));
        assert!(named(
            "constraint FOREIGN KEY (tag_id) REFERENCES x on tags"
        ));
        assert!(!named("table tag"), "a whole word only");
        assert!(!named("column users.email"));
        // Of a table the script names, whatever the object's own name (harbor: triggers
        // and a constraint PostgreSQL named after the table).
        assert!(named("index users_email_idx on users"));
        assert!(named("trigger users_touch on users"));
        assert!(!named("index posts_user_idx on posts"));
        assert!(!named("trigger tags_touch on tags_history"));
        assert!(!named("routine label_of(integer)"));
    }

    #[test]
    fn exit_codes() {
        let mut report = report();
        report.migrations.truncate(1);
        report.drift.clear();
        assert_eq!(report.exit_code(), exit::OK);
        report.failures.push(ScriptFailure {
            migration: "20260801000000_create_users".into(),
            script: ScriptKind::Up,
            file: None,
            section: None,
            error: "relation \"legacy\" does not exist".into(),
            after: None,
        });
        assert_eq!(report.exit_code(), exit::FAILED, "a broken script wins");
        report.failures.clear();
        // What the default run tried by itself does not change its verdict; what
        // --down-all was asked to check does.
        let group = GroupCheck {
            automatic: true,
            reverted: 1,
            back_to: None,
            failures: Vec::new(),
            problems: vec![line("table users", DriftKind::Extra, Perspective::Reversal)],
            shadow: None,
        };
        report.group = Some(group.clone());
        assert_eq!(report.exit_code(), exit::OK);
        report.group = Some(GroupCheck {
            automatic: false,
            ..group.clone()
        });
        assert_eq!(report.exit_code(), exit::BLOCKED);
        // A down.sql that fails in the automatic pass fails the run when that pass was
        // the only check it got; one checked on its own that fails only there does not.
        let failing = |migration: &str| ScriptFailure {
            migration: migration.into(),
            script: ScriptKind::Down,
            file: None,
            section: None,
            error: "syntax error at or near \"COLUMN\"".into(),
            after: None,
        };
        report.group = Some(GroupCheck {
            failures: vec![failing("20260901000000_never_checked")],
            problems: Vec::new(),
            ..group.clone()
        });
        assert_eq!(report.exit_code(), exit::FAILED);
        report.migrations[0].reversibility = Reversibility::Reversible;
        let checked = report.migrations[0].migration.clone();
        report.group = Some(GroupCheck {
            failures: vec![failing(&checked)],
            problems: Vec::new(),
            ..group
        });
        assert_eq!(report.exit_code(), exit::OK);
    }
}
