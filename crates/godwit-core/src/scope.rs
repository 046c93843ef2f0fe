//! What a plugin's statements may touch, as the two sides that enforce it share it:
//! godwit-plugin's grants implement [`Scope`], and godwit-db's drivers confine a plugin's
//! statements to it (SQLite's authorizer, PostgreSQL's role). Here, in the crate both
//! depend on, because the two never see each other.

/// `[plugins.NAME] enforcement`: what confines a plugin's statements besides godwit's
/// SQL checker (see docs/security.md). Here, not in the plugin crate, because the
/// database drivers read it too (they are what the database's own confinement is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    /// The database too: SQLite's authorizer, PostgreSQL's role. MySQL/MariaDB have the
    /// checker alone whatever this says.
    #[default]
    Database,
    /// godwit's SQL checker alone, on every database: the operator's explicit choice,
    /// shown by `deploy`, `plan` and `status` whenever it is in effect.
    CheckerOnly,
}

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
