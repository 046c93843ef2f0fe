//! The driver's one error type: what went wrong with a database, typed so that a caller
//! decides from the variant. Its messages are whole sentences in the database's own
//! words; nothing in them can hold a password ([`redact`] saw to that).

use std::path::{Path, PathBuf};

use crate::cap::ResultTooLarge;
use crate::redact::redact;

/// What went wrong reaching or using a database outside a migration's own statements.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached or refused us.
    #[error("{0}")]
    Connect(String),

    /// PostgreSQL: the URL's `?schema=` names a schema that does not exist. godwit does
    /// not create it: a mistyped tenant would otherwise get every migration applied to a
    /// new, empty schema.
    #[error(
        "{target}: the schema {schema:?} does not exist in the database {database:?}; nothing was done there\n  \
         create it first (CREATE SCHEMA \"{schema}\";) if this is a new tenant, or correct `?schema=` in the URL"
    )]
    SchemaMissing {
        schema: String,
        database: String,
        target: String,
    },

    /// The migration lock (or lease) was taken over by another deployer while this run
    /// held it: whatever this run does next could undo or repeat that deployer's work,
    /// so it stops, and never restores a backup.
    #[error("{0}")]
    LockLost(String),

    /// PostgreSQL: godwit's user can neither create nor enter the role that confines a
    /// plugin's statements to its grants (no CREATEROLE); an administrator must create it.
    #[error(
        "the database user {user} cannot create or enter the role {role} that confines a plugin's statements to its grants (it lacks CREATEROLE); nothing was run for this plugin (a deploy checks this before it applies any migration)\n  \
         ask an administrator to run once: {sql}\n  \
         godwit then keeps the role's privileges in line with the grants itself"
    )]
    RoleMissing {
        user: String,
        role: String,
        sql: String,
    },

    /// PostgreSQL: the role that would confine a plugin's statements to its grants cannot
    /// be used as it is; nothing was run for the plugin.
    #[error("{}", role_unfit_message(role, problem))]
    RoleUnfit { role: String, problem: RoleProblem },

    /// A statement of godwit.toml's `init_sql` failed on a connection just opened: the
    /// configuration needs fixing, not the server.
    #[error("{0}")]
    InitSql(String),

    /// A statement of godwit's own bookkeeping (the history table, the lock, the
    /// catalog, a plugin's role) failed: `context` says what godwit was doing, `message`
    /// is the database's words.
    #[error("{context}: {message}")]
    Database { context: String, message: String },
}

/// Why a replica's lag could not be measured ([`Replica::lag`](crate::Replica::lag)).
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// It could not be reached, or did not answer in time.
    #[error("{0}")]
    Connect(String),
    /// It was reached, and the question failed or was not answered in time.
    #[error("{0}")]
    Query(String),
    /// It answered, and is not replicating now: its lag is unknown.
    #[error("{0}")]
    Stopped(String),
    /// It answered, and is not a replica at all.
    #[error("{0}")]
    NotAReplica(String),
}

impl DbError {
    /// This error stopped a transaction of `what` (a migration, a batch) before its
    /// COMMIT ([`Lock::confirm_before_commit`](crate::Lock::confirm_before_commit)), and
    /// the transaction was rolled back: the message says so first. The variant stays.
    pub fn rolled_back(self, what: &str) -> DbError {
        match self {
            DbError::LockLost(why) => DbError::LockLost(format!(
                "{what} was rolled back, so none of it took effect: {why}"
            )),
            DbError::Database { context, message } => DbError::Database {
                context: format!("{what} was rolled back: {context}"),
                message,
            },
            other => other,
        }
    }

    /// A bookkeeping statement's failure, in the database's own words.
    pub(crate) fn db(context: impl Into<String>, err: &impl Described) -> Self {
        DbError::Database {
            context: context.into(),
            message: err.described(),
        }
    }
}

/// A statement failed: the server refused or failed it, godwit could not bind or decode its
/// values, its result passed a plugin's cap, or the connection broke. What the
/// [`Session`](crate::Session) methods fail with.
///
/// Callers decide from [`SqlError::kind`] and the questions below, never from the text.
/// Its `Display` is the driver's own short text; [`SqlError::describe`] is the database's
/// words with their code, as godwit prints them.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SqlError(sqlx::Error);

