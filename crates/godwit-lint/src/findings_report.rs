//! Findings as people and tools read them: a terminal, a JSON consumer, GitHub Actions
//! annotations, or a SARIF file for code-scanning dashboards.
//!
//! Everything that produces [`Finding`]s (built-in lint rules, validator plugins, `plan`)
//! goes through here, so a finding looks the same whoever raised it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use godwit_core::finding::{Finding, Severity};

/// How findings are written out.
/// With the `clap` feature, also a command-line value (`--format human`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// The statement, then what is wrong with it and what to do instead.
    Human,
    /// `{"findings": [...], "summary": {...}}`.
    Json,
    /// GitHub Actions workflow commands, shown as annotations on the pull request.
    Github,
    /// SARIF 2.1.0, for GitHub code scanning and other dashboards.
    Sarif,
}

/// How many findings of each severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.errors + self.warnings + self.infos == 0 {
            return f.write_str("No findings.");
        }
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        write!(
            f,
            "{}, {}, {}.",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.infos, "info")
        )
    }
}

/// Renders `findings` in `format`; the text ends without a newline.
pub fn render(findings: &[Finding], format: Format) -> String {
    match format {
        Format::Human => human(findings),
        Format::Json => serde_json::to_string_pretty(&json!({
            "findings": findings,
            "summary": Summary::of(findings),
        }))
        .expect("findings serialize"),
        Format::Github => github(findings),
        Format::Sarif => serde_json::to_string_pretty(&sarif(findings)).expect("SARIF serializes"),
    }
}

fn human(findings: &[Finding]) -> String {
    let mut out = String::new();
    let mut files: BTreeMap<&Path, Option<Vec<String>>> = BTreeMap::new();
    let mut previous: Option<(Option<&Path>, Option<usize>)> = None;
    for f in findings {
        let file = f.location.file.as_deref();
        let place = (file, f.location.line);
        // Findings about the same statement share its header and its SQL.
        if previous != Some(place) {
            if previous.is_some() {
                out.push('\n');
            }
            out.push_str(&header(f));
            out.push('\n');
            if let (Some(file), Some(line)) = place {
                let lines = files.entry(file).or_insert_with(|| {
                    std::fs::read_to_string(file)
                        .ok()
                        .map(|t| t.lines().map(str::to_string).collect())
                });
                if let Some(lines) = lines {
                    out.push_str(&excerpt(lines, line));
                }
            }
            previous = Some(place);
        }
        out.push_str(&format!(
            "  {}[{}]: {}\n",
            f.severity.as_str(),
            title(f),
            f.message
        ));
        if let Some(help) = &f.help {
            out.push_str(&format!("    help: {help}\n"));
        }
        if let Some(doc) = &f.doc {
            out.push_str(&format!("    docs: {doc}\n"));
        }
        if f.source != "godwit" {
            out.push_str(&format!("    from: {}\n", f.source));
        }
    }
    if !findings.is_empty() {
        out.push('\n');
    }
    out.push_str(&Summary::of(findings).to_string());
    out
}

/// `GW001 ban-drop-table` for built-in rules; a plugin's rule has no separate code.
fn title(f: &Finding) -> String {
    if f.code == f.rule {
        f.rule.clone()
    } else {
        format!("{} {}", f.code, f.rule)
    }
}

fn header(f: &Finding) -> String {
    match (&f.location.file, f.location.line, &f.location.migration) {
        (Some(file), Some(line), _) => format!("{}:{line}", file.display()),
        (Some(file), None, _) => file.display().to_string(),
        (None, _, Some(migration)) => migration.clone(),
        (None, _, None) => "(no location)".to_string(),
    }
}

/// The statement starting at 1-based `line`: up to the line that ends it with `;`, at
/// most eight lines, numbered like a compiler's diagnostics.
fn excerpt(lines: &[String], line: usize) -> String {
    const MAX: usize = 8;
    let mut out = String::new();
    let width = (line + MAX).to_string().len();
    for (i, text) in lines.iter().enumerate().skip(line.saturating_sub(1)) {
        let number = i + 1;
        if number >= line + MAX {
            out.push_str(&format!("{:>width$} | …\n", ""));
            break;
        }
        out.push_str(&format!("{number:>width$} | {text}\n"));
        let code = text.split("--").next().unwrap_or_default().trim_end();
        if code.ends_with(';') {
            break;
        }
    }
    out
}

