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

/// An application writing while a backfill runs: single-row updates of `label` (the
/// backfill's source) at random rows, each also writing `label_upper` as the application
/// would (dual writes), as fast as one connection goes, until told to stop; returns how
/// many updates it made.
fn app_writer(
    url: String,
    rows: u64,
    seed: u64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        use sqlx::Connection as _;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
                let (mut n, mut state) = (0u64, 0x5eed_u64 + seed);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let id = 1 + (state >> 33) % rows;
                    n += 1;
                    let label = format!("item-{id}-w{seed}-v{n}");
                    sqlx::raw_sql(&format!(
                        "UPDATE items SET label = '{label}', label_upper = '{}' WHERE id = {id}",
                        label.to_uppercase()
                    ))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                }
                n
            })
    })
}

/// Compare-and-set: with an application changing the backfill's source column all along,
/// no row ends with a target computed from a value it no longer holds, and the rows
/// written again are reported.
fn a_concurrent_writer_loses_no_update(d: Dialect) {
    for workers in ["1", "3"] {
        let rows = 6000;
        let ok = hostile_with(&guest("hostile"), "32MiB", "ok", GRANT_ITEMS);
        let p = step_project(
            d,
            rows,
            &ok,
            "plugin = \"hostile\"\n[batch]\nsize = 100\nmin = 100\nmax = 100\n",
        );
        p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Three application connections, so that changes land within most batches.
        let writers: Vec<_> = (0..3u64)
            .map(|seed| app_writer(p.db.url.clone(), rows as u64, seed, stop.clone()))
            .collect();
        // Let the writer get going before the step starts.
        while p
            .db
            .int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL")
            < 50
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let out = p.godwit(&["--json", "deploy", "--workers", workers]);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let updates: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        out.expect(0);
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NULL OR label_upper <> UPPER(label)"),
            0,
            "workers = {workers}: every row's target is f(its source) after {updates} updates by the application: {:?}",
            p.db.rows("SELECT id, label, label_upper FROM items WHERE label_upper <> UPPER(label) LIMIT 5")
        );
        let retried = rows_retried(&out.stdout);
        assert!(
            retried > 0,
            "workers = {workers}: {updates} updates by the application, yet no row was written again; the report:\n{}",
            out.stdout
        );
    }
}

/// `rows_retried` of the JSON report of a deploy (absent when 0).
fn rows_retried(stdout: &str) -> u64 {
    let report: serde_json::Value = stdout
        .find("\n{")
        .map(|at| &stdout[at + 1..])
        .or(stdout.starts_with('{').then_some(stdout))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(|| panic!("no JSON report in:\n{stdout}"));
    report["applied"]
        .as_array()
        .unwrap_or_else(|| panic!("no applied list in {report}"))
        .iter()
        .map(|m| m["rows_retried"].as_u64().unwrap_or(0))
        .sum()
}

/// A row whose write never takes (a trigger drops it, as a row another writer keeps
/// changing would): the batch is tried a bounded number of times, then the step stops,
/// resumable, saying why; once the cause is gone the next deploy finishes it. PostgreSQL
/// only: a MySQL trigger cannot skip a row without failing the statement.
#[test]
fn a_write_that_never_takes_stops_after_bounded_tries() {
    let d = Dialect::Postgres;
    for workers in ["1", "2"] {
        let ok = hostile_with(&guest("hostile"), "32MiB", "ok", GRANT_ITEMS);
        let p = step_project(d, 500, &ok, "plugin = \"hostile\"\n[batch]\nsize = 100\n");
        p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
        p.db.exec(
            "CREATE FUNCTION skip_77() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = 77 THEN RETURN NULL; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER skip_77 BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION skip_77()",
        );
        p.godwit(&["deploy", "--workers", workers])
            .expect(1)
            .says("1 of the batch's rows were still not written after 3 tries");
        p.godwit(&["status"]).says("resumable");
        assert_eq!(
            p.db.int(
                "SELECT COUNT(*) FROM items WHERE id BETWEEN 1 AND 100 AND label_upper IS NOT NULL"
            ),
            0,
            "workers = {workers}: nothing of the batch was written"
        );
        p.db.exec("DROP TRIGGER skip_77 ON items");
        p.godwit(&["deploy"]).expect(0);
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM items WHERE label_upper = UPPER(label)"),
            500
        );
    }
}

