//! `godwit plan` against seeded data: exact counts of what a migration would destroy or
//! break, and a plan that changes nothing.

use crate::each_dialect;
use crate::support::*;

each_dialect!(plan_counts_the_data_at_stake);

/// `godwit plan --json` on `p`, which must succeed.
fn plan_json(p: &Project) -> serde_json::Value {
    let out = p.godwit(&["plan", "--json"]);
    out.expect(0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.text()))
}

fn plan_counts_the_data_at_stake(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20261001000000_create_users/up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100), nickname VARCHAR(50), city VARCHAR(50));\n",
    );
    p.godwit(&["deploy"]).expect(0);
    // 10 users: 7 emails, nicknames a,a,b,c,c,c (two duplicated values), 2 without a city.
    p.db.exec(
        "INSERT INTO users (id, email, nickname, city) VALUES \
         (1, 'a@x', 'a', 'Oslo'), (2, 'b@x', 'a', 'Rome'), (3, 'c@x', 'b', 'Lima'), (4, 'd@x', 'c', NULL), \
         (5, 'e@x', 'c', 'Kyiv'), (6, 'f@x', 'c', 'Pune'), (7, 'g@x', NULL, NULL), (8, NULL, NULL, 'Bonn'), \
         (9, NULL, NULL, 'Cork'), (10, NULL, 'd', 'Nice')",
    );
    let set_not_null = if d == Dialect::Postgres {
        "ALTER TABLE users ALTER COLUMN city SET NOT NULL;\n"
    } else {
        ""
    };
    p.write(
        "20261002000000_tighten_users/up.sql",
        &format!(
            "ALTER TABLE users DROP COLUMN email;\nCREATE UNIQUE INDEX users_nickname_key ON users (nickname);\n{set_not_null}"
        ),
    );
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("20261002000000_tighten_users")
        .says("users: 10 rows")
        .says("drops users.email: 7 non-null values")
        .says("2 duplicated values of (nickname) in users would make this fail")
        .says("risk HIGH")
        .says("Data loss: drops users.email: 7 non-null values");
    if d == Dialect::Postgres {
        out.says("2 NULL values in users.city would make this fail")
            .says("ACCESS EXCLUSIVE");
    }
    // Read-only: nothing changed.
    p.godwit(&["status"]).expect(5);
    assert_eq!(p.db.int("SELECT count(email) FROM users"), 7);

    let md = p.godwit(&["plan", "--format", "markdown"]);
    md.expect(0)
        .says("## godwit plan")
        .says("### Tables modified")
        .says("### Data migration")
        .says("### Data at stake")
        .says("### Rollback plan")
        .says("no down.sql");
    let json = plan_json(&p);
    assert_eq!(json["risk"], "high");
    assert_eq!(
        json["migrations"][0]["statements"][0]["data_loss"][0],
        "drops users.email: 7 non-null values"
    );
}

each_dialect!(plan_counts_quoted_mixed_case_names);

/// A Prisma history quotes every name (`"Ledger"`, `"noteText"`): plan names and counts
/// that table, not a lower-case `ledger` beside it (PostgreSQL and MySQL keep both; SQLite
/// compares without case, so there is only one).
fn plan_counts_quoted_mixed_case_names(d: Dialect) {
    let p = Project::empty(d);
    let q = |name: &str| match d {
        Dialect::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    };
    let other = if d == Dialect::Sqlite {
        String::new()
    } else {
        "CREATE TABLE ledger (id INTEGER PRIMARY KEY);\n".to_owned()
    };
    p.write(
        "20261001000000_create_ledger/up.sql",
        &format!(
            "CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} VARCHAR(50));\n{other}",
            q("Ledger"),
            q("id"),
            q("noteText")
        ),
    );
    p.godwit(&["deploy"]).expect(0);
    p.db.exec(&format!(
        "INSERT INTO {} ({}, {}) VALUES (1, 'a'), (2, 'b'), (3, NULL)",
        q("Ledger"),
        q("id"),
        q("noteText")
    ));
    p.write(
        "20261002000000_drop_ledger/up.sql",
        &format!(
            "ALTER TABLE {} DROP COLUMN {};\nDROP TABLE {};\n",
            q("Ledger"),
            q("noteText"),
            q("Ledger")
        ),
    );
    let out = p.godwit(&["plan"]);
    if d == Dialect::Sqlite {
        // SQLite names the object as lower case; the counts are the point.
        out.expect(0)
            .says("drops ledger.notetext: 2 non-null values")
            .says("drops table ledger: 3 rows");
    } else {
        out.expect(0)
            .says("Ledger: 3 rows")
            .says("drops Ledger.noteText: 2 non-null values")
            .says("drops table Ledger: 3 rows");
        assert!(!out.text().contains("drops table ledger"), "{}", out.text());
    }
}

