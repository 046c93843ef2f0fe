//! The Rust version of the example backfill that `examples/plugins/python` and
//! `examples/plugins/js` implement too: `email_normalized = lower(trim(email))`, NULL for
//! an email that is NULL or blank. Tests run all three and compare the rows.

use godwit_sdk::{Backfill, BackfillSpec, Row, RowExt as _, Value, config, row};

struct NormalizeEmail;

impl Backfill for NormalizeEmail {
    fn describe() -> BackfillSpec {
        let table = config::get_str("table").unwrap_or_else(|| "customers".into());
        BackfillSpec::new(&table, "id", ["email"], ["email_normalized"])
            .filter("email_normalized IS NULL")
            .batch_size_hint(1000)
    }

    fn transform(rows: Vec<Row>) -> Result<Vec<Row>, String> {
        rows.iter()
            .map(|r| {
                let normalized = match r.text("email").map(str::trim) {
                    Some(email) if !email.is_empty() => Value::from(email.to_lowercase()),
                    _ => Value::Null,
                };
                Ok(row! { "id" => r.require("id")?, "email_normalized" => normalized })
            })
            .collect()
    }
}

godwit_sdk::export_backfill!(NormalizeEmail);
