//! `godwit status`: every migration's state, on one database or a fleet.

use std::path::Path;

use clap::Args as ClapArgs;

use super::{Cli, fleet, print_report};
use crate::config::Config;
use crate::error::Error;
use crate::history;
use crate::migrator::Migrator;
use crate::report;
use crate::source;

#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub(super) fleet: fleet::FleetArgs,
}

/// `status --targets FILE`.
pub(super) async fn fleet(cli: &Cli, args: &Args, file: &Path) -> Result<u8, Error> {
    let fleet = fleet::read(cli, file)?;
    let report =
        crate::fleet::status(&fleet, fleet::run(args.fleet.parallel, None, cli.json)).await?;
    print_report(cli.json, &report, || report::fleet(&report));
    Ok(report.exit_code)
}

pub(super) async fn run(
    migrator: &mut Migrator,
    config: &Config,
    migrations: &[source::Migration],
    json: bool,
) -> Result<u8, Error> {
    let rows = migrator.history().await?;
    let copies = migrator.copies().await?;
    let entries = history::entries(migrations, &rows);
    let others = crate::adopt::unadopted_histories(migrator).await?;
    let status = report::status(
        &entries,
        &config.target.display,
        &copies,
        json,
        !others.is_empty(),
    );
    if json {
        let mut doc: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
        doc["other_history"] = serde_json::json!(others);
        doc["checker_only"] = serde_json::json!(crate::driver::checker_only(config));
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializable")
        );
    } else {
        outln!("{status}");
        let checker_only = crate::driver::checker_only(config);
        if !checker_only.is_empty() {
            out!("\n{}", crate::driver::checker_only_text(&checker_only));
        }
        if !others.is_empty() {
            outln!("\n{}", crate::adopt::unadopted_note(&others));
        }
    }
    let summary = report::summarize(&entries);
    Ok(crate::fleet::status_code(&summary, !others.is_empty()))
}
