//! What a statement creates and renames, tables and columns named as written: the copies
//! of dropped data (`godwit_db::copy`) follow a run's tables through these, so that a drop
//! of a table the run itself created copies nothing.

use crate::Dialect;
use crate::analyze::name::{Ident, Name};
use crate::analyze::scan::{Cursor, tokens};

/// One effect of a statement on which tables and columns exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    CreateTable {
        name: Name,
        if_not_exists: bool,
    },
    RenameTable {
        from: Name,
        to: Name,
    },
    AddColumn {
        table: Name,
        column: Ident,
        if_not_exists: bool,
    },
    RenameColumn {
        table: Name,
        from: Ident,
        to: Ident,
    },
}

/// The creates and renames of one statement (its drops are [`destroys`](crate::analyze::destroys::destroys)).
pub fn effects(sql: &str, dialect: Dialect) -> Vec<Effect> {
    let tokens = tokens(sql, dialect);
    let mut t = Cursor::new(&tokens);
    let mut out = Vec::new();
    if t.word("CREATE") {
        t.words(&["OR", "REPLACE"]);
        if t.word("GLOBAL") || t.word("LOCAL") || t.peek_word_in(&["TEMP", "TEMPORARY"]) {
            // A temporary table lives in the session, not in the schema: nothing to follow.
            return out;
        }
        t.word("UNLOGGED");
        t.word("VIRTUAL");
        if !t.word("TABLE") {
            return out;
        }
        let if_not_exists = t.words(&["IF", "NOT", "EXISTS"]);
        if let Some(name) = t.name() {
            out.push(Effect::CreateTable {
                name,
                if_not_exists,
            });
        }
    } else if t.words(&["RENAME", "TABLE"]) {
        // MySQL: RENAME TABLE a TO b, c TO d
        while let (Some(from), true, Some(to)) = (t.name(), t.word("TO"), t.name()) {
            out.push(Effect::RenameTable { from, to });
            if !t.punct(',') {
                break;
            }
        }
    } else if t.word("ALTER") {
        let Some(table) = t.altered_table() else {
            return out;
        };
        loop {
            alter_action(&mut t, &table, &mut out);
            if !t.skip_to_top_level_comma() {
                break;
            }
        }
    }
    out
}

/// Words after ADD that add something other than a column.
const NOT_A_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "FOREIGN",
    "CHECK",
    "EXCLUDE",
    "INDEX",
    "KEY",
    "FULLTEXT",
    "SPATIAL",
    "PARTITION",
    "PERIOD",
    "SYSTEM",
];

fn alter_action(t: &mut Cursor, table: &Name, out: &mut Vec<Effect>) {
    if t.word("ADD") {
        let explicit = t.word("COLUMN");
        if !explicit && t.peek_word_in(NOT_A_COLUMN) {
            return;
        }
        let if_not_exists = t.words(&["IF", "NOT", "EXISTS"]);
        if t.punct('(') {
            // MySQL: ADD [COLUMN] (a INT, b INT)
            loop {
                if let Some(column) = t.ident() {
                    out.push(Effect::AddColumn {
                        table: table.clone(),
                        column,
                        if_not_exists,
                    });
                }
                if !t.skip_to_comma_within_parentheses() {
                    break;
                }
            }
        } else if let Some(column) = t.ident() {
            out.push(Effect::AddColumn {
                table: table.clone(),
                column,
                if_not_exists,
            });
        }
    } else if t.word("RENAME") {
        if t.word("TO") || t.word("AS") {
            if let Some(to) = t.name() {
                out.push(rename_table(table, to));
            }
        } else if t.peek_word_in(&["CONSTRAINT", "INDEX", "KEY"]) {
        } else {
            let explicit = t.word("COLUMN");
            let Some(from) = t.ident() else { return };
            if t.word("TO") {
                if let Some(to) = t.ident() {
                    out.push(Effect::RenameColumn {
                        table: table.clone(),
                        from,
                        to,
                    });
                }
            } else if !explicit {
                // MySQL: ALTER TABLE a RENAME b
                out.push(rename_table(
                    table,
                    Name {
                        schema: None,
                        table: from,
                    },
                ));
            }
        }
    } else if t.word("CHANGE") {
        // MySQL: CHANGE [COLUMN] old new definition
        t.word("COLUMN");
        if let (Some(from), Some(to)) = (t.ident(), t.ident()) {
            out.push(Effect::RenameColumn {
                table: table.clone(),
                from,
                to,
            });
        }
    } else if t.words(&["SET", "SCHEMA"])
        && let Some(schema) = t.ident()
    {
        out.push(Effect::RenameTable {
            from: table.clone(),
            to: Name {
                schema: Some(schema),
                table: table.table.clone(),
            },
        });
    }
}

/// The index a PostgreSQL `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON …`
/// creates (in its table's schema); `None` for any other statement, and for an index
/// left for the database to name.
pub fn concurrent_index(sql: &str, dialect: Dialect) -> Option<Ident> {
    let tokens = tokens(sql, dialect);
    let mut t = Cursor::new(&tokens);
    if !t.word("CREATE") {
        return None;
    }
    t.word("UNIQUE");
    if !t.words(&["INDEX", "CONCURRENTLY"]) {
        return None;
    }
    t.words(&["IF", "NOT", "EXISTS"]);
    if t.peek_word_in(&["ON"]) {
        return None;
    }
    t.ident()
}

/// `ALTER TABLE s.a RENAME TO b` keeps the table in schema `s`.
fn rename_table(table: &Name, mut to: Name) -> Effect {
    if to.schema.is_none() {
        to.schema = table.schema.clone();
    }
    Effect::RenameTable {
        from: table.clone(),
        to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_a_concurrent_create_names() {
        let pg = |sql: &str| {
            concurrent_index(sql, Dialect::Postgres)
                .map(|i| (i.catalog(Dialect::Postgres), i.sql(Dialect::Postgres)))
        };
        assert_eq!(
            pg("CREATE INDEX CONCURRENTLY Users_Email ON users (email)"),
            Some(("users_email".into(), "Users_Email".into()))
        );
        assert_eq!(
            pg("create unique index concurrently if not exists \"Odd\"\"Idx\" on t (a)"),
            Some(("Odd\"Idx".into(), "\"Odd\"\"Idx\"".into()))
        );
        assert_eq!(
            pg("/* why */ CREATE\n  INDEX\tCONCURRENTLY i ON t (a)"),
            Some(("i".into(), "i".into()))
        );
        assert_eq!(pg("CREATE INDEX CONCURRENTLY ON t (a)"), None);
        assert_eq!(pg("CREATE INDEX i ON t (a)"), None);
        assert_eq!(pg("SELECT 'CREATE INDEX CONCURRENTLY i ON t (a)'"), None);
    }
}
