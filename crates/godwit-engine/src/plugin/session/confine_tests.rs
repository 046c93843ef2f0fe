//! The database-side enforcement alone, with godwit's SQL checker out of the way: each
//! statement goes straight to [`Confinement`] (what runs after the checker), on real
//! SQLite and PostgreSQL databases, and the tests assert that nothing ungranted is read
//! and nothing ungranted is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{Connection, Executor};

use crate::config::{Config, Overrides};
use crate::error::Error;
use crate::plugin::session::Confinement;
use godwit_core::value::{Rows, Value};
use godwit_db::DbError;
use godwit_db::{self as driver, Driver, Scope, Session};
use godwit_plugin::capability::{Capabilities, Grants};
use godwit_plugin::manifest::Requests;

fn scope(read: &[&str], write: &[&str]) -> Arc<dyn Scope> {
    let read: Vec<String> = read.iter().map(|s| s.to_string()).collect();
    let write: Vec<String> = write.iter().map(|s| s.to_string()).collect();
    let requests = Requests {
        read: read.clone(),
        write: write.clone(),
        ..Default::default()
    };
    let grants = Grants {
        read,
        write,
        ..Default::default()
    };
    Arc::new(Capabilities::effective(&requests, &grants, "hostile"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn pg_server() -> String {
    let port = std::env::var("GODWIT_TEST_PG_PORT").unwrap_or_else(|_| "5432".into());
    format!("postgres://postgres@127.0.0.1:{port}")
}

async fn connect(url: &str) -> (tempfile::TempDir, Box<dyn Driver>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(
        dir.path(),
        &Overrides {
            database_url: Some(url.to_owned()),
            ..Default::default()
        },
    )
    .unwrap();
    let driver = driver::connect(&config.connect_settings()).await.unwrap();
    (dir, driver)
}

const FIXTURE: &[&str] = &[
    "CREATE TABLE items (id int PRIMARY KEY, n int, secret text)",
    "CREATE TABLE secrets (id int PRIMARY KEY, pw text)",
    "CREATE TABLE godwit_migrations (id int PRIMARY KEY, note text)",
    "INSERT INTO items VALUES (1, 10, 's3cret-one'), (7, 70, '1234567')",
    "INSERT INTO secrets VALUES (1, 'hunter2')",
    "INSERT INTO godwit_migrations VALUES (1, 'history')",
];

async fn host_rows(driver: &mut dyn Session, sql: &str) -> Rows {
    driver.query_values(sql, &[]).await.unwrap()
}

/// The whole state the hostile statements could change, read by the host.
async fn snapshot(driver: &mut dyn Session) -> String {
    let mut out = String::new();
    for sql in [
        "SELECT id, n, secret FROM items ORDER BY id",
        "SELECT id, pw FROM secrets ORDER BY id",
        "SELECT id, note FROM godwit_migrations ORDER BY id",
    ] {
        out.push_str(&format!("{:?}\n", host_rows(driver, sql).await.rows));
    }
    out
}

/// Runs `sql` confined to `scope` in a transaction that is then committed (a PostgreSQL
/// transaction a failed statement aborted commits as a rollback), and returns what the
/// plugin would have got.
async fn attempt(
    driver: &mut dyn Session,
    scope: &Arc<dyn Scope>,
    sql: &str,
    query: bool,
) -> (Result<String, String>, Option<String>) {
    driver.begin().await.unwrap();
    let mut confinement = Confinement::new(Arc::clone(scope));
    let got = if query {
        confinement
            .query(driver, sql, &[])
            .await
            .map(|rows| format!("{:?}", rows.rows))
            .map_err(|e| e.to_string())
    } else {
        confinement
            .execute(driver, sql, &[])
            .await
            .map(|n| format!("{n} rows"))
            .map_err(|e| e.to_string())
    };
    if confinement.escaped.is_some() {
        driver.rollback().await.unwrap();
    } else {
        let _ = driver.commit().await;
    }
    (got, confinement.escaped)
}

/// Every statement must fail, and afterwards the data must be exactly as before.
async fn refused_all(driver: &mut dyn Session, scope: &Arc<dyn Scope>, statements: &[&str]) {
    let before = snapshot(driver).await;
    for sql in statements {
        let query = sql.trim_start().to_ascii_uppercase().starts_with("SELECT")
            || sql.trim_start().to_ascii_uppercase().starts_with("WITH");
        let (got, _) = attempt(driver, scope, sql, query).await;
        assert!(got.is_err(), "`{sql}` was let through: {got:?}");
        let text = format!("{got:?}");
        for secret in ["hunter2", "s3cret-one", "1234567", "history"] {
            assert!(!text.contains(secret), "`{sql}` revealed {secret}: {text}");
        }
        assert_eq!(snapshot(driver).await, before, "`{sql}` changed the data");
    }
}

async fn allowed_all(
    driver: &mut dyn Session,
    scope: &Arc<dyn Scope>,
    statements: &[(&str, bool)],
) {
    for (sql, query) in statements {
        let (got, escaped) = attempt(driver, scope, sql, *query).await;
        assert!(
            got.is_ok() && escaped.is_none(),
            "`{sql}` was refused: {got:?} {escaped:?}"
        );
    }
}

/// What the checker refuses, tried against the database's enforcement alone.
const UNGRANTED: &[&str] = &[
    "SELECT pw FROM secrets",
    "SELECT count(*) FROM secrets",
    "SELECT id FROM items WHERE id IN (SELECT id FROM secrets WHERE pw LIKE 'h%')",
    "WITH items AS (SELECT pw FROM secrets) SELECT * FROM items",
    "WITH x AS (SELECT pw FROM secrets) SELECT * FROM x",
    "SELECT * FROM godwit_migrations",
    "UPDATE items SET secret = 'overwritten'",
    "UPDATE items SET n = (SELECT count(*) FROM secrets)",
    "DELETE FROM items",
    "DELETE FROM secrets",
    "INSERT INTO secrets VALUES (2, 'planted')",
    "INSERT INTO godwit_migrations VALUES (2, 'forged')",
    "UPDATE godwit_migrations SET note = 'forged'",
    "DROP TABLE secrets",
    "CREATE TABLE planted (x int)",
    "ALTER TABLE items ADD COLUMN planted int",
];

/// What `read = ["*"]` with `write = ["items.n"]` still does not allow.
const BEYOND_WILDCARD: &[&str] = &[
    "SELECT * FROM godwit_migrations",
    "SELECT count(*) FROM godwit_migrations",
    "WITH items AS (SELECT note FROM godwit_migrations) SELECT * FROM items",
    "UPDATE items SET secret = 'overwritten'",
    "UPDATE items SET n = (SELECT count(*) FROM godwit_migrations)",
    "DELETE FROM items",
    "INSERT INTO secrets VALUES (2, 'planted')",
    "INSERT INTO godwit_migrations VALUES (2, 'forged')",
    "UPDATE godwit_migrations SET note = 'forged'",
    "DROP TABLE secrets",
    "CREATE TABLE planted (x int)",
    "ALTER TABLE items ADD COLUMN planted int",
];

#[test]
fn sqlite_authorizer_alone_refuses_ungranted_reads_and_writes() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("enforce.db").display());
        let (_project, mut driver) = connect(&url).await;
        let driver = driver.as_mut();
        for sql in FIXTURE {
            driver.execute(sql).await.unwrap();
        }
        // `*` never reaches godwit's tables or the catalog; items is readable, n writable.
        let everything = scope(&["*"], &["items.n"]);
        let items = scope(&["items"], &["items.n"]);
        refused_all(driver, &items, UNGRANTED).await;
        refused_all(driver, &everything, BEYOND_WILDCARD).await;
        for scope in [&items, &everything] {
            refused_all(
                driver,
                scope,
                &[
                    "SELECT sql FROM sqlite_master",
                    "SELECT name FROM sqlite_schema",
                    "SELECT * FROM temp.sqlite_master",
                    "PRAGMA writable_schema = ON",
                    "PRAGMA query_only = OFF",
                    "ATTACH DATABASE ':memory:' AS other",
                    "SELECT load_extension('/tmp/x')",
                    "SELECT sqlite_version()",
                    "SAVEPOINT inner_sp",
                    "COMMIT",
                    "CREATE TEMP TABLE planted (x)",
                    "CREATE TEMP TRIGGER t AFTER UPDATE ON items BEGIN DELETE FROM secrets; END",
                    "REINDEX items",
                    "ANALYZE",
                    "VACUUM",
                ],
            )
            .await;
        }
        // Schema pragmas need the pragma granted as a table (`*` covers it, as in the
        // checker: it shows the schema, no rows).
        refused_all(
            driver,
            &items,
            &[
                "SELECT * FROM pragma_table_info('secrets')",
                "PRAGMA table_info(secrets)",
            ],
        )
        .await;
        // A write-only grant: the column written, nothing read through it.
        let write_only = scope(&[], &["items.n"]);
        refused_all(
            driver,
            &write_only,
            &[
                "UPDATE items SET n = CAST(CASE WHEN id = 7 THEN secret END AS int)",
                "UPDATE items SET n = length(secret)",
                "UPDATE items SET n = 1 WHERE secret LIKE 's%'",
                "UPDATE items SET n = 1 WHERE id = 7",
                "SELECT n FROM items",
            ],
        )
        .await;
        // The grants themselves still work, and the host's statements are unconfined.
        allowed_all(
            driver,
            &items,
            &[
                ("SELECT id, n, secret FROM items ORDER BY id", true),
                ("SELECT count(*), max(n), upper(secret) FROM items", true),
                ("WITH x AS (SELECT id FROM items) SELECT * FROM x", true),
                ("UPDATE items SET n = n + 1 WHERE id = 1", false),
            ],
        )
        .await;
        allowed_all(driver, &write_only, &[("UPDATE items SET n = 5", false)]).await;
        // SQLite reports a FROM item none of whose columns is used as a read of the name
        // as written: for a CTE it cannot flatten, the CTE's own name. Such a CTE is
        // allowed; a real table of that name, however a CTE elsewhere shadows it, is not.
        allowed_all(
            driver,
            &items,
            &[
                (
                    "WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < 5) \
                     SELECT count(*) FROM r",
                    true,
                ),
                (
                    "WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < 5), \
                     s AS (SELECT k FROM r) SELECT count(*) FROM s",
                    true,
                ),
                (
                    "WITH x AS (SELECT id FROM items LIMIT 2) SELECT count(*) FROM x",
                    true,
                ),
                (
                    "WITH X AS (SELECT id FROM items UNION ALL SELECT 7) SELECT count(*) FROM \"x\"",
                    true,
                ),
                (
                    "WITH x AS (SELECT id FROM items UNION SELECT 7) \
                     UPDATE items SET n = (SELECT count(*) FROM x) WHERE id = 1",
                    false,
                ),
            ],
        )
        .await;
        refused_all(
            driver,
            &items,
            &[
                "SELECT count(*) FROM secrets WHERE EXISTS \
                 (WITH secrets AS (SELECT 1 LIMIT 1) SELECT 1 FROM secrets)",
                "SELECT (SELECT count(*) FROM secrets) FROM items \
                 WHERE id IN (WITH secrets AS (SELECT 1 LIMIT 1) SELECT * FROM secrets)",
                "WITH secrets AS (SELECT 1 LIMIT 1) SELECT count(*) FROM main.secrets",
                "WITH godwit_migrations AS (SELECT 1 LIMIT 1) \
                 SELECT count(*) FROM temp.godwit_migrations, main.godwit_migrations",
                "SELECT count(*) FROM pragma_table_info('secrets') WHERE EXISTS \
                 (WITH pragma_table_info AS (SELECT 1 LIMIT 1) SELECT 1 FROM pragma_table_info)",
                "SELECT count(*) FROM dbstat WHERE EXISTS \
                 (WITH dbstat AS (SELECT 1 LIMIT 1) SELECT 1 FROM dbstat)",
            ],
        )
        .await;
        assert_eq!(
            host_rows(driver, "SELECT pw FROM secrets").await.rows,
            vec![vec![Value::Text("hunter2".into())]]
        );
    });
}

struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(owner: Option<&str>) -> PgDatabase {
        let name = unique("godwit_enforce");
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server()))
            .await
            .unwrap();
        let owner = owner.map(|o| format!(" OWNER \"{o}\"")).unwrap_or_default();
        admin
            .execute(format!("CREATE DATABASE \"{name}\"{owner}").as_str())
            .await
            .unwrap();
        PgDatabase {
            url: format!("{}/{name}", pg_server()),
            name,
        }
    }

    async fn drop(self) {
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server()))
            .await
            .unwrap();
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
        // The roles made for this database's grants go with it: roles belong to the whole
        // server.
        let comment = godwit_db::postgres::plugin_role_comment(&self.name);
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT a.rolname::text FROM pg_catalog.pg_roles a \
             JOIN pg_catalog.pg_shdescription d ON d.objoid = a.oid \
              AND d.classoid = 'pg_catalog.pg_authid'::regclass \
             WHERE d.description = $1",
        )
        .bind(&comment)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for role in roles {
            admin
                .execute(format!("DROP ROLE IF EXISTS \"{role}\"").as_str())
                .await
                .unwrap();
        }
    }
}

#[test]
fn postgres_role_alone_refuses_ungranted_reads_and_writes() {
    runtime().block_on(async {
        let db = PgDatabase::create(None).await;
        let (_project, mut driver) = connect(&db.url).await;
        let driver = driver.as_mut();
        for sql in FIXTURE {
            driver.execute(sql).await.unwrap();
        }
        let everything = scope(&["*"], &["items.n"]);
        let items = scope(&["items"], &["items.n"]);
        let write_only = scope(&[], &["items.n"]);
        for scope in [&items, &everything, &write_only] {
            scope_ready(driver, scope).await;
        }
        for (scope, ungranted) in [(&items, UNGRANTED), (&everything, BEYOND_WILDCARD)] {
            Confinement::new(Arc::clone(scope))
                .prepare(driver)
                .await
                .unwrap();
            refused_all(driver, scope, ungranted).await;
            if Arc::ptr_eq(scope, &items) {
                // Quoted names are exact on PostgreSQL: this CTE is not `secrets`.
                refused_all(
                    driver,
                    scope,
                    &["WITH \"Secrets\" AS (SELECT 1) SELECT * FROM secrets"],
                )
                .await;
            }
            refused_all(
                driver,
                scope,
                &[
                    "SELECT rolname, rolpassword FROM pg_authid",
                    "SELECT passwd FROM pg_shadow",
                    "SELECT * FROM pg_catalog.pg_authid",
                    "TRUNCATE items",
                    "CREATE TEMP TABLE planted AS SELECT * FROM godwit_migrations",
                    "COPY secrets TO STDOUT",
                    "SELECT pg_read_file('/etc/passwd')",
                ],
            )
            .await;
        }
        Confinement::new(Arc::clone(&write_only))
            .prepare(driver)
            .await
            .unwrap();
        refused_all(
            driver,
            &write_only,
            &[
                "UPDATE items SET n = CAST(CASE WHEN id = 7 THEN secret END AS int)",
                "UPDATE items SET n = length(secret)",
                "UPDATE items SET n = 1 WHERE secret LIKE 's%'",
                "UPDATE items SET n = 1 WHERE id = 7",
                "SELECT n FROM items",
            ],
        )
        .await;
        allowed_all(driver, &write_only, &[("UPDATE items SET n = 5", false)]).await;
        Confinement::new(Arc::clone(&items))
            .prepare(driver)
            .await
            .unwrap();
        allowed_all(
            driver,
            &items,
            &[
                ("SELECT id, n, secret FROM items ORDER BY id", true),
                ("SELECT count(*), max(n) FROM items", true),
                ("UPDATE items SET n = n + 1 WHERE id = 1", false),
            ],
        )
        .await;
        // Changing role, session or search_path: only the check after the statement can
        // catch these; nothing the statement returned reaches the plugin, and the batch
        // is rolled back.
        for (sql, escapes) in [
            ("SET ROLE postgres", true),
            ("RESET ROLE", true),
            ("SET LOCAL ROLE NONE", true),
            ("SELECT set_config('role', 'postgres', true)", true),
            ("SELECT set_config('search_path', 'pg_catalog', true)", true),
            ("SET search_path TO pg_temp, public", true),
            ("SET SESSION AUTHORIZATION DEFAULT", true),
            (
                "CREATE TEMP TABLE godwit_migrations (id int, note text)",
                true,
            ),
            ("CREATE TEMP VIEW items AS SELECT 1 AS id", true),
            // Refused outright: the subquery's privileges are checked before anything runs.
            (
                "SELECT set_config('role', 'none', false), (SELECT pw FROM secrets)",
                false,
            ),
        ] {
            let before = snapshot(driver).await;
            let (got, escaped) = attempt(driver, &items, sql, true).await;
            assert!(got.is_err(), "`{sql}` returned {got:?}");
            assert!(!format!("{got:?}").contains("hunter2"), "`{sql}`: {got:?}");
            assert_eq!(escaped.is_some(), escapes, "`{sql}`: {got:?} {escaped:?}");
            assert_eq!(snapshot(driver).await, before);
            // The host is itself again afterwards.
            let user = host_rows(driver, "SELECT current_user::text").await;
            assert_eq!(
                user.rows,
                vec![vec![Value::Text("postgres".into())]],
                "after `{sql}`"
            );
        }
        drop(_project);
        db.drop().await;
    });
}

