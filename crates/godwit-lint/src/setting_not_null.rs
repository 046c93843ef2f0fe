//! GW009 setting-not-null: `SET NOT NULL` scans the whole table under ACCESS EXCLUSIVE.

use crate::rule::{POSTGRES, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "setting-not-null",
    code: "GW009",
    summary: "SET NOT NULL scans the table while blocking reads and writes",
    default_severity: Severity::Error,
    dialects: POSTGRES,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::SetNotNull { table, column } if !ctx.created_here(table, s.index) => {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "sets {table}.{column} NOT NULL: PostgreSQL reads every row of {table} to check it while it {}, so reads and writes wait for the whole scan",
                        lock_phrase(s, std::slice::from_ref(table))
                    ),
                    &format!(
                        "Add CHECK ({column} IS NOT NULL) NOT VALID to {table}, VALIDATE CONSTRAINT it in a later migration (SHARE UPDATE EXCLUSIVE only), then SET NOT NULL, which PostgreSQL 12+ proves from the valid check without scanning; drop the check afterwards."
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
            "GW009",
            Postgres,
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
        );
        passes(
            "GW009",
            Postgres,
            "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\n",
        );
    }
}
