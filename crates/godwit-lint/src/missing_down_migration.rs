//! GW020 missing-down-migration: without down.sql, `godwit down` cannot revert it.
//! Folders whose tool keeps no down scripts (Prisma, Drizzle Kit) have nowhere to put
//! one, so the rule has nothing to ask of them.

use crate::rule::{ALL, RuleContext, RuleInfo, file_name};
use godwit_core::finding::{Finding, Severity};
use godwit_core::source::DownPlace;

pub(super) const RULE: RuleInfo = RuleInfo {
    name: "missing-down-migration",
    code: "GW020",
    summary: "a migration has no down.sql",
    default_severity: Severity::Warning,
    dialects: ALL,
    checks_down: false,
    check,
};

fn check(ctx: &RuleContext) -> Vec<Finding> {
    if ctx.migration.down.is_some() {
        return Vec::new();
    }
    let up = file_name(&ctx.migration.up.path);
    let (missing, write) = match &ctx.migration.down_place {
        DownPlace::Nowhere { .. } => return Vec::new(),
        DownPlace::File(path) => {
            let down = file_name(path);
            (down.clone(), format!("Write {down} undoing {up}"))
        }
        DownPlace::Section { marker, .. } => (
            format!("`{marker}` section"),
            format!("Add a `{marker}` section to {up} undoing its up section"),
        ),
    };
    let tables: Vec<String> = ctx
        .statements
        .iter()
        .flat_map(|s| s.tables.iter().cloned())
        .fold(Vec::new(), |mut acc, t| {
            if !acc.contains(&t) {
                acc.push(t);
            }
            acc
        });
    let touches = if tables.is_empty() {
        String::new()
    } else {
        format!(" (it touches {})", crate::rule::table_list(&tables))
    };
    // A marker its tool does not see: dbmate and goose read one only at the start of a
    // line, so an indented one (UPchieve's `    -- migrate:down`) is a comment, and the
    // down statements after it run as part of up.
    if let DownPlace::Section { marker, .. } = &ctx.migration.down_place {
        let squeezed = |l: &str| l.to_ascii_lowercase().replace([' ', '\t'], "");
        let wanted = squeezed(marker);
        if let Some(line) = ctx.migration.up.text.lines().position(|l| {
            l.starts_with([' ', '\t']) && squeezed(l.trim_start()).starts_with(&wanted)
        }) {
            return vec![ctx.finding(
                &RULE,
                None,
                format!(
                    "{} has no {missing} its tool reads: the `{marker}` at line {} is indented, and a marker counts only at the start of a line, \
                     so what follows it runs as part of up{touches}",
                    ctx.migration.id(),
                    line + 1
                ),
                &format!("Move `{marker}` in {up} to the start of its line."),
            )];
        }
    }
    vec![ctx.finding(
        &RULE,
        None,
        format!(
            "{} has no {missing}: `godwit down` cannot revert it{touches}",
            ctx.migration.id()
        ),
        &format!(
            "{write}; if the change truly cannot be undone, say so with -- godwit:ignore missing-down-migration -- reason: ... in {up}."
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testing::{dialect_name, lint_dirs, passes};
    use crate::LintSettings;
    use godwit_core::Dialect::*;

    #[test]
    fn every_dialect() {
        for d in [Postgres, MySql, Sqlite] {
            let (found, human) = lint_dirs(
                d,
                &[(
                    "20260101000000_create_users",
                    "CREATE TABLE users (id int);\n",
                    None,
                )],
                &LintSettings::default(),
                Some("GW020"),
            );
            assert_eq!(found.len(), 1);
            insta::assert_snapshot!(format!("GW020-{}", dialect_name(d)), human);
            passes("GW020", d, "CREATE TABLE users (id int);\n");
        }
    }
}
