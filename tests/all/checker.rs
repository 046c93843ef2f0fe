//! Issue 11, findings 1–5: hostile SQL from a real data step (`hostile-step` in `query`
//! and `execute` modes) against each database. Every case asserts behaviour: the
//! ungranted table's sentinel never appears in godwit's output (in `query` mode the guest
//! prints every row it reads), and no table changed.

use crate::each_dialect;
use crate::steps::{guest, sha256};
use crate::support::{Dialect, Output, Project};

const SENTINEL: &str = "sentinel-7f3a9c";
const UPPER_SENTINEL: &str = "upper-sentinel-52be1d";

/// `items` (granted), `secrets` holding [`SENTINEL`], and on PostgreSQL and MySQL a
/// distinct table `Secrets` holding [`UPPER_SENTINEL`] (SQLite cannot have both).
fn setup(d: Dialect) -> Project {
    let (text, q) = match d {
        Dialect::MySql => ("VARCHAR(64)", '`'),
        _ => ("TEXT", '"'),
    };
    let mut sql = format!(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, label {text} NOT NULL);\n\
         INSERT INTO items (id, n, label) VALUES (1, 0, 'item-1'), (2, 0, 'item-2');\n\
         CREATE TABLE secrets (id BIGINT PRIMARY KEY, secret {text} NOT NULL);\n\
         INSERT INTO secrets (id, secret) VALUES (1, '{SENTINEL}');\n"
    );
    if d != Dialect::Sqlite {
        sql.push_str(&format!(
            "CREATE TABLE {q}Secrets{q} (id BIGINT PRIMARY KEY, secret {text} NOT NULL);\n\
             INSERT INTO {q}Secrets{q} (id, secret) VALUES (1, '{UPPER_SENTINEL}');\n"
        ));
    }
    let p = Project::empty(d);
    p.write("20260101000000_tables/up.sql", &sql);
    p.write("20260102000000_hostile/step.toml", "plugin = \"hostile\"\n");
    p
}

/// A TOML basic string holding `s` exactly, control and non-ASCII characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Deploys with the hostile step running `sql` in `mode` under `grants` (and `extra`
/// top-level godwit.toml lines), and returns the output.
fn deploy(p: &Project, mode: &str, sql: &str, grants: &str, extra: &str) -> Output {
    let wasm = guest("hostile-step");
    let toml = format!(
        "{extra}\n[plugins.hostile]\npath = {:?}\nsha256 = \"{}\"\n[plugins.hostile.grants]\n{grants}\n[plugins.hostile.config]\nmode = \"{mode}\"\nsql = {}\n",
        wasm.display().to_string(),
        sha256(&wasm),
        toml_string(sql)
    );
    std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
    p.godwit(&["deploy"])
}

/// Nothing changed in any table.
fn unchanged(p: &Project, what: &str) {
    let d = p.db.dialect;
    assert_eq!(
        p.db.rows("SELECT id, n, label FROM items ORDER BY id"),
        vec![
            vec!["1".to_owned(), "0".to_owned(), "item-1".to_owned()],
            vec!["2".to_owned(), "0".to_owned(), "item-2".to_owned()],
        ],
        "{what}: items changed"
    );
    assert_eq!(
        p.db.rows("SELECT id, secret FROM secrets"),
        vec![vec!["1".to_owned(), SENTINEL.to_owned()]],
        "{what}: secrets changed"
    );
    if d != Dialect::Sqlite {
        let q = if d == Dialect::MySql { '`' } else { '"' };
        assert_eq!(
            p.db.rows(&format!("SELECT id, secret FROM {q}Secrets{q}")),
            vec![vec!["1".to_owned(), UPPER_SENTINEL.to_owned()]],
            "{what}: Secrets changed"
        );
    }
}