/// Prepares the role for `scope` (idempotent: twice changes nothing).
async fn scope_ready(driver: &mut dyn Session, scope: &Arc<dyn Scope>) {
    let confinement = Confinement::new(Arc::clone(scope));
    confinement.prepare(driver).await.unwrap();
    confinement.prepare(driver).await.unwrap();
}

#[test]
fn postgres_role_follows_changed_grants() {
    runtime().block_on(async {
        let db = PgDatabase::create(None).await;
        let (_project, mut driver) = connect(&db.url).await;
        let driver = driver.as_mut();
        for sql in FIXTURE {
            driver.execute(sql).await.unwrap();
        }
        // Same grants, later a table the wildcard now covers, and one it must not.
        let everything = scope(&["*"], &[]);
        scope_ready(driver, &everything).await;
        driver
            .execute("CREATE TABLE later (id int); INSERT INTO later VALUES (3)")
            .await
            .unwrap();
        Confinement::new(Arc::clone(&everything))
            .prepare(driver)
            .await
            .unwrap();
        allowed_all(driver, &everything, &[("SELECT id FROM later", true)]).await;
        // The table is dropped from the grants' reach when it is renamed to godwit's.
        driver
            .execute("ALTER TABLE later RENAME TO godwit_later")
            .await
            .unwrap();
        Confinement::new(Arc::clone(&everything))
            .prepare(driver)
            .await
            .unwrap();
        refused_all(driver, &everything, &["SELECT id FROM godwit_later"]).await;
        db.drop().await;
    });
}

