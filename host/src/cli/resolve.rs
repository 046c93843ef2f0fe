//! `godwit resolve`: record how a failed or interrupted migration was fixed by hand.

use clap::Args as ClapArgs;

use super::{print_message, version};
use crate::error::{Error, exit};
use crate::migrator::{Migrator, Resolve};

#[derive(Debug, ClapArgs)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// The migration is fully in effect (finished by hand).
    #[arg(long, value_name = "VERSION")]
    applied: Option<String>,
    /// Nothing of it is in effect; the next deploy applies it from the start.
    #[arg(long, value_name = "VERSION")]
    rolled_back: Option<String>,
    /// The failed statement was dealt with by hand; deploy continues with the next one.
    #[arg(long = "continue", value_name = "VERSION")]
    continue_: Option<String>,
}

pub(super) async fn run(migrator: &mut Migrator, args: &Args, json: bool) -> Result<u8, Error> {
    let (v, action) = match (&args.applied, &args.rolled_back, &args.continue_) {
        (Some(v), _, _) => (v, Resolve::Applied),
        (_, Some(v), _) => (v, Resolve::RolledBack),
        (_, _, Some(v)) => (v, Resolve::Continue),
        _ => unreachable!("clap requires one"),
    };
    let message = migrator.resolve(&version(v)?, action).await?;
    print_message(&message, json);
    Ok(exit::OK)
}
