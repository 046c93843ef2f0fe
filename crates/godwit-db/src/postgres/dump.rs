//! PostgreSQL: `pg_dump --format=custom`, restored by `psql --single-transaction` from
//! the script `pg_restore` writes, after a preamble that empties the database.
//!
//! `pg_restore --clean` alone is not enough: it drops what the archive contains, so a
//! table created after the backup would survive the restore. The preamble drops every
//! user schema instead, and empties `public` object by object because an archive from
//! PostgreSQL 15 does not re-create `public` (initdb does), and dropping it would lose its
//! owner and privileges. Ownership is kept (no `--no-owner`) so that the restored
//! database is the dumped one, owners and grants included.
//!
//! The schema of copies of dropped data ([`crate::own::COPIES_SCHEMA`]) is neither dumped nor dropped:
//! like the backup files, the copies are godwit's own safety net, not the application's
//! state, and they are the same on MySQL and SQLite, where they live outside the
//! database that is backed up.
//!
//! A tenant (`?schema=NAME`) is backed up and restored alone: `pg_dump --schema` of that
//! schema, and a restore that drops that schema (after checking that nothing outside it
//! depends on it) before the archive creates it again. Other schemas are never touched.

use std::path::Path;

use crate::error::DumpError;
use crate::own::LOCK_TABLE;
use crate::settings::Target;
use crate::tools::{self, Tool};
use crate::traits::Driver;

const PACKAGE: &str = "the PostgreSQL client tools (Debian/Ubuntu: `apt-get install postgresql-client`, \
Fedora: `dnf install postgresql`, macOS: `brew install libpq`), at least the server's major version";

/// Connection settings for libpq tools, taken from the URL godwit itself uses.
fn env(target: &Target) -> Result<Vec<(String, String)>, DumpError> {
    let url = url::Url::parse(&target.url).map_err(|e| {
        DumpError::Unsupported(format!("the database URL cannot be handed to pg_dump: {e}"))
    })?;
    let mut env = vec![("PGAPPNAME".to_string(), "godwit backup".to_string())];
    if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
        env.push((
            "PGHOST".into(),
            tools::decode(host.trim_matches(['[', ']'])),
        ));
    }
    if let Some(port) = url.port() {
        env.push(("PGPORT".into(), port.to_string()));
    }
    if !url.username().is_empty() {
        env.push(("PGUSER".into(), tools::decode(url.username())));
    }
    if let Some(password) = url.password() {
        env.push(("PGPASSWORD".into(), tools::decode(password)));
    }
    let database = tools::decode(url.path().trim_start_matches('/'));
    if !database.is_empty() {
        env.push(("PGDATABASE".into(), database));
    }
    for (key, value) in url.query_pairs() {
        let var = match key.as_ref() {
            "host" => "PGHOST",
            "port" => "PGPORT",
            "user" => "PGUSER",
            "password" => "PGPASSWORD",
            "dbname" => "PGDATABASE",
            "sslmode" => "PGSSLMODE",
            "sslrootcert" => "PGSSLROOTCERT",
            "sslcert" => "PGSSLCERT",
            "sslkey" => "PGSSLKEY",
            "options" => "PGOPTIONS",
            _ => continue,
        };
        env.push((var.into(), value.into_owned()));
    }
    Ok(env)
}

