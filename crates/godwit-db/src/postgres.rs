//! PostgreSQL: transactional DDL, `SET LOCAL` timeouts, a session advisory lock.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Row};

pub(crate) mod backfill;
mod catalog;
pub(crate) mod copy;
pub(crate) mod dump;
mod introspect;
pub(crate) mod replica;
mod role;
pub(crate) mod shadow;

pub use catalog::{SchemaContents, invalid_index, other_schemas};
pub use role::comment as plugin_role_comment;

use std::sync::Arc;

use crate::confine::{Confined, Scope, ScopeRole};
use crate::error::{DbError, SqlError};
use crate::history::HistorySql;
use crate::lock::lease;
use crate::settings::{ConnectError, ConnectSettings, LockMode, with_connect_timeout};
use crate::traits::{Admin, Driver, HistoryStore, Introspect, Lock, Session, Timeouts};
use crate::values;
use godwit_core::history::{HistoryRow, TABLE};
use godwit_core::value::{Rows, Value};
use godwit_core::{Dialect, VERSION};

/// An arbitrary constant ("godw"): advisory locks are per database, so one key suffices
/// for the history table in `public`.
const LOCK_KEY: i64 = 0x676f_6477;

/// The advisory lock key guarding the history table in `schema` (the current schema):
/// the fixed key 0x676f6477 ("godw") for `public`, else one derived from the schema's
/// name, so that tenants of one database, each with its own history table, deploy side
/// by side.
pub fn lock_key(schema: Option<&str>) -> i64 {
    use sha2::Digest;
    match schema {
        None | Some("public") => LOCK_KEY,
        Some(schema) => {
            let digest = sha2::Sha256::digest(format!("godwit lock {schema}").as_bytes());
            let bytes: [u8; 8] = digest[..8].try_into().expect("8 bytes");
            // Positive, so that pg_locks' classid/objid halves read back as written.
            i64::from_be_bytes(bytes) & i64::MAX
        }
    }
}

/// What the application name of a session under another key than [`LOCK_KEY`] ends with,
/// so that the sessions of one schema's deploys are told apart from another's.
fn lock_tag(key: i64) -> String {
    if key == LOCK_KEY {
        String::new()
    } else {
        format!(" lock {key:x}")
    }
}

pub struct PgDriver {
    conn: PgConnection,
    /// What `conn` reaches the server through when plugins may run on it (see
    /// [`super::meter`]).
    meter: Option<super::meter::Meter>,
    /// The work connection's backend, told apart from orphans in pg_stat_activity.
    work_pid: i32,
    /// The database connected to: plugin roles are cluster-wide, so each is per database.
    database: String,
    lock_conn: PgConnection,
    /// The advisory lock key of the current schema's history table ([`lock_key`]).
    lock_key: i64,
    lock_mode: LockMode,
    /// When the session holding the advisory lock last answered (see
    /// [`crate::lock::keep_lock`]).
    lock_checked: Option<std::time::Instant>,
    owner: String,
    sql: HistorySql,
    /// Plugin SQL with text parameters cast to the type the server infers for them,
    /// keyed by the SQL and which parameters are text.
    text_casts: std::collections::HashMap<(String, Vec<bool>), String>,
    /// Schemas besides the current one that [`Introspect::introspect`] reads (verify's:
    /// the ones the migrations create).
    compared_schemas: Vec<String>,
    /// The plugin role last prepared, entered by confine().
    confinement: Option<role::Prepared>,
}

