//! Other tools' migration folders read in place, and their history tables adopted: after
//! `godwit adopt` on a database the other tool migrated, `deploy` applies nothing twice.

use sha2::{Digest, Sha256, Sha384};

use crate::each_dialect;
use crate::support::*;

/// A project directory holding a copy of `tests/fixtures/layouts/<tool>/` as it is.
fn project(tool: &str) -> Project {
    let p = Project::empty(Dialect::Postgres);
    std::fs::remove_dir(p.migrations()).unwrap();
    copy_dir(&fixtures().join("layouts").join(tool), p.path());
    p
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The whole folder applies, and status agrees.
fn reads_and_deploys(p: &Project, tables: &[&str]) {
    p.godwit(&["status"]).expect(5).says("0 applied");
    p.godwit(&["deploy"]).expect(0).says("Applied");
    for table in tables {
        assert!(p.db.table_exists(table), "{table}");
    }
    p.godwit(&["status"]).expect(0);
}

/// A second database where the other tool applied the first `n` migrations: godwit
/// applies them (so the schema is what the tool left), forgets its own history, and
/// the test writes the other tool's table as that tool would.
fn migrated_by_other_tool(p: &Project, through: &str, foreign_table_sql: &str) -> Project {
    let q = Project {
        dir: tempfile::tempdir().unwrap(),
        db: TestDb::new(Dialect::Postgres),
    };
    copy_dir(p.path(), q.path());
    q.godwit(&["deploy", "--to", through]).expect(0);
    q.db.exec("DROP TABLE godwit_migrations");
    q.db.exec(foreign_table_sql);
    q
}

/// Adopt records exactly what the other tool applied; deploy then applies only the rest.
fn adopts_then_deploys_the_rest(
    q: &Project,
    foreign_table: &str,
    adopted: usize,
    remaining: usize,
) {
    let before = q.db.int(&format!("SELECT count(*) FROM {foreign_table}"));
    q.godwit(&["adopt"])
        .expect(0)
        .says(&format!("Recorded as applied ({adopted})"))
        .says("was not modified");
    assert_eq!(
        q.db.int(&format!("SELECT count(*) FROM {foreign_table}")),
        before,
        "the other tool's table is untouched"
    );
    q.godwit(&["status"]).expect(5);
    let label = if remaining == 1 {
        "Applied 1 migration".to_string()
    } else {
        format!("Applied {remaining} migrations")
    };
    q.godwit(&["deploy"]).expect(0).says(&label);
    q.godwit(&["status"]).expect(0);
    q.godwit(&["adopt"])
        .expect(0)
        .says(&format!("Already in godwit's history ({adopted})"));
    // The other tool's table is its bookkeeping, not drift.
    let verify = q.godwit(&["verify", "--skip-down"]);
    let bare = foreign_table.rsplit('.').next().unwrap();
    assert!(
        !verify.text().contains(&format!("table {bare}")),
        "{}",
        verify.text()
    );
}

#[test]
fn prisma() {
    let p = project("prisma");
    reads_and_deploys(&p, &["User", "Post"]);
    let dir = p.path().join("prisma/migrations");
    let sum = |name: &str| {
        hex(&Sha256::digest(
            std::fs::read(dir.join(name).join("migration.sql")).unwrap(),
        ))
    };
    let q = migrated_by_other_tool(
        &p,
        "20240102120000",
        &format!(
            "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, \
             migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
             applied_steps_count INTEGER NOT NULL DEFAULT 0);
             INSERT INTO _prisma_migrations VALUES ('a1', '{}', now(), '20240101120000_init', NULL, NULL, now(), 1);
             INSERT INTO _prisma_migrations VALUES ('a2', '{}', now(), '20240102120000_add_posts', NULL, NULL, now(), 1);",
            sum("20240101120000_init"),
            sum("20240102120000_add_posts")
        ),
    );
    adopts_then_deploys_the_rest(&q, "_prisma_migrations", 2, 1);

    // A migration Prisma marked failed is recorded failed: deploy waits for resolve.
    let r = migrated_by_other_tool(
        &p,
        "20240101120000",
        "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, \
         migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
         applied_steps_count INTEGER NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations VALUES ('b1', 'not-the-checksum', now(), '20240101120000_init', NULL, NULL, now(), 1);
         INSERT INTO _prisma_migrations VALUES ('b2', 'x', NULL, '20240102120000_add_posts', 'error', NULL, now(), 0);
         INSERT INTO _prisma_migrations VALUES ('b3', 'y', now(), '20231201000000_gone', NULL, NULL, now(), 1);",
    );
    r.godwit(&["adopt"])
        .expect(4)
        .says("Marked failed by prisma")
        .says("20240102120000_add_posts")
        .says("Changed since they were applied")
        .says("prisma runs them anyway): recorded as applied")
        .says("In _prisma_migrations but not in the folder (1):\n  20231201000000_gone");
    // Prisma's `migrate deploy` does not check applied files, so neither does godwit.
    r.godwit(&["status"]).says("applied");
    r.godwit(&["deploy"])
        .expect(4)
        .says("prisma recorded this migration as failed");
}

#[test]
fn drizzle() {
    let p = project("drizzle");
    reads_and_deploys(&p, &["users", "posts"]);
    assert_eq!(p.db.int("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'"), 1);
    let sum = |tag: &str| {
        hex(&Sha256::digest(
            std::fs::read(p.path().join("drizzle").join(format!("{tag}.sql"))).unwrap(),
        ))
    };
    let q = migrated_by_other_tool(
        &p,
        "0001",
        &format!(
            "CREATE SCHEMA drizzle;
             CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
             INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('{}', 1704110400000), ('{}', 1704196800000);",
            sum("0000_clever_wolverine"),
            sum("0001_gray_thor")
        ),
    );
    adopts_then_deploys_the_rest(&q, "drizzle.__drizzle_migrations", 2, 1);
}

#[test]
fn sqlx() {
    let p = project("sqlx");
    reads_and_deploys(&p, &["users", "posts"]);
    p.godwit(&["down", "--steps", "3"])
        .expect(0)
        .says("Reverted 3 migrations");
    let sum = |file: &str| {
        hex(&Sha384::digest(
            std::fs::read(p.path().join("migrations").join(file)).unwrap(),
        ))
    };
    let q = migrated_by_other_tool(
        &p,
        "20240102120000",
        &format!(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), \
             success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);
             INSERT INTO _sqlx_migrations VALUES (20240101120000, 'create users', now(), true, decode('{}', 'hex'), 1);
             INSERT INTO _sqlx_migrations VALUES (20240102120000, 'create posts', now(), true, decode('{}', 'hex'), 1);",
            sum("20240101120000_create_users.up.sql"),
            sum("20240102120000_create_posts.up.sql")
        ),
    );
    let out = q.godwit(&["adopt"]);
    assert!(
        !out.text().contains("Changed since"),
        "sqlx's SHA-384 matches the files:\n{}",
        out.text()
    );
    q.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
}

/// Flyway's history table, as Flyway creates it (every row the tests write names its
/// `installed_on`, so the statement runs on every database).
const FLYWAY_HISTORY: &str = "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50), \
     description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, \
     installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL, execution_time INT NOT NULL, success BOOLEAN NOT NULL)";

fn flyway_crc(path: &std::path::Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap();
    let mut crc = crc32fast::Hasher::new();
    for line in text.split('\n') {
        crc.update(line.trim_end_matches('\r').as_bytes());
    }
    crc.finalize() as i32
}

