//! The run on every database, fixture by fixture.

use crate::each_dialect;
use crate::support::*;

each_dialect!(
    simple,
    reversible,
    broken_blocks_until_resolved,
    crlf_has_the_same_checksum,
    compound_bodies,
    out_of_order,
    no_transaction,
    baseline_and_reset
);

fn simple(d: Dialect) {
    let p = Project::new(d, "migrations_simple");
    p.godwit(&["status"]).expect(5).says("pending");
    p.godwit(&["deploy"]).expect(0).says("Applied 3 migrations");
    assert_eq!(p.db.int("SELECT count(*) FROM users"), 3);
    assert_eq!(
        p.db.rows("SELECT name FROM users WHERE id = 1")[0][0],
        "Ada; Countess"
    );
    assert_eq!(p.db.rows("SELECT body FROM posts")[0][0], "a;b;c");
    p.godwit(&["deploy"]).expect(0).says("Already up to date");
    p.godwit(&["status"]).expect(0).says("3 applied, 0 pending");
    let history = p.db.history();
    assert_eq!(history.len(), 3);
    assert!(
        history
            .iter()
            .all(|(_, op, state)| op == "deploy" && state == "applied"),
        "{history:?}"
    );
    let rows = p.db.rows("SELECT statements_applied, statements_total, applied_by, godwit_version FROM godwit_migrations ORDER BY id");
    assert_eq!(rows[0][0], "2");
    assert_eq!(rows[0][1], "2");
    assert_eq!(rows[2][0], "4");
    assert!(rows[0][2].contains('@'));

    let json = p.godwit(&["status", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["summary"]["applied"], 3);
    assert_eq!(value["migrations"][0]["status"], "applied");
    assert!(!value["database"].as_str().unwrap().is_empty());
}

fn reversible(d: Dialect) {
    let p = Project::new(d, "migrations_reversible");
    p.backups_off_where_pg_dump_cannot();
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(balances(&p), 350);
    p.godwit(&["down"]).expect(0).says("Reverted 1 migration");
    assert_eq!(p.db.int("SELECT count(*) FROM accounts"), 0);
    p.godwit(&["status"]).expect(5).says("rolled back");
    p.godwit(&["down", "--to", "20260201000000"])
        .expect(0)
        .says("Reverted 1 migration");
    p.godwit(&["down", "--steps", "5"])
        .expect(0)
        .says("Reverted 1 migration");
    assert!(!p.db.table_exists("accounts"));
    p.godwit(&["down"]).expect(0).says("Nothing to revert");
    p.godwit(&["deploy", "--to", "20260202000000"])
        .expect(0)
        .says("Applied 2 migrations");
    p.godwit(&["status"]).expect(5);
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(balances(&p), 350);
    let stats = p.godwit(&["history", "--stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["rollbacks"], 3);
    assert_eq!(stats["applied"], 6);
    assert_eq!(stats["success_rate"], 100.0);
    p.godwit(&["history"])
        .expect(0)
        .says("down")
        .says("rolled_back");
    p.godwit(&["down", "--to", "20269999999999"])
        .expect(2)
        .says("no migration with that version");
}

fn balances(p: &Project) -> i64 {
    p.db.rows("SELECT balance FROM accounts")
        .iter()
        .map(|r| r[0].parse::<i64>().unwrap())
        .sum()
}

fn broken_blocks_until_resolved(d: Dialect) {
    let p = Project::new(d, "migrations_broken");
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("20260302000000_create_gadgets failed at statement 3 of 4")
        .says("INSERT INTO no_such_table")
        .says("line 3")
        .says("Applied before the failure (1): 20260301000000_create_widgets");
    assert!(p.db.table_exists("widgets"));
    assert!(
        !p.db.table_exists("sprockets"),
        "the run stops at the failure"
    );
    let transactional = d != Dialect::MySql;
    if transactional {
        out.says("Nothing of it was applied")
            .says("godwit resolve --rolled-back 20260302000000");
        assert!(
            !p.db.table_exists("gadgets"),
            "nothing of a failed transactional migration remains"
        );
    } else {
        out.says("Statements 1-2 of 4 were applied")
            .says("godwit resolve --continue 20260302000000");
        assert_eq!(p.db.int("SELECT count(*) FROM gadgets"), 1);
    }
    p.godwit(&["status"]).expect(4).says("failed");
    p.godwit(&["deploy"])
        .expect(4)
        .says("awaits resolve")
        .says("no_such_table");
    let json: serde_json::Value =
        serde_json::from_str(&p.godwit(&["deploy", "--json"]).stdout).unwrap();
    assert_eq!(json["exit_code"], 4);
    assert!(json["error"].as_str().unwrap().contains("awaits resolve"));
    p.godwit(&["down"])
        .expect(4)
        .says("resolve it before reverting");

    if transactional {
        p.godwit(&["resolve", "--continue", "20260302000000"])
            .expect(4)
            .says("nothing to continue");
        p.write("20260302000000_create_gadgets/up.sql", "CREATE TABLE gadgets (id INTEGER PRIMARY KEY, label VARCHAR(50));\nINSERT INTO gadgets (id, label) VALUES (1, 'first');\nCREATE TABLE after_failure (id INTEGER PRIMARY KEY);\n");
        p.godwit(&["resolve", "--rolled-back", "20260302000000"])
            .expect(0)
            .says("from the start");
    } else {
        // The operator creates what statement 3 was meant to write to, then continues.
        p.db.exec("CREATE TABLE no_such_table (id INTEGER PRIMARY KEY)");
        p.db.exec("INSERT INTO no_such_table (id) VALUES (1)");
        p.godwit(&["resolve", "--continue", "20260302000000"])
            .expect(0)
            .says("continues with statement 4 of 4");
        p.godwit(&["status"]).expect(5).says("resumable");
    }
    let out = p.godwit(&["deploy"]);
    out.expect(0).says("Applied 2 migrations");
    if !transactional {
        // Only the rest ran this time, and the line says so.
        out.says("(resuming at statement 4 of 4)")
            .says("ms (statement 4 of 4");
        // Statement 2's row was inserted by the first attempt, not by this run.
        let text = out.text();
        let line = text.lines().find(|l| l.contains("(statement 4 of 4"));
        assert!(
            line.is_some_and(|l| l.trim_end().ends_with("(statement 4 of 4)")),
            "{text}"
        );
    }
    assert_eq!(
        p.db.int("SELECT count(*) FROM gadgets"),
        1,
        "nothing ran twice"
    );
    assert!(p.db.table_exists("after_failure"));
    assert!(p.db.table_exists("sprockets"));
    p.godwit(&["status"]).expect(0);
    let stats: serde_json::Value =
        serde_json::from_str(&p.godwit(&["history", "--stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["failed"], 1);
}

fn crlf_has_the_same_checksum(d: Dialect) {
    let p = Project::new(d, "migrations_crlf");
    let raw = std::fs::read(p.migrations().join("20260401000000_create_notes/up.sql")).unwrap();
    assert!(
        raw.starts_with(b"\xEF\xBB\xBF") && raw.windows(2).any(|w| w == b"\r\n"),
        "the fixture lost its CRLF/BOM"
    );
    p.godwit(&["deploy"]).expect(0);
    let recorded = p.db.rows("SELECT checksum FROM godwit_migrations")[0][0].clone();
    let lf = String::from_utf8(raw[3..].to_vec())
        .unwrap()
        .replace("\r\n", "\n");
    assert_eq!(recorded, godwit::source::checksum(&lf));
    // A checkout with LF endings is the same migration.
    p.write("20260401000000_create_notes/up.sql", &lf);
    p.godwit(&["status"]).expect(0).says("1 applied");
    p.write(
        "20260401000000_create_notes/up.sql",
        &lf.replace("line one", "line 1"),
    );
    p.godwit(&["status"]).expect(4).says("modified");
    p.godwit(&["deploy"])
        .expect(4)
        .says("was modified after it was applied")
        .says("git checkout");
    p.godwit(&["resolve", "--applied", "20260401000000"])
        .expect(0)
        .says("new checksum");
    p.godwit(&["status"]).expect(0);
}

fn compound_bodies(d: Dialect) {
    let p = Project::new(d, "migrations_dollar_quoted");
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM items"), 4);
    assert_eq!(
        p.db.rows("SELECT name FROM items WHERE id = 4")[0][0],
        "escaped ' quote; here"
    );
    assert!(
        p.db.int("SELECT count(*) FROM audit") >= 3,
        "the trigger body ran"
    );
    match d {
        Dialect::Postgres => {
            assert_eq!(p.db.rows("SELECT shout('hi')")[0][0], "HI!");
            assert_eq!(p.db.int("SELECT add_one(41)"), 42);
        }
        Dialect::MySql => assert_eq!(p.db.rows("SELECT shout('hi')")[0][0], "HI!"),
        Dialect::Sqlite => assert_eq!(
            p.db.rows("SELECT note FROM audit WHERE item_id = 1")[0][0],
            "first; by trigger"
        ),
    }
}

fn out_of_order(d: Dialect) {
    let p = Project::new(d, "migrations_out_of_order");
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260502000000_create_second/up.sql",
        "CREATE TABLE second_table (id INTEGER PRIMARY KEY);\n",
    );
    p.godwit(&["status"]).expect(4).says("out of order");
    p.godwit(&["deploy"])
        .expect(4)
        .says("older than migrations already applied")
        .says("--allow-out-of-order");
    assert!(!p.db.table_exists("second_table"));
    p.godwit(&["deploy", "--allow-out-of-order"])
        .expect(0)
        .says("Applied 1 migration");
    assert!(p.db.table_exists("second_table"));
    p.godwit(&["status"]).expect(0);
}

fn no_transaction(d: Dialect) {
    let p = Project::new(d, "migrations_no_tx");
    p.godwit(&["deploy"]).expect(0);
    if d == Dialect::Postgres {
        let valid = p.db.int("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'events_kind%' AND i.indisvalid");
        assert_eq!(valid, 2);
    }
    p.godwit(&["down"]).expect(0);
    p.godwit(&["deploy"]).expect(0);
    let rows = p.db.rows("SELECT statements_applied, statements_total, state FROM godwit_migrations WHERE version = '20260602000000' ORDER BY id");
    assert!(rows.iter().all(|r| r[0] == r[1]), "{rows:?}");
}

fn baseline_and_reset(d: Dialect) {
    let p = Project::new(d, "migrations_simple");
    // An existing database that already has the first two migrations' tables.
    p.db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL, name VARCHAR(100))");
    p.db.exec("CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR(200) NOT NULL, body TEXT)");
    p.godwit(&["baseline", "20260102000000"])
        .expect(0)
        .says("Recorded 2 migration(s)");
    p.godwit(&["status"]).expect(5).says("2 applied, 1 pending");
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    p.godwit(&["reset"])
        .expect(4)
        .says("environment = \"development\"");
    std::fs::write(
        p.path().join("godwit.toml"),
        "environment = \"development\"\n",
    )
    .unwrap();
    p.godwit(&["reset"]).expect(0).says("Applied 3 migrations");
    assert_eq!(p.db.int("SELECT count(*) FROM users"), 3);
    assert_eq!(p.db.history().len(), 3, "reset starts a fresh history");
}

each_dialect!(lock_timeout_is_retried);

/// Another session holds a conflicting lock: the migration's lock timeout fires, godwit
/// says it backs off and retries, the lock is released on hearing it, and the retry
/// succeeds; a lock that is never released fails after `lock_retries` with the database's
/// error. The lock is released on what godwit says, never after a number of seconds.
fn lock_timeout_is_retried(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20260801000000_create_busy/up.sql",
        "CREATE TABLE busy (id INTEGER PRIMARY KEY);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260802000000_add_busy_note/up.sql",
        "-- godwit:lock-timeout=300ms\nALTER TABLE busy ADD COLUMN note VARCHAR(20);\n",
    );

    if d == Dialect::Sqlite {
        // SQLite's lease row lives in the same file, so another writer is met while taking
        // the migration lock: godwit waits for it (up to lock_wait), then applies.
        let holder = LockHolder::take(&p.db);
        let mut deploy = p.spawn(&["deploy"]);
        deploy.wait_for("waiting for the migration lock");
        holder.release();
        deploy.finish().expect(0).says("Applied 1 migration");
        let holder = LockHolder::take(&p.db);
        p.godwit(&["--lock-wait", "1s", "deploy"])
            .expect(3)
            .says("could not acquire the migration lock within 1s");
        holder.release();
        return;
    }
    // Released when godwit announces its first retry: the retry gets through.
    let holder = LockHolder::take(&p.db);
    let mut deploy = p.spawn(&["deploy"]);
    deploy.wait_for("retry 1");
    holder.release();
    deploy.finish().expect(0).says("Applied 1 migration");
    assert_eq!(
        p.db.int("SELECT count(*) FROM godwit_migrations WHERE state = 'applied'"),
        2
    );

    // Never released while godwit runs: the migration fails with the database's error.
    p.write(
        "20260803000000_add_busy_flag/up.sql",
        "-- godwit:lock-timeout=300ms\nALTER TABLE busy ADD COLUMN flag INTEGER;\n",
    );
    std::fs::write(p.path().join("godwit.toml"), "lock_retries = 1\n").unwrap();
    let holder = LockHolder::take(&p.db);
    let out = p.godwit(&["deploy"]);
    holder.release();
    out.expect(1)
        .says("20260803000000_add_busy_flag failed")
        .says("retry 1");
}

/// Another session holding a lock that conflicts with `ALTER TABLE busy` (on SQLite, the
/// database's write lock) until [`LockHolder::release`].
struct LockHolder {
    release: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl LockHolder {
    /// Returns once the lock is held.
    fn take(db: &TestDb) -> LockHolder {
        let (url, dialect) = (db.url.clone(), db.dialect);
        let (held_tx, held) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let (take, give_back) = match dialect {
                    Dialect::Postgres => {
                        ("BEGIN; LOCK TABLE busy IN ACCESS EXCLUSIVE MODE", "COMMIT")
                    }
                    Dialect::MySql => ("LOCK TABLES busy WRITE", "UNLOCK TABLES"),
                    Dialect::Sqlite => ("BEGIN IMMEDIATE; DELETE FROM busy", "COMMIT"),
                };
                let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(take).execute(&mut c).await.unwrap();
                held_tx.send(()).unwrap();
                // Dropped without a word if the test failed: give the lock back all the same.
                let _ = release_rx.recv();
                sqlx::raw_sql(give_back).execute(&mut c).await.unwrap();
            });
        });
        held.recv()
            .expect("the lock holder failed to take the lock");
        LockHolder { release, thread }
    }

    /// Gives the lock back, and returns once it has.
    fn release(self) {
        self.release.send(()).unwrap();
        self.thread.join().unwrap();
    }
}

