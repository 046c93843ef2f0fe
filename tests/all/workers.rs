//! Parallel batches (issue 15): a backfill's key range split into batches that several
//! connections lease with `FOR UPDATE SKIP LOCKED`, each batch done exactly once; the
//! refusals where workers cannot help; a single-worker checkpoint resumed by workers.
//!
//! The plugin is the hostile backfill in `bump` mode (tests/guests/hostile), which adds
//! one to `items.n`: a row done twice shows 2, a row skipped 0.

use crate::steps::{GRANT_ITEMS, guest, hostile_with, plugin_toml, step_project};
use crate::support::{Dialect, Project};

fn bump() -> String {
    hostile_with(&guest("hostile"), "32MiB", "bump", GRANT_ITEMS)
}

const VERSION: &str = "20260102000000";

#[track_caller]
fn assert_each_row_bumped_once(p: &Project, rows: i64) {
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"),
        rows,
        "every row transformed once"
    );
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n <> 1"), 0);
}

/// How many of the step's batches are in `state`.
fn batches(p: &Project, state: &str) -> i64 {
    p.db.int(&format!(
        "SELECT COUNT(*) FROM godwit_batches WHERE version = '{VERSION}' AND state = '{state}'"
    ))
}

fn workers_transform_every_row_once(d: Dialect) {
    // From step.toml.
    let p = step_project(
        d,
        2500,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nsize = 100\nworkers = 3\n",
    );
    p.godwit(&["deploy"]).expect(0).says(VERSION);
    assert_each_row_bumped_once(&p, 2500);
    assert_eq!(
        batches(&p, "done"),
        26,
        "2500 rows in batches of 100, and the tail"
    );
    assert_eq!(batches(&p, "pending"), 0);
    assert!(
        p.db.int("SELECT COUNT(DISTINCT taken_by) FROM godwit_batches") >= 2,
        "the batches were shared among the workers: {:?}",
        p.db.rows("SELECT batch_no, taken_by FROM godwit_batches ORDER BY batch_no")
    );
    assert_eq!(
        p.db.int(&format!(
            "SELECT rows_affected FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        2500
    );
    assert_eq!(
        p.db.rows(&format!(
            "SELECT state FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        vec![vec!["applied".to_owned()]]
    );
    p.godwit(&["deploy"]).expect(0).says("up to date");

    // From the command line, over step.toml's 1, with --json progress.
    let p = step_project(
        d,
        1000,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nsize = 50\n",
    );
    let out = p.godwit(&["--json", "deploy", "--workers", "4"]);
    out.expect(0);
    assert_each_row_bumped_once(&p, 1000);
    assert_eq!(batches(&p, "done"), 21);
}

fn sqlite_refuses_more_than_one_worker() {
    let p = step_project(
        Dialect::Sqlite,
        100,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nworkers = 2\n",
    );
    p.godwit(&["deploy"])
        .expect(2)
        .says("workers = 2 refused")
        .says("SQLite lets only one connection write at a time")
        .says("[batch] workers = 1");
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"), 0);
    assert_eq!(
        p.db.int(&format!(
            "SELECT COUNT(*) FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        0,
        "nothing of the step is recorded"
    );
    // The same step with one worker (from the command line) runs.
    p.godwit(&["deploy", "--workers", "1"]).expect(0);
    assert_each_row_bumped_once(&p, 100);
}

fn data_steps_refuse_more_than_one_worker(d: Dialect) {
    let toml = plugin_toml(
        "counter",
        "hostile_step",
        "[plugins.counter.grants]\nread = [\"items\"]\nwrite = [\"items.n\"]\n[plugins.counter.config]\nmode = \"counter\"\n",
    );
    let p = step_project(d, 100, &toml, "plugin = \"counter\"\n[batch]\nsize = 10\n");
    p.godwit(&["deploy", "--workers", "2"])
        .expect(2)
        .says("workers = 2 refused")
        .says("a data step's plugin walks its own cursor");
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n <> 0"), 0);
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 100);
}

fn bad_worker_counts_are_usage_errors(d: Dialect) {
    let p = step_project(
        d,
        10,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nworkers = 0\n",
    );
    p.godwit(&["deploy"])
        .expect(2)
        .says("workers must be between 1 and 64");
    let p = step_project(d, 10, &bump(), "plugin = \"hostile\"\n");
    for bad in ["0", "65", "many"] {
        p.godwit(&["deploy", "--workers", bad])
            .expect(2)
            .says("is not a worker count: give a whole number from 1 to 64");
    }
    assert!(!p.db.table_exists("items"), "nothing ran");
}

/// Stops a single-worker run at the row with id 1234 (a trigger refuses its update), so
/// that its checkpoint sits at 1200 with batches of 100.
fn stop_at_1234(p: &Project, d: Dialect) {
    match d {
        Dialect::Postgres => p.db.exec(
            "CREATE FUNCTION stop_at_1234() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = 1234 THEN RAISE EXCEPTION 'stop here'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER stop_at_1234 BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION stop_at_1234()",
        ),
        Dialect::MySql => p.db.exec(
            "CREATE TRIGGER stop_at_1234 BEFORE UPDATE ON items FOR EACH ROW BEGIN IF NEW.id = 1234 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'stop here'; END IF; END",
        ),
        Dialect::Sqlite => unreachable!("workers are refused on SQLite"),
    }
}

fn workers_resume_a_single_worker_checkpoint(d: Dialect) {
    let p = step_project(
        d,
        3000,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nsize = 100\nmin = 100\nmax = 100\n",
    );
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    stop_at_1234(&p, d);
    p.godwit(&["deploy"]).expect(1).says("stop here");
    assert_eq!(p.db.int("SELECT COUNT(*) FROM items WHERE n = 1"), 1200);
    assert_eq!(p.db.int("SELECT batches FROM godwit_step_progress"), 12);
    p.db.exec(
        "DROP TRIGGER stop_at_1234 ON items".trim_end_matches(if d == Dialect::MySql {
            " ON items"
        } else {
            ""
        }),
    );
    p.godwit(&["deploy", "--workers", "2"]).expect(0);
    assert_each_row_bumped_once(&p, 3000);
    // Only the rest after the checkpoint was split: 1800 rows in batches of 100.
    assert_eq!(batches(&p, "done"), 19);
    assert_eq!(
        p.db.rows(&format!(
            "SELECT lower_key FROM godwit_batches WHERE version = '{VERSION}' AND batch_no = 1"
        )),
        vec![vec!["[{\"int\":1200}]".to_owned()]]
    );
    assert_eq!(
        p.db.int(&format!(
            "SELECT rows_affected FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        3000
    );
}

/// A batch that fails rolls back alone; the batches done stay done, and the next deploy
/// (with one worker: a split step goes on with its batches) finishes the rest.
fn a_failed_batch_resumes_with_the_batches_not_done(d: Dialect) {
    let p = step_project(
        d,
        3000,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nsize = 100\nworkers = 2\n",
    );
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    stop_at_1234(&p, d);
    p.godwit(&["deploy"])
        .expect(1)
        .says("stop here")
        .says("rolled back");
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n > 1"),
        0,
        "no row twice"
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE id > 1200 AND id <= 1300 AND n <> 0"),
        0,
        "the failed batch was rolled back"
    );
    p.godwit(&["status"]).says("resumable");
    p.db.exec(
        "DROP TRIGGER stop_at_1234 ON items".trim_end_matches(if d == Dialect::MySql {
            " ON items"
        } else {
            ""
        }),
    );
    p.godwit(&["deploy", "--workers", "1"]).expect(0);
    assert_each_row_bumped_once(&p, 3000);
    assert_eq!(batches(&p, "pending"), 0);
}

macro_rules! server_dialects {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn postgres() { super::$name($crate::support::Dialect::Postgres) }
                #[test]
                fn mysql() { super::$name($crate::support::Dialect::MySql) }
            }
        )*
    };
}

server_dialects!(
    workers_transform_every_row_once,
    data_steps_refuse_more_than_one_worker,
    bad_worker_counts_are_usage_errors,
    workers_resume_a_single_worker_checkpoint,
    a_failed_batch_resumes_with_the_batches_not_done,
);

#[test]
fn sqlite_refuses_workers() {
    sqlite_refuses_more_than_one_worker();
}