#[test]
fn flyway() {
    let p = project("flyway");
    reads_and_deploys(&p, &["users", "posts"]);
    assert_eq!(
        p.db.int("SELECT count(*) FROM information_schema.views WHERE table_name = 'post_counts'"),
        1
    );
    // The repeatable runs again when it changes, and only then.
    p.godwit(&["deploy"]).expect(0).says("Already up to date");
    let view = p.path().join("db/migration/R__post_counts.sql");
    std::fs::write(&view, "CREATE OR REPLACE VIEW post_counts AS\nSELECT author_id, count(*) AS posts, max(id) AS newest FROM posts GROUP BY author_id;\n").unwrap();
    p.godwit(&["status"]).expect(5);
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    p.godwit(&["down"])
        .expect(2)
        .says("2_index_posts_title has no down script")
        .says("write ")
        .says("U2__index_posts_title.sql");
    let dir = p.path().join("db/migration");
    let q = migrated_by_other_tool(
        &p,
        "1.1",
        &format!(
            "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, \
             type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INT NOT NULL, success BOOLEAN NOT NULL);
             INSERT INTO flyway_schema_history VALUES (1, '1', 'create users', 'SQL', 'V1__create_users.sql', {}, 'app', now(), 5, true);
             INSERT INTO flyway_schema_history VALUES (2, '1.1', 'create posts', 'SQL', 'V1_1__create_posts.sql', {}, 'app', now(), 5, true);",
            flyway_crc(&dir.join("V1__create_users.sql")),
            flyway_crc(&dir.join("V1_1__create_posts.sql"))
        ),
    );
    let out = q.godwit(&["adopt"]);
    out.expect(0).says("Recorded as applied (2)");
    assert!(
        !out.text().contains("Changed since"),
        "Flyway's CRC32 matches the files:\n{}",
        out.text()
    );
    q.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");

    // A file edited after Flyway applied it: Flyway's migrate refuses it (validate), so
    // godwit records Flyway's checksum and refuses too, until the edit is resolved.
    let edited = migrated_by_other_tool(
        &p,
        "1",
        &format!(
            "{FLYWAY_HISTORY};
             INSERT INTO flyway_schema_history VALUES (1, '1', 'create users', 'SQL', 'V1__create_users.sql', {}, 'app', now(), 5, true);",
            flyway_crc(&dir.join("V1__create_users.sql")).wrapping_add(1)
        ),
    );
    edited
        .godwit(&["adopt"])
        .expect(4)
        .says("Recorded as applied (1)")
        .says("recorded with flyway's checksum");
    // Flyway's checksum is shown whole: cut to 12 characters it names nothing.
    let crc = flyway_crc(&dir.join("V1__create_users.sql")).wrapping_add(1);
    edited
        .godwit(&["deploy"])
        .says(&format!("checksum flyway:{crc} recorded"));
    let status = edited.godwit(&["status"]);
    status.says("modified");
    edited
        .godwit(&["deploy"])
        .expect(4)
        .says("was modified after it was applied");
    assert!(
        !edited.db.table_exists("posts"),
        "nothing was applied past the refusal"
    );
    edited.godwit(&["resolve", "--applied", "1"]).expect(0);
    edited
        .godwit(&["deploy"])
        .expect(0)
        .says("Applied 3 migrations");
}

/// goose's `ENVSUB ON` fills the environment into the SQL when godwit runs it, and the
/// migration's checksum stays that of the file, so another environment's values are not
/// taken for an edit.
#[test]
fn goose_envsub_fills_the_environment() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "20240101000000_settings.sql",
        "-- +goose Up\nCREATE TABLE settings (name text PRIMARY KEY, value text NOT NULL);\n\
         -- +goose ENVSUB ON\nINSERT INTO settings VALUES ('region', '${GODWIT_TEST_REGION}'), ('zone', '${GODWIT_TEST_ZONE:-a}');\n\
         -- +goose ENVSUB OFF\n-- +goose StatementBegin\n\
         CREATE FUNCTION one() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n-- +goose StatementEnd\n\
         -- +goose Down\nDROP FUNCTION one();\nDROP TABLE settings;\n",
    );
    let with = |region: &str, args: &[&str]| {
        let mut cmd = p.command(args);
        cmd.env("GODWIT_TEST_REGION", region);
        run(cmd)
    };
    with("eu-west", &["deploy"])
        .expect(0)
        .says("Applied 1 migration");
    assert_eq!(
        p.db.rows("SELECT name, value FROM settings ORDER BY name"),
        [["region", "eu-west"], ["zone", "a"]]
    );
    assert_eq!(
        p.db.int("SELECT one()"),
        1,
        "the function body after ENVSUB OFF"
    );
    // Another environment: the same migration, applied and unmodified.
    let status = with("us-east", &["status"]);
    status.expect(0);
    assert!(!status.text().contains("modified"), "{}", status.text());
    // A variable goose requires and nobody set: nothing runs, and the line is named.
    p.write(
        "20240102000000_role.sql",
        "-- +goose Up\n-- +goose ENVSUB ON\nINSERT INTO settings VALUES ('role', '${GODWIT_TEST_ROLE?set it}');\n",
    );
    with("eu-west", &["deploy"])
        .expect(2)
        .says("20240102000000_role.sql")
        .says("line 3");
    assert_eq!(p.db.int("SELECT count(*) FROM settings"), 2);
}

#[test]
fn goose() {
    let p = project("goose");
    reads_and_deploys(&p, &["users", "posts"]);
    p.db.exec("INSERT INTO users (email) VALUES ('a@example.com'); INSERT INTO posts (author_id, title) VALUES (1, 't')");
    p.db.exec("UPDATE posts SET title = 'u'");
    assert_eq!(
        p.db.int("SELECT count(*) FROM posts WHERE updated_at IS NOT NULL"),
        1,
        "the StatementBegin function works"
    );
    p.godwit(&["down", "--steps", "3"])
        .expect(0)
        .says("Reverted 3 migrations");
    p.godwit(&["deploy"]).expect(0);
    let q = migrated_by_other_tool(
        &p,
        "00002",
        "CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true), (3, false);",
    );
    adopts_then_deploys_the_rest(&q, "goose_db_version", 2, 1);
}

#[test]
fn dbmate() {
    let p = project("dbmate");
    reads_and_deploys(&p, &["users", "posts"]);
    p.godwit(&["down", "--steps", "3"]).expect(0);
    let q = migrated_by_other_tool(
        &p,
        "20240102120000",
        "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);
         INSERT INTO schema_migrations VALUES ('20240101120000'), ('20240102120000');",
    );
    adopts_then_deploys_the_rest(&q, "schema_migrations", 2, 1);
}

