//! What godwit says when something goes wrong, shaped like the cases real histories hit:
//! a backup that cannot be taken, a failure after hundreds of migrations, a down.sql that
//! fails or is empty, MySQL's resume advice, a server's multi-line detail.

use std::path::Path;

use crate::each_dialect;
use crate::support::*;

each_dialect!(
    a_failure_after_many_migrations_names_the_first_and_last,
    an_empty_down_sql_is_flagged_by_down,
);

fn text_type(d: Dialect) -> &'static str {
    if d == Dialect::MySql {
        "VARCHAR(64)"
    } else {
        "TEXT"
    }
}

/// An executable script called `name` in `dir` that fails like a real tool would.
fn fake_tool(dir: &Path, name: &str, stderr: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\necho '{stderr}' >&2\nexit 1\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A deployed project with a `notes` table holding data, and a pending migration that
/// drops it: the default policy backs up before that.
fn notes_then_drop(d: Dialect) -> Project {
    let p = Project::empty(d);
    p.write(
        "20261001000000_create_notes/up.sql",
        &format!(
            "CREATE TABLE notes (id INT PRIMARY KEY, body {});\nINSERT INTO notes VALUES (1, 'keep me');\n",
            text_type(d)
        ),
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20261002000000_create_tags/up.sql",
        "CREATE TABLE tags (id INT PRIMARY KEY);\n",
    );
    p.write("20261003000000_drop_notes/up.sql", "DROP TABLE notes;\n");
    p
}

/// The backup a deploy takes first fails (here a dump tool that refuses, as pg_dump 15
/// refuses a PostgreSQL 18 server): nothing is applied, the exit code says "blocked",
/// not "a migration failed", and the message says why a backup was taken and how the
/// policy changes that, for each reason there is one.
fn a_failing_backup_stops_deploy_before_anything(d: Dialect, tools: &[&str]) {
    let fake = tempfile::tempdir().unwrap();
    for tool in tools {
        fake_tool(
            fake.path(),
            tool,
            "error: aborting because of server version mismatch",
        );
    }
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let p = notes_then_drop(d);
    let history = p.db.history();
    let deploy = |args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("PATH", &path);
        run(cmd)
    };
    let nothing_applied = || {
        assert_eq!(p.db.history(), history, "the history is untouched");
        assert!(p.db.table_exists("notes"));
        assert!(!p.db.table_exists("tags"));
        assert_eq!(p.db.int("SELECT count(*) FROM notes"), 1);
        p.godwit(&["status"]).expect(5).says("2 pending");
    };

    // The default policy, `destructive`.
    let out = deploy(&["deploy"]);
    out.expect(4)
        .says("server version mismatch")
        .says("Nothing was applied")
        .says("20261003000000_drop_notes")
        .says("policy = \"never\"");
    nothing_applied();
    let json = deploy(&["deploy", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["exit_code"], 4, "{}", json.text());

    // `always`.
    std::fs::write(
        p.path().join("godwit.toml"),
        "[backup]\npolicy = \"always\"\n",
    )
    .unwrap();
    deploy(&["deploy"])
        .expect(4)
        .says("policy = \"always\"")
        .says("policy = \"destructive\"");
    nothing_applied();

    // `never`, but `--restore-on-failure` needs a backup.
    std::fs::write(
        p.path().join("godwit.toml"),
        "[backup]\npolicy = \"never\"\n",
    )
    .unwrap();
    deploy(&["deploy", "--restore-on-failure"])
        .expect(4)
        .says("--restore-on-failure` needs one")
        .says("without `--restore-on-failure`");
    nothing_applied();

    // Following the advice, the deploy goes through.
    deploy(&["deploy"]).expect(0);
    assert!(!p.db.table_exists("notes"));
}

#[test]
fn a_failing_backup_stops_deploy_before_anything_postgres() {
    a_failing_backup_stops_deploy_before_anything(Dialect::Postgres, &["pg_dump"]);
}

#[test]
fn a_failing_backup_stops_deploy_before_anything_mysql() {
    a_failing_backup_stops_deploy_before_anything(Dialect::MySql, &["mariadb-dump", "mysqldump"]);
}

/// The real case: the machine's pg_dump older than the server. Run against PostgreSQL 18
/// (`GODWIT_TEST_PG_PORT`) with pg_dump 15, pg_dump refuses and nothing is applied; on a
/// server pg_dump can dump, the same deploy goes through.
#[test]
fn pg_dump_older_than_the_server_postgres() {
    let p = notes_then_drop(Dialect::Postgres);
    let server: i64 =
        p.db.int("SELECT current_setting('server_version_num')::int / 10000");
    let out = std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout).to_string();
    let client: i64 = version
        .split_whitespace()
        .find_map(|w| w.split('.').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no version in {version}"));
    let deploy = p.godwit(&["deploy"]);
    if client < server {
        deploy
            .expect(4)
            .says("server version mismatch")
            .says("Nothing was applied")
            .says("policy = \"never\"");
        assert!(p.db.table_exists("notes"));
        p.godwit(&["status"]).expect(5);
    } else {
        deploy.expect(0);
        assert!(!p.db.table_exists("notes"));
    }
}

/// 40 migrations applied before one fails: the note gives the count, the first and the
/// last, not 40 names on one line. `down` through a failing down.sql says "reverted".
fn a_failure_after_many_migrations_names_the_first_and_last(d: Dialect) {
    let p = Project::empty(d);
    for i in 1..=40 {
        p.write(
            &format!("20260101{i:06}_create_t{i:02}/up.sql"),
            &format!("CREATE TABLE t{i:02} (id INT);\n"),
        );
    }
    p.write(
        "20270101000000_broken/up.sql",
        "INSERT INTO no_such_table VALUES (1);\n",
    );
    let mut sorted: Vec<String> = std::fs::read_dir(p.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    sorted.sort();
    let first = &sorted[0];
    let last = &sorted[39];
    let out = p.godwit(&["deploy"]);
    out.expect(1).says("no_such_table").says(&format!(
        "Applied before the failure (40): 40 migrations, from {first} to {last}; they stay applied"
    ));
    // The progress lines name each one as it is applied; the error does not list them.
    let text = out.text();
    let error = &text[text.find("error:").expect("an error")..];
    let middle = &sorted[20];
    assert!(
        !error.contains(middle.as_str()),
        "{middle} is listed: {error}"
    );
    assert!(p.db.table_exists("t40"));

    // Down through three migrations, the third of which fails to revert.
    std::fs::remove_dir_all(p.migrations().join("20270101000000_broken")).unwrap();
    p.godwit(&["resolve", "--rolled-back", "20270101000000"])
        .expect(0);
    for (i, name) in sorted[37..40].iter().enumerate() {
        let table = &name[name.len() - 3..];
        let down = if i == 0 {
            "DROP TABLE no_such_table;\n".to_owned()
        } else {
            format!("DROP TABLE {table};\n")
        };
        p.write(&format!("{name}/down.sql"), &down);
    }
    let out = p.godwit(&["down", "--steps", "3"]);
    out.expect(1).says("no_such_table").says(&format!(
        "Reverted before the failure (2): {} and {}; they stay reverted",
        sorted[39], sorted[38]
    ));
    assert!(!p.db.table_exists("t40"));
    assert!(!p.db.table_exists("t39"));
    assert!(p.db.table_exists("t38"));
}

/// A down.sql that fails on a database with transactional DDL is rolled back whole: the
/// message says so, and `status` shows the migration applied (it is), not "failed, 0 of
/// 5 statements applied". Fixed, `down` then reverts it with no `resolve` in between.
fn a_failing_down_is_rolled_back(d: Dialect) {
    let p = Project::empty(d);
    p.backups_off_where_pg_dump_cannot();
    p.write(
        "20261101000000_create_shop/up.sql",
        "CREATE TABLE customers (id INT PRIMARY KEY);\nCREATE TABLE orders (id INT PRIMARY KEY, customer_id INT);\n\
         CREATE INDEX orders_customer ON orders (customer_id);\nCREATE TABLE items (id INT);\nINSERT INTO customers VALUES (1);\n",
    );
    // Five statements, the last fails: the four before it must not stay in effect.
    p.write(
        "20261101000000_create_shop/down.sql",
        "DROP INDEX orders_customer;\nDROP TABLE items;\nDROP TABLE orders;\nDROP TABLE customers;\nDROP TABLE no_such_table;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["down"]);
    out.expect(1)
        .says("failed at statement 5 of 5")
        .says("rolled back")
        .says("20261101000000_create_shop is still applied")
        .says("then run `godwit down` again");
    assert!(
        !out.text().contains("The revert did not complete"),
        "{}",
        out.text()
    );
    for table in ["customers", "orders", "items"] {
        assert!(p.db.table_exists(table), "{table} must still be there");
    }
    let status = p.godwit(&["status"]);
    status.expect(0).says("applied");
    assert!(!status.text().contains("failed"), "{}", status.text());
    assert!(!status.text().contains("0 of 5"), "{}", status.text());
    p.godwit(&["history"]).expect(0).says("down     failed");

    p.write(
        "20261101000000_create_shop/down.sql",
        "DROP INDEX orders_customer;\nDROP TABLE items;\nDROP TABLE orders;\nDROP TABLE customers;\n",
    );
    p.godwit(&["down"]).expect(0);
    assert!(!p.db.table_exists("customers"));
    p.godwit(&["status"]).expect(5);
}

#[test]
fn a_failing_down_is_rolled_back_postgres() {
    a_failing_down_is_rolled_back(Dialect::Postgres);
}

#[test]
fn a_failing_down_is_rolled_back_sqlite() {
    a_failing_down_is_rolled_back(Dialect::Sqlite);
}

/// A down.sql that runs statement by statement (MySQL's DDL; on PostgreSQL a
/// no-transaction one, as crates.io's diesel `run_in_transaction = false`) and fails at
/// its first statement changed nothing: the migration is still applied, as after a
/// rolled-back one, with no `resolve` needed and nothing blocking the next deploy.
fn a_down_failing_at_its_first_statement_leaves_the_migration_applied(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20261101000000_add_t_index/up.sql",
        "CREATE TABLE t (a INT);\nCREATE INDEX t_a_idx ON t (a);\n",
    );
    let directive = if d == Dialect::Postgres {
        "-- godwit:no-transaction\n"
    } else {
        ""
    };
    p.write(
        "20261101000000_add_t_index/down.sql",
        &format!("{directive}ALTER TABLE t DROP CONSTRAINT t_a_idx;\nDROP TABLE t;\n"),
    );
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["down"]);
    out.expect(1)
        .says("failed at statement 1 of 2")
        .says("nothing of the revert took effect, and 20261101000000_add_t_index is still applied")
        .says("then run `godwit down` again");
    assert!(!out.text().contains("resolve"), "{}", out.text());
    assert!(p.db.table_exists("t"));
    let status = p.godwit(&["status"]);
    status.expect(0).says("applied");
    assert!(!status.text().contains("failed"), "{}", status.text());
    p.write("20261102000000_more/up.sql", "CREATE TABLE u (id INT);\n");
    p.godwit(&["deploy"]).expect(0);
}

#[test]
fn a_down_failing_at_its_first_statement_leaves_the_migration_applied_postgres() {
    a_down_failing_at_its_first_statement_leaves_the_migration_applied(Dialect::Postgres);
}

#[test]
fn a_down_failing_at_its_first_statement_leaves_the_migration_applied_mysql() {
    a_down_failing_at_its_first_statement_leaves_the_migration_applied(Dialect::MySql);
}

/// A MySQL down.sql that fails at its second statement took its first back: `status`
/// says the migration is partly reverted by down.sql, not "1 of 2 statements applied",
/// which reads as its up.sql half applied.
#[test]
fn a_down_failing_halfway_is_shown_as_partly_reverted_mysql() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20261101000000_add_t_index/up.sql",
        "CREATE TABLE t (a INT);\nCREATE INDEX t_a_idx ON t (a);\n",
    );
    p.write(
        "20261101000000_add_t_index/down.sql",
        "DROP INDEX t_a_idx ON t;\nDROP TABLE no_such_table;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"])
        .expect(1)
        .says("failed at statement 2 of 2");
    let status = p.godwit(&["status"]);
    status
        .says("down.sql failed: 1 of its 2 statements ran, so it is partly reverted")
        .says("godwit resolve --rolled-back 20261101000000` (revert complete)");
    assert!(
        !status.text().contains("statements applied"),
        "{}",
        status.text()
    );
}

