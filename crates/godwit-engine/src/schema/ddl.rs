//! `godwit pull`: a [`Schema`] written back as DDL for its dialect.
//!
//! The text is a function of what `verify` compares, plus the [`Definitions`] the model
//! only summarises (a routine's whole `CREATE`) and the PostgreSQL extensions in use. So
//! two databases that verify calls equal pull to the same text, unless their routines
//! differ in what verify does not compare (volatility, cost, `SECURITY DEFINER`) or
//! their extensions differ; and a database built from a pulled file pulls to that file
//! again. It is one file, in the order a database can run it: extensions, types,
//! sequences, routines, tables (with their keys and checks), indexes, foreign keys (which
//! may reference columns a unique index covers), views (a view after the views it
//! reads), triggers. Each kind is sorted by name; within a
//! table the primary-key columns come first, then the others by name, since the model
//! does not keep column order.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::{Column, Constraint, ConstraintKind, Definitions, Index, Schema, Table};
use godwit_core::Dialect;

/// The file `godwit pull --out DIR` writes in DIR.
pub const FILE_NAME: &str = "schema.sql";

/// The schema as a script that builds it in an empty database.
pub fn render(schema: &Schema, definitions: &Definitions, dialect: Dialect) -> String {
    let mut out = Writer {
        dialect,
        text: format!(
            "-- The schema of a {dialect} database, written by `godwit pull`.\n\
             -- Objects come in the order a database can create them, each kind sorted by name;\n\
             -- a table's primary-key columns come first, then the others by name.\n"
        ),
    };
    match dialect {
        Dialect::Postgres => postgres(&mut out, schema, definitions),
        Dialect::MySql => mysql(&mut out, schema, definitions),
        Dialect::Sqlite => sqlite(&mut out, schema),
    }
    out.text
}

pub(crate) struct Writer {
    dialect: Dialect,
    text: String,
}

impl Writer {
    /// A writer with nothing written yet, for the pieces `godwit diff` borrows.
    pub(crate) fn new(dialect: Dialect) -> Writer {
        Writer {
            dialect,
            text: String::new(),
        }
    }

    /// A section: its heading, then one statement per entry (none: no heading).
    fn section(&mut self, heading: &str, statements: Vec<String>) {
        if statements.is_empty() {
            return;
        }
        self.text.push_str(&format!("\n-- {heading}\n"));
        for statement in statements {
            self.text.push_str(&statement);
            self.text.push('\n');
        }
    }

    pub(crate) fn q(&self, name: &str) -> String {
        quote(self.dialect, name)
    }

