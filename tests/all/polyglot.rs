//! Plugins written in Python and JavaScript, built from source with the SDKs' build
//! scripts, next to their Rust twins: the example backfills write the same rows on
//! PostgreSQL and SQLite, the example validators report the same findings, and the
//! sandbox holds a hostile Python plugin as it holds a Rust one.

use std::path::Path;

use crate::scripted::{self, Lang};
use crate::steps::{guest, sha256};
use crate::support::{Dialect, Project};

/// `customers(id, email, email_normalized)`: emails with surrounding whitespace, upper
/// case, non-ASCII letters, NULLs and blanks.
fn customers_sql(rows: usize) -> (String, Vec<Vec<String>>) {
    let mut sql = String::from(
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email TEXT, email_normalized TEXT);\n",
    );
    let mut expected = Vec::new();
    let mut values = Vec::new();
    for id in 1..=rows {
        let email: Option<String> = match id % 7 {
            0 => None,
            1 => Some(format!("  Ada.Lovelace{id}@Example.COM  ")),
            2 => Some(format!("grace{id}@example.com")),
            3 => Some("   ".to_owned()),
            4 => Some(format!("ÉMILE.ZOLA{id}@EXAMPLE.FR")),
            5 => Some(format!("\tTab{id}@Mixed.Case.IO\n")),
            _ => Some(format!("ŁUKASZ{id}@Przykład.PL")),
        };
        let normalized = email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_lowercase);
        expected.push(vec![
            id.to_string(),
            normalized.unwrap_or_else(|| "NULL".into()),
        ]);
        values.push(match &email {
            Some(e) => format!("({id}, '{}')", e.replace('\'', "''")),
            None => format!("({id}, NULL)"),
        });
    }
    for chunk in values.chunks(500) {
        sql.push_str(&format!(
            "INSERT INTO customers (id, email) VALUES {};\n",
            chunk.join(", ")
        ));
    }
    (sql, expected)
}

fn normalize_toml(wasm: &Path) -> String {
    format!(
        "[plugins.normalize-email]\npath = {:?}\nsha256 = \"{}\"\n\
         [plugins.normalize-email.grants]\nread = [\"customers\"]\nwrite = [\"customers.email_normalized\"]\n",
        wasm.display().to_string(),
        sha256(wasm)
    )
}

fn project(d: Dialect, godwit_toml: &str) -> Project {
    let p = Project::empty(d);
    std::fs::write(p.path().join("godwit.toml"), godwit_toml).unwrap();
    p
}

fn the_three_backfills_write_the_same_rows(d: Dialect) {
    let (sql, expected) = customers_sql(2_000);
    for (lang, wasm) in [
        ("rust", guest("normalize_email")),
        ("python", scripted::example(Lang::Python, "normalize-email")),
        ("js", scripted::example(Lang::Js, "normalize-email")),
    ] {
        let p = project(d, &normalize_toml(&wasm));
        p.write("20260101000000_customers/up.sql", &sql);
        p.write(
            "20260102000000_normalize_emails/step.toml",
            "plugin = \"normalize-email\"\n[batch]\nsize = 300\n",
        );
        let out = p.godwit(&["deploy"]);
        out.expect(0).says("20260102000000_normalize_emails");
        let rows =
            p.db.rows("SELECT id, email_normalized FROM customers ORDER BY id");
        assert!(
            rows == expected,
            "the {lang} plugin wrote different rows; first difference: {:?}",
            rows.iter()
                .zip(&expected)
                .find(|(a, b)| a != b)
                .map(|(got, want)| format!("got {got:?}, want {want:?}"))
        );
        assert_eq!(
            p.db.int(
                "SELECT rows_affected FROM godwit_migrations WHERE version = '20260102000000'"
            ),
            2_000,
            "{lang}"
        );
    }
}

#[test]
fn the_three_backfills_write_the_same_rows_on_postgres() {
    the_three_backfills_write_the_same_rows(Dialect::Postgres);
}

#[test]
fn the_three_backfills_write_the_same_rows_on_sqlite() {
    the_three_backfills_write_the_same_rows(Dialect::Sqlite);
}

