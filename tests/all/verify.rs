//! `godwit verify`: a shadow database built from the migrations, up-down-up for every
//! down.sql, and drift against the target, on every database. Every test checks that
//! the shadow it caused is gone afterwards.

use std::path::Path;

use godwit::config::{Config, Overrides};
use godwit::migrator::Migrator;
use godwit::schema::{ConstraintKind, Schema};

use crate::each_dialect;
use crate::support::*;

each_dialect!(
    clean_project_passes,
    column_added_by_hand_is_drift,
    index_dropped_by_hand_is_drift,
    down_that_does_not_undo_up_is_named,
    pending_migrations_are_not_drift,
    failing_up_sql_exits_1,
    every_failing_script_is_reported,
    failing_down_sql_is_reported_and_the_rest_checked,
    a_group_check_that_stops_early_vouches_for_nothing_older,
    group_style_downs,
    an_up_that_fails_only_after_a_wider_down_is_not_reversible,
    drift_in_what_a_migration_failed_on_the_target_names_is_set_apart,
    an_up_that_fails_straight_up_is_a_failing_script,
    long_view_difference_is_a_line_diff,
    same_migrations_give_equal_schemas,
    never_deployed_target_is_compared_with_nothing,
    a_steps_own_tables_are_no_difference,
);

/// The shadow named on the first line of the text output.
fn shadow_location(out: &Output) -> String {
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Shadow database "))
        .unwrap_or_else(|| panic!("no shadow line in\n{}", out.text()));
    line.split(" (").next().unwrap().to_string()
}

#[track_caller]
fn assert_shadow_gone(d: Dialect, location: &str) {
    match d {
        Dialect::Postgres => assert_eq!(
            admin_int(
                d,
                &format!("SELECT count(*) FROM pg_database WHERE datname = '{location}'")
            ),
            0,
            "shadow database {location} was left behind"
        ),
        Dialect::MySql => assert_eq!(
            admin_int(
                d,
                &format!(
                    "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{location}'"
                )
            ),
            0,
            "shadow database {location} was left behind"
        ),
        Dialect::Sqlite => {
            let path = Path::new(location);
            assert!(!path.exists(), "shadow file {location} was left behind");
            assert!(
                !path.parent().unwrap().exists(),
                "shadow directory of {location} was left behind"
            );
        }
    }
}

/// Runs `godwit verify` with `args`, checks the shadow is gone, returns the output.
fn verify(p: &Project, args: &[&str]) -> Output {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = p.godwit(&all);
    assert_shadow_gone(p.db.dialect, &shadow_location(&out));
    out
}

/// `godwit verify --json` with `args`, which must exit `code`: the report, its shadow gone.
fn verify_json(p: &Project, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["verify", "--json"];
    all.extend_from_slice(args);
    let out = p.godwit(&all);
    out.expect(code);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_shadow_gone(p.db.dialect, report["shadow"]["location"].as_str().unwrap());
    report
}

/// The `migration` of each entry of a report's list.
fn migrations_of(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["migration"].as_str().unwrap().to_owned())
        .collect()
}

fn deployed(d: Dialect) -> Project {
    let p = Project::new(d, "migrations_verify");
    p.godwit(&["deploy"]).expect(0);
    p
}

