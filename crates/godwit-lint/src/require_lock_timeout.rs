//! GW017 require-lock-timeout: a heavy lock requested with no timeout waits behind any
//! long transaction, and every query on the table queues behind the waiting request.

use crate::rule::{POSTGRES_MYSQL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::Dialect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "require-lock-timeout",
    code: "GW017",
    summary: "a statement takes a lock that blocks writes, with no lock timeout set",
    default_severity: Severity::Warning,
    dialects: POSTGRES_MYSQL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    // One finding per migration: the fix (a timeout for the file) covers every statement.
    // A table created by this very statement (`CREATE TABLE b (… REFERENCES a)`) is as
    // new as one created before it: nobody can be using it.
    let new = |t: &str, s: &godwit_core::analyze::StatementInfo| ctx.created_here(t, s.index + 1);
    let heavy = ctx.statements.iter().find(|s| {
        // No table named (DROP INDEX) means no proof the table is new: count it.
        s.lock.blocks_writes()
            && (s.tables.is_empty() || !s.tables.iter().all(|t| new(t, s)))
            && !ctx.lock_timeout_before(s.index)
    });
    let Some(s) = heavy else {
        return Vec::new();
    };
    let tables: Vec<String> = s.tables.iter().filter(|t| !new(t, s)).cloned().collect();
    let wait = match ctx.dialect {
        Dialect::MySql => {
            "lock_wait_timeout is left at its default (a year on MySQL, a day on MariaDB)"
        }
        _ => "lock_timeout is unset",
    };
    vec![ctx.finding(
        &RULE,
        Some(s),
        format!(
            "{} while {wait}: if a long transaction is using {}, this statement waits for it, and every query on the table queues behind the waiting statement",
            lock_phrase(s, &tables),
            crate::rule::table_list(&tables)
        ),
        &format!(
            "Set a lock timeout: {}lock_timeout in godwit.toml, or a SET before the statement; godwit retries the migration after a lock timeout.",
            if ctx.reads_directives() {
                format!("-- godwit:lock-timeout=5s at the top of {}, ", ctx.script_place())
            } else {
                String::new()
            }
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, lint_dirs, passes};
    use crate::LintSettings;
    use godwit_core::Dialect::*;

    #[test]
    fn postgres_and_mysql() {
        for d in [Postgres, MySql] {
            fails("GW017", d, "ALTER TABLE users ADD COLUMN nickname text;\n");
            passes(
                "GW017",
                d,
                "-- godwit:lock-timeout=5s\nALTER TABLE users ADD COLUMN nickname text;\n",
            );
            passes(
                "GW017",
                d,
                "CREATE TABLE users (id int);\nALTER TABLE users ADD COLUMN nickname text;\n",
            );
            // flipt's first migration: a new table referencing one created just before.
            passes(
                "GW017",
                d,
                "CREATE TABLE flags (id int PRIMARY KEY);\n\
                 CREATE TABLE variants (id int, flag_id int REFERENCES flags (id));\n",
            );
            // Referencing a table in use is another matter: it takes a lock on that one.
            fails(
                "GW017",
                d,
                "CREATE TABLE variants (id int, flag_id int REFERENCES flags (id));\n",
            );
        }
        passes(
            "GW017",
            Postgres,
            "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;\n",
        );
        // DROP INDEX names no table, so nothing shows the table is new (umami's corpus).
        fails("GW017", Postgres, "DROP INDEX users_email_idx;\n");
        passes(
            "GW017",
            MySql,
            "SET SESSION lock_wait_timeout = 5;\nALTER TABLE users ADD COLUMN nickname text;\n",
        );
    }

    #[test]
    fn godwit_toml_lock_timeout_satisfies_it() {
        let settings = LintSettings {
            lock_timeout: Some(std::time::Duration::from_secs(5)),
            ..Default::default()
        };
        let (found, _) = lint_dirs(
            Postgres,
            &[(
                "20260101000000_add_nickname",
                "ALTER TABLE users ADD COLUMN nickname text;\n",
                Some("SELECT 1;\n"),
            )],
            &settings,
            Some("GW017"),
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
