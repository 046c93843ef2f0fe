//! What people read: status tables, run progress, history and its statistics, in
//! human form or as JSON.

use std::io::Write;

use serde::Serialize;

use crate::backup::Meta;
use crate::backup::copy::{CopyOutcome, Listed, Listing};
use crate::event::Event;
use crate::history::{Entry, HistoryRow, Operation, RowState, Status};
pub use crate::history::{Summary, summarize};
use crate::migrator::RunReport;
pub use crate::migrator::empty_downs_warning;
pub use crate::text::{bytes, ms};
use crate::text::{plural, thousands};

/// Prints run events as they arrive, one line per migration; a step's batches drive a
/// progress bar on a terminal, and a line every few seconds elsewhere (CI logs).
#[derive(Default)]
pub struct ProgressPrinter {
    open_line: bool,
    /// Statements of the running SQL migration applied before this run resumed it.
    resumed_after: Option<usize>,
    bar: Option<indicatif::ProgressBar>,
    last_line: Option<std::time::Instant>,
}

/// How often a progress line is printed when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl ProgressPrinter {
    pub fn event(&mut self, event: &Event) {
        if let Event::BatchProgress { .. }
        | Event::PluginLog { .. }
        | Event::StepPaused { .. }
        | Event::StepResumed { .. } = event
        {
            return self.step_event(event);
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let mut out = std::io::stdout().lock();
        let close = |open: &mut bool, out: &mut std::io::StdoutLock| {
            if std::mem::take(open) {
                let _ = writeln!(out);
            }
        };
        match event {
            Event::LockWaiting { holder } => {
                close(&mut self.open_line, &mut out);
                let _ = writeln!(out, "waiting for the migration lock: {holder}");
            }
            Event::LockAcquired { waited_ms } => {
                let _ = writeln!(out, "got the migration lock after {}", ms(*waited_ms));
            }
            // The command prints its own summary; restores print as `Restored`.
            Event::RunFinished { .. } | Event::RolledBack { .. } => {}
            Event::FindingsReported {
                source,
                findings,
                blocking,
            } => {
                close(&mut self.open_line, &mut out);
                let _ = writeln!(
                    out,
                    "validator {source}: {}{}",
                    crate::findings_report::Summary::of(findings),
                    if *blocking { " Deploy blocked." } else { "" }
                );
                for f in findings {
                    let place = f
                        .location
                        .migration
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  {}[{}]{place}: {}",
                        f.severity.as_str(),
                        f.rule,
                        f.message
                    );
                    if let Some(help) = &f.help {
                        let _ = writeln!(out, "    help: {help}");
                    }
                }
            }
            Event::RunStarted {
                operation,
                pending,
                database,
            } => {
                let verb = if operation == "down" {
                    "revert"
                } else {
                    "apply"
                };
                let _ = match pending {
                    0 => Ok(()),
                    n => writeln!(out, "{database}: {n} migration{} to {verb}", plural(*n)),
                };
            }
            Event::MigrationStarted {
                version,
                name,
                kind,
                statements,
                resume_at,
            } => {
                close(&mut self.open_line, &mut out);
                let resume = match (resume_at, kind.as_str()) {
                    (Some(n), "step") => format!(" (resuming after batch {n})"),
                    (Some(n), _) => format!(" (resuming at statement {} of {statements})", n + 1),
                    (None, _) => String::new(),
                };
                self.resumed_after = (kind != "step").then_some(*resume_at).flatten();
                let _ = write!(out, "  {version}_{name}{resume} … ");
                self.open_line = true;
            }
            Event::Retrying {
                attempt,
                error,
                delay_ms,
                ..
            } => {
                close(&mut self.open_line, &mut out);
                let _ = writeln!(
                    out,
                    "    lock timeout ({error}); retry {attempt} in {}",
                    ms(*delay_ms)
                );
            }
            Event::MigrationFinished {
                duration_ms,
                kind,
                statements,
                rows_affected,
                rows_retried,
                operation,
                ..
            } => {
                let unit = if kind == "step" { "batch" } else { "statement" };
                let units = if kind == "step" {
                    "batches"
                } else {
                    "statements"
                };
                let verb = if *operation == Operation::Down {
                    "reverted"
                } else {
                    "applied"
                };
                let rows = if *rows_affected > 0 {
                    format!(
                        ", {} row{}",
                        thousands(*rows_affected),
                        plural(*rows_affected as usize)
                    )
                } else {
                    String::new()
                };
                let rows = if *rows_retried > 0 {
                    format!(
                        "{rows}; {} row{} changed by another writer after being read, read and transformed again",
                        thousands(*rows_retried),
                        plural(*rows_retried as usize)
                    )
                } else {
                    rows
                };
                if !std::mem::take(&mut self.open_line) {
                    let _ = write!(out, "  ");
                }
                // A resumed migration ran only the rest of its statements this time.
                let count = match self.resumed_after.take() {
                    Some(before) if before + 1 == *statements => {
                        format!("statement {statements} of {statements}")
                    }
                    Some(before) if before < *statements => {
                        format!("statements {} to {statements} of {statements}", before + 1)
                    }
                    _ => format!(
                        "{statements} {}",
                        if *statements == 1 { unit } else { units }
                    ),
                };
                let _ = writeln!(out, "{verb} in {} ({count}{rows})", ms(*duration_ms));
            }
            Event::MigrationFailed { .. } => {
                if std::mem::take(&mut self.open_line) {
                    let _ = writeln!(out, "FAILED");
                }
            }
            Event::BackupTaken {
                id,
                size,
                path,
                reason,
            } => {
                close(&mut self.open_line, &mut out);
                let _ = writeln!(
                    out,
                    "backup {id} taken ({}, {reason}): {path}",
                    bytes(*size)
                );
            }
            Event::Restored { id, created_at } => {
                close(&mut self.open_line, &mut out);
                let _ = writeln!(
                    out,
                    "restored backup {id} (taken {}); the history table is as it was then",
                    short_time(created_at)
                );
            }
            Event::DataCopy { version, outcome } => {
                close(&mut self.open_line, &mut out);
                let _ = writeln!(out, "    {}", data_copy(version, outcome));
            }
            Event::BatchProgress { .. }
            | Event::PluginLog { .. }
            | Event::StepPaused { .. }
            | Event::StepResumed { .. } => unreachable!("handled above"),
        }
        let _ = out.flush();
    }

    /// A line between progress updates: above the bar, or on its own line.
    fn println(&mut self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                if std::mem::take(&mut self.open_line) {
                    let _ = writeln!(out);
                }
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    }

    fn step_event(&mut self, event: &Event) {
        use std::io::IsTerminal as _;
        match event {
            Event::BatchProgress {
                batches,
                rows,
                total,
                rate,
                eta_ms,
                batch_size,
                retried,
                ..
            } => {
                let message = batch_message(*rate, *batches, *batch_size, *retried);
                if std::io::stderr().is_terminal() {
                    let bar = self.bar.get_or_insert_with(|| {
                        if std::mem::take(&mut self.open_line) {
                            outln!();
                        }
                        let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
                        let template = if total.is_some() {
                            "    [{bar:30}] {human_pos}/{human_len} rows ({percent}%), {msg}, ETA {eta}"
                        } else {
                            "    {spinner} {human_pos} rows, {msg}"
                        };
                        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                            bar.set_style(style.progress_chars("=> "));
                        }
                        bar
                    });
                    bar.set_position(*rows);
                    bar.set_message(message);
                } else if self
                    .last_line
                    .is_none_or(|at| at.elapsed() >= PLAIN_PROGRESS_EVERY)
                {
                    self.last_line = Some(std::time::Instant::now());
                    let mut out = std::io::stdout().lock();
                    if std::mem::take(&mut self.open_line) {
                        let _ = writeln!(out);
                    }
                    let of = total
                        .map(|t| {
                            let pct = (rows * 100).checked_div(t).unwrap_or(100);
                            format!(" of {} ({pct}%)", thousands(t))
                        })
                        .unwrap_or_default();
                    let eta = eta_ms
                        .map(|e| format!(", about {} left", ms(e)))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    {} rows{of}, {message}{eta}", thousands(*rows));
                    let _ = out.flush();
                }
            }
            Event::StepPaused {
                reason,
                paused_ms,
                max_pause_ms,
                ..
            } => {
                let line = if *paused_ms == 0 {
                    format!(
                        "    paused: {reason}; waiting (at most {})",
                        crate::text::secs(*max_pause_ms)
                    )
                } else {
                    format!(
                        "    still paused after {}: {reason}; waiting (at most {})",
                        crate::text::secs(*paused_ms),
                        crate::text::secs(*max_pause_ms)
                    )
                };
                self.println(line);
            }
            Event::StepResumed { paused_ms, .. } => {
                self.println(format!(
                    "    resumed after a pause of {}",
                    crate::text::secs(*paused_ms)
                ));
            }
            Event::PluginLog {
                plugin,
                level,
                message,
            } => {
                self.println(format!("    [{plugin}] {level}: {message}"));
            }
            _ => {}
        }
    }
}

