//! PostgreSQL's side of the confinement: a role per grant set, holding exactly the granted
//! privileges, entered with `SET LOCAL ROLE` around each plugin statement.
//!
//! The role (`godwit_plugin_<hash of the grants>`) is NOLOGIN and is granted to godwit's
//! own user, so godwit can enter it. Before a step's first batch (outside the batch's
//! transaction) its privileges are brought in line with the grants and the tables that
//! exist now: everything revoked, then SELECT on each readable table, column-level UPDATE
//! and INSERT on each writable column, DELETE where whole rows are writable, USAGE on
//! their schemas and on the sequences their inserts draw from. Wildcards never reach
//! catalogs or godwit's own tables, as in the checker.
//!
//! A role can `SET ROLE` back to anything the *session* user may, so the checker refuses
//! every statement that changes role, settings or search_path, and after each plugin
//! statement the host checks `current_user`, `session_user` and `search_path` before it
//! hands anything back; a change fails the batch, which is rolled back.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest as _, Sha256};
use sqlx::postgres::PgConnection;

use crate::driver::Scope;
use crate::error::Error;

/// What `prepare` established, and what a confined statement must leave as it was.
pub(super) struct Prepared {
    pub role: String,
    pub session_user: String,
    pub search_path: String,
    /// Objects in the session's temporary schema: PUBLIC's TEMPORARY privilege lets any
    /// role create them, and a temporary table would shadow a real one for the host's
    /// later statements on this connection.
    pub temp_objects: i64,
}

/// What a confined statement must leave as it was, in one round trip.
pub(super) const STATE: &str = "SELECT current_user::text, session_user::text, current_setting('search_path'), \
     (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())";

/// The role for `scope`'s grants in `database`: equal grants in one database share a role.
/// Roles belong to the whole cluster; one per database keeps the privileges that one
/// database's deploys re-sync apart from another's, and lets a role be found (by its
/// comment, [`comment`]) and dropped with its database.
pub(super) fn name(database: &str, scope: &dyn Scope) -> String {
    let mut hasher = Sha256::new();
    hasher.update(database.as_bytes());
    hasher.update([0]);
    hasher.update(scope.canonical().as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("godwit_plugin_{hex}")
}

/// The comment on every plugin role godwit creates for `database`, so that an operator (or
/// a test) can find the roles that belong to a database it drops.
pub fn comment(database: &str) -> String {
    format!("godwit plugin role for database {database}")
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub(super) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn denied(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42501"))
}

/// Creates the role if needed, makes sure godwit's user may enter it, and re-syncs its
/// privileges, outside any transaction of the batch.
pub(super) async fn prepare(
    conn: &mut PgConnection,
    role: &str,
    database: &str,
    scope: &dyn Scope,
) -> Result<Prepared, Error> {
    let fail = |what: &str, e: &sqlx::Error| {
        Error::db(format!("cannot {what} the plugin's role {role}"), e)
    };
    let (user, session_user, search_path, temp_objects): (String, String, String, i64) =
        sqlx::query_as(STATE)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| fail("read the session for", &e))?;
    let superuser: bool = sqlx::query_scalar(
        "SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| fail("read the session for", &e))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| fail("look up", &e))?;
    let no_privilege = || Error::RoleMissing {
        user: user.clone(),
        role: role.to_owned(),
        sql: format!(
            "CREATE ROLE {r} NOLOGIN; COMMENT ON ROLE {r} IS {c}; GRANT {r} TO {u};",
            r = quote(role),
            c = literal(&comment(database)),
            u = quote(&user)
        ),
    };
    if !exists {
        match sqlx::raw_sql(&format!(
            "BEGIN READ WRITE; CREATE ROLE {r} NOLOGIN; COMMENT ON ROLE {r} IS {c}; COMMIT",
            r = quote(role),
            c = literal(&comment(database)),
        ))
        .execute(&mut *conn)
        .await
        {
            Ok(_) => {}
            Err(e) if denied(&e) => {
                rollback(conn).await;
                return Err(no_privilege());
            }
            // Another deployer created it in the meantime.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42710") => {
                rollback(conn).await;
            }
            Err(e) => {
                rollback(conn).await;
                return Err(fail("create", &e));
            }
        }
    }
    if !superuser {
        let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'MEMBER')")
            .bind(role)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| fail("check membership of", &e))?;
        if !member {
            match sqlx::raw_sql(&format!(
                "BEGIN READ WRITE; GRANT {} TO {}; COMMIT",
                quote(role),
                quote(&user)
            ))
            .execute(&mut *conn)
            .await
            {
                Ok(_) => {}
                Err(e) if denied(&e) => {
                    rollback(conn).await;
                    return Err(no_privilege());
                }
                Err(e) => {
                    rollback(conn).await;
                    return Err(fail("grant", &e));
                }
            }
        }
    }
    sync(conn, role, scope)
        .await
        .map_err(|e| fail("set the privileges of", &e))?;
    Ok(Prepared {
        role: role.to_owned(),
        session_user,
        search_path,
        temp_objects,
    })
}