/// After a failed migration, status names what unblocks the history: the two `resolve`
/// commands, with the version, not only "deploy explains".
#[test]
fn status_after_a_failure_names_the_resolve_commands() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20261201000000_two/up.sql",
        "CREATE TABLE t1 (id INT);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    p.godwit(&["deploy"]).expect(1);
    p.godwit(&["status"])
        .says("20261201000000 failed after 1 of its 2 statements took effect, and blocks deploy and down")
        .says("run statement 2 by hand, then `godwit resolve --continue 20261201000000` and deploy to run the rest")
        .says("`godwit resolve --applied 20261201000000`")
        .says("`godwit resolve --rolled-back 20261201000000`");
    // What status says to run works: the cause fixed, statement 2 run by hand.
    p.db.exec("CREATE TABLE no_such_table (id INT)");
    p.db.exec("INSERT INTO no_such_table VALUES (1)");
    p.godwit(&["resolve", "--continue", "20261201000000"])
        .expect(0);
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int("SELECT count(*) FROM no_such_table"), 1);
    // Rolled back whole (PostgreSQL's transaction): nothing to finish or undo by hand.
    let q = Project::empty(Dialect::Postgres);
    q.write(
        "20261201000000_two/up.sql",
        "CREATE TABLE t1 (id INT);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    q.godwit(&["deploy"]).expect(1);
    let status = q.godwit(&["status"]);
    status.says("20261201000000 failed with nothing of it applied").says(
        "fix the cause, then run `godwit resolve --rolled-back 20261201000000` and deploy again",
    );
    assert!(!status.text().contains("--applied"), "{}", status.text());
}