each_dialect!(
    plan_counts_what_a_table_rebuild_leaves_out,
    plan_counts_the_rows_a_filtered_copy_leaves_behind,
    a_column_added_earlier_in_the_run_has_nothing_to_lose
);

/// plan judges the pending migrations as one run, so it leaves out what `godwit lint`
/// says about a table an earlier one creates (an index on it blocks nobody yet), and says
/// how many it left out: two commands that disagree say why.
#[test]
fn plan_says_how_many_lint_findings_it_leaves_out() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261001000000_orders/up.sql",
        "CREATE TABLE orders (id int, customer_id int);\n",
    );
    p.write(
        "20261002000000_orders_index/up.sql",
        "CREATE INDEX orders_customer_idx ON orders (customer_id);\n",
    );
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("2 more that `godwit lint` reports are left out");
    let json = plan_json(&p);
    // GW013 (no CONCURRENTLY) and GW017 (no lock timeout), both about the new table.
    assert_eq!(json["findings_on_new_tables"], 2, "{json:#}");
    let lint = p.godwit(&["lint", "--dialect", "postgres"]);
    lint.says("GW013");
    // Deployed one by one, the second is judged on a table in use, as lint judges it.
    p.godwit(&["deploy", "--to", "20261001000000"]).expect(0);
    let json = plan_json(&p);
    assert_eq!(json["findings_on_new_tables"], 0, "{json:#}");
    assert!(json.to_string().contains("GW013"), "{json:#}");
}

/// A pending migration drops a column an earlier pending one adds (a change of mind): the
/// column is not in the live database yet, so plan has nothing to count and nothing is
/// lost, instead of "an unknown number" of values. One the run renamed is counted under
/// its live name.
fn a_column_added_earlier_in_the_run_has_nothing_to_lose(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20261001000000_create_job/up.sql",
        "CREATE TABLE job (id INTEGER PRIMARY KEY, name VARCHAR(50));\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.db.exec("INSERT INTO job (id, name) VALUES (1, 'a'), (2, 'b')");
    p.write(
        "20261002000000_add_note/up.sql",
        "ALTER TABLE job ADD COLUMN note VARCHAR(50);\nALTER TABLE job RENAME COLUMN name TO title;\n",
    );
    p.write(
        "20261003000000_drop_note_and_title/up.sql",
        "ALTER TABLE job DROP COLUMN note;\nALTER TABLE job DROP COLUMN title;\n",
    );
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("job.note is added earlier in this run: none of its values exist yet to lose");
    let json = plan_json(&p);
    assert_eq!(
        json["data_loss"],
        serde_json::json!(["drops job.title: 2 non-null values"]),
        "{json:#}"
    );
}

