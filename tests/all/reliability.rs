//! Deployers racing each other and deployers killed at random moments: every migration
//! is applied exactly once, and the next deploy always recovers.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::each_dialect;
use crate::support::*;

each_dialect!(
    eight_deployers_apply_each_migration_once,
    sigkill_at_random_moments_always_recovers
);

const MIGRATIONS: usize = 12;

/// A ledger of which migration inserted which rows: a migration applied twice shows up as
/// duplicate rows, one skipped as missing rows. MySQL commits DDL as it goes, so there the
/// DDL is written re-runnable (IF NOT EXISTS), which godwit resumes on its own.
fn ledger_project(d: Dialect) -> Project {
    let p = Project::empty(d);
    p.write(
        "00001_create_ledger/up.sql",
        "CREATE TABLE IF NOT EXISTS digits (d INTEGER NOT NULL);\n\
         INSERT INTO digits (d) VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);\n\
         CREATE TABLE IF NOT EXISTS ledger (migration INTEGER NOT NULL, n INTEGER NOT NULL);\n",
    );
    for v in 2..=MIGRATIONS {
        p.write(
            &format!("{v:05}_fill_ledger_{v}/up.sql"),
            &format!(
                "CREATE TABLE IF NOT EXISTS side_{v} (id INTEGER PRIMARY KEY);\n\
                 INSERT INTO ledger (migration, n) SELECT {v}, a.d + 10 * b.d + 100 * c.d FROM digits a, digits b, digits c;\n\
                 INSERT INTO side_{v} (id) VALUES ({v});\n\
                 UPDATE ledger SET n = n WHERE migration = {v};\n"
            ),
        );
    }
    p
}

#[track_caller]
fn assert_each_applied_once(p: &Project) {
    for v in 2..=MIGRATIONS {
        assert_eq!(
            p.db.int(&format!(
                "SELECT count(*) FROM ledger WHERE migration = {v}"
            )),
            1000,
            "migration {v}"
        );
        assert_eq!(
            p.db.int(&format!("SELECT count(*) FROM side_{v}")),
            1,
            "migration {v}"
        );
    }
    let history = p.db.history();
    let applied = history
        .iter()
        .filter(|(_, _, state)| state == "applied")
        .count();
    assert_eq!(
        applied, MIGRATIONS,
        "one applied row per migration: {history:?}"
    );
    assert!(
        history.iter().all(|(_, _, state)| state == "applied"),
        "{history:?}"
    );
    p.godwit(&["status"]).expect(0);
}