impl PgDriver {
    pub(crate) async fn connect(opts: &ConnectSettings) -> Result<PgDriver, ConnectError> {
        let options = PgConnectOptions::from_str(&opts.target.url)
            .map_err(|e| crate::settings::connect_error(&opts.target, e))?
            .application_name(&format!("godwit {VERSION} pid {}", std::process::id()))
            .disable_statement_logging();
        let socket = format!(".s.PGSQL.{}", options.get_port());
        let upstream = match options.get_socket() {
            Some(dir) => super::meter::Upstream::Unix(dir.join(&socket)),
            None if options.get_host().starts_with('/') => {
                super::meter::Upstream::Unix(Path::new(options.get_host()).join(&socket))
            }
            None => super::meter::Upstream::Tcp(options.get_host().to_owned(), options.get_port()),
        };
        let meter =
            crate::settings::work_meter(opts, super::meter::Protocol::Postgres, upstream, &socket)
                .await?;
        let work = match &meter {
            Some(meter) => options.clone().socket(meter.dir()),
            None => options.clone(),
        };
        let mut conn = with_connect_timeout(opts, work.connect()).await?;
        let mut lock_conn = with_connect_timeout(opts, options.connect()).await?;
        if let Some(schema) = &opts.target.schema {
            for c in [&mut conn, &mut lock_conn] {
                use_schema(opts, c, schema).await?;
            }
        }
        // The settings the folder's own tool left to the server: sqlx-cli sent sqlx's
        // TimeZone and DateStyle, diesel sets only `TIME ZONE 'UTC'`, the rest send
        // neither. One the URL sets itself stays as the URL says.
        let url = opts.target.url.to_ascii_lowercase();
        let session = opts.session;
        let server_sets: Vec<&str> = [
            ("timezone", session == crate::settings::ToolSession::Server),
            ("datestyle", session != crate::settings::ToolSession::Sqlx),
        ]
        .into_iter()
        .filter(|(name, left)| *left && !url.contains(name))
        .map(|(name, _)| name)
        .collect();
        if !server_sets.is_empty() {
            server_session_defaults(&mut conn, &server_sets)
                .await
                .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
        }
        crate::settings::init_session::<sqlx::Postgres>(opts, &mut conn).await?;
        crate::settings::init_session::<sqlx::Postgres>(opts, &mut lock_conn).await?;
        let (work_pid, database, schema): (i32, String, Option<String>) = sqlx::query_as(
            "SELECT pg_backend_pid(), current_database()::text, current_schema()::text",
        )
        .fetch_one(&mut conn)
        .await
        .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
        // The lock follows the history table, wherever the search_path puts it (`?schema=`,
        // `options=-csearch_path=...`, or the role's default).
        let lock_key = lock_key(schema.as_deref());
        let tag = lock_tag(lock_key);
        if !tag.is_empty() {
            let name = format!("godwit {VERSION} pid {}{tag}", std::process::id());
            for c in [&mut conn, &mut lock_conn] {
                sqlx::query("SELECT set_config('application_name', $1, false)")
                    .bind(&name)
                    .execute(&mut *c)
                    .await
                    .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
            }
        }
        Ok(PgDriver {
            meter,
            work_pid,
            database,
            conn,
            lock_conn,
            lock_key,
            lock_mode: opts.lock_mode,
            lock_checked: None,
            owner: lease::owner_token(),
            sql: HistorySql::new(Dialect::Postgres),
            text_casts: Default::default(),
            confinement: None,
            compared_schemas: Vec::new(),
        })
    }

    /// PostgreSQL takes parameters in binary and declares their types, so a text value
    /// meant for a `date`, `numeric`, `uuid` or enum column would be refused as `text`.
    /// Text is what godwit hands plugins for those types, so that it round-trips: ask the
    /// server which type it infers for each text parameter and cast it there.
    async fn with_text_casts(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Result<String, sqlx::Error> {
        use sqlx::{Executor, TypeInfo};
        let mask: Vec<bool> = params.iter().map(|p| matches!(p, Value::Text(_))).collect();
        if !mask.contains(&true) {
            return Ok(sql.to_string());
        }
        let key = (sql.to_string(), mask);
        if let Some(done) = self.text_casts.get(&key) {
            return Ok(done.clone());
        }
        // A distinct text, so that this unparameterised preparation never serves a real call.
        let described = (&mut self.conn)
            .describe(&format!("{sql}\n-- godwit: describe"))
            .await?;
        let Some(sqlx::Either::Left(types)) = described.parameters() else {
            return Ok(sql.to_string());
        };
        let cast_to: Vec<Option<String>> = types
            .iter()
            .zip(&key.1)
            .map(|(ty, &is_text)| {
                let name = ty.name();
                let plain = name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'[' || b == b']');
                let texty = matches!(name, "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN");
                (is_text && plain && !texty).then(|| name.to_string())
            })
            .collect();
        let mut out = String::with_capacity(sql.len() + 32);
        let mut last = 0;
        for p in godwit_core::split::placeholders(sql, Dialect::Postgres)
            .map_err(sqlx::Error::InvalidArgument)?
        {
            if let Some(Some(ty)) = cast_to.get(p.number - 1) {
                out.push_str(&sql[last..p.span.start]);
                out.push_str(&format!("CAST(${} AS text)::{ty}", p.number));
                last = p.span.end;
            }
        }
        out.push_str(&sql[last..]);
        self.text_casts.insert(key, out.clone());
        Ok(out)
    }