pub fn run_summary(report: &RunReport, verb: &str) -> String {
    if report.up_to_date {
        return if verb == "applied" {
            "Already up to date: no pending migrations.".into()
        } else {
            "Nothing to revert.".into()
        };
    }
    let n = report.applied.len();
    let mut out = format!(
        "{} {n} migration{} in {}.",
        capitalise(verb),
        plural(n),
        ms(report.duration_ms)
    );
    out.push_str(&copies_summary(report));
    if let Some(warning) = empty_downs_warning(&report.empty_downs) {
        out.push_str(&format!("\n{warning}"));
    }
    out
}

/// What the run did with copies of dropped data, after the run's summary line.
fn copies_summary(report: &RunReport) -> String {
    let (mut copied, mut copied_rows, mut restored, mut restored_rows) = (0, 0, 0, 0);
    let mut kept = Vec::new();
    let mut store = None;
    for c in &report.copies {
        match &c.outcome {
            CopyOutcome::Copied {
                rows, copy_table, ..
            } => {
                copied += 1;
                copied_rows += *rows;
                store = copy_table.split_once('.').map(|(s, _)| s.to_string());
            }
            CopyOutcome::Restored { rows, .. } => {
                restored += 1;
                restored_rows += *rows;
            }
            CopyOutcome::Kept { copy_table, .. } => kept.push(copy_table.as_str()),
            CopyOutcome::NotCopied { .. } | CopyOutcome::Unavailable { .. } => {}
        }
    }
    let mut out = String::new();
    if copied > 0 {
        let back = match &report.copies_without_down {
            Some(reason) => format!(
                "{reason}, so `godwit down` cannot put it back: the copies stay until `godwit backups prune --copies`, to read back by hand"
            ),
            None => "`godwit down` puts it back where down.sql re-creates what was dropped".into(),
        };
        out.push_str(&format!(
            "\nCopied the data of {copied} dropped table{s} or column{s} ({} row{}) into {}: {back}; `godwit backups` lists the copies.",
            thousands(copied_rows as u64),
            plural(copied_rows as usize),
            store.as_deref().unwrap_or("the copies"),
            s = plural(copied),
        ));
    }
    if restored > 0 || !kept.is_empty() {
        out.push_str(&format!(
            "\nPut back {restored} cop{} of dropped data ({} row{})",
            if restored == 1 { "y" } else { "ies" },
            thousands(restored_rows as u64),
            plural(restored_rows as usize)
        ));
        if kept.is_empty() {
            out.push('.');
        } else {
            out.push_str(&format!(
                "; kept {} ({}): `godwit backups` lists {}, `godwit backups prune --copies` drops {}.",
                kept.len(),
                kept.join(", "),
                if kept.len() == 1 { "it" } else { "them" },
                if kept.len() == 1 { "it" } else { "them" },
            ));
        }
    }
    out
}