/// A migration another tool recorded as failed (Prisma's `finished_at` empty, sqlx's
/// `success = false`) says nothing of how much of it ran: status must not claim nothing
/// was applied and send the user to `--rolled-back`, which then fails on what did run
/// (umami on MariaDB: its ADD COLUMN had committed).
#[test]
fn status_after_adopting_a_failed_migration_does_not_claim_nothing_ran() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20230101000000_add_visit/up.sql",
        "ALTER TABLE website ADD COLUMN visit_id INT;\nUPDATE website SET visit_id = BIN_TO_UUID(1);\n",
    );
    p.db.exec("CREATE TABLE website (id INT PRIMARY KEY)");
    p.db.exec("ALTER TABLE website ADD COLUMN visit_id INT");
    p.db.exec(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    );
    p.db.exec("INSERT INTO _sqlx_migrations VALUES (20230101000000, 'add visit', CURRENT_TIMESTAMP, FALSE, X'00', 1)");
    p.godwit(&["adopt"]).expect(4);
    let status = p.godwit(&["status"]);
    status
        .says("was recorded as failed by the tool godwit adopted it from")
        .says("inspect the schema");
    assert!(
        !status.text().contains("nothing of it applied"),
        "{}",
        status.text()
    );
}

/// A PostgreSQL migration run statement by statement (no transaction) that fails halfway
/// says why its first statements stayed: not "MySQL commits DDL as it goes".
#[test]
fn a_no_transaction_failure_on_postgres_gives_its_own_reason() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261101000000_two/up.sql",
        "-- godwit:no-transaction\nCREATE TABLE t (a INT);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("Statement 1 of 2 was applied and committed (the migration runs without a transaction, one statement at a time)");
    assert!(!out.text().contains("MySQL"), "{}", out.text());
}

