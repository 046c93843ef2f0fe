//! A database's schema in a dialect-neutral form, and the differences between two of them:
//! the model itself is [`godwit_core::schema`], re-exported here; the drivers read it from
//! each database's catalogs ([`crate::driver::Introspect::introspect`]). This module adds
//! what needs the host: the declared schema files of `godwit diff` ([`declared`]) and the
//! DDL `pull` writes ([`ddl`]).

pub mod ddl;
pub mod declared;

pub use godwit_core::schema::*;