    pub(crate) fn list(&self, names: &[String]) -> String {
        names
            .iter()
            .map(|n| self.q(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An identifier as the dialect reads it: backticks always on MySQL (as its own dumps
/// do); elsewhere double quotes when the name is not a plain lowercase word or is a
/// keyword.
pub fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        _ if is_plain(dialect, name) => name.to_string(),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

fn is_plain(dialect: Dialect, name: &str) -> bool {
    // PostgreSQL folds unquoted names to lowercase; SQLite keeps their case.
    let letter =
        |c: char| c.is_ascii_lowercase() || (dialect == Dialect::Sqlite && c.is_ascii_uppercase());
    let plain = name.chars().next().is_some_and(|c| letter(c) || c == '_')
        && name
            .chars()
            .all(|c| letter(c) || c.is_ascii_digit() || c == '_');
    plain && !KEYWORDS.contains(name.to_ascii_uppercase().as_str())
}

/// Words that are keywords in PostgreSQL (reserved, or not usable as every kind of name)
/// or in SQLite; quoting one that needs none is harmless.
static KEYWORDS: LazyLock<BTreeSet<&'static str>> = LazyLock::new(|| {
    "ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC \
     ATTACH AUTHORIZATION AUTOINCREMENT BEFORE BEGIN BETWEEN BIGINT BINARY BIT BOOLEAN BOTH BY \
     CASCADE CASE CAST CHAR CHARACTER CHECK COALESCE COLLATE COLLATION COLUMN COMMIT CONCURRENTLY \
     CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE \
     CURRENT_SCHEMA CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DATABASE DEC DECIMAL DEFAULT \
     DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE \
     EXCLUSIVE EXISTS EXPLAIN EXTRACT FAIL FALSE FETCH FILTER FIRST FLOAT FOLLOWING FOR FOREIGN \
     FREEZE FROM FULL GENERATED GLOB GRANT GREATEST GROUP GROUPING GROUPS HAVING IF IGNORE ILIKE \
     IMMEDIATE IN INDEX INDEXED INITIALLY INNER INOUT INSERT INSTEAD INT INTEGER INTERSECT \
     INTERVAL INTO IS ISNULL JOIN KEY LAST LATERAL LEADING LEAST LEFT LIKE LIMIT LOCALTIME \
     LOCALTIMESTAMP MATCH MATERIALIZED NATIONAL NATURAL NCHAR NO NONE NORMALIZE NOT NOTHING \
     NOTNULL NULL NULLIF NULLS NUMERIC OF OFFSET ON ONLY OR ORDER OTHERS OUT OUTER OVER OVERLAPS \
     OVERLAY PARTITION PLACING PLAN POSITION PRAGMA PRECEDING PRECISION PRIMARY QUERY RAISE RANGE \
     REAL RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT \
     ROLLBACK ROW ROWS SAVEPOINT SELECT SESSION_USER SET SETOF SIMILAR SMALLINT SOME SUBSTRING \
     SYMMETRIC TABLE TABLESAMPLE TEMP TEMPORARY THEN TIES TIME TIMESTAMP TO TRAILING TRANSACTION \
     TREAT TRIGGER TRIM TRUE UNBOUNDED UNION UNIQUE UPDATE USER USING VACUUM VALUES VARCHAR \
     VARIADIC VERBOSE VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT"
        .split_whitespace()
        .collect()
});

/// The table's columns, primary-key columns first (in key order), then the rest by name.
fn column_order(table: &Table) -> Vec<(&String, &Column)> {
    let key: Vec<&String> = table
        .constraints
        .values()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|c| c.columns.iter().collect())
        .unwrap_or_default();
    let mut columns: Vec<(&String, &Column)> = key
        .iter()
        .filter_map(|k| table.columns.get_key_value(k.as_str()))
        .collect();
    columns.extend(table.columns.iter().filter(|(n, _)| !key.contains(n)));
    columns
}

/// Views in name order, except that a view comes after the views its definition names.
pub(crate) fn view_order(
    views: &std::collections::BTreeMap<String, String>,
) -> Vec<(&String, &String)> {
    let names_view = |definition: &str, other: &str| {
        let lower = definition.to_lowercase();
        let other = other.to_lowercase();
        let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        lower.match_indices(&other).any(|(at, _)| {
            !lower[..at].chars().next_back().is_some_and(word)
                && !lower[at + other.len()..].chars().next().is_some_and(word)
        })
    };
    let mut left: Vec<(&String, &String)> = views.iter().collect();
    let mut ordered = Vec::new();
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|(name, definition)| {
                !left
                    .iter()
                    .any(|(other, _)| other != name && names_view(definition, other))
            })
            // A cycle (or a name that only looks like a reference): name order.
            .unwrap_or(0);
        ordered.push(left.remove(ready));
    }
    ordered
}

/// `a`, `"A b"`: a column as an index part already reads; anything else is an expression.
fn is_identifier(text: &str) -> bool {
    let quoted = text.len() >= 2 && text.starts_with('"') && text.ends_with('"');
    quoted
        || (!text.is_empty()
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$'))
}

/// `lower(email)`: a function call, which PostgreSQL takes as an index part without
/// parentheses of its own.
fn is_call(text: &str) -> bool {
    text.find('(').is_some_and(|open| {
        open > 0 && is_identifier(&text[..open]) && parenthesised(&text[open..])
    })
}

/// Whether `text` is wrapped in one pair of parentheses from end to end.
fn parenthesised(text: &str) -> bool {
    if !(text.starts_with('(') && text.ends_with(')')) {
        return false;
    }
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 && i + 1 < text.len() {
                        return false;
                    }
                }
                _ => {}
            },
        }
    }
    true
}

fn split_desc(part: &str) -> (&str, &str) {
    match part.strip_suffix(" DESC") {
        Some(base) => (base, " DESC"),
        None => (part, ""),
    }
}