/// The findings of `lint --json` that came from `source`, as (rule, severity, migration).
fn findings_from(value: &serde_json::Value, source: &str) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = value["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["source"] == source)
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
                f["location"]["migration"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn the_three_validators_report_the_same_findings_and_block_a_deploy() {
    let mut reports = Vec::new();
    for (lang, wasm) in [
        ("rust", guest("migration_policy")),
        (
            "python",
            scripted::example(Lang::Python, "migration-policy"),
        ),
        ("js", scripted::example(Lang::Js, "migration-policy")),
    ] {
        let p = project(
            Dialect::Sqlite,
            &format!(
                "[plugins.policy]\npath = {:?}\nsha256 = \"{}\"\n",
                wasm.display().to_string(),
                sha256(&wasm)
            ),
        );
        p.write(
            "20260101000000_create_things/up.sql",
            "CREATE TABLE things (id INTEGER PRIMARY KEY);\n",
        );
        p.write(
            "20260101000000_create_things/down.sql",
            "DROP TABLE things;\n",
        );
        p.write(
            "20260102000000_drop_things/up.sql",
            "-- godwit:ignore ban-drop-table -- reason: replaced by items\ndrop table things;\n",
        );
        let out = p.godwit(&["lint", "--json"]);
        // What the validator logged reaches the user on stderr, under its name.
        assert!(
            out.stderr
                .contains("[policy] debug: 20260102000000_drop_things: 2 findings"),
            "{lang}: {}",
            out.stderr
        );
        let value: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{lang}: {e}\n{}", out.text()));
        reports.push((lang, findings_from(&value, "policy")));

        p.godwit(&["deploy"])
            .expect(4)
            .says("require-down")
            .says("deploy blocked by validator policy; nothing was applied");
        assert!(!p.db.table_exists("things"), "{lang}");
    }
    let want = vec![
        (
            "no-drop-table".to_owned(),
            "warning".to_owned(),
            "20260102000000_drop_things".to_owned(),
        ),
        (
            "require-down".to_owned(),
            "error".to_owned(),
            "20260102000000_drop_things".to_owned(),
        ),
    ];
    for (lang, found) in reports {
        assert_eq!(found, want, "{lang}");
    }
}

/// The hostile backfill's Python twin, built from tests/guests/python/hostile.
fn python_hostile() -> std::path::PathBuf {
    scripted::build(
        Lang::Python,
        &scripted::repo().join("tests/guests/python/hostile"),
    )
}

/// Python's interpreter lives in the plugin's memory: it gets room to start, and the
/// memory bomb must still hit the limit.
const PYTHON_MEMORY: &str = "256MiB";

fn python_hostile_case(mode: &str, expect: &[&str]) {
    crate::steps::hostile_case_with(
        &python_hostile(),
        PYTHON_MEMORY,
        Dialect::Sqlite,
        mode,
        crate::steps::GRANT_ITEMS,
        1,
        expect,
    );
}

#[test]
fn python_hostile_infinite_loop_is_stopped() {
    python_hostile_case("loop", &["time limit"]);
}

#[test]
fn python_hostile_memory_bomb_is_stopped() {
    python_hostile_case("memory", &["memory"]);
}

#[test]
fn python_hostile_file_read_without_grant_is_refused() {
    python_hostile_case("read-file", &["/etc/passwd"]);
}

#[test]
fn python_hostile_env_read_without_grant_is_refused() {
    python_hostile_case("env", &["HOME"]);
}

/// componentize-py's CPython is built without the socket module: a Python plugin has no
/// way to ask for a socket, so this shows that it cannot, not that the host refused (the
/// Rust twin in steps.rs reaches wasi:sockets and is refused there).
#[test]
fn python_hostile_plugin_cannot_open_a_socket() {
    python_hostile_case("socket", &["127.0.0.1:5432", "no socket module"]);
}

#[test]
fn python_hostile_data_step_querying_an_ungranted_table_is_refused() {
    let wasm = scripted::build(
        Lang::Python,
        &scripted::repo().join("tests/guests/python/hostile-step"),
    );
    crate::steps::data_step_case_with(
        &wasm,
        Dialect::Postgres,
        "ungranted-table",
        "read = [\"items\"]\nwrite = [\"items.n\"]",
        "table = \"godwit_migrations\"\ntable2 = \"godwit_migrations\"",
        &["godwit_migrations"],
    );
}
