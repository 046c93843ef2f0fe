//! The column types a migration history declares, followed migration by migration, so
//! that a type change can be judged against the type it replaces: `ALTER COLUMN … TYPE`
//! to the type the column already has, or a widening PostgreSQL does without a rewrite,
//! is not the table rewrite it looks like on its own.

use std::collections::BTreeMap;

use crate::Dialect;
use crate::analyze::{Effect, StatementInfo};

/// Column types as the history so far declares them, keyed by table and column as the
/// analyser names them.
#[derive(Clone, Debug, Default)]
pub struct ColumnTypes {
    types: BTreeMap<(String, String), String>,
}

/// What changing a column from one type to another costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeChange {
    /// The same type, written the same or as a synonym: MySQL's `CHANGE` and `MODIFY`
    /// restate it to rename a column or change its nullability.
    Same,
    /// PostgreSQL changes it in the catalog only: `varchar(n)` to a longer `varchar` or
    /// to `text`, `text` to an unbounded `varchar`.
    NoRewrite,
    /// Any other change, or one against a type the history does not show.
    Rewrite,
}

impl ColumnTypes {
    /// Follows one migration's statements.
    pub fn apply(&mut self, statements: &[StatementInfo]) {
        for effect in statements.iter().flat_map(|s| &s.effects) {
            match effect {
                Effect::DeclaresColumns { table, columns } => {
                    for (column, data_type) in columns {
                        self.types
                            .insert((table.clone(), column.clone()), data_type.clone());
                    }
                }
                Effect::ChangeType {
                    table,
                    column,
                    new_type,
                } => {
                    self.types
                        .insert((table.clone(), column.clone()), new_type.clone());
                }
                Effect::RenameColumn { table, from, to } => {
                    if let Some(t) = self.types.remove(&(table.clone(), from.clone())) {
                        self.types.insert((table.clone(), to.clone()), t);
                    }
                }
                Effect::DropColumn { table, column } => {
                    self.types.remove(&(table.clone(), column.clone()));
                }
                Effect::DropTable { table, .. } => self.types.retain(|(t, _), _| t != table),
                Effect::RenameTable { from, to } => {
                    let moved: Vec<_> = self
                        .types
                        .iter()
                        .filter(|((t, _), _)| t == from)
                        .map(|((_, c), ty)| (c.clone(), ty.clone()))
                        .collect();
                    self.types.retain(|(t, _), _| t != from);
                    for (c, ty) in moved {
                        self.types.insert((to.clone(), c), ty);
                    }
                }
                _ => {}
            }
        }
    }

    /// The type `table.column` has, if the history shows it.
    pub fn get(&self, table: &str, column: &str) -> Option<&str> {
        self.types
            .get(&(table.to_owned(), column.to_owned()))
            .map(String::as_str)
    }

    /// What changing `table.column` to `new_type` costs on `dialect`.
    pub fn change(
        &self,
        dialect: Dialect,
        table: &str,
        column: &str,
        new_type: &str,
    ) -> TypeChange {
        let Some(old) = self.get(table, column) else {
            return TypeChange::Rewrite;
        };
        let (old, new) = (normalise(old), normalise(new_type));
        if old == new {
            return TypeChange::Same;
        }
        if dialect != Dialect::Postgres {
            return TypeChange::Rewrite;
        }
        match (varchar_length(&old), new.as_str()) {
            // varchar(n) or text → text, or → varchar without a length.
            (Some(_), "TEXT" | "VARCHAR") => TypeChange::NoRewrite,
            (Some(Some(n)), _) => match varchar_length(&new) {
                Some(Some(m)) if m >= n => TypeChange::NoRewrite,
                _ => TypeChange::Rewrite,
            },
            _ if old == "TEXT" && new == "VARCHAR" => TypeChange::NoRewrite,
            _ => TypeChange::Rewrite,
        }
    }
}

/// A type as one spelling: upper case, single spaces, no space before `(`, and the
/// synonyms PostgreSQL and MySQL accept written one way.
fn normalise(data_type: &str) -> String {
    let upper = data_type
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
        .replace(" (", "(")
        .replace(", ", ",");
    let synonyms = [
        ("CHARACTER VARYING", "VARCHAR"),
        ("INT4", "INTEGER"),
        ("INT8", "BIGINT"),
        ("INT2", "SMALLINT"),
        ("BOOL", "BOOLEAN"),
        ("FLOAT8", "DOUBLE PRECISION"),
    ];
    let mut out = upper;
    for (from, to) in synonyms {
        if out == from
            || out.starts_with(&format!("{from}("))
            || out.starts_with(&format!("{from} "))
        {
            out = format!("{to}{}", &out[from.len()..]);
        }
    }
    // INT and INTEGER, with whatever follows (MySQL's UNSIGNED, display widths aside).
    if out == "INT" || out.starts_with("INT ") {
        out = format!("INTEGER{}", &out[3..]);
    }
    out
}

/// `Some(Some(n))` for `VARCHAR(n)`, `Some(None)` for `VARCHAR` or `TEXT`, else `None`.
fn varchar_length(normalised: &str) -> Option<Option<u64>> {
    if normalised == "VARCHAR" || normalised == "TEXT" {
        return Some(None);
    }
    let n = normalised.strip_prefix("VARCHAR(")?.strip_suffix(')')?;
    n.parse().ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(dialect: Dialect, migrations: &[&str]) -> ColumnTypes {
        let mut types = ColumnTypes::default();
        for sql in migrations {
            let statements = crate::split::split(sql, dialect).unwrap();
            types.apply(&crate::analyze::analyze(&statements, dialect));
        }
        types
    }

    /// atuin widens `history.data` twice; neither rewrites the table.
    #[test]
    fn postgres_widening_is_no_rewrite() {
        let types = history(
            Dialect::Postgres,
            &["CREATE TABLE history (id bigserial PRIMARY KEY, data varchar(8192));"],
        );
        let change = |new: &str| types.change(Dialect::Postgres, "history", "data", new);
        assert_eq!(change("varchar(32768)"), TypeChange::NoRewrite);
        assert_eq!(change("character varying(8192)"), TypeChange::Same);
        assert_eq!(change("text"), TypeChange::NoRewrite);
        assert_eq!(change("varchar(100)"), TypeChange::Rewrite);
        assert_eq!(change("integer"), TypeChange::Rewrite);
        assert_eq!(
            types.change(Dialect::Postgres, "history", "unknown", "text"),
            TypeChange::Rewrite
        );
    }

    /// umami renames columns with CHANGE, restating the type; a rename and a later
    /// ADD COLUMN are followed.
    #[test]
    fn mysql_restated_types_are_the_same() {
        let types = history(
            Dialect::MySql,
            &[
                "CREATE TABLE flags (t INT UNSIGNED NOT NULL, v VARCHAR(36) NULL);",
                "ALTER TABLE flags RENAME COLUMN v TO visit_id;",
                "ALTER TABLE flags ADD COLUMN note text;",
            ],
        );
        assert_eq!(
            types.change(Dialect::MySql, "flags", "t", "INTEGER UNSIGNED"),
            TypeChange::Same
        );
        assert_eq!(
            types.change(Dialect::MySql, "flags", "visit_id", "VARCHAR(36)"),
            TypeChange::Same
        );
        assert_eq!(
            types.change(Dialect::MySql, "flags", "visit_id", "VARCHAR(64)"),
            TypeChange::Rewrite
        );
        assert_eq!(
            types.get("flags", "note").map(normalise).as_deref(),
            Some("TEXT")
        );
    }
}
