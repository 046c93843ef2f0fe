//! A database's schema in a dialect-neutral form, and the differences between two of them.
//!
//! `verify` builds a [`Schema`] from the shadow database and another from the target, and
//! reports [`diff`] object by object. The model keeps only what migrations decide and
//! normalises what the database invents, so that the same migrations applied to two fresh
//! databases give equal schemas: every map is a `BTreeMap` (stable order, stable output),
//! type names are shortened (`character varying(255)` → `varchar(255)`), integer display
//! widths are dropped on MySQL, serial defaults lose their schema and casts, and names
//! that embed the database (MySQL view definitions) lose it. Column order is not compared:
//! no dialect lets a migration choose it reliably, and it never breaks a query that names
//! its columns.
//!
//! The model is pure: the host's drivers build it from each database's catalogs (their
//! `introspect` modules), `godwit diff` builds one from a declared schema, and `pull`
//! renders one as DDL.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Everything `verify` compares, keyed by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    /// Views (and PostgreSQL materialized views) with their normalised definition.
    pub views: BTreeMap<String, String>,
    /// Free-standing sequences; those owned by a serial or identity column are part of it.
    pub sequences: BTreeMap<String, String>,
    /// PostgreSQL enum types and their labels, in order.
    pub enums: BTreeMap<String, String>,
    /// Functions and procedures: `name(argument types)` → kind and result.
    pub routines: BTreeMap<String, String>,
    /// Triggers: name → `timing event ON table`.
    pub triggers: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    pub columns: BTreeMap<String, Column>,
    /// Indexes that are not the implementation of a constraint listed below.
    pub indexes: BTreeMap<String, Index>,
    /// Keyed by the constraint's name; SQLite does not keep names, so there the key is
    /// the constraint itself (`PRIMARY KEY`, `FOREIGN KEY (user_id)`, …).
    pub constraints: BTreeMap<String, Constraint>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// Identity, serial, `AUTO_INCREMENT`, or a generated column's expression.
    pub generated: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Index {
    /// Column names or expressions, with ` DESC` where descending.
    pub columns: Vec<String>,
    pub unique: bool,
    /// The `WHERE` of a partial index.
    pub predicate: Option<String>,
    /// The access method where the database has several (`btree`, `gin`, `FULLTEXT`…).
    pub method: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey,
    Check,
    Exclusion,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    pub columns: Vec<String>,
    pub references: Option<Reference>,
    /// A check's expression, or an exclusion constraint's definition.
    pub expression: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub table: String,
    pub columns: Vec<String>,
    /// Lowercase, as SQL spells them: `no action`, `cascade`, `set null`…
    pub on_update: String,
    pub on_delete: String,
}

/// What `godwit pull` needs beyond the [`Schema`] to write an object back as DDL: the
/// model keeps what verify compares (a routine's result and body, a MySQL trigger's
/// digest), not always enough to create the object again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Definitions {
    /// Routine key (as in [`Schema::routines`]) → its whole `CREATE` statement, or `None`
    /// when the database cannot print one (a PostgreSQL aggregate).
    pub routines: BTreeMap<String, Option<String>>,
    /// Trigger key → its whole `CREATE TRIGGER`, where the model keeps less (MySQL).
    pub triggers: BTreeMap<String, String>,
    /// Sequence name → its whole `CREATE SEQUENCE`, where the model keeps less (MariaDB).
    pub sequences: BTreeMap<String, String>,
    /// PostgreSQL extensions the schema's columns and indexes may rely on (not plpgsql).
    pub extensions: Vec<String>,
}

/// Tables a migration tool keeps for itself: godwit's own, and the history tables of the
/// tools `godwit adopt` reads. They differ between any two databases by design (a shadow
/// built by godwit has none of another tool's), so verify must not call them drift, nor
/// a generated migration drop them.
pub fn is_bookkeeping_table(name: &str) -> bool {
    matches!(
        name,
        "godwit_migrations"
            | "godwit_lock"
            | "godwit_data_copies"
            | "godwit_step_progress"
            | "godwit_batches"
            | "_prisma_migrations"
            | "__drizzle_migrations"
            | "_sqlx_migrations"
            | "flyway_schema_history"
            | "goose_db_version"
            | "schema_migrations"
            | "__diesel_schema_migrations"
            | "schema_migration"
    ) || name.starts_with("godwit_backup_")
}