/// Each statement is refused: the deploy fails, says so, shows no sentinel, changes
/// nothing.
fn refused_all(p: &Project, mode: &str, grants: &str, cases: &[String]) {
    for sql in cases {
        let out = deploy(p, mode, sql, grants, "");
        let text = out.text();
        assert_ne!(out.code, 0, "{sql:?} was allowed: {text}");
        out.says("refused");
        assert!(
            !text.contains(SENTINEL) && !text.contains(UPPER_SENTINEL),
            "{sql:?} read a secret: {text}"
        );
        unchanged(p, sql);
    }
}

/// The harness can see what a query reads: an allowed query's rows are in the output.
fn harness_shows_what_a_query_reads(d: Dialect) {
    let p = setup(d);
    let out = deploy(
        &p,
        "query",
        "SELECT label FROM items",
        "read = [\"items\"]",
        "",
    );
    out.says("item-1").says("the host let it through");
    let out = deploy(
        &p,
        "query",
        "SELECT secret FROM secrets",
        "read = [\"secrets\"]",
        "",
    );
    out.says(SENTINEL);
}

/// Finding 1: names follow each database's case and quoting rules.
fn identifier_case_and_quoting(d: Dialect) {
    let p = setup(d);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let items = "read = [\"items\"]";
    match d {
        Dialect::Postgres => {
            refused_all(
                &p,
                "query",
                items,
                &s(&[
                    r#"WITH "Secrets" AS (SELECT 1) SELECT * FROM secrets"#,
                    r#"WITH "SECRETS" AS (SELECT 1) SELECT * FROM Secrets"#,
                    r#"WITH "Secrets" AS (SELECT 1) SELECT label FROM items UNION ALL SELECT secret FROM secrets"#,
                    r#"WITH RECURSIVE "Secrets" AS (SELECT 1) SELECT * FROM secrets"#,
                ]),
            );
            // `read = ["secrets"]` covers secrets, never "Secrets".
            refused_all(
                &p,
                "query",
                "read = [\"secrets\", \"items\"]",
                &s(&[
                    r#"SELECT secret FROM "Secrets""#,
                    r#"SELECT secret FROM public."Secrets""#,
                    r#"WITH secrets AS (SELECT 1) SELECT secret FROM "Secrets""#,
                ]),
            );
            refused_all(
                &p,
                "execute",
                "read = [\"secrets\"]\nwrite = [\"secrets.secret\"]",
                &s(&[
                    r#"UPDATE "Secrets" SET secret = 'x'"#,
                    r#"UPDATE secrets SET "Secret" = 'x'"#,
                ]),
            );
            // A quoted grant names "Secrets" exactly.
            deploy(
                &p,
                "query",
                r#"SELECT secret FROM "Secrets""#,
                r#"read = ['"Secrets"']"#,
                "",
            )
            .says(UPPER_SENTINEL);
        }
        Dialect::MySql => {
            refused_all(
                &p,
                "query",
                items,
                &s(&[
                    "WITH Secrets AS (SELECT 1) SELECT * FROM secrets",
                    "WITH `Secrets` AS (SELECT 1) SELECT * FROM secrets",
                    "WITH SECRETS AS (SELECT 1) SELECT label FROM items UNION ALL SELECT secret FROM secrets",
                ]),
            );
            refused_all(
                &p,
                "query",
                "read = [\"secrets\", \"items\"]",
                &s(&["SELECT secret FROM Secrets", "SELECT secret FROM `Secrets`"]),
            );
            refused_all(
                &p,
                "execute",
                "read = [\"secrets\"]\nwrite = [\"secrets.secret\"]",
                &s(&["UPDATE Secrets SET secret = 'x'"]),
            );
            deploy(
                &p,
                "query",
                "SELECT secret FROM Secrets",
                "read = [\"Secrets\"]",
                "",
            )
            .says(UPPER_SENTINEL);
        }
        Dialect::Sqlite => {
            // SQLite compares names without case: the CTE shadows the table, as the
            // checker assumes, so nothing is read.
            for sql in [
                r#"WITH "Secrets" AS (SELECT 1 AS x) SELECT * FROM secrets"#,
                "WITH SECRETS AS (SELECT 1 AS x) SELECT * FROM secrets",
            ] {
                let out = deploy(&p, "query", sql, items, "");
                assert!(!out.text().contains(SENTINEL), "{sql}: {}", out.text());
                unchanged(&p, sql);
            }
            refused_all(
                &p,
                "query",
                items,
                &s(&["SELECT * FROM \"secret\u{17F}\"", "SELECT * FROM SECRETS"]),
            );
        }
    }
}

