//! `org-rules`: an organisation's migration rules — naming, reversibility, forbidden
//! statements, and tables without a primary key in the live database.

use godwit_sdk::{Finding, Migration, RowExt as _, Session, Severity, Validator, Value, config};
use regex::Regex;

struct OrgRules;

/// The severity for `rule`: its own `<rule>_severity` setting, else `severity`, else error.
fn severity(rule: &str) -> Severity {
    config::get_str(&format!("{rule}_severity"))
        .or_else(|| config::get_str("severity"))
        .and_then(|s| Severity::parse(&s))
        .unwrap_or(Severity::Error)
}

fn file(m: &Migration, direction: &str) -> String {
    format!("{}_{}.{direction}.sql", m.version, m.name)
}

/// SQL with comments removed and whitespace collapsed, upper-cased, so keywords match
/// however they are spelled out.
fn normalise(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
            out.push(' ');
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

fn keyword_regex(keyword: &str) -> Option<Regex> {
    let words: Vec<String> = keyword.split_whitespace().map(regex::escape).collect();
    if words.is_empty() {
        return None;
    }
    Regex::new(&format!(r"\b{}\b", words.join(" ").to_uppercase())).ok()
}

impl Validator for OrgRules {
    fn check_migration(m: Migration) -> Vec<Finding> {
        let mut findings = Vec::new();

        if let Some(pattern) = config::get_str("name_pattern") {
            match Regex::new(&pattern) {
                Ok(re) if !re.is_match(&m.name) => findings.push(
                    Finding::new(
                        "org-name-pattern",
                        severity("name_pattern"),
                        format!(
                            "migration {} is named {:?}, which does not match {pattern:?}",
                            m.version, m.name
                        ),
                    )
                    .at(file(&m, "up"))
                    .help("rename the migration's files to follow the naming convention"),
                ),
                Ok(_) => {}
                Err(e) => findings.push(Finding::new(
                    "org-rules-config",
                    Severity::Error,
                    format!("setting `name_pattern` is not a valid regex: {e}"),
                )),
            }
        }

        let require_down = config::get_bool("require_down").unwrap_or(Some(false));
        if require_down == Some(true) && m.down_sql.as_deref().is_none_or(|s| s.trim().is_empty()) {
            findings.push(
                Finding::new(
                    "org-require-down",
                    severity("require_down"),
                    format!(
                        "migration {}_{} cannot be reverted: it has no down migration",
                        m.version, m.name
                    ),
                )
                .at(file(&m, "up"))
                .help(format!("add {} that undoes it", file(&m, "down"))),
            );
        }

        let up = normalise(&m.up_sql);
        for keyword in config::get_list("forbid") {
            if keyword_regex(&keyword).is_some_and(|re| re.is_match(&up)) {
                findings.push(
                    Finding::new(
                        "org-forbidden-statement",
                        severity("forbid"),
                        format!(
                            "migration {}_{} uses {}, which this organisation forbids in migrations",
                            m.version,
                            m.name,
                            keyword.to_uppercase()
                        ),
                    )
                    .at(file(&m, "up"))
                    .help("do it by hand with review, or ask for the rule to be relaxed"),
                );
            }
        }
        findings
    }

    fn check_database(session: &Session) -> Vec<Finding> {
        if config::get_bool("require_primary_key").unwrap_or(Some(false)) != Some(true) {
            return Vec::new();
        }
        let dialect = config::get_str("dialect").unwrap_or_default();
        let sql = match dialect.as_str() {
            // pg_catalog, not information_schema: the plugin's statements run in a role
            // holding only its grants, and information_schema shows a role only the
            // tables it holds privileges on; pg_catalog describes every table to anyone.
            "postgres" => {
                "SELECT n.nspname || '.' || c.relname AS name \
                 FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') \
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND left(n.nspname, 3) <> 'pg_' \
                 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k \
                   WHERE k.conrelid = c.oid AND k.contype = 'p') \
                 ORDER BY 1"
            }
            "mysql" => {
                "SELECT t.table_name AS name FROM information_schema.tables t \
                 WHERE t.table_type = 'BASE TABLE' AND t.table_schema = DATABASE() \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c \
                   WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name \
                   AND c.constraint_type = 'PRIMARY KEY') \
                 ORDER BY 1"
            }
            "sqlite" => {
                "SELECT m.name AS name FROM sqlite_master m \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.pk > 0) \
                 ORDER BY 1"
            }
            other => {
                return vec![Finding::new(
                    "org-rules-config",
                    Severity::Error,
                    format!(
                        "cannot check primary keys: setting `dialect` is {other:?}, expected postgres, mysql or sqlite"
                    ),
                )];
            }
        };
        let rows = match session.query(sql, &[]) {
            Ok(rows) => rows,
            // A check that could not run must not pass quietly.
            Err(e) => {
                return vec![Finding::new(
                    "org-require-primary-key",
                    Severity::Error,
                    format!("cannot list tables without a primary key: {e}"),
                )];
            }
        };
        rows.iter()
            .filter_map(
                |row| match row.value("name").or_else(|| row.first().map(|c| &c.value)) {
                    Some(Value::Text(s)) => Some(s.clone()),
                    Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                    _ => None,
                },
            )
            .map(|table| {
                Finding::new(
                    "org-require-primary-key",
                    severity("require_primary_key"),
                    format!("table {table} has no primary key"),
                )
                .help("add a primary key: replication, keyset backfills and most tools need one")
            })
            .collect()
    }
}

godwit_sdk::export_validator!(OrgRules);

#[cfg(test)]
mod tests {
    #[test]
    fn keywords_match_across_comments_and_spacing() {
        let sql = super::normalise("-- drop table x\nTRUNCATE  /* why */ \n  table users;");
        assert!(super::keyword_regex("truncate").unwrap().is_match(&sql));
        assert!(!super::keyword_regex("drop table").unwrap().is_match(&sql));
        let sql = super::normalise("drop\n\ttable old_users;");
        assert!(super::keyword_regex("DROP TABLE").unwrap().is_match(&sql));
        assert!(!super::keyword_regex("DROP").unwrap().is_match("DROPPED"));
    }
}