#[derive(Serialize)]
struct StatusJson<'a> {
    database: &'a str,
    migrations: Vec<StatusItem<'a>>,
    summary: Summary,
    /// Copies of dropped data that remain.
    copies: &'a Listing,
}

#[derive(Serialize)]
struct StatusItem<'a> {
    version: String,
    name: &'a str,
    status: Status,
    applied_at: Option<&'a str>,
    checksum: Option<&'a str>,
    recorded_checksum: Option<&'a str>,
    statements_applied: Option<i64>,
    statements_total: Option<i64>,
    error: Option<&'a str>,
}

/// `adopt_first`: another tool's history is in the database and godwit's is empty, so
/// the advice is to adopt it (said below the summary), not to deploy.
pub fn status(
    entries: &[Entry],
    database: &str,
    copies: &Listing,
    json: bool,
    adopt_first: bool,
) -> String {
    let summary = summarize(entries);
    if json {
        let items = entries
            .iter()
            .map(|e| StatusItem {
                version: e.version.to_string(),
                name: &e.name,
                status: e.status,
                applied_at: e
                    .row
                    .filter(|r| r.state == RowState::Applied.as_str())
                    .and_then(|r| r.finished_at.as_deref()),
                checksum: e.migration.map(|m| m.checksum.as_str()),
                recorded_checksum: e.row.map(|r| r.checksum.as_str()),
                statements_applied: e.row.map(|r| r.statements_applied),
                statements_total: e.row.map(|r| r.statements_total),
                error: e.row.and_then(|r| r.error.as_deref()),
            })
            .collect();
        return serde_json::to_string_pretty(&StatusJson {
            database,
            migrations: items,
            summary,
            copies,
        })
        .expect("serializable");
    }
    let mut out = format!("{database}\n");
    if entries.is_empty() {
        out.push_str("  no migrations yet: create one with `godwit new NAME`\n");
    }
    let width = entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .min(48);
    // Versions of different lengths (flipt's 0 to 17) line their names up too.
    let version_width = entries
        .iter()
        .map(|e| e.version.as_str().len())
        .max()
        .unwrap_or(0);
    for e in entries {
        let when = e
            .row
            .and_then(|r| r.finished_at.as_deref())
            .map(short_time)
            .unwrap_or_default();
        let detail = match e.status {
            Status::Applied | Status::Modified | Status::Missing | Status::InBaseline => when,
            Status::Failed | Status::Running | Status::Resumable => e
                .row
                .map(|r| {
                    if r.kind == "step" {
                        let rows = r.rows_affected.unwrap_or(0).max(0) as u64;
                        let last = r.error.as_deref().and_then(|e| e.lines().next());
                        format!(
                            "{} batch{} ({} rows) done and checkpointed{}",
                            r.statements_applied,
                            if r.statements_applied == 1 { "" } else { "es" },
                            thousands(rows),
                            last.map(|e| format!("; stopped: {e}")).unwrap_or_default()
                        )
                    } else if r.operation == Operation::Adopt.as_str() {
                        // godwit ran none of it: say who recorded the failure.
                        r.error
                            .as_deref()
                            .and_then(|e| e.split(';').next())
                            .unwrap_or("recorded as failed by the tool that ran it")
                            .to_string()
                    } else if r.operation == Operation::Down.as_str() {
                        // Statements of down.sql, which took effect one by one: the
                        // migration is partly reverted, not partly applied.
                        format!(
                            "down.sql failed: {} of its {} statements ran, so it is partly reverted",
                            r.statements_applied, r.statements_total
                        )
                    } else {
                        format!(
                            "{} of {} statements applied",
                            r.statements_applied, r.statements_total
                        )
                    }
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        let line = format!(
            "  {:<12} {:>version_width$}  {:<width$}  {detail}",
            e.status.label(),
            e.version.as_str(),
            e.name
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{} applied, {} pending, {} need{} attention.",
        summary.applied,
        summary.pending,
        summary.problems,
        if summary.problems == 1 { "s" } else { "" }
    ));
    // A failed migration stops every deploy and down until it is resolved: name the
    // command, not only where the explanation is.
    let failed = entries
        .iter()
        .find(|e| e.status == Status::Failed && e.row.is_some_and(|r| r.kind != "step"));
    if adopt_first {
        out.push_str(" Another tool migrated this database: adopt its history first (below).");
    } else if let Some(e) = failed {
        let v = e.version.as_str();
        let reverting = e
            .row
            .is_some_and(|r| r.operation == Operation::Down.as_str());
        // What another tool recorded as failed says nothing of how much of it ran.
        let adopted = e
            .row
            .is_some_and(|r| r.operation == Operation::Adopt.as_str());
        let nothing_applied = e.row.is_some_and(HistoryRow::nothing_applied);
        let partly = e
            .row
            .filter(|r| !adopted && r.statements_applied > 0)
            .filter(|r| r.statements_applied < r.statements_total);
        out.push_str(&if reverting {
            format!(
                " The revert of {v} failed partway and blocks deploy and down: put the schema back in a known state, then run `godwit resolve --applied {v}` (still in effect) or `godwit resolve --rolled-back {v}` (revert complete)."
            )
        } else if nothing_applied {
            format!(
                " {v} failed with nothing of it applied, and blocks deploy and down: fix the cause, then run `godwit resolve --rolled-back {v}` and deploy again."
            )
        } else if adopted {
            format!(
                " {v} was recorded as failed by the tool godwit adopted it from, which does not say how much of it took effect, and it blocks deploy and down: \
                 inspect the schema, then run `godwit resolve --applied {v}` (all of it is there, or you finished it by hand) or `godwit resolve --rolled-back {v}` (none of it is, or you undid it)."
            )
        } else if let Some(r) = partly {
            format!(
                " {v} failed after {} of its {} statements took effect, and blocks deploy and down: fix the cause and run statement {} by hand, then `godwit resolve --continue {v}` and deploy to run the rest; \
                 or finish or undo it by hand and run `godwit resolve --applied {v}` or `godwit resolve --rolled-back {v}`.",
                r.statements_applied,
                r.statements_total,
                r.statements_applied + 1
            )
        } else {
            format!(
                " {v} failed and blocks deploy and down: finish or undo by hand what it applied, then run `godwit resolve --applied {v}` or `godwit resolve --rolled-back {v}` (`godwit deploy` says what it applied)."
            )
        });
    } else if summary.problems > 0 {
        out.push_str(" `godwit deploy` explains each problem and what to run.");
    } else if summary.pending > 0 {
        out.push_str(" Run `godwit deploy` to apply them.");
    } else {
        out.push_str(" The database is up to date.");
    }
    if !copies.copies.is_empty() {
        let n = copies.copies.len();
        out.push_str(&format!(
            "\n{n} cop{} of dropped data in {} ({}, {} row{}): `godwit backups` lists {}, `godwit backups prune --copies` drops {}.",
            if n == 1 { "y" } else { "ies" },
            copies.store.as_deref().unwrap_or("the copies"),
            bytes(copies.bytes()),
            thousands(copies.rows() as u64),
            plural(copies.rows() as usize),
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it" } else { "them" },
        ));
    }
    out
}

pub fn history(rows: &[HistoryRow], json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(rows).expect("serializable");
    }
    if rows.is_empty() {
        return "No history yet: nothing has been deployed to this database.".into();
    }
    let mut out = String::new();
    for r in rows {
        let duration = r
            .duration_ms
            .map(|d| ms(d as u64))
            .unwrap_or_else(|| "-".into());
        // A down.sql that failed in a rolled-back transaction leaves its migration
        // applied, and its row says so; as an attempt, it failed.
        let state = if r.is_rolled_back_down() {
            RowState::Failed.as_str()
        } else {
            r.state.as_str()
        };
        out.push_str(&format!(
            "{}  {:<8} {:<11} {}_{}  {duration}  by {}\n",
            short_time(&r.started_at),
            r.operation,
            state,
            r.version,
            r.name,
            r.applied_by
        ));
    }
    out.trim_end().to_string()
}

#[derive(Serialize, Debug, PartialEq)]
pub struct Stats {
    pub runs: usize,
    pub applied: usize,
    pub failed: usize,
    pub rollbacks: usize,
    /// `down` runs that failed.
    pub down_failed: usize,
    /// Rows of neither kind: resolve, baseline, adopt, restore, or a run still going.
    pub other: usize,
    /// Applied deploys ÷ finished deploys, in percent.
    pub success_rate: Option<f64>,
    pub mean_duration_ms: Option<f64>,
    pub slowest: Option<String>,
}

pub fn stats(rows: &[HistoryRow]) -> Stats {
    let deploys: Vec<&HistoryRow> = rows
        .iter()
        .filter(|r| r.operation == Operation::Deploy.as_str())
        .collect();
    let applied: Vec<&&HistoryRow> = deploys
        .iter()
        .filter(|r| r.state == RowState::Applied.as_str())
        .collect();
    let failed = deploys
        .iter()
        .filter(|r| r.state == RowState::Failed.as_str())
        .count();
    let rollbacks = rows
        .iter()
        .filter(|r| {
            r.operation == Operation::Down.as_str() && r.state == RowState::RolledBack.as_str()
        })
        .count();
    let down_failed = rows
        .iter()
        .filter(|r| {
            r.is_rolled_back_down()
                || (r.operation == Operation::Down.as_str() && r.state == RowState::Failed.as_str())
        })
        .count();
    let finished = applied.len() + failed;
    let durations: Vec<i64> = applied.iter().filter_map(|r| r.duration_ms).collect();
    Stats {
        runs: rows.len(),
        applied: applied.len(),
        failed,
        rollbacks,
        down_failed,
        other: rows.len() - applied.len() - failed - rollbacks - down_failed,
        success_rate: (finished > 0).then(|| applied.len() as f64 * 100.0 / finished as f64),
        mean_duration_ms: (!durations.is_empty())
            .then(|| durations.iter().sum::<i64>() as f64 / durations.len() as f64),
        slowest: applied
            .iter()
            .max_by_key(|r| r.duration_ms.unwrap_or(0))
            .map(|r| {
                format!(
                    "{}_{} ({})",
                    r.version,
                    r.name,
                    ms(r.duration_ms.unwrap_or(0) as u64)
                )
            }),
    }
}

pub fn stats_text(s: &Stats) -> String {
    let rate = s
        .success_rate
        .map(|r| format!("{r:.1}%"))
        .unwrap_or_else(|| "n/a".into());
    let mean = s
        .mean_duration_ms
        .map(|m| ms(m.round() as u64))
        .unwrap_or_else(|| "n/a".into());
    let other = match s.other {
        0 => String::new(),
        n => format!(", {n} other (resolve, baseline, adopt, restore, or a run not finished)"),
    };
    format!(
        "{} history rows: {} applied, {} failed, {} rolled back by `down`, {} `down` failed{other}\ndeploy success rate {rate}, mean duration {mean}{}",
        s.runs,
        s.applied,
        s.failed,
        s.rollbacks,
        s.down_failed,
        s.slowest
            .as_ref()
            .map(|x| format!(", slowest {x}"))
            .unwrap_or_default()
    )
}

fn short_time(ts: &str) -> String {
    ts.get(..19).unwrap_or(ts).replace('T', " ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// One line about a data copy, as the progress output prints it.
pub fn data_copy(version: &str, outcome: &CopyOutcome) -> String {
    match outcome {
        CopyOutcome::Copied {
            source,
            copy_table,
            rows,
        } => format!(
            "copied {source} ({} row{}) into {copy_table} before dropping it",
            thousands(*rows as u64),
            plural(*rows as usize)
        ),
        CopyOutcome::NotCopied { source, reason } => {
            format!("not copying {source} before dropping it: {reason}")
        }
        CopyOutcome::Unavailable { reason } => format!(
            "not copying the data this run drops: {reason}; the whole-database backup has it"
        ),
        CopyOutcome::Restored {
            source,
            copy_table,
            rows,
        } => format!(
            "put back {source} ({} row{}) from {copy_table}, and dropped the copy",
            thousands(*rows as u64),
            plural(*rows as usize)
        ),
        CopyOutcome::Kept {
            source,
            copy_table,
            reason,
        } => format!(
            "kept {copy_table} (data of {source} dropped by {version}): {reason}; `godwit backups` lists it, \
             `godwit backups prune --copies --version {version}` drops it once it is not needed"
        ),
    }
}

/// `godwit backups`: the whole-database backups, newest last, with age, size and
/// reason; then the copies of dropped data in the database (or why they could not be
/// listed).
pub fn backups(
    list: &[Meta],
    dir: &std::path::Path,
    copies: &Result<Listing, String>,
    json: bool,
) -> String {
    if json {
        let (listing, error) = match copies {
            Ok(listing) => (Some(listing), None),
            Err(e) => (None, Some(e)),
        };
        return serde_json::to_string_pretty(&serde_json::json!({
            "dir": dir,
            "backups": list,
            "copies": listing,
            "copies_error": error,
        }))
        .expect("serializable");
    }
    let mut out = files(list, dir);
    out.push_str("\n\n");
    match copies {
        Ok(listing) => out.push_str(&copies_listing(listing)),
        Err(e) => out.push_str(&format!(
            "Copies of dropped data in the database were not listed: {e}"
        )),
    }
    out
}

fn files(list: &[Meta], dir: &std::path::Path) -> String {
    if list.is_empty() {
        return format!(
            "No backups in {} yet: `godwit backup` takes one.",
            dir.display()
        );
    }
    let now = chrono::Utc::now();
    let mut out = format!("{}\n", dir.display());
    // Which database each holds: the folder can hold backups of several (a fleet, a
    // staging and a production URL), and `restore` refuses (without --force) a backup
    // of another database.
    let whose = |m: &Meta| match &m.schema {
        Some(schema) => format!("{} (schema {schema})", m.database),
        None => m.database.clone(),
    };
    let mut databases: Vec<String> = list.iter().map(whose).collect();
    databases.sort();
    databases.dedup();
    for database in &databases {
        out.push_str(&format!("  of {database}:\n"));
        for m in list.iter().filter(|m| whose(m) == *database) {
            let age = chrono::DateTime::parse_from_rfc3339(&m.created_at)
                .map(|t| age(now.signed_duration_since(t.with_timezone(&chrono::Utc))))
                .unwrap_or_else(|_| "?".into());
            out.push_str(&format!(
                "    {}  {:>9} ago  {:>10}  {}\n",
                m.id,
                age,
                bytes(m.size),
                m.reason
            ));
        }
    }
    out.push_str(&format!(
        "\n{} backup{}. `godwit restore ID` puts the database back, history table included.",
        list.len(),
        plural(list.len())
    ));
    out
}

fn ago(now: chrono::DateTime<chrono::Utc>, at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| age(now.signed_duration_since(t.with_timezone(&chrono::Utc))))
        .unwrap_or_else(|_| "?".into())
}

fn copies_listing(listing: &Listing) -> String {
    let Some(store) = &listing.store else {
        return "No copies of dropped data in the database.".into();
    };
    if listing.copies.is_empty() {
        return format!("No copies of dropped data in {store}.");
    }
    let now = chrono::Utc::now();
    let width = listing
        .copies
        .iter()
        .map(|c| c.copy_table.len())
        .max()
        .unwrap_or(0);
    let mut out = format!("Copies of dropped data in {store}:\n");
    for c in &listing.copies {
        out.push_str(&format!(
            "  {:<width$}  {:>9} ago  {:>10}  {:>7} row{}  {} {}\n",
            c.copy_table,
            ago(now, &c.created_at),
            c.bytes.map(bytes).unwrap_or_else(|| "?".into()),
            thousands(c.rows as u64),
            if c.rows == 1 { " " } else { "s" },
            c.source,
            copy_state(c)
        ));
    }
    let n = listing.copies.len();
    out.push_str(&format!(
        "\n{n} cop{}, {} row{}, {}. `godwit backups prune --copies [--older-than 30d] [--version V]` drops them.",
        if n == 1 { "y" } else { "ies" },
        thousands(listing.rows() as u64),
        plural(listing.rows() as usize),
        bytes(listing.bytes())
    ));
    out
}

/// `godwit backups prune`: what went (or would go).
pub fn pruned(files: &[Meta], copies: &[Listed], dry_run: bool) -> String {
    let verb = if dry_run { "Would delete" } else { "Deleted" };
    let mut out = String::new();
    if !files.is_empty() {
        out.push_str(&format!(
            "{verb} {} backup file{}:\n",
            files.len(),
            plural(files.len())
        ));
        for m in files {
            out.push_str(&format!("  {}  {}  {}\n", m.id, bytes(m.size), m.reason));
        }
    }
    let verb = if dry_run { "Would drop" } else { "Dropped" };
    if !copies.is_empty() {
        out.push_str(&format!(
            "{verb} {} cop{} of dropped data:\n",
            copies.len(),
            if copies.len() == 1 { "y" } else { "ies" }
        ));
        for c in copies {
            out.push_str(&format!(
                "  {}  {} ({} row{}, dropped by {})\n",
                c.copy_table,
                c.source,
                thousands(c.rows as u64),
                plural(c.rows as usize),
                c.version
            ));
        }
    }
    if out.is_empty() {
        return "Nothing to prune.".into();
    }
    if dry_run {
        out.push_str("Nothing was changed (--dry-run).");
    }
    out.trim_end().to_string()
}

/// Where a copy stands, in a few words.
fn copy_state(c: &Listed) -> String {
    let types = if c.converted.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = c
            .converted
            .iter()
            .map(|(column, ty)| format!("{column} {ty}"))
            .collect();
        format!("; kept as text: {}", list.join(", "))
    };
    let why = match (c.state.as_str(), &c.note, &c.without_down) {
        ("copied", _, Some(reason)) => format!(
            "dropped by {}; {reason}, so `godwit down` cannot put it back: read it back by hand",
            c.version
        ),
        ("copied", _, None) => format!(
            "dropped by {}; its `godwit down` puts it back if down.sql re-creates it",
            c.version
        ),
        (state, Some(note), _) => format!("dropped by {}, {state}: {note}", c.version),
        (state, None, _) => format!("dropped by {}, {state}", c.version),
    };
    format!("({why}{types})")
}

fn age(d: chrono::TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}min", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// The table `deploy --targets` and `status --targets` print: a row per target in file
/// order, then the failures in full, then one line saying what to do.
pub fn fleet(report: &crate::fleet::FleetReport) -> String {
    use crate::fleet::TargetOutcome;
    let deploy = report.command == "deploy";
    let first_line = |e: &Option<String>| {
        let line = e.as_deref().and_then(|e| e.lines().next()).unwrap_or("");
        match line.char_indices().nth(72) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        }
    };
    let mut header = vec![
        "TARGET",
        if deploy { "OUTCOME" } else { "STATE" },
        "APPLIED",
    ];
    if !deploy {
        header.extend(["PENDING", "PROBLEMS"]);
    }
    header.extend(["DURATION", "ERROR"]);
    let count = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    let rows: Vec<Vec<String>> = report
        .targets
        .iter()
        .map(|t| {
            let mut row = vec![t.name.clone(), t.outcome.label().to_string()];
            row.push(if t.outcome == TargetOutcome::Skipped {
                String::new()
            } else {
                t.applied.to_string()
            });
            if !deploy {
                row.extend([count(t.pending), count(t.problems)]);
            }
            row.push(if t.outcome == TargetOutcome::Skipped {
                String::new()
            } else {
                ms(t.duration_ms)
            });
            row.push(first_line(&t.error));
            row
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Counts and durations right-aligned, words left-aligned.
    let numeric = |i: usize| i >= 2 && i + 1 < header.len();
    let mut out = String::new();
    for row in std::iter::once(header.iter().map(|h| h.to_string()).collect()).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if numeric(i) {
                    format!("{cell:>w$}", w = widths[i])
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let failed: Vec<&crate::fleet::TargetReport> = report
        .targets
        .iter()
        .filter(|t| t.outcome == TargetOutcome::Failed)
        .collect();
    for t in &failed {
        let alone = match &t.variable {
            Some(v) => format!("godwit --database-url \"${v}\" ..."),
            None => format!(
                "godwit --database-url URL ..., with the URL on line {}",
                t.line
            ),
        };
        out.push_str(&format!(
            "\n{} (line {}, {}), exit {}:\n  {}\n  (to run a command on this target alone: {alone})\n",
            t.name,
            t.line,
            t.url,
            t.exit_code,
            t.error.as_deref().unwrap_or("").trim_end().replace('\n', "\n  ")
        ));
    }
    let n = report.targets.len();
    let names = |list: &[&crate::fleet::TargetReport]| {
        let shown: Vec<&str> = list.iter().take(5).map(|t| t.name.as_str()).collect();
        let more = list.len().saturating_sub(shown.len());
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    out.push('\n');
    if deploy {
        let skipped = report.count(TargetOutcome::Skipped);
        out.push_str(&format!(
            "{n} target{}: {} applied, {} up to date, {} failed{}.",
            plural(n),
            report.count(TargetOutcome::Applied),
            report.count(TargetOutcome::UpToDate),
            failed.len(),
            if skipped > 0 {
                format!(", {skipped} skipped after the canary failed")
            } else {
                String::new()
            }
        ));
        if !failed.is_empty() {
            out.push_str(&format!(
                "\nFailed: {}. Fix {} and run the same command again: targets already up to date are left as they are, and the others apply only what they are missing.",
                names(&failed),
                if failed.len() == 1 { "it" } else { "them" }
            ));
        }
    } else {
        out.push_str(&format!(
            "{n} target{}: {} up to date, {} with pending migrations, {} needing attention, {} not read.",
            plural(n),
            report.count(TargetOutcome::UpToDate),
            report.count(TargetOutcome::Pending),
            report.count(TargetOutcome::Problems),
            failed.len()
        ));
    }
    if report.exit_code != 0 {
        let worst: Vec<&str> = report
            .targets
            .iter()
            .filter(|t| t.exit_code == report.exit_code)
            .map(|t| t.name.as_str())
            .take(3)
            .collect();
        out.push_str(&format!(
            "\nExit code {}, {}'s.",
            report.exit_code,
            worst.join("'s, ")
        ));
    }
    out
}

/// The rate and the batch a step's progress line shows: `12,000 rows/s, batch 7 (5,000
/// rows)`, with the rows written again after a concurrent change, if any. The batch size
/// is the current one, which a step adapts as it goes.
fn batch_message(rate: f64, batches: u64, batch_size: u32, retried: u64) -> String {
    let mut message = format!(
        "{} rows/s, batch {} ({} rows)",
        thousands(rate as u64),
        thousands(batches),
        thousands(u64::from(batch_size))
    );
    if retried > 0 {
        message.push_str(&format!(", {} retried", thousands(retried)));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_line_says_its_size_not_a_count_of_batches() {
        assert_eq!(
            batch_message(31_702.4, 7, 8_054, 0),
            "31,702 rows/s, batch 7 (8,054 rows)"
        );
        assert_eq!(
            batch_message(900.0, 1_200, 50, 3),
            "900 rows/s, batch 1,200 (50 rows), 3 retried"
        );
    }
}
