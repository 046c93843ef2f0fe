//! A database's schema in a dialect-neutral form, and the differences between two of them:
//! the model itself is [`godwit_core::schema`], re-exported here; the drivers read it from
//! each database's catalogs ([`godwit_db::Introspect::introspect`]). This module adds
//! what needs the host: the declared schema files of `godwit diff` ([`declared`]) and the
//! DDL `pull` writes ([`ddl`]), and the migrations `diff` writes from two schemas
//! ([`generate`]).

pub mod ddl;
pub mod declared;
pub mod generate;

pub use godwit_core::schema::*;
