//! `godwit deploy`: apply pending migrations, on one database or a fleet.

use std::path::Path;

use clap::Args as ClapArgs;

use super::{Cli, fleet, print_report, print_run, version, workers_arg};
use crate::config::Config;
use crate::error::{Error, exit};
use crate::migrator::{DeployOptions, Migrator};
use crate::report;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Stop after this version.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Apply pending migrations older than the newest applied one.
    #[arg(long)]
    allow_out_of_order: bool,
    /// If a migration fails, restore the backup taken before the run (taken even
    /// with `[backup] policy = "never"`): for migrations a transaction cannot undo.
    #[arg(long)]
    restore_on_failure: bool,
    /// Apply the migrations although another tool's history table (Prisma's, diesel's,
    /// ...) says it migrated this database and godwit's history is empty; without it,
    /// deploy refuses and points to `godwit adopt`.
    #[arg(long)]
    ignore_other_history: bool,
    /// Run each backfill's batches on N connections at once (1 to 64), instead of its
    /// step.toml's `[batch] workers`. Other processes can help with `godwit work`.
    #[arg(long, value_name = "N", value_parser = workers_arg)]
    workers: Option<u32>,
    #[command(flatten)]
    pub(super) fleet: fleet::FleetArgs,
    /// With --targets: deploy the first K targets first, and the rest only if every
    /// one of those succeeded (else the rest are skipped).
    #[arg(long, value_name = "K", requires = "targets", value_parser = clap::value_parser!(u64).range(1..))]
    canary: Option<u64>,
}

impl Args {
    fn options(&self) -> Result<DeployOptions, Error> {
        Ok(DeployOptions {
            to: self.to.as_deref().map(version).transpose()?,
            allow_out_of_order: self.allow_out_of_order,
            restore_on_failure: self.restore_on_failure,
            ignore_other_history: self.ignore_other_history,
            workers: self.workers,
        })
    }
}

/// `deploy --targets FILE`.
pub(super) async fn fleet(cli: &Cli, args: &Args, file: &Path) -> Result<u8, Error> {
    let options = args.options()?;
    let fleet = fleet::read(cli, file)?;
    let run = fleet::run(
        args.fleet.parallel,
        args.canary.map(|k| k as usize),
        cli.json,
    );
    let report = crate::fleet::deploy(&fleet, &options, run).await?;
    print_report(cli.json, &report, || report::fleet(&report));
    Ok(report.exit_code)
}

pub(super) async fn run(
    migrator: &mut Migrator,
    config: &Config,
    args: &Args,
    json: bool,
) -> Result<u8, Error> {
    let options = args.options()?;
    let checker_only = crate::plugin::registry::checker_only(config);
    if !json {
        out!(
            "{}",
            crate::plugin::registry::checker_only_text(&checker_only)
        );
    }
    let report = migrator.deploy(&options).await?;
    if json && !checker_only.is_empty() {
        let mut doc = serde_json::to_value(&report).expect("serializable");
        doc["checker_only"] = serde_json::json!(checker_only);
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializable")
        );
    } else {
        print_run(&report, "applied", json);
    }
    Ok(exit::OK)
}
