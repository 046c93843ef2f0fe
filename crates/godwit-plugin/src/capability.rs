//! What a plugin may touch: its manifest's requests intersected with the operator's grants,
//! and the checks every database call goes through first.
//!
//! A plugin gets a capability only when both its manifest asks for it and `godwit.toml`
//! grants it; a plugin without a manifest asks for nothing. The checks fail closed: a
//! statement the host cannot prove allowed — one it cannot parse, a function it does not
//! know, a table factor it does not understand — is refused, and the message says what
//! was refused and which entry would allow it.
//!
//! Names: tables compare case-insensitively (quoted or not). An unqualified entry `users`
//! covers `users` and `users` in the default schema (`public` on PostgreSQL, `main` on
//! SQLite); other schemas must be named (`audit.events`, `audit.*`). `*` covers every
//! table except system catalogs (`pg_catalog`, `information_schema`, `mysql`, `sqlite_*`…)
//! and godwit's own tables, which must be named to be reachable at all.
//!
//! ```
//! use godwit_core::{Dialect, Scope};
//! use godwit_plugin::capability::{Capabilities, Grants};
//! use godwit_plugin::manifest::Requests;
//!
//! let requests = Requests { read: vec!["*".into()], ..Default::default() };
//! let grants = Grants { read: vec!["users".into()], ..Default::default() };
//! let caps = Capabilities::effective(&requests, &grants, "normalize-email");
//! assert!(caps.check_query(Dialect::Postgres, "SELECT count(*) FROM users").is_ok());
//! assert!(caps.check_query(Dialect::Postgres, "SELECT * FROM secrets").is_err());
//! ```

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::PathBuf;

use serde::Deserialize;
use sqlparser::ast::{
    AssignmentTarget, Expr, FromTable, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    ObjectName, Query, SetExpr, Statement, TableFactor, TableObject, TableWithJoins,
    UpdateTableFromKind, Visit, Visitor,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use godwit_core::analyze::parse::{parse, sqlparser_dialect};
use godwit_core::{Dialect, Scope};

use crate::manifest::Requests;

/// `[plugins.NAME.grants]` in godwit.toml: what the operator allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Tables it may read: `users`, `public.users`, `audit.*`, `*`.
    #[serde(default)]
    pub read: Vec<String>,
    /// Columns it may write: `users.email`, `users.*`, `*.*`.
    #[serde(default)]
    pub write: Vec<String>,
    /// Environment variables passed through.
    #[serde(default)]
    pub env: Vec<String>,
    /// One directory, relative to the project, mounted at `/` in the guest.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Files the plugin may read and append to, and nothing else in their directories:
    /// a path relative to the project, or `$NAME` for the path in environment variable
    /// `NAME` (`$GITHUB_STEP_SUMMARY`). See [`crate::append`].
    #[serde(default)]
    pub append: Vec<String>,
    /// Outbound HTTP authorities: `host`, `host:port`, or `*`.
    #[serde(default)]
    pub hosts: Vec<String>,
}

impl Grants {
    /// Refuses entries that cannot mean anything, so that a typo does not silently grant
    /// nothing (or everything).
    pub fn validate(&self) -> Result<(), String> {
        for t in &self.read {
            TablePattern::parse(t).map_err(|e| format!("read entry `{t}`: {e}"))?;
        }
        for w in &self.write {
            ColumnPattern::parse(w).map_err(|e| format!("write entry `{w}`: {e}"))?;
        }
        for a in &self.append {
            append_entry_valid(a).map_err(|e| format!("append entry `{a}`: {e}"))?;
        }
        for h in &self.hosts {
            if h.is_empty() || h.contains('/') || h.contains('@') {
                return Err(format!(
                    "hosts entry `{h}` is not an authority; write `host` or `host:port`"
                ));
            }
        }
        Ok(())
    }
}

/// An `append` entry is a file path, or `$NAME` with `NAME` an environment variable name.
fn append_entry_valid(entry: &str) -> Result<(), String> {
    match entry.strip_prefix('$') {
        Some(name) => {
            let name = name
                .strip_prefix('{')
                .and_then(|n| n.strip_suffix('}'))
                .unwrap_or(name);
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${name}` is not an environment variable; write `$NAME` (letters, digits, `_`)"
                ));
            }
            Ok(())
        }
        None if entry.trim().is_empty() => Err("an empty path names no file".into()),
        None if entry.ends_with('/') || entry.ends_with('\\') => {
            Err("a directory is not a file; name the file".into())
        }
        None => Ok(()),
    }
}

/// A capability check said no.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin}: {message}")]
pub struct Refused {
    pub plugin: String,
    pub message: String,
}

/// A name as written: its text (quotes removed, doubled quotes undone) and whether it was
/// quoted. How it compares depends on the database: see [`Name::key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Name {
    text: String,
    quoted: bool,
}

impl Name {
    fn plain(text: &str) -> Name {
        Name {
            text: text.to_string(),
            quoted: false,
        }
    }

    fn from_ident(i: &Ident) -> Name {
        Name {
            text: i.value.clone(),
            quoted: i.quote_style.is_some(),
        }
    }

    /// The name of a table or schema as the server looks it up.
    /// - PostgreSQL folds an unquoted name to lower case (ASCII only, in a UTF-8 database)
    ///   and keeps a quoted one exactly.
    /// - MySQL/MariaDB on Linux (`lower_case_table_names = 0`) keep table and database
    ///   names exactly, quoted or not. Where the server folds them (`1`, `2`), comparing
    ///   exactly only refuses more.
    /// - SQLite compares names without regard to ASCII case, quoted or not.
    fn key(&self, d: Dialect) -> String {
        godwit_core::sql::name_key(d, &self.text, self.quoted)
    }

    /// The name of a column as the server looks it up: as for tables, except that MySQL
    /// column names never depend on case.
    fn column_key(&self, d: Dialect) -> String {
        godwit_core::sql::column_key(d, &self.text, self.quoted)
    }

    /// The lower-cased text, for the names no wildcard reaches (`pg_*`, `godwit_*`…):
    /// refusing whatever any server could fold to one of them.
    fn folded(&self) -> String {
        self.text.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Quotes only where they change the meaning: `"Users"`, `"my table"`.
        let needs_quotes = self.quoted && self.text.chars().any(|c| c.is_ascii_uppercase());
        if needs_quotes || !is_plain_identifier(&self.text) {
            write!(f, "\"{}\"", self.text.replace('"', "\"\""))
        } else {
            f.write_str(&self.text)
        }
    }
}

/// A table entry: `*`, `schema.*`, `table`, `schema.table`, any name part quoted
/// (`"Users"`, `audit."Events"`) to name it exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TablePattern {
    schema: Option<Name>,
    /// `None` for `*`.
    table: Option<Name>,
}

/// A table as a statement names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TableRef {
    schema: Option<Name>,
    table: Name,
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.table),
            None => write!(f, "{}", self.table),
        }
    }
}

/// Schemas (and MySQL databases) no wildcard reaches, compared lower-cased.
const SYSTEM_SCHEMAS: &[&str] = &[
    "pg_catalog",
    "information_schema",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
    "temp",
];

/// The schema an unqualified name means: PostgreSQL's `public`, SQLite's `main`. MySQL
/// has none godwit can know (the connection's database), so `db.table` is always another
/// database there.
fn default_schema(d: Dialect) -> Option<&'static str> {
    match d {
        Dialect::Postgres => Some("public"),
        Dialect::Sqlite => Some("main"),
        Dialect::MySql => None,
    }
}

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Splits a grant entry at the dots outside double quotes: each part is `*`, a plain
/// name, or a `"quoted name"` (a `""` inside stands for one `"`).
fn entry_parts(text: &str) -> Result<Vec<Option<Name>>, String> {
    let text = text.trim();
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let (part, after) = if let Some(body) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = body.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(format!("`{text}` has an unclosed `\"`")),
                    Some((i, '"')) => {
                        if body[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => value.push(c),
                }
            };
            if value.is_empty() {
                return Err(format!("`{text}` has an empty quoted name"));
            }
            (
                Some(Name {
                    text: value,
                    quoted: true,
                }),
                &body[end..],
            )
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let p = &rest[..end];
            let part = if p == "*" {
                None
            } else if is_plain_identifier(p) {
                Some(Name::plain(p))
            } else {
                return Err(format!(
                    "`{p}` is not a name or `*`; quote a name that is not plain letters, digits and `_` (`\"My Table\"`)"
                ));
            };
            (part, &rest[end..])
        };
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.is_empty() => return Ok(parts),
            None => return Err(format!("`{text}`: expected `.` after a quoted name")),
        }
    }
}

impl TablePattern {
    fn parse(text: &str) -> Result<TablePattern, String> {
        Self::from_parts(entry_parts(text)?)
    }

    fn from_parts(parts: Vec<Option<Name>>) -> Result<TablePattern, String> {
        match <[Option<Name>; 2]>::try_from(parts) {
            Ok([schema, table]) => Ok(TablePattern {
                schema: Some(schema.ok_or("a schema cannot be `*`; write `*` alone")?),
                table,
            }),
            Err(parts) => match <[Option<Name>; 1]>::try_from(parts) {
                Ok([table]) => Ok(TablePattern {
                    schema: None,
                    table,
                }),
                Err(_) => Err("write `table`, `schema.table`, `schema.*` or `*`".into()),
            },
        }
    }

    fn matches(&self, d: Dialect, r: &TableRef) -> bool {
        let default = default_schema(d);
        // An unqualified name, or one in the default schema.
        let is_default = |s: &Option<Name>| match s {
            None => true,
            Some(s) => default.is_some_and(|dflt| s.key(d) == dflt),
        };
        let schema_ok = match (&self.schema, &r.schema) {
            (Some(p), Some(s)) => p.key(d) == s.key(d),
            (p, s) => is_default(p) && is_default(s),
        };
        match &self.table {
            // Wildcards never reach catalogs, godwit's bookkeeping, or (for `*`) any
            // schema but the default one.
            None => schema_ok && !is_special(d, r),
            Some(t) => schema_ok && t.key(d) == r.table.key(d),
        }
    }
}

/// Tables no wildcard reaches: system catalogs and godwit's own tables, compared
/// lower-cased whatever the database's rules, so no folding can reach them.
fn is_special(d: Dialect, r: &TableRef) -> bool {
    let table = r.table.folded();
    let schema = r.schema.as_ref().map(Name::folded);
    table.starts_with(godwit_core::history::TABLE)
        || table.starts_with("godwit_")
        || table.starts_with("sqlite_")
        || (d == Dialect::Sqlite && table.starts_with("pragma_"))
        // PostgreSQL looks unqualified names up in pg_catalog first, where every name
        // starts with `pg_`; the prefix is reserved for system objects.
        || table.starts_with("pg_")
        || schema.as_deref().is_some_and(|s| {
            SYSTEM_SCHEMAS.contains(&s) || s.starts_with("pg_") || s.starts_with("godwit")
        })
}

/// A write entry: a table pattern and a column (`None` for `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ColumnPattern {
    table: TablePattern,
    column: Option<Name>,
}

impl ColumnPattern {
    fn parse(text: &str) -> Result<ColumnPattern, String> {
        let mut parts = entry_parts(text)?;
        if parts.len() < 2 {
            return Err("write `table.column`, `table.*` or `*.*`".into());
        }
        let column = parts.pop().flatten();
        Ok(ColumnPattern {
            table: TablePattern::from_parts(parts)?,
            column,
        })
    }

    fn matches(&self, d: Dialect, table: &TableRef, column: Option<&Name>) -> bool {
        self.table.matches(d, table)
            && match (&self.column, column) {
                (None, _) => true,
                (Some(p), Some(c)) => p.column_key(d) == c.column_key(d),
                (Some(_), None) => false,
            }
    }
}

/// Names as a database reports them (SQLite's authorizer, PostgreSQL's catalog) are the
/// stored names, exact: compared as quoted names by PostgreSQL's rules, under which equal
/// means the same table on every database (SQLite only refuses more).
const REPORTED: Dialect = Dialect::Postgres;

fn reported(schema: Option<&str>, table: &str) -> TableRef {
    let exact = |t: &str| Name {
        text: t.to_string(),
        quoted: true,
    };
    TableRef {
        // The default schema as the database names it is an unqualified name here.
        schema: schema
            .filter(|s| !matches!(*s, "main" | "public"))
            .map(exact),
        table: exact(table),
    }
}