/// A rebuild whose copy takes only some rows (stash's copy `… WHERE a IS NOT NULL`) loses
/// the rest when it drops the table: plan counts those, not the whole table. A copy that
/// leaves rows out some other way (a LIMIT) is "up to" the whole table.
fn plan_counts_the_rows_a_filtered_copy_leaves_behind(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20261001000000_create_job/up.sql",
        "CREATE TABLE job (id INTEGER PRIMARY KEY, name VARCHAR(50), legacy VARCHAR(50));\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.db.exec(
        "INSERT INTO job (id, name, legacy) VALUES (1, 'a', 'x'), (2, 'b', NULL), (3, 'c', 'y')",
    );
    let rebuild = |copy: &str| {
        format!(
            "CREATE TABLE new_job (id INTEGER PRIMARY KEY, name VARCHAR(50));\n\
             INSERT INTO new_job (id, name) SELECT id, name FROM job {copy};\n\
             DROP TABLE job;\n\
             ALTER TABLE new_job RENAME TO job;\n"
        )
    };
    let one_row_lost = |copy: String| {
        p.write("20261002000000_keep_legacy_rows/up.sql", &copy);
        let json = plan_json(&p);
        assert_eq!(
            json["data_loss"],
            serde_json::json!([
                "drops table job: 1 row that statement 2 did not copy into new_job (of 3 rows)"
            ]),
            "{copy}\n{json:#}"
        );
    };
    one_row_lost(rebuild("WHERE legacy IS NOT NULL"));
    // An alias in the copy is the copy's own: the count reads the table under it.
    one_row_lost(
        rebuild("AS j WHERE j.legacy = 'x' OR j.name = 'b'")
            .replace("SELECT id, name", "SELECT j.id, j.name"),
    );
    p.write(
        "20261002000000_keep_legacy_rows/up.sql",
        &rebuild("ORDER BY id LIMIT 2"),
    );
    let json = plan_json(&p);
    let loss = json["data_loss"].to_string();
    assert!(loss.contains("drops table job: up to 3 rows"), "{json:#}");
}

/// A table rebuilt the way Prisma and Drizzle Kit rebuild SQLite tables (copy, drop,
/// rename) keeps its rows: plan counts the values of the columns the copy leaves out, not
/// the whole table. A later drop of the rebuilt table is still a drop of every row.
fn plan_counts_what_a_table_rebuild_leaves_out(d: Dialect) {
    let p = Project::empty(d);
    // The last deploy drops a table that existed (moved aside, then dropped): it backs up.
    p.backups_off_where_pg_dump_cannot();
    let q = |name: &str| match d {
        Dialect::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    };
    let (job, new_job, id, name, legacy) =
        (q("Job"), q("new_Job"), q("id"), q("name"), q("legacy"));
    p.write(
        "20261001000000_create_job/up.sql",
        &format!("CREATE TABLE {job} ({id} INTEGER PRIMARY KEY, {name} VARCHAR(50), {legacy} VARCHAR(50));\n"),
    );
    p.godwit(&["deploy"]).expect(0);
    p.db.exec(&format!(
        "INSERT INTO {job} ({id}, {name}, {legacy}) VALUES (1, 'a', 'x'), (2, 'b', NULL), (3, 'c', 'y')"
    ));
    p.write(
        "20261002000000_redefine_job/up.sql",
        &format!(
            "CREATE TABLE {new_job} ({id} INTEGER PRIMARY KEY, {name} VARCHAR(50));\n\
             INSERT INTO {new_job} ({id}, {name}) SELECT {id}, {name} FROM {job};\n\
             DROP TABLE {job};\n\
             ALTER TABLE {new_job} RENAME TO {job};\n"
        ),
    );
    p.write(
        "20261003000000_drop_job/up.sql",
        &format!("DROP TABLE {job};\n"),
    );
    let out = p.godwit(&["plan"]);
    let shown = if d == Dialect::Sqlite { "job" } else { "Job" };
    out.expect(0)
        .says(&format!(
            "rebuilds {shown} without column legacy: 2 non-null values"
        ))
        .says("GW024")
        .says(&format!("drops table {shown}: 3 rows"));
    let json = plan_json(&p);
    assert_eq!(
        json["data_loss"],
        serde_json::json!([
            format!("rebuilds {shown} without column legacy: 2 non-null values"),
            format!("drops table {shown}: 3 rows"),
        ]),
        "{json:#}"
    );
    // The rebuild is not reported as a drop of Job: only the later migration is.
    assert_eq!(out.text().matches("GW001").count(), 1, "{}", out.text());

    // Moved aside and copied whole: nothing is lost, and plan says so.
    std::fs::remove_dir_all(p.migrations().join("20261002000000_redefine_job")).unwrap();
    std::fs::remove_dir_all(p.migrations().join("20261003000000_drop_job")).unwrap();
    let old = q("Job_old");
    p.write(
        "20261002000000_redefine_job/up.sql",
        &format!(
            "ALTER TABLE {job} RENAME TO {old};\n\
             CREATE TABLE {job} ({id} INTEGER PRIMARY KEY, {name} VARCHAR(50), {legacy} VARCHAR(50));\n\
             INSERT INTO {job} SELECT * FROM {old};\n\
             DROP TABLE {old};\n"
        ),
    );
    let out = p.godwit(&["plan"]);
    out.expect(0).says(&format!(
        "rebuilds {shown}: the copy (statement 3) carries every row and every column"
    ));
    assert!(!out.text().contains("Data loss"), "{}", out.text());
    // The table moved aside is counted under the name it has now.
    let old_shown = if d == Dialect::Sqlite {
        "job_old"
    } else {
        "Job_old"
    };
    out.says(&format!("{old_shown}: 3 rows"));
    assert!(!out.text().contains("unavailable"), "{}", out.text());
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(p.db.int(&format!("SELECT count(*) FROM {job}")), 3);
}