fn references(out: &Writer, constraint: &Constraint) -> String {
    let Some(r) = &constraint.references else {
        return String::new();
    };
    let table = if out.dialect == Dialect::Postgres && r.table.contains('.') {
        // Another schema's table, already quoted by the catalog query.
        r.table.clone()
    } else if out.dialect == Dialect::MySql && r.table.contains('.') {
        let (db, table) = r.table.split_once('.').unwrap_or_default();
        format!("{}.{}", out.q(db), out.q(table))
    } else {
        out.q(&r.table)
    };
    let mut text = format!(
        "FOREIGN KEY ({}) REFERENCES {table}",
        out.list(&constraint.columns)
    );
    if !r.columns.is_empty() {
        text.push_str(&format!(" ({})", out.list(&r.columns)));
    }
    if r.on_update != "no action" {
        text.push_str(&format!(" ON UPDATE {}", r.on_update.to_uppercase()));
    }
    if r.on_delete != "no action" {
        text.push_str(&format!(" ON DELETE {}", r.on_delete.to_uppercase()));
    }
    text
}

/// A constraint as a table element (`CONSTRAINT name …`, or unnamed on SQLite).
pub(crate) fn constraint(out: &Writer, name: &str, c: &Constraint) -> String {
    let columns = out.list(&c.columns);
    let expression = c.expression.as_deref().unwrap_or("");
    let body = match c.kind {
        ConstraintKind::PrimaryKey => format!("PRIMARY KEY ({columns})"),
        ConstraintKind::Unique => format!("UNIQUE ({columns})"),
        ConstraintKind::ForeignKey => references(out, c),
        ConstraintKind::Check => format!("CHECK ({expression})"),
        ConstraintKind::Exclusion => expression.to_string(),
    };
    // PostgreSQL keeps a key's timing with its expression.
    let timing = match c.kind {
        ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::ForeignKey
            if !expression.is_empty() =>
        {
            format!(" {expression}")
        }
        _ => String::new(),
    };
    let unnamed = match out.dialect {
        // SQLite keys what it keeps no name for by its definition; MySQL's key is PRIMARY.
        Dialect::Sqlite => name.contains(' ') || name == "PRIMARY KEY",
        Dialect::MySql => c.kind == ConstraintKind::PrimaryKey,
        Dialect::Postgres => false,
    };
    if unnamed {
        format!("{body}{timing}")
    } else {
        format!("CONSTRAINT {} {body}{timing}", out.q(name))
    }
}

/// The constraints written in the table (foreign keys come later), primary key first.
fn keys_in_table(table: &Table) -> Vec<(&String, &Constraint)> {
    let mut keys: Vec<(&String, &Constraint)> = table
        .constraints
        .iter()
        .filter(|(_, c)| c.kind != ConstraintKind::ForeignKey)
        .collect();
    keys.sort_by_key(|(_, c)| c.kind != ConstraintKind::PrimaryKey);
    keys
}

fn create_table(out: &Writer, name: &str, elements: Vec<String>) -> String {
    format!(
        "CREATE TABLE {} (\n    {}\n);",
        out.q(name),
        elements.join(",\n    ")
    )
}

fn postgres(out: &mut Writer, schema: &Schema, definitions: &Definitions) {
    // As pg_dump does: a function's body may name a table created further down.
    out.text.push_str("SET check_function_bodies = false;\n");
    out.section(
        "Extensions",
        definitions
            .extensions
            .iter()
            .map(|e| format!("CREATE EXTENSION IF NOT EXISTS {};", out.q(e)))
            .collect(),
    );
    out.section(
        "Types",
        schema
            .enums
            .iter()
            .map(|(name, labels)| format!("CREATE TYPE {} AS {labels};", out.q(name)))
            .collect(),
    );

    let mut owned_sequences = Vec::new();
    let mut owned_by = Vec::new();
    let mut tables = Vec::new();
    for (table_name, table) in &schema.tables {
        let built = postgres_table(out, schema, table_name, table, &BTreeSet::new());
        owned_sequences.extend(built.sequences);
        owned_by.extend(built.owned_by);
        tables.push(built.create);
    }
    out.section(
        "Sequences",
        schema
            .sequences
            .iter()
            .map(|(name, definition)| format!("CREATE SEQUENCE {} AS {definition};", out.q(name)))
            .chain(owned_sequences)
            .collect(),
    );
    out.section(
        "Functions and procedures",
        schema
            .routines
            .keys()
            .map(|key| match definitions.routines.get(key) {
                Some(Some(definition)) => format!("{definition};"),
                _ => format!(
                    "-- {key}: pull cannot write this routine (an aggregate?); add its CREATE by hand."
                ),
            })
            .collect(),
    );
    tables.extend(owned_by);
    out.section("Tables", tables);
    out.section("Indexes", indexes(out, schema));
    // After the indexes: a foreign key may reference columns a unique index covers.
    foreign_keys(out, schema);
    out.section(
        "Views",
        view_order(&schema.views)
            .into_iter()
            .map(|(name, definition)| {
                let (kind, query) = match definition.strip_prefix("MATERIALIZED ") {
                    Some(query) => ("MATERIALIZED VIEW", query),
                    None => ("VIEW", definition.as_str()),
                };
                format!(
                    "CREATE {kind} {} AS {};",
                    out.q(name),
                    query.trim_end_matches(';')
                )
            })
            .collect(),
    );
    out.section(
        "Triggers",
        schema
            .triggers
            .values()
            .map(|definition| format!("CREATE {definition};"))
            .collect(),
    );
}