#[test]
fn golang_migrate() {
    let p = project("golang-migrate");
    // status says how it reads the folder, so that a wrong guess is visible.
    p.godwit(&["status"])
        .says("migrations read as golang-migrate's folder (detected;");
    reads_and_deploys(&p, &["users", "posts"]);
    p.godwit(&["down", "--steps", "3"]).expect(0);
    let q = migrated_by_other_tool(
        &p,
        "2",
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
         INSERT INTO schema_migrations VALUES (2, false);",
    );
    adopts_then_deploys_the_rest(&q, "schema_migrations", 2, 1);
    // A dirty version is the one golang-migrate failed on.
    let r = migrated_by_other_tool(
        &p,
        "1",
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
         INSERT INTO schema_migrations VALUES (2, true);",
    );
    r.godwit(&["adopt"])
        .expect(4)
        .says("Marked failed by golang-migrate")
        .says("2_create_posts");
    // status says who failed it; godwit applied none of its statements, out of none.
    let status = r.godwit(&["status"]);
    status.says("golang-migrate recorded this migration as failed");
    assert!(!status.text().contains("0 of 0"), "{}", status.text());
    // Only that one: golang-migrate applied every version before it.
    let states: Vec<(String, String)> =
        r.db.history()
            .into_iter()
            .map(|(version, _, state)| (version, state))
            .collect();
    assert_eq!(
        states,
        [
            ("1".to_string(), "applied".to_string()),
            ("2".into(), "failed".into())
        ],
        "{states:?}"
    );
}

#[test]
fn two_tools_need_from() {
    let p = project("dbmate");
    p.db.exec("CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL)");
    p.db.exec("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)");
    p.godwit(&["adopt"])
        .expect(2)
        .says("goose and dbmate")
        .says("--from");
    p.godwit(&["adopt", "--from", "dbmate"])
        .expect(0)
        .says("Not applied yet");
    p.godwit(&["baseline", "--from", "goose"]).expect(0);
    let empty = Project::empty(Dialect::Postgres);
    empty
        .godwit(&["adopt"])
        .expect(2)
        .says("found no history table")
        .says("godwit baseline");
}

/// umami's Prisma folder, read where it is.
#[test]
fn umami_prisma_in_place() {
    let folder = corpus("umami-prisma/prisma/migrations");
    let p = Project::empty(Dialect::Postgres);
    std::fs::write(
        p.path().join("godwit.toml"),
        format!("migrations = {:?}\n", folder.to_str().unwrap()),
    )
    .unwrap();
    p.godwit(&["status"])
        .expect(5)
        .says("0 applied, 19 pending");
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 19 migrations");
    p.godwit(&["status"]).expect(0);
}

/// authelia's `V0001.Name.up.sql` names, through a pattern in godwit.toml.
#[test]
fn authelia_through_a_pattern() {
    let folder = corpus("authelia/internal/storage/migrations/postgres");
    let p = Project::empty(Dialect::Postgres);
    std::fs::write(
        p.path().join("godwit.toml"),
        format!(
            "migrations = {:?}\npattern = \"V{{version}}.{{name}}.{{direction}}.sql\"\n",
            folder.to_str().unwrap()
        ),
    )
    .unwrap();
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 26 migrations");
    p.godwit(&["down", "--to", "0020"])
        .expect(0)
        .says("Reverted 6 migrations");
    p.godwit(&["status"])
        .expect(5)
        .says("20 applied, 6 pending");
}

/// The transaction mode comes from one function: lint does not report GW015 where deploy
/// runs the file outside a transaction, plan says what deploy does, and deploy agrees.
#[test]
fn lint_and_plan_agree_with_deploy_on_every_layout() {
    let cases = [
        (
            "prisma",
            "20240103120000_post_title_index",
            "prisma ran the file as it is",
        ),
        (
            "golang-migrate",
            "3_index_posts_title",
            "golang-migrate ran the file as it is",
        ),
        (
            "flyway",
            "2_index_posts_title",
            "Flyway's executeInTransaction=false",
        ),
        (
            "sqlx",
            "20240103120000_index_posts_title",
            "sqlx's -- no-transaction",
        ),
        (
            "goose",
            "00003_index_posts_title",
            "goose's -- +goose NO TRANSACTION",
        ),
        (
            "dbmate",
            "20240103120000_index_posts_title",
            "dbmate's transaction:false",
        ),
        (
            "diesel",
            "20240103120000_index_posts_title",
            "diesel's run_in_transaction = false",
        ),
        (
            "popx",
            "20240102000000000000_identities_nid_index",
            "popx's .autocommit file name",
        ),
    ];
    for (tool, index_migration, why) in cases {
        let p = project(tool);
        let lint = p.godwit(&["lint", "--dialect", "postgres", "--format", "json"]);
        assert!(
            !lint.stdout.contains("GW015"),
            "{tool}: lint reports GW015 on a file deploy runs fine:\n{}",
            lint.stdout
        );
        p.godwit(&["plan"])
            .expect(0)
            .says(&format!("{index_migration}  risk"))
            .says(&format!("statement by statement: {why}"));
        p.godwit(&["deploy"]).expect(0);
        p.godwit(&["status"]).expect(0);
    }
}

/// The other way round: a diesel migration with CONCURRENTLY and no metadata.toml runs
/// in a transaction (as diesel runs it), so lint reports it and deploy fails there.
#[test]
fn lint_reports_what_deploy_would_refuse() {
    let p = project("diesel");
    let index = p
        .path()
        .join("migrations/2024-01-03-120000_index_posts_title/metadata.toml");
    std::fs::remove_file(index).unwrap();
    p.godwit(&["lint", "--dialect", "postgres"])
        .expect(4)
        .says("GW015 concurrently-in-transaction");
    p.godwit(&["plan"])
        .expect(0)
        .says("20240103120000_index_posts_title  risk HIGH  (one transaction)");
    p.godwit(&["deploy"])
        .expect(1)
        .says("CREATE INDEX CONCURRENTLY cannot run inside a transaction block");
}

#[test]
fn diesel() {
    let p = project("diesel");
    reads_and_deploys(&p, &["users", "posts"]);
    p.db.exec("INSERT INTO users (email) VALUES ('a@example.com'); INSERT INTO posts (author_id, title) VALUES (1, 't')");
    p.db.exec("UPDATE posts SET title = 'u'");
    p.godwit(&["down", "--steps", "4"])
        .expect(0)
        .says("Reverted 4 migrations");
    assert!(!p.db.table_exists("users"));
    p.godwit(&["deploy"]).expect(0).says("Applied 4 migrations");
    let q = migrated_by_other_tool(
        &p,
        "20240102120000",
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
         INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), ('20240101120000'), ('20240102120000');",
    );
    adopts_then_deploys_the_rest(&q, "__diesel_schema_migrations", 3, 1);
}

/// drizzle-kit's MySQL migrations end most lines with `;--> statement-breakpoint`, which
/// MySQL does not read as a comment (kibastack failed at statement 46 of 126, with 45
/// committed): the marker is a boundary wherever it is, as drizzle splits on it.
#[test]
fn drizzle_mysql_breakpoints_after_the_semicolon() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "meta/_journal.json",
        r#"{"version":"5","dialect":"mysql","entries":[{"idx":0,"version":"5","when":1700000000000,"tag":"0000_init_tables","breakpoints":true}]}"#,
    );
    p.write(
        "0000_init_tables.sql",
        "CREATE TABLE `a` (`id` int NOT NULL, CONSTRAINT `a_id` PRIMARY KEY(`id`));\n\
         --> statement-breakpoint\n\
         CREATE TABLE `b` (`id` int NOT NULL, `a_id` int, CONSTRAINT `b_id` PRIMARY KEY(`id`));\n\
         --> statement-breakpoint\n\
         ALTER TABLE `b` ADD CONSTRAINT `b_a_fk` FOREIGN KEY (`a_id`) REFERENCES `a`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint\n\
         ALTER TABLE `b` ADD `name` varchar(20);",
    );
    p.godwit(&["deploy"])
        .expect(0)
        .says("Applied 1 migration")
        .says("(4 statements)");
    assert_eq!(
        p.db.int("SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'b' AND column_name = 'name'"),
        1
    );
    let lint = p.godwit(&["lint", "--format", "json"]);
    assert!(!lint.stdout.contains("GW022"), "{}", lint.text());
}