/// A unique index on an expression groups by the expression, and a partial one counts
/// only the rows its WHERE takes in: openstatus's partial unique indexes were all
/// reported as failing, and `lower("email")` was read as one quoted column (on SQLite a
/// constant string, so every row looked like a duplicate).
#[test]
fn plan_counts_duplicates_of_expression_and_partial_unique_indexes() {
    for d in [Dialect::Postgres, Dialect::Sqlite] {
        let p = Project::empty(d);
        p.write(
            "20261001000000_create_t/up.sql",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR(50), kind VARCHAR(10));\n",
        );
        p.godwit(&["deploy"]).expect(0);
        p.db.exec("INSERT INTO t VALUES (1, 'a@x', 'x'), (2, 'A@x', 'y'), (3, 'c@x', 'y')");
        p.write(
            "20261002000000_unique_lower_email/up.sql",
            "CREATE UNIQUE INDEX t_email_key ON t (lower(\"email\"));\n",
        );
        p.godwit(&["plan"])
            .expect(0)
            .says("1 duplicated value of (");
        std::fs::remove_dir_all(p.migrations().join("20261002000000_unique_lower_email")).unwrap();
        p.write(
            "20261002000000_unique_x_kind/up.sql",
            "CREATE UNIQUE INDEX t_kind_x ON t (kind) WHERE kind = 'x';\n",
        );
        let out = p.godwit(&["plan"]);
        out.expect(0).says("no duplicate (kind) in t");
        assert!(
            !out.text().contains("would make this fail"),
            "{d}: {}",
            out.text()
        );
        p.write(
            "20261003000000_unique_kind/up.sql",
            "CREATE UNIQUE INDEX t_kind ON t (kind);\n",
        );
        p.godwit(&["plan"])
            .expect(0)
            .says("1 duplicated value of (kind) in t would make this fail");
    }
}

/// plan judges a pending type change against the type the applied migrations gave the
/// column, as lint over the whole folder does: atuin's varchar widening is no rewrite.
#[test]
fn plan_agrees_with_lint_on_a_widening_after_the_applied_history() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261001000000_create_history/up.sql",
        "CREATE TABLE history (id bigserial PRIMARY KEY, data varchar(8192));\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20261002000000_larger_commands/up.sql",
        "-- godwit:lock-timeout=5s\nALTER TABLE history ALTER COLUMN data TYPE varchar(32768);\n",
    );
    let plan = p.godwit(&["plan"]);
    plan.expect(0);
    assert!(!plan.text().contains("GW007"), "{}", plan.text());
    let lint = p.godwit(&["lint"]);
    assert!(!lint.text().contains("GW007"), "{}", lint.text());
    // Narrowed, it is a rewrite for both.
    p.write(
        "20261002000000_larger_commands/up.sql",
        "-- godwit:lock-timeout=5s\nALTER TABLE history ALTER COLUMN data TYPE varchar(100);\n",
    );
    p.godwit(&["plan"]).expect(0).says("GW007");
    p.godwit(&["lint"]).expect(4).says("GW007");
}

/// A table the run makes where the plan cannot follow (a DO block) is not in the
/// database yet: that is said as it is, not as a count that failed or timed out. A
/// count that does fail still says so.
#[test]
fn plan_says_a_table_is_not_there_yet_rather_than_uncountable() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261001000000_made_in_a_block/up.sql",
        "DO $$ BEGIN EXECUTE 'CREATE TABLE audit (id int PRIMARY KEY, note text)'; END $$;\n",
    );
    p.write(
        "20261002000000_index_audit/up.sql",
        "-- godwit:lock-timeout=5s\nCREATE INDEX audit_note ON audit (note);\n",
    );
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("audit: not in the database now, so there are no rows to count");
    assert!(!out.text().contains("count failed"), "{}", out.text());

    // Deployed, it is counted.
    p.godwit(&["deploy", "--to", "20261001000000"]).expect(0);
    p.db.exec("INSERT INTO audit VALUES (1, 'a'), (2, 'b')");
    p.godwit(&["plan"]).expect(0).says("audit: 2 rows");
}

