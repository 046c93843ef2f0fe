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
