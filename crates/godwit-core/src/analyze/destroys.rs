//! What a statement destroys (a table, a column, rows) and renames, with its tables named
//! exactly as written: the engine's backup policy decides from it whether a migration
//! needs a backup, and the copies of dropped data (`godwit_db::copy`) what to copy.
//!
//! [`crate::analyze::analyze`] finds the same drops for lint and plan from sqlparser's
//! tree, with names folded for messages; copying data needs them as written: a copy of
//! `"Billing"."Invoices"` has to name exactly that table, and a backup decision cannot
//! wait for sqlparser to know every statement. So these are read from the analyser's
//! tokens ([`scan`]), which keep identifiers as written.

use crate::Dialect;
pub use crate::analyze::name::{Ident, Name};
use crate::analyze::scan;

/// What a statement destroys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destroys {
    Table(Name),
    Column(Name, Ident),
    Truncate(Name),
    Delete { table: Name, filtered: bool },
}

impl Destroys {
    /// The table whose data is destroyed.
    pub fn table(&self) -> &Name {
        match self {
            Destroys::Table(t)
            | Destroys::Column(t, _)
            | Destroys::Truncate(t)
            | Destroys::Delete { table: t, .. } => t,
        }
    }
}

/// The destructive effects of one statement, its tables named as written.
pub fn destroys(sql: &str, dialect: Dialect) -> Vec<Destroys> {
    let tokens = scan::tokens(sql, dialect);
    let mut t = scan::Cursor::new(&tokens);
    let mut out = Vec::new();
    if t.word("DROP") {
        if !t.word("TABLE") {
            return out;
        }
        t.words(&["IF", "EXISTS"]);
        while let Some(name) = t.name() {
            out.push(Destroys::Table(name));
            if !t.punct(',') {
                break;
            }
        }
    } else if t.word("ALTER") {
        let Some(table) = t.altered_table() else {
            return out;
        };
        // Actions are separated by top-level commas; only `DROP [COLUMN] name` drops data.
        loop {
            if t.word("DROP") {
                let column = if t.word("COLUMN") {
                    true
                } else {
                    !t.peek_word_in(&[
                        "CONSTRAINT",
                        "INDEX",
                        "KEY",
                        "PRIMARY",
                        "FOREIGN",
                        "CHECK",
                        "PARTITION",
                        "DEFAULT",
                        "SYSTEM",
                        "PERIOD",
                        "EXPRESSION",
                        "IDENTITY",
                        "NOT",
                    ])
                };
                if column {
                    t.words(&["IF", "EXISTS"]);
                    if let Some(c) = t.ident() {
                        out.push(Destroys::Column(table.clone(), c));
                    }
                }
            }
            if !t.skip_to_top_level_comma() {
                break;
            }
        }
    } else if t.word("TRUNCATE") {
        t.word("TABLE");
        t.word("ONLY");
        while let Some(name) = t.name() {
            out.push(Destroys::Truncate(name));
            if !t.punct(',') {
                break;
            }
        }
    } else if t.word("DELETE") {
        t.word("FROM");
        t.word("ONLY");
        if let Some(table) = t.name() {
            let filtered = t.rest_has_word("WHERE");
            out.push(Destroys::Delete { table, filtered });
        }
    }
    out
}

/// The table `sql` renames and its new name: `ALTER TABLE a RENAME TO b`, or MySQL's
/// `RENAME TABLE a TO b` (the first pair). A drop of `b` later in the run drops `a`'s rows.
pub fn renames(sql: &str, dialect: Dialect) -> Option<(Name, Name)> {
    let tokens = scan::tokens(sql, dialect);
    let mut t = scan::Cursor::new(&tokens);
    if t.words(&["RENAME", "TABLE"]) {
        let from = t.name()?;
        return t
            .word("TO")
            .then(|| t.name())
            .flatten()
            .map(|to| (from, to));
    }
    if !t.word("ALTER") {
        return None;
    }
    let from = t.altered_table()?;
    if !t.words(&["RENAME", "TO"]) {
        return None;
    }
    let mut to = t.name()?;
    // PostgreSQL keeps a renamed table in its schema; the new name has none.
    if to.schema.is_none() {
        to.schema.clone_from(&from.schema);
    }
    Some((from, to))
}

/// Why a migration may destroy data that [`destroys`] cannot name a table for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unnamed {
    /// `DROP SCHEMA` or `DROP DATABASE`: every table in it goes.
    DropsSchema,
    /// Dynamic SQL (a `DO` block, `EXECUTE`, `CALL`, MySQL's `PREPARE`) runs statements
    /// godwit cannot read before they run, and the migration's text, string literals
    /// included, holds a destructive one.
    DynamicSql,
}