/// A PostgreSQL table as DDL: its `CREATE TABLE`, and the sequences its columns own
/// (created before it, owned after it).
pub(crate) struct PgTable {
    pub create: String,
    pub sequences: Vec<String>,
    pub owned_by: Vec<String>,
}

pub(crate) fn postgres_table(
    out: &Writer,
    schema: &Schema,
    table_name: &str,
    table: &Table,
    apart: &BTreeSet<String>,
) -> PgTable {
    let mut built = PgTable {
        create: String::new(),
        sequences: Vec::new(),
        owned_by: Vec::new(),
    };
    let mut elements = Vec::new();
    for (column_name, column) in column_order(table) {
        let (text, owned) = postgres_column(out, schema, table_name, column_name, column, apart);
        if let Some((sequence, owner)) = owned {
            built.sequences.push(sequence);
            built.owned_by.push(owner);
        }
        elements.push(text);
    }
    let keys = keys_in_table(table);
    elements.extend(keys.iter().map(|(n, c)| constraint(out, n, c)));
    built.create = create_table(out, table_name, elements);
    built
}

/// The sequence a `nextval('name')` default draws from, in the model's spelling of
/// defaults (the schema and the `::regclass` cast left out).
pub(crate) fn nextval_sequence(default: &str) -> Option<String> {
    let name = default.strip_prefix("nextval('")?.strip_suffix("')")?;
    Some(
        name.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .map_or(name.to_string(), |s| s.replace("\"\"", "\"")),
    )
}

/// A PostgreSQL column as a table element. A serial column's sequence belongs to it and
/// is not in the model: `serial` when the names are the ones it gives, else the
/// sequence's `CREATE` and its `OWNED BY`, returned beside the element. A sequence in
/// `apart` exists already and is owned by the caller's own statements: the column only
/// draws from it.
pub(crate) fn postgres_column(
    out: &Writer,
    schema: &Schema,
    table_name: &str,
    column_name: &str,
    column: &Column,
    apart: &BTreeSet<String>,
) -> (String, Option<(String, String)>) {
    let mut column = column.clone();
    let mut owned = None;
    if let Some(sequence) = column
        .default
        .as_deref()
        .and_then(nextval_sequence)
        .filter(|s| !schema.sequences.contains_key(s) && !apart.contains(s))
    {
        let serial = match column.data_type.as_str() {
            "integer" => Some("serial"),
            "bigint" => Some("bigserial"),
            "smallint" => Some("smallserial"),
            _ => None,
        };
        match serial {
            Some(serial)
                if !column.nullable && sequence == format!("{table_name}_{column_name}_seq") =>
            {
                column.data_type = serial.into();
                column.default = None;
            }
            _ => {
                owned = Some((
                    format!(
                        "CREATE SEQUENCE {} AS {};",
                        out.q(&sequence),
                        column.data_type
                    ),
                    format!(
                        "ALTER SEQUENCE {} OWNED BY {}.{};",
                        out.q(&sequence),
                        out.q(table_name),
                        out.q(column_name)
                    ),
                ));
            }
        }
    }
    let mut text = format!("{} {}", out.q(column_name), column.data_type);
    if let Some(generated) = &column.generated {
        text.push_str(&format!(" {generated}"));
    } else if let Some(default) = &column.default {
        text.push_str(&format!(" DEFAULT {default}"));
    }
    if !column.nullable && !column.data_type.ends_with("serial") {
        text.push_str(" NOT NULL");
    }
    (text, owned)
}

