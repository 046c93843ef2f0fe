//! Kratos's migrations (ory/popx layout, shared/corpora/kratos) read where they are, in
//! their own layout, applied up and down on each database, and verified (`--down-all`,
//! since each of its down files undoes the next migration's up). They are long runs: nextest
//! puts `kratos::` tests in a group of their own (.config/nextest.toml). The traps they
//! hit are in shared/corpora/README.md; each is asserted here as what godwit says.

use std::path::PathBuf;

use crate::support::*;

fn kratos() -> PathBuf {
    corpus("kratos/persistence/sql/migrations/sql")
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
    p.backups_off_where_pg_dump_cannot();
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

/// `godwit verify --down-all` on a target holding kratos: every up on a shadow, every
/// down from the newest back to an empty schema, and no drift. One at a time the downs
/// fail (each undoes the next migration's up), which is why `--down-all` exists.
fn verified(p: &Project, count: usize) -> Output {
    let out = p.godwit(&["verify", "--down-all"]);
    out.says(&format!("down all: {count} down.sql files ran from the newest migration back to before the first migration"));
    out
}

#[test]
fn postgres_verified() {
    let p = project(Dialect::Postgres, "");
    p.godwit(&["deploy"]).expect(0);
    verified(&p, 346)
        .expect(0)
        .says("up: 346 migrations applied")
        .says("the schema is what it was there.")
        .says("No drift");
    let json = p.godwit(&["verify", "--skip-down", "--json"]);
    json.expect(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["applied"], 346);
    assert_eq!(report["drift"].as_array().unwrap().len(), 0);
    assert!(report["group"].is_null());
}

#[test]
fn sqlite_verified() {
    let p = project(Dialect::Sqlite, "");
    p.godwit(&["deploy"]).expect(0);
    verified(&p, 694)
        .expect(0)
        .says("up: 694 migrations applied")
        .says("the schema is what it was there.")
        .says("No drift");
}

/// On MariaDB (with the corpus's sql_mode) the one migration MariaDB refuses is reported
/// on the shadow too, and verify goes on: the later ones are applied, the full down runs,
/// and the target, deployed up to before that migration, is compared as of there.
#[test]
fn mariadb_verified_with_its_sql_mode() {
    let p = project(
        Dialect::MySql,
        "init_sql = \"SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'\"\n",
    );
    let before = "20260327101213000000";
    p.godwit(&["deploy", "--to", before]).expect(0);
    let out = p.godwit(&["verify", "--down-all", "--json"]);
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.text()));
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{}", out.text());
    assert_eq!(
        failures[0]["migration"],
        "20260408000000000000_create_pending_traits_changes"
    );
    assert!(failures[0]["error"].as_str().unwrap().contains("1901"));
    assert_eq!(report["compared_at"], before);
    assert_eq!(
        report["drift"].as_array().unwrap().len(),
        0,
        "{}",
        out.text()
    );
    assert_eq!(report["drift_near_failures"].as_array().unwrap().len(), 0);
    // Every other up.sql ran, and the full down (the failed migration's down.sql drops
    // the table its three statements made) comes back to an empty schema.
    assert_eq!(report["applied"], 351, "{}", out.text());
    let group = &report["group"];
    assert_eq!(group["reverted"], 352, "{}", out.text());
    assert_eq!(group["failures"].as_array().unwrap().len(), 0);
    assert_eq!(group["problems"].as_array().unwrap().len(), 0);
    out.expect(1);
}

/// `godwit pull` on kratos's schema writes DDL that builds it again: pulled from a
/// database built from the file, the file is the same.
fn pull_round_trips(p: &Project, config: &str) {
    let first = crate::schema::pulled(p);
    assert!(first.contains("CREATE TABLE "), "{first}");
    assert!(first.contains("identity_credentials"), "{first}");
    let second = crate::schema::pulled_again(p.db.dialect, &first, config);
    assert_eq!(
        second, first,
        "pulled again from a database built from the pulled file"
    );
}

/// Pulled, then declared: `diff --check` finds that the migrations build the pulled schema.
fn pulled_and_declared(dialect: Dialect, count: usize) {
    let p = project(dialect, "schema = \"pulled\"\n");
    p.godwit(&["deploy"]).expect(0);
    pull_round_trips(&p, "");
    p.godwit(&["diff", "--check"]).expect(0).says(&format!(
        "The {count} migrations build the declared schema (pulled)."
    ));
}

#[test]
fn postgres_pulled_and_declared() {
    pulled_and_declared(Dialect::Postgres, 346);
}

#[test]
fn sqlite_pulled_and_declared() {
    pulled_and_declared(Dialect::Sqlite, 694);
}

/// MariaDB refuses one of kratos's migrations (see above), so the database is deployed up
/// to before it, and `diff --check` reports the failure as exit 1.
#[test]
fn mariadb_pulled() {
    let mode = "init_sql = \"SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'\"\n";
    let p = project(Dialect::MySql, &format!("{mode}schema = \"pulled\"\n"));
    p.godwit(&["deploy", "--to", "20260327101213000000"])
        .expect(0);
    pull_round_trips(&p, mode);
    p.godwit(&["diff", "--check"])
        .expect(1)
        .says("the migrations do not apply to an empty shadow database")
        .says("20260408000000000000_create_pending_traits_changes");
}