/// atuin's `DROP TABLE IF EXISTS archives` before it creates the table: plan said
/// "archives does not exist: nothing to drop" and then lint's GW001 "every row is gone
/// for good", rating the migration HIGH. Where the table is not there the finding is left
/// out, and said to be; where it is, it stays.
#[test]
fn a_drop_if_exists_of_a_missing_table_is_no_data_loss_in_plan() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let p = Project::empty(dialect);
        p.write(
            "20260309005927_add_archives/up.sql",
            "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id INTEGER PRIMARY KEY, body TEXT);\n",
        );
        let out = p.godwit(&["plan"]);
        out.expect(0)
            .says("archives does not exist: nothing to drop")
            .says("1 that `godwit lint` reports about dropping a table is left out");
        // Said once: not also "not in the database now, so there are no rows to count".
        assert!(
            !out.text().contains("archives: not in the database"),
            "{}",
            out.text()
        );
        assert!(!out.text().contains("GW001"), "{dialect:?}: {}", out.text());
        let doc = plan_json(&p);
        assert_eq!(doc["findings_on_absent_tables"], 1, "{doc:#}");
        assert!(
            doc["migrations"][0]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["code"] != "GW001"),
            "{doc:#}"
        );

        // The table is there, with rows: dropping it loses them, and lint's finding stays.
        p.db.exec("CREATE TABLE archives (id INTEGER PRIMARY KEY, body TEXT)");
        p.db.exec("INSERT INTO archives VALUES (1, 'a')");
        let out = p.godwit(&["plan"]);
        out.expect(0).says("GW001").says("archives: 1 row");
        assert_eq!(plan_json(&p)["findings_on_absent_tables"], 0);
    }
}

/// A SQLite rebuild that says `PRAGMA foreign_keys=OFF` (Prisma's and Drizzle's) runs with
/// foreign keys off around its transaction; plan says so next to the transaction mode.
#[test]
fn plan_says_when_sqlite_foreign_keys_are_off() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20260101000000_create/up.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\nCREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260102000000_rebuild/up.sql",
        "PRAGMA foreign_keys=OFF;\nCREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT);\n\
         INSERT INTO new_parent (id) SELECT id FROM parent;\nDROP TABLE parent;\n\
         ALTER TABLE new_parent RENAME TO parent;\nPRAGMA foreign_keys=ON;\n",
    );
    p.write(
        "20260103000000_plain/up.sql",
        "CREATE TABLE other (id INTEGER PRIMARY KEY);\n",
    );
    p.godwit(&["plan"])
        .expect(0)
        .says("20260102000000_rebuild  risk")
        .says("(one transaction, with SQLite's foreign keys off)");
    let doc = plan_json(&p);
    assert_eq!(doc["migrations"][0]["foreign_keys_off"], true, "{doc:#}");
    assert_eq!(doc["migrations"][1]["foreign_keys_off"], false, "{doc:#}");
}

/// crates.io's remove-downloads-column has a down.sql with CREATE INDEX CONCURRENTLY in
/// a transaction: lint's GW015 on it counted in plan's totals and its risk, but the text
/// never showed it. Findings on the down.sql are shown with that file.
#[test]
fn plan_shows_findings_on_a_down_script() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20260101000000_create/up.sql",
        "CREATE TABLE downloads (id int PRIMARY KEY, version_id int);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20260102000000_remove_column/up.sql",
        "-- godwit:lock-timeout=5s\nALTER TABLE downloads DROP COLUMN version_id;\n",
    );
    p.write(
        "20260102000000_remove_column/down.sql",
        "ALTER TABLE downloads ADD COLUMN version_id int;\nCREATE INDEX CONCURRENTLY downloads_version ON downloads (version_id);\n",
    );
    let out = p.godwit(&["plan"]);
    out.expect(0).says("down.sql:2: error GW015");
    let doc = plan_json(&p);
    let shown = out.text().matches(" GW0").count();
    assert!(
        shown >= doc["findings"].as_u64().unwrap() as usize,
        "{}",
        out.text()
    );
}

