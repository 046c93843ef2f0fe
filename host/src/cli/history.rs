//! `godwit history`: past runs, or their statistics.

use clap::Args as ClapArgs;

use super::print_report;
use crate::error::{Error, exit};
use crate::migrator::Migrator;
use crate::report;

#[derive(Debug, ClapArgs)]
pub struct Args {
    #[arg(long)]
    stats: bool,
    /// Show only the newest N rows.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

pub(super) async fn run(migrator: &mut Migrator, args: &Args, json: bool) -> Result<u8, Error> {
    let rows = migrator.history().await?;
    if args.stats {
        let stats = report::stats(&rows);
        print_report(json, &stats, || report::stats_text(&stats));
    } else {
        let shown = &rows[rows.len().saturating_sub(args.limit.unwrap_or(usize::MAX))..];
        outln!("{}", report::history(shown, json));
    }
    Ok(exit::OK)
}
