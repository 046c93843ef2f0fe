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
//! use godwit::Dialect;
//! use godwit::plugin::capability::{Capabilities, Grants};
//! use godwit::plugin::manifest::Requests;
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
    AssignmentTarget, Expr, FromTable, FunctionArguments, Ident, ObjectName, Query, SetExpr,
    Statement, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind, Visit, Visitor,
};
use sqlparser::dialect as sqldialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::Dialect;
use crate::plugin::manifest::Requests;

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

/// A capability check said no.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin}: {message}")]
pub struct Refused {
    pub plugin: String,
    pub message: String,
}

/// A table entry: `*`, `schema.*`, `table`, `schema.table`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TablePattern {
    schema: Option<String>,
    /// `None` for `*`.
    table: Option<String>,
}

/// A table as a statement names it, lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TableRef {
    schema: Option<String>,
    table: String,
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.table),
            None => f.write_str(&self.table),
        }
    }
}

const SYSTEM_SCHEMAS: &[&str] = &[
    "pg_catalog",
    "information_schema",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
    "temp",
];
const DEFAULT_SCHEMAS: &[&str] = &["public", "main"];

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

impl TablePattern {
    fn parse(text: &str) -> Result<TablePattern, String> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        let part = |p: &str| -> Result<Option<String>, String> {
            if p == "*" {
                Ok(None)
            } else if is_plain_identifier(p) {
                Ok(Some(p.to_ascii_lowercase()))
            } else {
                Err(format!("`{p}` is not a table name or `*`"))
            }
        };
        match parts.as_slice() {
            [t] => Ok(TablePattern {
                schema: None,
                table: part(t)?,
            }),
            [s, t] => Ok(TablePattern {
                schema: Some(part(s)?.ok_or("a schema cannot be `*`; write `*` alone")?),
                table: part(t)?,
            }),
            _ => Err("write `table`, `schema.table`, `schema.*` or `*`".into()),
        }
    }

    fn matches(&self, r: &TableRef) -> bool {
        let special = r.table.starts_with(crate::history::TABLE)
            || r.table.starts_with("godwit_")
            || r.table.starts_with("sqlite_")
            || r.schema
                .as_deref()
                .is_some_and(|s| SYSTEM_SCHEMAS.contains(&s));
        let schema_ok = match (&self.schema, &r.schema) {
            (None, None) => true,
            (None, Some(s)) => DEFAULT_SCHEMAS.contains(&s.as_str()),
            (Some(p), Some(s)) => p == s,
            (Some(p), None) => DEFAULT_SCHEMAS.contains(&p.as_str()),
        };
        match &self.table {
            // Wildcards never reach catalogs or godwit's bookkeeping.
            None if self.schema.is_none() => !special,
            None => schema_ok && !special,
            Some(t) => schema_ok && *t == r.table,
        }
    }
}

/// A write entry: a table pattern and a column (`None` for `*`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ColumnPattern {
    table: TablePattern,
    column: Option<String>,
}

impl ColumnPattern {
    fn parse(text: &str) -> Result<ColumnPattern, String> {
        let text = text.trim();
        let (table, column) = text
            .rsplit_once('.')
            .ok_or("write `table.column`, `table.*` or `*.*`")?;
        let column = match column {
            "*" => None,
            c if is_plain_identifier(c) => Some(c.to_ascii_lowercase()),
            c => return Err(format!("`{c}` is not a column name or `*`")),
        };
        Ok(ColumnPattern {
            table: TablePattern::parse(table)?,
            column,
        })
    }

