//! Validators and notifiers end to end, with real components built from the workspace
//! (first-party plugins embedded as built-ins, test guests from `tests/artifacts`).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;

use crate::support::*;

use crate::support::guest_wasm as guest;

fn config(p: &Project, toml: &str) {
    std::fs::write(p.path().join("godwit.toml"), toml).unwrap();
}

/// Parses the JSON lines godwit --json streams on stderr, skipping anything else.
fn event_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

const ORG_RULES: &str = r#"
[plugins.org]
builtin = "org-rules"

[plugins.org.config]
name_pattern = "^(create|add|drop|backfill)_[a-z0-9_]+$"
"#;

fn org_rules_block_a_deploy_and_pass_a_compliant_one(d: Dialect) {
    let p = Project::empty(d);
    config(&p, ORG_RULES);
    p.write(
        "20260101000000_create_users/up.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    p.write(
        "20260102000000_misc_stuff/up.sql",
        "CREATE TABLE stuff (id int PRIMARY KEY);\n",
    );
    let out = p.godwit(&["deploy"]);
    out.expect(4)
        .says("org-name-pattern")
        .says("misc_stuff")
        .says("deploy blocked by validator org; nothing was applied");
    assert!(
        !p.db.table_exists("users"),
        "the compliant one was not applied either"
    );
    assert!(!p.db.table_exists("stuff"));

    std::fs::rename(
        p.migrations().join("20260102000000_misc_stuff"),
        p.migrations().join("20260102000000_create_stuff"),
    )
    .unwrap();
    p.godwit(&["deploy"]).expect(0).says("Applied 2 migrations");
    assert!(p.db.table_exists("stuff"));
}