/// vaultwarden's SQLite folder has `2024-03-13_170000_sso_userscascade`, which diesel
/// records as version `20240313`: godwit reads it (it refused the whole folder before),
/// applies it where diesel does, and adopt recognises diesel's row for it.
#[test]
fn diesel_directory_with_an_underscore_after_the_date() {
    let p = Project::empty(Dialect::Postgres);
    for (dir, up, down) in [
        (
            "2024-03-06-170000_add_sso_users",
            "CREATE TABLE sso_users (user_uuid TEXT PRIMARY KEY);\n",
            "DROP TABLE sso_users;\n",
        ),
        (
            "2024-03-13_170000_sso_userscascade",
            "ALTER TABLE sso_users ADD COLUMN identifier TEXT;\n",
            "ALTER TABLE sso_users DROP COLUMN identifier;\n",
        ),
        (
            "2024-06-05-131359_add_2fa_duo_store",
            "CREATE TABLE twofactor_duo_ctx (state TEXT PRIMARY KEY);\n",
            "DROP TABLE twofactor_duo_ctx;\n",
        ),
    ] {
        p.write(&format!("{dir}/up.sql"), up);
        p.write(&format!("{dir}/down.sql"), down);
    }
    reads_and_deploys(&p, &["sso_users", "twofactor_duo_ctx"]);
    assert_eq!(
        p.db.int("SELECT count(*) FROM information_schema.columns WHERE table_name = 'sso_users' AND column_name = 'identifier'"),
        1
    );
    let q = migrated_by_other_tool(
        &p,
        "20240313170000",
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20240306170000'), ('20240313');",
    );
    adopts_then_deploys_the_rest(&q, "__diesel_schema_migrations", 2, 1);
}

#[test]
fn popx() {
    let p = project("popx");
    // On PostgreSQL: the postgres files, the shared one, and not the SQLite-only step.
    p.godwit(&["status"]).expect(5).says("0 applied, 3 pending");
    p.godwit(&["deploy"]).expect(0).says("Applied 3 migrations");
    assert_eq!(
        p.db.int("SELECT count(*) FROM pg_indexes WHERE indexname = 'identities_nid_idx'"),
        1
    );
    p.godwit(&["down", "--steps", "3"])
        .expect(0)
        .says("Reverted 3 migrations");
    p.godwit(&["deploy"]).expect(0);
    // popx's own table; the first row is in its legacy form, 14 digits.
    let q = migrated_by_other_tool(
        &p,
        "20240101000000000001",
        "CREATE TABLE schema_migration (version VARCHAR(48) NOT NULL, version_self INT NOT NULL DEFAULT 0);
         CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version);
         INSERT INTO schema_migration (version) VALUES ('20240101000000'), ('20240101000000000001');",
    );
    adopts_then_deploys_the_rest(&q, "schema_migration", 2, 1);
}

