//! `godwit baseline`: record migrations as applied without running them.

use clap::Args as ClapArgs;

use super::{adopt, version};
use crate::adopt::Tool;
use crate::error::{Error, exit};
use crate::migrator::Migrator;

#[derive(Debug, ClapArgs)]
pub struct Args {
    #[arg(required_unless_present = "from")]
    version: Option<String>,
    #[arg(long, value_name = "TOOL", conflicts_with = "version")]
    from: Option<Tool>,
}

pub(super) async fn run(migrator: &mut Migrator, args: &Args, json: bool) -> Result<u8, Error> {
    let Some(v) = &args.version else {
        return adopt::adopt(migrator, args.from, json).await;
    };
    let recorded = migrator.baseline(&version(v)?).await?;
    if json {
        outln!("{}", serde_json::json!({ "baselined": recorded }));
    } else if recorded.is_empty() {
        outln!("Nothing to baseline: no pending migration at or below {v}.");
    } else {
        outln!(
            "Recorded {} migration(s) as applied without running them:\n  {}",
            recorded.len(),
            recorded.join("\n  ")
        );
    }
    Ok(exit::OK)
}
