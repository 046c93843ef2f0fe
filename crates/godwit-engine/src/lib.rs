//! godwit's engine: everything the `godwit` binary does, without its command line and its
//! output. It owns what has to be trustworthy: the history table, ordering, the migration
//! lock, transactions, timeouts and [`backup`]s, and it bridges the database drivers
//! (`godwit-db`) and the plugin runtime (`godwit-plugin`), which never see each other.
//!
//! ```no_run
//! # async fn demo() -> Result<(), godwit_engine::Error> {
//! use godwit_engine::{config::Config, migrator::Migrator};
//!
//! let config = Config::load(std::path::Path::new("."), &Default::default())?;
//! let mut migrator = Migrator::connect(&config).await?;
//! let report = migrator.deploy(&Default::default()).await?;
//! println!("{} applied", report.applied.len());
//! # Ok(()) }
//! ```

pub mod adopt;
pub mod backup;
pub mod config;
pub mod diff;
pub mod error;
pub mod event;
pub mod exit;
pub mod fleet;
pub mod health;
pub mod lockfile;
pub mod migrator;
pub mod notify;
pub mod plan;
pub mod plugin;
pub mod schema;
pub mod step;
pub mod text;
pub mod validate;
pub mod verify;

pub use error::Error;

// The pure model and the lint rules live in their own crates; these keep the paths
// (`crate::split::...`, `godwit::lint::...`) the modules were written with.
pub use godwit_core::{Dialect, VERSION, analyze, finding, foreign, history, source, split, value};
pub use godwit_lint as lint;
pub use godwit_lint::findings_report;
// The drivers are the crate godwit-db; `driver` and `redact` are its paths here.
pub use godwit_db as driver;
pub use godwit_db::redact;
