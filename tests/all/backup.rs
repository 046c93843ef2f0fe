//! Backups and restores on every database: whole-database backups restore identical
//! content, deploy takes them when the policy says so and restores them on failure, and
//! `down` puts back the data a DROP COLUMN or DROP TABLE destroyed. Every backup a test
//! takes is restored at least once, so each is proven restorable.

use std::process::Command;

use crate::each_dialect;
use crate::support::*;

each_dialect!(
    backup_then_restore_gives_identical_content,
    destructive_deploy_takes_a_backup_that_restores_the_state_before_it,
    down_puts_back_dropped_columns_and_tables,
    restore_on_failure_undoes_the_whole_deploy,
    restore_on_failure_undoes_sql_migrations_before_a_refused_step,
    schemas_types_routines_and_triggers_survive_a_restore,
    quoted_names_and_composite_keys_are_put_back,
    down_that_drops_data_takes_a_backup_first,
    down_that_renames_then_drops_backs_up_only_tables_with_rows,
);

#[test]
fn drops_through_dynamic_sql_take_a_backup_postgres() {
    drops_through_dynamic_sql_take_a_backup(Dialect::Postgres);
}

#[test]
fn drops_through_dynamic_sql_take_a_backup_mysql() {
    drops_through_dynamic_sql_take_a_backup(Dialect::MySql);
}