/// Counts only what exists: a table created earlier in the same plan has no rows yet.
#[test]
fn plan_of_a_fresh_database() {
    let p = Project::new(Dialect::Sqlite, "migrations_reversible");
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("20260201000000_create_accounts")
        .says("Overall risk");
    assert!(
        !out.text().contains("row count unavailable"),
        "{}",
        out.text()
    );
    let empty = Project::new(Dialect::Sqlite, "migrations_reversible");
    empty.godwit(&["deploy"]).expect(0);
    empty.godwit(&["plan"]).expect(0).says("Nothing to plan");

    // `--to` plans what `deploy --to` would apply, and names a version that is not there.
    let out = p.godwit(&["plan", "--to", "20260201000000"]);
    out.expect(0).says("20260201000000_create_accounts");
    assert!(!out.text().contains("20260202000000"), "{}", out.text());
    p.godwit(&["plan", "--to", "20269999999999"])
        .expect(2)
        .says("no migration with that version");
}

/// The langfuse trial: with a failed migration awaiting `resolve`, deploy refused (exit 4)
/// while plan said "Nothing to plan" and exited 0. plan now says what deploy would say,
/// in every format, and exits 4 as it would; as it does for another tool's history.
#[test]
fn plan_says_when_deploy_would_refuse() {
    let p = Project::empty(Dialect::Sqlite);
    p.write("20260101000000_a/up.sql", "CREATE TABLE a (id INTEGER);\n");
    p.write(
        "20260102000000_b/up.sql",
        "CREATE TABLE b (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
    );
    p.write("20260103000000_c/up.sql", "CREATE TABLE c (id INTEGER);\n");
    p.godwit(&["deploy"]).expect(1);
    let out = p.godwit(&["plan"]);
    out.expect(4)
        .says("`godwit deploy` would apply nothing now: deploy refused: 1 problem")
        .says("20260102000000")
        .says("resolve")
        // What would run once it is dealt with is still planned.
        .says("20260103000000_c");
    let out = p.godwit(&["plan", "--json"]);
    out.expect(4);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        json["refused"]
            .as_str()
            .is_some_and(|r| r.contains("20260102000000")),
        "{json}"
    );
    p.godwit(&["plan", "--format", "markdown"])
        .expect(4)
        .says("would apply nothing now");
    // Dealt with, the plan goes back to what deploy will do.
    p.godwit(&["resolve", "--rolled-back", "20260102000000"])
        .expect(0);
    p.write("20260102000000_b/up.sql", "CREATE TABLE b (id INTEGER);\n");
    let out = p.godwit(&["plan"]);
    out.expect(0);
    assert!(
        !out.text().contains("would apply nothing"),
        "{}",
        out.text()
    );

    // Another tool's history, not adopted: deploy refuses, and so plan says.
    let q = Project::empty(Dialect::Sqlite);
    q.write("20260101000000_a/up.sql", "CREATE TABLE a (id INTEGER);\n");
    q.db.exec("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)");
    q.db.exec("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (20260101000000, 'a', 1, x'00', 1)");
    q.godwit(&["plan"]).expect(4).says("godwit adopt");
}

/// Each table's own lock: the table written, the tables only read, the table a foreign key
/// references, the table created (none). SQLite's one lock is on the whole file.
#[test]
fn plan_gives_each_table_its_own_lock() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20261001000000_create/up.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\nCREATE TABLE orders (id int PRIMARY KEY, user_id int);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "20261002000000_more/up.sql",
        "-- godwit:lock-timeout=5s\n\
         ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n\
         CREATE TABLE archive AS SELECT * FROM orders;\n\
         INSERT INTO archive SELECT o.* FROM orders o JOIN users u ON u.id = o.user_id;\n\
         CREATE TABLE items (id int, order_id int REFERENCES orders (id));\n",
    );
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("lock: SHARE ROW EXCLUSIVE on orders, users\n")
        .says("lock: ACCESS SHARE on orders\n")
        .says("lock: ROW EXCLUSIVE on archive; ACCESS SHARE on orders, users\n")
        .says("lock: SHARE ROW EXCLUSIVE on orders\n");
    let json = plan_json(&p);
    let created = &json["migrations"][0]["statements"][3]["locks"];
    assert_eq!(created[0]["table"], "items");
    assert_eq!(created[0]["lock"], "None", "{created}");

    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20261001000000_create/up.sql",
        "CREATE TABLE t (id integer);\n",
    );
    p.godwit(&["plan"])
        .expect(0)
        .says("lock: database write (the whole file)\n");
}