/// What a plugin may actually do: requests ∩ grants.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    plugin: String,
    read: [Vec<TablePattern>; 2],
    write: [Vec<ColumnPattern>; 2],
    env: Vec<String>,
    dir: Option<PathBuf>,
    append: Vec<String>,
    hosts: [Vec<String>; 2],
    /// What confines its statements besides this checker (`[plugins.NAME] enforcement`).
    enforcement: godwit_core::Enforcement,
    /// PostgreSQL: the role an administrator prepared for it (`database_role`).
    database_role: Option<String>,
}

/// Which side said no: the plugin did not ask, or the operator did not grant.
fn missing(in_requests: bool, in_grants: bool, entry: &str, plugin: &str, key: &str) -> String {
    // A quoted name needs TOML's literal quotes around it: `read = ['"Users"']`.
    let entry = if entry.contains('"') {
        format!("'{entry}'")
    } else {
        format!("\"{entry}\"")
    };
    match (in_requests, in_grants) {
        (false, false) => format!(
            "allowing it needs `{key} = [{entry}]` in both the plugin's manifest [requests] and godwit.toml's [plugins.{plugin}.grants]"
        ),
        (true, _) => format!(
            "the plugin asks for it, but godwit.toml's [plugins.{plugin}.grants] does not grant it (`{key} = [{entry}]` would)"
        ),
        (false, true) => format!(
            "godwit.toml grants it, but the plugin's manifest does not request it (`{key} = [{entry}]` under [requests])"
        ),
    }
}

impl Capabilities {
    /// The intersection of what `requests` asks and `grants` allows, for the plugin `plugin`.
    /// Entries that do not parse grant nothing (config validation reports them).
    pub fn effective(requests: &Requests, grants: &Grants, plugin: &str) -> Capabilities {
        let tables = |v: &[String]| {
            v.iter()
                .filter_map(|t| TablePattern::parse(t).ok())
                .collect()
        };
        let columns = |v: &[String]| {
            v.iter()
                .filter_map(|t| ColumnPattern::parse(t).ok())
                .collect()
        };
        let env = requests
            .env
            .iter()
            .filter(|k| grants.env.contains(k))
            .cloned()
            .collect();
        Capabilities {
            plugin: plugin.to_string(),
            read: [tables(&requests.read), tables(&grants.read)],
            write: [columns(&requests.write), columns(&grants.write)],
            env,
            dir: grants.dir.clone().filter(|_| requests.dir),
            append: if requests.append {
                grants.append.clone()
            } else {
                Vec::new()
            },
            hosts: [
                requests
                    .hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                grants
                    .hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            ],
            enforcement: godwit_core::Enforcement::default(),
            database_role: None,
        }
    }

    /// The same capabilities, confined by the database as the operator chose
    /// (`[plugins.NAME] enforcement` and `database_role`).
    pub fn enforced(
        mut self,
        enforcement: godwit_core::Enforcement,
        database_role: Option<String>,
    ) -> Capabilities {
        self.enforcement = enforcement;
        self.database_role = database_role;
        self
    }

    /// `[plugins.NAME] enforcement`.
    pub fn enforcement(&self) -> godwit_core::Enforcement {
        self.enforcement
    }

    /// `[plugins.NAME] database_role`.
    pub fn database_role(&self) -> Option<&str> {
        self.database_role.as_deref()
    }