/// What kind of failure a [`SqlError`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlErrorKind {
    /// The database refused or failed the statement; `code` is its error code (SQLSTATE
    /// on PostgreSQL and MySQL/MariaDB, the result code on SQLite).
    Server { code: Option<String> },
    /// godwit would not send the statement as it was (its text, its parameters):
    /// `message` says why, in godwit's words, with nothing of the data in it.
    Argument { message: String },
    /// A value of the result could not be decoded.
    Decode,
    /// The result passed a plugin's cap ([`SqlError::too_large`] says how far).
    TooLarge,
    /// The connection, the protocol, or anything else between godwit and the server.
    Other,
}

impl SqlError {
    /// What kind of failure this is.
    pub fn kind(&self) -> SqlErrorKind {
        match &self.0 {
            sqlx::Error::Database(_) => SqlErrorKind::Server { code: self.code() },
            sqlx::Error::InvalidArgument(message) => SqlErrorKind::Argument {
                message: message.clone(),
            },
            sqlx::Error::Decode(_) if self.too_large().is_some() => SqlErrorKind::TooLarge,
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => SqlErrorKind::Decode,
            _ => SqlErrorKind::Other,
        }
    }

    /// The database's error code, when the database refused the statement.
    pub fn code(&self) -> Option<String> {
        match &self.0 {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// The server's message alone, without its code, when the database refused the
    /// statement.
    pub fn server_message(&self) -> Option<String> {
        match &self.0 {
            sqlx::Error::Database(db) => Some(db.message().to_owned()),
            _ => None,
        }
    }

    /// MySQL/MariaDB: the server's error number (1205, 1227, …), which says more than
    /// the SQLSTATE it maps to.
    pub fn mysql_number(&self) -> Option<u16> {
        match &self.0 {
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number()),
            _ => None,
        }
    }

    /// The database's own words, with its error code (see [`describe_db_error`]).
    pub fn describe(&self) -> String {
        describe_sqlx(&self.0)
    }

    /// The [`ResultTooLarge`] this is, if the result passed a
    /// plugin's cap.
    pub fn too_large(&self) -> Option<&ResultTooLarge> {
        crate::cap::ResultTooLarge::of(&self.0)
    }

    /// The table the statement names does not exist (godwit's history table on a fresh
    /// database, say).
    pub fn is_undefined_table(&self) -> bool {
        crate::raw::is_undefined_table(&self.0)
    }

    /// The user lacks a privilege the statement needs: PostgreSQL's `42501`, or MySQL's
    /// and MariaDB's access denied to a database (1044), at all (1045), to a table (1142)
    /// or for want of a global privilege (1227).
    pub fn is_access_denied(&self) -> bool {
        self.code().as_deref() == Some("42501")
            || self
                .mysql_number()
                .is_some_and(|n| matches!(n, 1044 | 1045 | 1142 | 1227))
    }

    /// The schema the statement names does not exist (PostgreSQL).
    pub fn is_undefined_schema(&self) -> bool {
        self.code().as_deref() == Some("3F000")
    }

    /// The sqlx error inside, for the drivers' own questions.
    pub(crate) fn sqlx(&self) -> &sqlx::Error {
        &self.0
    }
}

/// An error that [`describe_db_error`] can put in the database's own words.
pub trait Described {
    /// The database's own words, with its error code.
    fn described(&self) -> String;
}

impl Described for sqlx::Error {
    fn described(&self) -> String {
        describe_sqlx(self)
    }
}

impl Described for SqlError {
    fn described(&self) -> String {
        self.describe()
    }
}

impl From<sqlx::Error> for SqlError {
    fn from(e: sqlx::Error) -> Self {
        SqlError(e)
    }
}

/// What is wrong with the role that confines a plugin's statements ([`DbError::RoleUnfit`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleProblem {
    /// `database_role` names a role that does not exist (godwit never creates one it
    /// was told an administrator prepared).
    Missing { user: String },
    /// godwit's user is not a member of the prepared role, and may not make itself one.
    NotEntered { user: String },
    /// The role holds more than a plugin's grants can give it: these attributes,
    /// membership of these roles, ownership of these objects.
    TooPowerful {
        attributes: Vec<String>,
        member_of: Vec<String>,
        owns: Vec<String>,
    },
    /// godwit's user may not grant the role these privileges the plugin's grants allow
    /// (it neither owns the tables nor holds the privileges WITH GRANT OPTION).
    CannotGrant {
        user: String,
        privileges: Vec<String>,
    },
}

