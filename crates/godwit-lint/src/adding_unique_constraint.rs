//! GW012 adding-unique-constraint: the constraint's index is built under ACCESS EXCLUSIVE.

use crate::rule::{POSTGRES, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "adding-unique-constraint",
    code: "GW012",
    summary: "a UNIQUE or PRIMARY KEY constraint builds its index while blocking the table",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::AddUnique { table, columns } if !ctx.created_here(table, s.index) => {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "adds a UNIQUE or PRIMARY KEY constraint on {table} ({}): its unique index is built while the statement {}, so reads and writes wait for the whole build",
                        columns.join(", "),
                        lock_phrase(s, std::slice::from_ref(table))
                    ),
                    &format!(
                        "Build the index first with CREATE UNIQUE INDEX CONCURRENTLY in a migration of its own {}; then ALTER TABLE ... ADD CONSTRAINT name UNIQUE (or PRIMARY KEY) USING INDEX index_name, which is instant.",
                        ctx.outside_a_transaction()
                    ),
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
    fn postgres() {
        fails(
            "GW012",
            Postgres,
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);\n",
        );
        fails(
            "GW012",
            Postgres,
            "ALTER TABLE webhook ADD PRIMARY KEY (id);\n",
        );
        passes(
            "GW012",
            Postgres,
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;\n",
        );
    }
}
