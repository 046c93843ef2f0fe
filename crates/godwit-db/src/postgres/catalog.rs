//! Questions godwit's engine asks of PostgreSQL's catalogs, outside any driver trait.

use godwit_core::Dialect;
use godwit_core::sql::literal;

use crate::error::SqlError;
use crate::own::COPIES_SCHEMA;
use crate::traits::Session;

/// A schema and how much it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaContents {
    pub name: String,
    /// Tables, partitioned tables, views and materialized views.
    pub relations: u64,
    /// Functions and procedures.
    pub routines: u64,
}

/// The schemas of the connected database besides the current one, PostgreSQL's own,
/// `information_schema`, godwit's copies and those an extension owns, with what each
/// holds, by name.
pub async fn other_schemas(session: &mut dyn Session) -> Result<Vec<SchemaContents>, SqlError> {
    let rows = session
        .query_text(&format!(
            "SELECT n.nspname::text, \
               (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm'))::text, \
               (SELECT count(*) FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid)::text \
             FROM pg_catalog.pg_namespace n \
             WHERE n.nspname NOT IN ('information_schema', {}) AND n.nspname NOT LIKE 'pg\\_%' \
               AND n.nspname IS DISTINCT FROM current_schema() \
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_namespace'::regclass \
                               AND d.objid = n.oid AND d.deptype = 'e') \
             ORDER BY 1",
            literal(Dialect::Postgres, COPIES_SCHEMA)
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(SchemaContents {
                name: row.first().cloned().flatten()?,
                relations: row.get(1).cloned().flatten()?.parse().ok()?,
                routines: row.get(2).cloned().flatten()?.parse().ok()?,
            })
        })
        .collect())
}

/// Whether the current schema holds an index `name` (as the catalog stores it) that is
/// INVALID: what a failed `CREATE INDEX CONCURRENTLY` leaves behind.
pub async fn invalid_index(session: &mut dyn Session, name: &str) -> Result<bool, SqlError> {
    let count = session
        .query_i64(&format!(
            "SELECT count(*) FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT i.indisvalid AND c.relname = {} AND n.nspname = current_schema()",
            literal(Dialect::Postgres, name)
        ))
        .await?;
    Ok(count.unwrap_or(0) > 0)
}
