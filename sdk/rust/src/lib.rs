//! Write [godwit](https://github.com/godwit-db/godwit) plugins in Rust.
//!
//! A plugin is a `cdylib` crate built for `wasm32-wasip2`. It implements the trait of one
//! world — [`Backfill`], [`DataStep`], [`Validator`] or [`Notifier`] — and hands its type
//! to that world's export macro, which also embeds the crate's `godwit-plugin.toml` (what
//! the plugin asks the operator for) as a custom section named `godwit-manifest`.
//!
//! Every call runs in a fresh instance: nothing a plugin keeps in a static survives to the
//! next call.
//!
//! ```no_run
//! use godwit_sdk::{Backfill, BackfillSpec, Row, RowExt as _, config, row};
//!
//! struct Lowercase;
//!
//! impl Backfill for Lowercase {
//!     fn describe() -> BackfillSpec {
//!         BackfillSpec::new("users", "id", ["email"], ["email_normalized"])
//!     }
//!
//!     fn transform(rows: Vec<Row>) -> Result<Vec<Row>, String> {
//!         Ok(rows
//!             .iter()
//!             .map(|r| row! { "id" => r.value("id"), "email_normalized" => r.text("email").map(str::to_lowercase) })
//!             .collect())
//!     }
//! }
//!
//! // In a plugin crate, next to its godwit-plugin.toml:
//! // godwit_sdk::export_backfill!(Lowercase);
//! # let _ = config::get_str("table");
//! ```

mod bindings;
pub mod config;
mod event;
pub mod log;
mod row;
pub mod time;
mod value;

#[cfg(feature = "json")]
pub use event::json;

pub use row::RowExt;

/// The connection the host lends to one call; see [`DataStep`] and [`Validator`].
pub use bindings::backfill::godwit::plugin::host::Session;
/// The types that cross the plugin boundary, as `wit/godwit-plugin.wit` defines them.
pub use bindings::backfill::godwit::plugin::types::{
    BackfillSpec, BackupTaken, BatchProgress, BatchResult, Column, Event, Finding,
    FindingsReported, LagUnknown, Migration, MigrationApplied, MigrationFailed, MigrationStarted,
    PauseReason, ReplicationLag, RolledBack, Row, RunFinished, RunStarted, Severity, StepPaused,
    StepResumed, Value,
};

/// The version of the `godwit:plugin` WIT package this SDK targets.
pub const API_VERSION: &str = "0.2.0";

/// A row-by-row data migration: the host reads batches by key, calls
/// [`transform`](Backfill::transform) and writes the result set-based, so the plugin
/// needs no SQL.
pub trait Backfill {
    /// What to read and write; called once before the first batch.
    fn describe() -> BackfillSpec;
    /// The new values of the `writes` columns for each row, each with its key columns.
    fn transform(rows: Vec<Row>) -> Result<Vec<Row>, String>;
}

/// A data migration that runs its own queries, batch by batch, inside the host's
/// transaction; the host commits and checkpoints the returned cursor between batches.
pub trait DataStep {
    /// Do at most `size` rows' worth of work from `cursor` (`None` on the first call).
    fn run_batch(
        session: &Session,
        cursor: Option<String>,
        size: u32,
    ) -> Result<BatchResult, String>;
}

/// Checks that report findings like godwit's built-in lint rules.
pub trait Validator {
    /// Look at one migration before it is applied; no database access.
    fn check_migration(migration: Migration) -> Vec<Finding>;
    /// Look at the live database through a read-only session.
    fn check_database(session: &Session) -> Vec<Finding> {
        let _ = session;
        Vec::new()
    }
}

/// Hears about deploys, one event per call; an `Err` is reported but never fails a deploy.
pub trait Notifier {
    /// Deliver one event. `target` is the name of the database it is about when
    /// `godwit deploy --targets FILE` deploys a fleet (as the targets file names it), and
    /// `None` when godwit deploys one database.
    fn notify(event: Event, target: Option<String>) -> Result<(), String>;
}

impl BackfillSpec {
    /// A spec paging `table` by `key`, reading `reads` and writing `writes`, with no
    /// filter and a batch size hint of 1000.
    pub fn new<R, W>(table: &str, key: &str, reads: R, writes: W) -> BackfillSpec
    where
        R: IntoIterator,
        R::Item: Into<String>,
        W: IntoIterator,
        W::Item: Into<String>,
    {
        BackfillSpec {
            table: table.to_owned(),
            key: key.to_owned(),
            reads: reads.into_iter().map(Into::into).collect(),
            writes: writes.into_iter().map(Into::into).collect(),
            filter: None,
            batch_size_hint: 1000,
        }
    }