/// MySQL commits DDL as it goes, so the advice names the statements left to run. When
/// the one that failed is the last, or the one before it, no empty range ("statements
/// 5-4") appears, and one statement is not a range ("statements 1-1").
#[test]
fn mysql_resume_advice_never_names_an_empty_range() {
    for (failing, resume) in [
        (
            3,
            "(statement 3 is the last, so that records it as applied)",
        ),
        (2, "(runs statement 3, the last)"),
        (1, "nothing"),
    ] {
        let p = Project::empty(Dialect::MySql);
        let mut sql: Vec<String> = (1..=3)
            .map(|i| format!("CREATE TABLE t{i} (id INT);"))
            .collect();
        sql[failing - 1] = "INSERT INTO no_such_table VALUES (1);".into();
        p.write("20261201000000_three/up.sql", &(sql.join("\n") + "\n"));
        let out = p.godwit(&["deploy"]);
        out.expect(1)
            .says(&format!("failed at statement {failing} of 3"));
        match failing {
            1 => out.says("Nothing of it was applied"),
            2 => out
                .says(resume)
                .says("Statement 1 of 3 was applied and committed")
                .says("undo statement 1 by hand"),
            _ => out.says(resume).says("Statements 1-2 of 3 were applied"),
        };
        let text = out.text().to_lowercase();
        for (i, _) in text.match_indices("statements ") {
            let rest = &text[i + "statements ".len()..];
            let range: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            if let Some((a, b)) = range.split_once('-')
                && let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>())
            {
                assert!(a < b, "a range of one statement or none, {a}-{b}:\n{text}");
            }
        }
        // The advice works: do the failed statement by hand, continue.
        if failing > 1 {
            p.db.exec(&format!("CREATE TABLE t{failing} (id INT)"));
            p.godwit(&["resolve", "--continue", "20261201000000"])
                .expect(0);
            p.godwit(&["deploy"]).expect(0);
            p.godwit(&["status"]).expect(0);
            assert!(p.db.table_exists("t3"));
        }
    }
}

