//! `github-summary`: a Markdown summary of the run in the GitHub Actions job summary, the
//! file named by `GITHUB_STEP_SUMMARY`.
//!
//! Every call is a fresh instance, so nothing is buffered: each event appends its lines
//! as it arrives, and whether a migrations table is already open is read back from the
//! file itself.
//!
//! The operator grants the file with `append = ["$GITHUB_STEP_SUMMARY"]`: the sandbox then
//! holds that one file, at the same path as on the runner, and none of its neighbours
//! (`GITHUB_ENV`, `GITHUB_PATH`).

use std::fs::OpenOptions;
use std::io::Write as _;

use godwit_sdk::{Event, Finding, Notifier};

struct GithubSummary;

/// The summary file: the path in `GITHUB_STEP_SUMMARY`, which the `append` grant makes
/// the same inside the sandbox as outside.
fn summary_path() -> Result<String, String> {
    std::env::var("GITHUB_STEP_SUMMARY").map_err(|_| {
        "GITHUB_STEP_SUMMARY is not set, or not granted: grant env = [\"GITHUB_STEP_SUMMARY\"] and append = [\"$GITHUB_STEP_SUMMARY\"]".to_owned()
    })
}

/// Text for one Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

const TABLE_HEADER: &str = "\n| | migration | operation | time | rows |\n|---|---|---|---|---|\n";
const APPLIED: &str = "| ✅ ";
const FAILED: &str = "| ❌ ";

/// Whether the file ends inside the migrations table, so a row can follow directly.
fn table_open(existing: &str) -> bool {
    existing
        .lines()
        .last()
        .is_some_and(|l| l.starts_with(APPLIED) || l.starts_with(FAILED))
}

fn findings_table(findings: &[Finding]) -> String {
    let mut s = String::from("| severity | rule | message | location |\n|---|---|---|---|\n");
    for f in findings {
        s += &format!(
            "| {} | `{}` | {} | {} |\n",
            f.severity.as_str(),
            f.rule,
            cell(&f.message),
            f.location.as_deref().map(cell).unwrap_or_default()
        );
    }
    s
}

/// What to append for `event` about fleet target `target` (if any), given the file so
/// far; `None` for events the summary skips.
fn lines(event: &Event, target: Option<&str>, existing: &str) -> Option<String> {
    // A fleet's targets run side by side, so each line says which one it is about.
    let on = target
        .map(|t| format!("`{}` ", cell(t)))
        .unwrap_or_default();
    let row = |marker: &str, row: String| {
        let header = if table_open(existing) {
            ""
        } else {
            TABLE_HEADER
        };
        format!("{header}{marker}{row}\n")
    };
    Some(match event {
        Event::RunStarted(e) => format!(
            "\n## godwit {}{}\n\n{} pending migration(s) on `{}`.\n",
            e.operation,
            target
                .map(|t| format!(" on {}", cell(t)))
                .unwrap_or_default(),
            e.pending,
            e.database
        ),
        Event::MigrationApplied(e) => row(
            APPLIED,
            format!(
                "| {on}`{}_{}` | {} | {} | {} |",
                e.version,
                cell(&e.name),
                e.operation,
                duration(e.duration_ms),
                e.rows_affected
            ),
        ),
        Event::MigrationFailed(e) => row(
            FAILED,
            format!(
                "| {on}`{}_{}` | failed: {} | | |",
                e.version,
                cell(&e.name),
                cell(&e.error)
            ),
        ),
        Event::FindingsReported(e) if !e.findings.is_empty() => format!(
            "\n**{}** reported {} finding(s){}:\n\n{}",
            e.source,
            e.findings.len(),
            if e.blocking { ", blocking the run" } else { "" },
            findings_table(&e.findings)
        ),
        Event::BackupTaken(e) => format!("\nBackup `{}` taken ({} bytes).\n", e.id, e.size),
        Event::RolledBack(e) => format!(
            "\n⚠️ Rolled back{}: {}\n",
            e.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            e.reason
        ),
        Event::RunFinished(e) => match &e.failed {
            None => format!(
                "\n**Result:** ✅ {} migration(s), {} in {}.\n",
                e.applied,
                e.operation,
                duration(e.duration_ms)
            ),
            Some(failed) => format!(
                "\n**Result:** ❌ {} failed at `{failed}` after {} migration(s), {}.\n",
                e.operation,
                e.applied,
                duration(e.duration_ms)
            ),
        },
        Event::StepPaused(e) if e.paused_ms == 0 => {
            format!("\n⏸️ {on}`{}` paused: {}\n", e.version, cell(&e.message))
        }
        Event::StepResumed(e) => format!(
            "\n▶️ {on}`{}` resumed after {} paused.\n",
            e.version,
            duration(e.paused_ms)
        ),
        Event::FindingsReported(_)
        | Event::MigrationStarted(_)
        | Event::BatchProgress(_)
        | Event::StepPaused(_) => {
            return None;
        }
    })
}

