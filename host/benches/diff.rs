//! `godwit diff` and `godwit pull` on a 300-table PostgreSQL schema, and `drizzle-kit
//! generate` beside `godwit diff` on the Drizzle fixture (issue 14). Times each command a
//! few rounds (GODWIT_BENCH_ROUNDS, default 3) and prints the median; then runs `godwit
//! lint` on the SQL drizzle-kit generated and prints its findings. Needs PostgreSQL
//! (GODWIT_BENCH_SERVER, default postgres://postgres@127.0.0.1:5432), psql and npm.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const GODWIT: &str = env!("CARGO_BIN_EXE_godwit");
const TABLES: usize = 300;

fn main() {
    let server = std::env::var("GODWIT_BENCH_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let rounds: usize = std::env::var("GODWIT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let db = format!("godwit_bench_diff_{}", std::process::id());
    let url = format!("{server}/{db}");
    psql(
        &format!("{server}/postgres"),
        &format!("CREATE DATABASE {db}"),
    );
    let outcome = std::panic::catch_unwind(|| {
        large_schema(&url, rounds);
        drizzle(&url, rounds);
    });
    psql(
        &format!("{server}/postgres"),
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    );
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}

/// 300 tables of six columns, each with an index; every other one references the previous.
fn schema_sql() -> String {
    let mut sql = String::new();
    for t in 0..TABLES {
        let fk = if t % 2 == 1 {
            format!(",\n  parent_id bigint REFERENCES t{:03} (id)", t - 1)
        } else {
            String::new()
        };
        sql.push_str(&format!(
            "CREATE TABLE t{t:03} (\n  id bigint PRIMARY KEY,\n  name text NOT NULL,\n  \
             amount numeric(12,2) DEFAULT 0,\n  created_at timestamptz NOT NULL DEFAULT now(),\n  \
             flag boolean NOT NULL DEFAULT false,\n  note varchar(200){fk}\n);\n\
             CREATE INDEX t{t:03}_name ON t{t:03} (name);\n"
        ));
    }
    sql
}

fn large_schema(url: &str, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("migrations")).unwrap();
    std::fs::write(p.join("schema.sql"), schema_sql()).unwrap();
    std::fs::write(p.join("godwit.toml"), "schema = \"schema.sql\"\n").unwrap();
    let diff = time(rounds, || {
        godwit(p, url, &["diff", "create_tables", "--dry-run"], 0);
    });
    println!("godwit diff --dry-run, {TABLES} tables from nothing: median {diff:.2?}");
    godwit(p, url, &["diff", "create_tables"], 0);
    godwit(p, url, &["deploy"], 0);
    let check = time(rounds, || {
        godwit(p, url, &["diff", "--check"], 0);
    });
    println!("godwit diff --check, {TABLES} tables, up to date: median {check:.2?}");
    let out = p.join("pulled");
    let pull = time(rounds, || {
        let _ = std::fs::remove_dir_all(&out);
        godwit(p, url, &["pull", "--out", out.to_str().unwrap()], 0);
    });
    println!("godwit pull, {TABLES} tables: median {pull:.2?}");
}

fn drizzle(url: &str, rounds: usize) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drizzle");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for file in ["package.json", "package-lock.json", "drizzle.config.ts"] {
        std::fs::copy(fixture.join(file), p.join(file)).unwrap();
    }
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::copy(fixture.join("src/schema.ts"), p.join("src/schema.ts")).unwrap();
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(p)
        .status()
        .expect("npm is needed for the Drizzle half of this bench");
    assert!(npm.success(), "npm ci failed");
    std::fs::create_dir_all(p.join("migrations")).unwrap();
    std::fs::write(
        p.join("godwit.toml"),
        "schema = { command = \"npx drizzle-kit export\" }\n",
    )
    .unwrap();
    // drizzle-kit generate, from nothing, each round into an empty `drizzle/`.
    let generate = time(rounds, || {
        let _ = std::fs::remove_dir_all(p.join("drizzle"));
        let out = Command::new("npx")
            .args(["drizzle-kit", "generate", "--name", "init"])
            .current_dir(p)
            .env("npm_config_offline", "true")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    let diff = time(rounds, || {
        godwit(p, url, &["diff", "create_users_and_posts", "--dry-run"], 0);
    });
    println!("drizzle-kit generate (fixture): median {generate:.2?}");
    println!("godwit diff --dry-run (same fixture, via drizzle-kit export): median {diff:.2?}");
    // godwit lint on what drizzle-kit wrote.
    let generated = std::fs::read_dir(p.join("drizzle"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|e| e == "sql"))
        .expect("drizzle-kit generate wrote no .sql");
    let lint = tempfile::tempdir().unwrap();
    let m = lint.path().join("migrations/20260101000000_drizzle_init");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::copy(&generated, m.join("up.sql")).unwrap();
    let out = Command::new(GODWIT)
        .arg("-C")
        .arg(lint.path())
        .args(["lint", "--dialect", "postgres"])
        .output()
        .unwrap();
    println!(
        "godwit lint on drizzle-kit's SQL: exit {}\n{}{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn godwit(dir: &Path, url: &str, args: &[&str], code: i32) {
    let out = Command::new(GODWIT)
        .arg("-C")
        .arg(dir)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "godwit {args:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn psql(url: &str, sql: &str) {
    let ok = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .status()
        .expect("psql is needed")
        .success();
    assert!(ok, "psql: {sql}");
}

fn time(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