/// A server DETAIL over several lines (a RAISE with its own layout, the list of objects
/// that depend on a dropped one) keeps its lines and their indentation, under the first.
#[test]
fn a_multi_line_detail_keeps_its_indentation_postgres() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261301000000_check/up.sql",
        "DO $$ BEGIN RAISE EXCEPTION 'orders are not clean' USING DETAIL = E'2 orders:\\n  order 7 has no customer\\n    (created by the import)'; END $$;\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(1).says("orders are not clean");
    let text = out.text();
    // From the detail on: the statement's excerpt above holds the same words.
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("detail:"))
        .collect();
    let column = |needle: &str| {
        let line = lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"));
        line.find(needle).unwrap()
    };
    let first = column("2 orders:");
    assert_eq!(column("order 7 has no customer"), first + 2, "{text}");
    assert_eq!(column("(created by the import)"), first + 4, "{text}");
}

/// Versions of different lengths (flipt's golang-migrate folder runs from 0 to 17) keep
/// the names in one column.
#[test]
fn status_lines_up_names_after_versions_of_different_lengths() {
    let p = Project::empty(Dialect::Sqlite);
    for v in [1, 2, 10] {
        p.write(
            &format!("{v}_t{v}/up.sql"),
            &format!("CREATE TABLE t{v} (id INT);\n"),
        );
    }
    let out = p.godwit(&["status"]);
    out.expect(5);
    let columns: Vec<usize> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  pending"))
        .map(|l| l.find(" t").unwrap())
        .collect();
    assert_eq!(columns.len(), 3, "{}", out.text());
    assert!(columns.iter().all(|c| *c == columns[0]), "{}", out.text());
}

/// vaultwarden's MySQL history declares inline REFERENCES to tables created later, which
/// MySQL ignores and MariaDB 10.5+ enforces; vaultwarden runs it with foreign key checks
/// off. The error says so, and the init_sql that does the same works.
#[test]
fn a_foreign_key_to_a_missing_table_points_to_init_sql_on_mariadb() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20261001000000_create_tables/up.sql",
        "CREATE TABLE ciphers (uuid CHAR(36) NOT NULL PRIMARY KEY, folder_uuid CHAR(36) REFERENCES folders (uuid));\n\
         CREATE TABLE folders (uuid CHAR(36) NOT NULL PRIMARY KEY);\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("errno: 150")
        .says("init_sql = \"SET SESSION FOREIGN_KEY_CHECKS = 0\"");
    p.godwit(&["resolve", "--rolled-back", "20261001000000"])
        .expect(0);
    std::fs::write(
        p.path().join("godwit.toml"),
        "init_sql = \"SET SESSION FOREIGN_KEY_CHECKS = 0\"\n",
    )
    .unwrap();
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
}