each_dialect!(status_does_not_write);

/// `status` on a database godwit never touched reports pending and creates nothing.
fn status_does_not_write(d: Dialect) {
    let p = Project::new(d, "migrations_simple");
    p.godwit(&["status"]).expect(5).says("0 applied, 3 pending");
    assert!(!p.db.table_exists("godwit_migrations"));
    p.godwit(&["history"]).expect(0).says("No history yet");
}

each_dialect!(statement_timeout_stops_a_runaway_statement);

/// `-- godwit:statement-timeout` ends a statement that runs too long, on every database
/// (SQLite has no such setting: godwit interrupts it from a progress handler).
fn statement_timeout_stops_a_runaway_statement(d: Dialect) {
    let p = Project::empty(d);
    // MariaDB caps recursive CTEs at 1,000 iterations by default, so it sleeps instead.
    let slow = match d {
        Dialect::MySql => "SELECT SLEEP(30);",
        _ => {
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200000000) SELECT count(*) FROM c;"
        }
    };
    p.write(
        "20260901000000_count_forever/up.sql",
        &format!("-- godwit:statement-timeout=300ms\n{slow}\n"),
    );
    let started = std::time::Instant::now();
    p.godwit(&["deploy"])
        .expect(1)
        .says("20260901000000_count_forever failed at statement 1 of 1");
    // Far below what counting to 200 million takes on any of them.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    p.godwit(&["status"]).expect(4);
}