    /// Only rows matching this SQL boolean expression are still to do.
    pub fn filter(mut self, filter: impl Into<String>) -> BackfillSpec {
        self.filter = Some(filter.into());
        self
    }

    /// The batch size the plugin suggests.
    pub fn batch_size_hint(mut self, rows: u32) -> BackfillSpec {
        self.batch_size_hint = rows;
        self
    }
}

impl Finding {
    /// A finding with no location and no help.
    pub fn new(rule: &str, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            rule: rule.to_owned(),
            severity,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    /// Where the finding points, e.g. `20261121090000_create_users.up.sql`.
    pub fn at(mut self, location: impl Into<String>) -> Finding {
        self.location = Some(location.into());
        self
    }

    /// The safe pattern, in a sentence or two.
    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }
}

impl Severity {
    /// Parses `info`, `warning` (or `warn`) and `error`, ignoring case.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// Embeds the plugin crate's `godwit-plugin.toml`, or the file at the given path, as the
/// `godwit-manifest` custom section of the component; the export macros call it for you.
#[macro_export]
macro_rules! manifest {
    () => {
        $crate::manifest!(concat!(env!("CARGO_MANIFEST_DIR"), "/godwit-plugin.toml"));
    };
    ($path:expr) => {
        // A custom section only means something in a wasm module; native builds (tests,
        // clippy) leave it out.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "godwit-manifest")]
        #[used]
        static GODWIT_MANIFEST: [u8; include_bytes!($path).len()] = *include_bytes!($path);
    };
}

/// Exports a [`Backfill`] implementation as the plugin's `backfill` world and embeds its
/// manifest.
#[macro_export]
macro_rules! export_backfill {
    ($ty:ty) => {
        const _: () = {
            struct GodwitExport;
            impl $crate::__private::backfill::Guest for GodwitExport {
                fn describe() -> $crate::BackfillSpec {
                    <$ty as $crate::Backfill>::describe()
                }
                fn transform(
                    rows: ::std::vec::Vec<$crate::Row>,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Row>, ::std::string::String>
                {
                    <$ty as $crate::Backfill>::transform(rows)
                }
            }
            $crate::__private::backfill::export!(GodwitExport with_types_in $crate::__private::backfill);
        };
        $crate::manifest!();
    };
}

/// Exports a [`DataStep`] implementation as the plugin's `data-step` world and embeds its
/// manifest.
#[macro_export]
macro_rules! export_data_step {
    ($ty:ty) => {
        const _: () = {
            struct GodwitExport;
            impl $crate::__private::data_step::Guest for GodwitExport {
                fn run_batch(
                    session: &$crate::Session,
                    cursor: ::core::option::Option<::std::string::String>,
                    size: u32,
                ) -> ::core::result::Result<$crate::BatchResult, ::std::string::String> {
                    <$ty as $crate::DataStep>::run_batch(session, cursor, size)
                }
            }
            $crate::__private::data_step::export!(GodwitExport with_types_in $crate::__private::data_step);
        };
        $crate::manifest!();
    };
}

/// Exports a [`Validator`] implementation as the plugin's `validator` world and embeds its
/// manifest.
#[macro_export]
macro_rules! export_validator {
    ($ty:ty) => {
        const _: () = {
            struct GodwitExport;
            impl $crate::__private::validator::Guest for GodwitExport {
                fn check_migration(m: $crate::Migration) -> ::std::vec::Vec<$crate::Finding> {
                    <$ty as $crate::Validator>::check_migration(m)
                }
                fn check_database(session: &$crate::Session) -> ::std::vec::Vec<$crate::Finding> {
                    <$ty as $crate::Validator>::check_database(session)
                }
            }
            $crate::__private::validator::export!(GodwitExport with_types_in $crate::__private::validator);
        };
        $crate::manifest!();
    };
}

/// Exports a [`Notifier`] implementation as the plugin's `notifier` world and embeds its
/// manifest.
#[macro_export]
macro_rules! export_notifier {
    ($ty:ty) => {
        const _: () = {
            struct GodwitExport;
            impl $crate::__private::notifier::Guest for GodwitExport {
                fn notify(
                    e: $crate::Event,
                    target: ::core::option::Option<::std::string::String>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    <$ty as $crate::Notifier>::notify(e, target)
                }
            }
            $crate::__private::notifier::export!(GodwitExport with_types_in $crate::__private::notifier);
        };
        $crate::manifest!();
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::*;
}
