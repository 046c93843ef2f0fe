//! `godwit verify`: build the schema the migrations describe in a shadow database, check
//! that every down.sql undoes its up.sql, and compare the result with the target.
//!
//! The run, top to bottom:
//! 1. read and split every file (a malformed one stops us before any database is made);
//! 2. read the target's history: the shadow is compared as of the newest migration
//!    applied there, so pending migrations are not drift;
//! 3. get a shadow: a fresh database next to the target (dropped at the end, whatever
//!    happens), or the empty one named by `--shadow-url` / `shadow_url`;
//! 4. on the shadow, for each migration in order: up; if it has a down.sql, down and up
//!    again, checking that the schema after down equals the schema before up. Going
//!    forward one migration at a time tests each down.sql in the state `godwit down`
//!    meets right after a deploy, and a migration without down.sql does not stop the
//!    older ones from being checked. It costs two introspections per reversible
//!    migration (after down, after the second up) and one per other migration;
//! 5. compare the shadow's schema (as of the target's version) with the target's.
//!
//! Exit codes: 0 clean; 4 drift or a down.sql that does not undo its up.sql; 1 an up.sql
//! or down.sql failed on the shadow (the scripts themselves are broken); 2 and 3 as
//! everywhere (configuration, connection).

mod shadow;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, exit};
use crate::history::{self, Status};
use crate::migrator::{DeployOptions, DownTarget, Migrator};
use crate::schema::{self, Drift, Perspective, Schema};
use crate::source::{Migration, Version};

pub use shadow::ShadowInfo;

/// Flags of `godwit verify`.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Use this (empty) database instead of creating one; wins over `shadow_url`.
    pub shadow_url: Option<String>,
    /// Leave the shadow database behind for inspection.
    pub keep_shadow: bool,
}

/// Whether a migration's down.sql undoes its up.sql.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversibility {
    Reversible,
    /// The schema after down.sql differs from the schema before up.sql.
    Irreversible,
    NoDownSql,
}

/// One drifted object, with the sentence a person reads.
#[derive(Clone, Debug, Serialize)]
pub struct DriftLine {
    #[serde(flatten)]
    pub drift: Drift,
    pub message: String,
}

impl DriftLine {
    fn new(drift: Drift, perspective: Perspective) -> DriftLine {
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
}

impl MigrationCheck {
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
            Reversibility::NoDownSql => "up: no down.sql, reversibility not checked".to_string(),
        };
        format!("{}  {verdict}", self.migration)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// The target database, password hidden.
    pub target: String,
    pub shadow: ShadowInfo,
    pub migrations: Vec<MigrationCheck>,
    /// The version the target was compared at: its newest applied migration (`None`:
    /// nothing applied, compared with an empty schema; also `None` when not compared).
    pub compared_at: Option<String>,
    pub compared: bool,
    pub pending_on_target: Vec<String>,
    pub drift: Vec<DriftLine>,
    pub notes: Vec<String>,
    /// An up.sql or down.sql that failed on the shadow.
    pub failure: Option<String>,
}

impl VerifyReport {
    pub fn irreversible(&self) -> impl Iterator<Item = &MigrationCheck> {
        self.migrations
            .iter()
            .filter(|m| m.reversibility == Reversibility::Irreversible)
    }

