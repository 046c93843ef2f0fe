//! The Rust version of the example validator that `examples/plugins/python` and
//! `examples/plugins/js` implement too: `require-down` (error) for a migration without a
//! down.sql, `no-drop-table` (warning) for an up.sql that drops a table.

use godwit_sdk::{Finding, Migration, Session, Severity, Validator, log};

struct MigrationPolicy;

impl Validator for MigrationPolicy {
    fn check_migration(m: Migration) -> Vec<Finding> {
        let file = format!("{}_{}", m.version, m.name);
        let mut findings = Vec::new();
        if m.down_sql.as_deref().is_none_or(|s| s.trim().is_empty()) {
            findings.push(
                Finding::new(
                    "require-down",
                    Severity::Error,
                    format!("migration {file} cannot be reverted: it has no down.sql"),
                )
                .at(format!("{file}/down.sql"))
                .help("write the down.sql that undoes up.sql, so `godwit down` can revert it"),
            );
        }
        if m.up_sql.to_ascii_uppercase().contains("DROP TABLE") {
            findings.push(
                Finding::new(
                    "no-drop-table",
                    Severity::Warning,
                    format!("migration {file} drops a table"),
                )
                .at(format!("{file}/up.sql"))
                .help("rename the table first and drop it a release later"),
            );
        }
        log::debug(format!("{file}: {} findings", findings.len()));
        findings
    }

    fn check_database(_session: &Session) -> Vec<Finding> {
        Vec::new()
    }
}

godwit_sdk::export_validator!(MigrationPolicy);