    /// The plugin's name in godwit.toml.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    fn refuse(&self, message: String) -> Refused {
        Refused {
            plugin: self.plugin.clone(),
            message,
        }
    }

    fn can_read(&self, d: Dialect, t: &TableRef) -> Result<(), Refused> {
        let [r, g] = &self.read;
        let (in_r, in_g) = (
            r.iter().any(|p| p.matches(d, t)),
            g.iter().any(|p| p.matches(d, t)),
        );
        if in_r && in_g {
            return Ok(());
        }
        Err(self.refuse(format!(
            "reading table `{t}` is not allowed; {}",
            missing(in_r, in_g, &t.to_string(), &self.plugin, "read")
        )))
    }

    fn can_write(&self, d: Dialect, t: &TableRef, column: Option<&Name>) -> Result<(), Refused> {
        let [r, g] = &self.write;
        let (in_r, in_g) = (
            r.iter().any(|p| p.matches(d, t, column)),
            g.iter().any(|p| p.matches(d, t, column)),
        );
        if in_r && in_g {
            return Ok(());
        }
        let entry = match column {
            Some(c) => format!("{t}.{c}"),
            None => format!("{t}.*"),
        };
        let what = match column {
            Some(c) => format!("writing column `{c}` of table `{t}`"),
            None => format!("writing whole rows of table `{t}`"),
        };
        Err(self.refuse(format!(
            "{what} is not allowed; {}",
            missing(in_r, in_g, &entry, &self.plugin, "write")
        )))
    }

    /// Whether both the manifest and the grants name a table of a system catalog
    /// (`information_schema.tables`, `pg_catalog.pg_class`…): then the session's own
    /// location (`database()`, `current_schema()`…) is catalog information it may read.
    fn may_read_catalog(&self) -> bool {
        let names_catalog = |patterns: &[TablePattern]| {
            patterns.iter().any(|p| {
                p.table.is_some()
                    && p.schema.as_ref().is_some_and(|s| {
                        matches!(s.folded().as_str(), "information_schema" | "pg_catalog")
                    })
            })
        };
        names_catalog(&self.read[0]) && names_catalog(&self.read[1])
    }

    /// `Capabilities::can_read` for names as a database reports them, for the
    /// database-side enforcement (`driver::Scope`), so both lines of defence share one rule.
    pub fn reads_table(&self, schema: Option<&str>, table: &str) -> bool {
        self.can_read(REPORTED, &reported(schema, table)).is_ok()
    }

    /// `Capabilities::can_write` for names as a database reports them; `column` `None`
    /// asks for whole rows.
    pub fn writes_column(&self, schema: Option<&str>, table: &str, column: Option<&str>) -> bool {
        let column = column.map(|c| Name {
            text: c.to_string(),
            quoted: true,
        });
        self.can_write(REPORTED, &reported(schema, table), column.as_ref())
            .is_ok()
    }

    /// Whether the plugin may write any column of the table (what a write entry names).
    pub fn writes_any_column(&self, schema: Option<&str>, table: &str) -> bool {
        let t = reported(schema, table);
        let [r, g] = &self.write;
        r.iter().any(|p| p.table.matches(REPORTED, &t))
            && g.iter().any(|p| p.table.matches(REPORTED, &t))
    }

    /// The effective read and write entries as stable text: equal grants, equal text.
    pub fn grants_text(&self) -> String {
        format!("read={:?};write={:?}", self.read, self.write)
    }

    /// Whether the plugin may write at all (a session's `execute`).
    pub fn may_write(&self) -> bool {
        !self.write[0].is_empty() && !self.write[1].is_empty()
    }

    /// Environment variables passed through to the guest.
    pub fn env(&self) -> &[String] {
        &self.env
    }

    /// The directory mounted at `/` in the guest, relative to the project.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// The `append` entries granted, as written (`$NAME` or a path).
    pub fn append(&self) -> &[String] {
        &self.append
    }

    /// Whether an outbound HTTP request to `authority` (`host` or `host:port`) is allowed.
    /// An entry without a port allows that host on the default ports 80 and 443 only.
    pub fn allows_host(&self, authority: &str) -> bool {
        let authority = authority.trim().to_ascii_lowercase();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') || h.ends_with(']') {
                    (h.to_string(), Some(p.to_string()))
                } else {
                    (authority.clone(), None)
                }
            }
            _ => (authority.clone(), None),
        };
        let allowed = |list: &[String]| {
            list.iter().any(|entry| {
                entry == "*"
                    || *entry == authority
                    || (*entry == host && port.as_deref().is_none_or(|p| p == "80" || p == "443"))
            })
        };
        !host.is_empty() && allowed(&self.hosts[0]) && allowed(&self.hosts[1])
    }

    /// Checks a session `query`: one plain SELECT reading only readable tables and calling
    /// only side-effect-free built-in functions.
    pub fn check_query(&self, dialect: Dialect, sql: &str) -> Result<(), Refused> {
        let statement = self.parse_one(dialect, sql)?;
        let Statement::Query(query) = &statement else {
            return Err(self.refuse(format!(
                "`query` runs only a plain SELECT; this is {}",
                statement_kind(&statement)
            )));
        };
        self.check_reads(dialect, query.as_ref())
    }

    /// Checks a session `execute`: one INSERT, UPDATE or DELETE on writable columns, whose
    /// subqueries and conditions read only readable tables. `read_only` sessions (a
    /// validator's `check-database`) refuse every statement.
    pub fn check_execute(
        &self,
        dialect: Dialect,
        sql: &str,
        read_only: bool,
    ) -> Result<(), Refused> {
        if read_only {
            return Err(self.refuse(
                "`execute` is not available in a read-only session (a validator's check-database); use `query`".into(),
            ));
        }
        let statement = self.parse_one(dialect, sql)?;
        match &statement {
            Statement::Insert(insert) => {
                let TableObject::TableName(name) = &insert.table else {
                    return Err(self.refuse("INSERT into a table function is refused".into()));
                };
                let table = self.table_ref(name)?;
                if insert.returning.is_some() || insert.output.is_some() {
                    return Err(self.refuse(
                        "RETURNING is refused: `execute` returns a row count; read with `query`"
                            .into(),
                    ));
                }
                if insert.on.is_some()
                    || insert.or.is_some()
                    || insert.replace_into
                    || insert.ignore
                {
                    return Err(self.refuse("INSERT with ON CONFLICT / ON DUPLICATE KEY / OR REPLACE / IGNORE is refused; write a plain INSERT".into()));
                }
                if !insert.assignments.is_empty() {
                    return Err(self.refuse(
                        "INSERT … SET is refused; list the columns and use VALUES".into(),
                    ));
                }
                if insert.columns.is_empty() {
                    self.can_write(dialect, &table, None)?;
                }
                for column in &insert.columns {
                    let column = self.column_name(dialect, column, &table, None)?;
                    self.can_write(dialect, &table, Some(&column))?;
                }
                let Some(source) = &insert.source else {
                    return Err(self.refuse("INSERT without VALUES or SELECT is refused".into()));
                };
                // MySQL resolves a name in VALUES, even one in a subquery whose tables lack
                // it, against the row being inserted. The others refuse such a name anyway.
                if let SetExpr::Values(values) = source.body.as_ref()
                    && names_a_column_in(values, dialect != Dialect::MySql)
                {
                    return Err(self.refuse(
                        "a VALUES row names a column, which MySQL reads from the row being inserted; give values or parameters ($1), and read other tables with INSERT … SELECT".into(),
                    ));
                }
                self.check_reads(dialect, source.as_ref())
            }
            Statement::Update(update) => {
                if update.returning.is_some() || update.output.is_some() {
                    return Err(self.refuse(
                        "RETURNING is refused: `execute` returns a row count; read with `query`"
                            .into(),
                    ));
                }
                if update.or.is_some() {
                    return Err(self.refuse("UPDATE OR … is refused".into()));
                }
                let table = self.single_table(&update.table)?;
                let alias = match &update.table.relation {
                    TableFactor::Table { alias, .. } => alias.as_ref().map(|a| &a.name),
                    _ => None,
                };
                for a in &update.assignments {
                    let names: Vec<&ObjectName> = match &a.target {
                        AssignmentTarget::ColumnName(n) => vec![n],
                        AssignmentTarget::Tuple(ns) => ns.iter().collect(),
                    };
                    for n in names {
                        let column = self.column_name(dialect, n, &table, alias)?;
                        self.can_write(dialect, &table, Some(&column))?;
                    }
                    self.check_reads(dialect, &a.value)?;
                }
                // A WHERE reads the target's rows: the affected count would leak them. So
                // does a SET expression naming a column (`n = CASE WHEN secret …`, or all of
                // them, `concat(t.*)`): through the count of rows it changes, an error it
                // raises, or the value it copies. And so does MySQL's ORDER BY, which picks
                // the rows a LIMIT lets through by their values.
                let set_reads_columns = update
                    .assignments
                    .iter()
                    .any(|a| names_a_column_in(&a.value, false));
                if update.selection.is_some()
                    || update.from.is_some()
                    || set_reads_columns
                    || !update.order_by.is_empty()
                {
                    self.can_read(dialect, &table)?;
                }
                if let Some(from) = &update.from {
                    let (UpdateTableFromKind::BeforeSet(tables)
                    | UpdateTableFromKind::AfterSet(tables)) = from;
                    self.check_reads(dialect, tables)?;
                }
                self.check_reads(dialect, &update.selection)?;
                self.check_reads(dialect, &update.order_by)?;
                self.check_reads(dialect, &update.limit)
            }
            Statement::Delete(delete) => {
                if delete.returning.is_some() || delete.output.is_some() {
                    return Err(self.refuse(
                        "RETURNING is refused: `execute` returns a row count; read with `query`"
                            .into(),
                    ));
                }
                if !delete.tables.is_empty() {
                    return Err(
                        self.refuse("multi-table DELETE is refused; delete from one table".into())
                    );
                }
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                    &delete.from;
                let [only] = from.as_slice() else {
                    return Err(self.refuse("DELETE from more than one table is refused".into()));
                };
                // On MySQL `DELETE FROM t USING …` is the multi-table form: `t` names a
                // table *of the USING list*, by its alias if it has one, so `DELETE FROM
                // trash USING items AS trash` deletes from `items`.
                if dialect == Dialect::MySql && delete.using.is_some() {
                    return Err(self.refuse(
                        "DELETE … USING is refused on MySQL/MariaDB (a multi-table DELETE, whose target names a table of USING); delete from one table and read others in a subquery".into(),
                    ));
                }
                let table = self.single_table(only)?;
                self.can_write(dialect, &table, None)?;
                if delete.selection.is_some()
                    || delete.using.is_some()
                    || !delete.order_by.is_empty()
                {
                    self.can_read(dialect, &table)?;
                }
                self.check_reads(dialect, &delete.using)?;
                self.check_reads(dialect, &delete.selection)?;
                self.check_reads(dialect, &delete.order_by)?;
                self.check_reads(dialect, &delete.limit)
            }
            other => Err(self.refuse(format!(
                "`execute` runs only INSERT, UPDATE or DELETE; this is {}",
                statement_kind(other)
            ))),
        }
    }

    /// Checks a backfill's `describe()`: the table readable, each `writes` column writable,
    /// `key` and `reads` plain column names, and `filter` a boolean expression over the
    /// table's own columns and allow-listed functions.
    pub fn check_backfill(
        &self,
        dialect: Dialect,
        table: &str,
        key: &str,
        reads: &[String],
        writes: &[String],
        filter: Option<&str>,
    ) -> Result<(), Refused> {
        // The host quotes every name of a backfill exactly as the plugin gave it
        // (`godwit_core::sql::quote_table`), so each is compared as a quoted name: `Users` is not `users`
        // on PostgreSQL.
        let exact = |text: &str| Name {
            text: text.to_string(),
            quoted: true,
        };
        let parts: Vec<&str> = table.split('.').collect();
        if !parts.iter().all(|p| is_plain_identifier(p)) {
            return Err(self.refuse(format!(
                "backfill table `{table}` is not a table name (`table` or `schema.table`, letters, digits, `_`)"
            )));
        }
        let t = match parts.as_slice() {
            [t] => TableRef {
                schema: None,
                table: exact(t),
            },
            [s, t] => TableRef {
                schema: Some(exact(s)),
                table: exact(t),
            },
            _ => {
                return Err(self.refuse(format!(
                    "backfill table `{table}` is not a table name (`table` or `schema.table`)"
                )));
            }
        };
        self.can_read(dialect, &t)?;
        let keys: Vec<&str> = key.split(',').map(str::trim).collect();
        for c in keys
            .iter()
            .copied()
            .chain(reads.iter().map(String::as_str))
            .chain(writes.iter().map(String::as_str))
        {
            if !is_plain_identifier(c) {
                return Err(self.refuse(format!(
                    "backfill column `{c}` of `{t}` is not a plain column name (letters, digits, `_`)"
                )));
            }
        }
        if writes.is_empty() {
            return Err(self.refuse("the backfill names no column in `writes`".into()));
        }
        for w in writes {
            if keys.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                return Err(self.refuse(format!("the backfill may not write its key column `{w}`")));
            }
            self.can_write(dialect, &t, Some(&exact(w)))?;
        }
        let Some(filter) = filter else {
            return Ok(());
        };
        let expr = self.parse_expr(dialect, filter)?;
        if !is_boolean_shape(&expr) {
            return Err(self.refuse(format!(
                "backfill filter `{filter}` is not a boolean condition (e.g. `email_normalized IS NULL`)"
            )));
        }
        let mut v = FilterCheck {
            caps: self,
            dialect,
            table: &t,
            refused: None,
        };
        let _ = expr.visit(&mut v);
        match v.refused {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    fn parse_one(&self, dialect: Dialect, sql: &str) -> Result<Statement, Refused> {
        lex_guard(dialect, sql).map_err(|e| self.refuse(e))?;
        // Two independent readings must agree there is one statement: godwit's splitter
        // (the servers' lexical rules) and sqlparser.
        match godwit_core::split::split(sql, dialect) {
            Ok(s) if s.len() == 1 => {}
            Ok(s) => {
                return Err(self.refuse(format!(
                    "exactly one statement is allowed per call; found {}",
                    s.len()
                )));
            }
            Err(e) => return Err(self.refuse(format!("the statement cannot be read: {e}"))),
        }
        // sqlparser reads `$1` only as PostgreSQL does; the others get their own spelling.
        let translated = match dialect {
            Dialect::Postgres => sql.to_string(),
            _ => {
                let found = godwit_core::split::placeholders(sql, dialect)
                    .map_err(|e| self.refuse(format!("the statement cannot be read: {e}")))?;
                let mut out = String::with_capacity(sql.len());
                let mut last = 0;
                for p in found {
                    out.push_str(&sql[last..p.span.start]);
                    out.push('?');
                    last = p.span.end;
                }
                out.push_str(&sql[last..]);
                out
            }
        };
        let mut statements = parse(&translated, dialect).map_err(|e| {
            self.refuse(format!(
                "the statement cannot be parsed, so it cannot be proved allowed: {e}"
            ))
        })?;
        if statements.len() != 1 {
            return Err(self.refuse(format!(
                "exactly one statement is allowed per call; found {}",
                statements.len()
            )));
        }
        Ok(statements.remove(0))
    }

    fn parse_expr(&self, dialect: Dialect, text: &str) -> Result<Expr, Refused> {
        let fail =
            |e: String| self.refuse(format!("backfill filter `{text}` cannot be parsed: {e}"));
        lex_guard(dialect, text).map_err(&fail)?;
        let d = sqlparser_dialect(dialect);
        let mut parser = Parser::new(d.as_ref())
            .try_with_sql(text)
            .map_err(|e| fail(e.to_string()))?;
        let expr = parser.parse_expr().map_err(|e| fail(e.to_string()))?;
        if parser.peek_token().token != Token::EOF {
            return Err(fail(format!(
                "unexpected `{}` after the expression",
                parser.peek_token().token
            )));
        }
        Ok(expr)
    }

    fn table_ref(&self, name: &ObjectName) -> Result<TableRef, Refused> {
        let parts: Vec<&Ident> = name
            .0
            .iter()
            .map(|p| p.as_ident())
            .collect::<Option<_>>()
            .ok_or_else(|| self.refuse(format!("table name `{name}` is not a plain name")))?;
        match parts.as_slice() {
            [t] => Ok(TableRef { schema: None, table: Name::from_ident(t) }),
            [s, t] => Ok(TableRef { schema: Some(Name::from_ident(s)), table: Name::from_ident(t) }),
            _ => Err(self.refuse(format!(
                "table name `{name}` names another database or catalog; only `table` or `schema.table` is allowed"
            ))),
        }
    }

    /// A column an INSERT or UPDATE writes in `table` (also called `alias`). A qualified
    /// name must name the target itself: MySQL reads `other.col` as a column of another
    /// table, and PostgreSQL `col.field` as a field of a composite column `col`.
    fn column_name(
        &self,
        dialect: Dialect,
        name: &ObjectName,
        table: &TableRef,
        alias: Option<&Ident>,
    ) -> Result<Name, Refused> {
        let parts: Option<Vec<&Ident>> = name.0.iter().map(|p| p.as_ident()).collect();
        let Some((column, qualifier)) = parts.as_deref().and_then(<[_]>::split_last) else {
            return Err(self.refuse(format!("column `{name}` is not a plain name")));
        };
        let names_target = |q: &Ident| {
            let key = Name::from_ident(q).key(dialect);
            key == table.table.key(dialect)
                || alias.is_some_and(|a| Name::from_ident(a).key(dialect) == key)
        };
        match qualifier {
            [] => Ok(Name::from_ident(column)),
            [q] if dialect != Dialect::Postgres && names_target(q) => Ok(Name::from_ident(column)),
            _ => Err(self.refuse(format!(
                "column `{name}` is qualified with something other than the table written; name the column alone"
            ))),
        }
    }

    fn single_table(&self, t: &TableWithJoins) -> Result<TableRef, Refused> {
        match (&t.relation, t.joins.is_empty()) {
            (TableFactor::Table { name, args: None, .. }, true) => self.table_ref(name),
            _ => Err(self.refuse(format!(
                "the target `{t}` must be one plain table (no joins); read other tables in a subquery"
            ))),
        }
    }

    /// Walks `node` for every table read and function called.
    fn check_reads<V: Visit>(&self, dialect: Dialect, node: &V) -> Result<(), Refused> {
        let mut v = ReadCheck {
            caps: self,
            dialect,
            ctes: Vec::new(),
            refused: None,
        };
        let _ = node.visit(&mut v);
        match v.refused {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }
}

/// The database confines a plugin's statements to these grants (godwit-db's drivers ask
/// through [`Scope`]), behind the checker above.
impl Scope for Capabilities {
    fn may_read(&self, schema: Option<&str>, table: &str) -> bool {
        self.reads_table(schema, table)
    }

    fn may_write(&self, schema: Option<&str>, table: &str, column: Option<&str>) -> bool {
        self.writes_column(schema, table, column)
    }

    fn may_write_any(&self, schema: Option<&str>, table: &str) -> bool {
        self.writes_any_column(schema, table)
    }

    fn canonical(&self) -> String {
        self.grants_text()
    }

    fn enforcement(&self) -> godwit_core::Enforcement {
        Capabilities::enforcement(self)
    }

    fn prepared_role(&self) -> Option<&str> {
        self.database_role()
    }
}

/// Whether this node itself (not what it contains) names a column, a row or all columns.
fn names_a_column(e: &Expr) -> bool {
    let wildcard = |arg: &FunctionArg| {
        let (FunctionArg::Unnamed(arg)
        | FunctionArg::Named { arg, .. }
        | FunctionArg::ExprNamed { arg, .. }) = arg;
        !matches!(arg, FunctionArgExpr::Expr(_))
    };
    match e {
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::QualifiedWildcard(..)
        | Expr::Wildcard(_) => true,
        Expr::Function(f) => {
            matches!(&f.args, FunctionArguments::List(list) if list.args.iter().any(wildcard))
        }
        _ => false,
    }
}

/// Whether `node` uses a value of the row it is evaluated on: names a column (by name or
/// qualified), the whole row (`t` on PostgreSQL), or every column as a function's argument
/// (`concat(t.*)`), in a subquery too unless `outside_subqueries`. (In an INSERT's VALUES,
/// MySQL reads such a name from the row being inserted, a column the plugin may not read,
/// even from a subquery whose tables lack it.)
fn names_a_column_in<V: Visit>(node: &V, outside_subqueries: bool) -> bool {
    struct Walk {
        depth: usize,
        outside_subqueries: bool,
    }
    impl Visitor for Walk {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match (self.depth == 0 || !self.outside_subqueries) && names_a_column(e) {
                true => ControlFlow::Break(()),
                false => ControlFlow::Continue(()),
            }
        }
    }
    node.visit(&mut Walk {
        depth: 0,
        outside_subqueries,
    })
    .is_break()
}

