//! Plugins as this host runs them: the runtime of the `godwit-plugin` crate, re-exported
//! under the path the host always used (`godwit::plugin::…`), and what ties it to the rest
//! of godwit: the project's configured plugins and their grants ([`registry`]), the
//! database session a plugin is lent ([`session`], over the drivers) and the plugins built
//! into the binary ([`builtin`]).

pub use godwit_plugin::*;

pub mod builtin;
pub mod registry;
pub mod session;