/// A database Prisma migrated, then pointed at godwit without `adopt`: today deploy took
/// a backup and failed at statement 1 of migration 1. It must say what is going on, apply
/// nothing and take no backup.
#[test]
fn another_tool_s_history_blocks_deploy_until_adopt() {
    let p = project("prisma");
    let q = migrated_by_other_tool(
        &p,
        "20240102120000",
        "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, \
         migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
         applied_steps_count INTEGER NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations VALUES ('a1', 'x', now(), '20240101120000_init', NULL, NULL, now(), 1);
         INSERT INTO _prisma_migrations VALUES ('a2', 'y', now(), '20240102120000_add_posts', NULL, NULL, now(), 1);",
    );
    // Even with a policy that backs up before every deploy.
    std::fs::write(
        q.path().join("godwit.toml"),
        "[backup]\npolicy = \"always\"\n",
    )
    .unwrap();
    let backups = || {
        std::fs::read_dir(q.path().join(".godwit/backups"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let status = q.godwit(&["status"]);
    status
        .expect(4)
        .says("prisma migrated this database: _prisma_migrations has 2 rows")
        .says("godwit adopt")
        .says("adopt its history first");
    // One piece of advice, not "run deploy" beside "deploy refuses".
    assert!(
        !status.text().contains("Run `godwit deploy`"),
        "{}",
        status.text()
    );
    let json = q.godwit(&["status", "--json"]);
    json.expect(4).says("\"other_history\"");
    q.godwit(&["deploy"])
        .expect(4)
        .says("_prisma_migrations (prisma's history, 2 rows) and no godwit history")
        .says("Nothing was applied and no backup was taken")
        .says("`godwit adopt`")
        .says("--ignore-other-history");
    assert_eq!(backups(), 0, "no backup taken");
    assert!(!q.db.table_exists("godwit_migrations"), "nothing written");
    // Said explicitly, it goes ahead (and meets the tables prisma created).
    // The advice is then not "fix the migration": the cause is prisma's history, and
    // what it says to do works.
    q.godwit(&["deploy", "--ignore-other-history"])
        .expect(1)
        .says("already exists")
        .says("this database has _prisma_migrations (prisma's history)")
        .says("`godwit resolve --rolled-back 20240101120000`, then `godwit adopt`");
    q.godwit(&["resolve", "--rolled-back", "20240101120000"])
        .expect(0);
    q.godwit(&["adopt"]).expect(0);
    q.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    // The way out it pointed to.
    let r = migrated_by_other_tool(
        &p,
        "20240102120000",
        "CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, \
         migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
         applied_steps_count INTEGER NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations VALUES ('a1', 'x', now(), '20240101120000_init', NULL, NULL, now(), 1);
         INSERT INTO _prisma_migrations VALUES ('a2', 'y', now(), '20240102120000_add_posts', NULL, NULL, now(), 1);",
    );
    r.godwit(&["adopt"]).expect(0);
    r.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
}

/// Prisma and Drizzle keep no down scripts: lint does not ask for one, and `down` says
/// what can be done instead, which then works.
#[test]
fn layouts_without_down_scripts() {
    for tool in ["prisma", "drizzle"] {
        let p = project(tool);
        let lint = p.godwit(&["lint", "--dialect", "postgres"]);
        assert!(!lint.text().contains("GW020"), "{tool}:\n{}", lint.text());
        p.godwit(&["deploy"]).expect(0);
        let out = p.godwit(&["down"]);
        out.expect(2)
            .says("have no down scripts, so godwit cannot revert")
            .says("undo its changes by hand, then record that with `godwit resolve --rolled-back");
    }
    let p = project("prisma");
    p.godwit(&["deploy"]).expect(0);
    // Not the newest: `down` would not revert it either.
    p.godwit(&["resolve", "--rolled-back", "20240102120000"])
        .expect(4)
        .says("is not the newest applied migration");
    p.db.exec("DROP INDEX \"Post_title_idx\"");
    p.godwit(&["resolve", "--rolled-back", "20240103120000"])
        .expect(0)
        .says("recorded as rolled back (undone by hand)");
    p.godwit(&["status"]).expect(5).says("rolled back");
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    // A migration with a down script is reverted with it, not by hand.
    let s = project("sqlx");
    s.godwit(&["deploy"]).expect(0);
    s.godwit(&["resolve", "--rolled-back", "20240103120000"])
        .expect(4)
        .says("run `godwit down`");
}

/// Scripts run `godwit new` several times in a second: each gets its own version, in
/// the folder's own layout.
#[test]
fn new_twice_in_one_second() {
    for (tool, folder) in [
        ("godwit", "migrations"),
        ("diesel", "migrations"),
        ("sqlx", "migrations"),
        ("goose", "migrations"),
        ("popx", "migrations"),
        ("golang-migrate", "migrations"),
        ("prisma", "prisma/migrations"),
        ("flyway", "db/migration"),
        ("dbmate", "db/migrations"),
    ] {
        let p = if tool == "godwit" {
            Project::empty(Dialect::Postgres)
        } else {
            project(tool)
        };
        let before = std::fs::read_dir(p.path().join(folder)).unwrap().count();
        for name in ["create_invoices", "create_invoice_lines", "index_invoices"] {
            p.godwit(&["new", name]).expect(0).says("Created");
        }
        let after = std::fs::read_dir(p.path().join(folder)).unwrap().count();
        assert!(after > before, "{tool}: nothing created in {folder}");
        // Unique versions: the folder still reads, and deploy applies all three.
        p.godwit(&["status"])
            .expect(5)
            .says("create_invoices")
            .says("create_invoice_lines")
            .says("index_invoices");
    }
}

/// popx runs every SQLite migration with foreign keys off, and popx projects rebuild
/// tables that way (create, copy, DROP, RENAME): with foreign keys on, the DROP would
/// delete the rows of every table referencing the rebuilt one (ON DELETE CASCADE).
#[test]
fn popx_sqlite_table_rebuild_keeps_the_rows_that_reference_it() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "20240101000000000000_networks.sqlite3.up.sql",
        "CREATE TABLE networks (id TEXT NOT NULL PRIMARY KEY);\n\
         CREATE TABLE identities (id TEXT NOT NULL PRIMARY KEY, nid TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE);\n",
    );
    p.write(
        "20240101000000000000_networks.sqlite3.down.sql",
        "DROP TABLE identities;\nDROP TABLE networks;\n",
    );
    p.write(
        "20240102000000000000_networks.sqlite3.up.sql",
        "CREATE TABLE _networks_tmp (id TEXT NOT NULL PRIMARY KEY, name TEXT);\n\
         INSERT INTO _networks_tmp (id) SELECT id FROM networks;\n\
         DROP TABLE networks;\n\
         ALTER TABLE _networks_tmp RENAME TO networks;\n",
    );
    p.write("20240102000000000000_networks.sqlite3.down.sql", "");
    p.godwit(&["deploy", "--to", "20240101000000000000"])
        .expect(0);
    p.db.exec("INSERT INTO networks VALUES ('n1'); INSERT INTO identities VALUES ('i1', 'n1')");
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(
        p.db.int("SELECT count(*) FROM identities"),
        1,
        "the child row survives"
    );
    assert_eq!(p.db.int("SELECT count(*) FROM networks"), 1);
}

/// goose, golang-migrate, dbmate, diesel and Flyway ran SQLite migrations with foreign
/// keys off (SQLite's default, which their drivers keep), so a table rebuild written for
/// them keeps the rows that reference the rebuilt table. With them on, the rebuild's
/// DROP TABLE would delete those rows through ON DELETE CASCADE.
#[test]
fn sqlite_rebuilds_keep_child_rows_in_every_layout_whose_tool_left_foreign_keys_off() {
    const CREATE: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\n\
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE);\n";
    const REBUILD: &str = "CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n\
         INSERT INTO parent_new (id, name) SELECT id, COALESCE(name, '') FROM parent;\n\
         DROP TABLE parent;\n\
         ALTER TABLE parent_new RENAME TO parent;\n";
    let goose = |sql: &str| format!("-- +goose Up\n{sql}\n-- +goose Down\nSELECT 1;\n");
    let dbmate = |sql: &str| format!("-- migrate:up\n{sql}\n-- migrate:down\nSELECT 1;\n");
    let layouts: [(&str, [(String, String); 2]); 5] = [
        (
            "goose",
            [
                ("20240101000000_create.sql".into(), goose(CREATE)),
                ("20240102000000_rebuild.sql".into(), goose(REBUILD)),
            ],
        ),
        (
            "dbmate",
            [
                ("20240101000000_create.sql".into(), dbmate(CREATE)),
                ("20240102000000_rebuild.sql".into(), dbmate(REBUILD)),
            ],
        ),
        (
            "golang-migrate",
            [
                ("000001_create.up.sql".into(), CREATE.into()),
                ("000002_rebuild.up.sql".into(), REBUILD.into()),
            ],
        ),
        (
            "diesel",
            [
                ("2024-01-01-000000_create/up.sql".into(), CREATE.into()),
                ("2024-01-02-000000_rebuild/up.sql".into(), REBUILD.into()),
            ],
        ),
        (
            "flyway",
            [
                ("V1__create.sql".into(), CREATE.into()),
                ("V2__rebuild.sql".into(), REBUILD.into()),
            ],
        ),
    ];
    for (layout, files) in layouts {
        let p = Project::empty(Dialect::Sqlite);
        std::fs::write(
            p.path().join("godwit.toml"),
            format!("layout = \"{layout}\"\n"),
        )
        .unwrap();
        for (name, sql) in &files {
            p.write(name, sql);
        }
        let first = &files[0].0;
        let version = first
            .split(['_', '.'])
            .next()
            .unwrap()
            .trim_start_matches('V')
            .replace('-', "");
        p.godwit(&["deploy", "--to", &version]).expect(0);
        p.db.exec("INSERT INTO parent (id, name) VALUES (1, 'a'), (2, NULL); INSERT INTO child VALUES (1, 1), (2, 1), (3, 2)");
        p.godwit(&["plan"])
            .expect(0)
            .text()
            .contains("ON DELETE CASCADE")
            .then(|| panic!("{layout}: plan counts a cascade the tool would not have run"));
        p.godwit(&["deploy"]).expect(0);
        assert_eq!(
            p.db.int("SELECT count(*) FROM child"),
            3,
            "{layout}: the child rows survive the rebuild"
        );
        assert_eq!(
            p.db.int("SELECT count(*) FROM parent WHERE name = ''"),
            1,
            "{layout}"
        );
    }
}

