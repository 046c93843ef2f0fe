//! Writing names and values into SQL text, for the statements godwit builds itself.

use crate::Dialect;

/// `ident` as a quoted identifier of `dialect`, whatever it holds: backticks on MySQL,
/// double quotes elsewhere, the quote character doubled inside.
pub fn quote(dialect: Dialect, ident: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// A table name as written with a dot between schema and table (`audit.events`, as a
/// plugin or step.toml gives it), quoted part by part.
pub fn quote_table(dialect: Dialect, table: &str) -> String {
    table
        .split('.')
        .map(|part| quote(dialect, part))
        .collect::<Vec<_>>()
        .join(".")
}

/// `text` as a string literal of `dialect`: quotes doubled, and on MySQL backslashes too,
/// which it reads as escapes by default (PostgreSQL and SQLite do not, PostgreSQL with
/// `standard_conforming_strings` on, its default since 9.1).
pub fn literal(dialect: Dialect, text: &str) -> String {
    let text = text.replace('\'', "''");
    match dialect {
        Dialect::MySql => format!("'{}'", text.replace('\\', "\\\\")),
        Dialect::Postgres | Dialect::Sqlite => format!("'{text}'"),
    }
}

/// The name of a table or schema, written as `text` (quoted or not), as `dialect` looks
/// it up, so that two spellings name one object exactly when their keys are equal:
/// - PostgreSQL folds an unquoted name to lower case (ASCII only, in a UTF-8 database)
///   and keeps a quoted one exactly;
/// - MySQL/MariaDB on Linux (`lower_case_table_names = 0`) keep table and database names
///   exactly, quoted or not;
/// - SQLite compares names without regard to ASCII case, quoted or not.
///
/// Names read from a catalog are exact spellings: compare them as quoted.
pub fn name_key(dialect: Dialect, text: &str, quoted: bool) -> String {
    match dialect {
        Dialect::Postgres if quoted => text.to_owned(),
        Dialect::Postgres | Dialect::Sqlite => text.to_ascii_lowercase(),
        Dialect::MySql => text.to_owned(),
    }
}

/// [`name_key`] for a column: the same, except that MySQL column names never depend on
/// case.
pub fn column_key(dialect: Dialect, text: &str, quoted: bool) -> String {
    match dialect {
        Dialect::MySql => text.to_ascii_lowercase(),
        _ => name_key(dialect, text, quoted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted_and_their_quotes_doubled() {
        assert_eq!(quote(Dialect::Postgres, "users"), "\"users\"");
        assert_eq!(quote(Dialect::Sqlite, "Odd\"Name"), "\"Odd\"\"Name\"");
        assert_eq!(quote(Dialect::MySql, "a`b"), "`a``b`");
        assert_eq!(quote(Dialect::MySql, "say \"hi\""), "`say \"hi\"`");
    }

    #[test]
    fn literals_double_quotes_and_mysql_backslashes() {
        assert_eq!(literal(Dialect::Postgres, "it's"), "'it''s'");
        assert_eq!(literal(Dialect::Sqlite, "a\\b"), "'a\\b'");
        assert_eq!(literal(Dialect::MySql, "a\\'b"), "'a\\\\''b'");
    }
}
