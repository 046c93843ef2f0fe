//! SQLite's schema from sqlite_master and the table-valued pragmas.
//!
//! SQLite keeps no names for most constraints and no catalog of checks or index
//! expressions, so those come from the `CREATE` text it stores; unnamed constraints are
//! keyed by what they are (`PRIMARY KEY`, `UNIQUE (email)`, `FOREIGN KEY (user_id)
//! REFERENCES users`).

use std::collections::BTreeMap;

use godwit_core::Dialect;
use godwit_core::analyze::scan::{self, Token};
use godwit_core::schema::{
    Column, Constraint, ConstraintKind, Index, Reference, Schema, Table, is_bookkeeping_table,
    squash_whitespace,
};

use crate::error::DbError;
use crate::introspect::Rows;
use crate::traits::Session;

fn literal(name: &str) -> String {
    godwit_core::sql::literal(godwit_core::Dialect::Sqlite, name)
}

pub(crate) async fn introspect(driver: &mut dyn Session) -> Result<Schema, DbError> {
    let mut schema = Schema::default();
    let objects = Rows::read(
        driver,
        "objects",
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    .await?;
    let mut index_sql = BTreeMap::new();
    let mut table_sql = BTreeMap::new();
    for row in objects.iter() {
        let (kind, name, table, sql) = (row.text(0), row.text(1), row.text(2), row.text(3));
        match kind.as_str() {
            "table" if !is_bookkeeping_table(&name) => {
                table_sql.insert(name, sql);
            }
            "index" => {
                index_sql.insert(name, sql);
            }
            "view" => {
                schema.views.insert(name, squash_whitespace(&sql));
            }
            "trigger" if !is_bookkeeping_table(&table) => {
                schema
                    .triggers
                    .insert(format!("{name} on {table}"), squash_whitespace(&sql));
            }
            _ => {}
        }
    }

    for (name, sql) in &table_sql {
        let mut table = Table::default();
        let columns = Rows::read(
            driver,
            "columns",
            &format!(
                "SELECT name, type, CAST(\"notnull\" AS TEXT), dflt_value, CAST(pk AS TEXT), CAST(hidden AS TEXT) \
                 FROM pragma_table_xinfo({}) ORDER BY cid",
                literal(name)
            ),
        )
        .await?;
        let autoincrement = find_word(sql, "AUTOINCREMENT", 0).is_some();
        let mut primary_key: Vec<(u32, String)> = Vec::new();
        for row in columns.iter() {
            let column = row.text(0);
            let pk: u32 = row.text(4).parse().unwrap_or(0);
            if pk > 0 {
                primary_key.push((pk, column.clone()));
            }
            // The expression too, so that a changed one shows and `pull` can write it.
            let storage = match row.text(5).as_str() {
                "2" => Some("VIRTUAL"),
                "3" => Some("STORED"),
                _ => None,
            };
            let generated = match storage {
                Some(storage) => Some(match generated_expression(sql, &column) {
                    Some(expression) => format!("GENERATED ALWAYS AS ({expression}) {storage}"),
                    None => format!("GENERATED ALWAYS ({storage})"),
                }),
                _ if pk > 0 && autoincrement => Some("AUTOINCREMENT".to_string()),
                _ => None,
            };
            table.columns.insert(
                column,
                Column {
                    data_type: squash_whitespace(&row.text(1)).to_lowercase(),
                    nullable: row.text(2) == "0",
                    default: row.opt(3).map(|d| keywords_upper(&d)),
                    generated,
                },
            );
        }
        primary_key.sort();
        if !primary_key.is_empty() {
            let columns: Vec<String> = primary_key.into_iter().map(|(_, c)| c).collect();
            table.constraints.insert(
                "PRIMARY KEY".into(),
                Constraint {
                    kind: ConstraintKind::PrimaryKey,
                    columns,
                    references: None,
                    expression: None,
                },
            );
        }

        let indexes = Rows::read(
            driver,
            "indexes",
            &format!(
                "SELECT name, CAST(\"unique\" AS TEXT), origin, CAST(partial AS TEXT) FROM pragma_index_list({})",
                literal(name)
            ),
        )
        .await?;
        for row in indexes.iter() {
            let (index, origin) = (row.text(0), row.text(2));
            if origin == "pk" {
                continue;
            }
            let parts = Rows::read(
                driver,
                "index columns",
                &format!(
                    "SELECT name, CAST(\"desc\" AS TEXT) FROM pragma_index_xinfo({}) WHERE key = 1 ORDER BY seqno",
                    literal(&index)
                ),
            )
            .await?;
            let parsed = index_sql.get(&index).map(|sql| index_parts(sql));
            let mut columns = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let text = match part.opt(0) {
                    Some(column) if part.text(1) == "1" => format!("{column} DESC"),
                    Some(column) => column,
                    // An expression: only the CREATE INDEX text says which.
                    None => parsed
                        .as_ref()
                        .and_then(|(c, _)| c.get(i).cloned())
                        .unwrap_or_else(|| "<expression>".into()),
                };
                columns.push(text);
            }
            if origin == "u" {
                table.constraints.insert(
                    format!("UNIQUE ({})", columns.join(", ")),
                    Constraint {
                        kind: ConstraintKind::Unique,
                        columns,
                        references: None,
                        expression: None,
                    },
                );
                continue;
            }
            table.indexes.insert(
                index,
                Index {
                    columns,
                    unique: row.text(1) == "1",
                    predicate: parsed.and_then(|(_, p)| p),
                    method: None,
                },
            );
        }

        let foreign = Rows::read(
            driver,
            "foreign keys",
            &format!(
                "SELECT CAST(id AS TEXT), \"table\", \"from\", \"to\", on_update, on_delete \
                 FROM pragma_foreign_key_list({}) ORDER BY id, seq",
                literal(name)
            ),
        )
        .await?;
        let mut by_id: BTreeMap<String, (Vec<String>, Reference)> = BTreeMap::new();
        for row in foreign.iter() {
            let entry = by_id.entry(row.text(0)).or_insert_with(|| {
                (
                    Vec::new(),
                    Reference {
                        table: row.text(1),
                        columns: Vec::new(),
                        on_update: row.text(4).to_lowercase(),
                        on_delete: row.text(5).to_lowercase(),
                    },
                )
            });
            entry.0.push(row.text(2));
            // NULL when the key references the parent's primary key implicitly.
            if let Some(to) = row.opt(3) {
                entry.1.columns.push(to);
            }
        }
        for (columns, reference) in by_id.into_values() {
            table.constraints.insert(
                format!(
                    "FOREIGN KEY ({}) REFERENCES {}",
                    columns.join(", "),
                    reference.table
                ),
                Constraint {
                    kind: ConstraintKind::ForeignKey,
                    columns,
                    references: Some(reference),
                    expression: None,
                },
            );
        }

        for (constraint_name, expression) in checks(sql) {
            table.constraints.insert(
                constraint_name.unwrap_or_else(|| format!("CHECK ({expression})")),
                Constraint {
                    kind: ConstraintKind::Check,
                    columns: Vec::new(),
                    references: None,
                    expression: Some(expression),
                },
            );
        }
        schema.tables.insert(name.clone(), table);
    }
    Ok(schema)
}