impl Notifier for GithubSummary {
    fn notify(event: Event, target: Option<String>) -> Result<(), String> {
        let path = summary_path()?;
        let existing = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(format!(
                    "cannot read {path}: {e} (is it granted as append = [\"$GITHUB_STEP_SUMMARY\"]?)"
                ));
            }
        };
        let Some(text) = lines(&event, target.as_deref(), &existing) else {
            return Ok(());
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {path}: {e} (is it granted as append = [\"$GITHUB_STEP_SUMMARY\"]?)"))?;
        file.write_all(text.as_bytes())
            .map_err(|e| format!("cannot append to {path}: {e}"))
    }
}

godwit_sdk::export_notifier!(GithubSummary);

#[cfg(test)]
mod tests {
    use godwit_sdk::{
        Event, MigrationApplied, MigrationFailed, PauseReason, StepPaused, StepResumed,
    };

    use super::lines;

    fn applied(version: &str) -> Event {
        Event::MigrationApplied(MigrationApplied {
            version: version.into(),
            name: "create_users".into(),
            operation: "deploy".into(),
            duration_ms: 1500,
            rows_affected: 3,
        })
    }

    #[test]
    fn rows_share_one_table_header() {
        let mut file = String::new();
        file += &lines(&applied("1"), None, &file).unwrap();
        file += &lines(&applied("2"), None, &file).unwrap();
        let failed = Event::MigrationFailed(MigrationFailed {
            version: "3".into(),
            name: "x".into(),
            error: "syntax | error\nline 2".into(),
        });
        file += &lines(&failed, None, &file).unwrap();
        assert_eq!(file.matches("| | migration |").count(), 1, "{file}");
        assert!(
            file.contains("| ✅ | `1_create_users` | deploy | 1.5 s | 3 |"),
            "{file}"
        );
        assert!(
            file.contains("failed: syntax \\| error<br>line 2"),
            "{file}"
        );
    }

    #[test]
    fn a_fleets_lines_name_their_target_and_pauses_are_told() {
        let mut file = String::new();
        file += &lines(&applied("1"), Some("tenant|7"), &file).unwrap();
        assert!(
            file.contains("| ✅ | `tenant\\|7` `1_create_users` | deploy |"),
            "{file}"
        );
        let paused = |paused_ms| {
            Event::StepPaused(StepPaused {
                version: "2".into(),
                reason: PauseReason::HealthQuery("SELECT ok FROM gate".into()),
                message: "the health query returned false".into(),
                paused_ms,
                max_pause_ms: 60_000,
            })
        };
        let told = lines(&paused(0), Some("north"), &file).unwrap();
        assert!(
            told.contains("⏸️ `north` `2` paused: the health query returned false"),
            "{told}"
        );
        // Reminders while the pause lasts are not repeated in the summary.
        assert_eq!(lines(&paused(60_000), Some("north"), &file), None);
        let resumed = Event::StepResumed(StepResumed {
            version: "2".into(),
            paused_ms: 1500,
            reason: PauseReason::HealthQuery("SELECT ok FROM gate".into()),
        });
        let told = lines(&resumed, None, &file).unwrap();
        assert!(
            told.contains("▶️ `2` resumed after 1.5 s paused."),
            "{told}"
        );
    }
}
