//! How a statement can be resumed after an interruption: whether it changes data only
//! (so it shares a transaction with its migration's progress counter where DDL commits on
//! its own) and whether it leaves the same result when run a second time.

use crate::Dialect;
use crate::analyze::scan::{Token, tokens};

/// The statement changes data only (`INSERT`, `UPDATE`, `DELETE`, MySQL's `REPLACE`, a
/// query, or a `WITH` that leads to one of them), so it can share a transaction with its
/// progress counter on a database whose DDL commits by itself.
pub fn changes_data_only(sql: &str, dialect: Dialect) -> bool {
    let first = tokens(sql, dialect).into_iter().find_map(|t| match t {
        Token::Word(w) => Some(w),
        Token::Punct('(') => None,
        _ => Some(String::new()),
    });
    first.is_some_and(|w| {
        ["INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    })
}

/// DDL that leaves the same result when run a second time: `CREATE … IF NOT EXISTS`,
/// `CREATE OR REPLACE …`, `DROP … IF EXISTS`. Only the statement's head is read (up to
/// eight words before its first parenthesis or string), so a body that tests `IF NOT
/// EXISTS` does not make its `CREATE FUNCTION` rerunnable.
pub fn rerunnable(sql: &str, dialect: Dialect) -> bool {
    let head: Vec<String> = tokens(sql, dialect)
        .into_iter()
        .take_while(|t| matches!(t, Token::Word(_) | Token::Quoted(_) | Token::Punct('.')))
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        })
        .take(8)
        .collect();
    let has = |seq: &[&str]| {
        head.windows(seq.len())
            .any(|w| w.iter().zip(seq).all(|(a, b)| a == b))
    };
    match head.first().map(String::as_str) {
        Some("CREATE") => has(&["IF", "NOT", "EXISTS"]) || has(&["OR", "REPLACE"]),
        Some("DROP") => has(&["IF", "EXISTS"]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rerunnable_ddl() {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            assert!(rerunnable("CREATE TABLE IF NOT EXISTS t (id int)", dialect));
            assert!(rerunnable("create or replace view v as select 1", dialect));
            assert!(rerunnable("DROP INDEX IF EXISTS i", dialect));
            assert!(rerunnable(
                "/* again */ DROP TABLE IF EXISTS \"a\".\"b\"",
                dialect
            ));
            assert!(!rerunnable("CREATE TABLE t (id int)", dialect));
            assert!(!rerunnable("ALTER TABLE t ADD COLUMN c int", dialect));
            assert!(!rerunnable("DROP TABLE t", dialect));
            assert!(!rerunnable(
                "SELECT 'CREATE TABLE IF NOT EXISTS t'",
                dialect
            ));
        }
        assert!(rerunnable(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
            Dialect::Postgres
        ));
        // The body's test is not the statement's.
        assert!(!rerunnable(
            "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN IF NOT EXISTS (SELECT 1) THEN RETURN NULL; END IF; END $$ LANGUAGE plpgsql",
            Dialect::Postgres
        ));
    }

    #[test]
    fn data_only_statements() {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            for sql in [
                "INSERT INTO t VALUES (1)",
                "update t set a = 1",
                "DELETE FROM t",
                "WITH x AS (SELECT 1) UPDATE t SET a = 1",
                "(SELECT 1)",
                "-- first\nSELECT 1",
            ] {
                assert!(changes_data_only(sql, dialect), "{sql}");
            }
            for sql in [
                "CREATE TABLE t (id int)",
                "ALTER TABLE t ADD c int",
                "CREATE OR REPLACE VIEW v AS SELECT 1",
                "CALL p()",
                "'INSERT'",
                "",
            ] {
                assert!(!changes_data_only(sql, dialect), "{sql}");
            }
        }
        assert!(changes_data_only(
            "REPLACE INTO t VALUES (1)",
            Dialect::MySql
        ));
    }
}
