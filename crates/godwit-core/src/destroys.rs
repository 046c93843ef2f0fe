//! What a statement destroys (a table, a column, rows) and renames, with its tables named
//! exactly as written: the engine's backup policy decides from it whether a migration
//! needs a backup, and the copies of dropped data (`godwit_db::copy`) what to copy.
//!
//! [`crate::analyze`] finds the same drops for lint and plan, but it lowercases names and
//! strips schemas and quotes, which is right for messages and wrong for copying data: a
//! copy of `"Billing"."Invoices"` has to name exactly that table. So this keeps its own
//! scan ([`scan`]), which keeps identifiers as written.

use crate::Dialect;

/// A table as a statement names it. `quoted` parts keep their case; PostgreSQL folds the
/// others to lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub schema: Option<Ident>,
    pub table: Ident,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub text: String,
    pub quoted: bool,
}

impl Ident {
    /// The name as the database stores it in its catalog.
    pub fn catalog(&self, dialect: Dialect) -> String {
        if dialect == Dialect::Postgres && !self.quoted {
            self.text.to_lowercase()
        } else {
            self.text.clone()
        }
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{}.{}", s.text, self.table.text),
            None => f.write_str(&self.table.text),
        }
    }
}

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

/// The destructive effects of one statement, found by a keyword scan.
///
/// `analyze.rs` finds the same drops for lint and plan, but it lowercases names and strips
/// schemas and quotes, which is right for messages and wrong for copying data: a copy of
/// `"Billing"."Invoices"` has to name exactly that table. So the copy keeps its own scan,
/// which keeps identifiers as written.
pub fn destroys(sql: &str) -> Vec<Destroys> {
    let tokens = scan::tokens(sql);
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
pub fn renames(sql: &str) -> Option<(Name, Name)> {
    let tokens = scan::tokens(sql);
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

impl Name {
    /// The same table, as the database folds unquoted names (case aside).
    pub fn same_as(&self, other: &Name) -> bool {
        let eq = |a: &Ident, b: &Ident| a.text.eq_ignore_ascii_case(&b.text);
        eq(&self.table, &other.table)
            && match (&self.schema, &other.schema) {
                (Some(a), Some(b)) => eq(a, b),
                _ => true,
            }
    }
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
pub fn destroys_unnamed<'a>(statements: impl IntoIterator<Item = &'a str>) -> Option<Unnamed> {
    let statements: Vec<&str> = statements.into_iter().collect();
    let mut dynamic = false;
    for sql in &statements {
        let tokens = scan::tokens(sql);
        let mut t = scan::Cursor::new(&tokens);
        dynamic |= t.peek_word_in(DYNAMIC);
        if t.word("DROP") && t.peek_word_in(&["SCHEMA", "DATABASE"]) {
            return Some(Unnamed::DropsSchema);
        }
    }
    let destructive = dynamic
        && statements
            .iter()
            .any(|sql| mentions_destruction(&scan::tokens_opening_strings(sql)));
    destructive.then_some(Unnamed::DynamicSql)
}

/// Whether `sql` runs SQL it holds as text or elsewhere: a `DO` block, `EXECUTE`, `CALL`,
/// MySQL's `PREPARE`.
pub fn runs_dynamic_sql(sql: &str) -> bool {
    let tokens = scan::tokens(sql);
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

/// A tokenizer just good enough for [`destroys`]: words, quoted identifiers and
/// punctuation, with strings and comments skipped.
pub mod scan {
    use crate::destroys::{Ident, Name};

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Token {
        Word(String),
        Quoted(String),
        Punct(char),
        Other,
    }

    pub fn tokens(sql: &str) -> Vec<Token> {
        tokenize(sql, false)
    }

    /// Like [`tokens`], but a string literal's text is read as SQL too (the statements
    /// dynamic SQL runs are strings until then).
    pub fn tokens_opening_strings(sql: &str) -> Vec<Token> {
        tokenize(sql, true)
    }

    fn tokenize(sql: &str, open_strings: bool) -> Vec<Token> {
        let chars: Vec<char> = sql.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let closing = |open: char| match open {
            '[' => ']',
            c => c,
        };
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if (c == '-' && chars.get(i + 1) == Some(&'-')) || c == '#' {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && chars.get(i + 1) == Some(&'*') {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            } else if matches!(c, '"' | '`' | '[') {
                let end = closing(c);
                let mut text = String::new();
                i += 1;
                while i < chars.len() {
                    if chars[i] == end {
                        // A doubled quote is one quote character inside the name.
                        if end != ']' && chars.get(i + 1) == Some(&end) {
                            text.push(end);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(text));
            } else if c == '\'' {
                i += 1;
                let start = i;
                while i < chars.len() {
                    if chars[i] == '\\' {
                        i += 2;
                        continue;
                    }
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                if open_strings {
                    let text: String = chars[start..i.min(chars.len())].iter().collect();
                    out.extend(tokenize(&text.replace("''", "'"), true));
                } else {
                    out.push(Token::Other);
                }
                i += 1;
            } else if c.is_alphanumeric() || c == '_' || c == '$' {
                let mut text = String::new();
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    text.push(chars[i]);
                    i += 1;
                }
                out.push(Token::Word(text));
            } else {
                out.push(Token::Punct(c));
                i += 1;
            }
        }
        out
    }

    pub struct Cursor<'a> {
        tokens: &'a [Token],
        at: usize,
    }

    impl<'a> Cursor<'a> {
        pub fn new(tokens: &'a [Token]) -> Self {
            Cursor { tokens, at: 0 }
        }

        /// Consumes the keyword if it comes next.
        pub fn word(&mut self, keyword: &str) -> bool {
            match self.tokens.get(self.at) {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword) => {
                    self.at += 1;
                    true
                }
                _ => false,
            }
        }

        /// Consumes the keywords if all of them come next, in order.
        pub fn words(&mut self, keywords: &[&str]) -> bool {
            let start = self.at;
            if keywords.iter().all(|k| self.word(k)) {
                true
            } else {
                self.at = start;
                false
            }
        }

        pub fn peek_word_in(&self, keywords: &[&str]) -> bool {
            matches!(self.tokens.get(self.at), Some(Token::Word(w)) if keywords.iter().any(|k| w.eq_ignore_ascii_case(k)))
        }

        pub fn punct(&mut self, c: char) -> bool {
            if self.tokens.get(self.at) == Some(&Token::Punct(c)) {
                self.at += 1;
                true
            } else {
                false
            }
        }

        pub fn ident(&mut self) -> Option<Ident> {
            let ident = match self.tokens.get(self.at)? {
                Token::Word(w) => Ident {
                    text: w.clone(),
                    quoted: false,
                },
                Token::Quoted(q) => Ident {
                    text: q.clone(),
                    quoted: true,
                },
                _ => return None,
            };
            self.at += 1;
            Some(ident)
        }

        /// After `ALTER`: `TABLE [IF EXISTS] [ONLY] name`, and the table it names; `None`
        /// when the statement alters something else.
        pub fn altered_table(&mut self) -> Option<Name> {
            if !self.word("TABLE") {
                return None;
            }
            self.words(&["IF", "EXISTS"]);
            self.word("ONLY");
            self.name()
        }

        /// `table` or `schema.table` (a leading catalog part, as in `db.schema.t`, is dropped).
        pub fn name(&mut self) -> Option<Name> {
            let mut parts = vec![self.ident()?];
            while self.punct('.') {
                parts.push(self.ident()?);
            }
            let table = parts.pop()?;
            Some(Name {
                schema: parts.pop(),
                table,
            })
        }

        /// Moves past the next comma outside parentheses; false at the end.
        pub fn skip_to_top_level_comma(&mut self) -> bool {
            let mut depth = 0usize;
            while let Some(t) = self.tokens.get(self.at) {
                self.at += 1;
                match t {
                    Token::Punct('(') => depth += 1,
                    Token::Punct(')') => depth = depth.saturating_sub(1),
                    Token::Punct(',') if depth == 0 => return true,
                    _ => {}
                }
            }
            false
        }

        /// Inside parentheses: moves past the next comma at this depth; false at the
        /// closing parenthesis (which is consumed) or the end.
        pub fn skip_to_comma_within_parentheses(&mut self) -> bool {
            let mut depth = 0usize;
            while let Some(t) = self.tokens.get(self.at) {
                self.at += 1;
                match t {
                    Token::Punct('(') => depth += 1,
                    Token::Punct(')') if depth == 0 => return false,
                    Token::Punct(')') => depth -= 1,
                    Token::Punct(',') if depth == 0 => return true,
                    _ => {}
                }
            }
            false
        }

        pub fn rest_has_word(&self, keyword: &str) -> bool {
            self.tokens[self.at..]
                .iter()
                .any(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(keyword)))
        }
    }
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
            destroys("DROP TABLE IF EXISTS app.users, posts CASCADE"),
            vec![
                Destroys::Table(name(Some("app"), "users")),
                Destroys::Table(name(None, "posts"))
            ]
        );
        assert_eq!(
            destroys("drop table \"Odd \"\"Name\"\"\""),
            vec![Destroys::Table(Name {
                schema: None,
                table: Ident {
                    text: "Odd \"Name\"".into(),
                    quoted: true
                }
            })]
        );
        assert_eq!(
            destroys("DROP TABLE `my db`.`t`"),
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
        assert!(destroys("DROP INDEX users_email_idx").is_empty());
        assert!(destroys("DROP VIEW v").is_empty());
    }

    #[test]
    fn alter_table_drop_column_but_not_constraints() {
        assert_eq!(
            destroys("ALTER TABLE ONLY users DROP COLUMN IF EXISTS email, DROP nickname"),
            vec![
                Destroys::Column(name(None, "users"), col("email")),
                Destroys::Column(name(None, "users"), col("nickname"))
            ]
        );
        assert!(destroys("ALTER TABLE users DROP CONSTRAINT users_pkey").is_empty());
        assert!(destroys("ALTER TABLE t DROP PRIMARY KEY, DROP FOREIGN KEY fk").is_empty());
        assert!(destroys("ALTER TABLE t ALTER COLUMN c DROP DEFAULT").is_empty());
        assert!(destroys("ALTER TABLE t ADD COLUMN c int DEFAULT 1").is_empty());
        assert_eq!(
            destroys("ALTER TABLE t ADD CHECK (a IN (1, 2)), DROP COLUMN b"),
            vec![Destroys::Column(name(None, "t"), col("b"))]
        );
    }

    #[test]
    fn truncate_and_delete() {
        assert_eq!(
            destroys("TRUNCATE TABLE a, b"),
            vec![
                Destroys::Truncate(name(None, "a")),
                Destroys::Truncate(name(None, "b"))
            ]
        );
        assert_eq!(
            destroys("DELETE FROM users WHERE id = 1"),
            vec![Destroys::Delete {
                table: name(None, "users"),
                filtered: true
            }]
        );
        assert_eq!(
            destroys("delete from users -- WHERE never"),
            vec![Destroys::Delete {
                table: name(None, "users"),
                filtered: false
            }]
        );
        assert!(destroys("INSERT INTO t VALUES ('DROP TABLE x')").is_empty());
        assert!(destroys("/* DROP TABLE t */ SELECT 1").is_empty());
    }

    #[test]
    fn postgres_folds_unquoted_names() {
        let d = destroys("DROP TABLE Users");
        let Destroys::Table(n) = &d[0] else {
            panic!("{d:?}")
        };
        assert_eq!(n.table.catalog(Dialect::Postgres), "users");
        assert_eq!(n.table.catalog(Dialect::MySql), "Users");
    }

    #[test]
    fn dynamic_sql_that_drops_counts_as_destructive() {
        let dynamic = |sql: &[&str]| destroys_unnamed(sql.iter().copied());
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
            dynamic(&[
                "SET @s := IF(@has, 'ALTER TABLE queue_message DROP COLUMN id', 'SELECT 1')",
                "PREPARE stmt FROM @s",
                "EXECUTE stmt",
                "DEALLOCATE PREPARE stmt",
            ]),
            Some(Unnamed::DynamicSql)
        );
        // A procedure the migration creates and calls.
        assert_eq!(
            dynamic(&[
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
        let dynamic = |sql: &[&str]| destroys_unnamed(sql.iter().copied());
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
        let (from, to) = renames("ALTER TABLE accounts RENAME TO accounts_old").unwrap();
        assert_eq!(
            (from.table.text.as_str(), to.table.text.as_str()),
            ("accounts", "accounts_old")
        );
        let (from, to) = renames("RENAME TABLE `a` TO `b`, c TO d").unwrap();
        assert_eq!(
            (from.table.text.as_str(), to.table.text.as_str()),
            ("a", "b")
        );
        let (_, to) = renames("ALTER TABLE app.t RENAME TO t_old").unwrap();
        assert_eq!(to.schema.unwrap().text, "app");
        assert!(renames("ALTER TABLE t RENAME COLUMN a TO b").is_none());
        assert!(name(None, "T_OLD").same_as(&name(Some("public"), "t_old")));
    }
}