    /// Another godwit session in this database still running a statement.
    async fn orphaned_work(&mut self) -> Option<String> {
        // Only sessions under the same lock: another schema's deploy is none of ours.
        let row = sqlx::query(
            "/* godwit: lock check */ SELECT a.pid, coalesce(a.application_name, ''), left(coalesce(a.query, ''), 80) FROM pg_stat_activity a \
             WHERE a.datname = current_database() AND a.application_name LIKE 'godwit %' AND a.state = 'active' \
             AND a.pid <> pg_backend_pid() AND a.pid <> $1 AND a.query NOT LIKE '%pg_try_advisory_lock%' \
             AND a.query NOT LIKE '/* godwit: lock check */%' \
             AND CASE WHEN $2 = '' THEN a.application_name NOT LIKE '% lock %' ELSE right(a.application_name, length($2)) = $2 END \
             LIMIT 1",
        )
        .bind(self.work_pid)
        .bind(lock_tag(self.lock_key))
        .fetch_optional(&mut self.lock_conn)
        .await
        .ok()??;
        let query: String = row.try_get(2).unwrap_or_default();
        let more = if query.chars().count() >= 80 {
            "…"
        } else {
            ""
        };
        Some(format!(
            "the lock is free, but a session of another godwit (backend pid {}, {}) is still running a statement, \
             as one does when its godwit died in the middle of it: {}{more}",
            row.try_get::<i32, _>(0).unwrap_or_default(),
            row.try_get::<String, _>(1).unwrap_or_default(),
            query.split_whitespace().collect::<Vec<_>>().join(" ")
        ))
    }

    async fn advisory_holder(&mut self) -> String {
        let row = sqlx::query(
            "/* godwit: lock check */ SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
             coalesce(to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid::text::bigint = $1 \
             AND l.objid::text::bigint = $2 AND l.objsubid = 1 AND l.database = \
             (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
        )
        .bind(self.lock_key >> 32)
        .bind(self.lock_key & 0xffff_ffff)
        .fetch_optional(&mut self.lock_conn)
        .await;
        match row {
            Ok(Some(r)) => format!(
                "held by backend pid {} ({}) from {} since {}",
                r.get::<i32, _>(0),
                r.get::<String, _>(1),
                r.get::<String, _>(2),
                r.get::<String, _>(3)
            ),
            _ => "held by another session".to_string(),
        }
    }
}

/// Makes `schema` the whole search_path of `conn`, after checking that it exists: an
/// unqualified name then means the tenant's object, never one in `public`.
async fn use_schema(
    opts: &ConnectSettings,
    conn: &mut PgConnection,
    schema: &str,
) -> Result<(), ConnectError> {
    let (exists, database): (bool, String) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), current_database()::text",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
    if !exists {
        return Err(ConnectError::SchemaMissing {
            schema: schema.to_string(),
            database,
        });
    }
    sqlx::query("SELECT set_config('search_path', quote_ident($1), false)")
        .bind(schema)
        .execute(&mut *conn)
        .await
        .map_err(|e| crate::settings::connect_error(&opts.target, e))?;
    Ok(())
}

#[async_trait(?Send)]
impl Driver for PgDriver {
    fn transactional_ddl(&self) -> bool {
        true
    }
}

#[async_trait(?Send)]
impl Lock for PgDriver {
    async fn try_lock(&mut self) -> Result<Option<String>, DbError> {
        if self.lock_mode == LockMode::Lease {
            return lease::try_acquire::<sqlx::Postgres>(
                &mut self.lock_conn,
                Dialect::Postgres,
                &self.owner,
            )
            .await
            .map_err(|e| DbError::db("cannot take the migration lease", &e));
        }
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(self.lock_key)
            .fetch_one(&mut self.lock_conn)
            .await
            .map_err(|e| DbError::db("cannot take the migration lock", &e))?;
        if !taken {
            return Ok(Some(self.advisory_holder().await));
        }
        // A deployer killed mid-statement loses its lock at once (its lock connection
        // closes), but its work session runs on until the statement ends. Wait for it,
        // so we never race a dead deployer's last statement.
        match self.orphaned_work().await {
            None => Ok(None),
            Some(busy) => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(self.lock_key)
                    .execute(&mut self.lock_conn)
                    .await
                    .map_err(|e| DbError::db("cannot release the migration lock", &e))?;
                Ok(Some(busy))
            }
        }
    }

