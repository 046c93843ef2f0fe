//! Every plugin database call has a time bound (issue 11, finding 7): a data step or a
//! validator whose query never ends — a cross join or a recursive CTE over a granted
//! table — makes `deploy` return with an error, leaves nothing of the plugin running on
//! the server, and releases the migration lock. On PostgreSQL and MariaDB the server
//! itself bounds the statement, so a godwit killed while it runs leaves nothing running
//! either.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::each_dialect;
use crate::steps::plugin_toml;
use crate::support::*;

/// The plugins' time limit: short, so that the tests are quick.
const LIMIT: &str = "1s";

/// How long a test waits for something that must happen before it calls it a hang:
/// generous, as the machine may be loaded. Not a measure of speed.
const HANG: Duration = Duration::from_secs(120);

/// `items` with 100 rows (a six-way cross join of it has 10^12 rows), and `tally`, one
/// row a data step may update.
const TABLES: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY);\n\
     CREATE TABLE tally (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);\n\
     INSERT INTO tally (id, n) VALUES (1, 0);\n";

fn items_rows() -> String {
    let values: Vec<String> = (1..=100).map(|i| format!("({i})")).collect();
    format!("INSERT INTO items (id) VALUES {};\n", values.join(", "))
}

/// A query over granted tables that would run for hours, one of the same shape that ends
/// (to show the checker lets that shape through, so the endless one is really run), and a
/// piece of the endless one's text to spot it on the server.
struct Attack {
    endless: &'static str,
    finite: &'static str,
    marker: &'static str,
}

/// The recursive CTE not on MariaDB: it stops one after `max_recursive_iterations` (1000)
/// by default, so there it is no attack.
fn attacks(d: Dialect) -> Vec<Attack> {
    let mut attacks = vec![Attack {
        endless: CROSS_JOIN,
        finite: "SELECT count(*) AS c FROM items a, items b",
        marker: "items e, items f",
    }];
    if d != Dialect::MySql {
        attacks.push(Attack {
            endless: "WITH RECURSIVE r(n) AS (SELECT id FROM items UNION ALL SELECT n + 1 FROM r) \
                      SELECT count(*) AS c FROM r",
            finite: "WITH RECURSIVE r(n) AS (SELECT id FROM items UNION ALL SELECT n + 1 FROM r WHERE n < 200) \
                     SELECT count(*) AS c FROM r",
            marker: "SELECT n + 1 FROM r)",
        });
    }
    attacks
}

const CROSS_JOIN: &str =
    "SELECT count(*) AS c FROM items a, items b, items c, items d, items e, items f";

/// The data step's statement for `select` in `mode`: the query itself, or an update of
/// `tally` to its result.
fn statement(mode: &str, select: &str) -> String {
    match mode {
        "query" => select.to_owned(),
        _ => format!("UPDATE tally SET n = ({select}) WHERE id = 1"),
    }
}

fn project(d: Dialect) -> Project {
    let p = Project::empty(d);
    p.write(
        "20260101000000_create_items/up.sql",
        &format!("{TABLES}{}", items_rows()),
    );
    p
}

/// `[plugins.NAME]`: the data step running `sql` in `mode`.
fn step_plugin(name: &str, mode: &str, sql: &str) -> String {
    let extra = format!(
        "[plugins.{name}.grants]\nread = [\"items\", \"tally\"]\nwrite = [\"tally.n\"]\n\
         [plugins.{name}.limits]\ntimeout = \"{LIMIT}\"\n\
         [plugins.{name}.config]\nmode = \"{mode}\"\nsql = \'\'\'{sql}\'\'\'\n"
    );
    plugin_toml(name, "hostile-step", &extra)
}