/// vaultwarden has 30 empty down.sql files: `down` lists them one per line, the first ten
/// and a count, not 30 names run together on one line.
#[test]
fn many_empty_down_scripts_are_listed_not_run_together() {
    let p = Project::empty(Dialect::Sqlite);
    for i in 1..=12 {
        p.write(
            &format!("202614010000{i:02}_add_t{i}/up.sql"),
            &format!("CREATE TABLE t{i} (id INT PRIMARY KEY);\n"),
        );
        p.write(&format!("202614010000{i:02}_add_t{i}/down.sql"), "");
    }
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["down", "--steps", "12"]);
    out.expect(0)
        .says("Reverted 12 migrations")
        .says("warning: 12 down scripts are empty, so reverting them changed nothing")
        .says("\n  20261401000012_add_t12\n")
        .says("\n  and 2 more\n")
        .says("the next deploy runs their up again");
    let text = out.text();
    let warning = &text[text.find("warning:").unwrap()..];
    assert!(
        !warning.contains("20261401000002_add_t2"),
        "the eleventh and twelfth reverted are counted, not named:\n{text}"
    );
}

/// An empty down.sql (as `migrate create` leaves it) reverts nothing: `down` says so, as
/// verify does, instead of a silent "Reverted 1 migration". Some histories mean it
/// (authelia keeps a widened column wide), so the revert itself goes ahead.
fn an_empty_down_sql_is_flagged_by_down(d: Dialect) {
    for empty in ["", "-- nothing to undo yet\n\n"] {
        let p = Project::empty(d);
        p.write(
            "20261401000000_create_users/up.sql",
            "CREATE TABLE users (id INT PRIMARY KEY);\n",
        );
        p.write("20261401000000_create_users/down.sql", empty);
        p.godwit(&["deploy"]).expect(0);
        p.godwit(&["down"])
            .expect(0)
            .says("Reverted 1 migration")
            .says("warning: the down script of 20261401000000_create_users is empty")
            .says("the next deploy runs its up again");
        let json = p.godwit(&["down", "--json"]);
        assert!(p.db.table_exists("users"), "nothing was changed");
        p.godwit(&["status"]).expect(5);
        // Nothing left to revert: no warning about a revert that did not happen.
        assert!(!json.stdout.contains("empty_downs"), "{}", json.text());
    }
    // An empty up (a version kept for the application's own code, as authelia's 0026)
    // has nothing to undo: no warning.
    let p = Project::empty(d);
    p.write(
        "20261402000000_reencrypt_in_app/up.sql",
        "-- done by the application\n",
    );
    p.write("20261402000000_reencrypt_in_app/down.sql", "");
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["down"]);
    out.expect(0);
    assert!(!out.text().contains("warning"), "{}", out.text());
    p.godwit(&["status"]).expect(5);

    // `down --steps 2`: an empty down reverted, then one that fails: the failure is
    // reported, and so is the empty down that ran before it.
    let p = Project::empty(d);
    p.write(
        "20261403000000_create_a/up.sql",
        "CREATE TABLE a (id INT PRIMARY KEY);\n",
    );
    p.write(
        "20261403000000_create_a/down.sql",
        "DROP TABLE no_such_table;\n",
    );
    p.write(
        "20261404000000_create_b/up.sql",
        "CREATE TABLE b (id INT PRIMARY KEY);\n",
    );
    p.write("20261404000000_create_b/down.sql", "");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down", "--steps", "2"])
        .expect(1)
        .says("no_such_table")
        .says("warning: the down script of 20261404000000_create_b is empty");
}