/// The process ids that did the step's batches (`taken_by` is `host:pid/worker`).
fn processes(p: &Project) -> Vec<String> {
    let mut pids: Vec<String> =
        p.db.rows("SELECT taken_by FROM godwit_batches WHERE state = 'done'")
            .into_iter()
            .map(|r| {
                let by = &r[0];
                by[by.rfind(':').map_or(0, |i| i + 1)..by.rfind('/').unwrap_or(by.len())].to_owned()
            })
            .collect();
    pids.sort();
    pids.dedup();
    pids
}

/// `godwit work` started first (waiting for the step) and `godwit deploy --workers 2`
/// finish one step together: each row once, the total right, both processes at work.
fn two_processes_finish_one_step(d: Dialect) {
    let rows = 12_000;
    let p = step_project(
        d,
        rows,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nsize = 50\npause = \"10ms\"\n",
    );
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    let helper = p.spawn(&["--json", "--wait", "60", "work", "--workers", "2"]);
    let deploy = p.godwit(&["deploy", "--workers", "2"]);
    let helped = helper.finish();
    deploy.expect(0).says("12,000 rows");
    helped.expect(0);
    assert_each_row_bumped_once(&p, rows as i64);
    assert_eq!(batches(&p, "done"), 241);
    assert_eq!(
        p.db.int(&format!(
            "SELECT rows_affected FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        rows as i64
    );
    let report: serde_json::Value =
        serde_json::from_str(&helped.stdout).unwrap_or_else(|e| panic!("{e}: {}", helped.stdout));
    assert_eq!(report["version"], VERSION);
    assert_eq!(report["step_batches_done"], 241);
    let helper_rows = report["rows"].as_u64().unwrap();
    assert!(helper_rows > 0, "the helper took batches: {report}");
    assert_eq!(processes(&p).len(), 2, "{:?}", processes(&p));
}

/// `godwit work` refuses a step whose migration differs from the one the deploying
/// process recorded, and joins (and finishes) it from the same project; a deployer that
/// died is then finished by the next deploy.
fn work_refuses_another_checksum(d: Dialect) {
    let rows = 3000;
    let step = "plugin = \"hostile\"\n[batch]\nsize = 50\npause = \"20ms\"\n";
    let p = step_project(d, rows, &bump(), step);
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    // No step running yet: nothing to join.
    p.godwit(&["work"])
        .expect(2)
        .says("no step is running with batches left to take");
    // A deployer killed after its first batches leaves the step running, split.
    let mut deploy = p
        .command(&["deploy", "--workers", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Asked once per turn: asked twice, the table could appear between the two answers
    // and end the wait before any batch was stored.
    while !(p.db.table_exists("godwit_batches") && batches(&p, "done") >= 2) {
        assert!(
            deploy.try_wait().unwrap().is_none(),
            "the deploy ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    deploy.kill().unwrap();
    deploy.wait().unwrap();
    let done = batches(&p, "done");
    // The same migration with another step.toml: another checksum.
    let other = tempfile::tempdir().unwrap();
    crate::support::copy_dir(p.path(), other.path());
    std::fs::write(
        other
            .path()
            .join("migrations/20260102000000_backfill_items/step.toml"),
        format!("{step}# edited\n"),
    )
    .unwrap();
    // The same migration with another build of the plugin: its SHA-256 differs from the
    // one the deployer recorded (same code, one custom section more, so it would run).
    let rebuilt = tempfile::tempdir().unwrap();
    crate::support::copy_dir(p.path(), rebuilt.path());
    let wasm = rebuilt.path().join("hostile.wasm");
    let mut bytes = std::fs::read(guest("hostile")).unwrap();
    // A custom section (id 0) of 10 bytes: the name "note" (length 4), then "again".
    bytes.extend_from_slice(b"\x00\x0a\x04noteagain");
    std::fs::write(&wasm, bytes).unwrap();
    std::fs::write(
        rebuilt.path().join("godwit.toml"),
        hostile_with(&wasm, "32MiB", "bump", GRANT_ITEMS),
    )
    .unwrap();
    // And a checkout without the step's migration at all.
    let behind = tempfile::tempdir().unwrap();
    crate::support::copy_dir(p.path(), behind.path());
    std::fs::remove_dir_all(
        behind
            .path()
            .join("migrations/20260102000000_backfill_items"),
    )
    .unwrap();
    for (dir, says) in [
        (
            other.path(),
            "refused to join: the migration's checksum differs",
        ),
        (
            rebuilt.path(),
            "refused to join: the plugin's SHA-256 differs",
        ),
        (
            behind.path(),
            "refused to join: this project has no migration with its version",
        ),
    ] {
        let mut cmd = crate::support::godwit_cmd();
        cmd.arg("-C")
            .arg(dir)
            .arg("--database-url")
            .arg(&p.db.url)
            .arg("work");
        crate::support::run(cmd)
            .expect(4)
            .says(says)
            .says("nothing was done");
    }
    assert_eq!(
        batches(&p, "done"),
        done,
        "the refused helpers took no batch"
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE n > 1"),
        0,
        "no row was transformed by a refused helper"
    );
    let helped = p.godwit(&["work", "--workers", "2"]);
    helped.expect(0).says("of its 61 batches are done");
    assert_eq!(batches(&p, "pending"), 0);
    assert_each_row_bumped_once(&p, rows as i64);
    // The next deploy finds every batch done and records the step applied.
    p.godwit(&["deploy"]).expect(0);
    assert_each_row_bumped_once(&p, rows as i64);
    assert_eq!(
        p.db.rows(&format!(
            "SELECT state, rows_affected FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        vec![vec!["applied".to_owned(), rows.to_string()]]
    );
}

/// kill -9 at random moments (a fixed seed, so a failure replays): of a deploy running
/// two workers, and of a deploy and a `godwit work` helping it, two workers each. After
/// every kill no row is done twice, and the next runs finish the step with each row once.
fn kill_nine_of_workers_transforms_each_row_once(d: Dialect) {
    const SEED: u64 = 0x15_c0ffee;
    const KILLS: usize = 22;
    let rows = 40_000;
    let p = step_project(
        d,
        rows,
        &bump(),
        "plugin = \"hostile\"\n[batch]\nsize = 20\npause = \"5ms\"\n",
    );
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    let mut state = SEED;
    let mut next = move |below: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % below
    };
    let spawn = |args: &[&str]| {
        p.command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // Kills `child` after `ms` unless it ended; whether the kill landed on a live process.
    let kill_after = |child: &mut std::process::Child, ms: u64| {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(ms) {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let alive = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        alive
    };
    let (mut kills, mut trials) = (0, 0);
    while kills < KILLS {
        trials += 1;
        assert!(
            trials <= 60,
            "only {kills} of {trials} kills landed during the step (seed {SEED:#x})"
        );
        if trials % 2 == 1 {
            let mut deploy = spawn(&["deploy", "--workers", "2"]);
            kills += usize::from(kill_after(&mut deploy, 150 + next(450)));
        } else {
            let mut deploy = spawn(&["deploy", "--workers", "2"]);
            let mut helper = spawn(&["--wait", "10", "work", "--workers", "2"]);
            let (first, second) = if next(2) == 0 {
                (&mut deploy, &mut helper)
            } else {
                (&mut helper, &mut deploy)
            };
            kills += usize::from(kill_after(first, 200 + next(400)));
            kills += usize::from(kill_after(second, next(200)));
        }
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM items WHERE n > 1"),
            0,
            "after {kills} kills (trial {trials}, seed {SEED:#x}): rows transformed twice"
        );
        if p.db.int("SELECT COUNT(*) FROM items WHERE n = 0") == 0 {
            break;
        }
    }
    assert!(kills >= KILLS, "{kills} kills landed (seed {SEED:#x})");
    p.godwit(&["deploy", "--workers", "2"]).expect(0);
    assert_each_row_bumped_once(&p, rows as i64);
    assert_eq!(batches(&p, "pending"), 0);
    assert_eq!(
        p.db.rows(&format!(
            "SELECT state, rows_affected FROM godwit_migrations WHERE version = '{VERSION}'"
        )),
        vec![vec!["applied".to_owned(), rows.to_string()]]
    );
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
    kill_nine_of_workers_transforms_each_row_once,
    two_processes_finish_one_step,
    work_refuses_another_checksum,
    a_concurrent_writer_loses_no_update,
    data_steps_refuse_more_than_one_worker,
    bad_worker_counts_are_usage_errors,
    workers_resume_a_single_worker_checkpoint,
    a_failed_batch_resumes_with_the_batches_not_done,
);

#[test]
fn sqlite_refuses_workers() {
    sqlite_refuses_more_than_one_worker();
}
