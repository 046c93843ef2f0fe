//! `deploy --targets` and `status --targets`: one project's migrations on a fleet of
//! PostgreSQL and MariaDB databases, SQLite files and PostgreSQL tenant schemas.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "20260101000000_create_accounts/up.sql",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
    ),
    (
        "20260102000000_create_orders/up.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL);\n",
    ),
    (
        "20260103000000_create_order_notes/up.sql",
        "CREATE TABLE order_notes (id INTEGER PRIMARY KEY, body VARCHAR(200));\n",
    ),
];

/// A project with the three migrations above and no database of its own.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, sql) in MIGRATIONS {
        let path = dir.path().join("migrations").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, sql).unwrap();
    }
    dir
}

fn godwit_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = godwit_cmd();
    cmd.arg("-C").arg(dir).args(args);
    cmd
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        )
    })
}

/// The report's entry for target `name`.
fn target<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {report:#}"))
}

fn versions(db: &TestDb) -> Vec<String> {
    db.history().into_iter().map(|(v, ..)| v).collect()
}

#[test]
fn fifty_targets_one_failing_then_a_rerun_applies_only_what_is_missing() {
    let dir = project();
    let pg: Vec<TestDb> = (0..20).map(|_| TestDb::new(Dialect::Postgres)).collect();
    let my: Vec<TestDb> = (0..15).map(|_| TestDb::new(Dialect::MySql)).collect();
    let lite: Vec<TestDb> = (0..15).map(|_| TestDb::new(Dialect::Sqlite)).collect();
    // The failing one: a table the second migration creates is already there.
    let broken = &pg[7];
    broken.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT)");

    let mut file = String::from("# the fleet\n\n");
    let mut cmd_env = Vec::new();
    for (i, db) in pg.iter().enumerate() {
        // Trust authentication ignores the password; godwit must still never print it.
        let url = db.url.replacen("postgres@", "postgres:s3cret-pw@", 1);
        if i % 5 == 0 {
            let var = format!("GODWIT_FLEET_PG_{i}");
            file.push_str(&format!("pg-{i} env({var})  # from the environment\n"));
            cmd_env.push((var, url));
        } else {
            file.push_str(&format!("pg-{i} {url}\n"));
        }
    }
    for (i, db) in my.iter().enumerate() {
        file.push_str(&format!("maria-{i}   {}\n", db.url));
    }
    for (i, db) in lite.iter().enumerate() {
        file.push_str(&format!("lite-{i} {}\n", db.url));
    }
    std::fs::write(dir.path().join("targets.txt"), &file).unwrap();

    let deploy = |extra: &[&str]| {
        let mut cmd = godwit_in(
            dir.path(),
            &[
                &["deploy", "--targets", "targets.txt", "--parallel", "6"],
                extra,
            ]
            .concat(),
        );
        cmd.envs(cmd_env.iter().map(|(k, v)| (k, v)));
        run(cmd)
    };

    let out = deploy(&["--json"]);
    out.expect(1);
    assert!(!out.text().contains("s3cret-pw"), "{}", out.text());
    let report = json(&out);
    assert_eq!(report["targets"].as_array().unwrap().len(), 50);
    assert_eq!(report["exit_code"], 1);
    let failed = target(&report, "pg-7");
    assert_eq!(failed["outcome"], "failed", "{failed:#}");
    assert_eq!(failed["exit_code"], 1);
    assert_eq!(failed["applied"], 1);
    assert!(
        failed["error"].as_str().unwrap().contains("20260102000000"),
        "{failed:#}"
    );
    assert!(
        failed["url"].as_str().unwrap().contains(":***@"),
        "{failed:#}"
    );
    for t in report["targets"].as_array().unwrap() {
        if t["name"] != "pg-7" {
            assert_eq!(t["outcome"], "applied", "{t:#}");
            assert_eq!(t["applied"], 3, "{t:#}");
            assert_eq!(t["exit_code"], 0, "{t:#}");
        }
    }
    for db in pg.iter().chain(&my).chain(&lite) {
        if std::ptr::eq(db, broken) {
            continue;
        }
        assert_eq!(versions(db).len(), 3, "{}", db.url);
        assert!(db.table_exists("order_notes"), "{}", db.url);
    }
    assert_eq!(versions(broken)[0], "20260101000000");
    assert!(!broken.table_exists("order_notes"));

    // Run again, it is refused there until resolved: the table names it and says so.
    let out = deploy(&[]);
    out.expect(4)
        .says("TARGET")
        .says("pg-7")
        .says("failed")
        .says("awaits resolve")
        .says("50 targets: 0 applied, 49 up to date, 1 failed.")
        .says("Exit code 4, pg-7's.");
    assert!(!out.text().contains("s3cret-pw"), "{}", out.text());

    // Fix it as the message says, for that one database, and deploy the fleet again.
    broken.exec("DROP TABLE orders");
    run(godwit_in(
        dir.path(),
        &[
            "--database-url",
            &broken.url,
            "resolve",
            "--rolled-back",
            "20260102000000",
        ],
    ))
    .expect(0);
    let before: Vec<usize> = pg
        .iter()
        .chain(&my)
        .chain(&lite)
        .map(|db| db.history().len())
        .collect();
    let out = deploy(&[]);
    out.expect(0)
        .says("50 targets: 1 applied, 49 up to date, 0 failed.");
    let report = json(&deploy(&["--json"]));
    assert_eq!(report["exit_code"], 0);
    assert!(
        report["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["outcome"] == "up_to_date"),
        "{report:#}"
    );
    // Only the fixed target got new history rows: the two migrations it was missing.
    for (db, rows) in pg.iter().chain(&my).chain(&lite).zip(before) {
        let added = db.history().len() - rows;
        if std::ptr::eq(db, broken) {
            assert_eq!(added, 2, "{:?}", db.history());
        } else {
            assert_eq!(added, 0, "{}", db.url);
        }
    }
    assert!(broken.table_exists("order_notes"));

    let mut status = godwit_in(dir.path(), &["status", "--targets", "targets.txt"]);
    status.envs(cmd_env.iter().map(|(k, v)| (k, v)));
    let out = run(status);
    out.expect(0)
        .says("STATE")
        .says("50 targets: 50 up to date, 0 with pending migrations");
}