/// Reads `sql` the way the server's own lexer does and refuses every construct whose
/// boundaries another reader (sqlparser, a server in another mode) could see elsewhere.
///
/// Accepted: ASCII outside strings, quoted names and comments; plain `'…'` strings
/// (quote doubled to escape, no backslash on PostgreSQL and MySQL); quoted names in the
/// database's own style; comments that start and end the same way for every reader;
/// `$1`-style placeholders. Everything else is refused with what to write instead:
/// MySQL/MariaDB executable comments (`/*!`, `/*M!`, `/*+`…), a comment inside a
/// comment (PostgreSQL nests them, MySQL and SQLite do not), `--` not followed by ASCII
/// whitespace on MySQL, `#` outside MySQL, prefixed strings (`E''`, `U&''`, `N''`,
/// `_utf8''`, `B''`…), dollar quotes, backslashes in strings where `sql_mode` or
/// `standard_conforming_strings` would change their meaning, `@` variables on MySQL,
/// Unicode whitespace and control characters between tokens.
fn lex_guard(dialect: Dialect, sql: &str) -> Result<(), String> {
    use Dialect::{MySql, Postgres, Sqlite};
    let b = sql.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let line_of = |i: usize| sql[..i].matches('\n').count() + 1;
    let mut i = 0;
    // The word just before the current token (through spaces and comments): a MySQL
    // character-set introducer (`_utf8 'x'`) or SQLite's `x'…'`.
    let mut last_word: Option<&str> = None;
    while i < b.len() {
        let c = b[i];
        let prev = if i == 0 { 0 } else { b[i - 1] };
        let word_before = last_word.take();
        match c {
            0 => return Err("a NUL byte is refused".into()),
            b' ' | b'\t' | b'\n' | b'\r' => {
                last_word = word_before;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while word(at(i)) {
                    i += 1;
                }
                last_word = Some(&sql[start..i]);
            }
            // Line comments: PostgreSQL ends them at CR or LF, the others at LF only, so a
            // lone CR inside one is refused.
            b'-' if at(i + 1) == b'-' => {
                if dialect == MySql {
                    let next = at(i + 2);
                    // sql_lex.cc: `--` starts a comment only before ASCII whitespace or a
                    // control character (or the end of the text); other readers differ on
                    // the control characters, so only space, tab and newline are accepted.
                    if !matches!(next, b' ' | b'\t' | b'\n' | b'\r') {
                        return Err(format!(
                            "`--` not followed by a space, tab or newline (line {}) is refused on MySQL/MariaDB, where it may not be a comment; write `- -` for two minus signs or `-- ` for a comment",
                            line_of(i)
                        ));
                    }
                }
                i = line_comment(b, i + 2).map_err(|e| format!("{e} (line {})", line_of(i)))?;
                last_word = word_before;
            }
            b'#' if dialect == MySql => {
                i = line_comment(b, i + 1).map_err(|e| format!("{e} (line {})", line_of(i)))?;
                last_word = word_before;
            }
            b'#' => {
                return Err(format!(
                    "`#` (line {}) is refused: MySQL reads it as a comment, write the operator another way",
                    line_of(i)
                ));
            }
            b'/' if at(i + 1) == b'*' => {
                let body = i + 2;
                if dialect == MySql {
                    let first = at(body);
                    let empty = first == b'*' && at(body + 1) == b'/';
                    if !(empty || matches!(first, b' ' | b'\t' | b'\n' | b'\r')) {
                        return Err(format!(
                            "the comment at line {} is refused: MySQL/MariaDB run executable comments (`/*!`, `/*M!`, `/*!50000`, `/*+ hints */`); write a comment as `/* ` with a space after the star",
                            line_of(i)
                        ));
                    }
                }
                let Some(len) = sql[body..].find("*/") else {
                    return Err(format!("the comment at line {} is not closed", line_of(i)));
                };
                let text = &sql[body..body + len];
                if text.contains("/*") {
                    return Err(format!(
                        "a comment inside a comment (line {}) is refused: PostgreSQL nests comments, MySQL and SQLite do not",
                        line_of(i)
                    ));
                }
                if text.contains('\0') {
                    return Err("a NUL byte is refused".into());
                }
                i = body + len + 2;
                last_word = word_before;
            }
            b'\'' | b'"' if dialect == MySql && word_before.is_some_and(|w| w.starts_with('_')) => {
                return Err(format!(
                    "the character-set introducer `{}` at line {} is refused: it changes how the server reads the string; pass the value as a parameter",
                    word_before.unwrap_or_default(),
                    line_of(i)
                ));
            }
            b'\'' | b'"'
                if (word(prev) || prev == b'&' || prev == b'$')
                    && !(c == b'\''
                        && dialect == Sqlite
                        && word(prev)
                        && matches!(word_before, Some("x" | "X"))) =>
            {
                return Err(format!(
                    "the prefixed string or name at line {} (`E'…'`, `U&'…'`, `N'…'`, `B'…'`, `X'…'`…) is refused: its escapes depend on the server; pass the value as a parameter",
                    line_of(i)
                ));
            }
            b'\'' => {
                i = quoted(b, i, b'\'', dialect != Sqlite)
                    .map_err(|e| format!("a string at line {}: {e}", line_of(i)))?;
            }
            b'"' => {
                // An identifier on PostgreSQL and SQLite; a string on MySQL (the session's
                // sql_mode has no ANSI_QUOTES). A backslash reads differently in each.
                i = quoted(b, i, b'"', dialect == MySql || dialect == Postgres)
                    .map_err(|e| format!("a quoted name or string at line {}: {e}", line_of(i)))?;
            }
            b'`' if dialect != Postgres => {
                i = quoted(b, i, b'`', false)
                    .map_err(|e| format!("a quoted name at line {}: {e}", line_of(i)))?;
            }
            b'`' => {
                return Err(format!(
                    "a backtick (line {}) is refused on PostgreSQL",
                    line_of(i)
                ));
            }
            b'[' if dialect == Sqlite => {
                return Err(format!(
                    "`[name]` quoting (line {}) is refused; quote names with double quotes",
                    line_of(i)
                ));
            }
            b'$' => {
                // `$1`, `$2`…: placeholders, at a token start only.
                let mut j = i + 1;
                while at(j).is_ascii_digit() {
                    j += 1;
                }
                if j == i + 1 || word(prev) || word(at(j)) || at(j) == b'$' {
                    return Err(format!(
                        "`$` at line {} is refused except in placeholders `$1`, `$2`…: dollar quotes and `$` in names read differently on each server; pass values as parameters",
                        line_of(i)
                    ));
                }
                i = j;
            }
            b'@' if dialect == MySql => {
                return Err(format!(
                    "`@` at line {} is refused: user and server variables (`@x`, `@@version`) are not table data a grant covers",
                    line_of(i)
                ));
            }
            b'\\' => {
                return Err(format!(
                    "a backslash outside a string (line {}) is refused",
                    line_of(i)
                ));
            }
            b'0'..=b'9' if !word(prev) => {
                // A number: digits, one dot, an exponent. A word glued to it (`1from`,
                // `0x41`, `1e`) reads differently on each server.
                let mut j = i;
                while at(j).is_ascii_digit() {
                    j += 1;
                }
                if at(j) == b'.' {
                    j += 1;
                    while at(j).is_ascii_digit() {
                        j += 1;
                    }
                }
                if matches!(at(j), b'e' | b'E') {
                    let mut k = j + 1;
                    if matches!(at(k), b'+' | b'-') {
                        k += 1;
                    }
                    if at(k).is_ascii_digit() {
                        j = k;
                        while at(j).is_ascii_digit() {
                            j += 1;
                        }
                    }
                }
                if word(at(j)) || at(j) == b'$' || at(j) == b'.' {
                    return Err(format!(
                        "the number at line {} runs into a name or a dot (`1from`, `0x41`, `1.2.3`); separate them with a space",
                        line_of(i)
                    ));
                }
                i = j;
            }
            b'.' if at(i + 1).is_ascii_digit() && (word(prev) || prev == b'"' || prev == b'`') => {
                return Err(format!(
                    "a name part starting with a digit (line {}) is refused; quote it",
                    line_of(i)
                ));
            }
            c if c.is_ascii_graphic() => i += 1,
            c if c.is_ascii() => {
                return Err(format!(
                    "control character {c:#04x} at line {} is refused between tokens",
                    line_of(i)
                ));
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or('\u{fffd}');
                return Err(format!(
                    "the character U+{:04X} at line {} is refused outside strings and quoted names: servers disagree on which Unicode characters are spaces or name characters; quote the name",
                    ch as u32,
                    line_of(i)
                ));
            }
        }
    }
    Ok(())
}

/// The end of a line comment whose text starts at `from`: after its LF, or the end.
fn line_comment(b: &[u8], from: usize) -> Result<usize, String> {
    let mut j = from;
    while j < b.len() {
        match b[j] {
            b'\n' => return Ok(j + 1),
            b'\r' if b.get(j + 1) != Some(&b'\n') => {
                return Err(
                    "a carriage return inside a line comment is refused: PostgreSQL ends the comment there, MySQL and SQLite do not".into(),
                );
            }
            0 => return Err("a NUL byte is refused".into()),
            _ => j += 1,
        }
    }
    Ok(j)
}

/// The end of a quoted token opening at `open` with `q`: the quote doubled escapes it;
/// a backslash is refused where `no_backslash` says the server's mode would change it.
fn quoted(b: &[u8], open: usize, q: u8, no_backslash: bool) -> Result<usize, String> {
    let mut j = open + 1;
    loop {
        match b.get(j) {
            None => return Err("not closed".into()),
            Some(0) => return Err("a NUL byte is refused".into()),
            Some(b'\\') if no_backslash => {
                return Err("a backslash inside it is refused: whether it escapes the next character depends on the server's mode; pass the value as a parameter".into());
            }
            Some(&c) if c == q => {
                if b.get(j + 1) == Some(&q) {
                    j += 2;
                } else {
                    return Ok(j + 1);
                }
            }
            Some(_) => j += 1,
        }
    }
}

fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!("a {} statement", words.join(" ").to_uppercase())
}

/// Words that are the server's information when written without parentheses:
/// PostgreSQL's SQL-value functions and MySQL's `CURRENT_USER`.
const SERVER_INFO_WORDS: &[&str] = &[
    "current_user",
    "session_user",
    "system_user",
    "current_role",
    "current_schema",
    "current_catalog",
];

fn is_server_info_word(d: Dialect, i: &Ident) -> bool {
    i.quote_style.is_none()
        && (SERVER_INFO_WORDS.contains(&i.value.to_ascii_lowercase().as_str())
            || (d == Dialect::Postgres && i.value.eq_ignore_ascii_case("user")))
}

/// SQLite's read-only schema pragmas, usable as table functions.
fn is_catalog_pragma(name: &ObjectName) -> bool {
    name.0.len() == 1
        && name.0[0].as_ident().is_some_and(|i| {
            matches!(
                i.value.to_lowercase().as_str(),
                "pragma_table_info"
                    | "pragma_table_xinfo"
                    | "pragma_index_list"
                    | "pragma_index_info"
                    | "pragma_foreign_key_list"
            )
        })
}

/// Built-ins with no side effects and no access to anything but their arguments. Server
/// information (`database()`, `current_user`, `version()`, `@@variables`…) is refused:
/// no grant covers it.
const ALLOWED_FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "lower",
    "upper",
    "trim",
    "ltrim",
    "rtrim",
    "btrim",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "coalesce",
    "nullif",
    "abs",
    "round",
    "floor",
    "ceil",
    "ceiling",
    "trunc",
    "sign",
    "mod",
    "substr",
    "substring",
    "concat",
    "concat_ws",
    "replace",
    "left",
    "right",
    "position",
    "strpos",
    "instr",
    "lpad",
    "rpad",
    "greatest",
    "least",
    "ifnull",
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "date",
    "time",
    "datetime",
    "julianday",
    "strftime",
    "date_trunc",
    "extract",
    "date_part",
    "to_char",
    "md5",
    "reverse",
    "split_part",
    "string_agg",
    "group_concat",
    "bool_and",
    "bool_or",
    "every",
    "row_number",
    "rank",
    "dense_rank",
];

fn function_allowed(name: &ObjectName) -> Option<String> {
    let [part] = name.0.as_slice() else {
        return None;
    };
    let n = part.as_ident()?.value.to_lowercase();
    ALLOWED_FUNCTIONS.contains(&n.as_str()).then_some(n)
}

