//! Fidelity on real histories (issue 14): for each migration N of a real corpus, the
//! schema after N-1 is "current", the schema after N is "desired", and the migration
//! `godwit diff` writes must rebuild the schema after N exactly.
//!
//! One project follows the original history, one migration at a time, and is pulled after
//! each. Each transition then runs in a project of its own, re-synced from that pull: its
//! only migration is the pulled schema after N-1, its declared schema the pull after N;
//! `godwit diff` writes the step, `godwit deploy` applies it, and its pull must equal the
//! original's. A transition that does not reproduce names its first differing line. The
//! floors are the counts measured when the test was written: a regression fails.
//!
//! Rerun: `cargo nextest run -p godwit-cli --test all -E 'test(/fidelity/)' --no-capture`.

use crate::schema::{diff_answering_renames, pulled, strip_header};
use crate::support::*;

/// A corpus's up migrations in order: (directory name, SQL).
fn umami() -> Vec<(String, String)> {
    let source = corpus("umami-prisma/prisma/migrations");
    let mut dirs: Vec<String> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let ups: Vec<(String, String)> = dirs
        .into_iter()
        .map(|d| {
            let sql = std::fs::read_to_string(source.join(&d).join("migration.sql")).unwrap();
            (d, sql)
        })
        .collect();
    assert_eq!(ups.len(), 19, "umami-prisma has 19 migrations");
    ups
}

/// `V0001.Initial_Schema.up.sql` → `0001_initial_schema`.
fn authelia(dialect: Dialect) -> Vec<(String, String)> {
    let source = corpus(&format!(
        "authelia/internal/storage/migrations/{}",
        dialect_dir(dialect)
    ));
    let mut ups = Vec::new();
    for entry in std::fs::read_dir(&source).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(rest) = file
            .strip_prefix('V')
            .and_then(|f| f.strip_suffix(".up.sql"))
        else {
            continue;
        };
        let (version, name) = rest.split_once('.').unwrap();
        let sql = std::fs::read_to_string(source.join(&file)).unwrap();
        ups.push((format!("{version}_{}", name.to_lowercase()), sql));
    }
    ups.sort();
    assert_eq!(ups.len(), 26, "authelia has 26 versions");
    ups
}

/// The first line where `got` differs from `want`.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            return format!(
                "want {:?}, got {:?}",
                a.unwrap_or("<end>"),
                b.unwrap_or("<end>")
            );
        }
    }
    "same".into()
}

/// Replays `ups` in an empty project; returns the number of transitions reproduced.
fn measure(dialect: Dialect, label: &str, ups: &[(String, String)]) -> usize {
    let original = Project::empty(dialect);
    let names: Vec<String> = ups.iter().map(|(dir, _)| dir.clone()).collect();
    replay(&original, label, &names, "", |n| {
        let (dir, sql) = &ups[n];
        original.write(&format!("{dir}/up.sql"), sql);
        original.godwit(&["deploy"])
    })
}

/// Replays a history one migration at a time (`apply(n)` applies the n-th, named
/// `names[n]`); returns the number of transitions reproduced and prints the table.
/// `extra` is more of godwit.toml for the transitions' projects.
fn replay(
    original: &Project,
    label: &str,
    names: &[String],
    extra: &str,
    apply: impl Fn(usize) -> Output,
) -> usize {
    let dialect = original.db.dialect;
    let mut before = strip_header(&pulled(original));
    let mut reproduced = 0;
    let mut table = format!("fidelity {label} ({dialect:?}):\n");
    for (n, name) in names.iter().enumerate() {
        let out = apply(n);
        assert_eq!(out.code, 0, "{label} {name}: {}", out.text());
        let after_raw = pulled(original);
        let after = strip_header(&after_raw);

        let verdict = transition(dialect, &before, &after_raw, &after, n, extra);
        if verdict.is_none() {
            reproduced += 1;
        }
        table.push_str(&format!(
            "  {:>3} {name}: {}\n",
            n + 1,
            verdict.as_deref().unwrap_or("reproduced")
        ));
        before = after;
    }
    table.push_str(&format!("  {reproduced} of {} reproduced\n", names.len()));
    println!("{table}");
    reproduced
}

/// Kratos in its own layout (ory/popx), applied with `deploy --to` one version at a
/// time, the versions before `until` if given: (reproduced, transitions).
fn kratos(dialect: Dialect, extra: &str, until: Option<&str>) -> (usize, usize) {
    let original = Project::empty(dialect);
    let folder = corpus("kratos/persistence/sql/migrations/sql");
    std::fs::write(
        original.path().join("godwit.toml"),
        format!("migrations = {:?}\n{extra}", folder.to_str().unwrap()),
    )
    .unwrap();
    let status = original.godwit(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let versions: Vec<(String, String)> = status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let version = m["version"].as_str().unwrap().to_string();
            let name = m["name"].as_str().unwrap();
            (version.clone(), format!("{version}_{name}"))
        })
        .filter(|(version, _)| until.is_none_or(|u| version.as_str() < u))
        .collect();
    let names: Vec<String> = versions.iter().map(|(_, name)| name.clone()).collect();
    let n = replay(&original, "kratos", &names, extra, |n| {
        original.godwit(&["deploy", "--to", &versions[n].0])
    });
    (n, names.len())
}