/// The canary targets go first; when one fails, the rest are not touched.
#[test]
fn a_failed_canary_skips_the_rest() {
    let dir = project();
    let dbs: Vec<TestDb> = (0..5).map(|_| TestDb::new(Dialect::Sqlite)).collect();
    let mariadb = TestDb::new(Dialect::MySql);
    mariadb.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY)");
    let file = format!(
        "canary-maria {}\ncanary-lite {}\n{}",
        mariadb.url,
        dbs[0].url,
        dbs[1..]
            .iter()
            .enumerate()
            .map(|(i, db)| format!("rest-{i} {}\n", db.url))
            .collect::<String>()
    );
    std::fs::write(dir.path().join("fleet.txt"), file).unwrap();
    let out = run(godwit_in(
        dir.path(),
        &[
            "deploy",
            "--targets",
            "fleet.txt",
            "--canary",
            "2",
            "--json",
        ],
    ));
    out.expect(1);
    let report = json(&out);
    assert_eq!(report["canary"], 2);
    assert_eq!(target(&report, "canary-maria")["outcome"], "failed");
    assert_eq!(target(&report, "canary-lite")["outcome"], "applied");
    for i in 0..4 {
        let t = target(&report, &format!("rest-{i}"));
        assert_eq!(t["outcome"], "skipped", "{t:#}");
        assert_eq!(
            t["error"], "not deployed: canary target canary-maria failed",
            "{t:#}"
        );
    }
    for db in &dbs[1..] {
        assert!(!db.table_exists("accounts"), "{}", db.url);
    }
    let out = run(godwit_in(
        dir.path(),
        &["deploy", "--targets", "fleet.txt", "--canary", "2"],
    ));
    // Its failed migration now awaits resolve: blocked (4), and the rest still wait.
    out.expect(4)
        .says("4 skipped after the canary failed")
        .says("not deployed: canary target canary-maria failed");

    // With the canaries fine, the rest follow.
    mariadb.exec("DROP TABLE accounts; DELETE FROM godwit_migrations");
    let out = run(godwit_in(
        dir.path(),
        &[
            "deploy",
            "--targets",
            "fleet.txt",
            "--canary",
            "2",
            "--json",
        ],
    ));
    out.expect(0);
    let report = json(&out);
    assert_eq!(target(&report, "canary-maria")["applied"], 3);
    assert_eq!(target(&report, "canary-lite")["outcome"], "up_to_date");
    for i in 0..4 {
        assert_eq!(target(&report, &format!("rest-{i}"))["outcome"], "applied");
    }
    for db in &dbs {
        assert!(db.table_exists("order_notes"), "{}", db.url);
    }
}