impl std::fmt::Display for Unnamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unnamed::DropsSchema => "drops a schema",
            Unnamed::DynamicSql => "drops or deletes through dynamic SQL",
        })
    }
}

/// Data one migration's statements may destroy without [`destroys`] naming it.
///
/// A statement built at run time (`EXECUTE 'ALTER TABLE t DROP COLUMN ' || c`, or a
/// `SET @s := '…DROP COLUMN id'` that a later `PREPARE`/`EXECUTE` runs, or a procedure the
/// migration creates and then `CALL`s) is only text until it runs, so once a migration
/// runs dynamic SQL, every statement of it is read with its string literals and bodies
/// opened, and any destructive statement found there counts: an unneeded backup at
/// worst, never a missing one.
pub fn destroys_unnamed<'a>(
    statements: impl IntoIterator<Item = &'a str>,
    dialect: Dialect,
) -> Option<Unnamed> {
    let statements: Vec<&str> = statements.into_iter().collect();
    let mut dynamic = false;
    for sql in &statements {
        let tokens = scan::tokens(sql, dialect);
        let mut t = scan::Cursor::new(&tokens);
        dynamic |= t.peek_word_in(DYNAMIC);
        if t.word("DROP") && t.peek_word_in(&["SCHEMA", "DATABASE"]) {
            return Some(Unnamed::DropsSchema);
        }
    }
    let destructive = dynamic
        && statements
            .iter()
            .any(|sql| mentions_destruction(&scan::tokens_opening_strings(sql, dialect)));
    destructive.then_some(Unnamed::DynamicSql)
}

/// Whether `sql` runs SQL it holds as text or elsewhere: a `DO` block, `EXECUTE`, `CALL`,
/// MySQL's `PREPARE`.
pub fn runs_dynamic_sql(sql: &str, dialect: Dialect) -> bool {
    let tokens = scan::tokens(sql, dialect);
    scan::Cursor::new(&tokens).peek_word_in(DYNAMIC)
}

/// The first words of a statement that runs dynamic SQL.
const DYNAMIC: &[&str] = &["DO", "EXECUTE", "CALL", "PREPARE"];