/// A pg_dump pattern that matches `name` exactly: double-quoted, so that case, `*`, `?`
/// and `.` are taken literally, with `"` doubled.
fn exact(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal (standard_conforming_strings is on in psql's session).
fn literal(text: &str) -> String {
    godwit_core::sql::literal(godwit_core::Dialect::Postgres, text)
}

/// The schema the restore parks the lock table in while it empties the database or the
/// tenant's schema: one per tenant, so tenants of one database can restore side by side.
fn keep_schema(tenant: Option<&str>) -> String {
    match tenant {
        None => "godwit_restore_keep".into(),
        Some(schema) => {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(schema.as_bytes());
            let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            format!("godwit_restore_keep_{hex}")
        }
    }
}
async fn current_schema(driver: &mut dyn Driver) -> Result<String, DumpError> {
    let rows = driver
        .query_text("SELECT current_schema()::text")
        .await
        .map_err(|e| DumpError::db("cannot find the current schema", &e))?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .unwrap_or_else(|| "public".into()))
}

pub(crate) async fn dump(
    target: &Target,
    driver: &mut dyn Driver,
    file: &Path,
) -> Result<String, DumpError> {
    let purpose = "a PostgreSQL backup";
    let pg_dump = tools::find(&["pg_dump"], PACKAGE, purpose)?;
    let restore = tools::find(&["pg_restore"], PACKAGE, purpose)?;
    let schema = current_schema(driver).await?;
    let mut args = vec![
        "--format=custom".to_string(),
        "--no-password".into(),
        format!("--exclude-table={}.{}", exact(&schema), exact(LOCK_TABLE)),
    ];
    match &target.schema {
        // One tenant (`?schema=`): its schema alone, which is also where the lock is.
        Some(tenant) => args.push(format!("--schema={}", exact(tenant))),
        None => args.push(format!("--exclude-schema={}", crate::own::COPIES_SCHEMA)),
    }
    args.push(format!("--file={}", file.display()));
    let env = env(target)?;
    pg_dump
        .run(&args, &env, None, None, driver, "dumping the database")
        .await?;
    // An archive pg_restore cannot list is not a backup.
    restore
        .run(
            &["--list".into(), file.display().to_string()],
            &[],
            None,
            None,
            driver,
            "checking the new archive",
        )
        .await?;
    Ok(pg_dump.version().await)
}

pub(crate) async fn restore(
    target: &Target,
    driver: &mut dyn Driver,
    archive: &Path,
) -> Result<(), DumpError> {
    let tenant = target.schema.as_deref();
    if let Some(schema) = tenant {
        entangled(driver, schema).await?;
    }
    let purpose = "restoring a PostgreSQL backup";
    let pg_restore = tools::find(&["pg_restore"], PACKAGE, purpose)?;
    let psql = tools::find(&["psql"], PACKAGE, purpose)?;
    let work = archive.with_extension("restore.sql");
    let toc = archive.with_extension("restore.toc");
    let pre = archive.with_extension("restore.pre.sql");
    let post = archive.with_extension("restore.post.sql");
    let result = async {
        list_archive(&pg_restore, archive, &toc, driver).await?;
        let toc_text = std::fs::read_to_string(&toc).map_err(|e| DumpError::io("read", &toc, e))?;
        // A database whose `public` was dropped and re-created by hand has it in the archive.
        let archive_has_public = toc_text.lines().any(|l| l.contains(" SCHEMA - public "));
        let keep = keep_schema(tenant);
        let preamble = match tenant {
            Some(schema) => tenant_preamble(schema, &keep),
            None => preamble(archive_has_public, &keep),
        };
        std::fs::write(&pre, preamble).map_err(|e| DumpError::io("write", &pre, e))?;
        std::fs::write(&post, postamble(&keep)).map_err(|e| DumpError::io("write", &post, e))?;
        pg_restore
            .run(
                &[
                    format!("--file={}", work.display()),
                    archive.display().to_string(),
                ],
                &[],
                None,
                None,
                driver,
                "reading the archive",
            )
            .await?;
        let args = vec![
            "--no-psqlrc".to_string(),
            "--quiet".into(),
            "--no-password".into(),
            "--set=ON_ERROR_STOP=1".into(),
            "--single-transaction".into(),
            format!("--file={}", pre.display()),
            format!("--file={}", work.display()),
            format!("--file={}", post.display()),
        ];
        psql.run(
            &args,
            &env(target)?,
            None,
            None,
            driver,
            "restoring the database (nothing was changed: the restore runs in one transaction)",
        )
        .await
    }
    .await;
    for path in [&work, &toc, &pre, &post] {
        let _ = std::fs::remove_file(path);
    }
    result
}

async fn list_archive(
    pg_restore: &Tool,
    archive: &Path,
    toc: &Path,
    driver: &mut dyn Driver,
) -> Result<(), DumpError> {
    let out = std::fs::File::create(toc).map_err(|e| DumpError::io("create", toc, e))?;
    pg_restore
        .run(
            &["--list".into(), archive.display().to_string()],
            &[],
            None,
            Some(out),
            driver,
            "reading the archive's table of contents",
        )
        .await
}

/// Empties the database in the restore's transaction. The lock table is moved aside and
/// back, so the lock (or lease) held by whoever runs the restore survives it. Each list
/// is collected before anything is dropped, because a CASCADE removes later entries;
/// `IF EXISTS` skips those.
fn preamble(archive_has_public: bool, keep: &str) -> String {
    let copies = crate::own::COPIES_SCHEMA;
    let drop_public = if archive_has_public {
        "DROP SCHEMA IF EXISTS public CASCADE;"
    } else {
        ""
    };
    format!(
        r#"SET client_min_messages = warning;
CREATE TEMP TABLE godwit_restore_lock ON COMMIT DROP AS
  SELECT n.nspname::text AS schema_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname = '{LOCK_TABLE}' AND c.relkind = 'r' AND n.nspname = current_schema();
DO $godwit$
DECLARE
  keep text;
  stmt text;
  stmts text[];
BEGIN
  SELECT schema_name INTO keep FROM pg_temp.godwit_restore_lock;
  IF keep IS NOT NULL THEN
    CREATE SCHEMA {keep};
    EXECUTE format('ALTER TABLE %I.{LOCK_TABLE} SET SCHEMA {keep}', keep);
  END IF;
  SELECT coalesce(array_agg(format('DROP SCHEMA IF EXISTS %I CASCADE', nspname)), '{{}}') INTO stmts
    FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public', '{keep}', '{copies}')
      AND nspname NOT LIKE 'pg\_%';
  FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;
  SELECT coalesce(array_agg(format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname)), '{{}}') INTO stmts
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = 'public';
  FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;
  SELECT coalesce(array_agg(format('DROP %s IF EXISTS public.%I CASCADE',
      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                     WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.relname)), '{{}}') INTO stmts
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')));
  FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;
  SELECT coalesce(array_agg(format('DROP %s IF EXISTS %s CASCADE',
      CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, p.oid::regprocedure)), '{{}}') INTO stmts
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public';
  FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;
  SELECT coalesce(array_agg(format('DROP %s IF EXISTS public.%I CASCADE',
      CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname)), '{{}}') INTO stmts
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typtype IN ('c', 'e', 'd', 'r')
      AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c');
  FOREACH stmt IN ARRAY stmts LOOP EXECUTE stmt; END LOOP;
END
$godwit$;
{drop_public}
"#
    )
}

