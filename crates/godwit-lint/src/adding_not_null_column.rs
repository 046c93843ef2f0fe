//! GW008 adding-not-null-column: a NOT NULL column without a default has no value for
//! the rows already there.

use crate::rule::{ALL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::Dialect;
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "adding-not-null-column",
    code: "GW008",
    summary: "adding a NOT NULL column without a default fails or invents values",
    default_severity: Severity::Error,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::AddColumn {
                table,
                column,
                not_null: true,
                has_default: false,
                ..
            } if !ctx.created_here(table, s.index) => {
                let lock = lock_phrase(s, std::slice::from_ref(table));
                let message = match ctx.dialect {
                    Dialect::Postgres => format!(
                        "adds {table}.{column} as NOT NULL without a default: it fails as soon as {table} has a row, after it {lock}"
                    ),
                    Dialect::MySql => format!(
                        "adds {table}.{column} as NOT NULL without a default: MySQL fills the existing rows of {table} with the type's implicit default (0, '' or a zero date), which is rarely right, and it {lock}"
                    ),
                    Dialect::Sqlite => format!(
                        "adds {table}.{column} as NOT NULL without a default: SQLite refuses it (\"Cannot add a NOT NULL column with default value NULL\") and the migration fails; it {lock}"
                    ),
                };
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    message,
                    "Add the column nullable (or with a constant DEFAULT), backfill it in batches, then make it NOT NULL in a later migration (see setting-not-null for doing that without a long lock).",
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
            fails(
                "GW008",
                d,
                "ALTER TABLE users ADD COLUMN tier int NOT NULL;\n",
            );
            passes(
                "GW008",
                d,
                "ALTER TABLE users ADD COLUMN tier int NOT NULL DEFAULT 0;\n",
            );
            passes("GW008", d, "ALTER TABLE users ADD COLUMN tier int;\n");
        }
    }
}
