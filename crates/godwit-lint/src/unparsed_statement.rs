//! GW022 unparsed-statement: a statement the checks could not read is said so, never
//! passed silently.

use crate::rule::{ALL, RuleContext, RuleInfo};
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "unparsed-statement",
    code: "GW022",
    summary: "a statement the lint checks could not read",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    ctx.statements
        .iter()
        .filter(|s| !s.parsed)
        .map(|s| {
            let on = if s.tables.is_empty() {
                String::new()
            } else {
                format!(" on {}", crate::rule::table_list(&s.tables))
            };
            ctx.finding(
                &RULE,
                Some(s),
                format!(
                    "the lint checks could not read statement {}{on} as {} ({}); only its leading keywords were checked, so locks and data loss in the rest are not judged",
                    s.index + 1,
                    ctx.dialect,
                    s.parse_error.as_deref().unwrap_or("unknown syntax")
                ),
                "Review this statement by hand for locks and data loss; if it is valid SQL the parser does not know, ignore this finding with a reason.",
            )
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
            fails("GW022", d, "FROBNICATE TABLE users WITH GUSTO;\n");
            passes("GW022", d, "CREATE TABLE users (id int);\n");
        }
    }
}