/// Finding 2: executable comments, every form.
fn executable_comments(d: Dialect) {
    let p = setup(d);
    let forms = [
        "/*!",
        "/*!50000",
        "/*!50000 ",
        "/*M!",
        "/*M!100100",
        "/*M!100100 ",
        "/*+",
        "/*!*/ /*!",
    ];
    let mut queries = Vec::new();
    let mut executes = Vec::new();
    for f in forms {
        queries.push(format!(
            "SELECT label FROM items {f} UNION ALL SELECT secret FROM secrets */"
        ));
        queries.push(format!(
            "SELECT label {f} , (SELECT secret FROM secrets LIMIT 1) */ FROM items"
        ));
        executes.push(format!("DELETE FROM items WHERE id = 0 {f} OR 1 = 1 */"));
        executes.push(format!(
            "UPDATE items SET n = 1 WHERE id = 0 {f} OR 1 = 1 */"
        ));
    }
    let nested =
        "SELECT label FROM items /* /* */ UNION ALL SELECT secret FROM secrets -- */".to_string();
    // PostgreSQL and SQLite do not execute comments; only the nesting rule differs there.
    if d == Dialect::MySql {
        refused_all(&p, "query", "read = [\"items\"]", &queries);
        refused_all(
            &p,
            "execute",
            "read = [\"items\"]\nwrite = [\"items.*\"]",
            &executes,
        );
    }
    refused_all(&p, "query", "read = [\"items\"]", &[nested]);
}

/// Finding 3: `--` comments need ASCII whitespace after them on MySQL/MariaDB.
fn dash_dash_comments(d: Dialect) {
    let p = setup(d);
    let mut cases = Vec::new();
    for ws in ["\u{a0}", "\u{2003}", "\u{3000}", "\u{feff}", "\x0b", "\x01"] {
        cases.push(format!(
            "SELECT label FROM items --{ws}, (SELECT secret FROM secrets)"
        ));
        cases.push(format!(
            "SELECT label FROM items WHERE id = 1 --{ws}\nOR 1 = 1"
        ));
    }
    cases.push("SELECT label FROM items -- x\rUNION ALL SELECT secret FROM secrets".into());
    if d != Dialect::MySql {
        cases.clear();
        cases.push("SELECT label FROM items -- x\rUNION ALL SELECT secret FROM secrets".into());
        cases.push("SELECT label FROM items # 1\n".into());
        cases.push("SELECT\u{a0}label FROM items".into());
    }
    refused_all(&p, "query", "read = [\"items\"]", &cases);
}

/// Finding 4: strings whose boundaries depend on the server's mode.
fn mode_dependent_strings(d: Dialect) {
    let p = setup(d);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases = match d {
        Dialect::Postgres => s(&[
            r"SELECT label FROM items WHERE label = E'\' UNION ALL SELECT secret FROM secrets --'",
            r"SELECT label FROM items WHERE label = 'x\' UNION ALL SELECT secret FROM secrets --'",
            r#"SELECT U&"\0073ecret" FROM secrets"#,
            "SELECT label FROM items WHERE label = $q$ $q$",
            "SELECT label FROM items WHERE label = N'x'",
        ]),
        Dialect::MySql => s(&[
            r"SELECT label FROM items WHERE label = 'x\' UNION ALL SELECT secret FROM secrets -- '",
            r#"SELECT label FROM items WHERE label = "x\" UNION ALL SELECT secret FROM secrets -- ""#,
            "SELECT label FROM items WHERE label = _utf8mb4'x'",
            "SELECT label FROM items WHERE label = _binary 'x'",
            "SELECT label FROM items WHERE label = N'x'",
            "SELECT @@version",
        ]),
        Dialect::Sqlite => s(&[
            "SELECT [secret] FROM secrets",
            "SELECT label FROM items WHERE label = $x",
        ]),
    };
    refused_all(&p, "query", "read = [\"items\"]", &cases);
}

