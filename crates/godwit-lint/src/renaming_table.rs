//! GW005 renaming-table: code deployed before the migration still uses the old name.

use crate::rule::{ALL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "renaming-table",
    code: "GW005",
    summary: "renaming a table breaks code that uses the old name",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            // Moving a table aside to rebuild it under its own name renames nothing for
            // the application; table-rebuild judges it.
            Effect::RenameTable { from, to }
                if !ctx.created_here(from, s.index) && ctx.rebuild_renaming(s.index).is_none() =>
            {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "renames table {from} to {to}: the application version still running during the deploy queries {from} and fails until it is replaced, and the rename {}",
                        lock_phrase(s, std::slice::from_ref(from))
                    ),
                    "Expand/contract: create the new table (or a view named after it), write to both, move readers over, and drop the old one in a later migration.",
                ))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, passes};
    use godwit_core::Dialect::*;

    #[test]
    fn every_dialect() {
        for d in [Postgres, MySql, Sqlite] {
            fails("GW005", d, "ALTER TABLE users RENAME TO accounts;\n");
            passes("GW005", d, "CREATE TABLE accounts (id int);\n");
        }
        fails("GW005", MySql, "RENAME TABLE users TO accounts;\n");
        // Moved aside to be rebuilt under its own name (table-rebuild reports that).
        for d in [Postgres, MySql, Sqlite] {
            passes(
                "GW005",
                d,
                "ALTER TABLE users RENAME TO users_old;\n\
                 CREATE TABLE users (id int);\n\
                 INSERT INTO users (id) SELECT id FROM users_old;\n\
                 DROP TABLE users_old;\n",
            );
        }
        // Moved aside and never replaced: a rename the application sees.
        fails(
            "GW005",
            Sqlite,
            "ALTER TABLE users RENAME TO users_old;\nCREATE TABLE users (id int);\n",
        );
    }
}
