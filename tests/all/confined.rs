//! A hostile data step against a write-only grant (finding 6), on every database: whatever
//! the statement, the value of a column it may not read never reaches the plugin — not in
//! rows, not in the text of an error (the plugin gets the error class only; the full error
//! goes to godwit's own output), and not in a count of affected rows — and nothing is
//! written.

use crate::each_dialect;
use crate::steps::plugin_toml;
use crate::support::*;

const SECRET: &str = "8675309x";

fn project(d: Dialect, grants: &str, mode: &str, sql: &str) -> Project {
    let p = Project::empty(d);
    p.write(
        "20260101000000_accounts/up.sql",
        &format!(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, secret VARCHAR(64) NOT NULL);\n\
             INSERT INTO accounts (id, n, secret) VALUES (1, 0, 'nothing-here'), (7, 0, '{SECRET}');\n"
        ),
    );
    p.write(
        "20260102000000_probe_accounts/step.toml",
        "plugin = \"probe\"\n",
    );
    let extra = format!(
        "[plugins.probe.grants]\n{grants}\n[plugins.probe.config]\nmode = \"{mode}\"\nsql = '''{sql}'''\n"
    );
    std::fs::write(
        p.path().join("godwit.toml"),
        plugin_toml("probe", "hostile_step", &extra),
    )
    .unwrap();
    p
}

/// Runs the step; the secret may appear only in godwit's own notes for the operator,
/// never in what the plugin said (its error text echoes whatever it was given).
fn probe(d: Dialect, grants: &str, mode: &str, sql: &str) -> Project {
    let p = project(d, grants, mode, sql);
    let out = p.godwit(&["deploy"]);
    assert_ne!(out.code, 0, "{sql} on {d:?} succeeded:\n{}", out.text());
    for line in out.text().lines() {
        assert!(
            !line.contains(SECRET) || line.contains("] database: "),
            "{sql} on {d:?}: the secret reached the plugin:\n{line}"
        );
    }
    p
}

fn cast_to_int(d: Dialect, expr: &str) -> String {
    match d {
        Dialect::MySql => format!("CAST({expr} AS SIGNED)"),
        _ => format!("CAST({expr} AS int)"),
    }
}

fn write_only_grant_reveals_nothing_of_other_columns(d: Dialect) {
    let grants = "write = [\"accounts.n\"]";
    let statements = [
        (
            "execute",
            format!(
                "UPDATE accounts SET n = {}",
                cast_to_int(d, "CASE WHEN id = 7 THEN secret END")
            ),
        ),
        (
            "execute",
            format!("UPDATE accounts SET n = {}", cast_to_int(d, "secret")),
        ),
        (
            "execute",
            "UPDATE accounts SET n = CASE WHEN secret LIKE '8%' THEN 1 ELSE n END".to_owned(),
        ),
        (
            "execute",
            format!("UPDATE accounts SET n = 1 WHERE secret = '{SECRET}'"),
        ),
        (
            "execute",
            "UPDATE accounts SET n = length(secret)".to_owned(),
        ),
        ("query", "SELECT secret FROM accounts".to_owned()),
        (
            "query",
            format!("SELECT {} AS x FROM accounts", cast_to_int(d, "secret")),
        ),
    ];
    for (mode, sql) in statements {
        let p = probe(d, grants, mode, &sql);
        assert_eq!(
            p.db.int("SELECT COUNT(*) FROM accounts WHERE n <> 0"),
            0,
            "{sql} on {d:?} wrote"
        );
    }
}

/// Even a statement the plugin may run gets only the error class back: the server's
/// message can quote a value (`invalid input syntax for type integer: "8675309x"`).
fn failed_statement_gives_the_plugin_the_error_class_only(d: Dialect) {
    let grants = "read = [\"accounts\"]\nwrite = [\"accounts.n\"]";
    let sql = match d {
        // SQLite's CAST never fails: a constraint violation stands in.
        Dialect::Sqlite => "UPDATE accounts SET n = NULL WHERE id = 7".to_owned(),
        _ => format!(
            "UPDATE accounts SET n = {} WHERE id = 7",
            cast_to_int(d, "secret")
        ),
    };
    let p = probe(d, grants, "execute", &sql);
    assert_eq!(p.db.int("SELECT COUNT(*) FROM accounts WHERE n <> 0"), 0);
}

each_dialect!(
    write_only_grant_reveals_nothing_of_other_columns,
    failed_statement_gives_the_plugin_the_error_class_only,
);