each_dialect!(dropping_a_table_that_is_not_there_loses_nothing);

/// authelia's fresh plan listed ten `DROP TABLE IF EXISTS` of legacy tables as data loss
/// of "an unknown number of rows".
fn dropping_a_table_that_is_not_there_loses_nothing(d: Dialect) {
    let p = Project::empty(d);
    p.write(
        "20261001000000_cleanup/up.sql",
        "DROP TABLE IF EXISTS legacy_sessions;\nDROP TABLE legacy_tokens;\n",
    );
    let out = p.godwit(&["plan"]);
    out.expect(0)
        .says("legacy_sessions does not exist: nothing to drop")
        .says("legacy_tokens does not exist: this statement will fail");
    assert!(!out.stdout.contains("Data loss"), "{}", out.stdout);
}

/// Conductor's V5 and V6 both run `DROP COLUMN IF EXISTS id` on one table: plan counted
/// the values twice. What an earlier statement of the run dropped is gone already.
#[test]
fn a_second_drop_of_the_same_column_or_table_loses_nothing_more() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "1_init/up.sql",
        "CREATE TABLE t (id int PRIMARY KEY, c int);\nCREATE TABLE old (id int);\n\
         INSERT INTO t SELECT g, g FROM generate_series(1, 10) g;\nINSERT INTO old VALUES (1);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "2_a/up.sql",
        "ALTER TABLE t DROP COLUMN IF EXISTS c;\nDROP TABLE IF EXISTS old;\n",
    );
    p.write(
        "3_b/up.sql",
        "ALTER TABLE t DROP COLUMN IF EXISTS c;\nDROP TABLE IF EXISTS old;\n",
    );
    let out = p.godwit(&["plan"]);
    let text = out.text();
    assert!(
        text.contains("Data loss: drops t.c: 10 non-null values; drops table old: 1 row.\n"),
        "{text}"
    );
    assert!(
        text.contains("t.c was dropped by an earlier statement of this run")
            && text.contains("old was dropped by an earlier statement of this run"),
        "{text}"
    );
    // A column dropped, added back and dropped again within the run: the second one
    // holds only what the run put there, and the live column's 10 values are not
    // counted twice.
    p.write(
        "3_b/up.sql",
        "ALTER TABLE t ADD COLUMN c int;\nALTER TABLE t DROP COLUMN c;\n",
    );
    let text = p.godwit(&["plan"]).text();
    assert!(
        text.contains("Data loss: drops t.c: 10 non-null values; drops table old: 1 row.\n")
            && text
                .contains("t.c is added earlier in this run: none of its values exist yet to lose"),
        "{text}"
    );
}

/// A drop made through dynamic SQL has no table plan can count, but plan says it loses
/// data and rates it high (conductor: "lock: none", MEDIUM, for a drop of a key column
/// built in a string); a DO block that only adds stays as it was.
#[test]
fn dynamic_sql_that_drops_is_data_loss_in_the_plan() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "1_init/up.sql",
        "CREATE TABLE t (id int PRIMARY KEY, c int);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    p.write(
        "2_add/up.sql",
        "DO $$ BEGIN ALTER TABLE t ADD COLUMN d int; EXCEPTION WHEN duplicate_column THEN NULL; END $$;\n",
    );
    p.write(
        "3_drop/up.sql",
        "DO $$ BEGIN EXECUTE 'ALTER TABLE t DROP COLUMN c'; END $$;\n",
    );
    let text = p.godwit(&["plan"]).text();
    assert!(
        text.contains("3_drop drops or deletes through dynamic SQL"),
        "{text}"
    );
    assert!(text.contains("3_drop  risk HIGH"), "{text}");
    assert!(!text.contains("2_add drops"), "{text}");
}