#[test]
fn a_lock_session_ended_by_the_server_stops_the_deploy_postgres() {
    lock_session_ended(Dialect::Postgres)
}

#[test]
fn a_lock_session_ended_by_the_server_stops_the_deploy_mysql() {
    lock_session_ended(Dialect::MySql)
}

/// With the default lock (PostgreSQL's advisory lock, MySQL's GET_LOCK) the lock lives in
/// godwit's lock session. The server ends that session (an administrator's
/// `pg_terminate_backend` or `KILL`) while the second of three migrations waits on a lock
/// the test holds: from then on another deployer could take the lock, so the deploy stops
/// before the third (exit 4, the lock lost), and the next deploy finishes the work.
fn lock_session_ended(d: Dialect) {
    let p = Project::empty(d);
    let gate = p.db.gate();
    gate.three_migrations(&p);
    let deploy = p.spawn(&["deploy"]);
    gate.wait_for_a_waiter();
    end_the_lock_session(&p.db);
    // Longer than godwit's interval between asks of the lock session (one second), so
    // the ask before the third migration is made whatever the timing.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    gate.open();
    deploy.finish().expect(4).says("lock");
    assert!(p.db.table_exists("first_t"));
    assert!(
        !p.db.table_exists("third_t"),
        "nothing ran after the lock was lost"
    );
    p.godwit(&["deploy"]).expect(0);
    assert!(p.db.table_exists("third_t"));
}