/// Whether the words hold a statement that destroys data: `DROP TABLE`, `DROP SCHEMA`,
/// `DROP DATABASE`, `DROP [COLUMN] c`, `TRUNCATE`, `DELETE FROM`. `ON DELETE CASCADE`,
/// `GRANT DELETE`, `DROP INDEX`, `DROP CONSTRAINT` and the like are not.
fn mentions_destruction(tokens: &[scan::Token]) -> bool {
    use scan::Token;
    /// What may follow `DROP` without dropping data.
    const KEEPS_DATA: &[&str] = &[
        "ACCESS",
        "AGGREGATE",
        "CAST",
        "CHECK",
        "COLLATION",
        "CONSTRAINT",
        "CONVERSION",
        "DEFAULT",
        "DOMAIN",
        "EVENT",
        "EXPRESSION",
        "EXTENSION",
        "FOREIGN",
        "FUNCTION",
        "IDENTITY",
        "INDEX",
        "KEY",
        "LANGUAGE",
        "MATERIALIZED",
        "NOT",
        "OPERATOR",
        "PARTITION",
        "PERIOD",
        "POLICY",
        "PRIMARY",
        "PROCEDURE",
        "PUBLICATION",
        "ROLE",
        "ROUTINE",
        "RULE",
        "SEQUENCE",
        "SERVER",
        "STATISTICS",
        "SUBSCRIPTION",
        "SYSTEM",
        "TABLESPACE",
        "TEXT",
        "TRANSFORM",
        "TRIGGER",
        "TYPE",
        "UNIQUE",
        "USER",
        "VIEW",
    ];
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
        _ => None,
    };
    (0..tokens.len()).any(|i| match word(i).as_deref() {
        Some("TRUNCATE") => true,
        Some("DELETE") => word(i + 1).as_deref() == Some("FROM"),
        Some("DROP") => match tokens.get(i + 1) {
            Some(Token::Quoted(_)) => true,
            Some(Token::Word(w)) => !KEEPS_DATA.iter().any(|k| w.eq_ignore_ascii_case(k)),
            _ => false,
        },
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(schema: Option<&str>, table: &str) -> Name {
        Name {
            schema: schema.map(|s| Ident {
                text: s.into(),
                quoted: false,
            }),
            table: Ident {
                text: table.into(),
                quoted: false,
            },
        }
    }

    fn col(text: &str) -> Ident {
        Ident {
            text: text.into(),
            quoted: false,
        }
    }

    #[test]
    fn drop_table_with_if_exists_schema_and_lists() {
        assert_eq!(
            destroys(
                "DROP TABLE IF EXISTS app.users, posts CASCADE",
                Dialect::Postgres
            ),
            vec![
                Destroys::Table(name(Some("app"), "users")),
                Destroys::Table(name(None, "posts"))
            ]
        );
        assert_eq!(
            destroys("drop table \"Odd \"\"Name\"\"\"", Dialect::Postgres),
            vec![Destroys::Table(Name {
                schema: None,
                table: Ident {
                    text: "Odd \"Name\"".into(),
                    quoted: true
                }
            })]
        );
        assert_eq!(
            destroys("DROP TABLE `my db`.`t`", Dialect::MySql),
            vec![Destroys::Table(Name {
                schema: Some(Ident {
                    text: "my db".into(),
                    quoted: true
                }),
                table: Ident {
                    text: "t".into(),
                    quoted: true
                }
            })]
        );
        assert!(destroys("DROP INDEX users_email_idx", Dialect::Postgres).is_empty());
        assert!(destroys("DROP VIEW v", Dialect::Postgres).is_empty());
    }

    #[test]
    fn alter_table_drop_column_but_not_constraints() {
        assert_eq!(
            destroys(
                "ALTER TABLE ONLY users DROP COLUMN IF EXISTS email, DROP nickname",
                Dialect::Postgres
            ),
            vec![
                Destroys::Column(name(None, "users"), col("email")),
                Destroys::Column(name(None, "users"), col("nickname"))
            ]
        );
        assert!(
            destroys(
                "ALTER TABLE users DROP CONSTRAINT users_pkey",
                Dialect::Postgres
            )
            .is_empty()
        );
        assert!(
            destroys(
                "ALTER TABLE t DROP PRIMARY KEY, DROP FOREIGN KEY fk",
                Dialect::Postgres
            )
            .is_empty()
        );
        assert!(
            destroys(
                "ALTER TABLE t ALTER COLUMN c DROP DEFAULT",
                Dialect::Postgres
            )
            .is_empty()
        );
        assert!(
            destroys(
                "ALTER TABLE t ADD COLUMN c int DEFAULT 1",
                Dialect::Postgres
            )
            .is_empty()
        );
        assert_eq!(
            destroys(
                "ALTER TABLE t ADD CHECK (a IN (1, 2)), DROP COLUMN b",
                Dialect::Postgres
            ),
            vec![Destroys::Column(name(None, "t"), col("b"))]
        );
    }

    #[test]
    fn truncate_and_delete() {
        assert_eq!(
            destroys("TRUNCATE TABLE a, b", Dialect::Postgres),
            vec![
                Destroys::Truncate(name(None, "a")),
                Destroys::Truncate(name(None, "b"))
            ]
        );
        assert_eq!(
            destroys("DELETE FROM users WHERE id = 1", Dialect::Postgres),
            vec![Destroys::Delete {
                table: name(None, "users"),
                filtered: true
            }]
        );
        assert_eq!(
            destroys("delete from users -- WHERE never", Dialect::Postgres),
            vec![Destroys::Delete {
                table: name(None, "users"),
                filtered: false
            }]
        );
        assert!(destroys("INSERT INTO t VALUES ('DROP TABLE x')", Dialect::Postgres).is_empty());
        assert!(destroys("/* DROP TABLE t */ SELECT 1", Dialect::Postgres).is_empty());
    }

    #[test]
    fn postgres_folds_unquoted_names() {
        let d = destroys("DROP TABLE Users", Dialect::Postgres);
        let Destroys::Table(n) = &d[0] else {
            panic!("{d:?}")
        };
        assert_eq!(n.table.catalog(Dialect::Postgres), "users");
        assert_eq!(n.table.catalog(Dialect::MySql), "Users");
    }

    #[test]
    fn dynamic_sql_that_drops_counts_as_destructive() {
        let dynamic = |sql: &[&str]| destroys_unnamed(sql.iter().copied(), Dialect::Postgres);
        let dynamic_mysql = |sql: &[&str]| destroys_unnamed(sql.iter().copied(), Dialect::MySql);
        // PostgreSQL: a DO block, with the drop in its body or in a string it runs.
        for body in [
            "DO $$ BEGIN EXECUTE 'ALTER TABLE t DROP COLUMN c'; END $$",
            "DO $$ BEGIN ALTER TABLE t DROP COLUMN c; END $$",
            "do $body$ begin execute format('drop table %I', 't'); end $body$",
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables LOOP EXECUTE 'TRUNCATE ' || quote_ident(r.tablename); END LOOP; END $$",
            "DO $$ BEGIN EXECUTE 'ALTER TABLE t DROP \"Odd\"'; END $$",
            "DO $$ BEGIN DELETE FROM sessions; END $$",
        ] {
            assert_eq!(dynamic(&[body]), Some(Unnamed::DynamicSql), "{body}");
        }
        // MySQL: the statement is a user variable's string; PREPARE and EXECUTE run it.
        assert_eq!(
            dynamic_mysql(&[
                "SET @s := IF(@has, 'ALTER TABLE queue_message DROP COLUMN id', 'SELECT 1')",
                "PREPARE stmt FROM @s",
                "EXECUTE stmt",
                "DEALLOCATE PREPARE stmt",
            ]),
            Some(Unnamed::DynamicSql)
        );
        // A procedure the migration creates and calls.
        assert_eq!(
            dynamic_mysql(&[
                "CREATE PROCEDURE fix() BEGIN ALTER TABLE t DROP PRIMARY KEY, DROP id; END",
                "CALL fix()",
            ]),
            Some(Unnamed::DynamicSql)
        );
        assert_eq!(
            dynamic(&["DROP SCHEMA app CASCADE"]),
            Some(Unnamed::DropsSchema)
        );
        assert_eq!(
            dynamic(&["drop database if exists app"]),
            Some(Unnamed::DropsSchema)
        );
    }

    #[test]
    fn dynamic_sql_that_keeps_data_is_not_destructive() {
        let dynamic = |sql: &[&str]| destroys_unnamed(sql.iter().copied(), Dialect::Postgres);
        let dynamic_mysql = |sql: &[&str]| destroys_unnamed(sql.iter().copied(), Dialect::MySql);
        for sql in [
            // Drizzle's and Prisma's guarded foreign keys and types.
            "DO $$ BEGIN ALTER TABLE \"a\" ADD CONSTRAINT \"a_b_fk\" FOREIGN KEY (\"b\") REFERENCES \"b\"(\"id\") ON DELETE cascade ON UPDATE no action; EXCEPTION WHEN duplicate_object THEN null; END $$",
            "DO $$ BEGIN CREATE TYPE mood AS ENUM ('sad', 'ok'); EXCEPTION WHEN duplicate_object THEN null; END $$",
            "DO $$ BEGIN EXECUTE 'DROP INDEX IF EXISTS i'; EXECUTE 'ALTER TABLE t DROP CONSTRAINT c, ALTER COLUMN x DROP DEFAULT, ALTER COLUMN y DROP NOT NULL'; END $$",
            "DO $$ BEGIN EXECUTE 'GRANT SELECT, INSERT, DELETE ON t TO app'; END $$",
            "DO $$ BEGIN -- drop table t would be wrong here\n PERFORM 1; END $$",
        ] {
            assert_eq!(dynamic(&[sql]), None, "{sql}");
        }
        assert_eq!(
            dynamic_mysql(&[
                "SET @s := 'ALTER TABLE t DROP INDEX i, DROP FOREIGN KEY f'",
                "PREPARE stmt FROM @s",
                "EXECUTE stmt",
            ]),
            None
        );
        // A destructive string without dynamic SQL to run it is only a string.
        assert_eq!(
            dynamic(&["INSERT INTO notes VALUES ('DROP TABLE t')"]),
            None
        );
        // Statements destroys() names are not its business.
        assert_eq!(dynamic(&["DROP TABLE t", "TRUNCATE t"]), None);
    }

    #[test]
    fn renames_are_read_in_both_spellings() {
        let (from, to) = renames(
            "ALTER TABLE accounts RENAME TO accounts_old",
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(
            (from.table.text.as_str(), to.table.text.as_str()),
            ("accounts", "accounts_old")
        );
        let (from, to) = renames("RENAME TABLE `a` TO `b`, c TO d", Dialect::MySql).unwrap();
        assert_eq!(
            (from.table.text.as_str(), to.table.text.as_str()),
            ("a", "b")
        );
        let (_, to) = renames("ALTER TABLE app.t RENAME TO t_old", Dialect::Postgres).unwrap();
        assert_eq!(to.schema.unwrap().text, "app");
        assert!(renames("ALTER TABLE t RENAME COLUMN a TO b", Dialect::Postgres).is_none());
        assert!(name(None, "T_OLD").same_as(&name(Some("public"), "t_old")));
    }
}