fn clean_project_passes(d: Dialect) {
    let p = deployed(d);
    verify(&p, &[])
        .expect(0)
        .says("20260801000000_create_users  up, down, up: down.sql undoes up.sql")
        .says("20260802000000_create_posts  up, down, up: down.sql undoes up.sql")
        .says("20260803000000_seed_users  up: no down script, reversibility not checked")
        .says("No drift")
        .says("was dropped");

    let out = p.godwit(&["verify", "--json"]);
    out.expect(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_shadow_gone(d, report["shadow"]["location"].as_str().unwrap());
    assert_eq!(report["shadow"]["created"], true);
    assert_eq!(report["compared"], true);
    assert_eq!(report["compared_at"], "20260803000000");
    assert_eq!(report["drift"].as_array().unwrap().len(), 0);
    let states: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reversibility"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["reversible", "reversible", "no_down_sql"]);
}

fn column_added_by_hand_is_drift(d: Dialect) {
    let p = deployed(d);
    p.db.exec("ALTER TABLE users ADD COLUMN nickname VARCHAR(50)");
    let out = verify(&p, &[]);
    out.expect(4)
        .says("column users.nickname: in the database but not in the migrations (added by hand?)");
    assert!(
        !out.text().contains("column users.email"),
        "only the changed column is drift\n{}",
        out.text()
    );

    let out = p.godwit(&["verify", "--json"]);
    out.expect(4);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_shadow_gone(d, report["shadow"]["location"].as_str().unwrap());
    let drift = report["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["object"], "column users.nickname");
    assert_eq!(drift[0]["kind"], "extra");
    assert!(drift[0]["expected"].is_null());
}

fn index_dropped_by_hand_is_drift(d: Dialect) {
    let p = deployed(d);
    p.db.exec(match d {
        Dialect::MySql => "DROP INDEX users_email_idx ON users",
        _ => "DROP INDEX users_email_idx",
    });
    verify(&p, &[]).expect(4).says(
        "index users_email_idx on users: in the migrations but not in the database (dropped by hand?)",
    );
}

fn down_that_does_not_undo_up_is_named(d: Dialect) {
    let p = Project::new(d, "migrations_verify");
    p.write(
        "20260804000000_create_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(50) NOT NULL);\n",
    );
    // A typo: the table is `tags`, so this drops nothing.
    p.write(
        "20260804000000_create_tags/down.sql",
        "DROP TABLE IF EXISTS tag;\n",
    );
    // A later migration is still checked: down.sql did nothing, so the shadow is still
    // what the migrations build.
    p.write(
        "20260805000000_add_tags_color/up.sql",
        "ALTER TABLE tags ADD COLUMN color VARCHAR(20);\n",
    );
    p.write(
        "20260805000000_add_tags_color/down.sql",
        "ALTER TABLE tags DROP COLUMN color;\n",
    );
    // A down.sql that drops half of what up.sql made: the second up fails at its first
    // table, so the shadow lacks the second, and the later down.sql is not checked.
    p.write(
        "20260806000000_create_links/up.sql",
        "CREATE TABLE links (id INTEGER PRIMARY KEY);\nCREATE TABLE link_tags (id INTEGER PRIMARY KEY);\n",
    );
    p.write(
        "20260806000000_create_links/down.sql",
        "DROP TABLE link_tags;\n",
    );
    p.write(
        "20260807000000_add_links_url/up.sql",
        "ALTER TABLE links ADD COLUMN url VARCHAR(200);\n",
    );
    p.write(
        "20260807000000_add_links_url/down.sql",
        "ALTER TABLE links DROP COLUMN url;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = verify(&p, &[]);
    out.expect(4)
        .says("down.sql of 20260804000000_create_tags does not undo its up.sql")
        .says("table tags still exists after down.sql")
        .says("and then up.sql failed when applied again")
        .says("20260805000000_add_tags_color  up, down, up: down.sql undoes up.sql")
        .says("down.sql of 20260806000000_create_links does not undo its up.sql")
        .says("table links still exists after down.sql")
        .says("20260807000000_add_links_url  up: down.sql not checked (the shadow no longer follows the migrations since 20260806000000_create_links lost part of what it built to its down.sql)")
        // The target has link_tags, as the migrations build it: the first shadow lost it
        // to the round trip, so drift is measured on the second, which went straight up.
        .says("No drift: ");
    assert!(
        !out.text().contains("table link_tags: in the database"),
        "{}",
        out.text()
    );

    // A down.sql that leaves a column behind while up.sql tolerates a second run: the
    // difference alone is reported, and verify goes on to compare with the target.
    let p = Project::new(d, "migrations_verify");
    let add = match d {
        Dialect::Postgres => "ALTER TABLE users ADD COLUMN IF NOT EXISTS bio TEXT;\n",
        Dialect::MySql => "ALTER TABLE users ADD COLUMN IF NOT EXISTS bio TEXT;\n",
        Dialect::Sqlite => "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY);\n",
    };
    p.write("20260804000000_add_users_bio/up.sql", add);
    p.write("20260804000000_add_users_bio/down.sql", "SELECT 1;\n");
    p.godwit(&["deploy"]).expect(0);
    let object = if d == Dialect::Sqlite {
        "table notes still exists after down.sql"
    } else {
        "column users.bio still exists after down.sql"
    };
    verify(&p, &[])
        .expect(4)
        .says("down.sql of 20260804000000_add_users_bio does not undo its up.sql")
        .says(object)
        .says("No drift");
}

fn pending_migrations_are_not_drift(d: Dialect) {
    let p = Project::new(d, "migrations_verify");
    p.godwit(&["deploy", "--to", "20260801000000"]).expect(0);
    verify(&p, &[])
        .expect(0)
        .says("the target has 2 pending migrations")
        .says("as of 20260801000000")
        .says("No drift");
}

fn failing_up_sql_exits_1(d: Dialect) {
    let p = deployed(d);
    p.write(
        "20260805000000_copy_legacy_users/up.sql",
        "INSERT INTO users (email) SELECT email FROM legacy_users;\n",
    );
    verify(&p, &[])
        .expect(1)
        .says("up.sql of 20260805000000_copy_legacy_users failed")
        .says("legacy_users")
        // The target is at 20260803000000, which the shadow reached before the failure.
        .says("No drift")
        .says("was dropped");
}

/// Two failing up.sql files with a good migration between them: both are reported, the
/// second as coming after the first; the one between is applied but its down.sql is not
/// checked; the target is still compared, and what the failed scripts name is set apart
/// from the drift.
fn every_failing_script_is_reported(d: Dialect) {
    let p = Project::new(d, "migrations_verify");
    p.write(
        "20260804000000_copy_legacy_users/up.sql",
        "INSERT INTO users (email) SELECT email FROM legacy_users;\n",
    );
    p.write(
        "20260804000000_copy_legacy_users/down.sql",
        "DELETE FROM users;\n",
    );
    p.write(
        "20260805000000_create_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(50) NOT NULL);\n",
    );
    p.write("20260805000000_create_tags/down.sql", "DROP TABLE tags;\n");
    p.write(
        "20260806000000_index_legacy_users/up.sql",
        "CREATE INDEX legacy_users_email_idx ON legacy_users (email);\n",
    );
    // On the target, legacy_users was made by hand long ago: everything deploys there.
    p.db.exec("CREATE TABLE legacy_users (id INTEGER PRIMARY KEY, email VARCHAR(255))");
    p.godwit(&["deploy"]).expect(0);
    p.db.exec("ALTER TABLE posts ADD COLUMN draft INTEGER");

    let out = verify(&p, &[]);
    out.expect(1)
        .says("20260804000000_copy_legacy_users  up: FAILED")
        .says("20260805000000_create_tags  up: down.sql not checked (the shadow no longer follows the migrations since 20260804000000_copy_legacy_users failed)")
        .says("20260806000000_index_legacy_users  up: FAILED")
        .says("2 scripts failed on the shadow database:")
        .says("up.sql of 20260804000000_copy_legacy_users failed: ")
        .says("up.sql of 20260806000000_index_legacy_users (after an earlier failure, of 20260804000000_copy_legacy_users) failed: ")
        .says("Drift: 1 object in")
        .says("column posts.draft: in the database but not in the migrations")
        .says("a script which failed on the shadow names")
        .says("table legacy_users: in the database but not in the migrations");
    // The down.sql of a migration that failed is not run.
    assert!(
        !out.stdout
            .contains("down.sql of 20260804000000_copy_legacy_users"),
        "{}",
        out.text()
    );

    let out = p.godwit(&["verify", "--json"]);
    out.expect(1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_shadow_gone(d, report["shadow"]["location"].as_str().unwrap());
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0]["migration"], "20260804000000_copy_legacy_users");
    assert_eq!(failures[0]["script"], "up");
    assert!(failures[0]["after"].is_null());
    assert_eq!(
        failures[1]["migration"],
        "20260806000000_index_legacy_users"
    );
    assert_eq!(failures[1]["after"], "20260804000000_copy_legacy_users");
    assert_eq!(report["compared"], true);
    let objects = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["object"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(objects("drift"), ["column posts.draft"]);
    assert_eq!(objects("drift_near_failures"), ["table legacy_users"]);
    let states: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reversibility"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "reversible",
            "reversible",
            "no_down_sql",
            "up_failed",
            "not_checked",
            "up_failed"
        ]
    );
}

/// A down.sql that fails at its first statement leaves the shadow as up.sql left it: it
/// is reported, and the migrations after it are still checked one at a time.
fn failing_down_sql_is_reported_and_the_rest_checked(d: Dialect) {
    let p = Project::new(d, "migrations_verify");
    p.write(
        "20260804000000_create_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    );
    // A typo: there is no table `tagz`.
    p.write("20260804000000_create_tags/down.sql", "DROP TABLE tagz;\n");
    p.write(
        "20260805000000_create_labels/up.sql",
        "CREATE TABLE labels (id INTEGER PRIMARY KEY);\n",
    );
    p.write(
        "20260805000000_create_labels/down.sql",
        "DROP TABLE labels;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = verify(&p, &[]);
    out.expect(1)
        .says("20260804000000_create_tags  up, down: down.sql FAILED")
        .says("20260805000000_create_labels  up, down, up: down.sql undoes up.sql")
        .says("1 script failed on the shadow database:")
        .says("down.sql of 20260804000000_create_tags failed: ")
        .says("tagz")
        .says("No drift")
        // Tried as a whole, it still fails: said, and not taken for a group history.
        .says("on a second shadow database")
        .says("down all: 2 down.sql files ran from the newest migration back to 20260803000000_seed_users");
    assert!(
        !out.stdout
            .contains("So the history as a whole comes back to where it started"),
        "{}",
        out.text()
    );

    // The second shadow the full down ran on is gone too, and what it found is in JSON.
    let out = p.godwit(&["verify", "--json"]);
    out.expect(1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_shadow_gone(d, report["shadow"]["location"].as_str().unwrap());
    let group = &report["group"];
    assert_eq!(group["automatic"], true);
    let second = group["shadow"]["location"].as_str().unwrap();
    assert_ne!(second, report["shadow"]["location"].as_str().unwrap());
    assert_shadow_gone(d, second);
    let failures = group["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["migration"], "20260804000000_create_tags");
    assert_eq!(failures[0]["script"], "down");
    assert_eq!(group["problems"][0]["object"], "table tags");
}

/// The automatic down-all stops at the newest migration without a down.sql. A down.sql
/// older than that (hatchet's enum value that cannot be removed) was never part of it,
/// so verify must not call the history reversible as a whole nor send the user to
/// `--down-all` for it.
fn a_group_check_that_stops_early_vouches_for_nothing_older(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20260101000001_create_a/up.sql",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\n",
    );
    p.write("20260101000001_create_a/down.sql", "DROP TABLE a;\n");
    p.write(
        "20260101000002_add_b/up.sql",
        "ALTER TABLE a ADD COLUMN b INTEGER;\n",
    );
    p.write("20260101000002_add_b/down.sql", "SELECT 1;\n");
    p.write(
        "20260101000003_create_notes/up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    );
    p.write(
        "20260101000004_create_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    );
    p.write("20260101000004_create_tags/down.sql", "DROP TABLE tags;\n");
    p.godwit(&["deploy"]).expect(0);
    let out = verify(&p, &[]);
    out.expect(4)
        .says("20260101000002_add_b")
        .says("That check stopped at 20260101000003_create_notes, which has no down.sql, so it says nothing about 20260101000002_add_b");
    assert!(
        !out.stdout.contains("So the history as a whole comes back"),
        "{}",
        out.text()
    );
}

/// Down files written for the group, not for their own up.sql (kratos's pattern): the
/// down.sql of one migration drops what the next one's up.sql created, and the newest
/// down.sql is empty. One at a time that fails; the default run says that the history
/// does undo itself as a whole; `--down-all` checks exactly that, and `--skip-down` none.
fn group_style_downs(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20260901000000_create_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    );
    p.write("20260901000000_create_tags/down.sql", "DROP TABLE tags;\n");
    p.write(
        "20260902000000_index_tags/up.sql",
        "CREATE INDEX tags_id_idx ON tags (id);\n",
    );
    p.write("20260902000000_index_tags/down.sql", "DROP TABLE labels;\n");
    p.write(
        "20260903000000_create_labels/up.sql",
        "CREATE TABLE labels (id INTEGER PRIMARY KEY, tag_id INTEGER REFERENCES tags (id));\n",
    );
    p.write("20260903000000_create_labels/down.sql", "");
    p.godwit(&["deploy"]).expect(0);

    let out = verify(&p, &[]);
    out.expect(1)
        .says("20260901000000_create_tags  up, down, up: down.sql undoes up.sql")
        .says("20260902000000_index_tags  up, down: down.sql FAILED")
        .says("20260903000000_create_labels  up, down, up: down.sql does NOT undo up.sql")
        .says("down all: 3 down.sql files ran from the newest migration back to before the first migration;")
        .says("the schema is what it was there.")
        .says("So the history as a whole comes back to where it started")
        .says("godwit verify --down-all");

    let out = verify(&p, &["--down-all"]);
    out.expect(0)
        .says("up: 3 migrations applied")
        .says("down all: 3 down.sql files ran from the newest migration back to before the first migration;")
        .says("the schema is what it was there.")
        .says("No drift");
    assert!(!out.stdout.contains("FAILED"), "{}", out.text());

    let out = verify(&p, &["--skip-down"]);
    out.expect(0)
        .says("up: 3 migrations applied")
        .says("no down.sql was run (--skip-down)")
        .says("No drift");
    assert!(!out.stdout.contains("down all"), "{}", out.text());

    // The two options are one or the other.
    p.godwit(&["verify", "--skip-down", "--down-all"])
        .expect(2)
        .says("cannot be used with");

    // A newer migration whose down.sql leaves its table behind: the history no longer
    // comes back to empty, and --down-all says what is left.
    p.write(
        "20260904000000_create_notes/up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    );
    p.write("20260904000000_create_notes/down.sql", "SELECT 1;\n");
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["verify", "--down-all", "--json"]);
    out.expect(4);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_shadow_gone(d, report["shadow"]["location"].as_str().unwrap());
    let group = &report["group"];
    assert_eq!(group["automatic"], false);
    assert_eq!(group["reverted"], 4);
    assert!(group["back_to"].is_null());
    let problems = group["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["object"], "table notes");
    verify(&p, &["--down-all"])
        .expect(4)
        .says("the schema is NOT what it was there (1 difference)")
        .says("table notes still exists after down.sql");

    // A migration without down.sql is as far as a full down goes: compared with the
    // schema right after it.
    p.write(
        "20260905000000_seed_tags/up.sql",
        "INSERT INTO tags (id) VALUES (1);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    verify(&p, &["--down-all"])
        .expect(0)
        .says("down all: no down.sql ran, since the newest migration, 20260905000000_seed_tags, has none: nothing was checked.");
}

/// keto's and kratos' down.sql files undo more than their own up.sql. One at a time, the
/// round trip of such a migration takes the shadow off the path, and a later up.sql then
/// fails there; straight up, on the second shadow, it builds. That is the wide down.sql's
/// doing: the migration is not reversible (exit 4), and no script is reported as failing.
fn an_up_that_fails_only_after_a_wider_down_is_not_reversible(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20260901000000_create_tags/up.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    );
    p.write("20260901000000_create_tags/down.sql", "DROP TABLE tags;\n");
    p.write(
        "20260902000000_create_labels/up.sql",
        "CREATE TABLE labels (id INTEGER PRIMARY KEY);\n",
    );
    p.write(
        "20260902000000_create_labels/down.sql",
        "DROP TABLE labels;\nDROP TABLE tags;\n",
    );
    p.write(
        "20260903000000_seed_tags/up.sql",
        "INSERT INTO tags (id) VALUES (1);\n",
    );
    p.write("20260903000000_seed_tags/down.sql", "DELETE FROM tags;\n");
    p.godwit(&["deploy"]).expect(0);

    let report = verify_json(&p, &[], 4);
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    let reversibility = |id: &str| {
        report["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["migration"] == id)
            .map(|m| m["reversibility"].clone())
    };
    assert_eq!(
        reversibility("20260902000000_create_labels"),
        Some("irreversible".into())
    );
    assert_eq!(
        reversibility("20260903000000_seed_tags"),
        Some("not_checked".into())
    );
    let notes = report["notes"].to_string();
    assert!(notes.contains("20260903000000_seed_tags"), "{notes}");
    assert_eq!(report["compared"], true);
    assert_eq!(report["drift"], serde_json::json!([]), "{report:#}");

    // An up.sql that fails straight up as well is a failing script, as before.
    p.write(
        "20260904000000_broken/up.sql",
        "INSERT INTO no_such_table (id) VALUES (1);\n",
    );
    p.write("20260904000000_broken/down.sql", "SELECT 1;\n");
    let report = verify_json(&p, &[], 1);
    assert_eq!(
        migrations_of(&report["failures"]),
        ["20260904000000_broken"]
    );

    // A down.sql that the first shadow never checked on its own (it had left the path)
    // and that fails in the whole-history pass is a failing script (quickwit's syntax
    // errors), though the up.sql failures before it were not.
    std::fs::remove_dir_all(p.migrations().join("20260904000000_broken")).unwrap();
    p.write(
        "20260905000000_notes/up.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
    );
    p.write("20260905000000_notes/down.sql", "DROP TABLEX notes;\n");
    let report = verify_json(&p, &[], 1);
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    assert!(
        migrations_of(&report["group"]["failures"]).contains(&"20260905000000_notes".to_owned()),
        "{report:#}"
    );
}

/// reportportal's 40 passed on the first shadow only because a failed round trip before
/// it had emptied a table; on the second shadow, built straight up, it failed, and verify
/// said so only in a note and exited 4. An up.sql that fails straight up fails on the
/// path the migrations describe: a failing script (exit 1).
fn an_up_that_fails_straight_up_is_a_failing_script(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20260901000000_create_t/up.sql",
        "CREATE TABLE t (id INTEGER UNIQUE);\nINSERT INTO t (id) VALUES (1);\n",
    );
    // Empties the table instead of dropping it: irreversible, and the first shadow
    // is left with an empty t.
    p.write("20260901000000_create_t/down.sql", "DELETE FROM t;\n");
    p.write(
        "20260902000000_seed_again/up.sql",
        "INSERT INTO t (id) VALUES (1);\n",
    );
    p.write(
        "20260902000000_seed_again/down.sql",
        "DELETE FROM t WHERE id = 1;\n",
    );
    let report = verify_json(&p, &[], 1);
    assert!(
        migrations_of(&report["failures"]).contains(&"20260902000000_seed_again".to_owned()),
        "{report:#}"
    );
}

/// A migration that failed on the target (hydra on MariaDB) may have left part of itself
/// there, or none of it: differences in what its up.sql names are set apart as possibly
/// caused by that failure, not called "added by hand" or "dropped by hand".
fn drift_in_what_a_migration_failed_on_the_target_names_is_set_apart(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20260901000000_create/up.sql",
        "CREATE TABLE t (id INTEGER PRIMARY KEY);\nCREATE TABLE seed (id INTEGER PRIMARY KEY);\n",
    );
    p.write(
        "20260901000000_create/down.sql",
        "DROP TABLE seed;\nDROP TABLE t;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    // The target lost `seed` by hand, so the next migration fails there, not on the shadow.
    p.db.exec("DROP TABLE seed");
    p.write(
        "20260902000000_add_note/up.sql",
        "ALTER TABLE t ADD COLUMN note VARCHAR(20);\nINSERT INTO seed (id) VALUES (1);\n",
    );
    p.write(
        "20260902000000_add_note/down.sql",
        "DELETE FROM seed;\nALTER TABLE t DROP COLUMN note;\n",
    );
    p.godwit(&["deploy"]).expect(1);
    let report = verify_json(&p, &["--skip-down"], 4);
    assert_eq!(report["drift"], serde_json::json!([]), "{report:#}");
    let near: Vec<_> = report["drift_near_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["object"].as_str().unwrap().to_owned())
        .collect();
    assert!(near.contains(&"table seed".to_owned()), "{report:#}");
}

/// A long view whose definition differs at its end: the difference itself is shown, as a
/// line diff, not cut off after a few hundred characters.
fn long_view_difference_is_a_line_diff(d: Dialect) {
    let p = Project::empty(d);
    let columns: Vec<String> = (1..=40).map(|i| format!("c{i} INTEGER")).collect();
    p.write(
        "20260901000000_create_wide/up.sql",
        &format!(
            "CREATE TABLE wide (id INTEGER PRIMARY KEY, {});\n",
            columns.join(", ")
        ),
    );
    let view = |limit: u32| {
        let picked: Vec<String> = (1..=40).map(|i| format!("w.c{i}")).collect();
        format!(
            "CREATE VIEW wide_recent AS SELECT w.id, {} FROM wide w WHERE w.c40 > {limit}",
            picked.join(", ")
        )
    };
    p.write(
        "20260902000000_create_wide_recent/up.sql",
        &format!("{};\n", view(1000)),
    );
    p.godwit(&["deploy"]).expect(0);
    p.db.exec("DROP VIEW wide_recent");
    p.db.exec(&view(2000));

    let out = verify(&p, &[]);
    out.expect(4)
        .says("view wide_recent differs (the migrations -, the database +):");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let minus = lines
        .iter()
        .find(|l| l.starts_with("- ") && l.contains("1000"))
        .unwrap_or_else(|| panic!("no - line with 1000 in\n{}", out.text()));
    let plus = lines
        .iter()
        .find(|l| l.starts_with("+ ") && l.contains("2000"))
        .unwrap_or_else(|| panic!("no + line with 2000 in\n{}", out.text()));
    assert!(
        minus.contains("c40") && plus.contains("c40"),
        "{minus} / {plus}"
    );
    // Only the line that differs is marked.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("- ") || l.starts_with("+ "))
            .count(),
        2,
        "{}",
        out.text()
    );
}

/// A database nothing was deployed to (no history table at all) is compared with an empty
/// schema: its own tables are drift, the pending migrations are not.
fn never_deployed_target_is_compared_with_nothing(d: Dialect) {
    let p = Project::new(d, "migrations_verify");
    p.db.exec("CREATE TABLE legacy_users (id INTEGER PRIMARY KEY)");
    verify(&p, &[])
        .expect(4)
        // Hundreds of pending migrations would be hundreds of names: the ends only.
        .says("the target has 3 pending migrations (from 20260801000000_create_users to 20260803000000_seed_users)")
        .says("compared with an empty schema, since nothing is applied there yet")
        .says("table legacy_users: in the database but not in the migrations");
    assert!(
        !p.db.table_exists("godwit_migrations"),
        "verify does not write to the target"
    );
}

/// Introspection must be deterministic: the same migrations, two fresh databases, one
/// schema, and a schema that holds what the migrations made.
fn same_migrations_give_equal_schemas(d: Dialect) {
    let p = Project::new(d, "migrations_verify");
    let other = TestDb::new(d);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = |url: &str| -> Schema {
        let overrides = Overrides {
            database_url: Some(url.to_string()),
            ..Default::default()
        };
        let config = Config::load(p.path(), &overrides).unwrap();
        runtime.block_on(async {
            let mut migrator = Migrator::connect(&config).await.unwrap();
            migrator.deploy(&Default::default()).await.unwrap();
            migrator.driver().introspect().await.unwrap()
        })
    };
    let a = schema(&p.db.url);
    let b = schema(&other.url);
    assert_eq!(a, b);

    assert_eq!(
        a.tables.keys().collect::<Vec<_>>(),
        ["posts", "users"],
        "godwit's own tables are left out"
    );
    let users = &a.tables["users"];
    let email = &users.columns["email"];
    assert!(!email.nullable);
    assert_eq!(email.data_type, "varchar(255)");
    assert!(users.columns["name"].nullable);
    assert!(users.columns["created_at"].default.is_some());
    assert_eq!(users.indexes["users_email_idx"].columns[0], "email");
    let recent = &users.indexes["users_recent_idx"];
    assert_eq!(recent.columns[0], "created_at DESC");
    let posts = &a.tables["posts"];
    let foreign = posts
        .constraints
        .values()
        .find(|c| c.kind == ConstraintKind::ForeignKey)
        .expect("posts has a foreign key");
    let reference = foreign.references.as_ref().unwrap();
    assert_eq!(foreign.columns, ["user_id"]);
    assert_eq!(reference.table, "users");
    assert_eq!(reference.on_delete, "cascade");
    assert!(
        posts
            .constraints
            .values()
            .any(|c| c.kind == ConstraintKind::Check
                && c.expression.as_deref().unwrap().contains("score")),
        "{:?}",
        posts.constraints
    );
    assert!(
        posts
            .constraints
            .values()
            .any(|c| c.kind == ConstraintKind::PrimaryKey && c.columns == ["id"])
    );
    assert!(a.views["popular_posts"].contains("score"));
    assert_eq!(a.triggers.len(), 1, "{:?}", a.triggers);
    match d {
        Dialect::Postgres => {
            assert_eq!(
                users.columns["id"].default.as_deref(),
                Some("nextval('users_id_seq')")
            );
            assert_eq!(
                users.indexes["users_recent_idx"].predicate.as_deref(),
                Some("name IS NOT NULL")
            );
            assert_eq!(
                users.indexes["users_lower_name_idx"].columns,
                ["lower(name)"]
            );
            assert_eq!(a.enums["user_role"], "ENUM ('reader', 'writer', 'admin')");
            assert!(a.sequences.contains_key("invoice_numbers"));
            assert!(
                !a.sequences.contains_key("users_id_seq"),
                "owned by users.id"
            );
            assert!(a.routines.contains_key("post_count(uid integer)"));
            assert!(
                posts.columns["id"]
                    .generated
                    .as_deref()
                    .is_some_and(|g| g.contains("IDENTITY"))
            );
        }
        Dialect::MySql => {
            assert_eq!(users.columns["id"].data_type, "int");
            assert_eq!(
                users.columns["id"].generated.as_deref(),
                Some("auto_increment")
            );
            assert!(users.indexes["users_email_key"].unique);
            assert_eq!(
                users.indexes["users_recent_idx"].columns,
                ["created_at DESC", "name(20)"]
            );
            assert!(
                posts.columns["title_length"]
                    .generated
                    .as_deref()
                    .is_some_and(|g| g.contains("GENERATED ALWAYS AS") && g.contains("VIRTUAL"))
            );
            assert!(a.routines.contains_key("post_count"));
        }
        Dialect::Sqlite => {
            assert_eq!(
                users.columns["id"].generated.as_deref(),
                Some("AUTOINCREMENT")
            );
            assert!(users.constraints.contains_key("UNIQUE (email)"));
            assert_eq!(
                users.indexes["users_lower_name_idx"].columns,
                ["lower(name)"]
            );
            assert_eq!(
                users.indexes["users_recent_idx"].predicate.as_deref(),
                Some("name IS NOT NULL")
            );
        }
    }
}

#[test]
fn keep_shadow_leaves_the_sqlite_file() {
    let p = deployed(Dialect::Sqlite);
    let out = p.godwit(&["verify", "--keep-shadow"]);
    out.expect(0).says("kept for inspection");
    let location = shadow_location(&out);
    assert!(Path::new(&location).exists());
    std::fs::remove_dir_all(Path::new(&location).parent().unwrap()).unwrap();
}

#[test]
fn shadow_url_on_postgres() {
    let p = deployed(Dialect::Postgres);
    let shadow = TestDb::new(Dialect::Postgres);
    let tables_in =
        |db: &TestDb| db.int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");

    p.godwit(&["verify", "--shadow-url", &shadow.url])
        .expect(0)
        .says("(given; emptied first)")
        .says("No drift")
        .says("was emptied");
    assert_eq!(tables_in(&shadow), 0, "the given shadow is left empty");

    // From godwit.toml, through the environment, and drift is still found.
    std::fs::write(
        p.path().join("godwit.toml"),
        "shadow_url = \"env(GODWIT_TEST_SHADOW)\"\n",
    )
    .unwrap();
    p.db.exec("ALTER TABLE posts ADD COLUMN draft BOOLEAN NOT NULL DEFAULT false");
    let mut cmd = p.command(&["verify"]);
    cmd.env("GODWIT_TEST_SHADOW", &shadow.url);
    run(cmd)
        .expect(4)
        .says("(given; emptied first)")
        .says("column posts.draft: in the database but not in the migrations");
    assert_eq!(tables_in(&shadow), 0);

    // A shadow with something in it is not ours to empty.
    shadow.exec("CREATE TABLE precious (id INTEGER)");
    p.godwit(&["verify", "--shadow-url", &shadow.url])
        .expect(2)
        .says("is not empty: table precious")
        .says("point --shadow-url at an empty database");
    assert!(shadow.table_exists("precious"));

    // Nor is the target itself.
    p.godwit(&["verify", "--shadow-url", &p.db.url])
        .expect(2)
        .says("points at the target database itself");
    assert!(p.db.table_exists("users"));
}

#[test]
fn shadow_needs_createdb_or_shadow_url() {
    let p = Project::new(Dialect::Postgres, "migrations_verify");
    let role = format!("{}_nocreatedb", p.db.name);
    admin(&PG_ADMIN, &format!("CREATE ROLE {role} LOGIN NOCREATEDB"));
    p.db.exec(&format!("GRANT ALL ON SCHEMA public TO {role}"));
    let url = PG_SERVER.replace("postgres@", &format!("{role}@")) + "/" + &p.db.name;
    let as_role = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .args(["--database-url", &url])
            .args(args);
        run(cmd)
    };
    let deployed = as_role(&["deploy"]);
    let verified = as_role(&["verify"]);
    // The role owns the objects in the test database only, which goes with `p`.
    drop(p);
    admin(&PG_ADMIN, &format!("DROP ROLE {role}"));
    deployed.expect(0);
    verified
        .expect(2)
        .says("may not create databases")
        .says("ALTER ROLE <user> CREATEDB")
        .says("--shadow-url");
}

/// Migrations that go to another schema through the URL's search_path: the fresh shadow
/// needs that schema too, and names must not carry it into the comparison.
#[test]
fn search_path_schema_on_postgres() {
    let p = Project::new(Dialect::Postgres, "migrations_verify");
    p.db.exec("CREATE SCHEMA app");
    let url = format!("{}?options=-c%20search_path%3Dapp", p.db.url);
    let godwit = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .args(["--database-url", &url])
            .args(args);
        run(cmd)
    };
    godwit(&["deploy"]).expect(0);
    assert!(p.db.int("SELECT count(*) FROM pg_tables WHERE schemaname = 'app'") >= 2);
    let out = godwit(&["verify"]);
    assert_shadow_gone(Dialect::Postgres, &shadow_location(&out));
    out.expect(0).says("No drift");
}

/// A cancelled CI job (SIGTERM) in the middle of a migration on the shadow still drops it.
#[test]
fn terminated_verify_drops_the_shadow() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let p = deployed(Dialect::Postgres);
    p.write(
        "20260806000000_wait_for_replicas/up.sql",
        "SELECT pg_sleep(120);\n",
    );
    let mut child = p
        .command(&["verify"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let location = first
        .strip_prefix("Shadow database ")
        .and_then(|l| l.split(" (").next())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    let exists = || {
        admin_int(
            Dialect::Postgres,
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{location}'"),
        )
    };
    // Wait until the shadow is in the slow migration, so that SIGTERM lands mid-statement.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while admin_int(
        Dialect::Postgres,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{location}' AND query LIKE '%pg_sleep%'"
        ),
    ) == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow migration never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(exists(), 1);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("verify was interrupted: terminated (SIGTERM)"),
        "{stderr}"
    );
    assert_shadow_gone(Dialect::Postgres, &location);
}

#[test]
fn shadow_needs_create_privilege_on_mysql() {
    let p = deployed(Dialect::MySql);
    // MySQL user names are short; the database name's unique tail keeps this one unique.
    let tail = &p.db.name[p.db.name.len().saturating_sub(20)..];
    let user = format!("gw_nocreate_{tail}");
    admin(MY_ADMIN, &format!("CREATE USER '{user}'@'%'"));
    admin(
        MY_ADMIN,
        &format!("GRANT ALL ON `{}`.* TO '{user}'@'%'", p.db.name),
    );
    let mut cmd = godwit_cmd();
    cmd.arg("-C").arg(p.path()).args([
        "--database-url",
        &format!("mysql://{user}@127.0.0.1:3306/{}", p.db.name),
        "verify",
    ]);
    let out = run(cmd);
    admin(MY_ADMIN, &format!("DROP USER '{user}'@'%'"));
    out.expect(2)
        .says("may not create databases")
        .says("GRANT ALL ON `godwit_shadow_%`.*")
        .says("--shadow-url");
}

/// A function replaced by hand with one line changed late in a long body: that line is
/// shown, as a line diff.
fn function_difference_is_a_line_diff(d: Dialect) {
    let p = Project::empty(d);
    let function = |last: &str| {
        let steps: Vec<String> = (1..=25).map(|i| format!("  + {i}")).collect();
        match d {
            Dialect::Postgres => format!(
                "CREATE FUNCTION late_total() RETURNS integer LANGUAGE sql AS $$\nSELECT 0\n{}\n  + {last}\n$$",
                steps.join("\n")
            ),
            _ => format!(
                "CREATE FUNCTION late_total() RETURNS INT DETERMINISTIC\nRETURN 0\n{}\n  + {last}",
                steps.join("\n")
            ),
        }
    };
    p.write(
        "20260901000000_create_late_total/up.sql",
        &format!("{};\n", function("1000")),
    );
    p.godwit(&["deploy"]).expect(0);
    verify(&p, &[]).expect(0).says("No drift");
    p.db.exec("DROP FUNCTION late_total");
    p.db.exec(&function("2000"));
    let out = verify(&p, &[]);
    out.expect(4)
        .says("differs (the migrations -, the database +):");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let marked = |sign: &str, text: &str| {
        lines
            .iter()
            .any(|l| l.strip_prefix(sign).is_some_and(|rest| rest.trim() == text))
    };
    assert!(marked("-", "+ 1000"), "{}", out.text());
    assert!(marked("+", "+ 2000"), "{}", out.text());
    assert!(
        lines.iter().any(|l| l.contains("unchanged lines")),
        "{}",
        out.text()
    );
}

#[test]
fn function_difference_is_a_line_diff_on_postgres() {
    function_difference_is_a_line_diff(Dialect::Postgres);
}

#[test]
fn function_difference_is_a_line_diff_on_mysql() {
    function_difference_is_a_line_diff(Dialect::MySql);
}

/// A repeatable migration has no down: a full down leaves what it made, and verify says
/// why that difference is there.
#[test]
fn repeatable_migrations_are_named_in_a_full_down() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "V1__create_tags.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);\n",
    );
    p.write("U1__create_tags.sql", "DROP TABLE tags;\n");
    p.write(
        "R__tag_names.sql",
        "DROP VIEW IF EXISTS tag_names;\nCREATE VIEW tag_names AS SELECT name FROM tags;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    verify(&p, &["--down-all"])
        .expect(4)
        .says("down all: 1 down.sql file ran from the newest migration back to before the first migration")
        .says("view tag_names still exists after down.sql")
        .says("note: repeatable migrations (R__tag_names")
        .says("are never reverted");
}

/// A failing script is named as its layout names it: Prisma's is migration.sql (verify
/// said "up.sql of …", a file the user does not have).
#[test]
fn a_failing_script_is_named_by_its_own_file() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20260101000000_init/migration.sql",
        "CREATE TABLE \"User\" (\"id\" INTEGER NOT NULL PRIMARY KEY);\n",
    );
    p.write(
        "20260102000000_copy/migration.sql",
        "INSERT INTO \"User\" (\"id\") SELECT \"id\" FROM \"LegacyUser\";\n",
    );
    let out = p.godwit(&["verify"]);
    out.says("migration.sql of 20260102000000_copy failed");
    assert!(!out.text().contains("up.sql of"), "{}", out.text());

    // goose keeps up and down in one file: the failing one is the file's Down section.
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20260101000000_users.sql",
        "-- +goose Up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n-- +goose Down\nDROP TABLE userz;\n",
    );
    let out = p.godwit(&["verify"]);
    out.says("the `-- +goose Down` section of 20260101000000_users.sql failed");
    assert!(
        !out.text().contains("down.sql of 20260101000000_users"),
        "{}",
        out.text()
    );
}