/// crates.io's diesel folder mixes 2.2's `YYYY-MM-DD-HHMMSS-NNNN` with the older
/// `YYYY-MM-DD-HHMMSS`: diesel orders them by time, and so must deploy (the older form
/// was put first by length, and a later one was refused as out of order).
#[test]
fn diesel_versions_of_both_precisions_run_in_time_order() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "2025-01-01-000000-0000_create_t/up.sql",
        "CREATE TABLE t (id integer);\n",
    );
    p.write(
        "2025-01-01-000000-0000_create_t/down.sql",
        "DROP TABLE t;\n",
    );
    p.write(
        "2026-01-01-000000_alter_t/up.sql",
        "ALTER TABLE t ADD COLUMN x integer;\n",
    );
    p.write(
        "2026-01-01-000000_alter_t/down.sql",
        "ALTER TABLE t DROP COLUMN x;\n",
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");
    // A newer one in the older form is pending, not out of order.
    p.write(
        "2026-06-01-000000_add_y/up.sql",
        "ALTER TABLE t ADD COLUMN y integer;\n",
    );
    p.write(
        "2026-06-01-000000_add_y/down.sql",
        "ALTER TABLE t DROP COLUMN y;\n",
    );
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    p.godwit(&["new", "add_z"]).expect(0);
    let created: Vec<String> = std::fs::read_dir(p.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_add_z"))
        .collect();
    assert_eq!(created.len(), 1);
    let name = &created[0];
    assert!(
        name.len() == "2026-12-06-021500-0000_add_z".len() && name.as_bytes()[17] == b'-',
        "diesel 2.2's form, named for now: {name}"
    );
}

/// Flyway under Spring Boot keeps its migrations in `src/main/resources/db/migration`;
/// run from the project's root, godwit finds them there with no godwit.toml.
#[test]
fn flyway_spring_folder_is_found_from_the_project_root() {
    let p = Project::empty(Dialect::Sqlite);
    std::fs::remove_dir_all(p.migrations()).unwrap();
    let dir = p.path().join("src/main/resources/db/migration");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("V1__init.sql"), "CREATE TABLE a (id int);\n").unwrap();
    std::fs::write(dir.join("V2__more.sql"), "CREATE TABLE b (id int);\n").unwrap();
    p.godwit(&["status"]).expect(5).says("2 pending");
    p.godwit(&["deploy"]).expect(0);
    assert!(p.db.table_exists("b"));
}

/// trigger.dev's Prisma history has two folders of one timestamp; Prisma applies them in
/// the order of their names and records each by name. godwit deploys both, and adopts a
/// database where Prisma applied them, matching each by its folder name.
#[test]
fn prisma_folders_sharing_a_timestamp_deploy_and_adopt() {
    let write = |p: &Project| {
        std::fs::write(
            p.migrations().join("migration_lock.toml"),
            "provider = \"postgresql\"\n",
        )
        .unwrap();
        p.write(
            "20240101000000_drop_old/migration.sql",
            "CREATE TABLE b (id int);\n",
        );
        p.write(
            "20240101000000_add_webhook/migration.sql",
            "CREATE TABLE a (id int);\n",
        );
        p.write(
            "20240102000000_later/migration.sql",
            "CREATE TABLE c (id int);\n",
        );
    };
    let p = Project::empty(Dialect::Postgres);
    write(&p);
    p.godwit(&["deploy"]).expect(0).says("Applied 3 migrations");
    p.godwit(&["status"]).expect(0);

    let q = Project::empty(Dialect::Postgres);
    write(&q);
    let sum = |name: &str| {
        hex(&Sha256::digest(
            std::fs::read(q.migrations().join(name).join("migration.sql")).unwrap(),
        ))
    };
    q.db.exec(&format!(
        "CREATE TABLE a (id int); CREATE TABLE b (id int);
         CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, \
         migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
         applied_steps_count INTEGER NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations VALUES ('a1', '{}', now(), '20240101000000_add_webhook', NULL, NULL, now(), 1);
         INSERT INTO _prisma_migrations VALUES ('a2', '{}', now(), '20240101000000_drop_old', NULL, NULL, now(), 1);",
        sum("20240101000000_add_webhook"),
        sum("20240101000000_drop_old")
    ));
    let adopted = q.godwit(&["adopt"]);
    adopted.expect(0);
    assert!(
        !adopted.text().contains("not in the folder"),
        "{}",
        adopted.text()
    );
    q.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert!(q.db.table_exists("c"));
    q.godwit(&["status"]).expect(0);
}