fn role_unfit_message(role: &str, problem: &RoleProblem) -> String {
    let r = format!("\"{}\"", role.replace('"', "\"\""));
    let u = |user: &str| format!("\"{}\"", user.replace('"', "\"\""));
    let head = format!(
        "the role {role} that confines a plugin's statements to its grants cannot be used; nothing was run for the plugin (a deploy checks this before it applies any migration)"
    );
    match problem {
        RoleProblem::Missing { user } => format!(
            "{head}: it does not exist, and godwit creates no role that godwit.toml's `database_role` says an administrator prepared\n  \
             ask an administrator to run: CREATE ROLE {r} NOLOGIN; GRANT {r} TO {};\n  \
             or remove `database_role` from godwit.toml to let godwit create its own",
            u(user)
        ),
        RoleProblem::NotEntered { user } => format!(
            "{head}: the database user {user} is not a member of it, so it cannot enter it\n  \
             ask an administrator to run: GRANT {r} TO {};",
            u(user)
        ),
        RoleProblem::TooPowerful {
            attributes,
            member_of,
            owns,
        } => {
            let mut what = Vec::new();
            let mut fix = Vec::new();
            if !attributes.is_empty() {
                what.push(format!("the attributes {}", attributes.join(", ")));
                let off: Vec<String> = attributes.iter().map(|a| format!("NO{a}")).collect();
                fix.push(format!("ALTER ROLE {r} {};", off.join(" ")));
            }
            if !member_of.is_empty() {
                what.push(format!(
                    "membership of {} (whose privileges it would have)",
                    member_of.join(", ")
                ));
                for g in member_of {
                    fix.push(format!("REVOKE {} FROM {r};", u(g)));
                }
            }
            if !owns.is_empty() {
                what.push(format!(
                    "ownership of {} (an owner has every privilege on it)",
                    owns.join(", ")
                ));
            }
            let fix = if fix.is_empty() {
                String::new()
            } else {
                format!("\n  an administrator can run: {}", fix.join(" "))
            };
            format!(
                "{head}: it holds more than a plugin's grants give: {}{fix}\n  \
                 a plugin's role must be a NOLOGIN role with no other privileges, which godwit keeps in line with the grants; \
                 make another role own those objects, or name a role of its own in `database_role`",
                what.join("; ")
            )
        }
        RoleProblem::CannotGrant { user, privileges } => format!(
            "{head}: the database user {user} may not grant it {}, which the plugin's grants allow (it neither owns those tables nor holds the privileges WITH GRANT OPTION)\n  \
             ask the tables' owner to run `GRANT ... WITH GRANT OPTION` on them to {}, or narrow the plugin's grants in godwit.toml",
            privileges.join(", "),
            u(user)
        ),
    }
}

/// The database's own words, with its error code, as a DBA would want to search for them:
/// of a [`SqlError`], or of a `sqlx::Error` from code that runs sqlx itself.
pub fn describe_db_error(err: &(impl Described + ?Sized)) -> String {
    err.described()
}

fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => {
            let mut text = match db.code() {
                Some(code) => format!("{} (code {code})", db.message()),
                None => db.message().to_string(),
            };
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // A multi-line detail (a server's list of dependent objects, a RAISE
                // with its own layout) lines up under its first line, with the server's
                // own indentation kept.
                if let Some(detail) = pg.detail() {
                    text.push_str(&format!("\n  detail: {}", hang(detail, "  detail: ")));
                }
                if let Some(hint) = pg.hint() {
                    text.push_str(&format!("\n  hint: {}", hang(hint, "  hint: ")));
                }
            }
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                text = format!("{} (error {})", my.message(), my.number());
                // A foreign key to a table that does not exist yet: histories written for
                // MySQL, which ignores inline REFERENCES, and run by their application with
                // foreign key checks off (vaultwarden) fail here on MariaDB 10.5+.
                let missing_reference = my.number() == 1824
                    || (my.number() == 1005 && my.message().contains("errno: 150"));
                if missing_reference {
                    text.push_str(
                        "\n  hint: a FOREIGN KEY (or an inline REFERENCES, which MariaDB 10.5+ enforces and MySQL ignores) points at a table or column that does not exist yet or has another type. \
                         If the project's own tool runs its migrations with foreign key checks off, do the same: init_sql = \"SET SESSION FOREIGN_KEY_CHECKS = 0\" in godwit.toml",
                    );
                }
            }
            text
        }
        other => redact(&other.to_string()),
    }
}