/// Puts the lock table back where the preamble found it, out of `keep`.
fn postamble(keep: &str) -> String {
    format!(
        r#"DO $godwit$
DECLARE
  keep text;
BEGIN
  SELECT schema_name INTO keep FROM pg_temp.godwit_restore_lock;
  IF keep IS NOT NULL THEN
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', keep);
    EXECUTE format('ALTER TABLE {keep}.{LOCK_TABLE} SET SCHEMA %I', keep);
    DROP SCHEMA {keep};
  END IF;
END
$godwit$;
"#
    )
}

/// The objects outside `schema` that depend on something in it (or on the schema
/// itself), as PostgreSQL describes them: `DROP SCHEMA … CASCADE` would drop them too.
/// Only normal and automatic dependencies cascade to another object. A dependent's schema
/// is its own, or its table's for what belongs to a table (defaults, triggers, rules,
/// policies); TOAST tables belong to their table wherever they live. Anything else that
/// depends on the schema's objects (an extension installed in it, a cast, a publication's
/// table) has no schema here, so it counts as outside.
const DEPENDENTS_OUTSIDE: &str = r#"
WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
inside AS (
  SELECT 'pg_namespace'::regclass AS cls, s.oid FROM s
  UNION ALL SELECT 'pg_class'::regclass, c.oid FROM pg_class c, s WHERE c.relnamespace = s.oid
  UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t, s WHERE t.typnamespace = s.oid
  UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p, s WHERE p.pronamespace = s.oid
  UNION ALL SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k, s WHERE k.connamespace = s.oid
  UNION ALL SELECT 'pg_collation'::regclass, o.oid FROM pg_collation o, s WHERE o.collnamespace = s.oid
  UNION ALL SELECT 'pg_operator'::regclass, o.oid FROM pg_operator o, s WHERE o.oprnamespace = s.oid
),
dependents AS (
  SELECT d.classid, d.objid, d.objsubid,
    CASE d.classid
      WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = d.objid)
      WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = d.objid)
      WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = d.objid)
      WHEN 'pg_constraint'::regclass THEN (SELECT connamespace FROM pg_constraint WHERE oid = d.objid)
      WHEN 'pg_collation'::regclass THEN (SELECT collnamespace FROM pg_collation WHERE oid = d.objid)
      WHEN 'pg_operator'::regclass THEN (SELECT oprnamespace FROM pg_operator WHERE oid = d.objid)
      WHEN 'pg_statistic_ext'::regclass THEN (SELECT stxnamespace FROM pg_statistic_ext WHERE oid = d.objid)
      WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
      WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
      WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
      WHEN 'pg_policy'::regclass THEN (SELECT c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.oid = d.objid)
    END AS ns
  FROM pg_depend d
  JOIN inside i ON d.refclassid = i.cls AND d.refobjid = i.oid
  WHERE d.deptype IN ('n', 'a')
)
SELECT DISTINCT pg_describe_object(classid, objid, objsubid)
FROM dependents
WHERE ns IS DISTINCT FROM (SELECT oid FROM s)
  AND ns IS DISTINCT FROM 'pg_toast'::regnamespace