/// Workflow-command escaping: the message may hold newlines, properties also `:` and `,`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(findings: &[Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let mut properties = Vec::new();
            if let Some(file) = &f.location.file {
                properties.push(format!(
                    "file={}",
                    escape_property(&file.display().to_string())
                ));
            }
            if let Some(line) = f.location.line {
                properties.push(format!("line={line}"));
            }
            properties.push(format!("title={}", escape_property(&title(f))));
            let mut message = f.message.clone();
            if let Some(help) = &f.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            if let Some(doc) = &f.doc {
                message.push_str(&format!("\ndocs: {doc}"));
            }
            format!(
                "::{command} {}::{}",
                properties.join(","),
                escape_data(&message)
            )
        })
        .collect();
    lines.push(Summary::of(findings).to_string());
    lines.join("\n")
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn sarif(findings: &[Finding]) -> serde_json::Value {
    // One rule entry per code seen, described from the registry when it is built in,
    // from the finding itself when a plugin raised it.
    let mut codes: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    for f in findings {
        if codes.contains(&f.code.as_str()) {
            continue;
        }
        codes.push(&f.code);
        let builtin = crate::rule(&f.code).filter(|_| f.source == "godwit");
        let summary = builtin.map_or(f.rule.as_str(), |r| r.summary);
        let level = builtin.map_or(f.severity, |r| r.default_severity);
        let mut rule = json!({
            "id": f.code,
            "name": f.rule,
            "shortDescription": { "text": summary },
            "defaultConfiguration": { "level": sarif_level(level) },
        });
        if let Some(doc) = &f.doc {
            rule["helpUri"] = json!(doc);
        }
        if let Some(help) = &f.help {
            rule["help"] = json!({ "text": help });
        }
        rules.push(rule);
    }
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.code,
                "ruleIndex": codes.iter().position(|c| *c == f.code),
                "level": sarif_level(f.severity),
                "message": { "text": f.message },
            });
            if let Some(file) = &f.location.file {
                let mut physical = json!({
                    "artifactLocation": {
                        "uri": file.display().to_string().replace('\\', "/"),
                    },
                });
                if let Some(line) = f.location.line {
                    physical["region"] = json!({ "startLine": line });
                }
                result["locations"] = json!([{ "physicalLocation": physical }]);
            }
            if let Some(migration) = &f.location.migration {
                result["properties"] = json!({ "migration": migration, "source": f.source });
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "godwit",
                    "version": godwit_core::VERSION,
                    "informationUri": "https://github.com/godwit-db/godwit",
                    "rules": rules,
                }
            },
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use godwit_core::finding::Location;

    fn finding(file: &Path, line: usize, severity: Severity) -> Finding {
        Finding {
            rule: "ban-drop-table".into(),
            code: "GW001".into(),
            severity,
            message: "drops table users, for good".into(),
            location: Location {
                migration: Some("20260101000000_drop_users".into()),
                file: Some(file.to_path_buf()),
                line: Some(line),
                statement: Some(2),
            },
            help: Some("Expand/contract.".into()),
            doc: Some("docs/lint/ban-drop-table.md".into()),
            source: "godwit".into(),
        }
    }

    #[test]
    fn human_shows_the_statement_then_the_findings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("up.sql");
        std::fs::write(&file, "SELECT 1;\nDROP TABLE\n  users; -- bye\nSELECT 2;\n").unwrap();
        let text = render(
            &[
                finding(&file, 2, Severity::Error),
                finding(&file, 2, Severity::Warning),
            ],
            Format::Human,
        )
        .replace(&dir.path().display().to_string(), "[dir]");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn github_escapes_and_levels() {
        let mut f = finding(Path::new("m/up.sql"), 3, Severity::Info);
        f.message = "50% of rows,\nthen more".into();
        let text = render(&[f], Format::Github);
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("::notice file=m/up.sql,line=3,title=GW001 ban-drop-table::50%25 of rows,%0Athen more%0Ahelp: Expand/contract."),
            "{first}"
        );
    }

    #[test]
    fn sarif_is_2_1_0_with_rule_metadata() {
        let f = finding(Path::new("m/up.sql"), 3, Severity::Error);
        let value: serde_json::Value =
            serde_json::from_str(&render(&[f.clone(), f], Format::Sarif)).unwrap();
        assert_eq!(value["version"], "2.1.0");
        let run = &value["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "GW001");
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["shortDescription"]["text"],
            "DROP TABLE deletes the table and its data"
        );
        assert_eq!(run["results"][1]["ruleIndex"], 0);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
    }

    #[test]
    fn json_has_findings_and_summary() {
        let f = finding(Path::new("m/up.sql"), 3, Severity::Warning);
        let value: serde_json::Value = serde_json::from_str(&render(&[f], Format::Json)).unwrap();
        assert_eq!(value["findings"][0]["code"], "GW001");
        assert_eq!(value["summary"]["warnings"], 1);
        assert_eq!(value["summary"]["errors"], 0);
    }
}