/// papermark's Prisma history has folders whose timestamps were shortened by hand
/// (`202310122339_…`, `20241231_…`) among 14-digit ones. Prisma applies the folders in
/// the order of their names, which is time order; read as numbers, the short ones came
/// first, and the 8-digit one failed on a table a later 14-digit folder creates.
#[test]
fn prisma_folders_with_short_timestamps_deploy_in_name_order() {
    let p = Project::empty(Dialect::Postgres);
    std::fs::write(
        p.migrations().join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    p.write(
        "20230912150657_initialize/migration.sql",
        "CREATE TABLE \"Link\" (id int);\n",
    );
    p.write(
        "202310122339_new_column_in_link/migration.sql",
        "ALTER TABLE \"Link\" ADD COLUMN note text;\n",
    );
    p.write(
        "20240101120000_dataroom/migration.sql",
        "CREATE TABLE \"Dataroom\" (id int);\n",
    );
    p.write(
        "20241231_add_dataroom_bulk_download/migration.sql",
        "ALTER TABLE \"Dataroom\" ADD COLUMN bulk boolean;\n",
    );
    p.write(
        "20250101000000_later/migration.sql",
        "ALTER TABLE \"Dataroom\" ADD COLUMN later int;\n",
    );
    let status = p.godwit(&["status"]);
    status.expect(5);
    let order: Vec<usize> = [
        "20230912150657",
        "202310122339",
        "20240101120000",
        "20241231 ",
        "20250101000000",
    ]
    .iter()
    .map(|v| {
        status
            .stdout
            .find(v)
            .unwrap_or_else(|| panic!("{v}\n{}", status.stdout))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", status.stdout);
    p.godwit(&["deploy"]).expect(0).says("Applied 5 migrations");
    p.godwit(&["status"]).expect(0);
}

/// reportportal's golang-migrate history calls, in a file of its own, a procedure that
/// commits once per project. golang-migrate sends the file as it is, where PostgreSQL
/// allows that COMMIT; inside a transaction it is "invalid transaction termination". So
/// a lone CALL from such a tool runs outside one, and plan says why.
#[test]
fn a_lone_call_of_a_procedure_that_commits_runs_as_golang_migrate_ran_it() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "1_proc.up.sql",
        "CREATE TABLE project (id int PRIMARY KEY, filled boolean NOT NULL DEFAULT false);\n\
         INSERT INTO project (id) VALUES (1), (2);\n\
         CREATE PROCEDURE fill_projects() LANGUAGE plpgsql AS $$\n\
         DECLARE r record;\n\
         BEGIN\n\
           FOR r IN SELECT id FROM project LOOP\n\
             UPDATE project SET filled = true WHERE id = r.id;\n\
             COMMIT;\n\
           END LOOP;\n\
         END;\n\
         $$;\n",
    );
    p.write(
        "1_proc.down.sql",
        "DROP PROCEDURE fill_projects();\nDROP TABLE project;\n",
    );
    p.write("2_fill.up.sql", "CALL fill_projects();\n");
    p.write("2_fill.down.sql", "UPDATE project SET filled = false;\n");
    p.godwit(&["plan"])
        .expect(0)
        .says("a lone CALL (line 1), whose procedure may commit");
    p.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");
    assert_eq!(p.db.int("SELECT count(*) FROM project WHERE filled"), 2);
}

/// A Prisma or Drizzle folder says which database it was written for. With no database
/// URL anywhere, godwit does not apply a PostgreSQL history to the embedded SQLite file
/// (a trial applied Prisma's first migration there, then failed on the second), and lint
/// reads the folder as the database it declares.
#[test]
fn a_folder_written_for_postgres_is_not_deployed_to_the_sqlite_default() {
    let dir = tempfile::tempdir().unwrap();
    let prisma = dir.path().join("prisma/migrations");
    std::fs::create_dir_all(prisma.join("20240101000000_create_users")).unwrap();
    std::fs::write(
        prisma.join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    )
    .unwrap();
    std::fs::write(
        prisma.join("20240101000000_create_users/migration.sql"),
        "CREATE TABLE \"User\" (\"id\" SERIAL PRIMARY KEY);\n",
    )
    .unwrap();
    let godwit = |args: &[&str]| {
        let mut cmd = godwit_cmd();
        cmd.arg("-C")
            .arg(dir.path())
            .args(args)
            .env_remove("DATABASE_URL");
        run(cmd)
    };
    for command in ["deploy", "status"] {
        godwit(&[command])
            .expect(2)
            .says("the migrations are written for PostgreSQL")
            .says("migration_lock.toml says provider = \"postgresql\"");
    }
    assert!(!dir.path().join(".godwit/godwit.db").exists());
    godwit(&["lint"])
        .expect(0)
        .says("as PostgreSQL (as the folder declares");

    // Drizzle Kit's journal says the same in its own words; a SQLite one is welcome.
    std::fs::remove_dir_all(dir.path().join("prisma")).unwrap();
    let drizzle = dir.path().join("drizzle");
    std::fs::create_dir_all(drizzle.join("meta")).unwrap();
    std::fs::write(
        drizzle.join("0000_init.sql"),
        "CREATE TABLE a (id integer);\n",
    )
    .unwrap();
    let journal = |dialect: &str| {
        format!(
            "{{\"version\":\"7\",\"dialect\":\"{dialect}\",\"entries\":[{{\"idx\":0,\"version\":\"7\",\"when\":1700000000000,\"tag\":\"0000_init\",\"breakpoints\":true}}]}}"
        )
    };
    std::fs::write(drizzle.join("meta/_journal.json"), journal("postgresql")).unwrap();
    godwit(&["deploy"])
        .expect(2)
        .says("written for PostgreSQL")
        .says("\"dialect\": \"postgresql\"");
    std::fs::write(drizzle.join("meta/_journal.json"), journal("sqlite")).unwrap();
    godwit(&["deploy"]).expect(0);
    assert!(dir.path().join(".godwit/godwit.db").exists());
}

/// `--to` takes a diesel directory's prefix as written (`2024-01-01-000000`), which is
/// what a diesel user copies from the folder.
#[test]
fn diesel_versions_may_be_given_with_their_dashes() {
    let p = Project::empty(Dialect::Sqlite);
    for (dir, table) in [
        ("2024-01-01-000000_create_a", "a"),
        ("2024-01-02-000000_create_b", "b"),
        ("2024-01-03-000000_create_c", "c"),
    ] {
        p.write(
            &format!("{dir}/up.sql"),
            &format!("CREATE TABLE {table} (id int);\n"),
        );
        p.write(
            &format!("{dir}/down.sql"),
            &format!("DROP TABLE {table};\n"),
        );
    }
    p.godwit(&["deploy", "--to", "2024-01-02-000000"]).expect(0);
    assert!(p.db.table_exists("b") && !p.db.table_exists("c"));
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down", "--to", "2024-01-01-000000"]).expect(0);
    assert!(p.db.table_exists("a") && !p.db.table_exists("b"));
    p.godwit(&["down", "--to", "2024-13-x"])
        .expect(2)
        .says("is not a version");
}

/// Flyway's baseline migrations, shaped like eclipse-hawkbit's folder: its old `V` files
/// were replaced by `B1_20_0__baseline.sql`, and new `V` files follow it. An empty
/// database starts from the baseline; one deployed before the baseline existed never runs
/// it (its `CREATE TABLE`s would fail there); one Flyway built from the baseline is adopted
/// with it.
fn flyway_baseline_migrations(dialect: Dialect) {
    let users = "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL);\n";
    let posts = "CREATE TABLE posts (id INT PRIMARY KEY, author_id INT NOT NULL);\n";
    let old = [("V1__users.sql", users), ("V1_1__posts.sql", posts)];
    let new = [
        ("B1_1__baseline.sql", format!("{users}{posts}")),
        (
            "V1_2__comments.sql",
            "CREATE TABLE comments (id INT PRIMARY KEY, post_id INT NOT NULL);\n".to_string(),
        ),
        ("U1_2__comments.sql", "DROP TABLE comments;\n".to_string()),
    ];

    // An empty database: the baseline and what follows it, nothing it stands for.
    let p = Project::empty(dialect);
    for (file, sql) in old {
        p.write(file, sql);
    }
    for (file, sql) in &new {
        p.write(file, sql);
    }
    p.godwit(&["status"])
        .expect(5)
        .says("starts from the Flyway baseline migration B1.1, which stands for the 2 versioned migrations");
    p.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");
    for table in ["users", "posts", "comments"] {
        assert!(p.db.table_exists(table), "{table}");
    }
    assert_eq!(
        p.db.int(
            "SELECT count(*) FROM godwit_migrations WHERE version = 'B1.1' AND state = 'applied'"
        ),
        1
    );
    assert_eq!(
        p.db.int("SELECT count(*) FROM godwit_migrations WHERE version IN ('1', '1.1')"),
        0,
        "the versions the baseline stands for are neither run nor recorded"
    );
    p.godwit(&["status"]).expect(0).says("B1.1");
    p.godwit(&["deploy"]).expect(0).says("Already up to date");
    // Its down is refused before anything runs: a baseline has no undo script.
    p.godwit(&["down", "--to", "1.1"])
        .expect(0)
        .says("1.2_comments");
    assert!(!p.db.table_exists("comments"));
    let out = p.godwit(&["down"]);
    assert_ne!(out.code, 0, "{}", out.text());
    assert!(p.db.table_exists("users") && p.db.table_exists("posts"));

    // Deployed before the baseline was written: the baseline is never run there.
    let q = Project::empty(dialect);
    for (file, sql) in old {
        q.write(file, sql);
    }
    q.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");
    for (file, sql) in &new {
        q.write(file, sql);
    }
    let status = q.godwit(&["status"]);
    status.expect(5);
    assert!(!status.text().contains("B1.1"), "{}", status.text());
    q.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert_eq!(
        q.db.int("SELECT count(*) FROM godwit_migrations WHERE version = 'B1.1'"),
        0
    );

    // Then the old scripts are deleted, as hawkbit did: the baseline stands for them, so
    // they need nothing (Flyway needs `ignoreMigrationPatterns = *:missing` for this).
    for (file, _) in old {
        std::fs::remove_file(q.migrations().join(file)).unwrap();
    }
    let status = q.godwit(&["status", "--json"]);
    status.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let states: Vec<(&str, &str)> = doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("1", "in_baseline"),
            ("1.1", "in_baseline"),
            ("1.2", "applied")
        ]
    );
    q.godwit(&["deploy"]).expect(0).says("Already up to date");

    // Flyway built this one from the baseline (type SQL_BASELINE in its history).
    let r = Project::empty(dialect);
    for (file, sql) in &new {
        r.write(file, sql);
    }
    r.db.exec(users);
    r.db.exec(posts);
    r.db.exec(FLYWAY_HISTORY);
    r.db.exec(&format!(
        "INSERT INTO flyway_schema_history VALUES (1, '1.1', 'baseline', 'SQL_BASELINE', 'B1_1__baseline.sql', {}, 'app', CURRENT_TIMESTAMP, 5, TRUE)",
        flyway_crc(&r.migrations().join("B1_1__baseline.sql"))
    ));
    let out = r.godwit(&["adopt"]);
    out.expect(0).says("Recorded as applied (1)");
    assert!(!out.text().contains("Changed since"), "{}", out.text());
    r.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert!(r.db.table_exists("comments"));
}