/// `CREATE INDEX` for every index of every table, each part as `part` writes it.
fn indexes(out: &Writer, schema: &Schema) -> Vec<String> {
    let mut statements = Vec::new();
    for (table_name, table) in &schema.tables {
        for (name, index) in &table.indexes {
            statements.push(create_index(out, table_name, table, name, index, ""));
        }
    }
    statements
}

/// `CREATE INDEX` of one index (PostgreSQL and SQLite); `how` goes after INDEX
/// (`CONCURRENTLY `).
pub(crate) fn create_index(
    out: &Writer,
    table_name: &str,
    table: &Table,
    name: &str,
    index: &Index,
    how: &str,
) -> String {
    let parts: Vec<String> = index
        .columns
        .iter()
        .map(|part| {
            let (base, desc) = split_desc(part);
            match out.dialect {
                Dialect::Sqlite if table.columns.contains_key(base) => {
                    format!("{}{desc}", out.q(base))
                }
                Dialect::Postgres
                    if !(is_identifier(base) || parenthesised(base) || is_call(base)) =>
                {
                    format!("({base}){desc}")
                }
                _ => part.to_string(),
            }
        })
        .collect();
    format!(
        "CREATE {}INDEX {how}{} ON {}{} ({}){};",
        if index.unique { "UNIQUE " } else { "" },
        out.q(name),
        out.q(table_name),
        index
            .method
            .as_ref()
            .map(|m| format!(" USING {m}"))
            .unwrap_or_default(),
        parts.join(", "),
        index
            .predicate
            .as_ref()
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default()
    )
}

/// Foreign keys after every table, so that neither order nor cycles matter.
fn foreign_keys(out: &mut Writer, schema: &Schema) {
    let statements = schema
        .tables
        .iter()
        .flat_map(|(table, t)| t.constraints.iter().map(move |(n, c)| (table, n, c)))
        .filter(|(_, _, c)| c.kind == ConstraintKind::ForeignKey)
        .map(|(table, name, c)| {
            format!(
                "ALTER TABLE {} ADD {};",
                out.q(table),
                constraint(out, name, c)
            )
        })
        .collect();
    out.section("Foreign keys", statements);
}

fn mysql(out: &mut Writer, schema: &Schema, definitions: &Definitions) {
    out.section(
        "Sequences",
        schema
            .sequences
            .keys()
            .map(|name| match definitions.sequences.get(name) {
                Some(definition) => format!("{definition};"),
                None => {
                    format!("-- sequence {name}: pull cannot read its definition; add it by hand.")
                }
            })
            .collect(),
    );
    let tables = schema
        .tables
        .iter()
        .map(|(name, table)| mysql_table(out, name, table))
        .collect();
    out.section("Tables", tables);
    foreign_keys(out, schema);
    out.section(
        "Views",
        view_order(&schema.views)
            .into_iter()
            .map(|(name, definition)| format!("CREATE VIEW {} AS {definition};", out.q(name)))
            .collect(),
    );
    // Bodies hold `;`: the mysql client's DELIMITER, which godwit reads too.
    let mut compound: Vec<String> = schema
        .routines
        .keys()
        .map(|key| match definitions.routines.get(key) {
            Some(Some(definition)) => format!("{definition}$$"),
            _ => format!("-- routine {key}: pull may not read its definition; add it by hand."),
        })
        .collect();
    compound.extend(
        schema
            .triggers
            .keys()
            .map(|key| match definitions.triggers.get(key) {
                Some(definition) => format!("{definition}$$"),
                None => {
                    format!("-- trigger {key}: pull cannot read its definition; add it by hand.")
                }
            }),
    );
    if !compound.is_empty() {
        compound.insert(0, "DELIMITER $$".into());
        compound.push("DELIMITER ;".into());
    }
    out.section("Routines and triggers", compound);
}

