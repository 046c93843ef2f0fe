//! A backfill's SQL where SQLite spells it its own way: `IS` for not-distinct, no row
//! locks (its one writer's transaction keeps others out), and its parameter limit.

use crate::traits::{BackfillDialect, BatchWrite};

pub struct Backfill;

impl BackfillDialect for Backfill {
    fn long_text(&self) -> &'static str {
        "TEXT"
    }

    fn index_inside_table(&self) -> bool {
        false
    }

    fn not_distinct(&self, column: &str, value: &str, _json: bool) -> String {
        format!("{column} IS {value}")
    }

    fn lock_rows(&self) -> &'static str {
        ""
    }

    fn batch_write(&self) -> BatchWrite {
        BatchWrite::Values {
            max_parameters: 32_766,
        }
    }
}
