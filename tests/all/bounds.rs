//! Issue 11, findings 7–10: every plugin call is bounded — in time (statement timeouts,
//! server-side cancellation), in host memory (capped results), by limits only the operator
//! can raise — and a data step must make progress and report counts that fit.

use crate::each_dialect;
use crate::steps::{guest, sha256, step_project};
use crate::support::Dialect;

/// godwit.toml with the hostile data step as `counter`, granted `items`, in `mode` with
/// `settings` (TOML lines) in its config and `limits` (TOML lines) as its limits.
fn hostile_step(mode: &str, settings: &str, limits: &str) -> String {
    let wasm = guest("hostile_step");
    format!(
        "[plugins.counter]\npath = {:?}\nsha256 = \"{}\"\n[plugins.counter.grants]\nread = [\"items\"]\nwrite = [\"items.n\"]\n[plugins.counter.limits]\n{limits}\n[plugins.counter.config]\nmode = \"{mode}\"\n{settings}\n",
        wasm.display().to_string(),
        sha256(&wasm)
    )
}

const STEP: &str = "plugin = \"counter\"\n[batch]\nsize = 10\n";
const STEP_VERSION: &str = "20260102000000";

/// The step's history row: its state and the rows it recorded (NULL as "NULL").
fn step_history(p: &crate::support::Project) -> Vec<Vec<String>> {
    p.db.rows(&format!(
        "SELECT state, rows_affected FROM godwit_migrations WHERE version = '{STEP_VERSION}'"
    ))
}

// Finding 10: a data step must make progress.

fn data_step_that_never_moves_is_stopped(d: Dialect) {
    let p = step_project(d, 5, &hostile_step("stall", "", ""), STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "{}", out.text());
    out.says("counter").says(STEP_VERSION);
    let history = step_history(&p);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_ne!(history[0][0], "applied", "{history:?}");
    // The idle batches before the bound may be committed; never more than the bound.
    let batches =
        p.db.int("SELECT COALESCE(MAX(batches), 0) FROM godwit_step_progress");
    assert!(
        batches < i64::from(godwit::step::MAX_IDLE_BATCHES),
        "{batches} idle batches committed"
    );
    // The lock was released: a deploy after it gets as far as the same step.
    assert_eq!(p.godwit(&["deploy"]).code, 1);
}

/// A plugin claiming `rows` rows a batch for `batches` batches: the deploy fails, and no
/// count that does not fit (negative once cast) ever reaches history or the checkpoint.
fn absurd_count(d: Dialect, rows: &str, batches: u32) {
    let settings = format!("rows = \"{rows}\"\nbatches = \"{batches}\"");
    let p = step_project(d, 5, &hostile_step("rows", &settings, ""), STEP);
    let out = p.godwit(&["deploy"]);
    assert_eq!(out.code, 1, "rows = {rows}: {}", out.text());
    out.says("counter").says(STEP_VERSION);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM godwit_migrations WHERE rows_affected < 0 OR state = 'applied' AND version = '20260102000000'"),
        0,
        "rows = {rows}: {:?}",
        step_history(&p)
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM godwit_step_progress WHERE rows_done < 0"),
        0,
        "rows = {rows}"
    );
}

fn data_step_row_count_of_u64_max_is_refused(d: Dialect) {
    absurd_count(d, &u64::MAX.to_string(), 1);
}

each_dialect!(
    data_step_that_never_moves_is_stopped,
    data_step_row_count_of_u64_max_is_refused,
);

#[test]
fn data_step_row_count_that_would_record_minus_three_is_refused() {
    absurd_count(Dialect::Sqlite, &(u64::MAX - 2).to_string(), 1);
    absurd_count(Dialect::Postgres, &(i64::MAX as u64 + 1).to_string(), 1);
}

#[test]
fn data_step_row_counts_that_overflow_together_are_refused() {
    // Each batch's count fits; their sum does not.
    absurd_count(Dialect::Sqlite, &(i64::MAX as u64 / 2 + 1).to_string(), 3);
}

#[test]
fn data_step_that_idles_a_few_batches_then_moves_is_not_stopped() {
    // `rows = 0` with a moving cursor is progress however long it lasts.
    let settings = format!(
        "rows = \"0\"\nbatches = \"{}\"",
        godwit::step::MAX_IDLE_BATCHES * 3
    );
    let p = step_project(
        Dialect::Sqlite,
        5,
        &hostile_step("rows", &settings, ""),
        STEP,
    );
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        step_history(&p),
        vec![vec!["applied".to_owned(), "0".to_owned()]]
    );
}