ORDER BY 1
"#;

/// Refuses to restore `schema` when dropping it would take objects of other schemas with
/// it ([`DumpError::TenantEntangled`]).
async fn entangled(driver: &mut dyn Driver, schema: &str) -> Result<(), DumpError> {
    let rows = driver
        .query_values(
            DEPENDENTS_OUTSIDE,
            &[godwit_core::value::Value::Text(schema.to_string())],
        )
        .await
        .map_err(|e| DumpError::db("cannot list what depends on the tenant's schema", &e))?;
    let dependents: Vec<String> = rows
        .rows
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(godwit_core::value::Value::Text(text)) => Some(text),
            _ => None,
        })
        .collect();
    if dependents.is_empty() {
        Ok(())
    } else {
        Err(DumpError::TenantEntangled {
            schema: schema.to_string(),
            dependents,
        })
    }
}

/// Empties one tenant's schema in the restore's transaction: the archive (`pg_dump
/// --schema`) creates it again, with everything in it. The lock table is parked in
/// `keep` meanwhile, as for the whole database. The check of [`entangled`] runs again
/// here, inside the transaction, so that nothing created since can be dropped with it.
fn tenant_preamble(schema: &str, keep: &str) -> String {
    let name = literal(schema);
    let check = DEPENDENTS_OUTSIDE.replace("$1", &name);
    format!(
        r#"SET client_min_messages = warning;
CREATE TEMP TABLE godwit_restore_lock ON COMMIT DROP AS
  SELECT n.nspname::text AS schema_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname = '{LOCK_TABLE}' AND c.relkind = 'r' AND n.nspname = {name};
DO $godwit$
DECLARE
  keep text;
  outside text;
BEGIN
  SELECT string_agg(d, ', ') INTO outside FROM ({check}) AS t(d);
  IF outside IS NOT NULL THEN
    RAISE EXCEPTION 'restoring the schema % would also drop what other schemas build on it: %; nothing was restored', {name}, outside;
  END IF;
  SELECT schema_name INTO keep FROM pg_temp.godwit_restore_lock;
  IF keep IS NOT NULL THEN
    CREATE SCHEMA {keep};
    EXECUTE format('ALTER TABLE %I.{LOCK_TABLE} SET SCHEMA {keep}', keep);
  END IF;
  EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', {name});
END
$godwit$;
"#
    )
}
