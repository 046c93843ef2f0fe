//! GW004 ban-truncate: `TRUNCATE` empties a table at once, under the strongest lock.

use crate::rule::{POSTGRES_MYSQL, RuleContext, RuleInfo, lock_phrase};
use godwit_core::analyze::Effect;
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "ban-truncate",
    code: "GW004",
    summary: "TRUNCATE deletes every row of a table",
    default_severity: Severity::Error,
    dialects: POSTGRES_MYSQL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.effects()
        .filter_map(|(s, e)| match e {
            Effect::TruncateTable { table } if !ctx.created_here(table, s.index) => {
                Some(ctx.finding(
                    &RULE,
                    Some(s),
                    format!(
                        "truncates {table}: every row is deleted at once and it {}",
                        lock_phrase(s, std::slice::from_ref(table))
                    ),
                    "If the rows really must go, back them up and delete them in batches (a data step) so the table stays usable; for disposable data (caches, sessions) ignore this finding with the reason.",
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
    fn postgres_and_mysql() {
        for d in [Postgres, MySql] {
            fails("GW004", d, "TRUNCATE TABLE sessions;\n");
            passes(
                "GW004",
                d,
                "DELETE FROM sessions WHERE expires_at < '2026-01-01';\n",
            );
        }
    }
}
