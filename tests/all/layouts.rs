//! Other tools' migration folders read in place, and their history tables adopted: after
//! `godwit adopt` on a database the other tool migrated, `deploy` applies nothing twice.

use sha2::{Digest, Sha256, Sha384};

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
        .says("In _prisma_migrations but not in the folder (1):\n  20231201000000_gone");
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
        .says("add a down script to V2__index_posts_title.sql");
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
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/umami-prisma/prisma/migrations");
    if !folder.is_dir() {
        eprintln!("skipped: {} is not there", folder.display());
        return;
    }
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
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpora/authelia/internal/storage/migrations/postgres");
    if !folder.is_dir() {
        eprintln!("skipped: {} is not there", folder.display());
        return;
    }
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