fn eight_deployers_apply_each_migration_once(d: Dialect) {
    let p = ledger_project(d);
    let children: Vec<Child> = (0..8)
        .map(|_| {
            p.command(&["deploy"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied_total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        applied_total += text.lines().filter(|l| l.contains(" applied in ")).count();
    }
    assert_eq!(
        applied_total, MIGRATIONS,
        "exactly one deployer applied each migration"
    );
    assert_each_applied_once(&p);
}

/// A small deterministic generator: the trials differ, and a failure can be replayed
/// with the seed it prints.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn sigkill_at_random_moments_always_recovers(d: Dialect) {
    // How long an undisturbed deploy takes here, so kills land all over it.
    let warmup = ledger_project(d);
    let started = Instant::now();
    warmup.godwit(&["deploy"]).expect(0);
    let full = started.elapsed();
    drop(warmup);

    let seed = std::env::var("GODWIT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!(
        "sigkill trials: seed {seed} (GODWIT_TEST_SEED={seed} replays them), full deploy {full:?}"
    );
    let mut rng = Lcg(seed);
    let mut window = full.as_micros() as u64;
    // Kills that land after the deploy finished prove nothing: keep going until 20 landed
    // mid-deploy (the machine's load changes how long a deploy takes).
    let (mut killed_midway, mut trials) = (0, 0);
    while killed_midway < 20 {
        trials += 1;
        assert!(
            trials <= 80,
            "only {killed_midway} of {trials} kills landed mid-deploy (seed {seed})"
        );
        let p = ledger_project(d);
        let mut child = p
            .command(&["deploy"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % window.max(1)));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        // Track how long a deploy takes now, as load on the machine changes.
        if finished {
            window = window * 7 / 10;
        } else {
            killed_midway += 1;
            window = window * 21 / 20;
        }
        let out = p.godwit(&["deploy"]);
        assert_eq!(
            out.code,
            0,
            "trial {trials} (seed {seed}): the deploy after a kill must recover\n{}",
            out.text()
        );
        assert_each_applied_once(&p);
    }
}

/// The lease-table lock used behind poolers, where session locks do not survive.
#[test]
fn lease_mode_postgres() {
    lease_mode(Dialect::Postgres)
}

#[test]
fn lease_mode_mysql() {
    lease_mode(Dialect::MySql)
}

fn lease_mode(d: Dialect) {
    let p = ledger_project(d);
    std::fs::write(p.path().join("godwit.toml"), "lock = \"lease\"\n").unwrap();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            p.command(&["deploy"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_each_applied_once(&p);
    assert_eq!(
        p.db.int("SELECT count(*) FROM godwit_lock WHERE owner IS NULL"),
        1,
        "the lease is released"
    );
}

/// A deployer killed in the middle of a long statement: PostgreSQL frees its lock at
/// once, but its session runs the statement to the end. The next deploy waits for that
/// session instead of racing it, then reports the statement as in doubt (a DO block is
/// not data-only, so it did not commit together with its progress counter).
#[test]
fn next_deploy_waits_for_a_killed_deployers_statement() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "00001_slow/up.sql",
        "-- godwit:no-transaction\nCREATE TABLE marker (id INTEGER);\nDO $$ BEGIN PERFORM pg_sleep(4); END $$;\nINSERT INTO marker VALUES (1);\n",
    );
    let mut child = p
        .command(&["deploy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the sleep is running, then kill the deployer.
    let started = Instant::now();
    while p.db.int("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN PERFORM pg_sleep(4)%' AND state = 'active'") == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the slow statement never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = p.godwit(&["deploy"]);
    out.expect(4)
        .says("is still running")
        .says("statement 2 of 3")
        .says("may or may not have taken effect");
    assert_eq!(p.db.int("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN PERFORM pg_sleep(4)%' AND state = 'active'"), 0);
    p.godwit(&["resolve", "--continue", "00001"])
        .expect(0)
        .says("continues with statement 3 of 3");
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM marker"), 1);
}

/// MySQL commits DDL on its own, so godwit leaves its history writes open for the next DDL
/// statement's implicit commit to make durable, which the server does before it starts
/// the statement. While that statement runs, another session must already see the
/// previous migration applied and this one's statement as in doubt, and a deployer killed
/// then must leave exactly that behind.
#[test]
fn mysql_history_is_committed_before_each_ddl_statement_runs() {
    // The note naming it goes to the server as a literal, in the same round trip as the
    // statement: quotes, a backslash and non-ASCII text must come back exactly.
    const SLOW: &str =
        r#"CREATE TABLE slow_table COMMENT 'it''s a \ "note" é' AS SELECT SLEEP(60) AS slept"#;
    let p = Project::empty(Dialect::MySql);
    p.write(
        "00001_first/up.sql",
        "CREATE TABLE first_table (id INTEGER);\n",
    );
    p.write(
        "00002_slow/up.sql",
        &format!("CREATE TABLE second_table (id INTEGER);\n{SLOW};\nCREATE TABLE after_slow (id INTEGER);\n"),
    );
    let mut child = p
        .command(&["deploy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let running = "SELECT COALESCE(MAX(ID), 0) FROM information_schema.PROCESSLIST \
                   WHERE DB = DATABASE() AND INFO LIKE 'CREATE TABLE slow_table%'";
    let started = Instant::now();
    let session = loop {
        let id = p.db.int(running);
        if id != 0 {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the slow statement never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let history = "SELECT version, state, CAST(statements_applied AS SIGNED), \
                   COALESCE(error, '') FROM godwit_migrations ORDER BY id";
    let seen = |rows: Vec<Vec<String>>| {
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0][..3], ["00001", "applied", "1"], "{rows:?}");
        assert_eq!(rows[1][..3], ["00002", "running", "1"], "{rows:?}");
        assert!(
            rows[1][3].starts_with("interrupted while running statement 2 of 3"),
            "{rows:?}"
        );
        assert!(rows[1][3].ends_with(SLOW), "{rows:?}");
    };
    // Read from another session while the statement runs: only committed writes show.
    seen(p.db.rows(history));
    child.kill().unwrap();
    child.wait().unwrap();
    p.db.exec(&format!("KILL {session}"));
    seen(p.db.rows(history));
    p.godwit(&["deploy"])
        .expect(4)
        .says("statement 2 of 3")
        .says("may or may not have taken effect");
    assert!(p.db.table_exists("second_table"));
    assert!(!p.db.table_exists("after_slow"));
}

/// Two deployers starting together each look at the other's sessions while waiting for
/// the lock; a session that is only running godwit's own lock check is no orphaned
/// statement (documenso: the waiting deployer called a live one "gone" and printed its
/// lock-check query).
#[test]
fn another_godwits_lock_check_is_not_taken_for_orphaned_work() {
    let p = Project::empty(Dialect::Postgres);
    p.write("00001_a/up.sql", "CREATE TABLE a (id INTEGER);\n");
    let mut checker = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            &p.db.url,
            "-c",
            "/* godwit: lock check */ SELECT pg_sleep(6)",
        ])
        .env("PGAPPNAME", "godwit 0.1.0 pid 1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while p.db.int("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '/* godwit: lock check */ SELECT pg_sleep%' AND state = 'active'") == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the check never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = p.godwit(&["deploy"]);
    let _ = checker.kill();
    let _ = checker.wait();
    out.expect(0);
    assert!(!out.text().contains("still running"), "{}", out.text());
}
