//! The analyser's one tokenizer, for the questions it answers from words rather than from
//! sqlparser's tree: what a statement destroys, creates and renames (names as written),
//! whether it can run twice, and what its first words say when sqlparser cannot read it.
//!
//! It reads a statement the splitter has already cut, with that database's lexical rules:
//! PostgreSQL's dollar-quoted bodies, `E'…'` escapes and nested block comments; MySQL's
//! backslash escapes and `#` comments; SQLite's `[bracketed]` names. Strings are tokens
//! whose text is data ([`Token::Str`]); [`tokens_opening_strings`] reads that text as SQL
//! too, for the statements dynamic SQL runs.

use std::ops::Range;

use crate::Dialect;
use crate::analyze::name::{Ident, Name};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A keyword or an unquoted identifier, as written.
    Word(String),
    /// A quoted identifier: its quotes removed and its doubled quotes undone.
    Quoted(String),
    /// A string literal or a dollar-quoted body, escapes undone.
    Str(String),
    Punct(char),
}

/// A token and the bytes of the statement it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned {
    pub token: Token,
    pub span: Range<usize>,
}

/// The lexical rules tokens are read with.
#[derive(Clone, Copy)]
struct Lexis {
    dollar_quotes: bool,
    hash_comments: bool,
    bracket_names: bool,
    nested_comments: bool,
    /// Backslash escapes in every string (MySQL), or in `E'…'` only (PostgreSQL).
    backslashes: Backslashes,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backslashes {
    Never,
    EscapeStrings,
    Always,
}

impl Lexis {
    fn of(dialect: Dialect) -> Lexis {
        match dialect {
            Dialect::Postgres => Lexis {
                dollar_quotes: true,
                hash_comments: false,
                bracket_names: false,
                nested_comments: true,
                backslashes: Backslashes::EscapeStrings,
            },
            Dialect::MySql => Lexis {
                dollar_quotes: false,
                hash_comments: true,
                bracket_names: false,
                nested_comments: false,
                backslashes: Backslashes::Always,
            },
            Dialect::Sqlite => Lexis {
                dollar_quotes: false,
                hash_comments: false,
                bracket_names: true,
                nested_comments: false,
                backslashes: Backslashes::Never,
            },
        }
    }