#[test]
fn postgres_without_createrole_stops_with_the_sql_for_an_administrator() {
    runtime().block_on(async {
        let login = unique("godwit_enforce_login");
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server()))
            .await
            .unwrap();
        admin
            .execute(format!("CREATE ROLE \"{login}\" LOGIN NOCREATEROLE").as_str())
            .await
            .unwrap();
        let db = PgDatabase::create(Some(&login)).await;
        let url = db.url.replacen("postgres@", &format!("{login}@"), 1);
        let (_project, mut driver) = connect(&url).await;
        let driver = driver.as_mut();
        driver
            .execute("CREATE TABLE items (id int PRIMARY KEY, n int)")
            .await
            .unwrap();
        // Grants of this test alone, so that no other test created their role already.
        let own = scope(&[&format!("items_{login}")], &[]);
        let refused = Confinement::new(Arc::clone(&own)).prepare(driver).await;
        let Err(Error::Db(DbError::RoleMissing { user, role, sql })) = refused else {
            panic!("expected RoleMissing, got {refused:?}");
        };
        assert_eq!(user, login);
        assert!(role.starts_with("godwit_plugin_"));
        // The SQL given is what an administrator runs; then godwit proceeds.
        admin.execute(sql.as_str()).await.unwrap();
        Confinement::new(Arc::clone(&own))
            .prepare(driver)
            .await
            .unwrap();
        let mut confinement = Confinement::new(Arc::clone(&own));
        driver.begin().await.unwrap();
        let read = confinement.query(driver, "SELECT id FROM items", &[]).await;
        driver.rollback().await.unwrap();
        assert!(
            read.is_err(),
            "items_<login> is granted, not items: {read:?}"
        );
        drop(_project);
        db.drop().await;
        for sql in [
            format!("DROP ROLE IF EXISTS \"{role}\""),
            format!("DROP ROLE IF EXISTS \"{login}\""),
        ] {
            admin.execute(sql.as_str()).await.unwrap();
        }
    });
}

