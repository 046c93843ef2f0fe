//! What the drivers' catalog queries share: reading a query's rows as text, and the
//! small normalisations every dialect's introspection applies. Each database's queries
//! live beside its driver (`mysql/introspect.rs`, `postgres/introspect.rs`,
//! `sqlite/introspect.rs`) and build the dialect-neutral [`godwit_core::schema`] model.

use crate::error::DbError;
use crate::traits::Session;

/// One catalog query's rows, every column as text (NULL as `None`).
pub(crate) struct Rows(Vec<Vec<Option<String>>>);

impl Rows {
    pub(crate) async fn read(
        driver: &mut dyn Session,
        what: &str,
        sql: &str,
    ) -> Result<Rows, DbError> {
        driver
            .query_text(sql)
            .await
            .map(Rows)
            .map_err(|e| DbError::db(format!("cannot read the schema ({what})"), &e))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = RowText<'_>> {
        self.0.iter().map(|r| RowText(r))
    }
}

#[derive(Clone, Copy)]
pub(crate) struct RowText<'a>(&'a [Option<String>]);

impl RowText<'_> {
    /// Column `i`, with NULL read as empty.
    pub(crate) fn text(&self, i: usize) -> String {
        self.opt(i).unwrap_or_default()
    }

    pub(crate) fn opt(&self, i: usize) -> Option<String> {
        self.0.get(i).cloned().flatten()
    }
}

/// Splits a list joined with the unit separator (chr 31), which no name or expression holds.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\u{1f}').map(str::to_string).collect()
    }
}

/// A multi-line definition without trailing blanks or blank lines at its ends (`\r\n` read
/// as `\n`), so that a body compares by what it says.
pub(crate) fn trim_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_matches('\n').to_string()
}