    /// For SQL whose database is not known yet: every database's comments and quoted
    /// names, and strings without backslash escapes (which only MySQL has).
    fn any() -> Lexis {
        Lexis {
            dollar_quotes: true,
            hash_comments: true,
            bracket_names: true,
            nested_comments: false,
            backslashes: Backslashes::Never,
        }
    }
}

/// The tokens of one statement; comments and whitespace are skipped.
pub fn tokens(sql: &str, dialect: Dialect) -> Vec<Token> {
    spanned(sql, dialect).into_iter().map(|s| s.token).collect()
}

/// Like [`tokens`], but the text of every string and dollar-quoted body is read as SQL
/// too (the statements dynamic SQL runs are strings until then), recursively.
pub fn tokens_opening_strings(sql: &str, dialect: Dialect) -> Vec<Token> {
    fn open(sql: &str, dialect: Dialect, out: &mut Vec<Token>) {
        for s in spanned(sql, dialect) {
            match s.token {
                Token::Str(text) => open(&text, dialect, out),
                other => out.push(other),
            }
        }
    }
    let mut out = Vec::new();
    open(sql, dialect, &mut out);
    out
}

/// The tokens of one statement with where each was read.
pub fn spanned(sql: &str, dialect: Dialect) -> Vec<Spanned> {
    read(sql, Lexis::of(dialect))
}

/// [`spanned`] for SQL whose database is not known: every database's comments and
/// quotes are recognised, so that sniffing the database never reads a body as words.
pub fn spanned_any(sql: &str) -> Vec<Spanned> {
    read(sql, Lexis::any())
}

fn read(sql: &str, lexis: Lexis) -> Vec<Spanned> {
    let b = sql.as_bytes();
    let mut out: Vec<Spanned> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let mut start = i;
        let token = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') || c == b'#' && lexis.hash_comments {
            i = sql[i..].find('\n').map_or(b.len(), |e| i + e);
            continue;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = block_comment_end(b, i, lexis.nested_comments);
            continue;
        } else if c == b'\'' {
            // `E'…'` is one token: the prefix says how the string reads.
            let escape_prefix = matches!(
                out.last(),
                Some(Spanned { token: Token::Word(w), span }) if span.end == i && w.eq_ignore_ascii_case("e")
            );
            let backslashes = match lexis.backslashes {
                Backslashes::Always => true,
                Backslashes::EscapeStrings => escape_prefix,
                Backslashes::Never => false,
            };
            if escape_prefix {
                start = out.pop().map_or(i, |s| s.span.start);
            }
            let (text, end) = string(sql, i, backslashes);
            i = end;
            Token::Str(text)
        } else if c == b'"' || c == b'`' || c == b'[' && lexis.bracket_names {
            let close = if c == b'[' { b']' } else { c };
            let (text, end) = quoted(sql, i, close);
            i = end;
            Token::Quoted(text)
        } else if let Some((text, end)) = lexis.dollar_quotes.then(|| dollar(sql, i)).flatten() {
            i = end;
            Token::Str(text)
        } else if is_word_byte(c) {
            while i < b.len() && is_word_byte(b[i]) {
                i += 1;
            }
            Token::Word(sql[start..i].to_string())
        } else {
            let ch = sql[i..].chars().next().unwrap_or('\u{fffd}');
            i += ch.len_utf8();
            Token::Punct(ch)
        };
        out.push(Spanned {
            token,
            span: start..i,
        });
    }
    out
}