fn prepared(read: &[&str], write: &[&str], role: &str) -> Arc<dyn Scope> {
    let read: Vec<String> = read.iter().map(|s| s.to_string()).collect();
    let write: Vec<String> = write.iter().map(|s| s.to_string()).collect();
    let requests = Requests {
        read: read.clone(),
        write: write.clone(),
        ..Default::default()
    };
    let grants = Grants {
        read,
        write,
        ..Default::default()
    };
    Arc::new(
        Capabilities::effective(&requests, &grants, "prepared")
            .enforced(crate::config::Enforcement::Database, Some(role.to_owned())),
    )
}

async fn admin_run(admin: &mut sqlx::PgConnection, sql: &str) {
    admin
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A role an administrator prepared (`database_role`) is never created, and refused when
/// it holds more than a plugin's grants give it; every refusal is the same typed error.
#[test]
fn postgres_prepared_role_is_refused_when_missing_or_holding_too_much() {
    use godwit_db::RoleProblem;
    runtime().block_on(async {
        let db = PgDatabase::create(None).await;
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server()))
            .await
            .unwrap();
        let role = unique("godwit_prepared");
        let (_project, mut driver) = connect(&db.url).await;
        let driver = driver.as_mut();
        driver
            .execute("CREATE TABLE items (id int PRIMARY KEY, n int)")
            .await
            .unwrap();
        let own = prepared(&["items"], &["items.n"], &role);
        let mut outcomes = Vec::new();
        outcomes.push((
            "missing",
            Confinement::new(Arc::clone(&own)).prepare(driver).await,
        ));
        admin_run(&mut admin, &format!("CREATE ROLE \"{role}\" NOLOGIN")).await;
        for (label, grant, revoke) in [
            (
                "BYPASSRLS",
                "ALTER ROLE {r} BYPASSRLS",
                "ALTER ROLE {r} NOBYPASSRLS",
            ),
            (
                "CREATEDB",
                "ALTER ROLE {r} CREATEDB",
                "ALTER ROLE {r} NOCREATEDB",
            ),
            (
                "pg_write_all_data",
                "GRANT pg_write_all_data TO {r}",
                "REVOKE pg_write_all_data FROM {r}",
            ),
        ] {
            let r = format!("\"{role}\"");
            admin_run(&mut admin, &grant.replace("{r}", &r)).await;
            outcomes.push((
                label,
                Confinement::new(Arc::clone(&own)).prepare(driver).await,
            ));
            admin_run(&mut admin, &revoke.replace("{r}", &r)).await;
        }
        // An owner holds every privilege on what it owns, whatever godwit revokes.
        driver
            .execute(&format!("ALTER TABLE items OWNER TO \"{role}\""))
            .await
            .unwrap();
        outcomes.push((
            "owner",
            Confinement::new(Arc::clone(&own)).prepare(driver).await,
        ));
        driver
            .execute("ALTER TABLE items OWNER TO CURRENT_USER")
            .await
            .unwrap();
        let fit = Confinement::new(Arc::clone(&own)).prepare(driver).await;
        drop(_project);
        db.drop().await;
        admin_run(&mut admin, &format!("DROP ROLE IF EXISTS \"{role}\"")).await;

        fit.unwrap();
        for (label, outcome) in outcomes {
            let Err(Error::Db(DbError::RoleUnfit {
                role: named,
                problem,
            })) = outcome
            else {
                panic!("{label}: expected RoleUnfit, got {outcome:?}");
            };
            assert_eq!(named, role);
            match (label, problem) {
                ("missing", RoleProblem::Missing { .. }) => {}
                ("BYPASSRLS" | "CREATEDB", RoleProblem::TooPowerful { attributes, .. }) => {
                    assert_eq!(attributes, vec![label.to_owned()]);
                }
                ("pg_write_all_data", RoleProblem::TooPowerful { member_of, .. }) => {
                    assert_eq!(member_of, vec![label.to_owned()]);
                }
                ("owner", RoleProblem::TooPowerful { owns, .. }) => {
                    assert_eq!(owns, vec!["public.items".to_owned()]);
                }
                (label, problem) => panic!("{label}: {problem:?}"),
            }
        }
    });
}

