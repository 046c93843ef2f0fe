//! The second line of defence: what a plugin's statements may touch, enforced by the
//! database itself rather than by godwit's reading of the SQL.
//!
//! godwit's SQL checker (`plugin::capability`) decides before a statement leaves the
//! plugin's thread; wherever its parser reads SQL differently from the server, that check
//! alone would be void. So every statement a plugin sends — and every statement the host
//! builds from a plugin's description, such as a backfill's `filter` — also runs confined
//! by the database: on SQLite under an authorizer that sees what the statement touches
//! after SQLite's own parse, on PostgreSQL under a role that holds only the granted
//! privileges. The confinement lives inside the batch's transaction, and is lifted before
//! the host writes its checkpoint.

/// What a plugin may touch, asked by table and column as the database names them.
///
/// Names arrive as the database reports them (SQLite: as written in the schema;
/// PostgreSQL: the catalog's names). `schema` is `None` for the default schema (`main` on
/// SQLite, `public` on PostgreSQL).
pub trait Scope: Send + Sync {
    /// Whether the plugin may read `table`.
    fn may_read(&self, schema: Option<&str>, table: &str) -> bool;
    /// Whether the plugin may write `column` of `table`; `None` asks for whole rows
    /// (DELETE, or INSERT without a column list).
    fn may_write(&self, schema: Option<&str>, table: &str, column: Option<&str>) -> bool;
    /// Whether the plugin may write some column of `table` (an INSERT, whose columns
    /// SQLite's authorizer does not report).
    fn may_write_any(&self, schema: Option<&str>, table: &str) -> bool;
    /// A stable text of the grants: equal grants, equal text. Names PostgreSQL's role.
    fn canonical(&self) -> String;
    /// `[plugins.NAME] enforcement`: with [`Enforcement::CheckerOnly`] the database
    /// confines nothing, by the operator's choice.
    fn enforcement(&self) -> Enforcement {
        Enforcement::Database
    }
    /// PostgreSQL: the role an administrator prepared for these grants
    /// (`[plugins.NAME] database_role`), entered instead of one godwit creates.
    fn prepared_role(&self) -> Option<&str> {
        None
    }
}

pub use godwit_core::Enforcement;

/// PostgreSQL: the role that will confine a plugin's statements, as `plan` reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScopeRole {
    pub role: String,
    /// An administrator prepared it (`database_role`); godwit keeps its privileges only.
    pub prepared: bool,
    /// godwit creates it, or makes its own user a member, before the first statement.
    pub to_create: bool,
}

/// What the database enforces on a plugin's statements, besides godwit's checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confined {
    /// SQLite: an authorizer allows exactly the granted tables, columns and functions.
    Authorizer,
    /// PostgreSQL: a role holding only the granted privileges.
    Role,
    /// Only godwit's SQL checker stands between the plugin and the data (MySQL/MariaDB,
    /// where a second account would need a second connection and break the batch's
    /// atomicity; see docs/security.md).
    CheckerOnly,
}

#[cfg(test)]
mod tests;