/// A MySQL column as a table element (or as `MODIFY COLUMN` takes it).
pub(crate) fn mysql_column(out: &Writer, column_name: &str, column: &Column) -> String {
    let mut text = format!("{} {}", out.q(column_name), column.data_type);
    match &column.generated {
        Some(generated) if generated.starts_with("GENERATED ALWAYS AS") => {
            text.push_str(&format!(" {generated}"));
            if !column.nullable {
                text.push_str(" NOT NULL");
            }
        }
        other => {
            text.push_str(if column.nullable {
                " NULL"
            } else {
                " NOT NULL"
            });
            if let Some(default) = &column.default {
                text.push_str(&format!(" DEFAULT {default}"));
            }
            if let Some(extra) = other {
                text.push_str(&format!(" {extra}"));
            }
        }
    }
    text
}

/// A MySQL index as a table element (`UNIQUE KEY `name` (…)`).
pub(crate) fn mysql_index(out: &Writer, name: &str, index: &Index) -> String {
    let parts: Vec<String> = index.columns.iter().map(|p| mysql_part(out, p)).collect();
    let (kind, using) = match index.method.as_deref() {
        Some(m @ ("FULLTEXT" | "SPATIAL")) => (format!("{m} KEY"), String::new()),
        Some(m) => ("KEY".to_string(), format!(" USING {m}")),
        None => ("KEY".to_string(), String::new()),
    };
    format!(
        "{}{kind} {} ({}){using}",
        if index.unique { "UNIQUE " } else { "" },
        out.q(name),
        parts.join(", ")
    )
}

/// A MySQL `CREATE TABLE` with its keys, indexes and checks (foreign keys come later).
pub(crate) fn mysql_table(out: &Writer, table_name: &str, table: &Table) -> String {
    let mut elements: Vec<String> = column_order(table)
        .into_iter()
        .map(|(name, column)| mysql_column(out, name, column))
        .collect();
    let keys = keys_in_table(table);
    let (primary, checks): (Vec<_>, Vec<_>) = keys
        .into_iter()
        .partition(|(_, c)| c.kind == ConstraintKind::PrimaryKey);
    elements.extend(primary.iter().map(|(n, c)| constraint(out, n, c)));
    // Indexes in the table, so that a foreign key added below finds its index rather
    // than making one of its own.
    elements.extend(
        table
            .indexes
            .iter()
            .map(|(name, index)| mysql_index(out, name, index)),
    );
    elements.extend(checks.iter().map(|(n, c)| constraint(out, n, c)));
    create_table(out, table_name, elements)
}

/// `email(10) DESC` → `` `email`(10) DESC ``; an expression part (`(lower(a))`) as it is.
fn mysql_part(out: &Writer, part: &str) -> String {
    let (base, desc) = split_desc(part);
    if base.starts_with('(') {
        return part.to_string();
    }
    let (column, prefix) = match base.find('(') {
        Some(at) if base.ends_with(')') => (&base[..at], &base[at..]),
        _ => (base, ""),
    };
    format!("{}{prefix}{desc}", out.q(column))
}

/// SQLite reads a literal default bare and anything else in parentheses, and reports
/// either without them.
static SQLITE_LITERAL: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)^(null|true|false|current_time|current_date|current_timestamp|[+-]?[0-9]+(\.[0-9]*)?(e[+-]?[0-9]+)?|'([^']|'')*'|x'[0-9a-f]*')$",
    )
    .expect("valid regex")
});