/// formbricks' Prisma migration wraps itself in BEGIN … COMMIT, and one statement inside
/// failed: godwit then wrote its progress into the aborted transaction, printed only
/// "current transaction is aborted" (25P02), and left the row "running, 0 of 33". Now the
/// script's own transaction is rolled back first, the real error is shown, and the
/// migration is recorded as failed with nothing applied.
fn a_failure_inside_the_scripts_own_transaction(d: Dialect) {
    let p = Project::empty(d);
    let provider = if d == Dialect::Postgres {
        "postgresql"
    } else {
        "sqlite"
    };
    p.write(
        "migration_lock.toml",
        &format!("provider = \"{provider}\"\n"),
    );
    p.write(
        "20240101000000_init/migration.sql",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\nINSERT INTO t VALUES (1, 'x');\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20240102000000_tx/migration.sql",
        "CREATE TABLE before_tx (id INTEGER);\nBEGIN;\nALTER TABLE t ADD COLUMN w INTEGER;\nINSERT INTO t (id, v) VALUES (2, NULL);\nCOMMIT;\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("20240102000000_tx failed at statement 4 of 5")
        .says("NULL")
        .says("own transaction (opened by statement 2) was rolled back")
        .says("statement 1 before it was applied");
    assert!(!out.text().contains("25P02"), "{}", out.text());
    p.godwit(&["status"]).expect(4).says("failed");
    assert!(p.db.table_exists("before_tx"), "statement 1 stays");
    assert_eq!(p.db.int("SELECT count(*) FROM t"), 1, "the insert went");
    // The fixed migration runs again from the start once the first statement is undone.
    p.db.exec("DROP TABLE before_tx");
    p.write(
        "20240102000000_tx/migration.sql",
        "CREATE TABLE before_tx (id INTEGER);\nBEGIN;\nALTER TABLE t ADD COLUMN w INTEGER;\nINSERT INTO t (id, v) VALUES (2, 'y');\nCOMMIT;\n",
    );
    p.godwit(&["resolve", "--rolled-back", "20240102000000"])
        .expect(0);
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(p.db.int("SELECT count(*) FROM t"), 2);
}

#[test]
fn a_failure_inside_the_scripts_own_transaction_postgres() {
    a_failure_inside_the_scripts_own_transaction(Dialect::Postgres);
}

#[test]
fn a_failure_inside_the_scripts_own_transaction_sqlite() {
    a_failure_inside_the_scripts_own_transaction(Dialect::Sqlite);
}

/// zero-to-production's sqlx migration is `BEGIN; UPDATE …; ALTER … SET NOT NULL; COMMIT;`.
/// Inside a transaction of godwit's, that COMMIT committed godwit's: a statement failing
/// after it left the UPDATE and ALTER in the database while godwit said "nothing of it
/// was applied" and advised running it all again. Such a file now runs as written, its
/// own transaction holding its statements, in every layout; plan says so.
fn a_file_that_commits_its_own_transaction(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20210101000000_create.sql",
        "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY, status TEXT);
INSERT INTO subscriptions VALUES (1, NULL);
",
    );
    p.godwit(&["deploy"]).expect(0);
    let alter = if d == Dialect::Postgres {
        "ALTER TABLE subscriptions ALTER COLUMN status SET NOT NULL;"
    } else {
        "CREATE TABLE marker (id INTEGER);"
    };
    p.write(
        "20210102000000_status.sql",
        &format!(
            "BEGIN;\nUPDATE subscriptions SET status = 'confirmed' WHERE status IS NULL;\n{alter}\nCOMMIT;\nINSERT INTO nowhere VALUES (1);\n"
        ),
    );
    p.godwit(&["plan"])
        .says("statement by statement: the file manages its own transaction (line 1)");
    let out = p.godwit(&["deploy"]);
    out.expect(1).says("failed at statement 5 of 5");
    assert!(
        !out.text().contains("Nothing of it was applied"),
        "{}",
        out.text()
    );
    assert_eq!(
        p.db.int("SELECT count(*) FROM subscriptions WHERE status = 'confirmed'"),
        1,
        "the file's own COMMIT made its UPDATE durable"
    );
    assert_eq!(
        p.db.int(
            "SELECT statements_applied FROM godwit_migrations WHERE version = '20210102000000'"
        ),
        4,
        "the history says what the database holds"
    );
    // Without the failing statement it applies, and the rest of the history with it.
    p.write(
        "20210102000000_status.sql",
        &format!(
            "BEGIN;\nUPDATE subscriptions SET status = 'confirmed' WHERE status IS NULL;\n{alter}\nCOMMIT;\n"
        ),
    );
    p.write(
        "20210103000000_more.sql",
        "BEGIN;\nCREATE TABLE more (id INTEGER);\nCOMMIT;\n",
    );
    let fresh = Project::empty(d);
    for name in [
        "20210101000000_create.sql",
        "20210102000000_status.sql",
        "20210103000000_more.sql",
    ] {
        fresh.write(
            name,
            &std::fs::read_to_string(p.migrations().join(name)).unwrap(),
        );
    }
    fresh
        .godwit(&["deploy"])
        .expect(0)
        .says("Applied 3 migrations");
    assert!(fresh.db.table_exists("more"));
    fresh.godwit(&["status"]).expect(0);
}

#[test]
fn a_file_that_commits_its_own_transaction_postgres() {
    a_file_that_commits_its_own_transaction(Dialect::Postgres);
}

#[test]
fn a_file_that_commits_its_own_transaction_sqlite() {
    a_file_that_commits_its_own_transaction(Dialect::Sqlite);
}

