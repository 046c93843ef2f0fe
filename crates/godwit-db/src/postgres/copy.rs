//! The copies of dropped data on PostgreSQL: kept in the schema `godwit_copies`, where
//! the application's tools (Prisma, Drizzle, `pg_dump -n public`) never see them and
//! `DROP SCHEMA public CASCADE` does not reach them; columns of the application's own
//! types kept as text, so a copy never stops a later `DROP TYPE`; nobody's but the
//! deployer's.

use std::path::Path;

use async_trait::async_trait;

use crate::error::SqlError;
use crate::own::COPIES_SCHEMA;
use crate::relation::{Column, CopyDialect, Located, Stored, Table, first};
use crate::traits::Session;
use godwit_core::Dialect;
use godwit_core::sql::{literal, quote};

const D: Dialect = Dialect::Postgres;

pub(crate) struct Copies;

#[async_trait(?Send)]
impl CopyDialect for Copies {
    fn has_tables_sql(&self) -> &'static str {
        "SELECT count(*) FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'godwit_copies') \
         AND n.nspname NOT LIKE 'pg\\_%' AND c.relname NOT LIKE 'godwit\\_%'"
    }

    /// PostgreSQL keeps dependencies: a copy with a column of an application's type would
    /// stop a later `DROP TYPE`, `DROP DOMAIN` or `DROP EXTENSION`. Only types of
    /// `pg_catalog` that no extension owns are kept as they are.
    async fn columns(
        &self,
        driver: &mut dyn Session,
        table: &Table,
    ) -> Result<Vec<Column>, SqlError> {
        let builtin = |oid: &str| {
            format!(
                "(SELECT bt.typnamespace = 'pg_catalog'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend e \
                 WHERE e.classid = 'pg_type'::regclass AND e.objid = bt.oid AND e.deptype = 'e') FROM pg_type bt WHERE bt.oid = {oid})"
            )
        };
        let sql = format!(
            "SELECT a.attname::text, CAST(a.attgenerated <> '' AS text), format_type(a.atttypid, a.atttypmod), \
             CASE WHEN {own} AND (t.typelem = 0 OR t.typcategory <> 'A' OR {elem}) THEN 'as-is' \
                  WHEN t.typtype = 'd' AND {base} THEN 'base' ELSE 'text' END, \
             CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END, \
             CAST(coalesce(co.collnamespace <> 'pg_catalog'::regnamespace, false) AS text) \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             WHERE a.attrelid = to_regclass({rel}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            own = builtin("t.oid"),
            elem = builtin("t.typelem"),
            base = builtin("t.typbasetype"),
            rel = literal(D, &table.sql(D)),
        );
        let rows = driver.query_text(&sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                let name = r.first().cloned().flatten()?;
                let stored = match text(3).as_str() {
                    "as-is" => Stored::AsIs,
                    "base" => Stored::Base(text(4)),
                    _ => Stored::Text,
                };
                Some(Column {
                    name,
                    generated: text(1) == "true",
                    type_name: text(2),
                    stored,
                    own_collation: text(5) == "true",
                })
            })
            .collect())
    }

    fn primary_key_sql(&self, table: &Table) -> String {
        format!(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = to_regclass({}) AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            literal(D, &table.sql(D))
        )
    }

    fn tables_sql(&self) -> &'static str {
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
    }

    fn folds_case(&self) -> bool {
        false
    }

    fn as_text(&self, column: &str) -> String {
        format!("CAST({column} AS TEXT)")
    }

    async fn sizes(
        &self,
        driver: &mut dyn Session,
        schema: &str,
    ) -> Result<Option<Vec<Vec<Option<String>>>>, SqlError> {
        driver
            .query_text(&format!(
                "SELECT c.relname::text, CAST(pg_total_relation_size(c.oid) AS text) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relkind = 'r'",
                literal(D, schema)
            ))
            .await
            .map(Some)
    }

    async fn locate(&self, driver: &mut dyn Session) -> Result<Located, SqlError> {
        let namespace = first(driver, "SELECT current_schema()::text")
            .await?
            .unwrap_or_else(|| "public".into());
        Ok(Located {
            schema: COPIES_SCHEMA.to_string(),
            namespace,
            attaches: false,
            file: None,
        })
    }

    fn describe(&self, schema: &str, _file: Option<&Path>) -> String {
        format!("schema {schema}")
    }

    fn store_tables_sql(&self, schema: &str) -> String {
        format!(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = {} AND c.relkind IN ('r', 'p')",
            literal(D, schema)
        )
    }

    fn store_exists_sql(&self, schema: &str, records: &str) -> String {
        format!(
            "SELECT CAST(has_schema_privilege(n.oid, 'USAGE') AND EXISTS (SELECT 1 FROM pg_class c \
             WHERE c.relnamespace = n.oid AND c.relname = {}) AS text) FROM pg_namespace n WHERE n.nspname = {}",
            literal(D, records),
            literal(D, schema)
        )
    }

    async fn ensure_store(
        &self,
        driver: &mut dyn Session,
        schema: &str,
        _records_ddl: &str,
    ) -> Result<Result<(), String>, SqlError> {
        let name = literal(D, schema);
        let row = driver
            .query_text(&format!(
                "SELECT CAST(EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {name}) AS text), \
                 CAST(has_database_privilege(current_database(), 'CREATE') AS text), \
                 CAST((SELECT has_schema_privilege(oid, 'CREATE') AND has_schema_privilege(oid, 'USAGE') \
                       FROM pg_namespace WHERE nspname = {name}) AS text), \
                 current_user::text, current_database()::text"
            ))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let flag = |i: usize| row.get(i).cloned().flatten().as_deref() == Some("true");
        let user = row.get(3).cloned().flatten().unwrap_or_default();
        let database = row.get(4).cloned().flatten().unwrap_or_default();
        let (exists, may_create, usable) = (flag(0), flag(1), flag(2));
        if exists && !usable {
            return Ok(Err(format!(
                "the schema {schema} exists but {user} may not create tables in it; \
                 `GRANT USAGE, CREATE ON SCHEMA {} TO {}` lets godwit keep copies there",
                quote(D, schema),
                quote(D, &user)
            )));
        }
        if !exists {
            if !may_create {
                return Ok(Err(format!(
                    "{user} may not create the schema {schema} in {database}; to keep copies, have an owner run \
                     `CREATE SCHEMA {} AUTHORIZATION {}`",
                    quote(D, schema),
                    quote(D, &user)
                )));
            }
            driver
                .execute(&format!("CREATE SCHEMA {}", quote(D, schema)))
                .await?;
            // Default privileges may grant a new schema to other roles; the copies are
            // nobody's business but the deployer's, and a grant would make `DROP ROLE` of
            // that role fail later.
            self.keep_private(driver, "SCHEMA", &quote(D, schema))
                .await?;
        }
        Ok(Ok(()))
    }

    /// Takes back every privilege on `object` that default privileges gave to roles
    /// other than its owner.
    async fn keep_private(
        &self,
        driver: &mut dyn Session,
        kind: &str,
        object: &str,
    ) -> Result<(), SqlError> {
        let (catalog, acl, owner, oid) = match kind {
            "SCHEMA" => (
                "pg_namespace",
                "nspacl",
                "nspowner",
                format!("{}::regnamespace", literal(D, object)),
            ),
            _ => (
                "pg_class",
                "relacl",
                "relowner",
                format!("to_regclass({})", literal(D, object)),
            ),
        };
        let grantees = driver
            .query_text(&format!(
                "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END \
                 FROM {catalog} o CROSS JOIN LATERAL aclexplode(o.{acl}) a LEFT JOIN pg_roles r ON r.oid = a.grantee \
                 WHERE o.oid = {oid} AND a.grantee <> o.{owner}"
            ))
            .await?;
        for grantee in crate::raw::first_column(grantees) {
            driver
                .execute(&format!("REVOKE ALL ON {kind} {object} FROM {grantee}"))
                .await?;
        }
        Ok(())
    }

    fn casts_retyped_columns(&self) -> bool {
        true
    }

    /// Identity columns GENERATED ALWAYS take their old values back too.
    fn insert_overriding(&self) -> &'static str {
        " OVERRIDING SYSTEM VALUE"
    }

    fn update_from_copy(
        &self,
        target: &str,
        copy: &str,
        column: &str,
        set: &str,
        on: &str,
    ) -> String {
        format!("UPDATE {target} AS t SET {column} = {set} FROM {copy} AS c WHERE {on}")
    }

    fn savepoints(&self) -> bool {
        true
    }

    /// Rows put back with their old ids leave a re-created serial or identity sequence
    /// behind them; the next insert would collide.
    async fn after_put_back(
        &self,
        driver: &mut dyn Session,
        table: &Table,
        columns: &[String],
    ) -> Result<(), SqlError> {
        for column in columns {
            let seq = first(
                driver,
                &format!(
                    "SELECT pg_get_serial_sequence({}, {})",
                    literal(D, &table.sql(D)),
                    literal(D, column)
                ),
            )
            .await?;
            if let Some(seq) = seq {
                driver
                    .execute(&format!(
                        "SELECT setval({}, max({})) FROM {} HAVING max({}) IS NOT NULL",
                        literal(D, &seq),
                        quote(D, column),
                        table.sql(D),
                        quote(D, column)
                    ))
                    .await?;
            }
        }
        Ok(())
    }
}