/// A default as SQLite keeps it (the text as written), with the keywords SQLite reads in
/// any case spelled one way: `DEFAULT false` and `DEFAULT FALSE` are one default
/// (chirpstack's down.sql re-adds a column with the other spelling). Anything else keeps
/// its spelling, which `pull` writes back.
fn keywords_upper(default: &str) -> String {
    const KEYWORDS: [&str; 6] = [
        "TRUE",
        "FALSE",
        "NULL",
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
        "CURRENT_TIME",
    ];
    let bare = default
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    match KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(bare)) {
        Some(keyword) => default.replacen(bare, keyword, 1),
        None => default.to_string(),
    }
}

/// Byte offsets in `sql` that are keywords, names or punctuation: outside strings, quoted
/// names and comments, as the statement analyser's tokenizer reads SQLite.
fn code_positions(sql: &str) -> Vec<bool> {
    let mut code = vec![false; sql.len()];
    for t in scan::spanned(sql, Dialect::Sqlite) {
        if matches!(t.token, Token::Word(_) | Token::Punct(_)) {
            code[t.span].fill(true);
        }
    }
    code
}

/// The byte offset of `word` (any case, whole word, outside quotes) at or after `from`.
fn find_word(sql: &str, word: &str, from: usize) -> Option<usize> {
    let code = code_positions(sql);
    let upper = sql.to_ascii_uppercase();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = sql.as_bytes();
    let mut at = from;
    while let Some(found) = upper.get(at..).and_then(|s| s.find(word)) {
        let start = at + found;
        let end = start + word.len();
        if code[start]
            && (start == 0 || !is_ident(bytes[start - 1]))
            && (end >= bytes.len() || !is_ident(bytes[end]))
        {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// The offset of the `)` closing the `(` at `open`, skipping quoted text.
fn closing_paren(sql: &str, open: usize) -> Option<usize> {
    let code = code_positions(sql);
    let mut depth = 0;
    for (i, b) in sql.bytes().enumerate().skip(open) {
        if !code[i] {
            continue;
        }
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at commas outside parentheses and quotes.
fn top_level_split(sql: &str) -> Vec<String> {
    let code = code_positions(sql);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, b) in sql.bytes().enumerate() {
        if !code[i] {
            continue;
        }
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(squash_whitespace(&sql[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(squash_whitespace(&sql[start..]));
    parts
}

/// `CREATE INDEX i ON t (a, lower(b)) WHERE c` → (`["a", "lower(b)"]`, `Some("c")`).
fn index_parts(sql: &str) -> (Vec<String>, Option<String>) {
    let code = code_positions(sql);
    let Some(open) = sql
        .bytes()
        .enumerate()
        .position(|(i, b)| b == b'(' && code[i])
    else {
        return (Vec::new(), None);
    };
    let Some(close) = closing_paren(sql, open) else {
        return (Vec::new(), None);
    };
    let columns = top_level_split(&sql[open + 1..close]);
    let predicate = find_word(sql, "WHERE", close)
        .map(|w| squash_whitespace(&sql[w + "WHERE".len()..]))
        .filter(|p| !p.is_empty());
    (columns, predicate)
}

/// The expression of generated column `column`, from its definition in a CREATE TABLE.
fn generated_expression(sql: &str, column: &str) -> Option<String> {
    let code = code_positions(sql);
    let open = sql
        .bytes()
        .enumerate()
        .position(|(i, b)| b == b'(' && code[i])?;
    let close = closing_paren(sql, open)?;
    top_level_split(&sql[open + 1..close])
        .into_iter()
        .find(|part| leading_name(part).eq_ignore_ascii_case(column))
        .and_then(|part| {
            let at = find_word(&part, "AS", 0)?;
            let open = at + part[at..].find('(')?;
            let close = closing_paren(&part, open)?;
            Some(squash_whitespace(&part[open + 1..close]))
        })
}

/// The name a column definition starts with, unquoted.
fn leading_name(part: &str) -> String {
    match scan::tokens(part, Dialect::Sqlite).into_iter().next() {
        Some(Token::Word(name) | Token::Quoted(name)) => name,
        _ => String::new(),
    }
}

/// Every `[CONSTRAINT name] CHECK (expr)` in a CREATE TABLE, column-level ones included.
fn checks(sql: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = find_word(sql, "CHECK", from) {
        from = at + "CHECK".len();
        let Some(open) = sql[from..].find('(').map(|o| from + o) else {
            break;
        };
        let Some(close) = closing_paren(sql, open) else {
            break;
        };
        let expression = squash_whitespace(&sql[open + 1..close]);
        // The two words before CHECK may be `CONSTRAINT name`.
        let before = scan::tokens(&sql[..at], Dialect::Sqlite);
        let name = match before.as_slice() {
            [
                ..,
                Token::Word(keyword),
                Token::Word(name) | Token::Quoted(name),
            ] if keyword.eq_ignore_ascii_case("CONSTRAINT") => Some(name.clone()),
            _ => None,
        };
        out.push((name, expression));
        from = close;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_compare_without_keyword_case_but_keep_quoted_text() {
        assert_eq!(keywords_upper("false"), keywords_upper("FALSE"));
        assert_eq!(
            keywords_upper("current_timestamp"),
            keywords_upper("CURRENT_TIMESTAMP")
        );
        assert_eq!(keywords_upper("(true)"), "(TRUE)");
        assert_eq!(keywords_upper("lower('Mixed Case')"), "lower('Mixed Case')");
        assert_ne!(keywords_upper("'false'"), keywords_upper("'FALSE'"));
    }

    #[test]
    fn index_columns_and_predicate_come_from_the_text() {
        let (columns, predicate) = index_parts(
            "CREATE UNIQUE INDEX users_email ON users (lower(email), \"a,b\" DESC) WHERE deleted_at IS NULL",
        );
        assert_eq!(columns, vec!["lower(email)", "\"a,b\" DESC"]);
        assert_eq!(predicate.as_deref(), Some("deleted_at IS NULL"));
        let (columns, predicate) = index_parts("CREATE INDEX i ON t(a)");
        assert_eq!(columns, vec!["a"]);
        assert_eq!(predicate, None);
    }

    #[test]
    fn generated_expressions_come_from_the_text() {
        let sql = "CREATE TABLE t (a INT, \"b c\" INT GENERATED ALWAYS AS (a * (2 + 1)) STORED, d TEXT AS (upper(a)), e TEXT DEFAULT 'AS (x)')";
        assert_eq!(
            generated_expression(sql, "b c").as_deref(),
            Some("a * (2 + 1)")
        );
        assert_eq!(generated_expression(sql, "D").as_deref(), Some("upper(a)"));
        assert_eq!(generated_expression(sql, "e"), None);
        assert_eq!(generated_expression(sql, "missing"), None);
    }

    #[test]
    fn checks_are_found_with_their_names() {
        let sql = "CREATE TABLE t (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            balance INTEGER CHECK (balance >= 0), -- CHECK (not this)
            note TEXT DEFAULT 'CHECK (nor this)',
            CONSTRAINT positive_id CHECK ( id  > 0 )
        )";
        assert_eq!(
            checks(sql),
            vec![
                (None, "balance >= 0".to_string()),
                (Some("positive_id".to_string()), "id > 0".to_string()),
            ]
        );
        assert!(find_word(sql, "AUTOINCREMENT", 0).is_some());
        assert!(
            find_word(
                "CREATE TABLE t (x TEXT DEFAULT 'AUTOINCREMENT')",
                "AUTOINCREMENT",
                0
            )
            .is_none()
        );
    }
}