    async fn unlock(&mut self) -> Result<(), DbError> {
        let result = if self.lock_mode == LockMode::Lease {
            lease::release::<sqlx::Postgres>(&mut self.lock_conn, Dialect::Postgres, &self.owner)
                .await
        } else {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.lock_key)
                .execute(&mut self.lock_conn)
                .await
                .map(drop)
        };
        result.map_err(|e| DbError::db("cannot release the migration lock", &e))
    }

    async fn keep_alive(&mut self) -> Result<(), DbError> {
        crate::lock::keep_lock::<sqlx::Postgres>(
            self.lock_mode,
            &mut self.lock_conn,
            &mut self.lock_checked,
            Dialect::Postgres,
            &self.owner,
        )
        .await
    }

    async fn confirm_before_commit(&mut self) -> Result<(), DbError> {
        // Not the last answer, however recent: the session may have ended since.
        self.lock_checked = None;
        self.keep_alive().await
    }
}

#[async_trait(?Send)]
impl HistoryStore for PgDriver {
    async fn ensure_history_table(&mut self) -> Result<(), DbError> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
                id BIGSERIAL PRIMARY KEY,
                version TEXT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                operation TEXT NOT NULL,
                state TEXT NOT NULL,
                checksum TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                duration_ms BIGINT,
                applied_by TEXT NOT NULL,
                godwit_version TEXT NOT NULL,
                plugin_digest TEXT,
                statements_applied BIGINT NOT NULL DEFAULT 0,
                statements_total BIGINT NOT NULL DEFAULT 0,
                rows_affected BIGINT,
                error TEXT
            );
            CREATE INDEX IF NOT EXISTS {TABLE}_version_idx ON {TABLE} (version, id);"
        );
        // Two deployers racing on CREATE TABLE IF NOT EXISTS can still collide in the catalog
        // (unique_violation on pg_type); we hold the lock by now, but `status` does not.
        match sqlx::raw_sql(&ddl).execute(&mut self.conn).await {
            Ok(_) => Ok(()),
            // …or as duplicate_table / duplicate_object, depending on timing.
            Err(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("23505" | "42P07" | "42710")) =>
            {
                Ok(())
            }
            Err(e) => Err(DbError::db(
                format!("cannot create the history table {TABLE}"),
                &e,
            )),
        }
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        match crate::history::fetch_history::<sqlx::Postgres>(&mut self.conn, &self.sql).await {
            Ok(rows) => Ok(rows),
            Err(e) if crate::raw::is_undefined_table(&e) => Ok(Vec::new()),
            Err(e) => Err(DbError::db(format!("cannot read {TABLE}"), &e)),
        }
    }

    async fn insert_history(&mut self, row: &HistoryRow) -> Result<i64, SqlError> {
        let sql = format!("{} RETURNING id", self.sql.insert);
        Ok(crate::history::insert_history::<sqlx::Postgres>(
            &mut self.conn,
            Dialect::Postgres,
            &sql,
            row,
        )
        .await?
        .unwrap_or_default())
    }

    async fn update_history(&mut self, row: &HistoryRow) -> Result<(), SqlError> {
        crate::history::update_history::<sqlx::Postgres>(
            &mut self.conn,
            Dialect::Postgres,
            &self.sql.update,
            row,
        )
        .await
        .map_err(SqlError::from)
    }
}

#[async_trait(?Send)]
impl Session for PgDriver {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, SqlError> {
        let work = crate::raw::execute_raw::<sqlx::Postgres>(&mut self.conn, sql);
        if self.lock_mode == LockMode::Lease {
            lease::with_heartbeat::<sqlx::Postgres, _>(
                work,
                &mut self.lock_conn,
                Dialect::Postgres,
                &self.owner,
            )
            .await
            .map_err(SqlError::from)
        } else {
            work.await.map_err(SqlError::from)
        }
    }