#[derive(Default)]
struct TablePrivileges {
    select: bool,
    delete: bool,
    columns: Vec<String>,
    sequences: BTreeSet<String>,
}

/// Revokes everything the role holds in this database, then grants what `scope` allows
/// on the tables that exist now, in one transaction.
async fn sync(conn: &mut PgConnection, role: &str, scope: &dyn Scope) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, \
                pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) \
         FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
         ORDER BY 1, 2, a.attnum",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut schemas: BTreeSet<String> = BTreeSet::new();
    let mut tables: BTreeMap<(String, String), TablePrivileges> = BTreeMap::new();
    for (schema, table, column, sequence) in rows {
        schemas.insert(schema.clone());
        let entry = tables
            .entry((schema.clone(), table.clone()))
            .or_insert_with(|| TablePrivileges {
                select: scope.may_read(Some(&schema), &table),
                delete: scope.may_write(Some(&schema), &table, None),
                ..Default::default()
            });
        if scope.may_write(Some(&schema), &table, Some(&column)) {
            entry.columns.push(column);
            if let Some(sequence) = sequence {
                entry.sequences.insert(sequence);
            }
        }
    }
    let r = quote(role);
    // READ WRITE: `plan` makes its session read-only by default, and its validators
    // need their role as much as a deploy's.
    let mut sql = String::from("BEGIN READ WRITE;\n");
    for schema in &schemas {
        let s = quote(schema);
        sql.push_str(&format!(
            "REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r};\n\
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r};\n\
             REVOKE ALL ON SCHEMA {s} FROM {r};\n"
        ));
    }
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for ((schema, table), p) in &tables {
        let t = format!("{}.{}", quote(schema), quote(table));
        if p.select {
            sql.push_str(&format!("GRANT SELECT ON {t} TO {r};\n"));
        }
        if p.delete {
            sql.push_str(&format!("GRANT DELETE ON {t} TO {r};\n"));
        }
        if !p.columns.is_empty() {
            let columns: Vec<String> = p.columns.iter().map(|c| quote(c)).collect();
            let columns = columns.join(", ");
            sql.push_str(&format!(
                "GRANT UPDATE ({columns}), INSERT ({columns}) ON {t} TO {r};\n"
            ));
            for sequence in &p.sequences {
                // pg_get_serial_sequence gives the name quoted where it needs to be.
                sql.push_str(&format!("GRANT USAGE ON SEQUENCE {sequence} TO {r};\n"));
            }
        }
        if p.select || p.delete || !p.columns.is_empty() {
            used.insert(schema);
        }
    }
    for schema in used {
        sql.push_str(&format!(
            "GRANT USAGE ON SCHEMA {} TO {r};\n",
            quote(schema)
        ));
    }
    sql.push_str("COMMIT;");
    if let Err(e) = sqlx::raw_sql(&sql).execute(&mut *conn).await {
        rollback(conn).await;
        return Err(e);
    }
    Ok(())
}

/// Ends a transaction a failed statement of ours left open (a no-op warning if none).
async fn rollback(conn: &mut PgConnection) {
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
}
