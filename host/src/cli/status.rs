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
    let others = migrator.unadopted_histories().await?;
    let status = report::status(
        &entries,
        &config.target.display,
        &copies,
        json,
        !others.is_empty(),
    );
    let (layout, layout_from) = layout_of(config);
    let baseline = history::Baseline::of(migrations, &rows);
    if json {
        let mut doc: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
        doc["layout"] = serde_json::json!(layout);
        doc["layout_from"] = serde_json::json!(layout_from);
        doc["baseline"] = serde_json::json!(baseline.version());
        doc["left_out"] = serde_json::json!(
            source::left_out(&config.migrations_dir, &config.layout())
                .into_iter()
                .map(|(file, why)| serde_json::json!({"file": file, "why": why}))
                .collect::<Vec<_>>()
        );
        doc["other_history"] = serde_json::json!(others);
        doc["checker_only"] = serde_json::json!(crate::plugin::registry::checker_only(config));
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializable")
        );
    } else {
        // Which tool's folder godwit took this for, under the database's line: a wrong
        // guess (sqlx's files read as golang-migrate's) changes how they run.
        let dir = config
            .migrations_dir
            .strip_prefix(&config.project_dir)
            .unwrap_or(&config.migrations_dir);
        let read_as = match (layout, layout_from) {
            ("pattern", _) => "read with godwit.toml's `pattern`".to_string(),
            (name, "detected") => {
                format!("read as {name}'s folder (detected; `layout` in godwit.toml overrides)")
            }
            (name, _) => format!("read as {name}'s folder (`layout` in godwit.toml)"),
        };
        let (database, rest) = status.split_once('\n').unwrap_or((&status, ""));
        let baseline = match baseline.version() {
            Some(v) => {
                let covered = baseline.covers(migrations);
                format!(
                    "\n  starts from the Flyway baseline migration {v}{}",
                    match covered {
                        0 => String::new(),
                        n => format!(
                            ", which stands for the {n} versioned migration{} up to its version (not run here)",
                            if n == 1 { "" } else { "s" }
                        ),
                    }
                )
            }
            None => String::new(),
        };
        outln!(
            "{database}\n  {} {read_as}{baseline}\n{rest}",
            dir.display()
        );
        let checker_only = crate::plugin::registry::checker_only(config);
        if !checker_only.is_empty() {
            out!(
                "\n{}",
                crate::plugin::registry::checker_only_text(&checker_only)
            );
        }
        if !others.is_empty() {
            outln!("\n{}", crate::adopt::unadopted_note(&others));
        }
        let left_out = source::left_out(&config.migrations_dir, &config.layout());
        if !left_out.is_empty() {
            let names: Vec<String> = left_out
                .iter()
                .map(|(file, why)| format!("{file} ({why})"))
                .collect();
            outln!(
                "\nNot migrations, so godwit does not run them: {}",
                names.join(", ")
            );
        }
    }
    let summary = report::summarize(&entries);
    Ok(crate::fleet::status_code(&summary, !others.is_empty()))
}

/// The layout the migrations folder is read in (`pattern` for godwit.toml's pattern), and
/// where that came from: `godwit.toml` or `detected`.
fn layout_of(config: &Config) -> (&'static str, &'static str) {
    if config.file.pattern.is_some() {
        return ("pattern", "godwit.toml");
    }
    let from = if config.file.layout.is_some() {
        "godwit.toml"
    } else {
        "detected"
    };
    let name = config
        .layout()
        .layout
        .map_or("godwit", source::Layout::name);
    (name, from)
}