    async fn query_i64(&mut self, sql: &str) -> Result<Option<i64>, SqlError> {
        crate::raw::query_i64::<sqlx::Postgres>(&mut self.conn, sql)
            .await
            .map_err(SqlError::from)
    }

    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, SqlError> {
        crate::raw::query_text::<sqlx::Postgres>(&mut self.conn, sql)
            .await
            .map_err(SqlError::from)
    }

    async fn query_values(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        let (sql, order) = values::translate(Dialect::Postgres, sql, params.len())?;
        let sql = self.with_text_casts(&sql, params).await?;
        // sqlx caches prepared statements by their text, parameter types included; a
        // second call with other kinds of values must not reuse the first one's types.
        let sql = format!("{sql}\n-- godwit: {}", values::signature(params));
        let mut query = sqlx::query(&sql);
        for &i in &order {
            query = query.bind(values::Param(&params[i]));
        }
        let rows = query.fetch_all(&mut self.conn).await?;
        values::pg_rows(&rows).map_err(SqlError::from)
    }

    async fn query_values_capped(
        &mut self,
        sql: &str,
        params: &[Value],
        cap: crate::cap::ResultCap,
    ) -> Result<Rows, SqlError> {
        // Armed before the plugin's text is first sent: describing it can fail too.
        let armed = self.meter.as_ref().map(|m| m.arm(cap.bytes));
        let (sql, order) = values::translate(Dialect::Postgres, sql, params.len())?;
        let sql = self.with_text_casts(&sql, params).await?;
        let sql = sized(&sql, cap.bytes)?;
        // sqlx caches prepared statements by their text, parameter types included; a
        // second call with other kinds of values must not reuse the first one's types.
        let sql = format!("{sql}\n-- godwit: {}", values::signature(params));
        let mut query = sqlx::query(&sql);
        for &i in &order {
            query = query.bind(values::Param(&params[i]));
        }
        let result = crate::cap::read_capped(
            query.fetch(&mut self.conn),
            cap,
            values::pg_rows,
            crate::cap::Guard::SizeColumn,
            armed.as_ref(),
        )
        .await
        .map_err(SqlError::from);
        crate::traits::settle_armed(self, armed, cap, result).await
    }

    fn meter(&self) -> Option<&super::meter::Meter> {
        self.meter.as_ref()
    }

    async fn execute_values(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let (sql, order) = values::translate(Dialect::Postgres, sql, params.len())?;
        let sql = self.with_text_casts(&sql, params).await?;
        // sqlx caches prepared statements by their text, parameter types included; a
        // second call with other kinds of values must not reuse the first one's types.
        let sql = format!("{sql}\n-- godwit: {}", values::signature(params));
        let mut query = sqlx::query(&sql);
        for &i in &order {
            query = query.bind(values::Param(&params[i]));
        }
        Ok(query.execute(&mut self.conn).await?.rows_affected())
    }

    async fn execute_text_arrays(
        &mut self,
        sql: &str,
        columns: Vec<Vec<Option<String>>>,
    ) -> Result<u64, SqlError> {
        let mut query = sqlx::query(sql);
        for column in columns {
            query = query.bind(column);
        }
        Ok(query.execute(&mut self.conn).await?.rows_affected())
    }

    async fn prepare_scope(&mut self, scope: &dyn Scope) -> Result<(), DbError> {
        let role = role::name(&self.database, scope);
        let baseline = role::prepare(&mut self.conn, &role, &self.database, scope).await?;
        self.confinement = Some(baseline);
        Ok(())
    }

    async fn check_scope(&mut self, scope: &dyn Scope) -> Result<Option<ScopeRole>, DbError> {
        let role = role::name(&self.database, scope);
        let to_create = role::check(&mut self.conn, &role, &self.database, scope).await?;
        Ok(Some(ScopeRole {
            prepared: scope.prepared_role().is_some(),
            role,
            to_create,
        }))
    }

