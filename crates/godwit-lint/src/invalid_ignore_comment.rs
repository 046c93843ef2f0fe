//! GW023 invalid-ignore-comment: an ignore has to name real rules and say why, or it
//! silences nothing.

use crate::rule::{ALL, RuleContext, RuleInfo};
use godwit_core::finding::{Finding, Severity};

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "invalid-ignore-comment",
    code: "GW023",
    summary: "a godwit:ignore comment without a reason or with an unknown rule",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

const EXAMPLE: &str = "Write it as -- godwit:ignore ban-drop-column -- reason: column unused since v2, on the line above the statement.";

fn check(ctx: &RuleContext) -> Vec<Finding> {
    let mut findings = Vec::new();
    for ignore in ctx.ignores() {
        let mut problems = Vec::new();
        if ignore.rules.is_empty() {
            problems.push("names no rule".to_string());
        }
        for r in &ignore.rules {
            if ctx.rule(r).is_none() {
                problems.push(format!("names `{r}`, which is not a lint rule"));
            }
        }
        if ignore.reason.is_none() {
            problems.push("gives no reason".to_string());
        }
        if ignore.statement.is_none() {
            problems.push("is not followed by a statement".to_string());
        }
        if problems.is_empty() {
            continue;
        }
        let mut finding = ctx.finding(
            &RULE,
            None,
            format!(
                "the godwit:ignore comment at line {} {}, so it silences nothing",
                ignore.line,
                problems.join(" and ")
            ),
            EXAMPLE,
        );
        finding.location.line = Some(ignore.line);
        findings.push(finding);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fails, lint_sql, passes};
    use godwit_core::Dialect::*;

    #[test]
    fn every_dialect() {
        for d in [Postgres, MySql, Sqlite] {
            fails(
                "GW023",
                d,
                "-- godwit:ignore ban-drop-table\nDROP TABLE users;\n",
            );
            passes(
                "GW023",
                d,
                "-- godwit:ignore ban-drop-table -- reason: replaced by accounts in v3\nDROP TABLE users;\n",
            );
            // Without a reason the original finding stays.
            let (found, _) = lint_sql(
                d,
                "-- godwit:ignore ban-drop-table\nDROP TABLE users;\n",
                "GW001",
            );
            assert_eq!(found.len(), 1);
            let (found, _) = lint_sql(
                d,
                "-- godwit:ignore GW001 -- reason: replaced by accounts in v3\nDROP TABLE users;\n",
                "GW001",
            );
            assert!(found.is_empty());
        }
        let found = fails(
            "GW023",
            Postgres,
            "-- godwit:ignore ban-drop-tabel -- reason: typo\nDROP TABLE users;\n",
        );
        assert!(
            found[0].message.contains("`ban-drop-tabel`"),
            "{}",
            found[0].message
        );
    }
}