/// The name of the database or schema the session is in: catalog information, allowed
/// only to a plugin granted a catalog by name (see [`Capabilities::may_read_catalog`]).
const LOCATION_FUNCTIONS: &[&str] = &["database", "schema", "current_database", "current_schema"];

fn is_location_function(name: &ObjectName) -> bool {
    match name.0.as_slice() {
        [part] => part.as_ident().is_some_and(|i| {
            i.quote_style.is_none()
                && LOCATION_FUNCTIONS.contains(&i.value.to_ascii_lowercase().as_str())
        }),
        _ => false,
    }
}

struct ReadCheck<'a> {
    caps: &'a Capabilities,
    dialect: Dialect,
    /// CTE names in scope (as [`Name::key`]), innermost last.
    ctes: Vec<Vec<String>>,
    refused: Option<Refused>,
}

impl ReadCheck<'_> {
    fn stop(&mut self, message: String) -> ControlFlow<()> {
        self.refused = Some(self.caps.refuse(message));
        ControlFlow::Break(())
    }

    fn stop_with(&mut self, r: Refused) -> ControlFlow<()> {
        self.refused = Some(r);
        ControlFlow::Break(())
    }

    fn check_body(&mut self, body: &SetExpr) -> ControlFlow<()> {
        match body {
            SetExpr::Select(select) => {
                if select.into.is_some() {
                    return self.stop("SELECT INTO is refused: it creates a table".into());
                }
                ControlFlow::Continue(())
            }
            SetExpr::Query(q) => self.check_body(&q.body),
            SetExpr::SetOperation { left, right, .. } => {
                self.check_body(left)?;
                self.check_body(right)
            }
            SetExpr::Values(_) => ControlFlow::Continue(()),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                self.stop(
                    "a data-modifying statement inside a query (e.g. a writable CTE) is refused"
                        .into(),
                )
            }
            other => self.stop(format!("`{other}` is not a plain SELECT and is refused")),
        }
    }
}

impl Visitor for ReadCheck<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if !query.locks.is_empty() {
            return self
                .stop("a locking clause (FOR UPDATE / FOR SHARE) is refused in `query`".into());
        }
        if query.for_clause.is_some()
            || query.settings.is_some()
            || query.format_clause.is_some()
            || !query.pipe_operators.is_empty()
        {
            return self.stop("this query syntax is not supported; write a plain SELECT".into());
        }
        self.check_body(&query.body)?;
        let mut names = Vec::new();
        if let Some(with) = &query.with {
            for (i, cte) in with.cte_tables.iter().enumerate() {
                names.push(Name::from_ident(&cte.alias.name).key(self.dialect));
                self.check_body(&cte.query.body)?;
                if !with.recursive {
                    // In a plain WITH a CTE's body cannot see itself or later CTEs, so a name
                    // there means a real table; refuse rather than guess which.
                    let later: HashSet<String> = with.cte_tables[i..]
                        .iter()
                        .map(|c| Name::from_ident(&c.alias.name).folded())
                        .collect();
                    let mut seen = Names::default();
                    let _ = cte.query.visit(&mut seen);
                    if let Some(clash) = seen.0.iter().find(|n| later.contains(*n)) {
                        return self.stop(format!(
                            "CTE `{}` reads a table named like a CTE (`{clash}`); rename the CTE so the table it reads is unambiguous",
                            cte.alias.name.value
                        ));
                    }
                }
            }
        }
        self.ctes.push(names);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.ctes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table { args: None, .. }
            | TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. } => ControlFlow::Continue(()),
            // SQLite's catalog pragmas as table functions read the schema, nothing else;
            // the name itself is checked as a table like any other (`pre_visit_relation`).
            TableFactor::Table { name, .. }
                if self.dialect == Dialect::Sqlite && is_catalog_pragma(name) =>
            {
                ControlFlow::Continue(())
            }
            TableFactor::Table { name, .. } => {
                self.stop(format!("table function `{name}` is refused in FROM"))
            }
            other => self.stop(format!("`{other}` in FROM is not supported and is refused")),
        }
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
        let table = match self.caps.table_ref(name) {
            Ok(t) => t,
            Err(r) => return self.stop_with(r),
        };
        // A name is a CTE only when it is one by the server's rules for sure (exactly, on
        // MySQL); otherwise it is checked as the table it may be.
        let key = table.table.key(self.dialect);
        if table.schema.is_none() && self.ctes.iter().any(|scope| scope.contains(&key)) {
            return ControlFlow::Continue(());
        }
        match self.caps.can_read(self.dialect, &table) {
            Ok(()) => ControlFlow::Continue(()),
            Err(r) => self.stop_with(r),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(f) if is_location_function(&f.name) && self.caps.may_read_catalog() => {
                ControlFlow::Continue(())
            }
            Expr::Function(f) => {
                if function_allowed(&f.name).is_none() {
                    return self.stop(format!(
                        "function `{}` is refused: only side-effect-free built-ins are allowed ({})",
                        f.name,
                        ALLOWED_FUNCTIONS.join(", ")
                    ));
                }
                if let FunctionArguments::Subquery(_) = f.args {
                    return self.stop(format!(
                        "function `{}` with a subquery argument is refused",
                        f.name
                    ));
                }
                ControlFlow::Continue(())
            }
            Expr::BinaryOp {
                op: sqlparser::ast::BinaryOperator::Assignment,
                ..
            } => self.stop("assigning a session variable (`:=`) is refused".into()),
            Expr::Identifier(i)
                if i.quote_style.is_none()
                    && i.value.eq_ignore_ascii_case("current_schema")
                    && self.caps.may_read_catalog() =>
            {
                ControlFlow::Continue(())
            }
            Expr::Identifier(i) if is_server_info_word(self.dialect, i) => self.stop(format!(
                "`{}` is refused: it is the server's information, not table data a grant covers",
                i.value
            )),
            Expr::Prefixed { .. } | Expr::Named { .. } if self.dialect == Dialect::MySql => {
                self.stop("this expression is not supported and is refused".into())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Unqualified relation names anywhere under a node, lower-cased.
#[derive(Default)]
struct Names(Vec<String>);

impl Visitor for Names {
    type Break = ();
    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
        if let [part] = name.0.as_slice()
            && let Some(i) = part.as_ident()
        {
            self.0.push(Name::from_ident(i).folded());
        }
        ControlFlow::Continue(())
    }
}

struct FilterCheck<'a> {
    caps: &'a Capabilities,
    dialect: Dialect,
    table: &'a TableRef,
    refused: Option<Refused>,
}