/// A down.sql that undoes more than its up.sql (here a CASCADE that also drops a
/// trigger an earlier migration made) leaves the round-tripped shadow without it. That
/// is the down.sql's fault, reported as such; the database, built by a plain deploy,
/// has the trigger as the migrations build it, so it is not drift.
#[test]
fn a_down_that_undoes_too_much_does_not_make_drift_of_the_database() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20260101000000_trigger/up.sql",
        "CREATE TABLE t (id int, touched timestamptz);\n\
         CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched = now(); RETURN NEW; END $$;\n\
         CREATE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();\n",
    );
    p.write(
        "20260101000000_trigger/down.sql",
        "DROP TABLE t;\nDROP FUNCTION f();\n",
    );
    p.write(
        "20260102000000_replace/up.sql",
        "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched = clock_timestamp(); RETURN NEW; END $$;\n",
    );
    p.write(
        "20260102000000_replace/down.sql",
        "DROP FUNCTION f() CASCADE;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = verify(&p, &[]);
    out.expect(4).says("20260102000000_replace");
    assert!(
        !out.text()
            .contains("trigger trg on t: in the database but not in the migrations"),
        "{}",
        out.text()
    );
}

/// Migrations that build their tables in a schema of their own (thunderdome keeps
/// everything in `thunderdome`, apalis in `apalis`, with the history in `public`): verify
/// compares the schemas they create along with the current one, so a column added there
/// by hand is drift, and a down.sql that leaves a table there is caught. A schema no
/// migration creates is named as not looked into.
#[test]
fn schemas_the_migrations_create_are_compared_on_postgres() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "1_init.up.sql",
        "CREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE app.t (id int PRIMARY KEY, v text);\nCREATE TABLE plain (id int);\n\
         CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n",
    );
    p.write(
        "1_init.down.sql",
        "DROP TABLE plain;\nDROP FUNCTION app.f();\nDROP TABLE app.t;\nDROP SCHEMA app;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    verify(&p, &[]).expect(0).says("No drift");

    p.db.exec("ALTER TABLE app.t ADD COLUMN handmade int");
    p.db.exec("CREATE SCHEMA elsewhere");
    p.db.exec("CREATE TABLE elsewhere.x (id int)");
    let out = verify(&p, &[]);
    out.expect(4)
        .says("column app.t.handmade: in the database but not in the migrations")
        .says("the schemas the migrations create (app)")
        .says("schema elsewhere (1 table or view)");
    assert!(!out.text().contains("schema app ("), "{}", out.text());

    // A down.sql that leaves the other schema's table behind does not undo its up.sql.
    let q = Project::empty(Dialect::Postgres);
    q.write(
        "1_init.up.sql",
        "CREATE SCHEMA app;\nCREATE TABLE app.t (id int PRIMARY KEY);\n",
    );
    q.write("1_init.down.sql", "SELECT 1;\n");
    q.write("2_more.up.sql", "CREATE TABLE app.u (id int);\n");
    q.write("2_more.down.sql", "DROP TABLE app.u;\n");
    q.godwit(&["deploy"]).expect(0);
    let out = verify(&q, &[]);
    out.expect(4)
        .says("down.sql of 1_init does not undo its up.sql")
        .says("table app.t still exists after down.sql");

    // A history in the current schema alone gets no note.
    let plain = Project::empty(Dialect::Postgres);
    plain.write("1_init.up.sql", "CREATE TABLE plain (id int);\n");
    plain.write("1_init.down.sql", "DROP TABLE plain;\n");
    plain.godwit(&["deploy"]).expect(0);
    let out = verify(&plain, &[]);
    out.expect(0).says("No drift");
    assert!(!out.text().contains("does not look into"), "{}", out.text());
}