each_dialect!(flyway_baseline_migrations);

/// capcom6/sms-gateway's goose files separate their sections with a line of dashes, which
/// goose never sends (it skips `--` lines between statements) and MariaDB would not read
/// as a comment: they deploy, go down and up again.
#[test]
fn goose_separator_lines_deploy_on_mariadb() {
    let p = Project::empty(Dialect::MySql);
    p.write(
        "20221007133357_init.sql",
        "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE `devices` (\n  `id` varchar(21) NOT NULL,\n  PRIMARY KEY (`id`)\n);\n-- +goose StatementEnd\n\
         ---------------------------------------------------------------------------------------------\n\
         CREATE TABLE `messages` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY);\n\
         ---------------------------------------------------------------------------------------------\n\
         -- +goose Down\n-- +goose StatementBegin\nDROP TABLE `messages`;\n-- +goose StatementEnd\n\
         ---------------------------------------------------------------------------------------------\n\
         DROP TABLE `devices`;\n",
    );
    p.godwit(&["deploy"]).expect(0).says("2 statements");
    assert!(p.db.table_exists("devices") && p.db.table_exists("messages"));
    p.godwit(&["down"]).expect(0);
    assert!(!p.db.table_exists("devices") && !p.db.table_exists("messages"));
    p.godwit(&["deploy"]).expect(0);
}

/// harbor's golang-migrate files change golang-migrate's own history table (`ALTER TABLE
/// schema_migrations ADD COLUMN data_version int`), which only golang-migrate creates. plan
/// says so before, and the failure says so after, instead of "fix the migration"; once
/// the table is there, what the advice says to run works.
#[test]
fn a_migration_that_changes_another_tools_history_table_is_named_as_such() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "0010_schema.up.sql",
        "CREATE TABLE project (id int PRIMARY KEY);\n",
    );
    p.write(
        "0030_schema.up.sql",
        "CREATE TABLE label (id int PRIMARY KEY);\nALTER TABLE schema_migrations ADD COLUMN data_version int;\n",
    );
    p.godwit(&["plan"])
        .expect(0)
        .says("schema_migrations is the history table of dbmate or golang-migrate, which that tool creates and godwit does not");
    // crates.io drops it IF EXISTS: that cannot fail, and plan does not say it would.
    let q = Project::empty(Dialect::Postgres);
    q.write(
        "0010_drop_old_history.up.sql",
        "DROP TABLE IF EXISTS schema_migrations;\n",
    );
    let out = q.godwit(&["plan"]);
    out.expect(0)
        .says("schema_migrations does not exist: nothing to drop");
    assert!(!out.text().contains("fails unless"), "{}", out.text());
    let out = p.godwit(&["deploy"]);
    out.expect(1)
        .says("it changes schema_migrations, the history table of dbmate or golang-migrate")
        .says("godwit resolve --rolled-back 0030");
    assert!(!out.text().contains("Fix the migration"), "{}", out.text());
    assert!(p.db.table_exists("project") && !p.db.table_exists("label"));
    p.db.exec("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)");
    p.godwit(&["resolve", "--rolled-back", "0030"]).expect(0);
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert!(p.db.table_exists("label"));
}

/// drizzle-kit runs only what its journal lists; a file left out of it (a hand-written
/// one, a merge that lost the journal line) is never run by either tool. status names it.
#[test]
fn status_names_drizzle_files_the_journal_leaves_out() {
    let p = Project::empty(Dialect::Sqlite);
    p.write(
        "meta/_journal.json",
        r#"{"version":"7","dialect":"sqlite","entries":[{"idx":0,"version":"6","when":1700000000000,"tag":"0000_init","breakpoints":true}]}"#,
    );
    p.write(
        "0000_init.sql",
        "CREATE TABLE a (id integer PRIMARY KEY);\n",
    );
    p.write(
        "0001_by_hand.sql",
        "CREATE TABLE b (id integer PRIMARY KEY);\n",
    );
    p.godwit(&["status"])
        .expect(5)
        .says("Not migrations, so godwit does not run them: 0001_by_hand.sql (not in meta/_journal.json: drizzle-kit skips it too)");
    let out = p.godwit(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["left_out"][0]["file"], "0001_by_hand.sql", "{doc:#}");
    p.godwit(&["deploy"]).expect(0).says("Applied 1 migration");
    assert!(!p.db.table_exists("b"));
}

/// `flyway baseline` writes a marker row (type BASELINE, `<< Flyway Baseline >>`): every
/// versioned migration up to its version was in the database before Flyway took over,
/// and Flyway never runs them. adopt records them as applied and does not list the
/// marker as a migration missing from the folder (conductor's marker is version 0).
#[test]
fn adopt_reads_flyways_baseline_marker_as_everything_up_to_it() {
    for (marker, adopted, remaining) in [("1.1", 2, 1), ("0", 1, 2)] {
        let p = Project::empty(Dialect::Postgres);
        p.write(
            "V1__users.sql",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        );
        p.write(
            "V1_1__posts.sql",
            "CREATE TABLE posts (id int PRIMARY KEY);\n",
        );
        p.write("V2__tags.sql", "CREATE TABLE tags (id int PRIMARY KEY);\n");
        p.db.exec("CREATE TABLE users (id int PRIMARY KEY)");
        if marker == "1.1" {
            p.db.exec("CREATE TABLE posts (id int PRIMARY KEY)");
        }
        p.db.exec(FLYWAY_HISTORY);
        p.db.exec(&format!(
            "INSERT INTO flyway_schema_history VALUES (1, '{marker}', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, 'app', now(), 0, true)"
        ));
        if marker == "0" {
            // Flyway then applied V1 itself.
            p.db.exec(&format!(
                "INSERT INTO flyway_schema_history VALUES (2, '1', 'users', 'SQL', 'V1__users.sql', {}, 'app', now(), 5, true)",
                flyway_crc(&p.migrations().join("V1__users.sql"))
            ));
        }
        let out = p.godwit(&["adopt"]);
        out.expect(0);
        assert!(!out.text().contains("not in the folder"), "{}", out.text());
        out.says(&format!("Recorded as applied ({adopted})"));
        p.godwit(&["deploy"])
            .expect(0)
            .says(&format!("Applied {remaining} migration"));
        assert!(p.db.table_exists("tags"));
    }
}

/// adopt that finds nothing of the folder in the other tool's table (a wrong folder)
/// records nothing, so deploy would refuse again and send the user back to adopt. adopt
/// says so, exits 4, and names the two ways on.
#[test]
fn adopt_that_matches_nothing_says_why_deploy_still_refuses() {
    let p = Project::empty(Dialect::Postgres);
    p.write(
        "V1__users.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    p.db.exec(FLYWAY_HISTORY);
    p.db.exec(
        "INSERT INTO flyway_schema_history VALUES (1, '9', 'other', 'SQL', 'V9__other.sql', 1, 'app', now(), 5, true)",
    );
    p.godwit(&["adopt"])
        .expect(4)
        .says("Nothing was recorded")
        .says("--ignore-other-history");
    p.godwit(&["deploy"]).expect(4);
    assert!(!p.db.table_exists("users"));
    p.godwit(&["deploy", "--ignore-other-history"]).expect(0);
    assert!(p.db.table_exists("users"));
}