/// Ends, as an administrator would (`pg_terminate_backend`, `KILL`), the session that
/// holds godwit's migration lock in this database: not the gate's, and not godwit's work
/// session, which waits on the gate.
fn end_the_lock_session(db: &TestDb) {
    match db.dialect {
        Dialect::Postgres => {
            let ended = db.int(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' \
                 AND granted AND objid <> 4242 AND pid <> pg_backend_pid() \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            );
            assert_eq!(ended, 1, "one session holds godwit's lock");
        }
        _ => {
            let holder = db.int("SELECT IS_USED_LOCK(CONCAT('godwit:', DATABASE()))");
            assert!(holder > 0, "godwit's lock is held");
            db.exec(&format!("KILL {holder}"));
        }
    }
}

/// How the migration lock passes out of a deployer's hands while its migration runs.
#[derive(Clone, Copy)]
enum LockLoss {
    /// The server ends the session holding the advisory lock (`pg_terminate_backend`).
    SessionEnded,
    /// With `lock = "lease"`, another deployer takes the lease row over.
    LeaseTaken,
}

#[test]
fn a_lock_lost_during_a_migration_rolls_it_back_postgres() {
    lock_lost_before_commit(LockLoss::SessionEnded)
}

#[test]
fn a_lease_taken_during_a_migration_rolls_it_back_postgres() {
    lock_lost_before_commit(LockLoss::LeaseTaken)
}

/// The lock passes out of the deployer's hands while the last migration's transaction
/// runs, right before its COMMIT (no time for a throttled check to come due): the
/// migration is rolled back rather than committed under a lock another deployer may hold,
/// nothing of it is recorded, and the deploy says the lock was lost (exit 4, not 1).
/// The next deploy applies it.
fn lock_lost_before_commit(loss: LockLoss) {
    let p = Project::empty(Dialect::Postgres);
    if let LockLoss::LeaseTaken = loss {
        std::fs::write(p.path().join("godwit.toml"), "lock = \"lease\"\n").unwrap();
    }
    let gate = p.db.gate();
    p.write(
        "20261201000000_first/up.sql",
        "CREATE TABLE first_t (id INT);\n",
    );
    p.write(
        "20261202000000_last/up.sql",
        &format!(
            "CREATE TABLE last_t (id INT);\nINSERT INTO last_t VALUES (1);\n{}",
            gate.migration()
        ),
    );
    let deploy = p.spawn(&["deploy"]);
    gate.wait_for_a_waiter();
    match loss {
        LockLoss::SessionEnded => end_the_lock_session(&p.db),
        LockLoss::LeaseTaken => {
            // As a deployer elsewhere would once the lease looked expired to it.
            let taken = p.db.int(
                "WITH t AS (UPDATE godwit_lock SET owner = 'elsewhere:1:0', host = 'elsewhere', \
                 pid = 1 WHERE id = 1 AND owner IS NOT NULL RETURNING 1) SELECT count(*) FROM t",
            );
            assert_eq!(taken, 1, "godwit held the lease");
        }
    }
    gate.open();
    let out = deploy.finish();
    out.expect(4).says("20261202000000_last was rolled back");
    assert!(p.db.table_exists("first_t"));
    assert!(
        !p.db.table_exists("last_t"),
        "nothing of the last migration committed"
    );
    assert_eq!(
        p.db.history()
            .iter()
            .filter(|(version, ..)| version == "20261202000000")
            .count(),
        0,
        "no history row for a migration rolled back under a lost lock: {:?}",
        p.db.history()
    );
    if let LockLoss::LeaseTaken = loss {
        // The lease is the other deployer's now: godwit did not release it.
        assert_eq!(
            p.db.rows("SELECT owner FROM godwit_lock WHERE id = 1"),
            [["elsewhere:1:0"]]
        );
        p.db.exec("UPDATE godwit_lock SET owner = NULL, expires_at = 0 WHERE id = 1");
    }
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(p.db.rows("SELECT id FROM last_t"), [["1"]]);
}

/// MySQL/MariaDB: migrations run in the session their tool ran them in. Everything but
/// sqlx gets the server's own sql_mode and time_zone, as the `mariadb` client does: `||`
/// is OR, and a table may be called `position`. sqlx-cli adds PIPES_AS_CONCAT and
/// IGNORE_SPACE and sets UTC; its folders keep that.
#[test]
fn mysql_migrations_run_in_their_tools_session() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20260101000000_session/up.sql",
        "CREATE TABLE seen AS SELECT @@SESSION.sql_mode AS mode, @@GLOBAL.sql_mode AS server_mode, \
         @@SESSION.time_zone AS zone, @@GLOBAL.time_zone AS server_zone, \
         @@SESSION.collation_connection AS coll, \
         (SELECT DEFAULT_COLLATE_NAME FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = 'utf8mb4') AS server_coll;\n\
         CREATE TABLE position (id INT PRIMARY KEY, a INT, b INT, either INT);\n\
         INSERT INTO position (id, a, b) VALUES (1, 0, 5), (2, 0, 0);\n\
         UPDATE position SET either = (a || b);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let seen =
        p.db.rows("SELECT mode, server_mode, zone, server_zone, coll, server_coll FROM seen");
    assert_eq!(seen[0][0], seen[0][1], "the server's sql_mode: {seen:?}");
    assert_eq!(seen[0][2], seen[0][3], "the server's time zone: {seen:?}");
    assert_eq!(
        seen[0][4], seen[0][5],
        "the server's utf8mb4 collation: {seen:?}"
    );
    assert_eq!(
        p.db.rows("SELECT id, either FROM position ORDER BY id"),
        [["1", "1"], ["2", "0"]],
        "|| is OR, as the client runs it"
    );

    let p = Project::empty(Dialect::MySql);
    p.write(
        "20260101000000_session.up.sql",
        "CREATE TABLE seen AS SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS zone, \
         @@SESSION.collation_connection AS coll;\n\
         CREATE TABLE joined AS SELECT 'a' || 'b' AS ab;\n",
    );
    p.write(
        "20260101000000_session.down.sql",
        "DROP TABLE joined;\nDROP TABLE seen;\n",
    );
    std::fs::write(p.path().join("godwit.toml"), "layout = \"sqlx\"\n").unwrap();
    p.godwit(&["deploy"]).expect(0);
    let seen = p.db.rows("SELECT mode, zone, coll FROM seen");
    assert!(seen[0][0].contains("PIPES_AS_CONCAT"), "{seen:?}");
    assert_eq!(seen[0][1], "+00:00");
    assert_eq!(seen[0][2], "utf8mb4_unicode_ci", "sqlx-cli's collation");
    assert_eq!(p.db.rows("SELECT ab FROM joined"), [["ab"]]);
}