/// Runs `cmd` to its end, calling `watch` as it runs; fails the test if it has not ended
/// after [`HANG`].
fn run_to_end(mut cmd: Command, mut watch: impl FnMut()) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run godwit");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HANG {
            child.kill().ok();
            let out = child.wait_with_output().unwrap();
            panic!(
                "godwit did not return within {HANG:?}, so it hangs:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        watch();
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Statements running in the test's database whose text contains `marker` (all of them
/// for `""`), counted from the admin connection, which is in another database.
fn running(db: &TestDb, marker: &str) -> i64 {
    running_for(db, marker, 0)
}

/// [`running`], counting only statements that have run for `ms` milliseconds or more:
/// past the prepare round trip of the extended protocol, whose brief `active` state ends
/// with the server idle again, waiting for the execute.
fn running_for(db: &TestDb, marker: &str, ms: u32) -> i64 {
    let marker = marker.replace('\'', "\'\'");
    match db.dialect {
        Dialect::Postgres => admin_int(
            Dialect::Postgres,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state = 'active' \
                 AND strpos(query, '{marker}') > 0 AND now() - query_start >= interval '{ms} milliseconds'",
                db.name
            ),
        ),
        Dialect::MySql => admin_int(
            Dialect::MySql,
            &format!(
                "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' \
                 AND COMMAND IN ('Query', 'Execute') AND LOCATE('{marker}', COALESCE(INFO, '')) > 0 \
                 AND TIME_MS >= {ms}",
                db.name
            ),
        ),
        Dialect::Sqlite => 0,
    }
}

/// Runs deploy in `p`; on a server, also whether a statement containing `marker` was
/// seen running meanwhile (SQLite runs inside godwit: `true`).
fn deploy_watching(p: &Project, marker: &str) -> (Output, bool) {
    let mut seen = p.db.dialect == Dialect::Sqlite;
    let out = run_to_end(p.command(&["deploy"]), || {
        if !seen {
            seen = running(&p.db, marker) > 0;
        }
    });
    (out, seen)
}