/// When the one-at-a-time down checks left the first shadow changed and later scripts
/// failed on it, the drift verdict comes from the second shadow, built straight up, and
/// says so. A script that failed on the first shadow only is the down.sql's doing: not
/// reversible (exit 4), not a failing script (exit 1).
#[test]
fn the_drift_verdict_names_the_shadow_it_came_from() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "1_create.up.sql",
        "CREATE TABLE t (id integer PRIMARY KEY);\nCREATE TABLE u (id integer PRIMARY KEY);\n",
    );
    p.write("1_create.down.sql", "DROP TABLE u;\n");
    p.write("2_add_x.up.sql", "ALTER TABLE u ADD COLUMN x text;\n");
    p.godwit(&["deploy"]).expect(0);
    verify(&p, &[])
        .expect(4)
        .says("no such table: u")
        .says("No drift: ")
        .says("as the second shadow database built them straight up");
    p.db.exec("ALTER TABLE u ADD COLUMN handmade int");
    verify(&p, &[]).expect(4).says("column u.handmade");
}

/// flipt's golang-migrate folder has no down files: `verify --down-all` has nothing to run,
/// and its progress line says so instead of announcing a run it then says never happened.
#[test]
fn down_all_with_no_down_script_on_top_says_there_is_none_to_run() {
    let p = Project::empty(Dialect::Sqlite);
    p.write("1_a.up.sql", "CREATE TABLE a (id integer);\n");
    p.write("1_a.down.sql", "DROP TABLE a;\n");
    p.write("2_b.up.sql", "CREATE TABLE b (id integer);\n");
    p.godwit(&["deploy"]).expect(0);
    let out = verify(&p, &["--down-all"]);
    out.expect(0)
        .says("down: none to run, since the newest migration, 2_b, has no down.sql")
        .says("no down.sql ran");
    assert!(
        !out.text()
            .contains("every down.sql from the newest migration back to"),
        "{}",
        out.text()
    );
}