impl Schema {
    /// Nothing a migration could have created.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
            && self.views.is_empty()
            && self.sequences.is_empty()
            && self.enums.is_empty()
            && self.routines.is_empty()
            && self.triggers.is_empty()
    }

    /// `table users`, `view active_users`, … for messages; at most `limit` of them.
    pub fn object_names(&self, limit: usize) -> Vec<String> {
        let kinds: [(&str, Vec<&String>); 6] = [
            ("table", self.tables.keys().collect()),
            ("view", self.views.keys().collect()),
            ("sequence", self.sequences.keys().collect()),
            ("type", self.enums.keys().collect()),
            ("routine", self.routines.keys().collect()),
            ("trigger", self.triggers.keys().collect()),
        ];
        kinds
            .iter()
            .flat_map(|(kind, names)| names.iter().map(move |n| format!("{kind} {n}")))
            .take(limit)
            .collect()
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.data_type)?;
        f.write_str(if self.nullable { " NULL" } else { " NOT NULL" })?;
        if let Some(default) = &self.default {
            write!(f, " DEFAULT {default}")?;
        }
        if let Some(generated) = &self.generated {
            write!(f, " {generated}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unique {
            f.write_str("UNIQUE ")?;
        }
        if let Some(method) = &self.method {
            write!(f, "USING {method} ")?;
        }
        write!(f, "({})", self.columns.join(", "))?;
        if let Some(predicate) = &self.predicate {
            write!(f, " WHERE {predicate}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = self.columns.join(", ");
        match self.kind {
            ConstraintKind::PrimaryKey => write!(f, "PRIMARY KEY ({columns})"),
            ConstraintKind::Unique => write!(f, "UNIQUE ({columns})"),
            ConstraintKind::ForeignKey => {
                write!(f, "FOREIGN KEY ({columns})")?;
                if let Some(r) = &self.references {
                    write!(f, " REFERENCES {} ({})", r.table, r.columns.join(", "))?;
                    if r.on_update != "no action" {
                        write!(f, " ON UPDATE {}", r.on_update.to_uppercase())?;
                    }
                    if r.on_delete != "no action" {
                        write!(f, " ON DELETE {}", r.on_delete.to_uppercase())?;
                    }
                }
                Ok(())
            }
            ConstraintKind::Check => {
                write!(f, "CHECK ({})", self.expression.as_deref().unwrap_or(""))
            }
            ConstraintKind::Exclusion => f.write_str(self.expression.as_deref().unwrap_or("")),
        }
    }
}

/// How an object differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Expected, but not there.
    Missing,
    /// There, but not expected.
    Extra,
    /// On both sides, defined differently.
    Different,
}

/// One object that differs: `table users`, `column users.email`,
/// `index users_email_idx on users`, `constraint posts_user_id_fkey on posts`…
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub object: String,
    pub kind: DriftKind,
    /// The definition on the expected side (what the migrations produce), if any.
    pub expected: Option<String>,
    /// The definition on the actual side (the database), if any.
    pub actual: Option<String>,
}

/// Which comparison a [`Drift`] comes from, so its sentence says the right thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perspective {
    /// Expected = the migrations (on the shadow), actual = the target database.
    Target,
    /// Expected = the schema before up.sql, actual = the schema after down.sql.
    Reversal,
    /// Expected = what the migrations build, actual = the declared schema.
    Declared,
}

impl Drift {
    /// One line a person can act on; for a long definition (a view, a function body), a
    /// line diff under it, so that the difference itself is visible.
    pub fn describe(&self, perspective: Perspective) -> String {
        let expected = shown(self.expected.as_deref().unwrap_or(""));
        let actual = shown(self.actual.as_deref().unwrap_or(""));
        let object = &self.object;
        if self.kind == DriftKind::Different
            && let (Some(want), Some(have)) = (&self.expected, &self.actual)
            && (is_long(want) || is_long(have))
        {
            let (minus, plus) = match perspective {
                Perspective::Target => ("the migrations", "the database"),
                Perspective::Reversal => ("before up.sql", "after down.sql"),
                Perspective::Declared => ("the migrations", "the declared schema"),
            };
            return format!(
                "{object} differs ({minus} -, {plus} +):\n{}",
                line_diff(&definition_lines(want), &definition_lines(have)).join("\n")
            );
        }
        match (perspective, self.kind) {
            (Perspective::Target, DriftKind::Extra) => format!(
                "{object}: in the database but not in the migrations (added by hand?): {actual}"
            ),
            (Perspective::Target, DriftKind::Missing) => format!(
                "{object}: in the migrations but not in the database (dropped by hand?): {expected}"
            ),
            (Perspective::Target, DriftKind::Different) => {
                format!("{object}: the migrations give `{expected}`, the database has `{actual}`")
            }
            (Perspective::Reversal, DriftKind::Extra) => {
                format!("{object} still exists after down.sql: {actual}")
            }
            (Perspective::Reversal, DriftKind::Missing) => {
                format!("{object} existed before up.sql and is gone after down.sql: {expected}")
            }
            (Perspective::Reversal, DriftKind::Different) => {
                format!("{object} was `{expected}` before up.sql and is `{actual}` after down.sql")
            }
            (Perspective::Declared, DriftKind::Extra) => format!(
                "{object}: declared, but the migrations do not build it (a migration is missing?): {actual}"
            ),
            (Perspective::Declared, DriftKind::Missing) => format!(
                "{object}: the migrations build it, but the declared schema does not have it: {expected}"
            ),
            (Perspective::Declared, DriftKind::Different) => format!(
                "{object}: the migrations build `{expected}`, the declared schema says `{actual}`"
            ),
        }
    }
}