/// Polls until nothing runs in the test's database, failing after [`HANG`].
fn wait_until_nothing_runs(db: &TestDb, why: &str) {
    let started = Instant::now();
    while running(db, "") > 0 {
        assert!(
            started.elapsed() < HANG,
            "{why}: a statement still runs in {} after {HANG:?}",
            db.name
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn data_step_that_never_ends(d: Dialect) {
    for attack in attacks(d) {
        for mode in ["query", "execute"] {
            let sql = statement(mode, attack.endless);
            let p = project(d);
            // The control runs the finite statement of the same shape first, and is applied.
            p.write(
                "20260102000000_count_items/step.toml",
                "plugin = \"control\"\n",
            );
            p.write(
                "20260103000000_count_more_items/step.toml",
                "plugin = \"probe\"\n",
            );
            let config = |probe: &str| {
                let control = match mode {
                    "query" => step_plugin("control", "count", attack.finite),
                    _ => step_plugin("control", mode, &statement(mode, attack.finite)),
                };
                let toml = format!("{control}{probe}");
                std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
            };
            config(&step_plugin("probe", mode, &sql));
            let (out, seen) = deploy_watching(&p, attack.marker);
            // 1: the step failed, its state recorded; not 3 (lock) nor a crash.
            out.expect(1);
            let history = p.db.history();
            assert!(
                history
                    .iter()
                    .any(|(v, _, state)| v == "20260102000000" && state == "applied"),
                "{sql} on {d:?}: the control was not applied: {history:?}\n{}",
                out.text()
            );
            assert_eq!(
                p.db.int("SELECT n FROM tally WHERE id = 1"),
                if mode == "query" {
                    0
                } else {
                    p.db.int(attack.finite)
                },
                "{sql} on {d:?}: the endless statement's batch was not rolled back"
            );
            assert!(seen, "{sql} on {d:?}: never seen running:\n{}", out.text());
            // The server may take a moment to retire the connections of a process that
            // has exited; the endless statement would run for hours.
            wait_until_nothing_runs(
                &p.db,
                &format!("{sql} on {d:?}, after deploy returned:\n{}", out.text()),
            );

            // The lock is free and the step resumes: a plugin that ends finishes it.
            config(&step_plugin(
                "probe",
                "execute",
                "UPDATE tally SET n = 0 WHERE id = 1",
            ));
            run_to_end(p.command(&["deploy"]), || {}).expect(0);
            assert_eq!(p.db.int("SELECT n FROM tally WHERE id = 1"), 0, "{sql}");
        }
    }
}

fn validator_config(p: &Project, sql: Option<&str>) {
    let toml = match sql {
        Some(sql) => {
            let extra = format!(
                "[plugins.probe.grants]\nread = [\"items\"]\n\
                 [plugins.probe.limits]\ntimeout = \"{LIMIT}\"\n\
                 [plugins.probe.config]\nsql = \'\'\'{sql}\'\'\'\n"
            );
            plugin_toml("probe", "hostile-validator", &extra)
        }
        None => String::new(),
    };
    std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
}

fn validator_query_that_never_ends(d: Dialect) {
    for attack in attacks(d) {
        let p = project(d);
        run_to_end(p.command(&["deploy"]), || {}).expect(0);
        // The control: the finite query of the same shape passes, and so does the deploy.
        p.write(
            "20260102000000_create_sooner/up.sql",
            "CREATE TABLE sooner (id BIGINT PRIMARY KEY);\n",
        );
        validator_config(&p, Some(attack.finite));
        run_to_end(p.command(&["deploy"]), || {}).expect(0);

        p.write(
            "20260103000000_create_later/up.sql",
            "CREATE TABLE later (id BIGINT PRIMARY KEY);\n",
        );
        validator_config(&p, Some(attack.endless));
        let (out, seen) = deploy_watching(&p, attack.marker);
        // 4: blocked, since the validator gave no answer.
        out.expect(4);
        let sql = attack.endless;
        assert!(seen, "{sql} on {d:?}: never seen running:\n{}", out.text());
        wait_until_nothing_runs(
            &p.db,
            &format!("{sql} on {d:?}, after deploy returned:\n{}", out.text()),
        );
        assert!(!p.db.table_exists("later"), "{sql}");

        // The lock is free: without the validator, the migration applies.
        validator_config(&p, None);
        run_to_end(p.command(&["deploy"]), || {}).expect(0);
        assert!(p.db.table_exists("later"), "{sql}");
    }
}

/// `[plugins.NAME]`: the hostile backfill bumping `slow.n`, with `filter`.
fn backfill_plugin(name: &str, filter: &str) -> String {
    let extra = format!(
        "[plugins.{name}.grants]\nread = [\"slow\"]\nwrite = [\"slow.n\"]\n\
         [plugins.{name}.limits]\ntimeout = \"{LIMIT}\"\n\
         [plugins.{name}.config]\nmode = \"bump\"\ntable = \"slow\"\nfilter = \'\'\'{filter}\'\'\'\n"
    );
    plugin_toml(name, "hostile", &extra)
}

/// A backfill's `filter` goes into the statements godwit builds (the row count, each
/// batch's read): `[batch] timeout` bounds them on the server. A filter may use only the
/// table's own columns and no subquery, so the slow one builds a 400 MB string per row
/// with `lpad` (PostgreSQL: MariaDB stops it at `max_allowed_packet`, SQLite has no `lpad`).
fn backfill_filter_that_never_ends(d: Dialect) {
    let filter =
        |times: u64| format!("n >= 0 AND length(lpad(CAST(id AS TEXT), {times}, 'ab')) > 0");
    let p = project(d);
    let rows: Vec<String> = (1..=1000).map(|i| format!("({i}, 0)")).collect();
    p.write(
        "20260101000001_create_slow/up.sql",
        &format!(
            "CREATE TABLE slow (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);\n\
             INSERT INTO slow (id, n) VALUES {};\n",
            rows.join(", ")
        ),
    );
    p.write(
        "20260102000000_bump_slow/step.toml",
        "plugin = \"control\"\n[batch]\ntimeout = \"2s\"\n",
    );
    p.write(
        "20260103000000_bump_slow_again/step.toml",
        "plugin = \"probe\"\n[batch]\ntimeout = \"2s\"\n",
    );
    let finite = filter(3);
    let config = |probe: &str| {
        let toml = format!("{}{}", backfill_plugin("control", &finite), probe);
        std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
    };
    config(&backfill_plugin("probe", &filter(200_000_000)));
    let (out, seen) = deploy_watching(&p, "200000000");
    out.expect(1);
    let history = p.db.history();
    assert!(
        history
            .iter()
            .any(|(v, _, state)| v == "20260102000000" && state == "applied"),
        "the control was not applied: {history:?}\n{}",
        out.text()
    );
    assert_eq!(
        p.db.int("SELECT count(*) FROM slow WHERE n = 1"),
        1000,
        "only the control's bump may be there:\n{}",
        out.text()
    );
    assert!(seen, "never seen running:\n{}", out.text());
    wait_until_nothing_runs(&p.db, "after deploy returned");
    // The lock is free and the step resumes: with a filter that ends, it finishes.
    config(&backfill_plugin("probe", &finite));
    run_to_end(p.command(&["deploy"]), || {}).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM slow WHERE n = 2"), 1000);
}

#[test]
fn backfill_filter_that_never_ends_postgres() {
    backfill_filter_that_never_ends(Dialect::Postgres)
}

each_dialect!(data_step_that_never_ends, validator_query_that_never_ends);

/// godwit killed (SIGKILL) while the plugin's statement runs: the server ends the
/// statement by itself. SQLite runs inside godwit's process, so it dies with it.
fn killed_mid_statement_leaves_nothing_running(d: Dialect) {
    let p = project(d);
    p.write(
        "20260102000000_count_items/step.toml",
        "plugin = \"probe\"\n",
    );
    // A longer limit, so that the statement is surely seen running before the kill.
    let extra = format!(
        "[plugins.probe.grants]\nread = [\"items\"]\n\
         [plugins.probe.limits]\ntimeout = \"5s\"\n\
         [plugins.probe.config]\nmode = \"query\"\nsql = '''{CROSS_JOIN}'''\n"
    );
    std::fs::write(
        p.path().join("godwit.toml"),
        plugin_toml("probe", "hostile-step", &extra),
    )
    .unwrap();
    let mut cmd = p.command(&["deploy"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child: Child = cmd.spawn().expect("run godwit");
    let started = Instant::now();
    while running(&p.db, "items e, items f") == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "godwit ended before its plugin's statement was seen running"
        );
        assert!(
            started.elapsed() < HANG,
            "the plugin's statement never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until_nothing_runs(&p.db, "after godwit was killed");
}

mod killed_mid_statement_leaves_nothing_running {
    use crate::support::Dialect;

    #[test]
    fn postgres() {
        super::killed_mid_statement_leaves_nothing_running(Dialect::Postgres)
    }

    #[test]
    fn mysql() {
        super::killed_mid_statement_leaves_nothing_running(Dialect::MySql)
    }
}

/// A project on `d` holding the items tables, its configuration, and a runtime to drive
/// godwit's driver in directly, as the host does around a plugin's call.
fn driver_project(d: Dialect) -> (Project, godwit::config::Config, tokio::runtime::Runtime) {
    let p = Project::empty(d);
    p.db.exec(&format!("{TABLES}{}", items_rows()));
    let overrides = godwit::config::Overrides {
        database_url: Some(p.db.url.clone()),
        ..Default::default()
    };
    let config = godwit::config::Config::load(p.path(), &overrides).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    (p, config, rt)
}

/// The host's own deadline (finding 7), alone: a statement still running on the server
/// when godwit gives up on a call is cancelled from outside — `pg_cancel_backend` or `KILL
/// QUERY` from the lock connection, by `session::abandon` — so that nothing is left
/// running and the ROLLBACK that follows does not wait behind it. The statement is sent
/// without the server-side bound a plugin's statements also get, so only the cancel can
/// end it: without it this test fails.
fn host_deadline_cancels_the_running_statement(d: Dialect) {
    let (p, config, rt) = driver_project(d);
    let marker = "items e, items f";
    rt.block_on(async {
        let mut driver = godwit::driver::connect(&config.connect_settings())
            .await
            .unwrap();
        driver.begin().await.unwrap();
        {
            // The call as the host runs it, given up on once the server shows the
            // statement executing, as when the host's deadline fires.
            let statement = driver.query_values(CROSS_JOIN, &[]);
            tokio::pin!(statement);
            loop {
                tokio::select! {
                    ended = &mut statement => panic!("the endless statement ended: {ended:?}"),
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if tokio::task::block_in_place(|| running_for(&p.db, marker, 300)) > 0 {
                            break;
                        }
                    }
                }
            }
        }
        godwit::plugin::session::abandon(driver.as_mut())
            .await
            .unwrap();
        tokio::task::block_in_place(|| {
            wait_until_nothing_runs(&p.db, "after the host gave up on the call")
        });
        tokio::time::timeout(HANG, driver.rollback())
            .await
            .expect("the ROLLBACK waits behind the statement")
            .unwrap();
    });
}

/// The host may give up on a call at any moment, also after the server has read the
/// statement but before it started it, where one cancel is lost (PostgreSQL ignores it
/// there): trials at several early moments, each of which must leave nothing running and
/// the connection usable.
fn host_deadline_cancels_at_any_moment(d: Dialect) {
    let (p, config, rt) = driver_project(d);
    rt.block_on(async {
        let mut driver = godwit::driver::connect(&config.connect_settings())
            .await
            .unwrap();
        for delay in [0, 1, 2, 3, 5, 8, 13, 21, 34].map(Duration::from_millis) {
            driver.begin().await.unwrap();
            {
                let statement = driver.query_values(CROSS_JOIN, &[]);
                tokio::pin!(statement);
                if let Ok(ended) = tokio::time::timeout(delay, &mut statement).await {
                    panic!("the endless statement ended: {ended:?}");
                }
            }
            tokio::time::timeout(HANG, godwit::plugin::session::abandon(driver.as_mut()))
                .await
                .unwrap_or_else(|_| {
                    panic!("given up after {delay:?}: the statement was not cancelled")
                })
                .unwrap();
            tokio::task::block_in_place(|| {
                wait_until_nothing_runs(&p.db, &format!("after giving up at {delay:?}"))
            });
            tokio::time::timeout(HANG, driver.rollback())
                .await
                .expect("the ROLLBACK waits behind the statement")
                .unwrap();
        }
    });
}

mod host_deadline_cancels_at_any_moment {
    use crate::support::Dialect;

    #[test]
    fn sqlite() {
        super::sqlite_host_deadline_interrupts_at_any_moment()
    }

    #[test]
    fn postgres() {
        super::host_deadline_cancels_at_any_moment(Dialect::Postgres)
    }

    #[test]
    fn mysql() {
        super::host_deadline_cancels_at_any_moment(Dialect::MySql)
    }
}

mod host_deadline_cancels_the_running_statement {
    use crate::support::Dialect;

    #[test]
    fn sqlite() {
        super::sqlite_host_deadline_interrupts_the_running_statement()
    }

    #[test]
    fn postgres() {
        super::host_deadline_cancels_the_running_statement(Dialect::Postgres)
    }

    #[test]
    fn mysql() {
        super::host_deadline_cancels_the_running_statement(Dialect::MySql)
    }
}

/// SQLite's case of [`host_deadline_cancels_the_running_statement`]: the statement runs on
/// sqlx's worker thread inside godwit's process, where nothing else can see it, so the
/// test gives it time to start, then gives up on it as the host does. `session::abandon`
/// must interrupt it (`sqlite3_interrupt`): taking the connection back for the ROLLBACK
/// waits for the statement to end, which without the interrupt takes hours. The connection
/// is usable afterwards.
fn sqlite_host_deadline_interrupts_the_running_statement() {
    let (_p, config, rt) = driver_project(Dialect::Sqlite);
    rt.block_on(async {
        let mut driver = godwit::driver::connect(&config.connect_settings())
            .await
            .unwrap();
        driver.begin().await.unwrap();
        {
            let statement = driver.query_values(CROSS_JOIN, &[]);
            tokio::pin!(statement);
            if let Ok(ended) =
                tokio::time::timeout(Duration::from_millis(500), &mut statement).await
            {
                panic!("the endless statement ended: {ended:?}");
            }
        }
        tokio::time::timeout(HANG, godwit::plugin::session::abandon(driver.as_mut()))
            .await
            .expect("the running statement was not interrupted")
            .unwrap();
        tokio::time::timeout(HANG, driver.rollback())
            .await
            .expect("the ROLLBACK waits behind the statement")
            .unwrap();
        let rows = driver
            .query_values("SELECT count(*) AS c FROM items", &[])
            .await
            .unwrap();
        assert_eq!(rows.rows.len(), 1);
    });
}

/// [`host_deadline_cancels_at_any_moment`] on SQLite: given up on before sqlx's worker
/// has started the statement, one interrupt is lost (SQLite clears it when a statement
/// starts with none running), so the host must send it until the statement has ended.
fn sqlite_host_deadline_interrupts_at_any_moment() {
    let (_p, config, rt) = driver_project(Dialect::Sqlite);
    rt.block_on(async {
        let mut driver = godwit::driver::connect(&config.connect_settings())
            .await
            .unwrap();
        for delay in [0, 1, 2, 3, 5, 8, 13, 21, 34].map(Duration::from_millis) {
            driver.begin().await.unwrap();
            {
                let statement = driver.query_values(CROSS_JOIN, &[]);
                tokio::pin!(statement);
                if let Ok(ended) = tokio::time::timeout(delay, &mut statement).await {
                    panic!("the endless statement ended: {ended:?}");
                }
            }
            tokio::time::timeout(HANG, godwit::plugin::session::abandon(driver.as_mut()))
                .await
                .unwrap_or_else(|_| {
                    panic!("given up after {delay:?}: the statement was not interrupted")
                })
                .unwrap();
            tokio::time::timeout(HANG, driver.rollback())
                .await
                .expect("the ROLLBACK waits behind the statement")
                .unwrap();
        }
    });
}
