//! Steps that hold their batches back for the database's health: a real streaming replica
//! of the test PostgreSQL server, started here with `pg_basebackup`, whose replay is paused
//! and resumed; and an operator's health query, on every dialect.
//!
//! The replica tests need a replication connection from 127.0.0.1 in the server's
//! pg_hba.conf (`.ci/run` adds one). They never run two at a time, on this machine,
//! whatever the worktree: the primary's `pg_stat_replication` lists every standby, and a
//! standby paused by one test would hold back the other's batches.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::each_dialect;
use crate::steps::{GRANT_ITEMS, guest, hostile_with, step_project};
use crate::support::{self, Dialect, Project};

/// The step of [`step_project`], as the JSON events and history call it.
const STEP: &str = "20260102000000";

/// `[plugins.hostile]` in its `ok` mode: label_upper = UPPER(label).
fn plugin() -> String {
    hostile_with(&guest("hostile"), "32MiB", "ok", GRANT_ITEMS)
}

fn done(p: &Project) -> i64 {
    p.db.int("SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL")
}

/// Polls `condition` until it holds; fails the test, saying `what`, if it never does.
#[track_caller]
fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A streaming replica of the test server on a port of its own, torn down on drop.
struct Replica {
    /// Also its `cluster_name`, which is the `application_name` the primary shows.
    name: String,
    port: u16,
    data: PathBuf,
    bin: PathBuf,
    _dir: tempfile::TempDir,
    /// Held for the replica's life: see the module's comment.
    _lock: std::fs::File,
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs a PostgreSQL program as the `postgres` user when the tests run as root (the
/// server refuses to), else as ourselves; panics with its output if it fails.
#[track_caller]
fn pg_tool(program: &Path, args: &[&str]) -> String {
    let mut cmd = if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    let out = cmd.args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {}: {e}", program.display());
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {} failed:\n{text}",
        program.display(),
        args.join(" ")
    );
    text
}

impl Replica {
    fn start() -> Replica {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("godwit-test-replica.lock"))
            .unwrap();
        lock.lock().unwrap();
        // The replica's programs must be the server's major version.
        let version = support::admin_int(
            Dialect::Postgres,
            "SELECT current_setting('server_version_num')::int",
        );
        let bin = PathBuf::from(format!("/usr/lib/postgresql/{}/bin", version / 10000));
        for tool in ["pg_basebackup", "pg_ctl", "postgres"] {
            assert!(
                bin.join(tool).is_file(),
                "{} is missing: the replica tests need PostgreSQL {}'s server programs and pg_basebackup (apt-get install postgresql-{})",
                bin.join(tool).display(),
                version / 10000,
                version / 10000
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let name = format!("godwit_replica_{}_{port}", std::process::id());
        // A slot left by a replica test that was killed holds WAL for ever: drop it (the
        // lock says no replica test runs now).
        support::admin(
            &support::PG_ADMIN,
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name LIKE 'godwit\\_replica\\_%' AND NOT active",
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if running_as_root() {
            let status = Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown postgres {}", dir.path().display());
        }
        let server = support::PG_SERVER.trim_start_matches("postgres://postgres@");
        let (host, primary_port) = server.split_once(':').unwrap();
        // Under the load of the whole suite the stream connection has been seen to drop
        // mid-copy ("SSL connection has been closed unexpectedly"): try again, twice.
        let mut attempt = 0;
        let out = loop {
            attempt += 1;
            let out = Command::new(if running_as_root() { "runuser" } else { "env" })
                .args(if running_as_root() {
                    vec!["-u", "postgres", "--"]
                } else {
                    vec![]
                })
                .arg(bin.join("pg_basebackup"))
                .args([
                    "-h",
                    host,
                    "-p",
                    primary_port,
                    "-U",
                    "postgres",
                    "-X",
                    "stream",
                    "-R",
                ])
                // A slot keeps the WAL the replica has yet to receive: while the other tests
                // write, a checkpoint could otherwise recycle it before the replica asks.
                .args(["-C", "-S", &name])
                .args(["-c", "fast", "-D"])
                .arg(&data)
                .output()
                .expect("run pg_basebackup");
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || attempt == 3 || err.contains("pg_hba.conf") {
                break out;
            }
            eprintln!("pg_basebackup failed (attempt {attempt}), trying again: {err}");
            let _ = std::fs::remove_dir_all(&data);
            support::admin(
                &support::PG_ADMIN,
                &format!(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}' AND NOT active"
                ),
            );
            std::thread::sleep(Duration::from_secs(1));
        };
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "pg_basebackup could not copy the test server: {err}{}",
            if err.contains("pg_hba.conf") {
                "\n  the server needs a replication line in pg_hba.conf: add `host replication all 127.0.0.1/32 trust` and reload (.ci/run does)"
            } else {
                ""
            }
        );
        // Debian keeps the configuration out of the data directory: the replica gets its
        // own, with replies to the primary every second so that its lag shows promptly.
        let write = |file: &str, text: &str| std::fs::write(data.join(file), text).unwrap();
        write(
            "postgresql.conf",
            &format!(
                "cluster_name = '{name}'\nhot_standby = on\nwal_receiver_status_interval = 1s\nshared_buffers = 16MB\nfsync = off\n"
            ),
        );
        write(
            "pg_hba.conf",
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        );
        write("pg_ident.conf", "");
        if running_as_root() {
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&data)
                .status()
                .unwrap();
        }
        let log = dir.path().join("replica.log");
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            dir.path().display()
        );
        // A hot standby needs at least the primary's max_connections (and friends), so
        // those are left as the primary has them.
        let started = std::panic::catch_unwind(|| {
            pg_tool(
                &bin.join("pg_ctl"),
                &[
                    "-D",
                    &data.display().to_string(),
                    "-l",
                    &log.display().to_string(),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
            )
        });
        if started.is_err() {
            panic!(
                "the replica did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let replica = Replica {
            name,
            port,
            data,
            bin,
            _dir: dir,
            _lock: lock,
        };
        let started = Instant::now();
        while support::admin_int(
            Dialect::Postgres,
            &format!(
                "SELECT COUNT(*) FROM pg_stat_replication WHERE application_name = '{}' AND state IN ('streaming', 'catchup')",
                replica.name
            ),
        ) != 1
        {
            if started.elapsed() > Duration::from_secs(120) {
                panic!(
                    "the replica did not stream from the primary within 2 minutes; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        replica
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn int(&self, sql: &str) -> i64 {
        support::admin_int_at(&self.url(), sql)
    }

    fn exec(&self, sql: &str) {
        support::admin(&self.url(), sql);
    }

    /// Waits until the replica has replayed everything the primary had written when called.
    fn catch_up(&self) {
        let lsn = support::admin_text(&support::PG_ADMIN, "SELECT pg_current_wal_lsn()::text");
        until("the replica to catch up", || {
            self.int(&format!(
                "SELECT (pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn)::int"
            )) == 1
        });
    }

    /// The primary's `replay_lag` of this replica, in milliseconds (0 when it has none).
    fn lag_on_primary(&self) -> i64 {
        support::admin_int(
            Dialect::Postgres,
            &format!(
                "SELECT COALESCE((EXTRACT(EPOCH FROM replay_lag) * 1000)::bigint, 0) FROM pg_stat_replication WHERE application_name = '{}'",
                self.name
            ),
        )
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let stopped = Command::new(if running_as_root() { "runuser" } else { "env" })
            .args(if running_as_root() {
                vec!["-u", "postgres", "--"]
            } else {
                vec![]
            })
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .is_ok_and(|o| o.status.success());
        // Only once the replica is down is its slot inactive, and droppable.
        if stopped {
            let name = self.name.clone();
            // The primary's walsender may take a moment to notice the replica has gone.
            for _ in 0..100 {
                let sql = format!(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}' AND NOT active"
                );
                let dropped = std::panic::catch_unwind(|| support::admin(&support::PG_ADMIN, &sql));
                let left = std::panic::catch_unwind(|| {
                    support::admin_int(
                        Dialect::Postgres,
                        &format!(
                            "SELECT COUNT(*) FROM pg_replication_slots WHERE slot_name = '{name}'"
                        ),
                    )
                });
                if dropped.is_ok() && left.is_ok_and(|n| n == 0) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The `"event"` lines of a `--json` run, parsed, in order.
fn events(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

fn position(events: &[serde_json::Value], kind: &str) -> Option<usize> {
    events.iter().position(|e| e["event"] == kind)
}

/// The primary's view: while a standby's replay is paused its `replay_lag` grows past
/// `max_replication_lag`, and the backfill commits no batch until replay resumes; a pause
/// longer than `max_pause` stops the step, resumable.
#[test]
fn replication_lag_on_a_standby_holds_batches_back_until_it_replays() {
    let replica = Replica::start();
    let step = "plugin = \"hostile\"\n[batch]\nsize = 100\nmax_replication_lag = \"1s\"\n";
    let godwit_toml =
        |max_pause: &str| format!("{}\n[throttle]\nmax_pause = \"{max_pause}\"\n", plugin());
    let p = step_project(Dialect::Postgres, 1000, &godwit_toml("3s"), step);
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    replica.catch_up();

    replica.exec("SELECT pg_wal_replay_pause()");
    // Replay is paused; the primary sees the lag once there is WAL the replica has not
    // replayed (and the replica says so).
    p.db.exec("CREATE TABLE wal_probe (n INTEGER)");
    until("the primary to see the replica's lag pass 1s", || {
        p.db.exec("INSERT INTO wal_probe VALUES (1)");
        replica.lag_on_primary() > 1500
    });

    // A pause is bounded: with max_pause 3s the step stops, resumable, nothing written.
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("paused: replication lag")
        .says(&format!("on standby {} (127.0.0.1)", replica.name))
        .says("is over max_replication_lag 1.0s")
        .says("max_pause is 3s")
        .says("run `godwit deploy` again to resume the step");
    assert_eq!(done(&p), 0, "a batch committed while the step was paused");
    assert_eq!(
        p.db.rows(&format!(
            "SELECT state FROM godwit_migrations WHERE version = '{STEP}'"
        )),
        vec![vec!["resumable".to_owned()]]
    );

    // With room to wait, it waits: no batch while paused, all of them once replay resumes.
    std::fs::write(p.path().join("godwit.toml"), godwit_toml("10m")).unwrap();
    let mut run = p.spawn(&["--json", "deploy"]);
    run.wait_for("\"event\":\"step_paused\"");
    assert_eq!(done(&p), 0, "a batch committed while the step was paused");
    replica.exec("SELECT pg_wal_replay_resume()");
    let out = run.finish();
    out.expect(0);
    assert_eq!(done(&p), 1000);
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM items WHERE label_upper = UPPER(label)"),
        1000
    );
    let events = events(&out.stderr);
    let paused = position(&events, "step_paused").expect("a step_paused event");
    let resumed = position(&events, "step_resumed").expect("a step_resumed event");
    let first_batch = position(&events, "batch_progress").expect("batches");
    assert!(paused < resumed && resumed < first_batch, "{events:#?}");
    let reason = &events[paused]["reason"];
    assert_eq!(reason["kind"], "replication_lag", "{reason}");
    assert_eq!(reason["bound_ms"], 1000, "{reason}");
    assert!(reason["lag_ms"].as_u64().unwrap() > 1000, "{reason}");
    assert!(
        reason["replica"].as_str().unwrap().contains(&replica.name),
        "{reason}"
    );
    assert_eq!(events[paused]["version"], STEP);
    assert_eq!(events[paused]["paused_ms"], 0);
    assert_eq!(events[paused]["max_pause_ms"], 600_000);
    assert_eq!(events[resumed]["reason"]["kind"], "replication_lag");
    assert!(events[resumed]["paused_ms"].as_u64().is_some());

    // A user without pg_monitor sees the standby but not its lag: told what to grant.
    let role = format!("godwit_t_nomon_{}", std::process::id());
    let q = step_project(
        Dialect::Postgres,
        10,
        &format!("init_sql = \"SET ROLE {role}\"\n{}", plugin()),
        step,
    );
    q.db.exec(&format!(
        "CREATE ROLE {role} CREATEROLE; GRANT ALL ON SCHEMA public TO {role}"
    ));
    let out = q.godwit(&["deploy"]);
    q.db.exec(&format!(
        "DROP OWNED BY {role} CASCADE; {}",
        support::drop_plugin_roles(&q.db.name)
    ));
    support::admin(&support::PG_ADMIN, &format!("DROP ROLE {role}"));
    out.expect(2)
        .says(&format!(
            "the database user {role} cannot see the standbys' replication lag"
        ))
        .says(&format!("GRANT pg_monitor TO \"{role}\""));
}

/// `[throttle] replicas`: the lag measured on the replica itself (how old its last replayed
/// transaction is while it has WAL it has not replayed), shown in the human output.
#[test]
fn replication_lag_measured_on_a_listed_replica_holds_batches_back() {
    let replica = Replica::start();
    let step = "plugin = \"hostile\"\n[batch]\nsize = 100\n";
    let godwit_toml = format!(
        "{}\n[throttle]\nreplicas = [\"env(GODWIT_TEST_REPLICA_URL)\"]\nmax_replication_lag = \"1s\"\n",
        plugin()
    );
    let p = step_project(Dialect::Postgres, 500, &godwit_toml, step);
    p.godwit(&["deploy", "--to", "20260101000000"]).expect(0);
    replica.catch_up();
    replica.exec("SELECT pg_wal_replay_pause()");
    p.db.exec("CREATE TABLE wal_probe (n INTEGER); INSERT INTO wal_probe VALUES (1)");
    until(
        "the replica to be more than 1s behind by its own measure",
        || {
            replica.int(
                "SELECT (pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() \
                     AND now() - pg_last_xact_replay_timestamp() > interval '1500 ms')::int",
            ) == 1
        },
    );

    let mut cmd = p.command(&["deploy"]);
    cmd.env("GODWIT_TEST_REPLICA_URL", replica.url());
    let mut run = support::Running::start(cmd);
    run.wait_for("paused: replication lag");
    assert_eq!(done(&p), 0, "a batch committed while the step was paused");
    replica.exec("SELECT pg_wal_replay_resume()");
    let out = run.finish();
    out.expect(0)
        .says(&format!("127.0.0.1:{}", replica.port))
        .says("is over max_replication_lag 1.0s")
        .says("resumed after a pause of");
    assert_eq!(done(&p), 500);

    // A URL that is no replica is refused with a sentence saying so.
    let q = step_project(Dialect::Postgres, 10, &godwit_toml, step);
    let mut cmd = q.command(&["deploy"]);
    cmd.env("GODWIT_TEST_REPLICA_URL", &*support::PG_ADMIN);
    let out = support::run(cmd);
    out.expect(2)
        .says("is not a replica: pg_is_in_recovery() is false")
        .says("[throttle] replicas in godwit.toml");
    assert_eq!(done(&q), 0);
}

/// `health_query` false holds the batches back; true lets them go. Notifiers hear the
/// pause and the resume.
fn health_query_holds_batches_back_while_it_returns_false(d: Dialect) {
    let godwit_toml = format!(
        "{}\n[throttle]\nhealth_query = \"SELECT open FROM gate\"\n\n\
         [plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = \"audit\"\n",
        plugin()
    );
    let step = "plugin = \"hostile\"\n[batch]\nsize = 100\n";
    let p = step_project(d, 300, &godwit_toml, step);
    p.write(
        "20260101500000_gate/up.sql",
        "CREATE TABLE gate (open BOOLEAN NOT NULL);\nINSERT INTO gate (open) VALUES (false);\n",
    );
    p.godwit(&["deploy", "--to", "20260101500000"]).expect(0);
    let mut run = p.spawn(&["deploy"]);
    run.wait_for("paused: the health query returned false: SELECT open FROM gate");
    assert_eq!(done(&p), 0, "a batch committed while the step was paused");
    p.db.exec("UPDATE gate SET open = true");
    let out = run.finish();
    out.expect(0).says("resumed after a pause of");
    assert_eq!(done(&p), 300);

    let log = std::fs::read_to_string(p.path().join("audit/godwit-audit.jsonl")).unwrap();
    let heard: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .filter(|e: &serde_json::Value| e["version"] == STEP)
        .collect();
    let kinds: Vec<&str> = heard.iter().map(|e| e["event"].as_str().unwrap()).collect();
    let paused = position(&heard, "step-paused").unwrap_or_else(|| panic!("{kinds:?}"));
    let resumed = position(&heard, "step-resumed").unwrap_or_else(|| panic!("{kinds:?}"));
    assert!(paused < resumed, "{kinds:?}");
    // Nothing committed while paused: the first batch comes after the resume.
    let batch = position(&heard, "batch-progress").unwrap_or_else(|| panic!("{kinds:?}"));
    assert!(resumed < batch, "{kinds:?}");
    for i in [paused, resumed] {
        assert_eq!(heard[i]["reason"]["kind"], "health_query", "{:#}", heard[i]);
        assert_eq!(heard[i]["reason"]["query"], "SELECT open FROM gate");
    }
    assert!(
        heard[paused]["message"]
            .as_str()
            .unwrap()
            .contains("the health query returned false"),
        "{:#}",
        heard[paused]
    );
}

/// The rate and time left that progress shows leave the pauses out: after a pause of
/// seconds, the rate is that of the batches, not rows over the whole wait.
#[test]
fn rate_after_a_pause_counts_the_batches_not_the_wait() {
    let godwit_toml = format!(
        "{}\n[throttle]\nhealth_query = \"SELECT open FROM gate\"\ncheck_every = \"100ms\"\n",
        plugin()
    );
    let step = "plugin = \"hostile\"\n[batch]\nsize = 100\n";
    let p = step_project(Dialect::Sqlite, 300, &godwit_toml, step);
    p.write(
        "20260101500000_gate/up.sql",
        "CREATE TABLE gate (open BOOLEAN NOT NULL);\nINSERT INTO gate (open) VALUES (false);\n",
    );
    p.godwit(&["deploy", "--to", "20260101500000"]).expect(0);
    let mut run = p.spawn(&["--json", "deploy"]);
    run.wait_for("\"event\":\"step_paused\"");
    // A pause far longer than the batches of 300 rows take.
    std::thread::sleep(std::time::Duration::from_secs(3));
    p.db.exec("UPDATE gate SET open = 1");
    let out = run.finish();
    out.expect(0);
    let events = events(&out.stderr);
    let resumed = position(&events, "step_resumed").expect("a step_resumed event");
    let paused_ms = events[resumed]["paused_ms"].as_u64().unwrap();
    assert!(paused_ms >= 3000, "{:#?}", events[resumed]);
    let progress: Vec<&serde_json::Value> = events[resumed..]
        .iter()
        .filter(|e| e["event"] == "batch_progress")
        .collect();
    assert!(!progress.is_empty(), "{events:#?}");
    for e in progress {
        let rows = e["rows"].as_f64().unwrap();
        let rate = e["rate"].as_f64().unwrap();
        // Counting the wait, the rate could be at most rows / pause.
        assert!(
            rate > 2.0 * rows / (paused_ms as f64 / 1000.0),
            "the rate {rate} rows/s after {rows} rows includes the {paused_ms} ms pause: {e}"
        );
    }
}

/// Health settings that cannot work stop the step before its first batch, with a sentence
/// saying what to change; nothing is written.
fn health_settings_that_cannot_work_are_refused(d: Dialect) {
    let step = "plugin = \"hostile\"\n[batch]\nsize = 100\n";
    let case = |throttle: &str, code: i32, expect: &[&str]| {
        let godwit_toml = format!("{}\n[throttle]\n{throttle}\n", plugin());
        let p = step_project(d, 10, &godwit_toml, step);
        let out = p.godwit(&["deploy"]);
        out.expect(code);
        for needle in expect {
            out.says(needle);
        }
        assert_eq!(done(&p), 0, "{throttle}");
    };
    case(
        "health_query = \"SELECT 1 = 1, 2\"",
        2,
        &[
            "the health query ([throttle] in godwit.toml) must return one row with one boolean column, but it returned a row of 2 columns",
            "query: SELECT 1 = 1, 2",
        ],
    );
    case(
        "health_query = \"SELECT open FROM no_such_gate\"",
        2,
        &[
            "the health query ([throttle] in godwit.toml) failed",
            "no_such_gate",
        ],
    );
    match d {
        Dialect::Postgres => case(
            "health_query = \"SELECT 1\"",
            2,
            &["but it returned a value of type int"],
        ),
        Dialect::MySql => {
            case(
                "max_replication_lag = \"5s\"",
                2,
                &[
                    "a MySQL or MariaDB primary does not know how far behind its replicas are",
                    "[throttle] replicas = [\"env(REPLICA_URL)\"]",
                ],
            );
            // The machine's server replicates from nothing.
            case(
                &format!(
                    "replicas = [\"{}\"]\nmax_replication_lag = \"5s\"",
                    support::MY_ADMIN
                ),
                2,
                &["is not a replica: SHOW REPLICA STATUS returned nothing"],
            );
        }
        Dialect::Sqlite => case(
            "max_replication_lag = \"5s\"",
            2,
            &["SQLite has no replication to measure"],
        ),
    }
}

each_dialect!(
    health_query_holds_batches_back_while_it_returns_false,
    health_settings_that_cannot_work_are_refused
);

/// A MariaDB server of the test's own (the machine's server on 3306 writes no binary log,
/// so it can be no one's primary): its own data directory and port, killed on drop.
struct MariaDb {
    port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl MariaDb {
    fn start(server_id: u32, binlog: bool) -> MariaDb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let root = running_as_root();
        if root {
            Command::new("chown")
                .args(["mysql"])
                .arg(dir.path())
                .status()
                .unwrap();
        }
        let install = Command::new("mariadb-install-db")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .expect("mariadb-install-db is needed to start a MariaDB replica");
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("/usr/sbin/mariadbd");
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .arg(format!("--server-id={server_id}"));
        if root {
            cmd.arg("--user=mysql");
        }
        if binlog {
            cmd.arg(format!("--log-bin={}", data.join("binlog").display()));
        }
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run mariadbd");
        let server = MariaDb {
            port,
            child,
            _dir: dir,
        };
        until("the MariaDB server to accept connections", || {
            Command::new("mariadb-admin")
                .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-uroot", "ping"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        server
    }

    fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    fn exec(&self, sql: &str) {
        support::admin(&self.url("mysql"), sql);
    }

    /// `SHOW SLAVE STATUS` as the mariadb client prints it, one `Name: value` a line.
    fn replica_status(&self) -> String {
        let out = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", &self.port.to_string(), "-uroot"])
            .args(["-e", "SHOW SLAVE STATUS\\G"])
            .output()
            .expect("run the mariadb client");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A MariaDB primary of the test's own, a replica of it that applies what it receives an
/// hour late, and [`step_project`] on the primary (300 rows, batches of 100) listing the
/// replica in `[throttle]` with `max_replication_lag = "1s"`. The table's migration is
/// applied, and the replica is already more than a second behind.
struct Delayed {
    project: Project,
    url: String,
    replica: MariaDb,
    _primary: MariaDb,
}

impl Delayed {
    /// `top` starts godwit.toml (keys that go before any table).
    fn start(top: &str) -> Delayed {
        let primary = MariaDb::start(1, true);
        let replica = MariaDb::start(2, false);
        replica.exec(&format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', MASTER_PASSWORD = '', MASTER_DELAY = 3600; START SLAVE",
            primary.port
        ));
        primary.exec("CREATE DATABASE app");
        let godwit_toml = format!(
            "{top}{}\n[throttle]\nreplicas = [\"env(GODWIT_TEST_REPLICA_URL)\"]\nmax_replication_lag = \"1s\"\n",
            plugin()
        );
        let step = "plugin = \"hostile\"\n[batch]\nsize = 100\n";
        let delayed = Delayed {
            project: step_project(Dialect::MySql, 300, &godwit_toml, step),
            url: primary.url("app"),
            replica,
            _primary: primary,
        };
        support::run(delayed.deploy(&["deploy", "--to", "20260101000000"])).expect(0);
        until("the replica to be more than 1s behind", || {
            delayed
                .replica
                .replica_status()
                .lines()
                .find_map(|l| l.trim().strip_prefix("Seconds_Behind_Master: "))
                .and_then(|s| s.parse::<u64>().ok())
                .is_some_and(|behind| behind > 1)
        });
        delayed
    }

    /// godwit on the primary, with `args`.
    fn deploy(&self, args: &[&str]) -> Command {
        let mut cmd = support::godwit_cmd();
        cmd.arg("-C")
            .arg(self.project.path())
            .arg("--database-url")
            .arg(&self.url)
            .args(args)
            .env("GODWIT_TEST_REPLICA_URL", self.replica.url("mysql"));
        cmd
    }

    /// Rows the step has transformed.
    fn done(&self) -> i64 {
        support::admin_int_at(
            &self.url,
            "SELECT COUNT(*) FROM items WHERE label_upper IS NOT NULL",
        )
    }

    /// Deploys the step with `--json`: once it pauses, waits `hold`, checks that no batch
    /// committed meanwhile, lets the replica catch up, and checks that the deploy then
    /// succeeds with every row done. Returns the deploy's events.
    fn deploy_through_a_pause(&self, hold: Duration) -> Vec<serde_json::Value> {
        let mut run = support::Running::start(self.deploy(&["--json", "deploy"]));
        run.wait_for("\"event\":\"step_paused\"");
        std::thread::sleep(hold);
        assert_eq!(
            self.done(),
            0,
            "a batch committed while the step was paused"
        );
        self.replica
            .exec("STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE");
        let out = run.finish();
        out.expect(0);
        assert_eq!(self.done(), 300);
        events(&out.stderr)
    }
}

/// MariaDB: a listed replica whose `Seconds_Behind_Master` is over the bound (it delays
/// what it applies by an hour) holds the batches back until it catches up; a replica whose
/// replication is broken holds them back too, and says why.
#[test]
fn mariadb_replica_behind_its_primary_holds_batches_back() {
    let delayed = Delayed::start("");
    let (replica, p) = (&delayed.replica, &delayed.project);
    let deploy = |args: &[&str]| delayed.deploy(args);

    let events = delayed.deploy_through_a_pause(Duration::ZERO);
    let paused = position(&events, "step_paused").expect("a step_paused event");
    let reason = &events[paused]["reason"];
    assert_eq!(reason["kind"], "replication_lag", "{reason}");
    assert!(reason["lag_ms"].as_u64().unwrap() > 1000, "{reason}");
    assert!(
        reason["replica"]
            .as_str()
            .unwrap()
            .contains(&replica.port.to_string()),
        "{reason}"
    );
    assert!(position(&events, "step_resumed").is_some_and(|r| r > paused));

    // Replication broken (the replica's primary writes no binary log): lag unknown, so
    // the step waits, and says why, until max_pause.
    replica.exec(
        "STOP SLAVE; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 3306, MASTER_DELAY = 0; START SLAVE",
    );
    p.write(
        "20260103000000_backfill_again/step.toml",
        "plugin = \"hostile\"\n[batch]\nsize = 100\nmax_pause = \"2s\"\n",
    );
    until("the replica's I/O thread to stop", || {
        replica.replica_status().contains("Slave_IO_Running: No")
    });
    support::run(deploy(&["deploy"]))
        .expect(1)
        .says("cannot be measured")
        .says("the replication I/O thread is not running")
        .says("Binary log is not open")
        .says("max_pause is 2s");
}

/// A pause longer than the server's idle timeout loses no connection. godwit's sessions
/// get a `wait_timeout` of 3 s (`init_sql`), and the step pauses for about four times
/// that on a replica an hour behind: the work connection and the lock's are touched while
/// they wait, so once the replica catches up the step goes on where it paused, every row
/// once.
#[test]
fn a_pause_longer_than_the_servers_idle_timeout_keeps_the_connections() {
    let delayed = Delayed::start("init_sql = \"SET SESSION wait_timeout = 3\"\n");
    let events = delayed.deploy_through_a_pause(Duration::from_secs(12));
    let paused = position(&events, "step_paused").expect("a step_paused event");
    let resumed = position(&events, "step_resumed").expect("a step_resumed event");
    assert!(resumed > paused);
    assert!(
        events[resumed]["paused_ms"].as_u64().unwrap() > 12_000,
        "{}",
        events[resumed]
    );
}