    async fn confine(&mut self, scope: &Arc<dyn Scope>) -> Result<(), SqlError> {
        let role = role::name(&self.database, scope.as_ref());
        match &self.confinement {
            Some(prepared) if prepared.role == role => {}
            _ => {
                return Err(SqlError::from(sqlx::Error::Protocol(format!(
                    "the role {role} for these grants was not prepared before the batch"
                ))));
            }
        }
        // SET LOCAL: it ends with the transaction whatever happens, so a failure between
        // here and unconfine() cannot leave the host's connection in the plugin's role.
        sqlx::raw_sql(&format!("SET LOCAL ROLE {}", role::quote(&role)))
            .execute(&mut self.conn)
            .await
            .map(drop)
            .map_err(SqlError::from)
    }

    async fn check_confined(&mut self) -> Result<Option<String>, SqlError> {
        let Some(prepared) = &self.confinement else {
            return Ok(Some("no confinement was prepared".into()));
        };
        let (current, session, path, temp): (String, String, String, i64) =
            sqlx::query_as(role::STATE)
                .fetch_one(&mut self.conn)
                .await?;
        Ok(if current != prepared.role {
            Some(format!(
                "the statement ran as role {current}, not the plugin's role {}",
                prepared.role
            ))
        } else if session != prepared.session_user {
            Some(format!(
                "the session user changed from {} to {session}",
                prepared.session_user
            ))
        } else if path != prepared.search_path {
            Some(format!(
                "search_path changed from {:?} to {path:?}",
                prepared.search_path
            ))
        } else if temp != prepared.temp_objects {
            Some("the statement created a temporary object, which could shadow a table".into())
        } else {
            None
        })
    }

    async fn unconfine(&mut self) -> Result<(), SqlError> {
        // Allowed in a transaction after SET LOCAL ROLE: back to the session's own user
        // for the host's statements (checkpoint, history) in the same transaction.
        sqlx::raw_sql("RESET ROLE")
            .execute(&mut self.conn)
            .await
            .map(drop)
            .map_err(SqlError::from)
    }

    fn confined(&self) -> Confined {
        Confined::Role
    }

    async fn limit_statements(
        &mut self,
        limit: Option<std::time::Duration>,
    ) -> Result<(), SqlError> {
        // SET LOCAL: the bound ends with the transaction whatever happens. The host's own
        // setting is kept beside it, for the host's statements in the same transaction.
        let sql = match limit {
            // 0 would mean no timeout at all.
            Some(limit) => format!(
                "SELECT set_config('godwit.host_statement_timeout', current_setting('statement_timeout'), true); \
                 SET LOCAL statement_timeout = '{}ms'",
                limit.as_millis().max(1)
            ),
            None => "SELECT set_config('statement_timeout', current_setting('godwit.host_statement_timeout'), true)".to_owned(),
        };
        sqlx::raw_sql(&sql)
            .execute(&mut self.conn)
            .await
            .map(drop)
            .map_err(SqlError::from)
    }

    async fn cancel_running(&mut self) -> Result<(), SqlError> {
        use sqlx::Connection as _;
        // Ignored by a backend that is waiting for its next command.
        pg_cancel(&mut self.lock_conn, self.work_pid).await?;
        // The abandoned statement's answer is still on its way: sqlx hands its error to
        // whatever runs next on the connection, and stops reading there, so the ROLLBACK
        // that follows would not run. A ping reads up to the server's ReadyForQuery; once
        // one succeeds, nothing of the abandoned statement is left to read. While the ping
        // waits, the statement still runs: the cancel came before the backend started it,
        // and is sent again.
        let mut drained = Ok(());
        for _ in 0..4 {
            let ping = self.conn.ping();
            tokio::pin!(ping);
            drained = loop {
                match tokio::time::timeout(crate::traits::CANCEL_RESEND, &mut ping).await {
                    Ok(done) => break done,
                    Err(_) => pg_cancel(&mut self.lock_conn, self.work_pid).await?,
                }
            };
            if drained.is_ok() {
                break;
            }
        }
        drained.map_err(SqlError::from)
    }

    async fn begin_read_only(&mut self) -> Result<(), SqlError> {
        self.execute("BEGIN READ ONLY").await.map(drop)
    }

    async fn begin(&mut self) -> Result<(), SqlError> {
        self.execute("BEGIN").await.map(drop)
    }