    fn matches(&self, table: &TableRef, column: Option<&str>) -> bool {
        self.table.matches(table)
            && match (&self.column, column) {
                (None, _) => true,
                (Some(p), Some(c)) => p == c,
                (Some(_), None) => false,
            }
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
    hosts: [Vec<String>; 2],
}

/// Which side said no: the plugin did not ask, or the operator did not grant.
fn missing(in_requests: bool, in_grants: bool, entry: &str, plugin: &str, key: &str) -> String {
    match (in_requests, in_grants) {
        (false, false) => format!(
            "allowing it needs `{key} = [\"{entry}\"]` in both the plugin's manifest [requests] and godwit.toml's [plugins.{plugin}.grants]"
        ),
        (true, _) => format!(
            "the plugin asks for it, but godwit.toml's [plugins.{plugin}.grants] does not grant it (`{key} = [\"{entry}\"]` would)"
        ),
        (false, true) => format!(
            "godwit.toml grants it, but the plugin's manifest does not request it (`{key} = [\"{entry}\"]` under [requests])"
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
        }
    }

    fn refuse(&self, message: String) -> Refused {
        Refused {
            plugin: self.plugin.clone(),
            message,
        }
    }

    fn can_read(&self, t: &TableRef) -> Result<(), Refused> {
        let [r, g] = &self.read;
        let (in_r, in_g) = (
            r.iter().any(|p| p.matches(t)),
            g.iter().any(|p| p.matches(t)),
        );
        if in_r && in_g {
            return Ok(());
        }
        Err(self.refuse(format!(
            "reading table `{t}` is not allowed; {}",
            missing(in_r, in_g, &t.to_string(), &self.plugin, "read")
        )))
    }

    fn can_write(&self, t: &TableRef, column: Option<&str>) -> Result<(), Refused> {
        let [r, g] = &self.write;
        let (in_r, in_g) = (
            r.iter().any(|p| p.matches(t, column)),
            g.iter().any(|p| p.matches(t, column)),
        );
        if in_r && in_g {
            return Ok(());
        }
        let entry = format!("{t}.{}", column.unwrap_or("*"));
        let what = match column {
            Some(c) => format!("writing column `{c}` of table `{t}`"),
            None => format!("writing whole rows of table `{t}`"),
        };
        Err(self.refuse(format!(
            "{what} is not allowed; {}",
            missing(in_r, in_g, &entry, &self.plugin, "write")
        )))
    }

    /// [`Capabilities::can_read`] for names as a database reports them, for the
    /// database-side enforcement (`driver::Scope`), so both lines of defence share one rule.
    pub fn reads_table(&self, schema: Option<&str>, table: &str) -> bool {
        self.can_read(&TableRef {
            schema: schema.map(str::to_lowercase),
            table: table.to_lowercase(),
        })
        .is_ok()
    }

    /// [`Capabilities::can_write`] for names as a database reports them; `column` `None`
    /// asks for whole rows.
    pub fn writes_column(&self, schema: Option<&str>, table: &str, column: Option<&str>) -> bool {
        let column = column.map(str::to_lowercase);
        self.can_write(
            &TableRef {
                schema: schema.map(str::to_lowercase),
                table: table.to_lowercase(),
            },
            column.as_deref(),
        )
        .is_ok()
    }

    /// Whether the plugin may write any column of the table (what a write entry names).
    pub fn writes_any_column(&self, schema: Option<&str>, table: &str) -> bool {
        let t = TableRef {
            schema: schema.map(str::to_lowercase),
            table: table.to_lowercase(),
        };
        let [r, g] = &self.write;
        r.iter().any(|p| p.table.matches(&t)) && g.iter().any(|p| p.table.matches(&t))
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
                    self.can_write(&table, None)?;
                }
                for column in &insert.columns {
                    self.can_write(&table, Some(&self.column_name(column)?))?;
                }
                match &insert.source {
                    Some(source) => self.check_reads(dialect, source.as_ref()),
                    None => Err(self.refuse("INSERT without VALUES or SELECT is refused".into())),
                }
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
                for a in &update.assignments {
                    let names: Vec<&ObjectName> = match &a.target {
                        AssignmentTarget::ColumnName(n) => vec![n],
                        AssignmentTarget::Tuple(ns) => ns.iter().collect(),
                    };
                    for n in names {
                        self.can_write(&table, Some(&self.column_name(n)?))?;
                    }
                    self.check_reads(dialect, &a.value)?;
                }
                // A WHERE reads the target's rows: the affected count would leak them. So
                // does a SET expression naming a column (`n = CASE WHEN secret …`): through
                // the count of rows it changes, an error it raises, or the value it copies.
                let set_reads_columns = update.assignments.iter().any(|a| {
                    sqlparser::ast::visit_expressions(&a.value, |e| match e {
                        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => ControlFlow::Break(()),
                        _ => ControlFlow::Continue(()),
                    })
                    .is_break()
                });
                if update.selection.is_some() || update.from.is_some() || set_reads_columns {
                    self.can_read(&table)?;
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
                let table = self.single_table(only)?;
                self.can_write(&table, None)?;
                if delete.selection.is_some() || delete.using.is_some() {
                    self.can_read(&table)?;
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
        let pattern = TablePattern::parse(table)
            .ok()
            .filter(|p| p.table.is_some())
            .ok_or_else(|| self.refuse(format!("backfill table `{table}` is not a table name")))?;
        let t = TableRef {
            schema: pattern.schema,
            table: pattern.table.unwrap_or_default(),
        };
        self.can_read(&t)?;
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
            self.can_write(&t, Some(&w.to_ascii_lowercase()))?;
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
        if dialect == Dialect::MySql && (sql.contains("/*!") || sql.contains("/*+")) {
            return Err(self.refuse(
                "MySQL executable comments (`/*! … */`, `/*+ … */`) are refused: the server runs what they hide".into(),
            ));
        }
        // Two independent readings must agree there is one statement: godwit's splitter
        // (the servers' lexical rules) and sqlparser.
        match crate::split::split(sql, dialect) {
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
                let found = crate::split::placeholders(sql, dialect)
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
        let mut statements = parse(dialect, &translated).map_err(|e| {
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
        let d = boxed_dialect(dialect);
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
        let lower = |i: &Ident| i.value.to_lowercase();
        match parts.as_slice() {
            [t] => Ok(TableRef { schema: None, table: lower(t) }),
            [s, t] => Ok(TableRef { schema: Some(lower(s)), table: lower(t) }),
            _ => Err(self.refuse(format!(
                "table name `{name}` names another database or catalog; only `table` or `schema.table` is allowed"
            ))),
        }
    }

    fn column_name(&self, name: &ObjectName) -> Result<String, Refused> {
        match name.0.last().and_then(|p| p.as_ident()) {
            Some(i) => Ok(i.value.to_lowercase()),
            None => Err(self.refuse(format!("column `{name}` is not a plain name"))),
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

fn boxed_dialect(dialect: Dialect) -> Box<dyn sqldialect::Dialect> {
    match dialect {
        Dialect::Postgres => Box::new(sqldialect::PostgreSqlDialect {}),
        Dialect::MySql => Box::new(sqldialect::MySqlDialect {}),
        Dialect::Sqlite => Box::new(sqldialect::SQLiteDialect {}),
    }
}

fn parse(dialect: Dialect, sql: &str) -> Result<Vec<Statement>, sqlparser::parser::ParserError> {
    Parser::parse_sql(boxed_dialect(dialect).as_ref(), sql)
}

fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!("a {} statement", words.join(" ").to_uppercase())
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

/// Built-ins with no side effects and no access to anything but their arguments (or,
/// for `database()` and `current_schema`, the name of where the session is).
const ALLOWED_FUNCTIONS: &[&str] = &[
    "database",
    "current_database",
    "current_schema",
    "schema",
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

struct ReadCheck<'a> {
    caps: &'a Capabilities,
    dialect: Dialect,
    /// CTE names in scope, innermost last.
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
                names.push(cte.alias.name.value.to_lowercase());
                self.check_body(&cte.query.body)?;
                if !with.recursive {
                    // In a plain WITH a CTE's body cannot see itself or later CTEs, so a name
                    // there means a real table; refuse rather than guess which.
                    let later: HashSet<String> = with.cte_tables[i..]
                        .iter()
                        .map(|c| c.alias.name.value.to_lowercase())
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
        if table.schema.is_none() && self.ctes.iter().any(|scope| scope.contains(&table.table)) {
            return ControlFlow::Continue(());
        }
        match self.caps.can_read(&table) {
            Ok(()) => ControlFlow::Continue(()),
            Err(r) => self.stop_with(r),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
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
            Expr::Prefixed { .. } | Expr::Named { .. } if self.dialect == Dialect::MySql => {
                self.stop("this expression is not supported and is refused".into())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Unqualified relation names anywhere under a node.
#[derive(Default)]
struct Names(Vec<String>);

impl Visitor for Names {
    type Break = ();
    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
        if let [part] = name.0.as_slice()
            && let Some(i) = part.as_ident()
        {
            self.0.push(i.value.to_lowercase());
        }
        ControlFlow::Continue(())
    }
}

struct FilterCheck<'a> {
    caps: &'a Capabilities,
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
                let qualifier: Vec<String> = parts[..parts.len() - 1]
                    .iter()
                    .map(|i| i.value.to_lowercase())
                    .collect();
                let ok = match qualifier.as_slice() {
                    [t] => *t == self.table.table,
                    [s, t] => Some(s) == self.table.schema.as_ref() && *t == self.table.table,
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
        let requests = Requests {
            read: vec!["*".into()],
            write: vec!["*.*".into()],
            ..Default::default()
        };
        let grants = Grants {
            read: v(read),
            write: v(write),
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
            "select lower(trim(email)), coalesce(name, 'x') from USERS",
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
            ("SELECT 'open", "cannot be read"),
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

    #[test]
    fn messages_say_which_side_is_missing() {
        let c = caps(&["users"], &[]);
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
                "UPDATE USERS SET EMAIL_NORMALIZED = 'x'",
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