/// One transition in a project of its own; None when it reproduces, else why not.
fn transition(
    dialect: Dialect,
    before: &str,
    after_raw: &str,
    after: &str,
    n: usize,
    extra: &str,
) -> Option<String> {
    let p = Project::empty(dialect);
    std::fs::write(p.path().join("godwit.toml"), extra).unwrap();
    p.write("00000000000000_base/up.sql", &format!("{before}\n"));
    let out = p.godwit(&["deploy"]);
    if out.code != 0 {
        return Some(format!(
            "base does not rebuild: {}",
            first_line(&out.text())
        ));
    }
    let base = strip_header(&pulled(&p));
    if base != before {
        return Some(format!(
            "pull does not round-trip the schema before: {}",
            first_difference(before, &base)
        ));
    }
    std::fs::write(p.path().join("schema.sql"), after_raw).unwrap();
    std::fs::write(
        p.path().join("godwit.toml"),
        format!("schema = \"schema.sql\"\n{extra}"),
    )
    .unwrap();
    let name = format!("step_{}", n + 1);
    // The corpora drop and add (Prisma writes no renames): say so, as a user would.
    let out = diff_answering_renames(&p, &name);
    if out.code != 0 {
        return Some(format!(
            "diff exit {}: {}",
            out.code,
            first_line(&out.text())
        ));
    }
    let out = p.godwit(&["deploy"]);
    if out.code != 0 {
        return Some(format!(
            "deploy of the generated step failed: {}",
            first_line(&out.text())
        ));
    }
    let got = strip_header(&pulled(&p));
    if got != after {
        return Some(first_difference(after, &got));
    }
    None
}

/// The first lines of a failure's text, for the table.
fn first_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .collect();
    lines.join(" / ").chars().take(400).collect()
}

/// Floors: the counts measured when the test was written (docs/schema.md).
const UMAMI_POSTGRES: usize = 19;
const AUTHELIA_POSTGRES: usize = 26;
const AUTHELIA_MYSQL: usize = 26;
const KRATOS_POSTGRES: usize = 346;
const KRATOS_SQLITE: usize = 694;
const KRATOS_MARIADB: usize = 344;

#[test]
fn fidelity_umami_postgres() {
    let n = measure(Dialect::Postgres, "umami-prisma", &umami());
    assert!(
        n >= UMAMI_POSTGRES,
        "{n} reproduced, floor {UMAMI_POSTGRES}"
    );
}

#[test]
fn fidelity_authelia_postgres() {
    let n = measure(Dialect::Postgres, "authelia", &authelia(Dialect::Postgres));
    assert!(
        n >= AUTHELIA_POSTGRES,
        "{n} reproduced, floor {AUTHELIA_POSTGRES}"
    );
}

#[test]
fn fidelity_authelia_mysql() {
    let n = measure(Dialect::MySql, "authelia", &authelia(Dialect::MySql));
    assert!(
        n >= AUTHELIA_MYSQL,
        "{n} reproduced, floor {AUTHELIA_MYSQL}"
    );
}

/// In the long-running corpora group (.config/nextest.toml): 346 transitions.
#[test]
fn kratos_fidelity_postgres() {
    let (n, of) = kratos(Dialect::Postgres, "", None);
    assert_eq!(of, 346, "kratos has 346 PostgreSQL migrations");
    assert!(
        n >= KRATOS_POSTGRES,
        "{n} reproduced, floor {KRATOS_POSTGRES}"
    );
}

/// 694 transitions, about 8 minutes: run by hand (`--run-ignored only`), not by CI.
#[test]
#[ignore = "long: kratos on SQLite, 694 transitions; run with --run-ignored only"]
fn kratos_fidelity_sqlite() {
    let (n, of) = kratos(Dialect::Sqlite, "", None);
    assert_eq!(of, 694, "kratos has 694 SQLite migrations");
    assert!(n >= KRATOS_SQLITE, "{n} reproduced, floor {KRATOS_SQLITE}");
}

/// The versions before the one MariaDB refuses (a generated column it cannot index, see
/// kratos.rs), with the sql_mode the corpus note gives. About 25 minutes: run by hand.
#[test]
#[ignore = "long: kratos on MariaDB, 344 transitions; run with --run-ignored only"]
fn kratos_fidelity_mariadb() {
    let (n, of) = kratos(
        Dialect::MySql,
        "init_sql = \"SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'\"\n",
        Some("20260408000000000000"),
    );
    assert_eq!(of, 344, "kratos has 344 MySQL migrations before that one");
    assert!(
        n >= KRATOS_MARIADB,
        "{n} of {of} reproduced, floor {KRATOS_MARIADB}"
    );
}
