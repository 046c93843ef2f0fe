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

use crate::confine::Scope;
use crate::error::{DbError, RoleProblem};

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

/// The role for `scope`'s grants in `database`: the one an administrator prepared
/// (`database_role`), else godwit's own, which equal grants in one database share. Roles
/// belong to the whole cluster; one per database keeps the privileges that one database's
/// deploys re-sync apart from another's, and lets a role be found (by its comment,
/// [`comment`]) and dropped with its database.
pub(super) fn name(database: &str, scope: &dyn Scope) -> String {
    if let Some(role) = scope.prepared_role() {
        return role.to_owned();
    }
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
    godwit_core::sql::literal(godwit_core::Dialect::Postgres, text)
}

pub(super) fn quote(ident: &str) -> String {
    godwit_core::sql::quote(godwit_core::Dialect::Postgres, ident)
}

fn denied(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42501"))
}

/// Who is asking, and what the database knows of the role, in two round trips.
struct Session {
    user: String,
    session_user: String,
    search_path: String,
    temp_objects: i64,
    superuser: bool,
    createrole: bool,
    exists: bool,
}

async fn session(conn: &mut PgConnection, role: &str) -> Result<Session, sqlx::Error> {
    let (user, session_user, search_path, temp_objects): (String, String, String, i64) =
        sqlx::query_as(STATE).fetch_one(&mut *conn).await?;
    let (superuser, createrole, exists): (bool, bool, bool) = sqlx::query_as(
        "SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), \
                coalesce((SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user), false), \
                EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
    )
    .bind(role)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Session {
        user,
        session_user,
        search_path,
        temp_objects,
        superuser,
        createrole,
        exists,
    })
}

/// What stands in the way of using the role, if anything, without changing a thing: what
/// `plan` reports and what [`prepare`] would stop on. `Ok(false)`: all is in place;
/// `Ok(true)`: godwit will create the role or make itself a member.
pub(super) async fn check(
    conn: &mut PgConnection,
    role: &str,
    database: &str,
    scope: &dyn Scope,
) -> Result<bool, DbError> {
    let fail = |what: &str, e: &sqlx::Error| {
        DbError::db(format!("cannot {what} the plugin's role {role}"), e)
    };
    let s = session(conn, role).await.map_err(|e| fail("look up", &e))?;
    if !s.exists {
        return match scope.prepared_role() {
            Some(_) => Err(unfit(role, RoleProblem::Missing { user: s.user })),
            None if s.superuser || s.createrole => Ok(true),
            None => Err(missing(role, database, &s.user)),
        };
    }
    if let Some(problem) = excess(conn, role).await.map_err(|e| fail("inspect", &e))? {
        return Err(unfit(role, problem));
    }
    let member = s.superuser
        || is_member(conn, role)
            .await
            .map_err(|e| fail("inspect", &e))?;
    if !member && !s.createrole {
        return Err(not_entered(role, database, scope, &s.user));
    }
    let (_, refused) = privileges(conn, role, scope)
        .await
        .map_err(|e| fail("read the tables for", &e))?;
    if !refused.is_empty() {
        return Err(unfit(
            role,
            RoleProblem::CannotGrant {
                user: s.user,
                privileges: refused,
            },
        ));
    }
    Ok(!member)
}

fn missing(role: &str, database: &str, user: &str) -> DbError {
    DbError::RoleMissing {
        user: user.to_owned(),
        role: role.to_owned(),
        sql: format!(
            "CREATE ROLE {r} NOLOGIN; COMMENT ON ROLE {r} IS {c}; GRANT {r} TO {u};",
            r = quote(role),
            c = literal(&comment(database)),
            u = quote(user)
        ),
    }
}

fn unfit(role: &str, problem: RoleProblem) -> DbError {
    DbError::RoleUnfit {
        role: role.to_owned(),
        problem,
    }
}

/// godwit's user is not a member of an existing role and cannot make itself one.
fn not_entered(role: &str, database: &str, scope: &dyn Scope, user: &str) -> DbError {
    match scope.prepared_role() {
        Some(_) => unfit(
            role,
            RoleProblem::NotEntered {
                user: user.to_owned(),
            },
        ),
        None => missing(role, database, user),
    }
}

async fn is_member(conn: &mut PgConnection, role: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'MEMBER')")
        .bind(role)
        .fetch_one(&mut *conn)
        .await
}

