//! Running the databases' own command-line tools: finding them, passing credentials
//! through the environment (never the command line, where `ps` shows them to everyone),
//! and keeping the migration lease alive while they work.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::error::DumpError;
use crate::traits::Driver;

/// An executable found on PATH.
pub(crate) struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
}

/// The first of `candidates` on PATH; else an error naming the package that has it.
pub(crate) fn find(
    candidates: &[&'static str],
    package: &'static str,
    purpose: &str,
) -> Result<Tool, DumpError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in candidates {
        for dir in std::env::split_paths(&path) {
            let full = dir.join(name);
            if is_executable(&full) {
                return Ok(Tool { name, path: full });
            }
        }
    }
    Err(DumpError::ToolMissing {
        tool: candidates.join(" (or ") + &")".repeat(candidates.len() - 1),
        purpose: purpose.to_string(),
        package,
    })
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

impl Tool {
    /// The tool's own version line, recorded in the sidecar.
    pub async fn version(&self) -> String {
        let out = tokio::process::Command::new(&self.path)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .await;
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or(self.name)
                .trim()
                .to_string(),
            _ => self.name.to_string(),
        }
    }

    /// Runs the tool to completion. `stdin`/`stdout` are files (or nothing); stderr is
    /// captured for the error message. The lease is renewed every ten seconds meanwhile,
    /// because a dump can outlast it.
    pub async fn run(
        &self,
        args: &[String],
        env: &[(String, String)],
        stdin: Option<std::fs::File>,
        stdout: Option<std::fs::File>,
        driver: &mut dyn Driver,
        purpose: &str,
    ) -> Result<(), DumpError> {
        let mut cmd = tokio::process::Command::new(&self.path);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(stdin.map(Stdio::from).unwrap_or_else(Stdio::null))
            .stdout(stdout.map(Stdio::from).unwrap_or_else(Stdio::null))
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| DumpError::ToolFailed {
            tool: self.name.to_string(),
            purpose: purpose.to_string(),
            status: "could not start".into(),
            stderr: e.to_string(),
        })?;
        let mut done = std::pin::pin!(child.wait_with_output());
        let output = loop {
            tokio::select! {
                out = &mut done => break out,
                _ = tokio::time::sleep(Duration::from_secs(10)) => {
                    driver.keep_alive().await.map_err(|e| DumpError::Database {
                        context: format!("while {purpose}"),
                        message: e.to_string(),
                    })?;
                }
            }
        };
        let output = output.map_err(|e| DumpError::ToolFailed {
            tool: self.name.to_string(),
            purpose: purpose.to_string(),
            status: "did not finish".into(),
            stderr: e.to_string(),
        })?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        // The last lines carry the cause; a restore can print thousands before it.
        let tail = stderr[stderr.len().saturating_sub(12)..].join("\n  ");
        Err(DumpError::ToolFailed {
            tool: self.name.to_string(),
            purpose: purpose.to_string(),
            status: output.status.to_string(),
            stderr: crate::redact::redact(if tail.is_empty() {
                "(it printed nothing)"
            } else {
                &tail
            }),
        })
    }
}

/// A URL part with its percent-escapes decoded (`p%40ss` is the password `p@ss`).
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(decode("p%40ss%2Fw"), "p@ss/w");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("caf%C3%A9"), "café");
    }

    #[test]
    fn missing_tool_names_the_package() {
        let err = find(
            &["godwit-no-such-tool", "godwit-nor-this"],
            "postgresql-client",
            "a test",
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.starts_with("godwit-no-such-tool (or godwit-nor-this) was not found on PATH"),
            "{err}"
        );
        assert!(err.contains("install postgresql-client"), "{err}");
    }
}
