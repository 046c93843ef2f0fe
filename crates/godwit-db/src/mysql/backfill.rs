//! A backfill's SQL where MySQL/MariaDB spell it their own way: `LONGTEXT` keys, `<=>`, a
//! batch joined as a `UNION ALL` (there is no `UPDATE … FROM`), and the session settings
//! a worker's connection takes.

use std::time::Duration;

use crate::traits::{BackfillDialect, BatchWrite};

pub struct Backfill;

impl BackfillDialect for Backfill {
    fn long_text(&self) -> &'static str {
        "LONGTEXT"
    }

    /// No `CREATE INDEX IF NOT EXISTS`.
    fn index_inside_table(&self) -> bool {
        true
    }

    fn not_distinct(&self, column: &str, value: &str, _json: bool) -> String {
        format!("{column} <=> {value}")
    }

    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn batch_write(&self) -> BatchWrite {
        BatchWrite::UnionJoin {
            max_parameters: 65_535,
        }
    }

    /// READ COMMITTED, so that a worker sees the batches others finished, and UTC, which
    /// the host's values take a TIMESTAMP to be in.
    fn worker_session(&self, _lease: Duration) -> Option<String> {
        Some(
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; SET SESSION time_zone = '+00:00'"
                .to_owned(),
        )
    }

    /// The server closes a connection idle longer than its `wait_timeout`, rolling its
    /// batch back.
    fn session_lease(&self, lease: Duration) -> Option<(String, &'static str)> {
        Some((
            format!("SET SESSION wait_timeout = {}", lease.as_secs().max(1)),
            "SET SESSION wait_timeout = @@GLOBAL.wait_timeout",
        ))
    }

    /// TIMESTAMP values are read and written as UTC by the host, while the migrations
    /// around the step run in the server's time zone.
    fn utc_session(&self) -> Option<(&'static str, &'static str)> {
        Some((
            "SET @godwit_step_saved_time_zone = @@SESSION.time_zone, SESSION time_zone = '+00:00'",
            "SET SESSION time_zone = @godwit_step_saved_time_zone",
        ))
    }
}
