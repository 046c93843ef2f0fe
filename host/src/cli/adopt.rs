//! `godwit adopt` (and `baseline --from`): take over a database another tool migrated.

use clap::Args as ClapArgs;

use super::print_report;
use crate::adopt::Tool;
use crate::error::{Error, exit};
use crate::migrator::Migrator;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Which tool's table to read, when the database has more than one.
    #[arg(long, value_name = "TOOL")]
    from: Option<Tool>,
}

pub(super) async fn run(migrator: &mut Migrator, args: &Args, json: bool) -> Result<u8, Error> {
    adopt(migrator, args.from, json).await
}

/// Records what `from`'s history table (or the only one found) says was applied.
pub(super) async fn adopt(
    migrator: &mut Migrator,
    from: Option<Tool>,
    json: bool,
) -> Result<u8, Error> {
    let report = migrator.adopt(from).await?;
    print_report(json, &report, || crate::adopt::human(&report));
    Ok(if !report.needs_attention() && !report.matched_nothing() {
        exit::OK
    } else {
        exit::BLOCKED
    })
}
