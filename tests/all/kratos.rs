//! Kratos's migrations (ory/popx layout, shared/corpora/kratos) read where they are, in
//! their own layout, and applied up and down on each database. They are long runs: nextest
//! puts `kratos::` tests in a group of their own (.config/nextest.toml). The traps they
//! hit are in shared/corpora/README.md; each is asserted here as what godwit says.

use std::path::PathBuf;

use crate::support::*;

/// The folder, or a loud failure: a corpus test must not pass by not running.
fn kratos() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/kratos/persistence/sql/migrations/sql");
    assert!(
        dir.is_dir(),
        "the kratos corpus is missing at {}: these tests need it (see shared/corpora/README.md)",
        dir.display()
    );
    dir
}

/// A project pointing at the corpus where it is, with godwit's default settings; `extra`
/// is more of godwit.toml.
fn project(dialect: Dialect, extra: &str) -> Project {
    let p = Project::empty(dialect);
    std::fs::write(
        p.path().join("godwit.toml"),
        format!("migrations = {:?}\n{extra}", kratos().to_str().unwrap()),
    )
    .unwrap();
    p
}

/// Tables left in the database, godwit's own aside.
fn tables(p: &Project) -> i64 {
    let sql = match p.db.dialect {
        Dialect::Postgres => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE 'godwit%'"
        }
        Dialect::MySql => {
            "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'godwit%'"
        }
        Dialect::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'godwit%' AND name NOT LIKE 'sqlite%'"
        }
    };
    p.db.int(sql)
}

/// Every migration up, every one down, in popx's order for the database.
fn up_and_down_all(p: &Project, count: usize) {
    p.godwit(&["status"])
        .expect(5)
        .says(&format!("0 applied, {count} pending"));
    p.godwit(&["deploy"])
        .expect(0)
        .says(&format!("Applied {count} migrations"));
    p.godwit(&["status"]).expect(0);
    assert!(tables(p) > 20, "kratos's schema is there");
    p.godwit(&["down", "--steps", &count.to_string()])
        .expect(0)
        .says(&format!("Reverted {count} migrations"));
    assert_eq!(tables(p), 0, "the full down leaves nothing of kratos");
    p.godwit(&["status"])
        .expect(5)
        .says(&format!("0 applied, {count} pending"));
}

#[test]
fn postgres_up_and_down() {
    let p = project(Dialect::Postgres, "");
    // The PostgreSQL files, the shared ones, the two .postgres.autocommit files with
    // CREATE INDEX CONCURRENTLY (outside a transaction, as popx runs them), and none
    // of the SQLite-only table rebuilds.
    p.godwit(&["plan"])
        .expect(0)
        .says("20260616000000000000_courier_messages_restore_list_index  risk")
        .says("statement by statement: popx's .autocommit file name");
    let lint = p.godwit(&["lint", "--dialect", "postgres", "--format", "json"]);
    assert!(!lint.stdout.contains("GW015"), "{}", lint.stdout);
    up_and_down_all(&p, 346);
}

#[test]
fn sqlite_up_and_down() {
    let p = project(Dialect::Sqlite, "");
    up_and_down_all(&p, 694);
}

/// MariaDB's strict mode refuses migration 33; the sql_mode the corpus note gives is set
/// through `init_sql`. A later migration indexes a generated column MariaDB cannot index
/// (MySQL 8 can): that one is reported as what it is, and the rest goes down again.
#[test]
fn mariadb_up_and_down_with_its_sql_mode() {
    let strict = project(Dialect::MySql, "");
    strict
        .godwit(&["deploy"])
        .expect(1)
        .says("Field 'created_at' doesn't have a default value");
    strict.godwit(&["status"]).expect(4).says("32 applied");

    let p = project(
        Dialect::MySql,
        "init_sql = \"SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'\"\n",
    );
    let before = "20260327101213000000";
    let out = p.godwit(&["deploy", "--to", before]);
    out.expect(0);
    let applied: usize = out
        .stdout
        .split("Applied ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("how many were applied?\n{}", out.stdout));
    assert!(applied > 300, "{}", out.stdout);
    p.godwit(&["deploy"])
        .expect(1)
        .says("20260408000000000000_create_pending_traits_changes failed at statement 4")
        .says("1901");
    // What a person does about it: undo the three statements that ran, and say so.
    p.db.exec("DROP TABLE identity_pending_traits_changes");
    p.godwit(&["resolve", "--rolled-back", "20260408000000000000"])
        .expect(0);
    p.godwit(&["down", "--steps", &applied.to_string()])
        .expect(0)
        .says(&format!("Reverted {applied} migrations"));
    assert_eq!(tables(&p), 0, "the full down leaves nothing of kratos");
}