/// What the role holds beyond privileges on tables, which no plugin's grants give: the
/// attributes of a login or an administrator, membership of other roles (whose privileges
/// it would inherit or could SET ROLE to), and objects it owns (an owner has every
/// privilege on them, whatever godwit revokes).
async fn excess(conn: &mut PgConnection, role: &str) -> Result<Option<RoleProblem>, sqlx::Error> {
    #[allow(clippy::type_complexity)]
    let row: Option<(bool, bool, bool, bool, bool, bool, Vec<String>, Vec<String>)> =
        sqlx::query_as(
            "SELECT r.rolsuper, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, \
                    ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
                          WHERE m.member = r.oid ORDER BY 1), \
                    ARRAY(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
                          JOIN pg_namespace n ON n.oid = c.relnamespace \
                          WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
                          UNION ALL SELECT format('schema %I', n.nspname) FROM pg_namespace n WHERE n.nspowner = r.oid \
                          UNION ALL SELECT format('database %I', d.datname) FROM pg_database d \
                          WHERE d.datname = current_database() AND d.datdba = r.oid \
                          ORDER BY 1 LIMIT 10) \
             FROM pg_roles r WHERE r.rolname = $1",
        )
        .bind(role)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((superuser, login, createrole, createdb, replication, bypassrls, member_of, owns)) =
        row
    else {
        return Ok(None);
    };
    let attributes: Vec<String> = [
        (superuser, "SUPERUSER"),
        (login, "LOGIN"),
        (createrole, "CREATEROLE"),
        (createdb, "CREATEDB"),
        (replication, "REPLICATION"),
        (bypassrls, "BYPASSRLS"),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, name)| name.to_owned())
    .collect();
    Ok(
        if attributes.is_empty() && member_of.is_empty() && owns.is_empty() {
            None
        } else {
            Some(RoleProblem::TooPowerful {
                attributes,
                member_of,
                owns,
            })
        },
    )
}