/// langfuse's Prisma backfill opens its own transaction and sets its isolation level
/// first: PostgreSQL takes `SET TRANSACTION` only before any query of the transaction,
/// and godwit's progress write after BEGIN was one. Nothing of godwit's goes between
/// them now, and the file runs at the level it asked for.
#[test]
fn a_scripts_own_transaction_sets_its_isolation_level_first() {
    let p = Project::empty(Dialect::Postgres);
    p.write("migration_lock.toml", "provider = \"postgresql\"\n");
    p.write(
        "20240101000000_backfill/migration.sql",
        "BEGIN;\nSET TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n\
         CREATE TABLE levels (level text NOT NULL);\n\
         INSERT INTO levels SELECT current_setting('transaction_isolation');\nCOMMIT;\n",
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(
        p.db.int("SELECT count(*) FROM levels WHERE level = 'repeatable read'"),
        1
    );
    assert_eq!(
        p.db.int(
            "SELECT statements_applied FROM godwit_migrations WHERE version = '20240101000000'"
        ),
        5
    );
    p.godwit(&["status"]).expect(0);
}

/// A dbmate file whose `-- migrate:down` section is there but empty: dbmate reverts it as
/// a no-op. godwit said the section was missing and refused; it now reverts it, with the
/// same warning as an empty down.sql. A file with no down section still has none.
#[test]
fn an_empty_dbmate_down_section_is_empty_not_missing() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20240101000000_create_t.sql",
        "-- migrate:up\nCREATE TABLE t (id INTEGER);\n\n-- migrate:down\n\n",
    );
    let lint = p.godwit(&["lint"]);
    assert!(!lint.text().contains("GW020"), "{}", lint.text());
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"])
        .expect(0)
        .says("Reverted 1 migration")
        .says("is empty");
    p.write(
        "20240102000000_create_u.sql",
        "-- migrate:up\nCREATE TABLE u (id INTEGER);\n",
    );
    p.godwit(&["lint"]).says("GW020");
}

/// A failed `CREATE UNIQUE INDEX CONCURRENTLY` leaves its index behind, INVALID; the
/// advice says so and how to drop it, since the next run would fail on the name.
#[test]
fn a_failed_concurrent_index_names_the_invalid_index_it_left() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20240101000000_create_t/up.sql",
        "CREATE TABLE t (id int PRIMARY KEY, v text);\nINSERT INTO t VALUES (1, 'a'), (2, 'a');\n",
    );
    p.write(
        "20240102000000_add_t_v_unique_index/up.sql",
        "-- godwit:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY t_v_key ON t (v);\n",
    );
    p.godwit(&["deploy"])
        .expect(1)
        .says("PostgreSQL left the index t_v_key behind, marked INVALID")
        .says("DROP INDEX CONCURRENTLY t_v_key;");
    // Following the advice works.
    p.db.exec("DROP INDEX t_v_key");
    p.db.exec("UPDATE t SET v = 'b' WHERE id = 2");
    p.godwit(&["resolve", "--rolled-back", "20240102000000"])
        .expect(0);
    p.godwit(&["deploy"]).expect(0);
    // A failure that leaves no index says nothing of one.
    p.write(
        "20240103000000_bad/up.sql",
        "-- godwit:no-transaction\nCREATE INDEX CONCURRENTLY t_nope ON no_such_table (v);\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(1);
    assert!(!out.text().contains("INVALID"), "{}", out.text());
}

/// On MySQL a down.sql commits its DDL as it goes: when statement 2 fails, the message
/// says statement 1 stayed, so the user knows what "a known state by hand" starts from
/// (keto's down dropped a foreign key, then failed).
#[test]
fn a_mysql_down_failing_halfway_says_what_it_committed() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20261101000000_two_tables/up.sql",
        "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
    );
    p.write(
        "20261101000000_two_tables/down.sql",
        "DROP TABLE b;\nDROP TABLE no_such_table;\nDROP TABLE a;\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["down"]);
    out.expect(1)
        .says("The revert did not complete. Statement 1 of")
        .says("was applied and committed (MySQL commits DDL as it goes); statement 2 was not.")
        .says("godwit resolve --applied 20261101000000");
    assert!(!p.db.table_exists("b") && p.db.table_exists("a"));
}
