//! Real migration files written by another project (authelia), copied into godwit's
//! layout and applied up and down on each database. Known traps are asserted as the
//! clear errors godwit gives (see shared/corpora/README.md).

use crate::support::*;

/// `V0001.Initial_Schema.up.sql` → `migrations/0001_initial_schema/up.sql`.
fn authelia_project(d: Dialect) -> Project {
    let source = corpus(&format!(
        "authelia/internal/storage/migrations/{}",
        dialect_dir(d)
    ));
    let p = Project::empty(d);
    let mut count = 0;
    for entry in std::fs::read_dir(&source).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let (Some(rest), Some(direction)) = (
            file.strip_prefix('V'),
            file.strip_suffix(".sql").and_then(|f| f.rsplit('.').next()),
        ) else {
            continue;
        };
        let (version, name) = rest.split_once('.').unwrap();
        let name = name.split('.').next().unwrap().to_lowercase();
        let text = std::fs::read_to_string(source.join(&file)).unwrap();
        p.write(&format!("{version}_{name}/{direction}.sql"), &text);
        count += 1;
    }
    assert_eq!(count, 52, "26 versions, up and down");
    p
}

#[test]
fn authelia_postgres_up_down_up() {
    let p = authelia_project(Dialect::Postgres);
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    p.godwit(&["down", "--steps", "26"])
        .expect(0)
        .says("Reverted 26 migrations");
    assert!(!p.db.table_exists("user_preferences"));
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    p.godwit(&["status"]).expect(0);
}

/// V0007 defines stored procedures without DELIMITER; the down chain has a real bug at
/// V0007's down script on MariaDB.
#[test]
fn authelia_mysql_procedures_apply_and_the_down_bug_is_reported() {
    let p = authelia_project(Dialect::MySql);
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    let out = p.godwit(&["down", "--steps", "26"]);
    out.expect(1)
        .says("0007_consistencyfixes failed at statement")
        .says("Duplicate key name 'kid'")
        .says("Reverted before the failure (19)");
    p.godwit(&["status"]).expect(4).says("failed");
}

/// V0002 calls BIN2B64, a function authelia registers on its own SQLite connections.
#[test]
fn authelia_sqlite_reports_the_application_function() {
    let p = authelia_project(Dialect::Sqlite);
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("0002_webauthn failed at statement")
        .says("no such function: BIN2B64")
        .says("Nothing of it was applied");
    p.godwit(&["status"]).expect(4);
    assert!(p.db.table_exists("user_preferences"), "V0001 stays applied");
    p.godwit(&["down"]).expect(4);
    p.godwit(&["resolve", "--rolled-back", "0002"]).expect(0);
    p.godwit(&["down"]).expect(0).says("Reverted 1 migration");
}