/// PostgreSQL 15's `public` belongs to pg_database_owner and lets every role use it.
/// reset dropped it and created it anew as the user running godwit, without that grant.
#[test]
fn reset_keeps_the_schemas_owner_and_privileges_postgres() {
    let p = Project::new(Dialect::Postgres, "migrations_simple");
    std::fs::write(
        p.path().join("godwit.toml"),
        "environment = \"development\"\n",
    )
    .unwrap();
    p.godwit(&["deploy"]).expect(0);
    let acl = "SELECT pg_get_userbyid(nspowner) || ' ' || COALESCE(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public'";
    let before = p.db.rows(acl);
    p.godwit(&["reset"]).expect(0).says("Applied 3 migrations");
    assert_eq!(p.db.rows(acl), before);
    assert!(
        before[0][0].contains("=U/"),
        "PUBLIC may use the schema: {before:?}"
    );
}

/// PostgreSQL: migrations run with the database's own TimeZone and DateStyle (`ALTER
/// DATABASE … SET timezone`), as psql and the tools that send none run them; sqlx sends
/// UTC and ISO, MDY in its startup packet, which stays for sqlx's own folders.
#[test]
fn postgres_migrations_run_with_the_databases_time_zone() {
    let setup = "DO $$ BEGIN \
         EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'America/New_York'); \
         EXECUTE format('ALTER DATABASE %I SET datestyle = %L', current_database(), 'ISO, DMY'); \
         END $$";
    let script = "CREATE TABLE events (id int, at timestamptz, day date);\n\
         INSERT INTO events VALUES (1, '2026-01-01 09:00', '01/02/2026');\n";
    let p = Project::empty(Dialect::Postgres);
    p.db.exec(setup);
    p.write("20260101000000_events/up.sql", script);
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.rows("SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI'), to_char(day, 'YYYY-MM-DD') FROM events"),
        [["14:00", "2026-02-01"]],
        "09:00 in New York, and 1 February as DMY reads it"
    );

    let p = Project::empty(Dialect::Postgres);
    p.db.exec(setup);
    p.write("20260101000000_events.up.sql", script);
    p.write("20260101000000_events.down.sql", "DROP TABLE events;\n");
    std::fs::write(p.path().join("godwit.toml"), "layout = \"sqlx\"\n").unwrap();
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.rows("SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI'), to_char(day, 'YYYY-MM-DD') FROM events"),
        [["09:00", "2026-01-02"]],
        "sqlx-cli's UTC and ISO, MDY"
    );

    // diesel sets only `TIME ZONE 'UTC'`: the database's DateStyle holds.
    let p = Project::empty(Dialect::Postgres);
    p.db.exec(setup);
    p.write("2026-01-01-000000_events/up.sql", script);
    p.write("2026-01-01-000000_events/down.sql", "DROP TABLE events;\n");
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.rows("SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI'), to_char(day, 'YYYY-MM-DD') FROM events"),
        [["09:00", "2026-02-01"]],
        "diesel's UTC, and the database's DMY"
    );
}

