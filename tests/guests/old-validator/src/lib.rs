//! A validator of the first plugin API: it finds `DROP TABLE` in a migration, and counts
//! the rows of `accounts` through that version's `session`, so a test can see both
//! exports called and the old `host` interface answer.

// The generated constructors take as many arguments as the records of the `types` interface have fields.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    path: "../../../wit/since_v0.1.0",
    world: "validator",
});

// The world's `use` statements put `Session`, `Finding` and `Migration` in scope.
use godwit::plugin::types::{Severity, Value};

struct OldValidator;

fn finding(rule: &str, severity: Severity, message: String) -> Finding {
    Finding {
        rule: rule.to_owned(),
        severity,
        message,
        location: None,
        help: None,
    }
}

impl Guest for OldValidator {
    fn check_migration(m: Migration) -> Vec<Finding> {
        if m.up_sql.to_ascii_uppercase().contains("DROP TABLE") {
            vec![finding(
                "old-no-drop-table",
                Severity::Error,
                format!("{}_{} drops a table", m.version, m.name),
            )]
        } else {
            Vec::new()
        }
    }

    fn check_database(session: &Session) -> Vec<Finding> {
        let found = session
            .query(
                "SELECT COUNT(*) AS n FROM accounts WHERE id > $1",
                &[Value::Int(0)],
            )
            .and_then(|rows| {
                let cell = rows.first().and_then(|row| row.first()).map(|c| &c.value);
                match cell {
                    Some(Value::Int(n)) => Ok(*n),
                    other => Err(format!("expected one count, got {other:?}")),
                }
            });
        vec![match found {
            Ok(n) => finding(
                "old-count",
                Severity::Info,
                format!("accounts has {n} rows"),
            ),
            Err(e) => finding("old-query", Severity::Warning, e),
        }]
    }
}

export!(OldValidator);