/// Tenants as PostgreSQL schemas of one database: each has its own history table and its
/// own lock, so they deploy side by side, and a held lock stops only its own schema.
#[test]
fn schema_per_tenant_each_schema_its_own_history_and_lock() {
    let dir = project();
    let db = TestDb::new(Dialect::Postgres);
    let tenants: Vec<String> = (1..=6).map(|i| format!("tenant_{i}")).collect();
    for t in &tenants {
        db.exec(&format!("CREATE SCHEMA {t}"));
    }
    let file: String = tenants
        .iter()
        .map(|t| format!("{t} {}?schema={t}\n", db.url))
        .collect();
    std::fs::write(dir.path().join("tenants.txt"), file).unwrap();

    // Another deployer of tenant_2 holds its lock, and one of the whole database the
    // lock of `public`: only tenant_2 waits (and gives up after a second).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let holder = runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for key in [
            godwit::driver::postgres::lock_key(Some("tenant_2")),
            godwit::driver::postgres::lock_key(None),
        ] {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn
    });
    let out = run(godwit_in(
        dir.path(),
        &[
            "--lock-wait",
            "1s",
            "deploy",
            "--targets",
            "tenants.txt",
            "--parallel",
            "6",
            "--json",
        ],
    ));
    out.expect(3);
    let report = json(&out);
    let blocked = target(&report, "tenant_2");
    assert_eq!(blocked["outcome"], "failed");
    assert_eq!(blocked["exit_code"], 3);
    assert!(
        blocked["error"]
            .as_str()
            .unwrap()
            .contains("could not acquire the migration lock"),
        "{blocked:#}"
    );
    for t in tenants.iter().filter(|t| *t != "tenant_2") {
        assert_eq!(target(&report, t)["applied"], 3, "{report:#}");
    }
    runtime.block_on(async { drop(holder) });

    let out = run(godwit_in(
        dir.path(),
        &["deploy", "--targets", "tenants.txt", "--json"],
    ));
    out.expect(0);
    assert_eq!(target(&json(&out), "tenant_2")["applied"], 3);
    for t in &tenants {
        assert_eq!(
            db.int(&format!("SELECT count(*) FROM {t}.godwit_migrations")),
            3,
            "{t}"
        );
        assert_eq!(
            db.int(&format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{t}' AND table_name = 'order_notes'"
            )),
            1
        );
    }
    // Nothing in public: not the tables, not godwit's history.
    assert!(!db.table_exists("godwit_migrations"));
    assert!(!db.table_exists("accounts"));

    // A single deploy to one tenant works the same way, and a missing schema is named.
    run(godwit_in(
        dir.path(),
        &[
            "--database-url",
            &format!("{}?schema=tenant_3", db.url),
            "status",
        ],
    ))
    .expect(0)
    .says("3 applied, 0 pending");
    run(godwit_in(
        dir.path(),
        &[
            "--database-url",
            &format!("{}?schema=tenant_99", db.url),
            "deploy",
        ],
    ))
    .expect(3)
    .says("the schema \"tenant_99\" does not exist")
    .says("CREATE SCHEMA \"tenant_99\"");
    assert_eq!(
        db.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_99'"),
        0
    );
}

#[test]
fn status_of_a_fleet_is_a_table_with_the_worst_exit_code() {
    let dir = project();
    let done = TestDb::new(Dialect::Sqlite);
    let behind = TestDb::new(Dialect::MySql);
    run(godwit_in(
        dir.path(),
        &["--database-url", &done.url, "deploy"],
    ))
    .expect(0);
    run(godwit_in(
        dir.path(),
        &[
            "--database-url",
            &behind.url,
            "deploy",
            "--to",
            "20260101000000",
        ],
    ))
    .expect(0);
    std::fs::write(
        dir.path().join("targets.txt"),
        format!("done {}\nbehind {}\n", done.url, behind.url),
    )
    .unwrap();
    let out = run(godwit_in(
        dir.path(),
        &["status", "--targets", "targets.txt"],
    ));
    out.expect(5)
        .says("up to date")
        .says("pending")
        .says("2 targets: 1 up to date, 1 with pending migrations")
        .says("Exit code 5, behind's.");
    let report = json(&run(godwit_in(
        dir.path(),
        &["status", "--targets", "targets.txt", "--json"],
    )));
    assert_eq!(target(&report, "behind")["pending"], 2);
    assert_eq!(target(&report, "behind")["applied"], 1);
    assert_eq!(target(&report, "done")["outcome"], "up_to_date");

    // A database that cannot be reached is worse than pending migrations.
    std::fs::write(
        dir.path().join("targets.txt"),
        format!(
            "done {}\nbehind {}\ngone postgres://nobody:hunter2@127.0.0.1:1/app\n",
            done.url, behind.url
        ),
    )
    .unwrap();
    let out = run(godwit_in(
        dir.path(),
        &["status", "--targets", "targets.txt"],
    ));
    out.expect(3).says("gone").says("cannot connect");
    assert!(!out.text().contains("hunter2"), "{}", out.text());
}