/// On PostgreSQL only for now: org-rules' MySQL query calls `DATABASE()` and its SQLite
/// query reads `pragma_table_info(...)`, both of which the session's fail-closed query
/// check refuses (the refusal comes back as an error finding, so deploy still blocks).
fn org_rules_check_database_finds_a_table_without_primary_key(d: Dialect) {
    let p = Project::empty(d);
    config(
        &p,
        r#"
[plugins.org]
builtin = "org-rules"

[plugins.org.grants]
read = ["pg_catalog.pg_class", "pg_catalog.pg_namespace", "pg_catalog.pg_constraint", "information_schema.tables", "information_schema.table_constraints", "sqlite_master", "pragma_table_info"]

[plugins.org.config]
require_primary_key = true
"#,
    );
    p.db.exec("CREATE TABLE legacy (x int)");
    p.write(
        "20260101000000_create_users/up.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    let plan = p.godwit(&["plan", "--json"]);
    plan.expect(0);
    let value: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let found = &value["database_findings"];
    assert_eq!(found[0]["rule"], "org-require-primary-key", "{value:#}");
    assert_eq!(found[0]["source"], "org");
    assert!(
        found[0]["message"].as_str().unwrap().contains("legacy"),
        "{found}"
    );

    // Read-only and rolled back: plan changed nothing.
    assert!(!p.db.table_exists("users"));
    p.godwit(&["deploy"])
        .expect(4)
        .says("org-require-primary-key")
        .says("legacy");
    assert!(!p.db.table_exists("users"));
}

fn validator_that_runs_out_of_fuel_blocks_deploy(d: Dialect) {
    let p = Project::empty(d);
    config(
        &p,
        &format!("{ORG_RULES}\n[plugins.org.limits]\nfuel = 10\n"),
    );
    p.write(
        "20260101000000_create_users/up.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    p.godwit(&["deploy"])
        .expect(4)
        .says("validator org could not check")
        .says("fuel");
    assert!(!p.db.table_exists("users"));
}

crate::each_dialect!(
    org_rules_block_a_deploy_and_pass_a_compliant_one,
    org_rules_check_database_finds_a_table_without_primary_key,
    validator_that_runs_out_of_fuel_blocks_deploy,
);

#[test]
fn hello_validator_findings_join_lint_output() {
    let p = Project::empty(Dialect::Sqlite);
    let wasm = guest("hello-validator");
    let local = p.path().join("hello.wasm");
    std::fs::copy(&wasm, &local).unwrap();
    config(
        &p,
        &format!(
            "[plugins.hello]\npath = \"hello.wasm\"\nsha256 = \"{}\"\n",
            sha256(&local)
        ),
    );
    p.write(
        "20260101000000_drop_old/up.sql",
        "-- godwit:ignore ban-drop-table -- reason: the table was never used\nDROP TABLE old_things;\n",
    );
    let out = p.godwit(&["lint", "--json"]);
    out.expect(4);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let hello: Vec<&serde_json::Value> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["source"] == "hello")
        .collect();
    assert_eq!(hello.len(), 1, "{value:#}");
    assert_eq!(hello[0]["rule"], "hello-no-drop-table");
    assert_eq!(hello[0]["severity"], "error");
    assert_eq!(hello[0]["location"]["migration"], "20260101000000_drop_old");
    assert!(
        hello[0]["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("up.sql")
    );
    // The same finding in the human and SARIF reporters, named after the plugin.
    p.godwit(&["lint"])
        .expect(4)
        .says("hello-no-drop-table")
        .says("from: hello");
    let sarif = p.godwit(&["lint", "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "hello-no-drop-table"),
        "{sarif:#}"
    );
}

fn audit_toml(file: Option<&str>) -> String {
    let mut toml =
        "[plugins.audit]\nbuiltin = \"audit-log\"\n\n[plugins.audit.grants]\ndir = \"audit\"\n"
            .to_owned();
    if let Some(file) = file {
        toml.push_str(&format!("\n[plugins.audit.config]\nfile = \"{file}\"\n"));
    }
    toml
}

#[test]
fn audit_log_notifier_writes_the_run_as_json_lines() {
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    config(&p, &audit_toml(None));
    let out = p.godwit(&["deploy", "--json"]);
    out.expect(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let log = std::fs::read_to_string(p.path().join("audit/godwit-audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run-started",
            "migration-started",
            "migration-applied",
            "migration-started",
            "migration-applied",
            "migration-started",
            "migration-applied",
            "run-finished"
        ],
        "{log}"
    );
    assert_eq!(events[0]["operation"], "deploy");
    assert_eq!(events[0]["pending"], 3);
    assert_eq!(events[7]["applied"], 3);
    assert!(events[7]["failed"].is_null());
    // Nothing outside the granted directory.
    let outside: Vec<_> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");

    // The same run streamed on stderr as JSON lines; stdout is one document.
    let streamed = event_lines(&out.stderr);
    assert_eq!(streamed.first().unwrap()["event"], "run_started");
    assert_eq!(streamed.last().unwrap()["event"], "run_finished");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["applied"].as_array().unwrap().len(), 3);
}

#[test]
fn audit_log_refuses_a_file_outside_its_directory_without_failing_the_deploy() {
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    config(&p, &audit_toml(Some("../escaped.jsonl")));
    let out = p.godwit(&["deploy"]);
    out.expect(0)
        .says("Applied 3 migrations")
        .says("warning: notifier audit");
    assert!(!p.path().join("escaped.jsonl").exists());
    assert!(!p.path().parent().unwrap().join("escaped.jsonl").exists());
}

/// A one-thread HTTP server on 127.0.0.1 that answers 200 to every request and hands
/// over each request's head and body.
fn http_server() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            let mut chunked = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line
                    .to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
                {
                    length = v.parse().unwrap_or(0);
                }
                if line.to_ascii_lowercase().starts_with("transfer-encoding:")
                    && line.to_ascii_lowercase().contains("chunked")
                {
                    chunked = true;
                }
                let end = line == "\r\n";
                head.push_str(&line);
                if end {
                    break;
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            // A chunked body: a size line in hex, the chunk, CRLF; a zero-size chunk last.
            while chunked {
                let mut size = String::new();
                if reader.read_line(&mut size).unwrap_or(0) == 0 {
                    break;
                }
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                chunked = reader.read_exact(&mut chunk).is_ok() && size > 0;
                body.extend_from_slice(&chunk[..size]);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            if tx
                .send((head, String::from_utf8_lossy(&body).into_owned()))
                .is_err()
            {
                return;
            }
        }
    });
    (authority, rx)
}

fn webhook_toml(url: &str, hosts: &str) -> String {
    format!(
        "[plugins.slack]\nbuiltin = \"webhook\"\n\n[plugins.slack.grants]\nhosts = [{hosts}]\n\n[plugins.slack.config]\nurl = \"{url}\"\nevents = \"run-started,migration-applied,run-finished\"\n"
    )
}

#[test]
fn webhook_notifier_posts_slack_payloads_to_an_allow_listed_host() {
    let (authority, requests) = http_server();
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    config(
        &p,
        &webhook_toml(
            &format!("http://{authority}/hook"),
            &format!("\"{authority}\""),
        ),
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let received: Vec<(String, String)> = requests.try_iter().collect();
    assert_eq!(received.len(), 5, "{received:#?}");
    for (head, _) in &received {
        assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
    }
    let payloads: Vec<serde_json::Value> = received
        .iter()
        .map(|(_, body)| serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}")))
        .collect();
    assert!(
        payloads.iter().all(|p| p["text"].is_string()),
        "{payloads:#?}"
    );
    assert_eq!(payloads[0]["godwit"]["event"], "run-started");
    assert_eq!(payloads[1]["godwit"]["event"], "migration-applied");
    assert_eq!(payloads[4]["godwit"]["event"], "run-finished");
    assert!(
        payloads[1]["text"]
            .as_str()
            .unwrap()
            .contains("20260101000000"),
        "{:#}",
        payloads[1]
    );
}

#[test]
fn webhook_to_a_host_not_allow_listed_is_refused_and_the_deploy_succeeds() {
    let (authority, requests) = http_server();
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    config(
        &p,
        &webhook_toml(&format!("http://{authority}/hook"), "\"hooks.example.com\""),
    );
    let out = p.godwit(&["deploy"]);
    out.expect(0)
        .says("Applied 3 migrations")
        .says("warning: notifier slack")
        .says(&authority);
    assert_eq!(requests.try_iter().count(), 0, "nothing reached the server");
}

#[test]
fn github_summary_notifier_writes_the_step_summary() {
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("step_summary.md");
    std::fs::write(&summary, "").unwrap();
    config(
        &p,
        "[plugins.github]\nbuiltin = \"github-summary\"\n\n[plugins.github.grants]\nenv = [\"GITHUB_STEP_SUMMARY\"]\nappend = [\"$GITHUB_STEP_SUMMARY\"]\n",
    );
    let mut cmd = p.command(&["deploy"]);
    cmd.env("GITHUB_STEP_SUMMARY", &summary);
    let out = run(cmd);
    out.expect(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("20260101000000"), "{text}");
    assert!(text.contains('|'), "a Markdown table: {text}");
}

#[test]
fn http_authorities_match_exactly_and_ignore_case() {
    use godwit::plugin::authority_allowed;
    let hosts = vec!["127.0.0.1:8080".to_owned(), "Hooks.Slack.com".to_owned()];
    assert!(authority_allowed(&hosts, "127.0.0.1:8080"));
    assert!(authority_allowed(&hosts, "hooks.slack.com"));
    assert!(!authority_allowed(&hosts, "127.0.0.1:8081"));
    assert!(!authority_allowed(&hosts, "127.0.0.1"));
    assert!(!authority_allowed(&hosts, "hooks.slack.com:443"));
    assert!(!authority_allowed(&hosts, "evil.hooks.slack.com"));
    assert!(!authority_allowed(&[], "127.0.0.1:8080"));
}

#[test]
fn audit_log_hears_down_and_a_failed_run_finish() {
    let p = Project::new(Dialect::Sqlite, "migrations_reversible");
    config(&p, &audit_toml(None));
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["down"]).expect(0);
    p.write(
        "20260204000000_broken/up.sql",
        "INSERT INTO no_such_table VALUES (1);\n",
    );
    p.godwit(&["deploy"]).expect(1);
    let log = std::fs::read_to_string(p.path().join("audit/godwit-audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let finished: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "run-finished")
        .collect();
    assert_eq!(finished.len(), 3, "{log}");
    assert_eq!(finished[1]["operation"], "down");
    assert_eq!(finished[1]["applied"], 1);
    assert_eq!(finished[2]["operation"], "deploy");
    assert_eq!(
        finished[2]["applied"], 1,
        "the reverted one went in again first"
    );
    assert_eq!(finished[2]["failed"], "20260204000000_broken");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "migration-failed" && e["version"] == "20260204000000"),
        "{log}"
    );
    assert_eq!(events.last().unwrap()["event"], "run-finished");
}

#[test]
fn webhook_that_never_answers_costs_the_run_its_time_limit_not_more() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let p = Project::new(Dialect::Sqlite, "migrations_simple");
    config(
        &p,
        &format!(
            "{}\n[plugins.slack.limits]\ntimeout = \"1s\"\n",
            webhook_toml(
                &format!("http://{authority}/hook"),
                &format!("\"{authority}\"")
            )
        ),
    );
    let started = std::time::Instant::now();
    let out = p.godwit(&["deploy"]);
    out.expect(0)
        .says("Applied 3 migrations")
        .says("warning: notifier slack");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}\n{}",
        started.elapsed(),
        out.stderr
    );
    assert_eq!(p.db.int("SELECT count(*) FROM users"), 3);
}