/// The langfuse trial: status said the failed migration had nothing of it applied (its
/// transaction was rolled back), and verify's note said part of it may be in the
/// database. verify now says what status says.
#[test]
fn a_failure_with_nothing_applied_is_noted_as_status_says_it() {
    let p = Project::empty(Dialect::Sqlite);
    p.write("20260101000000_a/up.sql", "CREATE TABLE a (id INTEGER);\n");
    p.write("20260101000000_a/down.sql", "DROP TABLE a;\n");
    p.write(
        "20260102000000_b/up.sql",
        "CREATE TABLE b (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
    );
    p.godwit(&["deploy"]).expect(1);
    p.godwit(&["status"])
        .says("failed with nothing of it applied");
    let out = verify(&p, &[]);
    out.says("20260102000000_b failed on the target with nothing of it applied");
    assert!(
        !out.text().contains("part of it may be in the database"),
        "{}",
        out.text()
    );
}

/// The zally trial: a column given another collation by hand (`COLLATE "C"`) sorts and
/// compares differently, and verify said "No drift". PostgreSQL compares it now, and a
/// collation the migrations give themselves is no drift; pull writes it.
#[test]
fn a_column_collation_changed_by_hand_is_drift_on_postgres() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20260101000000_names/up.sql",
        "CREATE TABLE names (a text NOT NULL, b text COLLATE \"C\");\n",
    );
    p.write("20260101000000_names/down.sql", "DROP TABLE names;\n");
    p.godwit(&["deploy"]).expect(0);
    verify(&p, &["--skip-down"]).expect(0).says("No drift");
    p.db.exec("ALTER TABLE names ALTER COLUMN a TYPE text COLLATE \"C\"");
    verify(&p, &["--skip-down"])
        .expect(4)
        .says("names")
        .says("COLLATE \"C\"");
    let out = p.godwit(&["pull"]);
    out.expect(0).says("b text COLLATE \"C\"");
}