#[test]
fn a_bad_targets_file_is_refused_line_by_line_before_anything_runs() {
    let dir = project();
    let untouched = TestDb::new(Dialect::Sqlite);
    let db_file = untouched.url.trim_start_matches("sqlite://");
    std::fs::write(
        dir.path().join("bad.txt"),
        format!(
            "# tenants\n\
             ok sqlite://{db_file}\n\
             one env(GODWIT_FLEET_UNSET_VARIABLE)\n\
             two postgress://u:topsecret@localhost/app\n\
             three four five\n\
             ok sqlite://other.db\n\
             again sqlite://{db_file}\n\
             tenant mysql://root@127.0.0.1/app?schema=t1\n\
             bad/name sqlite://x.db\n"
        ),
    )
    .unwrap();
    let out = run(godwit_in(dir.path(), &["deploy", "--targets", "bad.txt"]));
    out.expect(2)
        .says("has 7 problems; nothing was done on any database")
        .says("bad.txt:3: env(GODWIT_FLEET_UNSET_VARIABLE) is not set")
        .says("bad.txt:4: the target uses the scheme `postgress` (did you mean postgres://?)")
        .says("bad.txt:5: 3 fields where a line has one or two")
        .says("bad.txt:6: the name `ok` is already taken by line 2")
        .says("bad.txt:7: the same database as line 2")
        .says("bad.txt:8: the target has `?schema=`, which names a PostgreSQL schema; on MySQL/MariaDB a schema is a database")
        .says("bad.txt:9: `bad/name` cannot be a target's name");
    assert!(!out.text().contains("topsecret"), "{}", out.text());
    assert!(!Path::new(db_file).exists(), "nothing may be created");

    std::fs::write(dir.path().join("empty.txt"), "# nothing yet\n\n").unwrap();
    run(godwit_in(dir.path(), &["deploy", "--targets", "empty.txt"]))
        .expect(2)
        .says("lists no targets");
    run(godwit_in(
        dir.path(),
        &["status", "--targets", "missing.txt"],
    ))
    .expect(2)
    .says("cannot read the targets file");
    run(godwit_in(
        dir.path(),
        &[
            "--database-url",
            &untouched.url,
            "deploy",
            "--targets",
            "empty.txt",
        ],
    ))
    .expect(2)
    .says("--database-url and --targets");
    run(godwit_in(dir.path(), &["deploy", "--canary", "2"])).expect(2);

    // A relative SQLite path is relative to the targets file.
    std::fs::create_dir_all(dir.path().join("fleet")).unwrap();
    std::fs::write(
        dir.path().join("fleet/targets.txt"),
        "local sqlite://local.db\n",
    )
    .unwrap();
    run(godwit_in(
        dir.path(),
        &["deploy", "--targets", "fleet/targets.txt"],
    ))
    .expect(0)
    .says("1 applied");
    assert!(dir.path().join("fleet/local.db").is_file());
}

/// Every event of a fleet deploy reaches notifiers with the name of the target it is
/// about, the targets deploying side by side; a notifier built against the first plugin
/// API hears the same run, without the names.
#[test]
fn notifiers_hear_each_targets_events_with_its_name() {
    let dir = project();
    let dbs: Vec<TestDb> = (0..3).map(|_| TestDb::new(Dialect::Sqlite)).collect();
    let names = ["north", "south", "west"];
    let file: String = names
        .iter()
        .zip(&dbs)
        .map(|(name, db)| format!("{name} {}\n", db.url))
        .collect();
    std::fs::write(dir.path().join("fleet.txt"), file).unwrap();
    let old = dir.path().join("old.wasm");
    std::fs::copy(guest_wasm("old-notifier"), &old).unwrap();
    std::fs::write(
        dir.path().join("godwit.toml"),
        format!(
            "[plugins.audit]\nbuiltin = \"audit-log\"\n[plugins.audit.grants]\ndir = \"audit\"\n\
             [plugins.old]\npath = \"old.wasm\"\nsha256 = \"{}\"\n",
            sha256(&old)
        ),
    )
    .unwrap();
    let out = run(godwit_in(
        dir.path(),
        &["deploy", "--targets", "fleet.txt", "--parallel", "3"],
    ));
    out.expect(0);
    let log = std::fs::read_to_string(dir.path().join("audit/godwit-audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    for name in names {
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e["target"] == name)
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "run-started",
                "migration-started",
                "migration-applied",
                "migration-started",
                "migration-applied",
                "migration-started",
                "migration-applied",
                "run-finished"
            ],
            "{name}: {log}"
        );
    }
    assert_eq!(events.len(), 3 * 8, "an event without its target: {log}");
    // The old notifier's `host.log` lines come back as warnings naming it.
    out.says("notifier old: old notifier heard run-started")
        .says("notifier old: old notifier heard migration-applied")
        .says("notifier old: old notifier heard run-finished");
}