/// Everything in the database as text, schema and rows, by the database's own tool where
/// there is one. `except_history` leaves out the history table (and its id counter).
fn snapshot(p: &Project, except_history: bool) -> String {
    let text = match p.db.dialect {
        Dialect::Postgres => {
            let mut cmd = Command::new("pg_dump");
            cmd.args(["--no-password", "-h", "127.0.0.1", "-U", "postgres"]);
            if except_history {
                cmd.arg("--exclude-table-data=godwit_migrations");
            }
            // Copies of dropped data are godwit's, outside what a backup covers.
            cmd.arg("--exclude-schema=godwit_copies");
            cmd.arg(&p.db.name);
            tool_output(cmd)
                .lines()
                // Comments carry dump times; \restrict carries a random key per dump.
                .filter(|l| !l.starts_with("--") && !l.starts_with('\\'))
                .filter(|l| !(except_history && l.contains("godwit_migrations_id_seq', ")))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Dialect::MySql => {
            let mut cmd = Command::new("mariadb-dump");
            cmd.args([
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                "3306",
                "-u",
                "root",
                "--skip-dump-date",
                "--skip-comments",
                "--routines",
                "--triggers",
                "--events",
            ]);
            if except_history {
                cmd.arg(format!("--ignore-table={}.godwit_migrations", p.db.name));
            }
            cmd.arg(&p.db.name);
            tool_output(cmd)
        }
        Dialect::Sqlite => {
            let mut out = String::new();
            let objects = p.db.rows(
                "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name",
            );
            for o in &objects {
                if except_history && o[2] == "godwit_migrations" {
                    continue;
                }
                out.push_str(&format!("{o:?}\n"));
            }
            for o in objects.iter().filter(|o| o[0] == "table") {
                if except_history && o[1] == "godwit_migrations" {
                    continue;
                }
                let filter = if except_history && o[1] == "sqlite_sequence" {
                    " WHERE name <> 'godwit_migrations'"
                } else {
                    ""
                };
                let mut rows = p.db.rows(&format!("SELECT * FROM \"{}\"{filter}", o[1]));
                rows.sort();
                for row in rows {
                    out.push_str(&format!("{}: {row:?}\n", o[1]));
                }
            }
            out
        }
    };
    assert!(text.len() > 100, "suspiciously empty snapshot:\n{text}");
    text
}

fn tool_output(mut cmd: Command) -> String {
    let out = cmd.output().expect("run the database's dump tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[track_caller]
fn assert_same(before: &str, after: &str) {
    if before != after {
        let diff: Vec<String> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .chain(
                after
                    .lines()
                    .filter(|l| !before.lines().any(|b| b == *l))
                    .take(10)
                    .map(|l| format!("only after: {l}")),
            )
            .collect();
        panic!(
            "content differs ({} vs {} lines):\n{}",
            before.lines().count(),
            after.lines().count(),
            diff.join("\n")
        );
    }
}

fn backups(p: &Project) -> Vec<serde_json::Value> {
    let out = p.godwit(&["backups", "--json"]);
    out.expect(0);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    value["backups"].as_array().unwrap().clone()
}

/// The ID of the project's one backup, whose reason says `reason`.
#[track_caller]
fn the_one_backup(p: &Project, reason: &str) -> String {
    let list = backups(p);
    assert_eq!(list.len(), 1, "{list:?}");
    let said = list[0]["reason"].as_str().unwrap();
    assert!(said.contains(reason), "{said}");
    list[0]["id"].as_str().unwrap().to_string()
}

fn text_type(d: Dialect) -> &'static str {
    if d == Dialect::MySql {
        "VARCHAR(255)"
    } else {
        "TEXT"
    }
}

/// A project with a `people` table (primary key), a `tags` table and a keyless `notes`
/// table, deployed and seeded.
fn people_project(d: Dialect) -> Project {
    let p = Project::empty(d);
    write_people(&p);
    p.godwit(&["deploy"]).expect(0);
    p
}

fn write_people(p: &Project) {
    let text = text_type(p.db.dialect);
    p.write(
        "20260901000000_create_people/up.sql",
        &format!(
            "CREATE TABLE people (id INT PRIMARY KEY, name {text} NOT NULL, email {text}, nickname {text});\n\
             CREATE TABLE tags (id INT PRIMARY KEY, person_id INT, label {text});\n\
             CREATE TABLE notes (body {text}, stars INT);\n\
             CREATE INDEX people_name_idx ON people (name);\n\
             CREATE VIEW people_emails AS SELECT id, email FROM people;\n\
             INSERT INTO people VALUES (1, 'Ada', 'ada@example.com', 'ada'), (2, 'Grace', NULL, 'amazing'), (3, 'Edsger', 'ewd@example.com', NULL);\n\
             INSERT INTO tags VALUES (10, 1, 'math'), (11, 2, 'navy'), (12, 3, 'goto');\n\
             INSERT INTO notes VALUES ('first', 3), ('second', NULL);\n"
        ),
    );
    p.write(
        "20260901000000_create_people/down.sql",
        "DROP VIEW people_emails;\nDROP TABLE notes;\nDROP TABLE tags;\nDROP TABLE people;\n",
    );
}

fn backup_then_restore_gives_identical_content(d: Dialect) {
    let p = people_project(d);
    let before = snapshot(&p, false);
    let out = p.godwit(&["backup", "--json"]);
    out.expect(0);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = value["backup"]["id"].as_str().unwrap().to_string();
    assert_eq!(value["backup"]["reason"], "manual");
    assert_eq!(value["backup"]["applied"][0], "20260901000000");
    assert!(value["backup"]["size"].as_u64().unwrap() > 0);
    assert!(std::path::Path::new(value["path"].as_str().unwrap()).starts_with(p.path()));

    // Change rows, schema and history: all of it must go back.
    let text = text_type(d);
    p.db.exec(&format!(
        "UPDATE people SET email = 'changed' WHERE id = 1; DELETE FROM tags WHERE id = 11; \
         INSERT INTO notes VALUES ('third', 5); CREATE TABLE intruder (x {text}); DROP VIEW people_emails"
    ));
    p.write(
        "20260902000000_add_people_age/up.sql",
        "ALTER TABLE people ADD COLUMN age INT;",
    );
    p.godwit(&["deploy"]).expect(0);
    assert_ne!(snapshot(&p, false), before);

    p.godwit(&["backups"])
        .expect(0)
        .says(&id)
        .says("ago")
        .says("manual");
    p.godwit(&["restore", &id])
        .expect(0)
        .says("history table was restored too")
        .says("1 migration applied then");
    assert_same(&before, &snapshot(&p, false));
    p.godwit(&["status"])
        .expect(5)
        .says("20260902000000")
        .says("1 pending");
    // The restored database works as before: the next deploy applies the rest.
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");

    p.godwit(&["restore", "20990101T000000Z-abcdef"])
        .expect(2)
        .says("there is no backup 20990101T000000Z-abcdef");
}

fn destructive_deploy_takes_a_backup_that_restores_the_state_before_it(d: Dialect) {
    let p = people_project(d);
    let before = snapshot(&p, false);
    assert!(backups(&p).is_empty());
    p.write(
        "20260902000000_drop_people_nickname/up.sql",
        "ALTER TABLE people DROP COLUMN nickname;\nDROP TABLE notes;\n",
    );
    let out = p.godwit(&["deploy", "--json"]);
    out.expect(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let list = backups(&p);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(report["backup"], list[0]["id"]);
    assert!(
        list[0]["reason"]
            .as_str()
            .unwrap()
            .contains("destructive: 20260902000000_drop_people_nickname"),
        "{list:?}"
    );
    assert_eq!(list[0]["applied"][0], "20260901000000");
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert!(!p.db.table_exists("notes"));

    p.godwit(&["restore", &id]).expect(0);
    assert_same(&before, &snapshot(&p, false));
    assert!(p.db.table_exists("notes"));
    p.godwit(&["status"]).expect(5).says("1 pending");

    // A non-destructive deploy takes no backup under the default policy.
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260903000000_add_people_age/up.sql",
        "ALTER TABLE people ADD COLUMN age INT;",
    );
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        backups(&p).len(),
        2,
        "one more for the redeployed drop only"
    );
    for b in backups(&p) {
        assert!(
            b["reason"]
                .as_str()
                .unwrap()
                .contains("20260902000000_drop_people_nickname"),
            "{b}"
        );
    }
    let second = backups(&p)[1]["id"].as_str().unwrap().to_string();
    p.godwit(&["restore", &second]).expect(0);
    assert_same(&before, &snapshot(&p, false));
}

/// A down.sql drops what its up created, which by then holds data: under the default
/// policy `down` backs up first, and the backup restores the rows the down dropped.
fn down_that_drops_data_takes_a_backup_first(d: Dialect) {
    let p = people_project(d);
    assert!(backups(&p).is_empty());
    let out = p.godwit(&["down", "--json"]);
    out.expect(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = the_one_backup(
        &p,
        "before down of 20260901000000_create_people; destructive",
    );
    assert_eq!(report["backup"], id.as_str());
    assert!(!p.db.table_exists("people"));
    p.godwit(&["restore", &id]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM people"), 3);
    p.godwit(&["status"]).expect(0);

    // With the policy at `never`, down takes none; a down that drops nothing takes none
    // under the default.
    p.write(
        "20260902000000_add_index/up.sql",
        "CREATE INDEX tags_label_idx ON tags (label);\n",
    );
    p.write(
        "20260902000000_add_index/down.sql",
        &format!(
            "DROP INDEX tags_label_idx{};\n",
            if d == Dialect::MySql { " ON tags" } else { "" }
        ),
    );
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"]).expect(0);
    assert_eq!(backups(&p).len(), 1);
    std::fs::write(
        p.path().join("godwit.toml"),
        format!(
            "{}\n[backup]\npolicy = \"never\"\n",
            std::fs::read_to_string(p.path().join("godwit.toml")).unwrap_or_default()
        ),
    )
    .unwrap();
    p.godwit(&["down"]).expect(0);
    assert!(!p.db.table_exists("people"));
    assert_eq!(backups(&p).len(), 1);
}

/// keto's SQLite rebuild down renames a table, then drops the renamed one: the rows are
/// the table's own, so down backs up first. A down whose tables hold no row (reverting
/// what was never used) takes none.
fn down_that_renames_then_drops_backs_up_only_tables_with_rows(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "1_accounts/up.sql",
        "CREATE TABLE accounts (id INT PRIMARY KEY, email VARCHAR(50));\n",
    );
    p.write(
        "1_accounts/down.sql",
        "ALTER TABLE accounts RENAME TO accounts_old;\nDROP TABLE accounts_old;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"]).expect(0);
    assert!(backups(&p).is_empty(), "an empty table needs no backup");
    p.godwit(&["deploy"]).expect(0);
    p.db.exec("INSERT INTO accounts VALUES (1, 'a@x'), (2, 'b@x')");
    p.godwit(&["down"]).expect(0);
    let id = the_one_backup(&p, "destructive: 1_accounts");
    p.godwit(&["restore", &id]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM accounts"), 2);
}

/// A drop built at run time (a `DO` block's `EXECUTE`, MySQL's `PREPARE` from a string,
/// a procedure the migration calls) is text until it runs; deploy backs up before it
/// all the same, and a migration whose dynamic SQL only adds does not.
fn drops_through_dynamic_sql_take_a_backup(d: Dialect) {
    let p = people_project(d);
    let (adds, drops) = match d {
        Dialect::Postgres => (
            "DO $$ BEGIN EXECUTE 'ALTER TABLE people ADD COLUMN age int'; \
             ALTER TABLE tags ADD CONSTRAINT tags_person_fk FOREIGN KEY (person_id) REFERENCES people (id) ON DELETE CASCADE; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n"
                .to_string(),
            "DO $$ BEGIN EXECUTE format('ALTER TABLE %I DROP COLUMN %I', 'people', 'nickname'); END $$;\n"
                .to_string(),
        ),
        Dialect::MySql => (
            "SET @s := 'ALTER TABLE people ADD COLUMN age INT';\nPREPARE st FROM @s;\nEXECUTE st;\nDEALLOCATE PREPARE st;\n"
                .to_string(),
            "SET @s := IF(1 = 1, 'ALTER TABLE people DROP COLUMN nickname', 'SELECT 1');\nPREPARE st FROM @s;\nEXECUTE st;\nDEALLOCATE PREPARE st;\n"
                .to_string(),
        ),
        Dialect::Sqlite => unreachable!("SQLite has no dynamic SQL"),
    };
    p.write("20260902000000_add_age/up.sql", &adds);
    p.godwit(&["deploy"]).expect(0);
    assert!(backups(&p).is_empty(), "dynamic SQL that only adds");
    p.write("20260903000000_drop_nickname/up.sql", &drops);
    p.godwit(&["deploy"]).expect(0);
    let id = the_one_backup(&p, "destructive: 20260903000000_drop_nickname");
    p.godwit(&["restore", &id]).expect(0);
    assert_eq!(
        p.db.int("SELECT count(*) FROM people WHERE nickname IS NOT NULL"),
        2
    );
}

fn down_puts_back_dropped_columns_and_tables(d: Dialect) {
    let p = people_project(d);
    let before = snapshot(&p, false);
    let text = text_type(d);
    let emails = "SELECT id, coalesce(email, 'NULL') FROM people ORDER BY id";
    let original_emails = p.db.rows(emails);
    let tags = "SELECT id, person_id, label FROM tags ORDER BY id";
    let original_tags = p.db.rows(tags);
    p.write(
        "20260902000000_drop_people_email/up.sql",
        "DROP VIEW people_emails;\nCREATE TABLE audit (id INT PRIMARY KEY);\nALTER TABLE people DROP COLUMN email;\n",
    );
    p.write(
        "20260902000000_drop_people_email/down.sql",
        &format!(
            "ALTER TABLE people ADD COLUMN email {text};\nDROP TABLE audit;\n\
             CREATE VIEW people_emails AS SELECT id, email FROM people;\n"
        ),
    );
    p.write(
        "20260903000000_drop_tags/up.sql",
        "DROP TABLE IF EXISTS tags;\n",
    );
    p.write(
        "20260903000000_drop_tags/down.sql",
        &format!("CREATE TABLE tags (id INT PRIMARY KEY, person_id INT, label {text});\n"),
    );
    // notes has no primary key: its dropped column is not copied, and the run says so.
    p.write(
        "20260904000000_drop_notes_stars/up.sql",
        "ALTER TABLE notes DROP COLUMN stars;",
    );
    p.write(
        "20260904000000_drop_notes_stars/down.sql",
        "ALTER TABLE notes ADD COLUMN stars INT;",
    );
    let store = p.db.copies_name();
    p.godwit(&["deploy"])
        .expect(0)
        .says(&format!(
            "copied people.email (3 rows) into {store}.people_email_20260902000000_3"
        ))
        .says(&format!(
            "copied tags (3 rows) into {store}.tags_20260903000000_1"
        ))
        .says("not copying notes.stars")
        .says("no primary key");
    let (copies, at) = p.db.copies();
    let records = format!(
        "SELECT kind, source_table, coalesce(source_column, '-'), coalesce(key_columns, '-'), state FROM {at}godwit_data_copies ORDER BY copy_table"
    );
    assert_eq!(
        copies.rows(&records),
        vec![
            vec!["column", "people", "email", "[\"id\"]", "copied"],
            vec!["table", "tags", "-", "-", "copied"]
        ]
    );

    p.godwit(&["down", "--steps", "3"])
        .expect(0)
        .says(&format!(
            "put back tags (3 rows) from {store}.tags_20260903000000_1"
        ))
        .says(&format!(
            "put back people.email (3 rows) from {store}.people_email_20260902000000_3"
        ))
        .says("Put back 2 copies of dropped data (6 rows).");
    assert_eq!(p.db.rows(emails), original_emails);
    assert_eq!(p.db.rows(tags), original_tags);
    assert_eq!(
        copies.int(&format!(
            "SELECT count(*) FROM {at}godwit_data_copies WHERE state <> 'restored'"
        )),
        0
    );
    assert_eq!(
        copies.int(&format!("SELECT count(*) FROM {at}godwit_data_copies")),
        2,
        "the records stay, the copies go"
    );

    // Deployed again: a down.sql that does not re-create the table keeps the copy.
    p.write("20260903000000_drop_tags/down.sql", "SELECT 1;\n");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down", "--steps", "2"])
        .expect(0)
        .says(&format!("kept {store}.tags_20260903000000_1_copy2"))
        .says("down.sql did not re-create tags")
        .says(&format!("kept 1 ({store}.tags_20260903000000_1_copy2)"));
    assert_eq!(
        copies.int(&format!(
            "SELECT count(*) FROM {at}tags_20260903000000_1_copy2"
        )),
        3
    );

    // Each deploy above took a backup (they drop things). The downs took none: the only
    // table a down.sql dropped is audit, which its up created and nothing filled.
    // Restoring the first gives the database as it was before any of them.
    let list = backups(&p);
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter().all(|b| b["reason"]
            .as_str()
            .unwrap()
            .starts_with("before deploy of")),
        "{list:?}"
    );
    for b in &list {
        let id = b["id"].as_str().unwrap();
        p.godwit(&["restore", id]).expect(0);
    }
    p.godwit(&["restore", list[0]["id"].as_str().unwrap()])
        .expect(0);
    assert_same(&before, &snapshot(&p, false));
}

fn restore_on_failure_undoes_the_whole_deploy(d: Dialect) {
    let p = people_project(d);
    let before = snapshot(&p, true);
    let history_before = p.db.history();
    let text = text_type(d);
    p.write(
        "20260902000000_create_teams/up.sql",
        &format!("CREATE TABLE teams (id INT PRIMARY KEY, name {text});\nINSERT INTO teams VALUES (1, 'core');\n"),
    );
    // Fails at its third statement, after two that MySQL has committed already.
    p.write(
        "20260903000000_move_people_to_teams/up.sql",
        "ALTER TABLE people ADD COLUMN team_id INT;\nUPDATE people SET team_id = 1;\nINSERT INTO no_such_table VALUES (1);\nDROP TABLE notes;\n",
    );
    // With policy = "never", --restore-on-failure still takes the backup it needs.
    std::fs::write(
        p.path().join("godwit.toml"),
        "[backup]\npolicy = \"never\"\ndir = \"var/backups\"\n",
    )
    .unwrap();
    let failed = p.godwit(&["deploy", "--restore-on-failure"]);
    failed
        .expect(1)
        .says("backup ")
        .says("--restore-on-failure, before deploy of")
        .says("no_such_table")
        .says("restored backup")
        .says("nothing of this deploy remains in effect");
    // The restore undid the migration: the advice to resolve it by hand is gone.
    for advice in [
        "resolve --continue",
        "resolve --rolled-back",
        "resolve --applied",
        "pick one",
    ] {
        assert!(
            !failed.text().contains(advice),
            "{advice}: {}",
            failed.text()
        );
    }
    assert_same(&before, &snapshot(&p, true));
    assert!(!p.db.table_exists("teams"));

    // The history is what happened: the run's rows, then the restore undoing them.
    let history = p.db.history();
    assert_eq!(&history[..history_before.len()], &history_before[..]);
    let run: Vec<(String, String, String)> = history[history_before.len()..].to_vec();
    let row = |v: &str, op: &str, state: &str| (v.to_string(), op.to_string(), state.to_string());
    // On MySQL the failed row is the `running` row updated in place; elsewhere the
    // failure is recorded after the rollback. Either way: one row per attempt.
    let expected_failure = vec![
        row("20260902000000", "deploy", "applied"),
        row("20260903000000", "deploy", "failed"),
        row("20260902000000", "restore", "rolled_back"),
        row("20260903000000", "restore", "rolled_back"),
    ];
    assert_eq!(run, expected_failure);
    p.godwit(&["status"])
        .expect(5)
        .says("rolled back")
        .says("2 pending");

    // Fixed, the next deploy needs no resolve.
    p.write(
        "20260903000000_move_people_to_teams/up.sql",
        "ALTER TABLE people ADD COLUMN team_id INT;\nUPDATE people SET team_id = 1;\n",
    );
    p.godwit(&["deploy", "--restore-on-failure"])
        .expect(0)
        .says("Applied 2 migrations");
    assert_eq!(p.db.int("SELECT count(*) FROM people WHERE team_id = 1"), 3);
    // That run's backup restores the state the failed run was restored to.
    let list = backups(&p);
    assert_eq!(list.len(), 2);
    for b in &list {
        let file = b["file"].as_str().unwrap();
        assert!(p.path().join("var/backups").join(file).is_file(), "{b}");
    }
    p.godwit(&["restore", list[1]["id"].as_str().unwrap()])
        .expect(0);
    assert_same(&before, &snapshot(&p, true));
}

/// Two SQL migrations, then a plugin step the host refuses (an ungranted column before the
/// first batch; output outside its declared columns at batch 1): `--restore-on-failure`
/// restores the backup, so that nothing of the run remains, as README promises. Only a
/// lost migration lock leaves the backup unrestored, and a refusal is not one.
fn restore_on_failure_undoes_sql_migrations_before_a_refused_step(d: Dialect) {
    use crate::steps::{GRANT_ITEMS, guest, hostile_with};
    for (mode, grants, refusal) in [
        (
            "ok",
            "read = [\"items\"]\nwrite = [\"items.n\"]",
            "refused before the first batch",
        ),
        ("bad-column", GRANT_ITEMS, "refused the plugin's output"),
    ] {
        let p = people_project(d);
        let before = snapshot(&p, true);
        let history_before = p.db.history();
        let text = text_type(d);
        p.write(
            "20260902000000_create_items/up.sql",
            &format!(
                "CREATE TABLE items (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, label {text} NOT NULL, label_upper {text});\n\
                 INSERT INTO items (id, n, label) VALUES (1, 0, 'item-1'), (2, 0, 'item-2');\n"
            ),
        );
        p.write(
            "20260903000000_people_team/up.sql",
            "ALTER TABLE people ADD COLUMN team_id INT;\nUPDATE people SET team_id = 1;\n",
        );
        p.write(
            "20260904000000_backfill_items/step.toml",
            "plugin = \"hostile\"\n[batch]\nsize = 100\n",
        );
        let toml = format!(
            "[backup]\npolicy = \"never\"\ndir = \"var/backups\"\n{}",
            hostile_with(&guest("hostile"), "32MiB", mode, grants)
        );
        std::fs::write(p.path().join("godwit.toml"), &toml).unwrap();
        p.godwit(&["deploy", "--restore-on-failure"])
            .expect(4)
            .says(refusal)
            .says("restored backup")
            .says("nothing of this deploy remains in effect")
            .says("the restore undid them");
        // The role a plugin step's queries run under (godwit_plugin_<digest>) keeps its
        // USAGE on schema public: godwit's own, granted by the step's confinement and not
        // part of the backup's tables; everything of the run's migrations is gone.
        let without_plugin_roles = |text: String| -> String {
            text.lines()
                // and the ACL section's header and blank lines pg_dump writes around it
                .filter(|l| !l.contains("godwit_plugin_") && !l.is_empty() && !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_same(
            &without_plugin_roles(before.clone()),
            &without_plugin_roles(snapshot(&p, true)),
        );
        assert!(!p.db.table_exists("items"), "{mode}");
        let history = p.db.history();
        assert_eq!(&history[..history_before.len()], &history_before[..]);
        for v in ["20260902000000", "20260903000000", "20260904000000"] {
            let last = history.iter().rev().find(|(version, _, _)| version == v);
            assert_eq!(
                last,
                Some(&(
                    v.to_string(),
                    "restore".to_string(),
                    "rolled_back".to_string()
                )),
                "{mode}: {history:?}"
            );
        }
        p.godwit(&["status"]).expect(5).says("3 pending");

        // Granted, the same deploy goes through.
        std::fs::write(
            p.path().join("godwit.toml"),
            format!(
                "[backup]\npolicy = \"never\"\ndir = \"var/backups\"\n{}",
                hostile_with(&guest("hostile"), "32MiB", "ok", GRANT_ITEMS)
            ),
        )
        .unwrap();
        p.godwit(&["deploy", "--restore-on-failure"]).expect(0);
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM items WHERE label_upper = UPPER(label)"),
            2
        );
    }
}

/// One project's backup folder can hold backups of several databases (a staging and a
/// production URL, a fleet): `godwit backups` lists each under the database it holds,
/// as `restore` will only put one back into that database.
#[test]
fn backups_are_listed_under_the_database_they_hold() {
    let p = Project::empty(Dialect::Sqlite);
    p.write("1_t/up.sql", "CREATE TABLE t (id integer);\n");
    let other = format!("sqlite://{}", p.path().join("other.db").display());
    let on_other = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .args(["--database-url", &other])
            .args(args);
        run(cmd)
    };
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["backup"]).expect(0);
    on_other(&["deploy"]).expect(0);
    on_other(&["backup"]).expect(0);
    let ids: Vec<(String, String)> = backups(&p)
        .iter()
        .map(|b| {
            (
                b["database"].as_str().unwrap().to_owned(),
                b["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let listed = p.godwit(&["backups"]);
    listed.expect(0);
    for (database, id) in &ids {
        let heading = listed
            .stdout
            .find(&format!("of {database}:"))
            .unwrap_or_else(|| panic!("no heading for {database}\n{}", listed.stdout));
        let line = listed.stdout.find(id.as_str()).unwrap();
        let next = listed.stdout[heading + 1..]
            .find("  of ")
            .map_or(usize::MAX, |n| heading + 1 + n);
        assert!(
            heading < line && line < next,
            "{id} is not under {database}\n{}",
            listed.stdout
        );
    }
}

#[test]
fn missing_tool_is_a_clear_error_postgres() {
    missing_tool(Dialect::Postgres, "pg_dump", "postgresql-client");
}

#[test]
fn missing_tool_is_a_clear_error_mysql() {
    missing_tool(
        Dialect::MySql,
        "mariadb-dump (or mysqldump)",
        "mariadb-client",
    );
}

fn missing_tool(d: Dialect, tool: &str, package: &str) {
    let p = people_project(d);
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("PATH", empty.path());
        run(cmd)
    };
    run(&["backup"])
        .expect(2)
        .says(&format!("{tool} was not found on PATH"))
        .says(package)
        .says("policy = \"never\"");
    p.write("20260902000000_drop_notes/up.sql", "DROP TABLE notes;");
    // The policy asks for a backup before a drop; without the tool nothing is applied.
    run(&["deploy"])
        .expect(2)
        .says(&format!("{tool} was not found"));
    assert!(p.db.table_exists("notes"));
    p.godwit(&["status"]).expect(5);
    assert!(backups(&p).is_empty());

    // A drop that destroys nothing existing (the usual `DROP TABLE IF EXISTS` at the top
    // of a first migration) needs no backup, so it deploys without the tool.
    let fresh = Project::empty(d);
    fresh.write(
        "20260901000000_create_legacy/up.sql",
        "DROP TABLE IF EXISTS legacy;\nCREATE TABLE legacy (id INT);\nDROP TABLE legacy;\n",
    );
    let mut cmd = fresh.command(&["deploy", "--json"]);
    cmd.env("PATH", empty.path());
    let out = crate::support::run(cmd);
    out.expect(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(report["backup"].is_null(), "{report}");
    assert!(backups(&fresh).is_empty());
}

#[test]
fn sqlite_needs_no_tool_and_refuses_another_databases_backup() {
    let p = people_project(Dialect::Sqlite);
    let before = snapshot(&p, false);
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = p.command(&["backup", "--reason", "before the demo"]);
    cmd.env("PATH", empty.path());
    run(cmd).expect(0).says("Backup ").says("SQLite");
    let id = backups(&p)[0]["id"].as_str().unwrap().to_string();
    assert_eq!(backups(&p)[0]["reason"], "before the demo");
    // A backup is a copy of the data: owner-only, whatever the umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = p.path().join(".godwit/backups");
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(format!("{id}.sqlite"))), 0o600);
        assert_eq!(mode(&dir.join(format!("{id}.json"))), 0o600);
    }

    // Same project, another database: refused unless forced.
    let other = TestDb::new(Dialect::Sqlite);
    let mut cmd = godwit_cmd();
    cmd.arg("-C")
        .arg(p.path())
        .arg("--database-url")
        .arg(&other.url)
        .args(["restore", &id]);
    run(cmd).expect(4).says("was taken from").says("--force");
    let mut cmd = godwit_cmd();
    cmd.arg("-C")
        .arg(p.path())
        .arg("--database-url")
        .arg(&other.url)
        .args(["restore", &id, "--force"]);
    run(cmd).expect(0);
    assert_eq!(other.int("SELECT count(*) FROM people"), 3);

    // A backup file changed after the fact is refused.
    p.db.exec("DELETE FROM notes");
    let file = p
        .path()
        .join(".godwit/backups")
        .join(format!("{id}.sqlite"));
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    p.godwit(&["restore", &id])
        .expect(4)
        .says("changed since it was written");
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    p.godwit(&["restore", &id]).expect(0);
    assert_same(&before, &snapshot(&p, false));
}

/// The objects beyond tables that a restore must drop and re-create: other schemas,
/// types, domains, functions, triggers, sequences, materialized views (PostgreSQL);
/// procedures, functions, triggers, events (MySQL); triggers, views, indexes,
/// AUTOINCREMENT counters and user_version (SQLite). Triggers must not fire while rows
/// are put back.
fn schemas_types_routines_and_triggers_survive_a_restore(d: Dialect) {
    let p = Project::empty(d);
    let (up, mess, check) = match d {
        Dialect::Postgres => (
            "CREATE SCHEMA billing;\n\
             CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\n\
             CREATE DOMAIN positive AS INT CHECK (VALUE > 0);\n\
             CREATE TABLE billing.invoices (id SERIAL PRIMARY KEY, amount positive NOT NULL, mood mood);\n\
             CREATE TABLE audit (id SERIAL PRIMARY KEY, note TEXT);\n\
             CREATE FUNCTION billing.total() RETURNS bigint LANGUAGE sql AS $$ SELECT sum(amount) FROM billing.invoices $$;\n\
             CREATE FUNCTION public.log_invoice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.audit (note) VALUES ('invoice ' || NEW.amount); RETURN NEW; END $$;\n\
             CREATE TRIGGER invoices_log AFTER INSERT ON billing.invoices FOR EACH ROW EXECUTE FUNCTION public.log_invoice();\n\
             CREATE MATERIALIZED VIEW big_invoices AS SELECT id, amount FROM billing.invoices WHERE amount > 10;\n\
             CREATE SEQUENCE standalone_seq START 100;\n\
             INSERT INTO billing.invoices (amount, mood) VALUES (5, 'ok'), (50, 'happy');\n\
             REFRESH MATERIALIZED VIEW big_invoices;\n\
             SELECT nextval('standalone_seq');\n",
            "DROP SCHEMA billing CASCADE; DROP TYPE mood; CREATE SCHEMA scratch; CREATE TABLE scratch.t (id INT); \
             CREATE TYPE pair AS (a INT, b INT); CREATE FUNCTION public.one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; \
             SELECT setval('standalone_seq', 500); DELETE FROM audit",
            "INSERT INTO billing.invoices (amount) VALUES (7)",
        ),
        Dialect::MySql => (
            "CREATE TABLE counters (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL);\n\
             CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100));\n\
             CREATE TRIGGER counters_audit AFTER INSERT ON counters FOR EACH ROW INSERT INTO audit (note) VALUES (CONCAT('n=', NEW.n));\n\
             CREATE PROCEDURE bump(IN k INT)\nBEGIN\n  UPDATE counters SET n = n + k;\nEND;\n\
             CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;\n\
             CREATE VIEW doubled AS SELECT id, twice(n) AS n2 FROM counters;\n\
             CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit;\n\
             INSERT INTO counters (n) VALUES (1), (2);\n\
             DELETE FROM counters WHERE n = 2;\n",
            "DROP PROCEDURE bump; DROP TRIGGER counters_audit; DROP EVENT nightly; CREATE TABLE extra (id INT); \
             CREATE PROCEDURE p2() SELECT 1; INSERT INTO counters (n) VALUES (9); DROP VIEW doubled",
            "INSERT INTO counters (n) VALUES (7)",
        ),
        Dialect::Sqlite => (
            "CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n INT NOT NULL, \
               twice INT GENERATED ALWAYS AS (n * 2) STORED, thrice INT GENERATED ALWAYS AS (n * 3) VIRTUAL);\n\
             CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);\n\
             CREATE TRIGGER counters_audit AFTER INSERT ON counters BEGIN INSERT INTO audit (note) VALUES ('n=' || NEW.n); END;\n\
             CREATE VIEW doubled AS SELECT id, n * 2 AS n2 FROM counters;\n\
             CREATE INDEX counters_n ON counters (n);\n\
             INSERT INTO counters (n) VALUES (1), (2);\n\
             DELETE FROM counters WHERE n = 2;\n\
             PRAGMA user_version = 7;\n",
            "DROP TRIGGER counters_audit; INSERT INTO counters (n) VALUES (9); CREATE TABLE extra (id INT); \
             PRAGMA user_version = 9; DROP VIEW doubled",
            "INSERT INTO counters (n) VALUES (7)",
        ),
    };
    p.write("20261001000000_create_objects/up.sql", up);
    p.godwit(&["deploy"]).expect(0);
    let before = snapshot(&p, false);
    let audit = p.db.int("SELECT count(*) FROM audit");
    let out = p.godwit(&["backup", "--json"]);
    out.expect(0);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = value["backup"]["id"].as_str().unwrap().to_string();
    p.db.exec(mess);
    assert_ne!(snapshot(&p, false), before);
    p.godwit(&["restore", &id]).expect(0);
    assert_same(&before, &snapshot(&p, false));
    assert_eq!(
        p.db.int("SELECT count(*) FROM audit"),
        audit,
        "no trigger fired"
    );
    if d == Dialect::Sqlite {
        assert_eq!(p.db.int("PRAGMA user_version"), 7);
    }
    // The restored trigger works.
    p.db.exec(check);
    assert_eq!(p.db.int("SELECT count(*) FROM audit"), audit + 1);
}

#[test]
fn lease_mode_restore_keeps_the_lock_table_postgres() {
    lease_mode_restore(Dialect::Postgres)
}

#[test]
fn lease_mode_restore_keeps_the_lock_table_mysql() {
    lease_mode_restore(Dialect::MySql)
}

#[test]
fn restore_on_failure_does_not_restore_after_the_lock_is_lost_postgres() {
    restore_on_failure_after_the_lock_is_lost(Dialect::Postgres)
}

#[test]
fn restore_on_failure_does_not_restore_after_the_lock_is_lost_mysql() {
    restore_on_failure_after_the_lock_is_lost(Dialect::MySql)
}

/// Another deployer takes the lease while the second of three migrations runs (it waits
/// on a lock the test holds): the deploy stops before the third with the lock lost
/// (exit 4), and `--restore-on-failure` leaves its backup unrestored, since restoring
/// would undo whatever the other deployer does. The opposite case, a refusal that is not
/// a lost lock and is restored, is `restore_on_failure_undoes_sql_migrations_before_a_refused_step`.
fn restore_on_failure_after_the_lock_is_lost(d: Dialect) {
    let p = Project::empty(d);
    std::fs::write(p.path().join("godwit.toml"), "lock = \"lease\"\n").unwrap();
    let gate = p.db.gate();
    gate.three_migrations(&p);
    let deploy = p.spawn(&["deploy", "--restore-on-failure"]);
    gate.wait_for_a_waiter();
    p.db.exec("UPDATE godwit_lock SET owner = 'another deployer' WHERE id = 1");
    gate.open();
    let out = deploy.finish();
    out.expect(4)
        .says("taken the migration lease over")
        .says("was NOT restored, because the migration lock was lost");
    assert!(p.db.table_exists("first_t"), "the backup was not restored");
    assert!(
        !p.db.table_exists("third_t"),
        "nothing ran after the lock was lost"
    );
}

/// With `lock = "lease"` the restore runs holding a lease row in `godwit_lock`; the
/// backup leaves that table out and the restore leaves it in place, so the lease is still
/// there to be released, and the next deploy can take it.
fn lease_mode_restore(d: Dialect) {
    let p = Project::empty(d);
    std::fs::write(p.path().join("godwit.toml"), "lock = \"lease\"\n").unwrap();
    p.write(
        "20261101000000_create_things/up.sql",
        "CREATE TABLE things (id INT PRIMARY KEY);\nINSERT INTO things VALUES (1), (2);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["backup", "--json"]);
    out.expect(0);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = value["backup"]["id"].as_str().unwrap().to_string();
    let before = snapshot(&p, false);
    p.db.exec("DROP TABLE things; CREATE TABLE other (id INT)");
    p.godwit(&["restore", &id]).expect(0);
    assert_same(&before, &snapshot(&p, false));
    assert_eq!(
        p.db.int("SELECT count(*) FROM godwit_lock WHERE owner IS NULL"),
        1,
        "the lease row survived the restore and was released"
    );
    p.write(
        "20261102000000_create_more/up.sql",
        "CREATE TABLE more (id INT);",
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
}

/// Mixed-case quoted names and a two-column primary key: the copy matches rows on both
/// key columns, and names keep their case through the catalog look-ups.
fn quoted_names_and_composite_keys_are_put_back(d: Dialect) {
    let p = Project::empty(d);
    let q = |name: &str| {
        if d == Dialect::MySql {
            format!("`{name}`")
        } else {
            format!("\"{name}\"")
        }
    };
    let text = text_type(d);
    let (accounts, id, email) = (q("Accounts"), q("Id"), q("E-mail"));
    p.write(
        "20261201000000_create_accounts/up.sql",
        &format!(
            "CREATE TABLE {accounts} ({id} INT NOT NULL, region VARCHAR(8) NOT NULL, {email} {text}, PRIMARY KEY ({id}, region));\n\
             INSERT INTO {accounts} VALUES (1, 'eu', 'a@eu'), (1, 'us', 'a@us'), (2, 'eu', NULL);\n"
        ),
    );
    p.godwit(&["deploy"]).expect(0);
    // SQLite has no DROP COLUMN IF EXISTS.
    let if_exists = if d == Dialect::Sqlite {
        ""
    } else {
        "IF EXISTS "
    };
    p.write(
        "20261202000000_drop_accounts_email/up.sql",
        &format!("ALTER TABLE {accounts} DROP COLUMN {if_exists}{email};\n"),
    );
    p.write(
        "20261202000000_drop_accounts_email/down.sql",
        &format!("ALTER TABLE {accounts} ADD COLUMN {email} {text};\n"),
    );
    let query = format!(
        "SELECT {id}, region, coalesce({email}, 'NULL') FROM {accounts} ORDER BY {id}, region"
    );
    p.godwit(&["deploy"])
        .expect(0)
        .says("copied Accounts.E-mail (3 rows)");
    let original = vec![
        vec!["1", "eu", "a@eu"],
        vec!["1", "us", "a@us"],
        vec!["2", "eu", "NULL"],
    ];
    p.godwit(&["down"])
        .expect(0)
        .says("put back Accounts.E-mail (3 rows)");
    assert_eq!(p.db.rows(&query), original);
    // The drop's deploy backed up first; its backup restores the column too.
    let list = backups(&p);
    assert_eq!(list.len(), 1, "{list:?}");
    p.godwit(&["restore", list[0]["id"].as_str().unwrap()])
        .expect(0);
    assert_eq!(p.db.rows(&query), original);
}

/// The password reaches mariadb-dump and the client through MYSQL_PWD (MariaDB checks
/// it, unlike the local PostgreSQL), percent-escapes decoded, and is written nowhere.
/// The user deploys its own schema: a view's DEFINER must be the restoring user (or it
/// needs SET USER), as with any dump.
#[test]
fn mysql_password_goes_through_the_environment() {
    let p = Project::empty(Dialect::MySql);
    write_people(&p);
    let user = format!("gw_{}", std::process::id());
    let password = "s3cr%t@x:y";
    p.db.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
         GRANT ALL PRIVILEGES ON {}.* TO '{user}'@'%'",
        p.db.name
    ));
    let url = format!(
        "mysql://{user}:s3cr%25t%40x%3Ay@127.0.0.1:3306/{}",
        p.db.name
    );
    let with_url = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .arg("--database-url")
            .arg(&url)
            .args(args);
        run(cmd)
    };
    with_url(&["deploy"]).expect(0);
    let before = snapshot(&p, false);
    let out = with_url(&["backup", "--json"]);
    out.expect(0);
    assert!(!out.text().contains("s3cr"), "{}", out.text());
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = value["backup"]["id"].as_str().unwrap().to_string();
    let sidecar =
        std::fs::read_to_string(p.path().join(".godwit/backups").join(format!("{id}.json")))
            .unwrap();
    assert!(!sidecar.contains("s3cr"), "{sidecar}");
    assert!(sidecar.contains(&format!("{user}:***@")), "{sidecar}");
    p.db.exec("DELETE FROM tags");
    let out = with_url(&["restore", &id]);
    out.expect(0);
    assert!(!out.text().contains("s3cr"), "{}", out.text());
    assert_same(&before, &snapshot(&p, false));
    p.db.exec(&format!("DROP USER '{user}'@'%'"));
}