/// `text` with its second and later lines indented by the width of `label`, so that they
/// line up under the first; each line's own leading whitespace is kept.
fn hang(text: &str, label: &str) -> String {
    text.replace('\n', &format!("\n{}", " ".repeat(label.len())))
}

/// What went wrong while dumping or restoring a database.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// A database tool is not installed; nothing was changed.
    #[error(
        "{tool} was not found on PATH, and {purpose} needs it\n  install {package}, or set `[backup] policy = \"never\"` in godwit.toml to deploy without whole-database backups"
    )]
    ToolMissing {
        tool: String,
        purpose: String,
        package: &'static str,
    },
    /// A tool ran and failed; its own words follow.
    #[error("{tool} failed ({status}) while {purpose}:\n  {stderr}")]
    ToolFailed {
        tool: String,
        purpose: String,
        status: String,
        stderr: String,
    },
    /// Restoring a tenant's schema drops it first, and objects outside it depend on it:
    /// they would go too. Nothing was restored.
    #[error(
        "restoring the schema {schema:?} would also drop what other schemas build on it: {}; nothing was restored\n  \
         drop or change those first (a restore puts back one tenant's schema, never what lies outside it), then run the restore again",
        dependents.join(", ")
    )]
    TenantEntangled {
        schema: String,
        dependents: Vec<String>,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("cannot {action} {}: {message}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("{context}: {message}")]
    Database { context: String, message: String },
}

impl DumpError {
    pub(crate) fn io(action: &'static str, path: &Path, err: std::io::Error) -> DumpError {
        DumpError::Io {
            action,
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    pub(crate) fn db(context: impl Into<String>, err: &(impl Described + ?Sized)) -> DumpError {
        DumpError::Database {
            context: context.into(),
            message: describe_db_error(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;
    use crate::cap::{ResultCap, too_large};

    /// What a caller decides from comes from the error's kind, for every kind.
    #[test]
    fn each_failure_has_its_kind() {
        let argument = SqlError::from(sqlx::Error::InvalidArgument("3 parameters, 2 given".into()));
        assert_eq!(
            argument.kind(),
            SqlErrorKind::Argument {
                message: "3 parameters, 2 given".into()
            }
        );
        assert_eq!(argument.code(), None);
        assert_eq!(
            SqlError::from(sqlx::Error::Decode("not utf-8".into())).kind(),
            SqlErrorKind::Decode
        );
        let cap = ResultCap { rows: 2, bytes: 10 };
        let over = SqlError::from(too_large(cap, 3, 12));
        assert_eq!(over.kind(), SqlErrorKind::TooLarge);
        assert_eq!(over.too_large().map(|t| (t.rows, t.bytes)), Some((3, 12)));
        assert_eq!(
            SqlError::from(sqlx::Error::RowNotFound).kind(),
            SqlErrorKind::Other
        );
        assert!(
            SqlError::from(sqlx::Error::RowNotFound)
                .too_large()
                .is_none()
        );
    }

    /// A statement the database refused: its code, its message, and the questions callers
    /// ask, answered from a real server's error (SQLite's, which needs none running).
    #[test]
    fn a_refused_statement_carries_the_servers_code() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
                .await
                .unwrap();
            let missing = SqlError::from(
                sqlx::raw_sql("SELECT * FROM nowhere")
                    .execute(&mut conn)
                    .await
                    .unwrap_err(),
            );
            assert!(matches!(
                missing.kind(),
                SqlErrorKind::Server { code: Some(_) }
            ));
            assert!(missing.is_undefined_table());
            assert!(!missing.is_undefined_schema());
            assert_eq!(missing.mysql_number(), None);
            assert_eq!(
                missing.server_message().as_deref(),
                Some("no such table: nowhere")
            );
            assert!(
                missing
                    .describe()
                    .starts_with("no such table: nowhere (code ")
            );

            let syntax = SqlError::from(
                sqlx::raw_sql("SELEC 1")
                    .execute(&mut conn)
                    .await
                    .unwrap_err(),
            );
            assert!(matches!(syntax.kind(), SqlErrorKind::Server { .. }));
            assert!(!syntax.is_undefined_table());
        });
    }
}
