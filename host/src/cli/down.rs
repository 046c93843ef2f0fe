//! `godwit down`: revert applied migrations with their down.sql.

use clap::Args as ClapArgs;

use super::{print_run, version};
use crate::error::{Error, exit};
use crate::migrator::{DownTarget, Migrator};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Revert everything newer than this version.
    #[arg(long, value_name = "VERSION", conflicts_with = "steps")]
    to: Option<String>,
    /// How many migrations to revert.
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
}

pub(super) async fn run(migrator: &mut Migrator, args: &Args, json: bool) -> Result<u8, Error> {
    let target = match (&args.to, args.steps) {
        (Some(v), _) => DownTarget::To(version(v)?),
        (None, n) => DownTarget::Steps(n.unwrap_or(1)),
    };
    let report = migrator.down(&target).await?;
    print_run(&report, "reverted", json);
    Ok(exit::OK)
}
