//! `godwit reset`: drop everything and apply every migration again (development only).

use clap::Args as ClapArgs;

use crate::config::Config;
use crate::error::{Error, Refusal, exit};
use crate::migrator::Migrator;
use crate::report;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Allow reset outside `environment = "development"`.
    #[arg(long)]
    force: bool,
}

/// Refuses a reset outside development without `--force`, before anything is read or
/// connected.
pub(super) fn allowed(config: &Config, args: &Args) -> Result<(), Error> {
    if args.force || config.is_development() {
        return Ok(());
    }
    Err(Error::blocked(
        Refusal::NotApplicable,
        format!(
            "reset drops everything in {} and is only allowed when godwit.toml says environment = \"development\"; pass --force if you really mean it",
            config.target.display
        ),
    ))
}

pub(super) async fn run(migrator: &mut Migrator, config: &Config, json: bool) -> Result<u8, Error> {
    // Reset ends in a deploy: the same notice as `deploy`.
    let checker_only = crate::plugin::registry::checker_only(config);
    if !json {
        out!(
            "{}",
            crate::plugin::registry::checker_only_text(&checker_only)
        );
    }
    let (dropped, report) = migrator.reset().await?;
    if json {
        let mut doc = serde_json::json!({ "dropped": dropped, "deploy": report });
        if !checker_only.is_empty() {
            doc["checker_only"] = serde_json::json!(checker_only);
        }
        outln!("{doc}");
    } else {
        outln!("{}", report::run_summary(&report, "applied"));
        outln!(
            "(dropped first: {})",
            if dropped.is_empty() {
                "nothing".into()
            } else {
                dropped.join(", ")
            }
        );
    }
    Ok(exit::OK)
}
