//! `godwit work`: join a running deploy's backfill from another process.

use clap::Args as ClapArgs;

use super::{print_report, workers_arg};
use crate::config::Config;
use crate::error::{Error, exit};
use crate::migrator::Migrator;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Connections taking batches at once in this process (1 to 64).
    #[arg(long, value_name = "N", value_parser = workers_arg, default_value = "1")]
    workers: u32,
}

pub(super) async fn run(
    migrator: &mut Migrator,
    config: &Config,
    args: &Args,
    json: bool,
) -> Result<u8, Error> {
    let report = migrator.work(args.workers, config.wait).await?;
    print_report(json, &report, || {
        format!(
            "step {}_{}: this process took {} batch{} ({} row{}) on {} connection{}; {} of its {} batches are done",
            report.version,
            report.name,
            report.batches,
            if report.batches == 1 { "" } else { "es" },
            report.rows,
            if report.rows == 1 { "" } else { "s" },
            report.workers,
            if report.workers == 1 { "" } else { "s" },
            report.step_batches_done,
            report.step_batches
        )
    });
    Ok(exit::OK)
}