/// PostgreSQL `?schema=`: a tenant's backup holds its schema alone, and its restore puts
/// back that schema alone. Other tenants and `public` keep what they have, an archive is
/// never restored into another scope (not even with --force), and a restore that would
/// drop objects of other schemas along with the tenant's refuses before changing anything.
#[test]
fn tenant_backup_restores_its_own_schema_alone_postgres() {
    let p = Project::empty(Dialect::Postgres);
    // A dot and capitals: pg_dump's pattern must match this one schema exactly, not
    // `acme` + table `eu`, nor a folded `acme.eu`.
    let a = "Acme.EU";
    p.db.exec(&format!(
        "CREATE SCHEMA \"{a}\"; CREATE SCHEMA \"acme.eu\"; CREATE SCHEMA tenant_b; \
         CREATE TABLE public.shared (id INT PRIMARY KEY); INSERT INTO public.shared VALUES (1);"
    ));
    let url = |schema: Option<&str>| match schema {
        Some(s) => format!("{}?schema={}", p.db.url, s.replace('.', "%2E")),
        None => p.db.url.clone(),
    };
    let at = |schema: Option<&str>, args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(p.path())
            .arg("--database-url")
            .arg(url(schema))
            .args(args);
        run(cmd)
    };
    p.write(
        "20260101000000_items/up.sql",
        "CREATE TABLE items (id INT PRIMARY KEY, label TEXT);\n\
         INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');\n",
    );
    for t in [a, "acme.eu", "tenant_b"] {
        at(Some(t), &["deploy"]).expect(0);
    }
    let count = |schema: &str| {
        p.db.int(&format!("SELECT count(*) FROM \"{schema}\".items"))
    };

    // A DROP on a tenant, with the default policy: backed up (no longer refused), applied.
    p.write("20260102000000_drop_items/up.sql", "DROP TABLE items;\n");
    at(Some(a), &["deploy"]).expect(0).says("backup ");
    assert!(
        p.db.int(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{a}' AND tablename = 'items'"
        )) == 0
    );
    let listed = at(Some(a), &["backups", "--json"]);
    listed.expect(0);
    let list: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{list}");
    let id = backups[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        backups[0]["schema"], a,
        "the sidecar names the tenant: {list}"
    );

    // Meanwhile the other tenants and public change.
    p.db.exec("INSERT INTO tenant_b.items VALUES (4, 'd'); INSERT INTO public.shared VALUES (2);");
    p.db.exec("INSERT INTO \"acme.eu\".items VALUES (4, 'd');");

    // Never into another scope, --force or not: nothing anywhere changes.
    for target in [Some("tenant_b"), Some("acme.eu"), None] {
        at(target, &["restore", &id, "--force"]).expect(4);
    }
    assert_eq!(count("tenant_b"), 4);
    assert_eq!(count("acme.eu"), 4);
    assert_eq!(p.db.int("SELECT count(*) FROM public.shared"), 2);

    // Objects of other schemas built on the tenant's: the restore would drop them with
    // it, so it refuses, and changes nothing (each variation on its own).
    p.db.exec(&format!(
        "CREATE TABLE \"{a}\".kept (id INT PRIMARY KEY); CREATE SEQUENCE \"{a}\".seq;"
    ));
    for (make, undo) in [
        (
            format!("CREATE VIEW public.kept_view AS SELECT id FROM \"{a}\".kept"),
            "DROP VIEW public.kept_view",
        ),
        (
            format!("CREATE TABLE public.refs (id INT REFERENCES \"{a}\".kept (id))"),
            "DROP TABLE public.refs",
        ),
        (
            format!("ALTER TABLE public.shared ADD COLUMN n BIGINT DEFAULT nextval('\"{a}\".seq')"),
            "ALTER TABLE public.shared DROP COLUMN n",
        ),
        // An extension installed into the tenant's schema is not in its archive.
        (
            format!("CREATE EXTENSION citext SCHEMA \"{a}\""),
            "DROP EXTENSION citext",
        ),
    ] {
        p.db.exec(&make);
        at(Some(a), &["restore", &id])
            .expect(4)
            .says("nothing was restored");
        assert_eq!(
            p.db.int(&format!(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '{a}' AND tablename = 'kept'"
            )),
            1,
            "the tenant's schema was left as it was after: {make}"
        );
        p.db.exec(undo);
    }

    // Free of them, the restore puts back the tenant as it was before the DROP, and only it.
    at(Some(a), &["restore", &id]).expect(0);
    assert_eq!(count(a), 3);
    assert_eq!(
        p.db.int(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{a}' AND tablename = 'kept'"
        )),
        0,
        "what was created after the backup is gone"
    );
    assert_eq!(count("tenant_b"), 4);
    assert_eq!(count("acme.eu"), 4);
    assert_eq!(p.db.int("SELECT count(*) FROM public.shared"), 2);
    at(Some(a), &["status"]).expect(5).says("1 pending");
    // The tenant's history is its own, and the restore left the lock usable: a deploy
    // goes through again.
    at(Some(a), &["deploy"]).expect(0);
    assert_eq!(count("tenant_b"), 4);
}
