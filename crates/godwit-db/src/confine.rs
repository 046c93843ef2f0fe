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

use godwit_core::Dialect;
pub use godwit_core::{Enforcement, Scope};

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

// Its tests, against real databases with a plugin's grants, are the host's
// `plugin::session::confine_tests`: the grants are godwit-plugin's, which this crate never sees.

/// The statements that pin how the server reads quotes for a plugin's statements, to the
/// rules godwit's SQL checker reads them by (whatever `init_sql` chose), keeping the
/// previous values in the session; and those that put them back after the call.
/// MySQL/MariaDB: without ANSI_QUOTES and NO_BACKSLASH_ESCAPES (a `"` is a string, a
/// backslash escapes), and in UTC, which the host's values assume for a TIMESTAMP.
/// PostgreSQL: `standard_conforming_strings = on` (a backslash in `'…'` is itself).
/// SQLite has nothing to pin.
pub fn plugin_quoting_sql(dialect: Dialect) -> (&'static [&'static str], &'static [&'static str]) {
    match dialect {
        Dialect::MySql => (
            &[
                "SET @godwit_plugin_saved_sql_mode = @@SESSION.sql_mode, @godwit_plugin_saved_time_zone = @@SESSION.time_zone",
                "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', SESSION time_zone = '+00:00'",
            ],
            &[
                "SET SESSION sql_mode = @godwit_plugin_saved_sql_mode, SESSION time_zone = @godwit_plugin_saved_time_zone",
            ],
        ),
        Dialect::Postgres => (
            &[
                "SELECT set_config('godwit.plugin_saved_scs', current_setting('standard_conforming_strings'), false)",
                "SET standard_conforming_strings = on",
            ],
            &[
                "SELECT set_config('standard_conforming_strings', current_setting('godwit.plugin_saved_scs'), false)",
            ],
        ),
        Dialect::Sqlite => (&[], &[]),
    }
}
