//! Test fixture for the `validator` world: `check-database` runs the query a test puts in
//! `sql` (one that never ends, say) and reports an error finding if it fails, unless
//! `ignore_errors = true`, when it swallows the error as a careless validator would; a
//! query that returns lets the deploy through. `check-migration` finds nothing.

use godwit_sdk::{Finding, Migration, Session, Severity, Validator, config};

struct HostileValidator;

impl Validator for HostileValidator {
    fn check_migration(_m: Migration) -> Vec<Finding> {
        Vec::new()
    }

    fn check_database(session: &Session) -> Vec<Finding> {
        let Some(sql) = config::get_str("sql") else {
            return Vec::new();
        };
        match session.query(&sql, &[]) {
            Ok(_) => Vec::new(),
            Err(_) if config::get_bool("ignore_errors").ok().flatten() == Some(true) => Vec::new(),
            Err(e) => vec![Finding::new(
                "hostile-query-failed",
                Severity::Error,
                format!("the query failed: {e}"),
            )],
        }
    }
}

godwit_sdk::export_validator!(HostileValidator);