    async fn set_timeouts(&mut self, t: &Timeouts, in_transaction: bool) -> Result<(), SqlError> {
        let scope = if in_transaction { "SET LOCAL" } else { "SET" };
        let mut sql = String::new();
        if let Some(d) = t.lock_timeout {
            sql.push_str(&format!("{scope} lock_timeout = '{}ms';", d.as_millis()));
        }
        if let Some(d) = t.statement_timeout {
            sql.push_str(&format!(
                "{scope} statement_timeout = '{}ms';",
                d.as_millis()
            ));
        }
        if !sql.is_empty() {
            self.execute(&sql).await?;
        }
        Ok(())
    }

    async fn reset_timeouts(&mut self) -> Result<(), SqlError> {
        self.execute("RESET lock_timeout; RESET statement_timeout")
            .await
            .map(drop)
    }

    fn is_lock_timeout(&self, err: &SqlError) -> bool {
        // 55P03 lock_not_available; 40P01 deadlock_detected is just as safe to retry.
        matches!(err.code().as_deref(), Some("55P03" | "40P01"))
    }
}

#[async_trait(?Send)]
impl Introspect for PgDriver {
    async fn introspect(&mut self) -> Result<godwit_core::schema::Schema, DbError> {
        let others = self.compared_schemas.clone();
        introspect::introspect(self, &others).await
    }

    fn compare_schemas(&mut self, schemas: &[String]) {
        self.compared_schemas = schemas.to_vec();
    }

    async fn definitions(&mut self) -> Result<godwit_core::schema::Definitions, DbError> {
        introspect::definitions(self).await
    }
}

#[async_trait(?Send)]
impl Admin for PgDriver {
    async fn drop_everything(&mut self) -> Result<Vec<String>, DbError> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| DbError::db("cannot find the current schema", &e))?;
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        // The schema comes back with the owner and privileges it had: PostgreSQL 15's
        // `public` belongs to pg_database_owner and lets every role use it; recreated as
        // is, it would belong to whoever ran reset, and other roles could no longer reach
        // what the next deploy puts in it.
        let (owner, grants): (String, String) = sqlx::query_as(
            "SELECT quote_ident(pg_get_userbyid(n.nspowner)), \
                    COALESCE((SELECT string_agg(format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, n.nspname, \
                                  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, \
                                  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), '; ') \
                              FROM aclexplode(n.nspacl) a WHERE a.grantee <> n.nspowner), '') \
             FROM pg_namespace n WHERE n.nspname = $1",
        )
        .bind(&schema)
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| DbError::db(format!("cannot read who owns schema {schema}"), &e))?;
        let grants = if grants.is_empty() {
            String::new()
        } else {
            format!(" {grants};")
        };
        // One transaction: if the schema cannot get its owner back, nothing is dropped.
        let recreated = sqlx::raw_sql(&format!(
            "BEGIN; DROP SCHEMA {quoted} CASCADE; CREATE SCHEMA {quoted}; \
             ALTER SCHEMA {quoted} OWNER TO {owner};{grants} COMMIT;"
        ))
        .execute(&mut self.conn)
        .await;
        if let Err(e) = recreated {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
            return Err(DbError::db(
                format!(
                    "cannot drop and recreate schema {schema} with its owner ({owner}) and privileges; nothing was dropped"
                ),
                &e,
            ));
        }
        Ok(vec![format!(
            "schema {schema} (dropped with everything in it, then recreated)"
        )])
    }
}