/// A definition is compared as a diff when it would not read well on one line.
fn is_long(definition: &str) -> bool {
    definition.contains('\n') || definition.chars().count() > 80
}

/// A definition on one line: a function's body (after its first line) is summed up by
/// its length; the whole of it is in `--json`.
fn shown(definition: &str) -> String {
    match definition.split_once('\n') {
        Some((first, rest)) => format!("{first} (and a body of {} lines)", rest.lines().count()),
        None => definition.to_string(),
    }
}

/// The lines a definition is diffed by: its own, or, for one squashed onto a single line,
/// a break before each clause and after each comma of the select list.
fn definition_lines(definition: &str) -> Vec<String> {
    if definition.contains('\n') {
        return definition
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
    }
    const BREAK_BEFORE: [&str; 16] = [
        " from ",
        " where ",
        " left join ",
        " right join ",
        " inner join ",
        " full join ",
        " cross join ",
        " join ",
        " group by ",
        " order by ",
        " having ",
        " union ",
        " limit ",
        " and ",
        " or ",
        " window ",
    ];
    let lower = definition.to_ascii_lowercase();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    let bytes = definition.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    lines.push(definition[start..=i].to_string());
                    start = (i + 1..bytes.len())
                        .find(|&j| bytes[j] != b' ')
                        .unwrap_or(bytes.len());
                    i = start;
                    continue;
                }
                b' ' if i > start => {
                    if let Some(word) = BREAK_BEFORE.iter().find(|w| lower[i..].starts_with(**w)) {
                        lines.push(definition[start..i].to_string());
                        start = i + 1;
                        i += word.len() - 1;
                        continue;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    if start < definition.len() {
        lines.push(definition[start..].to_string());
    }
    lines
}

/// `-` for lines only in `expected`, `+` for lines only in `actual`, unchanged lines
/// indented; runs of more than seven unchanged lines keep three on each side.
fn line_diff(expected: &[String], actual: &[String]) -> Vec<String> {
    let (n, m) = (expected.len(), actual.len());
    // Longest common subsequence, from the end.
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            out.push((' ', &expected[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(('-', &expected[i]));
            i += 1;
        } else {
            out.push(('+', &actual[j]));
            j += 1;
        }
    }
    let mut lines = Vec::new();
    let mut k = 0;
    while k < out.len() {
        if out[k].0 != ' ' {
            lines.push(format!("{} {}", out[k].0, out[k].1));
            k += 1;
            continue;
        }
        let end = (k..out.len())
            .find(|&e| out[e].0 != ' ')
            .unwrap_or(out.len());
        let (keep_head, keep_tail) = (
            if k == 0 { 0 } else { 3 },
            if end == out.len() { 0 } else { 3 },
        );
        if end - k > keep_head + keep_tail + 1 {
            lines.extend(out[k..k + keep_head].iter().map(|(_, l)| format!("  {l}")));
            lines.push(format!(
                "  … {} unchanged line{}",
                end - k - keep_head - keep_tail,
                if end - k - keep_head - keep_tail == 1 {
                    ""
                } else {
                    "s"
                }
            ));
            lines.extend(
                out[end - keep_tail..end]
                    .iter()
                    .map(|(_, l)| format!("  {l}")),
            );
        } else {
            lines.extend(out[k..end].iter().map(|(_, l)| format!("  {l}")));
        }
        k = end;
    }
    lines
}

/// Every object that differs between `expected` and `actual`, tables first. A table that
/// is missing or extra is one line, not one per column.
pub fn diff(expected: &Schema, actual: &Schema) -> Vec<Drift> {
    let mut out = Vec::new();
    // Tables on both sides are compared column by column below, not as a whole.
    compare_by(
        &mut out,
        &expected.tables,
        &actual.tables,
        |n| format!("table {n}"),
        table_summary,
        |_, _| true,
    );
    for (name, want) in &expected.tables {
        let Some(have) = actual.tables.get(name) else {
            continue;
        };
        compare(
            &mut out,
            &want.columns,
            &have.columns,
            |c| format!("column {name}.{c}"),
            ToString::to_string,
        );
        compare(
            &mut out,
            &want.indexes,
            &have.indexes,
            |i| format!("index {i} on {name}"),
            ToString::to_string,
        );
        compare(
            &mut out,
            &want.constraints,
            &have.constraints,
            |c| format!("constraint {c} on {name}"),
            ToString::to_string,
        );
    }
    let plain = |s: &String| s.clone();
    compare(
        &mut out,
        &expected.views,
        &actual.views,
        |n| format!("view {n}"),
        plain,
    );
    compare(
        &mut out,
        &expected.sequences,
        &actual.sequences,
        |n| format!("sequence {n}"),
        plain,
    );
    compare(
        &mut out,
        &expected.enums,
        &actual.enums,
        |n| format!("type {n}"),
        plain,
    );
    // Bodies are kept as written, so that a real change shows as a line diff; one that
    // was only re-indented (a down.sql recreating the function) is the same function.
    compare_by(
        &mut out,
        &expected.routines,
        &actual.routines,
        |n| format!("routine {n}"),
        plain,
        |a, b| a == b || squash_whitespace(a) == squash_whitespace(b),
    );
    compare(
        &mut out,
        &expected.triggers,
        &actual.triggers,
        |n| format!("trigger {n}"),
        plain,
    );
    out
}

fn compare<T: PartialEq>(
    out: &mut Vec<Drift>,
    expected: &BTreeMap<String, T>,
    actual: &BTreeMap<String, T>,
    object: impl Fn(&str) -> String,
    render: impl Fn(&T) -> String,
) {
    compare_by(out, expected, actual, object, render, |a, b| a == b);
}

fn compare_by<T>(
    out: &mut Vec<Drift>,
    expected: &BTreeMap<String, T>,
    actual: &BTreeMap<String, T>,
    object: impl Fn(&str) -> String,
    render: impl Fn(&T) -> String,
    same: impl Fn(&T, &T) -> bool,
) {
    for (name, want) in expected {
        match actual.get(name) {
            None => out.push(Drift {
                object: object(name),
                kind: DriftKind::Missing,
                expected: Some(render(want)),
                actual: None,
            }),
            Some(have) if !same(want, have) => out.push(Drift {
                object: object(name),
                kind: DriftKind::Different,
                expected: Some(render(want)),
                actual: Some(render(have)),
            }),
            Some(_) => {}
        }
    }
    for (name, have) in actual {
        if !expected.contains_key(name) {
            out.push(Drift {
                object: object(name),
                kind: DriftKind::Extra,
                expected: None,
                actual: Some(render(have)),
            });
        }
    }
}

fn table_summary(table: &Table) -> String {
    let columns: Vec<&str> = table.columns.keys().map(String::as_str).collect();
    format!("({})", columns.join(", "))
}

/// Collapses runs of whitespace outside quotes into one space, so that re-indented
/// definitions compare equal.
pub fn squash_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in text.trim().chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                if matches!(c, '\'' | '"' | '`') {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(data_type: &str, nullable: bool) -> Column {
        Column {
            data_type: data_type.into(),
            nullable,
            default: None,
            generated: None,
        }
    }

    fn users() -> Schema {
        let mut table = Table::default();
        table.columns.insert("id".into(), column("integer", false));
        table
            .columns
            .insert("email".into(), column("varchar(255)", false));
        table.indexes.insert(
            "users_email_idx".into(),
            Index {
                columns: vec!["email".into()],
                unique: false,
                predicate: None,
                method: None,
            },
        );
        table.constraints.insert(
            "users_pkey".into(),
            Constraint {
                kind: ConstraintKind::PrimaryKey,
                columns: vec!["id".into()],
                references: None,
                expression: None,
            },
        );
        let mut schema = Schema::default();
        schema.tables.insert("users".into(), table);
        schema
    }

    #[test]
    fn equal_schemas_have_no_drift() {
        assert!(diff(&users(), &users()).is_empty());
    }

    #[test]
    fn drift_is_reported_object_by_object() {
        let expected = users();
        let mut actual = users();
        let table = actual.tables.get_mut("users").unwrap();
        table
            .columns
            .insert("nickname".into(), column("text", true));
        table.columns.get_mut("email").unwrap().nullable = true;
        table.indexes.clear();
        actual.views.insert("v".into(), "SELECT 1".into());
        let lines: Vec<String> = diff(&expected, &actual)
            .iter()
            .map(|d| d.describe(Perspective::Target))
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        column users.email: the migrations give `varchar(255) NOT NULL`, the database has `varchar(255) NULL`
        column users.nickname: in the database but not in the migrations (added by hand?): text NULL
        index users_email_idx on users: in the migrations but not in the database (dropped by hand?): (email)
        view v: in the database but not in the migrations (added by hand?): SELECT 1
        ");
    }

    #[test]
    fn a_missing_table_is_one_line() {
        let drift = diff(&users(), &Schema::default());
        assert_eq!(drift.len(), 1);
        assert_eq!(
            drift[0].describe(Perspective::Reversal),
            "table users existed before up.sql and is gone after down.sql: (email, id)"
        );
        let drift = diff(&Schema::default(), &users());
        assert_eq!(
            drift[0].describe(Perspective::Reversal),
            "table users still exists after down.sql: (email, id)"
        );
    }

    #[test]
    fn long_definitions_differ_as_a_line_diff() {
        let body = |last: &str| {
            let mut lines: Vec<String> = (1..=20).map(|i| format!("  x{i} := {i};")).collect();
            lines.push(format!("  RETURN {last};"));
            format!(
                "function returning integer\nBEGIN\n{}\nEND",
                lines.join("\n")
            )
        };
        let drift = Drift {
            object: "routine f()".into(),
            kind: DriftKind::Different,
            expected: Some(body("x1")),
            actual: Some(body("x2")),
        };
        insta::assert_snapshot!(drift.describe(Perspective::Target), @r"
        routine f() differs (the migrations -, the database +):
          … 19 unchanged lines
            x18 := 18;
            x19 := 19;
            x20 := 20;
        -   RETURN x1;
        +   RETURN x2;
          END
        ");

        // A view squashed on one line is broken at its clauses; the change late in it shows.
        let columns: Vec<String> = (1..=30).map(|i| format!("p.col{i}")).collect();
        let view = |filter: &str| {
            format!(
                "SELECT {} FROM posts p JOIN users u ON u.id = p.user_id WHERE p.score > {filter} ORDER BY p.id",
                columns.join(", ")
            )
        };
        let drift = Drift {
            object: "view popular_posts".into(),
            kind: DriftKind::Different,
            expected: Some(view("10")),
            actual: Some(view("100")),
        };
        let text = drift.describe(Perspective::Target);
        assert!(
            text.contains("\n- WHERE p.score > 10\n+ WHERE p.score > 100\n"),
            "{text}"
        );
        assert!(
            text.contains("  JOIN users u ON u.id = p.user_id"),
            "{text}"
        );
        assert!(text.contains("unchanged lines"), "{text}");

        // Short ones stay on one line; a body is summed up where only one side has it.
        let drift = Drift {
            object: "routine f()".into(),
            kind: DriftKind::Extra,
            expected: None,
            actual: Some(body("x1")),
        };
        assert_eq!(
            drift.describe(Perspective::Target),
            "routine f(): in the database but not in the migrations (added by hand?): function returning integer (and a body of 23 lines)"
        );
    }

    /// crates.io's down.sql files recreate functions with other indentation: the same
    /// function, not a down.sql that fails to undo its up.sql.
    #[test]
    fn a_reindented_routine_is_the_same_routine() {
        let mut a = Schema::default();
        let mut b = Schema::default();
        a.routines.insert(
            "f()".into(),
            "function returning integer\nBEGIN\n    RETURN 1;\nEND;".into(),
        );
        b.routines.insert(
            "f()".into(),
            "function returning integer\n  BEGIN\n\tRETURN 1;\n  END;".into(),
        );
        assert!(diff(&a, &b).is_empty());
        b.routines.insert(
            "f()".into(),
            "function returning integer\nBEGIN\n    RETURN 'a  b';\nEND;".into(),
        );
        a.routines.insert(
            "f()".into(),
            "function returning integer\nBEGIN\n    RETURN 'a b';\nEND;".into(),
        );
        assert_eq!(
            diff(&a, &b).len(),
            1,
            "spaces inside a string are the function's"
        );
    }

    #[test]
    fn whitespace_is_squashed_outside_quotes() {
        assert_eq!(
            squash_whitespace("  SELECT  a,\n\t b FROM t WHERE x = '  two  '  "),
            "SELECT a, b FROM t WHERE x = '  two  '"
        );
    }

    #[test]
    fn godwit_tables_are_recognised() {
        assert!(is_bookkeeping_table("godwit_migrations"));
        assert!(is_bookkeeping_table("godwit_backup_20261121"));
        assert!(!is_bookkeeping_table("godwit_users"));
    }
}
