//! Test fixture for the `validator` world: one finding per migration whose up-SQL
//! contains `DROP TABLE`, nothing from the database.

use godwit_sdk::{Finding, Migration, Session, Severity, Validator};

struct Hello;

impl Validator for Hello {
    fn check_migration(m: Migration) -> Vec<Finding> {
        if m.up_sql.to_ascii_uppercase().contains("DROP TABLE") {
            vec![
                Finding::new(
                    "hello-no-drop-table",
                    Severity::Error,
                    format!("migration {}_{} drops a table", m.version, m.name),
                )
                .at(format!("{}_{}.up.sql", m.version, m.name))
                .help("rename the table first and drop it in a later release"),
            ]
        } else {
            Vec::new()
        }
    }

    fn check_database(_session: &Session) -> Vec<Finding> {
        Vec::new()
    }
}

godwit_sdk::export_validator!(Hello);