/// ory/hydra's SQLite migrations use `IF()` (SQLite 3.48) in generated columns; the
/// SQLite godwit links is older, so godwit's connection supplies it, with 3.48's meaning.
#[test]
fn sqlite_migrations_may_use_if_from_newer_sqlite_releases() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20260101000000_flows/up.sql",
        "CREATE TABLE flows (state INTEGER, \
           active INTEGER GENERATED ALWAYS AS (IF(state > 0, 1, NULL)) VIRTUAL);\n\
         CREATE INDEX flows_active ON flows (active);\n\
         INSERT INTO flows (state) VALUES (2), (0), (NULL);\n\
         CREATE TABLE seen AS SELECT rowid AS id, coalesce(active, -1) AS active FROM flows;\n\
         CREATE TABLE picks AS SELECT IF(0, 'a', NULL, 'b', 'c') AS else_value, \
           iif(1, 'x') AS two, iif(0, 'x') AS two_false, iif('1.5', 'text') AS text_truth, \
           iif(0, 'a', 1, 'b') AS pairs, iif(1, 'three', 'args') AS builtin;\n",
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(
        // Read back through a plain table: the test's own connection has no IF().
        p.db.rows("SELECT active FROM seen ORDER BY id"),
        [["1"], ["-1"], ["-1"]]
    );
    assert_eq!(
        p.db.rows("SELECT else_value, two, coalesce(two_false, 'null'), text_truth, pairs, builtin FROM picks"),
        [["c", "x", "null", "text", "b", "three"]]
    );
    // verify builds it on a shadow: the shadow's connection has the function too.
    p.godwit(&["verify"]).expect(0);
}