impl Visitor for FilterCheck<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.refused = Some(self.caps.refuse(
            "a backfill filter may not contain a subquery; it can only use the table's own columns".into(),
        ));
        ControlFlow::Break(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let refuse = |m: String| Some(self.caps.refuse(m));
        let problem = match expr {
            Expr::Function(f) if function_allowed(&f.name).is_none() => refuse(format!(
                "function `{}` is refused in a backfill filter: only side-effect-free built-ins are allowed",
                f.name
            )),
            Expr::CompoundIdentifier(parts) => {
                let d = self.dialect;
                let qualifier: Vec<String> = parts[..parts.len() - 1]
                    .iter()
                    .map(|i| Name::from_ident(i).key(d))
                    .collect();
                let table = self.table.table.key(d);
                let ok = match qualifier.as_slice() {
                    [t] => *t == table,
                    [s, t] => {
                        self.table.schema.as_ref().map(|n| n.key(d)).as_ref() == Some(s)
                            && *t == table
                    }
                    _ => false,
                };
                (!ok).then(|| {
                    self.caps.refuse(format!(
                        "backfill filter names `{}`, which is not a column of `{}`",
                        expr, self.table
                    ))
                })
            }
            Expr::BinaryOp {
                op: sqlparser::ast::BinaryOperator::Assignment,
                ..
            } => refuse("assignment is refused in a backfill filter".into()),
            Expr::Identifier(i) if is_server_info_word(self.dialect, i) => refuse(format!(
                "`{}` is refused in a backfill filter: it is the server's information",
                i.value
            )),
            _ => None,
        };
        match problem {
            Some(r) => {
                self.refused = Some(r);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    }
}

/// Whether an expression is, syntactically, a condition (not `1`, `'x'` or `a + b`).
fn is_boolean_shape(expr: &Expr) -> bool {
    use sqlparser::ast::BinaryOperator as B;
    match expr {
        Expr::Nested(e) => is_boolean_shape(e),
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Not,
            expr,
        } => is_boolean_shape(expr),
        Expr::BinaryOp { op, left, right } => match op {
            B::And | B::Or | B::Xor => is_boolean_shape(left) && is_boolean_shape(right),
            B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq | B::Spaceship => true,
            _ => false,
        },
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsNotTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::InList { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::InSubquery { .. }
        | Expr::Exists { .. } => true,
        // A boolean column on its own.
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Value(v) => matches!(v.value, sqlparser::ast::Value::Boolean(_)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(read: &[&str], write: &[&str]) -> Capabilities {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let grants = Grants {
            read: v(read),
            write: v(write),
            ..Default::default()
        };
        let requests = Requests {
            read: grants.read.clone(),
            write: grants.write.clone(),
            ..Default::default()
        };
        Capabilities::effective(&requests, &grants, "p")
    }

    const DIALECTS: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    #[test]
    fn queries_allowed() {
        let c = caps(&["users", "orders", "audit.events"], &[]);
        for sql in [
            "SELECT id, email FROM users WHERE id > 10 ORDER BY id LIMIT 5",
            "SELECT count(*), max(id) FROM users",
            "select lower(trim(email)), coalesce(name, 'x') from users",
            "SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id",
            "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders)",
            "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent JOIN users ON true",
            "SELECT * FROM (SELECT id FROM users) AS t",
            "SELECT CAST(id AS TEXT) FROM users UNION SELECT 'x'",
            "SELECT * FROM audit.events",
            "SELECT 1",
            "SELECT now()",
            "SELECT id FROM users -- a comment; DROP TABLE users",
            "SELECT id FROM users WHERE id = $1 AND email <> $2",
        ] {
            for d in DIALECTS {
                c.check_query(d, sql)
                    .unwrap_or_else(|e| panic!("{d} {sql}: {e}"));
            }
        }
        c.check_query(Dialect::Postgres, "SELECT * FROM public.users")
            .unwrap();
        c.check_query(Dialect::Postgres, r#"SELECT "Email" FROM "users""#)
            .unwrap();
        c.check_query(Dialect::MySql, "SELECT `id` FROM `users` WHERE id = 1")
            .unwrap();
    }

    #[test]
    fn queries_refused() {
        let c = caps(&["users"], &["users.*"]);
        for (sql, needle) in [
            ("SELECT * FROM secrets", "reading table `secrets`"),
            ("SELECT pg_sleep(10)", "function `pg_sleep`"),
            (
                "SELECT pg_terminate_backend(1)",
                "function `pg_terminate_backend`",
            ),
            (
                "SELECT id FROM users WHERE id IN (SELECT id FROM secrets)",
                "`secrets`",
            ),
            (
                "SELECT (SELECT max(x) FROM secrets) FROM users",
                "`secrets`",
            ),
            (
                "WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x",
                "data-modifying",
            ),
            (
                "WITH users AS (SELECT * FROM secrets) SELECT * FROM users",
                "`secrets`",
            ),
            (
                "WITH users AS (SELECT * FROM users) SELECT 1",
                "named like a CTE",
            ),
            ("SELECT * FROM users FOR UPDATE", "locking clause"),
            ("SELECT * INTO copy FROM users", "SELECT INTO"),
            ("SELECT 1; DELETE FROM users", "exactly one statement"),
            (
                "SELECT 1 /* x */; DELETE FROM users",
                "exactly one statement",
            ),
            ("DELETE FROM users", "only a plain SELECT"),
            ("SELECT * FROM generate_series(1, 10)", "table function"),
            ("SELECT * FROM pg_catalog.pg_authid", "pg_catalog.pg_authid"),
            ("SELECT * FROM godwit_migrations", "godwit_migrations"),
            ("SELECT * FROM other.users", "other.users"),
            ("SELECT public.lower('x')", "function `public.lower`"),
            ("SELECT nextval('s')", "function `nextval`"),
            ("SELECT * FROM \"secrets\"", "`secrets`"),
            ("SELEC 1", "cannot be parsed"),
            ("SELECT 'open", "not closed"),
        ] {
            let err = c
                .check_query(Dialect::Postgres, sql)
                .err()
                .unwrap_or_else(|| panic!("allowed: {sql}"))
                .to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
        for (sql, needle) in [
            ("TABLE secrets", ""),
            ("VALUES (pg_sleep(1))", "pg_sleep"),
            ("EXPLAIN ANALYZE DELETE FROM users", "only a plain SELECT"),
            ("SELECT * FROM users JOIN secrets USING (id)", "`secrets`"),
            (
                "SELECT * FROM users, LATERAL (SELECT * FROM secrets) s",
                "`secrets`",
            ),
            (
                "SELECT 1 WHERE 1 IN (WITH d AS (DELETE FROM users RETURNING id) SELECT id FROM d)",
                "data-modifying",
            ),
        ] {
            let err = c
                .check_query(Dialect::Postgres, sql)
                .err()
                .unwrap_or_else(|| panic!("allowed: {sql}"))
                .to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
        let err = c
            .check_query(Dialect::Sqlite, "SELECT load_extension('x')")
            .unwrap_err()
            .to_string();
        assert!(err.contains("load_extension"), "{err}");
        for (sql, needle) in [
            ("SELECT * FROM users INTO OUTFILE '/tmp/x'", ""),
            ("SELECT * FROM users FOR UPDATE", ""),
            ("SELECT SLEEP(5)", "function `SLEEP`"),
            (
                "SELECT 1 /*!, (DELETE FROM users) */",
                "executable comments",
            ),
            ("SELECT LOAD_FILE('/etc/passwd')", "LOAD_FILE"),
            ("SELECT * FROM mysql.user", "mysql.user"),
        ] {
            let err = c
                .check_query(Dialect::MySql, sql)
                .err()
                .unwrap_or_else(|| panic!("allowed: {sql}"))
                .to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
        let err = c
            .check_query(Dialect::Sqlite, "SELECT * FROM sqlite_master")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sqlite_master"), "{err}");
    }

    fn refused(c: &Capabilities, d: Dialect, sql: &str) {
        if let Ok(()) = c.check_query(d, sql) {
            panic!("{d}: allowed: {sql:?}");
        }
    }

    fn allowed(c: &Capabilities, d: Dialect, sql: &str) {
        c.check_query(d, sql)
            .unwrap_or_else(|e| panic!("{d}: {sql:?}: {e}"));
    }

    fn refused_execute(c: &Capabilities, d: Dialect, sql: &str) {
        if let Ok(()) = c.check_execute(d, sql, false) {
            panic!("{d}: allowed: {sql:?}");
        }
    }

    fn allowed_execute(c: &Capabilities, d: Dialect, sql: &str) {
        c.check_execute(d, sql, false)
            .unwrap_or_else(|e| panic!("{d}: {sql:?}: {e}"));
    }

    /// Finding 1 of issue 11: names compare by each server's rules.
    #[test]
    fn names_follow_each_servers_case_rules() {
        use Dialect::{MySql, Postgres, Sqlite};
        let c = caps(&["users"], &["users.email_normalized"]);
        // PostgreSQL: the CTE "Secrets" is not the table secrets.
        for sql in [
            r#"WITH "Secrets" AS (SELECT 1) SELECT * FROM secrets"#,
            r#"WITH "SECRETS" AS (SELECT 1) SELECT * FROM Secrets"#,
            r#"WITH secrets AS (SELECT 1) SELECT * FROM "Secrets""#,
            r#"WITH "Secrets" AS (SELECT 1) SELECT * FROM users, secrets"#,
            r#"WITH "Secrets" AS (SELECT 1) SELECT * FROM users WHERE id IN (SELECT 1 FROM secrets)"#,
            r#"WITH RECURSIVE "Secrets" AS (SELECT 1) SELECT * FROM secrets"#,
            r#"SELECT * FROM "Users""#,
            r#"SELECT * FROM "USERS""#,
            r#"SELECT * FROM public."Users""#,
            r#"SELECT * FROM "Public".users"#,
            "SELECT * FROM \"user\u{212A}\"",
        ] {
            refused(&c, Postgres, sql);
        }
        for sql in [
            r#"WITH Secrets AS (SELECT 1) SELECT * FROM SECRETS"#,
            r#"WITH "secrets" AS (SELECT 1) SELECT * FROM secrets"#,
            r#"WITH "Secrets" AS (SELECT 1) SELECT * FROM "Secrets""#,
            "SELECT * FROM Users",
            "SELECT * FROM PUBLIC.USERS",
            r#"SELECT * FROM "users""#,
        ] {
            allowed(&c, Postgres, sql);
        }
        // MySQL/MariaDB (lower_case_table_names = 0): table names are exact, quoted or not.
        for sql in [
            "WITH Secrets AS (SELECT 1) SELECT * FROM secrets",
            "WITH `Secrets` AS (SELECT 1) SELECT * FROM secrets",
            "SELECT * FROM Users",
            "SELECT * FROM `USERS`",
            "SELECT * FROM `user\u{212A}`",
        ] {
            refused(&c, MySql, sql);
        }
        for sql in [
            "WITH secrets AS (SELECT 1) SELECT * FROM secrets",
            "WITH `Secrets` AS (SELECT 1) SELECT * FROM `Secrets`",
            "SELECT `users`.`ID` FROM `users`",
        ] {
            allowed(&c, MySql, sql);
        }
        // SQLite: ASCII case never matters, quoted or not; other letters always do.
        for sql in [
            r#"WITH "Secrets" AS (SELECT 1) SELECT * FROM secrets"#,
            r#"SELECT * FROM "Users""#,
            "SELECT * FROM USERS",
            "SELECT * FROM `USERS`",
        ] {
            allowed(&c, Sqlite, sql);
        }
        refused(&c, Sqlite, "SELECT * FROM \"user\u{212A}\"");
        refused(&c, Sqlite, "SELECT * FROM \"USER\u{17F}\"");
        // Columns: exact when quoted on PostgreSQL, never case-sensitive on MySQL.
        for (d, sql, ok) in [
            (
                Postgres,
                r#"UPDATE users SET "Email_normalized" = 'x'"#,
                false,
            ),
            (Postgres, "UPDATE users SET EMAIL_NORMALIZED = 'x'", true),
            (
                Postgres,
                r#"UPDATE users SET "email_normalized" = 'x'"#,
                true,
            ),
            (MySql, "UPDATE users SET EMAIL_NORMALIZED = 'x'", true),
            (MySql, "UPDATE users SET `Email_Normalized` = 'x'", true),
            (MySql, "UPDATE Users SET email_normalized = 'x'", false),
            (
                Sqlite,
                r#"UPDATE "USERS" SET "Email_Normalized" = 'x'"#,
                true,
            ),
            (
                Sqlite,
                "UPDATE users SET \"email_normali\u{17F}ed\" = 'x'",
                false,
            ),
        ] {
            let r = c.check_execute(d, sql, false);
            assert_eq!(r.is_ok(), ok, "{d}: {sql}: {r:?}");
        }
    }

    /// How a grant names a quoted or mixed-case table: in double quotes, exactly.
    #[test]
    fn quoted_grants_name_exactly() {
        use Dialect::{MySql, Postgres, Sqlite};
        let c = caps(
            &[r#""Users""#, r#"audit."Events""#],
            &[r#""Users"."Email""#],
        );
        allowed(&c, Postgres, r#"SELECT * FROM "Users""#);
        allowed(&c, Postgres, r#"SELECT * FROM audit."Events""#);
        refused(&c, Postgres, "SELECT * FROM Users");
        refused(&c, Postgres, "SELECT * FROM users");
        refused(&c, Postgres, "SELECT * FROM audit.events");
        allowed(&c, MySql, "SELECT * FROM Users");
        allowed(&c, MySql, "SELECT * FROM `Users`");
        refused(&c, MySql, "SELECT * FROM users");
        allowed(&c, Sqlite, "SELECT * FROM users");
        assert!(
            c.check_execute(Postgres, r#"UPDATE "Users" SET "Email" = 'x'"#, false)
                .is_ok()
        );
        assert!(
            c.check_execute(Postgres, r#"UPDATE "Users" SET email = 'x'"#, false)
                .is_err()
        );
        let g = Grants {
            read: vec![r#""My ""odd"" table""#.into(), r#"s."a.b""#.into()],
            write: vec![r#""T".*"#.into()],
            ..Default::default()
        };
        g.validate().unwrap();
        let c = Capabilities::effective(
            &Requests {
                read: g.read.clone(),
                ..Default::default()
            },
            &g,
            "p",
        );
        allowed(&c, Postgres, r#"SELECT * FROM "My ""odd"" table""#);
        allowed(&c, Postgres, r#"SELECT * FROM s."a.b""#);
        refused(&c, Postgres, r#"SELECT * FROM s.a"#);
        for bad in [r#""unclosed"#, r#""""#, r#""a"b"#, "my table", "a.b.c.d"] {
            let g = Grants {
                read: vec![bad.into()],
                ..Default::default()
            };
            assert!(g.validate().is_err(), "{bad}");
        }
        // The refusal says how to grant a quoted name in TOML.
        let c = caps(&[], &[]);
        let err = c
            .check_query(Postgres, r#"SELECT * FROM "Users""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#"read = ['"Users"']"#), "{err}");
    }

    /// Finding 1 for backfills: the host quotes each name exactly as the plugin gave it.
    #[test]
    fn backfill_names_are_exact() {
        use Dialect::{MySql, Postgres, Sqlite};
        let c = caps(&["users"], &["users.email_normalized"]);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for (d, table, write, ok) in [
            (Postgres, "Users", "email_normalized", false),
            (Postgres, "users", "Email_normalized", false),
            (Postgres, "PUBLIC.users", "email_normalized", false),
            (Postgres, "public.users", "email_normalized", true),
            (MySql, "Users", "email_normalized", false),
            (MySql, "users", "EMAIL_NORMALIZED", true),
            (Sqlite, "USERS", "Email_Normalized", true),
            (Sqlite, "main.users", "email_normalized", true),
            (MySql, "main.users", "email_normalized", false),
        ] {
            let r = c.check_backfill(d, table, "id", &s(&[]), &s(&[write]), None);
            assert_eq!(r.is_ok(), ok, "{d} {table}.{write}: {r:?}");
        }
    }

    /// Finding 2 of issue 11: every executable-comment form, wherever SQL is accepted.
    #[test]
    fn mysql_executable_comments_are_refused() {
        let c = caps(&["users"], &["users.*"]);
        let forms = [
            "/*!",
            "/*!50000",
            "/*!50000 ",
            "/*!99999",
            "/*M!",
            "/*M!100100",
            "/*M!100100 ",
            "/*m!",
            "/*+",
            "/*+ ",
            "/*!*/ /*!",
            "/*\u{a0}!",
            "/*\x0b!",
            "/**!",
            "/*-!",
        ];
        for form in forms {
            for sql in [
                format!("SELECT 1 {form} , (SELECT 1) */"),
                format!("SELECT id FROM users {form} UNION SELECT secret FROM secrets */"),
                format!("SELECT id FROM users WHERE 1 = 1 {form}OR 1=1*/"),
                format!("{form} SELECT 1 */"),
                format!("SELECT/* /* nested */ {form} 1 */ 1"),
            ] {
                refused(&c, Dialect::MySql, &sql);
                assert!(
                    c.check_execute(Dialect::MySql, &format!("DELETE FROM users {sql}"), false)
                        .is_err(),
                    "{sql}"
                );
                let filter = format!("id = 1 {form} OR 1=1 */");
                assert!(
                    c.check_backfill(
                        Dialect::MySql,
                        "users",
                        "id",
                        &[],
                        &["email".into()],
                        Some(&filter)
                    )
                    .is_err(),
                    "{filter}"
                );
            }
        }
        // Plain comments and the same text in strings are fine.
        allowed(&c, Dialect::MySql, "SELECT id /* plain */ FROM users /**/");
        allowed(
            &c,
            Dialect::MySql,
            "SELECT '/*!50000 x */', \"/*M! y */\" FROM users",
        );
        allowed(
            &c,
            Dialect::MySql,
            "SELECT id FROM users /*\n! not executable */",
        );
        // PostgreSQL and SQLite never execute comments; only the nesting rule differs.
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            allowed(&c, d, "SELECT 1 /*! a plain comment here */");
            refused(&c, d, "SELECT 1 /* outer /* inner */ */");
            refused(&c, d, "SELECT 1 /* /* */ FROM secrets -- */");
        }
        refused(&c, Dialect::MySql, "SELECT 1 /* /* */ FROM secrets");
    }

    /// Finding 3 of issue 11: `--` and `#` comments as each server's lexer reads them.
    #[test]
    fn line_comments_follow_each_server() {
        let c = caps(&["users"], &["users.*"]);
        for ws in [
            "\u{a0}", "\u{2003}", "\u{3000}", "\u{85}", "\u{feff}", "\u{2028}", "x", "-", "1",
        ] {
            let sql = format!("SELECT id FROM users --{ws}\nUNION SELECT secret FROM secrets");
            refused(&c, Dialect::MySql, &sql);
            let sql = format!("SELECT id FROM users --{ws} UNION SELECT secret FROM secrets");
            refused(&c, Dialect::MySql, &sql);
        }
        for ws in ["\x0b", "\x0c", "\x01", "\x7f"] {
            // Comments on the server, but not for every reader: refused.
            refused(&c, Dialect::MySql, &format!("SELECT id FROM users --{ws}"));
        }
        refused(&c, Dialect::MySql, "SELECT id FROM users --");
        for ws in [" ", "\t", "\n", "\r\n"] {
            allowed(&c, Dialect::MySql, &format!("SELECT id FROM users --{ws}"));
        }
        allowed(
            &c,
            Dialect::MySql,
            "SELECT id FROM users # UNION SELECT 1\n",
        );
        for d in [Dialect::Postgres, Dialect::Sqlite] {
            refused(&c, d, "SELECT id # 1 FROM users");
            allowed(&c, d, "SELECT id FROM users --\u{a0}x");
        }
        // A lone CR ends a comment on PostgreSQL only.
        for d in DIALECTS {
            refused(
                &c,
                d,
                "SELECT id FROM users -- x\rUNION SELECT secret FROM secrets",
            );
            allowed(&c, d, "SELECT id FROM users -- x\r\n");
        }
        // Unicode and control whitespace between tokens.
        for ws in ["\u{a0}", "\u{2003}", "\u{feff}", "\x0b", "\x0c", "\x00"] {
            for d in DIALECTS {
                refused(&c, d, &format!("SELECT{ws}id FROM users"));
            }
        }
    }

    /// Finding 4 of issue 11: strings whose boundaries depend on the server's mode.
    #[test]
    fn strings_with_mode_dependent_boundaries_are_refused() {
        use Dialect::{MySql, Postgres, Sqlite};
        let c = caps(&["users"], &["users.*"]);
        for (d, sql) in [
            (Postgres, r"SELECT E'\'' FROM users"),
            (Postgres, r"SELECT e'x' FROM users"),
            (Postgres, r"SELECT 'a\' FROM users"),
            (Postgres, r"SELECT U&'\0041' FROM users"),
            (Postgres, r#"SELECT U&"d!0061t" UESCAPE '!' FROM users"#),
            (Postgres, "SELECT u&'x' FROM users"),
            (Postgres, "SELECT $$x$$ FROM users"),
            (Postgres, "SELECT $a$x$a$ FROM users"),
            (Postgres, "SELECT $a$ $$ $a$ FROM users"),
            (Postgres, "SELECT N'x' FROM users"),
            (Postgres, "SELECT B'1' FROM users"),
            (Postgres, "SELECT X'1' FROM users"),
            (Postgres, "SELECT 0x41 FROM users"),
            (Postgres, "SELECT 1from users"),
            (Postgres, "SELECT `id` FROM users"),
            (Postgres, r#"SELECT "a\" FROM users"#),
            (MySql, r"SELECT 'a\' FROM users"),
            (MySql, r"SELECT 'a\'' FROM users"),
            (MySql, r#"SELECT "a\" FROM users"#),
            (MySql, "SELECT _utf8'x' FROM users"),
            (MySql, "SELECT _utf8mb4 'x' FROM users"),
            (MySql, "SELECT _binary/**/'x' FROM users"),
            (MySql, "SELECT _big5\"x\" FROM users"),
            (MySql, "SELECT N'x' FROM users"),
            (MySql, "SELECT n'x' FROM users"),
            (MySql, "SELECT x'41' FROM users"),
            (MySql, "SELECT b'1' FROM users"),
            (MySql, "SELECT 0x41 FROM users"),
            (MySql, "SELECT 1e FROM users"),
            (MySql, "SELECT users.1id FROM users"),
            (MySql, "SELECT @@version"),
            (MySql, "SELECT @x"),
            (MySql, r"SELECT \N FROM users"),
            (MySql, "SELECT a$b FROM users"),
            (Sqlite, "SELECT [id] FROM users"),
            (Sqlite, "SELECT N'x' FROM users"),
            (Sqlite, "SELECT 1_000 FROM users"),
            (Sqlite, "SELECT $name FROM users"),
        ] {
            refused(&c, d, sql);
        }
        for (d, sql) in [
            (
                Postgres,
                "SELECT 'it''s', 1.5, 2e3, .5 FROM users WHERE id = $1",
            ),
            (Postgres, r#"SELECT "a""b" FROM users"#),
            (
                MySql,
                "SELECT 'it''s', \"say \"\"hi\"\"\", `a``b` FROM users",
            ),
            (Sqlite, r"SELECT 'a\', x'00ff', X'41' FROM users"),
            (Sqlite, r#"SELECT "a""b", `c` FROM users WHERE id = $1"#),
        ] {
            allowed(&c, d, sql);
        }
        let filter = r"email <> E'\' OR true --'";
        assert!(
            c.check_backfill(
                Postgres,
                "users",
                "id",
                &[],
                &["email".into()],
                Some(filter)
            )
            .is_err()
        );
    }

    /// Finding 5 of issue 11: what `*` covers.
    #[test]
    fn star_reaches_only_the_default_schemas_user_tables() {
        use Dialect::{MySql, Postgres, Sqlite};
        let c = caps(&["*"], &["*.*"]);
        for d in DIALECTS {
            for sql in [
                "SELECT * FROM users",
                "SELECT count(*) FROM orders JOIN users ON true",
            ] {
                allowed(&c, d, sql);
            }
            for sql in [
                "SELECT * FROM godwit_migrations",
                "SELECT * FROM GODWIT_MIGRATIONS",
                "SELECT * FROM \"godwit_lock\"",
                "SELECT * FROM godwit_step_progress",
                "SELECT * FROM other.users",
                "SELECT * FROM information_schema.tables",
                "SELECT * FROM INFORMATION_SCHEMA.TABLES",
                "SELECT * FROM sqlite_master",
                "SELECT * FROM pg_authid",
                "SELECT database()",
                "SELECT current_database()",
                "SELECT version()",
                "SELECT user()",
                "SELECT current_user",
                "SELECT CURRENT_USER",
                "SELECT session_user",
                "SELECT current_schema",
                "SELECT current_schema()",
                "SELECT schema()",
                "SELECT connection_id()",
            ] {
                refused(&c, d, sql);
            }
        }
        for sql in [
            "SELECT * FROM pg_shadow",
            "SELECT * FROM PG_AUTHID",
            "SELECT * FROM \"pg_authid\"",
            "SELECT * FROM pg_stat_activity",
            "SELECT * FROM pg_catalog.pg_class",
            "SELECT * FROM pg_toast.pg_toast_1",
            "SELECT * FROM pg_temp.t",
            "SELECT * FROM audit.events",
            "SELECT user",
            "SELECT current_role",
            "SELECT current_catalog",
            "SELECT inet_server_addr()",
            "SELECT current_setting('x')",
            "SELECT * FROM users WHERE id IN (SELECT oid FROM pg_roles)",
        ] {
            refused(&c, Postgres, sql);
        }
        allowed(&c, Postgres, "SELECT * FROM public.users");
        allowed(&c, Postgres, "SELECT \"user\" FROM users");
        for sql in [
            "SELECT * FROM mysql.user",
            "SELECT * FROM MYSQL.USER",
            "SELECT * FROM performance_schema.threads",
            "SELECT * FROM sys.processlist",
            "SELECT * FROM otherdb.users",
            "SELECT * FROM main.users",
            "SELECT * FROM public.users",
            "SELECT @@version",
            "SELECT @@global.secure_file_priv",
            "SELECT @a := 1",
            "SELECT system_user()",
            "SELECT last_insert_id()",
            "SELECT * FROM users WHERE id = (SELECT count(*) FROM mysql.user)",
        ] {
            refused(&c, MySql, sql);
        }
        allowed(&c, MySql, "SELECT user FROM users");
        for sql in [
            "SELECT * FROM sqlite_schema",
            "SELECT * FROM SQLITE_MASTER",
            "SELECT * FROM sqlite_temp_master",
            "SELECT * FROM sqlite_sequence",
            "SELECT * FROM temp.t",
            "SELECT * FROM other.users",
            "SELECT * FROM pragma_table_info('secrets')",
            "SELECT sqlite_version()",
        ] {
            refused(&c, Sqlite, sql);
        }
        allowed(&c, Sqlite, "SELECT * FROM main.users");
        // `*.*` writes reach the same tables `*` reads do.
        for (d, sql) in [
            (Postgres, "UPDATE pg_catalog.pg_authid SET rolsuper = true"),
            (Postgres, "DELETE FROM godwit_migrations"),
            (MySql, "UPDATE mysql.user SET x = 1"),
            (MySql, "UPDATE otherdb.users SET x = 1"),
            (Sqlite, "DELETE FROM sqlite_sequence"),
            (Postgres, "UPDATE audit.events SET x = 1"),
        ] {
            assert!(c.check_execute(d, sql, false).is_err(), "{d}: {sql}");
        }
        // The session's location is catalog information: only with a catalog named.
        let catalog = caps(&["information_schema.tables"], &[]);
        for d in DIALECTS {
            allowed(
                &catalog,
                d,
                "SELECT table_name FROM information_schema.tables WHERE table_schema = database()",
            );
            allowed(&catalog, d, "SELECT current_schema()");
            refused(&catalog, d, "SELECT current_user");
            refused(&catalog, d, "SELECT version()");
        }
        allowed(
            &catalog,
            Postgres,
            "SELECT current_schema, current_database()",
        );
        // Named, a catalog or another schema is reachable: the operator chose it.
        let named = caps(&["pg_catalog.pg_class", "audit.*", "otherdb.users"], &[]);
        allowed(&named, Postgres, "SELECT relname FROM pg_catalog.pg_class");
        allowed(&named, Postgres, "SELECT * FROM audit.events");
        allowed(&named, MySql, "SELECT * FROM otherdb.users");
        refused(&named, Postgres, "SELECT * FROM audit.godwit_migrations");
    }

    #[test]
    fn messages_say_which_side_is_missing() {
        let c = Capabilities::effective(
            &Requests {
                read: vec!["*".into()],
                ..Default::default()
            },
            &Grants {
                read: vec!["users".into()],
                ..Default::default()
            },
            "p",
        );
        let err = c
            .check_query(Dialect::Postgres, "SELECT * FROM orders")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("plugin p: reading table `orders` is not allowed"),
            "{err}"
        );
        assert!(
            err.contains("[plugins.p.grants] does not grant it"),
            "{err}"
        );
        let requests = Requests {
            read: vec!["users".into()],
            ..Default::default()
        };
        let grants = Grants {
            read: vec!["*".into()],
            ..Default::default()
        };
        let c = Capabilities::effective(&requests, &grants, "p");
        let err = c
            .check_query(Dialect::Postgres, "SELECT * FROM orders")
            .unwrap_err()
            .to_string();
        assert!(err.contains("manifest does not request it"), "{err}");
        let c = Capabilities::effective(&Requests::default(), &Grants::default(), "p");
        let err = c
            .check_query(Dialect::Postgres, "SELECT * FROM orders")
            .unwrap_err()
            .to_string();
        assert!(err.contains("in both the plugin's manifest"), "{err}");
    }

    #[test]
    fn executes_allowed() {
        let c = caps(
            &["users", "orders"],
            &["users.email_normalized", "orders.*"],
        );
        for d in DIALECTS {
            for sql in [
                "UPDATE users SET email_normalized = lower(email) WHERE id = $1",
                "UPDATE users SET email_normalized = NULL",
                "INSERT INTO orders (id, total) VALUES ($1, $2)",
                "INSERT INTO orders VALUES (1, 2)",
                "INSERT INTO orders (id) SELECT id FROM users",
                "DELETE FROM orders WHERE id = $1",
                "DELETE FROM orders WHERE user_id IN (SELECT id FROM users)",
                "UPDATE users SET EMAIL_NORMALIZED = 'x'",
            ] {
                c.check_execute(d, sql, false)
                    .unwrap_or_else(|e| panic!("{d} {sql}: {e}"));
            }
        }
    }

    #[test]
    fn executes_refused() {
        let c = caps(&["users"], &["users.email_normalized"]);
        for (sql, needle) in [
            (
                "UPDATE users SET email = 'x'",
                "column `email` of table `users`",
            ),
            (
                "UPDATE users SET email_normalized = (SELECT secret FROM ungranted)",
                "`ungranted`",
            ),
            (
                "UPDATE users SET email_normalized = 'x' WHERE id IN (SELECT id FROM ungranted)",
                "`ungranted`",
            ),
            (
                "UPDATE users SET email_normalized = pg_read_file('/etc/passwd')",
                "pg_read_file",
            ),
            ("DELETE FROM users", "whole rows of table `users`"),
            (
                "INSERT INTO users (email_normalized, email) VALUES ('x', 'y')",
                "column `email`",
            ),
            ("INSERT INTO users VALUES ('x')", "whole rows"),
            (
                "UPDATE users SET email_normalized = 'x' RETURNING id",
                "RETURNING",
            ),
            (
                "UPDATE users SET email_normalized = 'x'; DROP TABLE users",
                "exactly one statement",
            ),
            ("DROP TABLE users", "only INSERT, UPDATE or DELETE"),
            ("CREATE TABLE t (id int)", "only INSERT, UPDATE or DELETE"),
            ("TRUNCATE users", "only INSERT, UPDATE or DELETE"),
            ("SELECT * FROM users", "only INSERT, UPDATE or DELETE"),
            (
                "UPDATE users SET email_normalized = 'x' FROM ungranted",
                "`ungranted`",
            ),
            (
                "INSERT INTO users (email_normalized) VALUES ('x') ON CONFLICT DO NOTHING",
                "ON CONFLICT",
            ),
            (
                "WITH x AS (SELECT 1) UPDATE users SET email_normalized = 'x'",
                "",
            ),
        ] {
            let err = c
                .check_execute(Dialect::Postgres, sql, false)
                .err()
                .unwrap_or_else(|| panic!("allowed: {sql}"))
                .to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
        let err = c
            .check_execute(
                Dialect::Postgres,
                "UPDATE users SET email_normalized = 'x'",
                true,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("read-only session"), "{err}");
        // Write-only grants: a WHERE on the target would leak what it reads.
        let w = caps(&[], &["users.*"]);
        w.check_execute(Dialect::Postgres, "UPDATE users SET a = 1", false)
            .unwrap();
        let err = w
            .check_execute(
                Dialect::Postgres,
                "DELETE FROM users WHERE secret = 'x'",
                false,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("reading table `users`"), "{err}");
        // Nor may a SET expression read a column of it, in any form.
        for sql in [
            "UPDATE users SET a = CAST(CASE WHEN id = 7 THEN secret END AS int)",
            "UPDATE users SET a = CASE WHEN secret LIKE 'a%' THEN 1 ELSE a END",
            "UPDATE users SET a = a + 1",
            "UPDATE users SET a = length(users.secret)",
        ] {
            for d in DIALECTS {
                let err = w
                    .check_execute(d, sql, false)
                    .err()
                    .unwrap_or_else(|| panic!("allowed on {d:?}: {sql}"))
                    .to_string();
                assert!(err.contains("reading table `users`"), "{sql}: {err}");
            }
        }
        w.check_execute(
            Dialect::Postgres,
            "UPDATE users SET a = $1, b = NULL",
            false,
        )
        .unwrap();
    }

    /// What `tests/all/fuzz_checker.rs`'s write fuzz found the servers disagreeing with,
    /// each with variations: under the fuzz's grants (`items` readable with `label`
    /// writable, `drop_box.note` write-only, `trash` whole rows), every one of these
    /// touches a table or column the grants do not cover, so the server (a role or an
    /// account holding exactly the grants) refuses it.
    #[test]
    fn writes_the_differential_fuzz_found() {
        let c = caps(
            &["items", "trash"],
            &["items.label", "drop_box.note", "trash.*"],
        );
        // MySQL's `DELETE FROM t USING …` deletes from the USING table `t` names: here
        // `items`, aliased `trash`.
        for sql in [
            "DELETE FROM trash USING items AS trash",
            "DELETE FROM trash USING items AS trash WHERE trash.id = 1",
            "delete from `trash` using `items` as `trash` where id = 1",
            "DELETE FROM trash USING trash, items WHERE trash.id = items.id",
        ] {
            refused_execute(&c, Dialect::MySql, sql);
        }
        // PostgreSQL has its own USING: the target is the table named, never an alias.
        allowed_execute(
            &c,
            Dialect::Postgres,
            "DELETE FROM trash USING items WHERE trash.id = items.id",
        );
        // MySQL reads a column named in VALUES from the row being inserted.
        for sql in [
            "INSERT INTO drop_box (note) VALUES (secret)",
            "INSERT INTO drop_box (note) VALUES ('w'), (secret)",
            "INSERT INTO drop_box (note) VALUES (lower(label))",
            "INSERT INTO drop_box (note) VALUES (`drop_box`.secret)",
            "INSERT INTO items (label) VALUES (CASE WHEN id = 1 THEN 'a' END)",
            "INSERT INTO items (label) VALUES (hidden)",
        ] {
            refused_execute(&c, Dialect::MySql, sql);
        }
        allowed_execute(
            &c,
            Dialect::MySql,
            "INSERT INTO drop_box (note) VALUES ('w'), ($1)",
        );
        refused_execute(
            &c,
            Dialect::MySql,
            "INSERT INTO drop_box (note) VALUES ((SELECT secret FROM items LIMIT 1))",
        );
        allowed_execute(
            &c,
            Dialect::MySql,
            "INSERT INTO drop_box (note) SELECT max(label) FROM items",
        );
        allowed_execute(
            &c,
            Dialect::Postgres,
            "INSERT INTO drop_box (note) VALUES ((SELECT max(label) FROM items))",
        );
        // ORDER BY picks the rows a LIMIT lets through by values a write-only grant hides.
        for sql in [
            "UPDATE drop_box SET note = 'w' ORDER BY secret LIMIT 1",
            "update drop_box as trash set `note` = NULL order by hidden limit 1",
            "UPDATE drop_box SET note = 'w' ORDER BY (SELECT 1) LIMIT 1",
        ] {
            refused_execute(&c, Dialect::MySql, sql);
        }
        allowed_execute(&c, Dialect::MySql, "UPDATE drop_box SET note = 'w' LIMIT 1");
        allowed_execute(
            &c,
            Dialect::MySql,
            "UPDATE items SET label = 'w' ORDER BY id LIMIT 1",
        );
        // Every column at once, as a function's argument.
        for d in DIALECTS {
            for sql in [
                "UPDATE drop_box SET note = concat(drop_box.*)",
                "UPDATE drop_box SET note = coalesce(drop_box.*)",
                "UPDATE drop_box SET note = concat(*)",
            ] {
                refused_execute(&c, d, sql);
            }
        }
        // A qualified column must be the target's: MySQL writes another table's column,
        // PostgreSQL a field of a composite column.
        for (d, sql) in [
            (
                Dialect::MySql,
                "INSERT INTO items (trash.label) VALUES ('w')",
            ),
            (Dialect::MySql, "UPDATE trash SET items.label = 'w'"),
            (Dialect::Sqlite, "UPDATE trash SET items.label = 'w'"),
            (Dialect::Postgres, "UPDATE items SET hidden.label = 'w'"),
            (
                Dialect::Postgres,
                "INSERT INTO items (label.x) VALUES ('w')",
            ),
            (Dialect::MySql, "UPDATE items AS t SET trash.label = 'w'"),
        ] {
            refused_execute(&c, d, sql);
        }
        for sql in [
            "INSERT INTO items (items.label) VALUES ('w')",
            "UPDATE items AS t SET t.label = 'w'",
            "UPDATE `items` SET `items`.label = 'w'",
        ] {
            allowed_execute(&c, Dialect::MySql, sql);
        }
    }

    #[test]
    fn backfill_specs() {
        let c = caps(&["users"], &["users.email_normalized"]);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for d in DIALECTS {
            c.check_backfill(
                d,
                "users",
                "id",
                &s(&["email"]),
                &s(&["email_normalized"]),
                Some("email_normalized IS NULL AND lower(email) <> ''"),
            )
            .unwrap();
            c.check_backfill(
                d,
                "users",
                "tenant, id",
                &s(&[]),
                &s(&["email_normalized"]),
                None,
            )
            .unwrap();
        }
        for (table, key, writes, filter, needle) in [
            ("secrets", "id", &["x"][..], None, "reading table `secrets`"),
            ("users", "id", &["email"][..], None, "column `email`"),
            (
                "users",
                "id; drop",
                &["email_normalized"][..],
                None,
                "not a plain column",
            ),
            (
                "users",
                "id",
                &["email_normalized"][..],
                Some("id IN (SELECT id FROM secrets)"),
                "subquery",
            ),
            (
                "users",
                "id",
                &["email_normalized"][..],
                Some("pg_sleep(1) IS NULL"),
                "pg_sleep",
            ),
            (
                "users",
                "id",
                &["email_normalized"][..],
                Some("1 + 1"),
                "not a boolean",
            ),
            (
                "users",
                "id",
                &["email_normalized"][..],
                Some("true; DROP TABLE users"),
                "cannot be parsed",
            ),
            (
                "users",
                "id",
                &["email_normalized"][..],
                Some("secrets.x = 1"),
                "not a column of `users`",
            ),
            ("users", "id", &["id"][..], None, "key column"),
        ] {
            let err = c
                .check_backfill(
                    Dialect::Postgres,
                    table,
                    key,
                    &s(&["email"]),
                    &s(writes),
                    filter,
                )
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{table} {key} {filter:?}: {err}");
        }
    }

    #[test]
    fn intersection_env_dir_hosts() {
        let requests = Requests {
            env: vec!["A".into(), "B".into()],
            dir: true,
            hosts: vec![
                "127.0.0.1:8080".into(),
                "hooks.slack.com".into(),
                "evil.com".into(),
            ],
            ..Default::default()
        };
        let grants = Grants {
            env: vec!["B".into(), "C".into()],
            dir: Some("audit".into()),
            hosts: vec!["127.0.0.1:8080".into(), "HOOKS.slack.com".into()],
            ..Default::default()
        };
        let c = Capabilities::effective(&requests, &grants, "n");
        assert_eq!(c.env(), ["B"]);
        assert_eq!(c.dir(), Some(std::path::Path::new("audit")));
        assert!(c.allows_host("127.0.0.1:8080"));
        assert!(!c.allows_host("127.0.0.1:8081"));
        assert!(!c.allows_host("127.0.0.1"));
        assert!(c.allows_host("hooks.slack.com"));
        assert!(c.allows_host("hooks.slack.com:443"));
        assert!(!c.allows_host("hooks.slack.com:8443"));
        assert!(!c.allows_host("evil.com"));
        let no_dir = Requests {
            dir: false,
            ..requests
        };
        assert_eq!(Capabilities::effective(&no_dir, &grants, "n").dir(), None);
        assert!(!c.may_write());
    }

    #[test]
    fn grant_entries_are_validated() {
        let bad = Grants {
            write: vec!["users".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("table.column"));
        let bad = Grants {
            read: vec!["a.b.c".into()],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let ok = Grants {
            read: vec!["*".into(), "audit.*".into()],
            write: vec!["*.*".into(), "public.users.email".into()],
            ..Default::default()
        };
        ok.validate().unwrap();
    }
}