/// godwit's user may read a table it does not own but not grant that read on: PostgreSQL
/// would skip the GRANT with a warning; godwit stops with a typed error instead, and goes
/// on once the owner gives the privilege WITH GRANT OPTION.
#[test]
fn postgres_privileges_godwit_may_not_grant_are_a_typed_error() {
    use godwit_db::RoleProblem;
    runtime().block_on(async {
        let login = unique("godwit_enforce_grantor");
        let role = unique("godwit_prepared");
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", pg_server()))
            .await
            .unwrap();
        admin_run(&mut admin, &format!("CREATE ROLE \"{login}\" LOGIN")).await;
        admin_run(&mut admin, &format!("CREATE ROLE \"{role}\" NOLOGIN")).await;
        admin_run(&mut admin, &format!("GRANT \"{role}\" TO \"{login}\"")).await;
        let db = PgDatabase::create(Some(&login)).await;
        let mut in_db = sqlx::PgConnection::connect(&db.url).await.unwrap();
        admin_run(
            &mut in_db,
            &format!(
                "CREATE TABLE ledger (id int PRIMARY KEY, amount int); \
                 INSERT INTO ledger VALUES (1, 100); \
                 GRANT SELECT ON ledger TO \"{login}\""
            ),
        )
        .await;
        let url = db.url.replacen("postgres@", &format!("{login}@"), 1);
        let (_project, mut driver) = connect(&url).await;
        let driver = driver.as_mut();
        let own = prepared(&["ledger"], &[], &role);
        let refused = Confinement::new(Arc::clone(&own)).prepare(driver).await;
        admin_run(
            &mut in_db,
            &format!("GRANT SELECT ON ledger TO \"{login}\" WITH GRANT OPTION"),
        )
        .await;
        let prepared = Confinement::new(Arc::clone(&own)).prepare(driver).await;
        let read = if prepared.is_ok() {
            Some(attempt(driver, &own, "SELECT amount FROM ledger", true).await)
        } else {
            None
        };
        drop(_project);
        drop(in_db);
        db.drop().await;
        for sql in [
            format!("DROP ROLE IF EXISTS \"{role}\""),
            format!("DROP ROLE IF EXISTS \"{login}\""),
        ] {
            admin_run(&mut admin, &sql).await;
        }

        let Err(Error::Db(DbError::RoleUnfit {
            problem: RoleProblem::CannotGrant { user, privileges },
            ..
        })) = refused
        else {
            panic!("expected CannotGrant, got {refused:?}");
        };
        assert_eq!(user, login);
        assert_eq!(
            privileges,
            vec!["SELECT on \"public\".\"ledger\"".to_owned()]
        );
        prepared.unwrap();
        let (got, escaped) = read.unwrap();
        assert_eq!(got.as_deref(), Ok("[[Int(100)]]"), "{escaped:?}");
    });
}