/// Letters, digits, `_`, `$` (inside names on MySQL and PostgreSQL, and PostgreSQL's `$1`)
/// and every byte of a non-ASCII character, so a word always ends on a character boundary.
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Where the block comment opening at `from` ends; PostgreSQL's nest.
fn block_comment_end(b: &[u8], from: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    let mut j = from;
    while j + 1 < b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' && (nested || depth == 0) {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// The text of the string opening at `open`, and where it ends; an unterminated one runs
/// to the end.
fn string(sql: &str, open: usize, backslashes: bool) -> (String, usize) {
    let b = sql.as_bytes();
    let mut text = String::new();
    let mut from = open + 1;
    let mut j = from;
    while j < b.len() {
        if backslashes && b[j] == b'\\' {
            text.push_str(&sql[from..j]);
            let escaped = sql[j + 1..].chars().next();
            if let Some(ch) = escaped {
                text.push(ch);
            }
            j += 1 + escaped.map_or(0, char::len_utf8);
            from = j;
        } else if b[j] == b'\'' {
            text.push_str(&sql[from..j]);
            if b.get(j + 1) == Some(&b'\'') {
                text.push('\'');
                j += 2;
                from = j;
            } else {
                return (text, j + 1);
            }
        } else {
            j += 1;
        }
    }
    text.push_str(&sql[from.min(b.len())..]);
    (text, b.len())
}

/// The name quoted from `open` to `close`, and where it ends; a doubled closing quote
/// (not `]]`) is one quote character of the name.
fn quoted(sql: &str, open: usize, close: u8) -> (String, usize) {
    let b = sql.as_bytes();
    let mut text = String::new();
    let mut from = open + 1;
    let mut j = from;
    while j < b.len() {
        if b[j] == close {
            text.push_str(&sql[from..j]);
            if close != b']' && b.get(j + 1) == Some(&close) {
                text.push(close as char);
                j += 2;
                from = j;
                continue;
            }
            return (text, j + 1);
        }
        j += 1;
    }
    text.push_str(&sql[from.min(b.len())..]);
    (text, b.len())
}

/// A PostgreSQL dollar-quoted body opening at `open` (`$$` or `$tag$`; a tag does not
/// start with a digit, so `$1` is a parameter): its text and where it ends.
fn dollar(sql: &str, open: usize) -> Option<(String, usize)> {
    let rest = sql.get(open..)?;
    if !rest.starts_with('$') {
        return None;
    }
    let tag_len = rest[1..].find('$')? + 2;
    let tag = &rest[..tag_len];
    let inner = &tag[1..tag_len - 1];
    if inner.starts_with(|c: char| c.is_ascii_digit())
        || !inner
            .bytes()
            .all(|x| x.is_ascii_alphanumeric() || x == b'_')
    {
        return None;
    }
    let body = open + tag_len;
    Some(match sql[body..].find(tag) {
        Some(e) => (sql[body..body + e].to_string(), body + e + tag_len),
        None => (sql[body..].to_string(), sql.len()),
    })
}

/// Reads tokens a keyword or a name at a time.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(sql: &str, dialect: Dialect) -> Vec<String> {
        tokens(sql, dialect)
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) | Token::Quoted(w) => Some(w),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn strings_end_where_their_database_ends_them() {
        // PostgreSQL: a backslash is an ordinary character outside E'…'.
        assert_eq!(
            words(r"SELECT 'C:\' AS path, x FROM t", Dialect::Postgres),
            ["SELECT", "AS", "path", "x", "FROM", "t"]
        );
        assert_eq!(
            tokens(r"SELECT E'it\'s', x", Dialect::Postgres),
            [
                Token::Word("SELECT".into()),
                Token::Str("it's".into()),
                Token::Punct(','),
                Token::Word("x".into())
            ]
        );
        // MySQL: a backslash escapes the quote.
        assert_eq!(
            words(r"SELECT 'it\'s', x FROM t", Dialect::MySql),
            ["SELECT", "x", "FROM", "t"]
        );
        // SQLite: never.
        assert_eq!(words(r"SELECT 'C:\', x", Dialect::Sqlite), ["SELECT", "x"]);
        assert_eq!(
            tokens("SELECT 'a''b'", Dialect::Sqlite)[1],
            Token::Str("a'b".into())
        );
    }

    #[test]
    fn comments_and_bodies_are_not_words() {
        let sql = "/* a /* nested */ DROP TABLE x */ SELECT $b$ DROP TABLE y $b$, $1 -- DROP\n";
        assert_eq!(words(sql, Dialect::Postgres), ["SELECT", "$1"]);
        // MySQL comments with `#`; a `$` there is part of a name.
        assert_eq!(
            words("SELECT a$b # DROP TABLE t\n, `x``y`", Dialect::MySql),
            ["SELECT", "a$b", "x`y"]
        );
        // SQLite quotes names in brackets; PostgreSQL's brackets are subscripts.
        assert_eq!(
            words("DROP TABLE [my t]", Dialect::Sqlite),
            ["DROP", "TABLE", "my t"]
        );
        assert_eq!(
            words("ALTER TABLE t ADD c text[]", Dialect::Postgres),
            ["ALTER", "TABLE", "t", "ADD", "c", "text"]
        );
    }

    #[test]
    fn opened_strings_are_read_as_sql() {
        let sql = "DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'x'; END $$";
        let opened = tokens_opening_strings(sql, Dialect::Postgres);
        assert!(opened.contains(&Token::Word("EXECUTE".into())));
        assert!(opened.contains(&Token::Word("DROP".into())));
        assert!(!tokens(sql, Dialect::Postgres).contains(&Token::Word("DROP".into())));
    }

    #[test]
    fn spans_point_at_the_statement() {
        let sql = "SELECT  \"Odd\"\"Name\", ä";
        let s = spanned(sql, Dialect::Postgres);
        assert_eq!(&sql[s[1].span.clone()], "\"Odd\"\"Name\"");
        assert_eq!(s[1].token, Token::Quoted("Odd\"Name".into()));
        assert_eq!(&sql[s[3].span.clone()], "ä");
    }
}