/// A SQLite `CREATE TABLE`, keys, checks and foreign keys inside it.
pub(crate) fn sqlite_table(out: &Writer, table_name: &str, table: &Table) -> String {
    let mut elements = Vec::new();
    let primary = table.constraints.get("PRIMARY KEY");
    // AUTOINCREMENT is only allowed on the column itself (`INTEGER PRIMARY KEY`).
    let inline_key = primary.filter(|p| {
        p.columns.len() == 1
            && table
                .columns
                .get(&p.columns[0])
                .is_some_and(|c| c.generated.as_deref() == Some("AUTOINCREMENT"))
    });
    for (column_name, column) in column_order(table) {
        let mut text = out.q(column_name);
        if !column.data_type.is_empty() {
            text.push_str(&format!(" {}", column.data_type));
        }
        match column.generated.as_deref() {
            Some("AUTOINCREMENT") if inline_key.is_some() => {
                text.push_str(" PRIMARY KEY AUTOINCREMENT");
            }
            Some(generated) if generated.starts_with("GENERATED ALWAYS AS") => {
                text.push_str(&format!(" {generated}"));
            }
            _ => {}
        }
        if !column.nullable {
            text.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            if SQLITE_LITERAL.is_match(default) {
                text.push_str(&format!(" DEFAULT {default}"));
            } else {
                text.push_str(&format!(" DEFAULT ({default})"));
            }
        }
        elements.push(text);
    }
    let mut keys: Vec<(&String, &Constraint)> = table
        .constraints
        .iter()
        .filter(|(_, c)| !(inline_key.is_some() && c.kind == ConstraintKind::PrimaryKey))
        .collect();
    // Keys, checks, then foreign keys, as people write them.
    keys.sort_by_key(|(_, c)| match c.kind {
        ConstraintKind::PrimaryKey => 0,
        ConstraintKind::Unique => 1,
        ConstraintKind::Check | ConstraintKind::Exclusion => 2,
        ConstraintKind::ForeignKey => 3,
    });
    elements.extend(keys.iter().map(|(n, c)| constraint(out, n, c)));
    create_table(out, table_name, elements)
}

fn sqlite(out: &mut Writer, schema: &Schema) {
    let tables = schema
        .tables
        .iter()
        .map(|(name, table)| sqlite_table(out, name, table))
        .collect();
    out.section("Tables", tables);
    out.section("Indexes", indexes(out, schema));
    // SQLite keeps a view's and a trigger's text as written: the model has all of it.
    out.section(
        "Views",
        view_order(&schema.views)
            .into_iter()
            .map(|(_, definition)| format!("{definition};"))
            .collect(),
    );
    out.section(
        "Triggers",
        schema
            .triggers
            .values()
            .map(|definition| format!("{definition};"))
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_only_where_needed() {
        assert_eq!(quote(Dialect::Postgres, "users"), "users");
        assert_eq!(quote(Dialect::Postgres, "user"), "\"user\"");
        assert_eq!(quote(Dialect::Postgres, "Users"), "\"Users\"");
        assert_eq!(quote(Dialect::Postgres, "a\"b"), "\"a\"\"b\"");
        assert_eq!(quote(Dialect::Postgres, "1st"), "\"1st\"");
        assert_eq!(quote(Dialect::Sqlite, "Users"), "Users");
        assert_eq!(quote(Dialect::Sqlite, "order"), "\"order\"");
        assert_eq!(quote(Dialect::MySql, "a`b"), "`a``b`");
    }

    #[test]
    fn a_view_follows_the_views_it_reads() {
        let mut views = std::collections::BTreeMap::new();
        views.insert("a_top".to_string(), "SELECT * FROM b_middle".to_string());
        views.insert("b_middle".to_string(), "SELECT * FROM c_base_x".to_string());
        views.insert("c_base".to_string(), "SELECT 1".to_string());
        views.insert("c_base_x".to_string(), "SELECT * FROM c_base".to_string());
        let order: Vec<&str> = view_order(&views).iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(order, ["c_base", "c_base_x", "b_middle", "a_top"]);
    }

    #[test]
    fn index_expressions_are_parenthesised_once() {
        assert!(parenthesised("(a + 1)"));
        assert!(!parenthesised("(a) + (b)"));
        assert!(!parenthesised("lower(b)"));
        assert!(parenthesised("(')(')"));
        assert!(is_identifier("email"));
        assert!(is_identifier("\"Weird Name\""));
        assert!(!is_identifier("lower(email)"));
        assert!(is_call("lower((email)::text)"));
        assert!(!is_call("lower(a) || lower(b)"));
        assert!(!is_call("(a + 1)"));
    }

    #[test]
    fn sqlite_defaults_that_are_not_literals_get_parentheses() {
        for literal in [
            "NULL",
            "0",
            "-1.5",
            "'it''s'",
            "CURRENT_TIMESTAMP",
            "x'00ff'",
            "1e3",
        ] {
            assert!(SQLITE_LITERAL.is_match(literal), "{literal}");
        }
        for expression in ["datetime('now')", "1 + 1", "'a' || 'b'"] {
            assert!(!SQLITE_LITERAL.is_match(expression), "{expression}");
        }
    }
}
