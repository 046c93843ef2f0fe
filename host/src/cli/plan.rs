//! `godwit plan`: a dry run against the database, reading only.

use clap::Args as ClapArgs;

use crate::error::{Error, exit};
use crate::migrator::Migrator;
use crate::validate::Validators;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// human (default), json, or markdown (for a pull-request comment).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Plan what `deploy --to VERSION` would apply: the pending migrations up to it.
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

pub(super) async fn run(
    migrator: &mut Migrator,
    validators: Option<&Validators>,
    args: &Args,
    json: bool,
) -> Result<u8, Error> {
    let to = args.to.as_deref().map(super::version).transpose()?;
    let plan = crate::plan::plan(migrator, validators, to.as_ref()).await?;
    let format = args
        .format
        .unwrap_or(if json { Format::Json } else { Format::Human });
    match format {
        Format::Human => outln!("{}", crate::plan::human(&plan)),
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&plan).expect("serializable")
        ),
        Format::Markdown => outln!("{}", crate::plan::markdown(&plan)),
    }
    Ok(if plan.refused.is_some() {
        exit::BLOCKED
    } else {
        exit::OK
    })
}
