//! The driver's one error type: what went wrong with a database, typed so that a caller
//! decides from the variant. Its messages are whole sentences in the database's own
//! words; nothing in them can hold a password ([`redact`] saw to that).

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

impl DbError {
    /// A bookkeeping statement's failure, in the database's own words.
    pub fn db(context: impl Into<String>, err: &sqlx::Error) -> Self {
        DbError::Database {
            context: context.into(),
            message: describe_db_error(err),
        }
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

/// The database's own words, with its error code, as a DBA would want to search for them.
pub fn describe_db_error(err: &sqlx::Error) -> String {
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