/// A backfill step leaves godwit's checkpoint table (and, split over workers, its batches
/// table) behind on purpose; its down.sql cannot be asked to drop them, so verify does
/// not call them a difference. (The shop demo's first step was reported "not reversible"
/// for this.)
fn a_steps_own_tables_are_no_difference(d: Dialect) {
    let workers = if d == Dialect::Sqlite { 1 } else { 2 };
    let p = crate::steps::step_project(
        d,
        50,
        "[plugins.column-copy]\nbuiltin = \"column-copy\"\n[plugins.column-copy.grants]\nread = [\"items\"]\nwrite = [\"items.label_upper\"]\n",
        &format!(
            "plugin = \"column-copy\"\n[config]\ntable = \"items\"\nfrom = \"label\"\nto = \"label_upper\"\ntransform = \"lower-trim\"\n[batch]\nsize = 10\nworkers = {workers}\n"
        ),
    );
    p.write("20260101000000_items/down.sql", "DROP TABLE items");
    p.write(
        "20260102000000_backfill_items/down.sql",
        "UPDATE items SET label_upper = NULL",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = verify(&p, &[]);
    out.expect(0)
        .says("20260102000000_backfill_items  up, down, up: down.sql undoes up.sql")
        .says("No drift");
    assert!(
        !out.text().contains("godwit_step_progress"),
        "{}",
        out.text()
    );
    assert!(!out.text().contains("godwit_batches"), "{}", out.text());
}