/// `history --stats` accounts for every row: a failed `down` is counted as one, not left
/// out of the total (crates.io's history showed 452 rows and counts adding up to 447).
#[test]
fn history_stats_count_failed_downs() {
    let p = Project::empty(Dialect::Sqlite);
    p.write("1_a.up.sql", "CREATE TABLE a (id int);\n");
    p.write("1_a.down.sql", "DROP TABLE no_such_table;\n");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"]).expect(1);
    let stats: serde_json::Value =
        serde_json::from_str(&p.godwit(&["history", "--stats", "--json"]).expect(0).stdout)
            .unwrap();
    assert_eq!(stats["applied"], 1, "{stats}");
    assert_eq!(stats["down_failed"], 1, "{stats}");
    let parts = ["applied", "failed", "rollbacks", "down_failed", "other"]
        .iter()
        .map(|k| stats[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(stats["runs"].as_u64().unwrap(), parts, "{stats}");
    p.godwit(&["history", "--stats"])
        .expect(0)
        .says("1 applied, 0 failed, 0 rolled back by `down`, 1 `down` failed");
}

/// The UAA trial: a MariaDB migration that turns foreign-key checks off first failed at
/// statement 3; the operator did statement 3 by hand and ran `resolve --continue`, and
/// statement 4 then failed on the foreign key, because the resumed run is a new session.
/// The file's earlier session settings are made again before it goes on; on PostgreSQL a
/// no-transaction file's `search_path` likewise.
fn a_resumed_run_makes_the_files_session_settings_again(d: Dialect) {
    let p = Project::empty(d);
    let (setting, off_lines) = if d == Dialect::MySql {
        (
            "SET foreign_key_checks = 0;\nSET @tag := 'loaded';\n",
            "INSERT INTO child VALUES (2, 998, @tag);\n",
        )
    } else {
        (
            "-- godwit:no-transaction\nSET search_path TO side, public;\nSET foo.tag = 'loaded';\n",
            "INSERT INTO child VALUES (2, 998, current_setting('foo.tag'));\n",
        )
    };
    p.write(
        "20260101000000_init/up.sql",
        "CREATE TABLE parent (id INT PRIMARY KEY);\n\
         CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, tag VARCHAR(20), CONSTRAINT fk_p FOREIGN KEY (parent_id) REFERENCES parent (id));\n",
    );
    if d == Dialect::Postgres {
        // In the `side` schema only, so that it is found through the file's search_path.
        p.db.exec("CREATE SCHEMA side");
        p.db.exec("CREATE TABLE side.side_only (id INT)");
        p.write(
            "20260102000000_load/up.sql",
            &format!(
                "{setting}INSERT INTO side_only VALUES (1);\nINSERT INTO staging VALUES (1);\nINSERT INTO side_only VALUES (2);\n{off_lines}"
            ),
        );
    } else {
        p.write(
            "20260102000000_load/up.sql",
            &format!(
                "{setting}INSERT INTO child VALUES (1, 999, @tag);\nINSERT INTO staging VALUES (1);\n{off_lines}SET foreign_key_checks = 1;\n"
            ),
        );
    }
    p.godwit(&["deploy"])
        .expect(1)
        .says("failed at statement 4 of 6");
    // The operator makes what the failed statement needed, does it by hand, and goes on.
    p.db.exec("CREATE TABLE staging (id INT)");
    p.db.exec("INSERT INTO staging VALUES (1)");
    p.godwit(&["resolve", "--continue", "20260102000000"])
        .expect(0);
    if d == Dialect::Postgres {
        // The rest needs the foreign key off on PostgreSQL too: drop it, as the test is
        // about the search_path and the custom setting.
        p.db.exec("ALTER TABLE child DROP CONSTRAINT fk_p");
    }
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        p.db.int("SELECT count(*) FROM child WHERE id = 2 AND tag = 'loaded'"),
        1,
        "statement after the resume ran with the file's settings"
    );
    if d == Dialect::Postgres {
        assert_eq!(p.db.int("SELECT count(*) FROM side.side_only"), 2);
    }
}

#[test]
fn a_resumed_run_makes_the_files_session_settings_again_mysql() {
    a_resumed_run_makes_the_files_session_settings_again(Dialect::MySql);
}

#[test]
fn a_resumed_run_makes_the_files_session_settings_again_postgres() {
    a_resumed_run_makes_the_files_session_settings_again(Dialect::Postgres);
}