    /// 1 when a script failed, 4 on drift or an irreversible migration, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.failure.is_some() {
            exit::FAILED
        } else if !self.drift.is_empty() || self.irreversible().next().is_some() {
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
                    out.push_str(&format!("    {}\n", shorten(&problem.message)));
                }
                if let Some(error) = &check.reapply_error {
                    out.push_str(&format!(
                        "    and then up.sql failed when applied again: {}\n",
                        error.replace('\n', "\n    ")
                    ));
                }
            }
        }
        if let Some(failure) = &self.failure {
            out.push_str(&format!(
                "\nOn the shadow database, {}\n",
                failure.replace('\n', "\n  ")
            ));
        }
        if self.compared {
            let at = match &self.compared_at {
                Some(v) => format!("as of {v}"),
                None => "with nothing applied".into(),
            };
            if self.drift.is_empty() {
                out.push_str(&format!(
                    "\nNo drift: {} matches the migrations ({at}).\n",
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
                    out.push_str(&format!("  {}\n", shorten(&line.message)));
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

/// Long view or trigger definitions are cut in the text output (JSON keeps them whole).
fn shorten(line: &str) -> String {
    const MAX: usize = 240;
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_string()
    }
}

/// What [`verify`] tells the caller as it goes.
#[derive(Clone, Debug)]
pub enum Progress<'a> {
    ShadowReady(&'a ShadowInfo),
    Checked(&'a MigrationCheck),
}

/// Runs the whole check; `target` is connected to the database being verified.
pub async fn verify(
    target: &mut Migrator,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(Progress<'_>),
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
    let position = TargetPosition::read(&history::entries(&migrations, &rows));

    let shadow =
        shadow::Shadow::prepare(&config, target.driver(), options.shadow_url.as_deref()).await?;
    let mut report = VerifyReport {
        target: config.target.display.clone(),
        shadow: shadow.info(options.keep_shadow),
        migrations: Vec::new(),
        compared_at: position.compare_at.as_ref().map(ToString::to_string),
        compared: false,
        pending_on_target: position.pending.clone(),
        drift: Vec::new(),
        notes: position.notes.clone(),
        failure: None,
    };
    progress(Progress::ShadowReady(&report.shadow));

    let work = on_shadow(
        shadow.config(&config),
        shadow.setup(),
        &migrations,
        position.compare_at.as_ref(),
        &mut report,
        progress,
    );
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = interrupted() => Err(Error::Database {
            context: "verify was interrupted".into(),
            message: format!("{signal}; the shadow database was cleaned up"),
        }),
    };
    // Whatever happened above, the shadow goes (or stays, when asked to).
    let cleaned = shadow
        .finish(&config, target.driver(), options.keep_shadow)
        .await;
    let expected = match (outcome, cleaned) {
        (Ok(expected), Ok(())) => expected,
        (Err(e), Ok(())) | (Ok(_), Err(e)) => return Err(e),
        // A shadow left behind is the one thing the user must hear about.
        (Err(e), Err(cleanup)) => {
            return Err(Error::Database {
                context: e.to_string(),
                message: format!("and the shadow database could not be removed: {cleanup}"),
            });
        }
    };

    match expected {
        Some(expected) => {
            let actual = target.driver().introspect().await?;
            report.drift = schema::diff(&expected, &actual)
                .into_iter()
                .map(|d| DriftLine::new(d, Perspective::Target))
                .collect();
            report.compared = true;
        }
        None => report.notes.push(format!(
            "{} was not compared with the migrations: the shadow stopped before reaching {}",
            report.target,
            report.compared_at.as_deref().unwrap_or("its version")
        )),
    }
    Ok(report)
}

/// Applies every migration to the shadow with up-down-up, recording what each down.sql
/// leaves behind; returns the schema as of `compare_at`, or `None` when a script failed
/// before the shadow got there.
async fn on_shadow(
    config: Config,
    setup: Option<&str>,
    migrations: &[Migration],
    compare_at: Option<&Version>,
    report: &mut VerifyReport,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Option<Schema>, Error> {
    let mut shadow = Migrator::connect(&config).await?;
    if let Some(sql) = setup {
        shadow
            .driver()
            .execute(sql)
            .await
            .map_err(|e| Error::db(format!("cannot prepare the shadow database ({sql})"), &e))?;
    }
    let mut before = shadow.driver().introspect().await?;
    let mut at_target = compare_at.is_none().then(|| before.clone());
    for migration in migrations {
        let id = migration.id();
        let up = DeployOptions {
            to: Some(migration.version.clone()),
            allow_out_of_order: true,
            restore_on_failure: false,
            // The shadow holds nothing but godwit's own tables.
            ignore_other_history: true,
        };
        if let Some(error) = script_failure(shadow.deploy(&up).await)? {
            report.failure = Some(format!("up.sql of {id} failed: {error}"));
            return Ok(at_target);
        }
        let check = match &migration.down {
            None => MigrationCheck {
                migration: id.clone(),
                reversibility: Reversibility::NoDownSql,
                problems: Vec::new(),
                reapply_error: None,
            },
            Some(_) => {
                let reverted = shadow.down(&DownTarget::Steps(1)).await;
                if let Some(error) = script_failure(reverted)? {
                    report.failure = Some(format!("down.sql of {id} failed: {error}"));
                    return Ok(at_target);
                }
                let after_down = shadow.driver().introspect().await?;
                let problems: Vec<DriftLine> = schema::diff(&before, &after_down)
                    .into_iter()
                    .map(|d| DriftLine::new(d, Perspective::Reversal))
                    .collect();
                let again = shadow.deploy(&up).await;
                let reapply_error = script_failure(again)?;
                let check = MigrationCheck {
                    migration: id.clone(),
                    reversibility: if problems.is_empty() && reapply_error.is_none() {
                        Reversibility::Reversible
                    } else {
                        Reversibility::Irreversible
                    },
                    problems,
                    reapply_error,
                };
                if check.reapply_error.is_some() {
                    // What down.sql left behind broke the second up: the shadow no longer
                    // follows the migrations, so nothing after this can be checked.
                    report.notes.push(format!(
                        "verify stopped at {id}: up.sql could not be applied again after its down.sql, \
                         so the migrations after it were not checked"
                    ));
                    progress(Progress::Checked(&check));
                    report.migrations.push(check);
                    return Ok(at_target);
                }
                check
            }
        };
        progress(Progress::Checked(&check));
        report.migrations.push(check);
        before = shadow.driver().introspect().await?;
        if compare_at == Some(&migration.version) {
            at_target = Some(before.clone());
        }
    }
    Ok(at_target)
}

/// A script that failed on the shadow is a finding (exit 1), not an error of verify's
/// own; the advice about `resolve` in the message is for real databases, so it goes.
fn script_failure<T>(result: Result<T, Error>) -> Result<Option<String>, Error> {
    match result {
        Ok(_) => Ok(None),
        Err(Error::MigrationFailed(message)) => Ok(Some(
            message.split("\n\n").next().unwrap_or(&message).to_string(),
        )),
        // The shadow is fresh, so nothing can be modified or out of order there; a refusal
        // means a script left the shadow in a state deploy will not touch.
        Err(Error::Blocked(message)) => Ok(Some(message)),
        Err(other) => Err(other),
    }
}

/// Where the target stands: the version to compare at, and what is worth saying.
struct TargetPosition {
    compare_at: Option<Version>,
    pending: Vec<String>,
    notes: Vec<String>,
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
        if !pending.is_empty() {
            let at = match &compare_at {
                Some(v) => format!("the shadow as of {v}, the newest migration applied there"),
                None => "an empty schema, since nothing is applied there yet".into(),
            };
            notes.push(format!(
                "the target has {} pending migration{} ({}); it is compared with {at}",
                pending.len(),
                if pending.len() == 1 { "" } else { "s" },
                pending.join(", ")
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
                Status::Failed | Status::Running | Status::Resumable => format!(
                    "{} is {} on the target, so part of it may be in the database",
                    id(e),
                    e.status.label()
                ),
                _ => continue,
            };
            notes.push(note);
        }
        TargetPosition {
            compare_at,
            pending,
            notes,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so that a cancelled CI job still drops the shadow.
async fn interrupted() -> &'static str {
    // A signal we cannot listen for must not look like one that arrived.
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = ctrl_c => "interrupted (Ctrl-C)",
                _ = term.recv() => "terminated (SIGTERM)",
            };
        }
    }
    ctrl_c.await;
    "interrupted (Ctrl-C)"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::DriftKind;

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
            migrations: vec![
                MigrationCheck {
                    migration: "20260801000000_create_users".into(),
                    reversibility: Reversibility::Reversible,
                    problems: Vec::new(),
                    reapply_error: None,
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
                },
            ],
            compared_at: Some("20260802000000".into()),
            compared: true,
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
            failure: None,
        }
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

    #[test]
    fn exit_codes() {
        let mut report = report();
        report.migrations.truncate(1);
        report.drift.clear();
        assert_eq!(report.exit_code(), exit::OK);
        report.failure = Some("up.sql of x failed".into());
        assert_eq!(report.exit_code(), exit::FAILED, "a broken script wins");
    }
}
