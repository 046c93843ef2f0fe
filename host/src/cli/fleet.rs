//! `--targets FILE` and `--parallel N`, shared by `deploy` and `status`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args as ClapArgs;

use super::Cli;
use crate::config::Overrides;
use crate::error::Error;
use crate::fleet::{DEFAULT_PARALLEL, Fleet, Run};

/// `--targets FILE` and `--parallel N`: the command on every database the file lists.
#[derive(Debug, ClapArgs)]
pub struct FleetArgs {
    /// Run on every database listed in FILE (one `[NAME] URL` or `[NAME] env(VARIABLE)` a
    /// line, `#` comments; see docs/fleet.md) instead of the configured one. The path is
    /// relative to the project directory.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// With --targets: how many targets to work on at once.
    #[arg(long, value_name = "N", requires = "targets", value_parser = clap::value_parser!(u64).range(1..))]
    pub parallel: Option<u64>,
}

/// The targets file of `--targets`; `--database-url` names one database, so the two
/// together are refused rather than one silently ignored.
pub(super) fn read(cli: &Cli, file: &Path) -> Result<Fleet, Error> {
    if cli.database_url.is_some() {
        return Err(Error::Config(
            "--database-url and --targets both say which databases to use; give one of them (list every database in the targets file)".into(),
        ));
    }
    let overrides = Overrides {
        database_url: None,
        wait: cli.wait.map(Duration::from_secs),
        lock_wait: cli.lock_wait,
    };
    Ok(Fleet::read(&cli.dir, file, &overrides)?)
}

/// How a fleet command runs: `--parallel`, `--canary` and `--json`.
pub(super) fn run(parallel: Option<u64>, canary: Option<usize>, json: bool) -> Run {
    Run {
        parallel: parallel.map_or(DEFAULT_PARALLEL, |n| n as usize),
        canary,
        json,
    }
}