/// Makes sure the role exists, holds nothing beyond what godwit grants it, and that
/// godwit's user may enter it (creating the role, or the membership, where it may), then
/// re-syncs its privileges, outside any transaction of the batch. A role an administrator
/// prepared (`database_role`) is never created, only checked and synced.
pub(super) async fn prepare(
    conn: &mut PgConnection,
    role: &str,
    database: &str,
    scope: &dyn Scope,
) -> Result<Prepared, DbError> {
    let fail = |what: &str, e: &sqlx::Error| {
        DbError::db(format!("cannot {what} the plugin's role {role}"), e)
    };
    let s = session(conn, role)
        .await
        .map_err(|e| fail("read the session for", &e))?;
    if !s.exists {
        if scope.prepared_role().is_some() {
            return Err(unfit(role, RoleProblem::Missing { user: s.user }));
        }
        match sqlx::raw_sql(&format!(
            "BEGIN READ WRITE; {lock} CREATE ROLE {r} NOLOGIN; COMMENT ON ROLE {r} IS {c}; COMMIT",
            lock = serialize(role),
            r = quote(role),
            c = literal(&comment(database)),
        ))
        .execute(&mut *conn)
        .await
        {
            Ok(_) => {}
            Err(e) if denied(&e) => {
                rollback(conn).await;
                return Err(missing(role, database, &s.user));
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
    if let Some(problem) = excess(conn, role).await.map_err(|e| fail("inspect", &e))? {
        return Err(unfit(role, problem));
    }
    if !s.superuser
        && !is_member(conn, role)
            .await
            .map_err(|e| fail("check membership of", &e))?
    {
        match sqlx::raw_sql(&format!(
            "BEGIN READ WRITE; {} GRANT {} TO {}; COMMIT",
            serialize(role),
            quote(role),
            quote(&s.user)
        ))
        .execute(&mut *conn)
        .await
        {
            Ok(_) => {}
            Err(e) if denied(&e) => {
                rollback(conn).await;
                return Err(not_entered(role, database, scope, &s.user));
            }
            Err(e) => {
                rollback(conn).await;
                return Err(fail("grant", &e));
            }
        }
    }
    let (sql, refused) = privileges(conn, role, scope)
        .await
        .map_err(|e| fail("read the tables for", &e))?;
    if !refused.is_empty() {
        return Err(unfit(
            role,
            RoleProblem::CannotGrant {
                user: s.user,
                privileges: refused,
            },
        ));
    }
    if let Err(e) = sqlx::raw_sql(&sql).execute(&mut *conn).await {
        rollback(conn).await;
        return Err(fail("set the privileges of", &e));
    }
    Ok(Prepared {
        role: role.to_owned(),
        session_user: s.session_user,
        search_path: s.search_path,
        temp_objects: s.temp_objects,
    })
}

#[derive(Default)]
struct TablePrivileges {
    select: bool,
    delete: bool,
    columns: Vec<String>,
    sequences: BTreeSet<String>,
}

/// The transaction that revokes everything the role holds in this database, then grants
/// what `scope` allows on the tables that exist now; and each of those privileges that
/// godwit's user cannot grant (it neither owns the table nor holds the privilege WITH
/// GRANT OPTION), which PostgreSQL would skip with no more than a warning.
async fn privileges(
    conn: &mut PgConnection,
    role: &str,
    scope: &dyn Scope,
) -> Result<(String, Vec<String>), sqlx::Error> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(String, String, String, Option<String>, bool, bool, bool, bool, bool)> =
        sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text, a.attname::text, s.seq, \
                has_table_privilege(c.oid, 'SELECT WITH GRANT OPTION'), \
                has_table_privilege(c.oid, 'DELETE WITH GRANT OPTION'), \
                has_column_privilege(c.oid, a.attnum, 'UPDATE WITH GRANT OPTION'), \
                has_column_privilege(c.oid, a.attnum, 'INSERT WITH GRANT OPTION'), \
                coalesce(has_sequence_privilege(s.seq, 'USAGE WITH GRANT OPTION'), true) \
         FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         CROSS JOIN LATERAL (SELECT pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) AS seq) s \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
         ORDER BY 1, 2, a.attnum",
        )
        .fetch_all(&mut *conn)
        .await?;
    let mut schemas: BTreeSet<String> = BTreeSet::new();
    let mut tables: BTreeMap<(String, String), TablePrivileges> = BTreeMap::new();
    let mut refused: BTreeSet<String> = BTreeSet::new();
    for (schema, table, column, sequence, select, delete, update, insert, usage) in rows {
        schemas.insert(schema.clone());
        let t = format!("{}.{}", quote(&schema), quote(&table));
        let entry = tables
            .entry((schema.clone(), table.clone()))
            .or_insert_with(|| {
                let p = TablePrivileges {
                    select: scope.may_read(Some(&schema), &table),
                    delete: scope.may_write(Some(&schema), &table, None),
                    ..Default::default()
                };
                if p.select && !select {
                    refused.insert(format!("SELECT on {t}"));
                }
                if p.delete && !delete {
                    refused.insert(format!("DELETE on {t}"));
                }
                p
            });
        if scope.may_write(Some(&schema), &table, Some(&column)) {
            if !update || !insert {
                refused.insert(format!("UPDATE/INSERT on {t} ({})", quote(&column)));
            }
            if let Some(sequence) = sequence {
                if !usage {
                    refused.insert(format!("USAGE on sequence {sequence}"));
                }
                entry.sequences.insert(sequence);
            }
            entry.columns.push(column);
        }
    }
    let r = quote(role);
    // READ WRITE: `plan` makes its session read-only by default, and its validators
    // need their role as much as a deploy's.
    let mut sql = format!("BEGIN READ WRITE;\n{}\n", serialize(role));
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
    Ok((sql, refused.into_iter().collect()))
}

/// The first statement of each transaction that changes `role`: workers and `godwit work`
/// processes prepare the same role at once, and PostgreSQL fails one of two concurrent
/// changes of a catalog row ("tuple concurrently updated", or a duplicate key for CREATE
/// ROLE) instead of making it wait. The lock is held to the transaction's end; its key
/// pair (the two-integer form) cannot meet the migration lock's single bigint key.
fn serialize(role: &str) -> String {
    format!(
        "SELECT pg_catalog.pg_advisory_xact_lock({ROLE_LOCK_CLASS}, pg_catalog.hashtext({}));",
        literal(role)
    )
}

/// The first half of the advisory key of [`serialize`] ("gwro").
const ROLE_LOCK_CLASS: i32 = 0x6777_726f;

/// Ends a transaction a failed statement of ours left open (a no-op warning if none).
async fn rollback(conn: &mut PgConnection) {
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
}
