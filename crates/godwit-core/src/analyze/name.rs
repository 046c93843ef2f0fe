//! Names as a statement writes them: what the analyser's word readings ([`super::scan`],
//! [`super::destroys`], [`super::creates`]) return, so that a copy or a message can name
//! exactly the table the statement named.

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

    /// The name as SQL of `dialect` spells it: quoted again if it was quoted.
    pub fn sql(&self, dialect: Dialect) -> String {
        if self.quoted {
            crate::sql::quote(dialect, &self.text)
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