/// Workers and `godwit work` processes prepare the same role at once: PostgreSQL answers
/// concurrent GRANTs (and CREATE/COMMENT ON ROLE) on one object with "tuple concurrently
/// updated" or a duplicate key, so each preparation must wait for the other, not fail.
#[test]
fn postgres_role_prepared_by_many_connections_at_once() {
    runtime().block_on(async {
        let db = PgDatabase::create(None).await;
        let mut drivers = Vec::new();
        for _ in 0..6 {
            drivers.push(connect(&db.url).await);
        }
        for sql in FIXTURE {
            drivers[0].1.execute(sql).await.unwrap();
        }
        let items = scope(&["items"], &["items.n"]);
        let mut failures = Vec::new();
        for _round in 0..8 {
            let results = futures_util::future::join_all(drivers.iter_mut().map(|(_, d)| {
                let items = Arc::clone(&items);
                async move { Confinement::new(items).prepare(d.as_mut()).await }
            }))
            .await;
            failures.extend(results.into_iter().filter_map(Result::err));
        }
        let read = attempt(
            drivers[0].1.as_mut(),
            &items,
            "SELECT n FROM items ORDER BY id",
            true,
        )
        .await;
        drop(drivers);
        db.drop().await;
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(
            read.0.as_deref(),
            Ok("[[Int(10)], [Int(70)]]"),
            "{:?}",
            read.1
        );
    });
}

/// `enforcement = "checker-only"`: the operator chose to rely on the checker alone, so
/// the database confines nothing (here, SQLite's authorizer is not installed).
#[test]
fn checker_only_lifts_the_database_side_as_chosen() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let (_project, mut driver) = connect(&url).await;
        let driver = driver.as_mut();
        for sql in FIXTURE {
            driver.execute(sql).await.unwrap();
        }
        let requests = Requests {
            read: vec!["items".into()],
            ..Default::default()
        };
        let grants = Grants {
            read: vec!["items".into()],
            ..Default::default()
        };
        let capabilities = Capabilities::effective(&requests, &grants, "chosen");
        let confined: Arc<dyn Scope> = Arc::new(capabilities.clone());
        let chosen: Arc<dyn Scope> =
            Arc::new(capabilities.enforced(crate::config::Enforcement::CheckerOnly, None));
        let (refused, _) = attempt(driver, &confined, "SELECT pw FROM secrets", true).await;
        let (ran, _) = attempt(driver, &chosen, "SELECT pw FROM secrets", true).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(ran.as_deref(), Ok("[[Text(\"hunter2\")]]"));
    });
}