/// Puts back the settings sqlx fixes in its startup packet (`TimeZone = UTC`, `DateStyle =
/// ISO, MDY`) to what the server gives a client that sends none, as psql, Prisma, the Go
/// tools and Flyway get them: a role-in-database, role or database setting (`ALTER
/// DATABASE … SET timezone`), else the configuration file's, where this role may read it
/// (`pg_file_settings`: a superuser or pg_read_all_settings). Where neither says, sqlx's
/// value stays. Only `names` (lower case: `timezone`, `datestyle`) are put back.
async fn server_session_defaults(
    conn: &mut PgConnection,
    names: &[&str],
) -> Result<(), sqlx::Error> {
    // PostgreSQL's precedence: role in database, then role, then database.
    let mut found: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (name) name, value FROM ( \
           SELECT lower(split_part(c, '=', 1)) AS name, substr(c, strpos(c, '=') + 1) AS value, \
                  CASE WHEN d.setdatabase <> 0 AND d.setrole <> 0 THEN 1 WHEN d.setrole <> 0 THEN 2 ELSE 3 END AS rank \
           FROM pg_db_role_setting d, unnest(d.setconfig) AS c \
           WHERE d.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) \
             AND d.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = session_user)) \
         ) s WHERE name = ANY($1) ORDER BY name, rank",
    )
    .bind(names)
    .fetch_all(&mut *conn)
    .await?;
    if found.len() < names.len() {
        let readable: bool = sqlx::query_scalar(
            "SELECT pg_has_role(session_user, 'pg_read_all_settings', 'member') \
                    OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)",
        )
        .fetch_one(&mut *conn)
        .await?;
        if readable {
            let file: Vec<(String, String)> = sqlx::query_as(
                "SELECT DISTINCT ON (lower(name)) lower(name), setting FROM pg_file_settings \
                 WHERE lower(name) = ANY($1) AND applied AND error IS NULL \
                 ORDER BY lower(name), seqno DESC",
            )
            .bind(names)
            .fetch_all(&mut *conn)
            .await?;
            for (name, value) in file {
                if !found.iter().any(|(n, _)| *n == name) {
                    found.push((name, value));
                }
            }
        }
    }
    for (name, value) in found {
        sqlx::query("SELECT set_config($1, $2, false)")
            .bind(if name == "timezone" {
                "TimeZone"
            } else {
                "DateStyle"
            })
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Asks the server to cancel what backend `pid` runs, from another connection.
async fn pg_cancel(lock_conn: &mut PgConnection, pid: i32) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(pid)
        .execute(lock_conn)
        .await
        .map(drop)
}

/// Wraps a plugin's query (one SELECT, already checked) so that the server measures every
/// row before it sends it, and sends a row larger than `cap` bytes with every column NULL
/// instead, with its size in an extra last column ([`crate::cap::Guard::SizeColumn`]).
///
/// sqlx reads each DataRow message whole, so a row must be kept small before it leaves
/// the server: one `lpad('x', 500000000, 'x')`, a stored 400 MB bytea, a `string_agg` or a
/// thousand wide columns would otherwise be in godwit's memory before any count of
/// decoded bytes could refuse it. The size is `record_send` of the row: the row in
/// PostgreSQL's binary format, a few bytes per column more than the DataRow sqlx reads
/// (sqlx asks for binary results). The CTE is MATERIALIZED so the rows keep the order the
/// query gave them, and the lateral join keeps their columns' names and types.
fn sized(sql: &str, cap: usize) -> Result<String, sqlx::Error> {
    // The statement without a trailing `;` or comment, which would swallow the wrapping.
    let statement = match godwit_core::split::split(sql, Dialect::Postgres) {
        Ok(statements) if statements.len() == 1 => statements.into_iter().next(),
        _ => None,
    }
    .ok_or_else(|| {
        sqlx::Error::InvalidArgument("a plugin query must be exactly one statement".into())
    })?;
    Ok(format!(
        "WITH godwit_result AS MATERIALIZED (\n{}\n)\n\
         SELECT godwit_row.*, godwit_sized.godwit_size \
         FROM (SELECT godwit_result AS godwit_whole, octet_length(record_send(godwit_result))::int8 AS godwit_size FROM godwit_result) godwit_sized \
         LEFT JOIN LATERAL (SELECT (godwit_sized.godwit_whole).*) godwit_row ON godwit_sized.godwit_size <= {cap}",
        statement.sql
    ))
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn public_keeps_the_database_lock_and_each_schema_has_its_own() {
        assert_eq!(lock_key(None), LOCK_KEY);
        assert_eq!(lock_key(Some("public")), LOCK_KEY);
        assert_ne!(lock_key(Some("tenant_1")), lock_key(Some("tenant_2")));
        assert_ne!(lock_key(Some("tenant_1")), LOCK_KEY);
        assert!(lock_key(Some("tenant_1")) > 0);
        assert_eq!(lock_tag(LOCK_KEY), "");
        assert!(lock_tag(lock_key(Some("t"))).starts_with(" lock "));
    }
}
