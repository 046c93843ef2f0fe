//! GW021 vague-migration-name: a history of `update` and `fix` tells nobody anything.

use crate::rule::{ALL, RuleContext, RuleInfo, vague_name};
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "vague-migration-name",
    code: "GW021",
    summary: "a migration name that does not say what changes",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    if !vague_name(&ctx.migration.name) {
        return Vec::new();
    }
    vec![ctx.finding(
        &RULE,
        None,
        format!(
            "the name `{}` of migration {} does not say what it changes; the history table and every log will show only that",
            ctx.migration.name,
            ctx.migration.version
        ),
        "Rename the directory after the change, e.g. add_users_email_index or create_orders, before it is deployed anywhere: the name is recorded in the history.",
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::{dialect_name, lint_dirs};
    use crate::LintSettings;
    use godwit_core::Dialect::*;

    #[test]
    fn every_dialect() {
        for d in [Postgres, MySql, Sqlite] {
            let lint = |name: &str| {
                lint_dirs(
                    d,
                    &[(name, "SELECT 1;\n", Some("SELECT 1;\n"))],
                    &LintSettings::default(),
                    Some("GW021"),
                )
            };
            let (found, human) = lint("20260101000000_migration1");
            assert_eq!(found.len(), 1);
            insta::assert_snapshot!(format!("GW021-{}", dialect_name(d)), human);
            assert_eq!(lint("20260101000000_fix").0.len(), 1);
            assert!(lint("20260101000000_add_users_email_index").0.is_empty());
        }
    }
}