/// Finding 4, the second line: plugin statements run with the quoting rules the checker
/// reads them by, whatever `init_sql` set, and godwit's own statements get the operator's
/// settings back afterwards.
#[test]
fn mysql_plugin_statements_run_without_ansi_quotes() {
    let p = setup(Dialect::MySql);
    // Runs only with ANSI_QUOTES, i.e. with the operator's mode restored after the step.
    p.write(
        "20260103000000_after/up.sql",
        "CREATE TABLE \"after_step\" (id INT);",
    );
    let out = deploy(
        &p,
        "execute",
        "UPDATE items SET label = \"label\" WHERE id = 1",
        "read = [\"items\"]\nwrite = [\"items.label\"]",
        "init_sql = \"SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'\"",
    );
    out.expect(0);
    // A string, not the column: the plugin's session had no ANSI_QUOTES.
    assert_eq!(
        p.db.rows("SELECT label FROM items WHERE id = 1"),
        vec![vec!["label".to_owned()]]
    );
    assert!(p.db.table_exists("after_step"));
}

/// Finding 5: what `*` covers.
fn star_coverage(d: Dialect) {
    let p = setup(d);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut cases = s(&[
        "SELECT * FROM godwit_migrations",
        "SELECT * FROM GODWIT_MIGRATIONS",
        "SELECT * FROM information_schema.tables",
        "SELECT database()",
        "SELECT current_user",
        "SELECT version()",
    ]);
    cases.extend(match d {
        Dialect::Postgres => s(&[
            "SELECT * FROM pg_authid",
            "SELECT * FROM pg_shadow",
            "SELECT query FROM pg_stat_activity",
            "SELECT * FROM pg_catalog.pg_class",
            "SELECT current_database()",
            "SELECT user",
        ]),
        Dialect::MySql => s(&[
            "SELECT * FROM mysql.user",
            "SELECT * FROM performance_schema.threads",
            "SELECT * FROM sys.processlist",
            "SELECT @@version",
            "SELECT @@datadir",
        ]),
        Dialect::Sqlite => s(&[
            "SELECT * FROM sqlite_master",
            "SELECT * FROM sqlite_schema",
            "SELECT * FROM pragma_table_info('secrets')",
            "SELECT sqlite_version()",
        ]),
    });
    for sql in &cases {
        let out = deploy(&p, "query", sql, "read = [\"*\"]", "");
        assert_ne!(out.code, 0, "{sql}: {}", out.text());
        out.says("refused");
        // The guest prints `column=value` for every row it read.
        assert!(
            !out.text().contains("the host let it through"),
            "{sql}: {}",
            out.text()
        );
        unchanged(&p, sql);
    }
    refused_all(
        &p,
        "execute",
        "read = [\"*\"]\nwrite = [\"*.*\"]",
        &s(&[
            "DELETE FROM godwit_migrations",
            "UPDATE godwit_step_progress SET batches = 0",
        ]),
    );
    assert_eq!(
        p.db.int("SELECT COUNT(*) FROM godwit_migrations WHERE version = '20260101000000'"),
        1
    );
    // `*` still reads the application's tables.
    deploy(
        &p,
        "query",
        "SELECT secret FROM secrets",
        "read = [\"*\"]",
        "",
    )
    .says(SENTINEL);
}

each_dialect!(
    harness_shows_what_a_query_reads,
    identifier_case_and_quoting,
    executable_comments,
    dash_dash_comments,
    mode_dependent_strings,
    star_coverage,
);
