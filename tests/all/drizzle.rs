//! A Drizzle project as the declared schema (issue 14): `schema = { command = "npx
//! drizzle-kit export" }`. The fixture (tests/fixtures/drizzle) pins drizzle-kit and
//! drizzle-orm with a committed package-lock.json; `npm ci` installs it once per lock file
//! under cargo's target tmp directory, and each test links that `node_modules` into its
//! project. Without npm the test fails: it never passes by not running.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::schema::migration_dirs;
use crate::support::*;

/// `node_modules` for the fixture's lock file, installed by `npm ci` on first use.
/// A file lock serialises the install across the test processes of one run.
fn drizzle_modules() -> PathBuf {
    let fixture = fixtures().join("drizzle");
    let lock = std::fs::read(fixture.join("package-lock.json")).unwrap();
    let hash = format!("{:x}", Sha256::digest(&lock));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("drizzle-npm-{}", &hash[..16]));
    std::fs::create_dir_all(&dir).unwrap();
    let guard = std::fs::File::create(dir.join(".lock")).unwrap();
    guard.lock().unwrap();
    let done = dir.join(".installed");
    if !done.exists() {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(fixture.join(file), dir.join(file)).unwrap();
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("this test needs npm (Node.js) on PATH to install drizzle-kit: {e}")
            });
        assert!(
            out.status.success(),
            "npm ci failed in {}\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&done, "").unwrap();
    }
    dir.join("node_modules")
}

/// A PostgreSQL project holding a copy of the Drizzle fixture, declared through
/// `drizzle-kit export`.
fn drizzle_project() -> Project {
    let modules = drizzle_modules();
    let p = Project::empty(Dialect::Postgres);
    let fixture = fixtures().join("drizzle");
    for file in ["package.json", "package-lock.json", "drizzle.config.ts"] {
        std::fs::copy(fixture.join(file), p.path().join(file)).unwrap();
    }
    copy_dir(&fixture.join("src"), &p.path().join("src"));
    std::os::unix::fs::symlink(&modules, p.path().join("node_modules")).unwrap();
    std::fs::write(
        p.path().join("godwit.toml"),
        "schema = { command = \"npx drizzle-kit export\" }\n",
    )
    .unwrap();
    p
}

/// godwit in `p`, with npm told to stay offline: the schema command must need neither the
/// registry nor a database.
fn offline(p: &Project, args: &[&str]) -> Output {
    let mut cmd = p.command(args);
    cmd.env("npm_config_offline", "true")
        .env_remove("DATABASE_URL");
    run(cmd)
}

/// The statements of the `up.sql` files of `dirs`: lines that are neither blank nor comments.
fn up_lines(p: &Project, dirs: &[String]) -> Vec<String> {
    dirs.iter()
        .flat_map(|d| {
            std::fs::read_to_string(p.migrations().join(d).join("up.sql"))
                .unwrap()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("--"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn drizzle_schema_drives_diff_lint_deploy_and_check() {
    let p = drizzle_project();

    // drizzle-kit export alone: SQL of the schema, offline, with no database configured.
    let export = Command::new("npx")
        .args(["drizzle-kit", "export"])
        .current_dir(p.path())
        .env("npm_config_offline", "true")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run npx");
    let sql = String::from_utf8_lossy(&export.stdout);
    assert!(
        export.status.success(),
        "{sql}{}",
        String::from_utf8_lossy(&export.stderr)
    );
    assert!(sql.contains("CREATE TABLE \"users\""), "{sql}");

    // Nothing deployed, a schema declared: --check finds the missing migration.
    offline(&p, &["diff", "--check"]).expect(4);
    offline(&p, &["diff", "create_users_and_posts"]).expect(0);
    let first = migration_dirs(&p);
    assert!(!first.is_empty(), "the first diff wrote nothing");
    assert!(
        first.iter().all(|d| d.contains("create_users_and_posts")),
        "{first:?}"
    );
    offline(&p, &["lint"]).expect(0);
    offline(&p, &["deploy"]).expect(0);
    assert!(p.db.table_exists("users") && p.db.table_exists("posts"));
    offline(&p, &["diff", "--check"]).expect(0);

    // The TypeScript schema changes: a column and an index on users.
    let schema = p.path().join("src/schema.ts");
    let ts = std::fs::read_to_string(&schema).unwrap();
    let ts = ts
        .replace(
            "  name: text(\"name\"),\n",
            "  name: text(\"name\"),\n  bio: text(\"bio\"),\n",
        )
        .replace(
            "  createdAt: timestamp(\"created_at\").notNull().defaultNow(),\n});",
            "  createdAt: timestamp(\"created_at\").notNull().defaultNow(),\n}, (t) => [index(\"users_name_idx\").on(t.name)]);",
        );
    assert!(ts.contains("bio") && ts.contains("users_name_idx"), "{ts}");
    std::fs::write(&schema, ts).unwrap();

    offline(&p, &["diff", "--check"]).expect(4);
    offline(&p, &["diff", "add_users_bio"]).expect(0);
    let added: Vec<String> = migration_dirs(&p)
        .into_iter()
        .filter(|d| !first.contains(d))
        .collect();
    assert!(!added.is_empty(), "the second diff wrote nothing");
    let lines = up_lines(&p, &added);
    let statements: Vec<&String> = lines
        .iter()
        .filter(|l| !l.to_ascii_uppercase().starts_with("SET "))
        .collect();
    assert_eq!(
        statements.len(),
        2,
        "exactly a column and an index: {lines:#?}"
    );
    assert!(
        statements
            .iter()
            .any(|l| l.contains("ADD COLUMN") && l.contains("bio") && l.contains("text")),
        "{lines:#?}"
    );
    assert!(
        statements
            .iter()
            .any(|l| l.contains("CREATE INDEX CONCURRENTLY")
                && l.contains("users_name_idx")
                && l.contains("name")),
        "{lines:#?}"
    );
    offline(&p, &["lint"]).expect(0);
    offline(&p, &["deploy"]).expect(0);
    assert_eq!(
        p.db.int(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'users' AND column_name = 'bio'"
        ),
        1
    );
    assert_eq!(
        p.db.int("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_name_idx'"),
        1
    );
    offline(&p, &["diff", "--check"]).expect(0);
}
