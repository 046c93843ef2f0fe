//! `audit-log`: append one JSON object per event to a JSON-lines file inside the one
//! directory the operator granted (mounted at `/` in the sandbox).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use godwit_sdk::{Event, Notifier, config};

struct AuditLog;

const DEFAULT_FILE: &str = "/godwit-audit.jsonl";

/// The log file inside the granted directory; `..` anywhere is refused rather than
/// resolved, so the file can never be outside it, however the host mounts it.
fn log_path(setting: &str) -> Result<PathBuf, String> {
    let mut path = PathBuf::from("/");
    for component in Path::new(setting).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!(
                    "setting `file` = {setting:?} leaves the granted directory; audit-log writes only inside it"
                ));
            }
        }
    }
    if path == Path::new("/") {
        return Err(format!(
            "setting `file` = {setting:?} names the directory, not a file"
        ));
    }
    Ok(path)
}

impl Notifier for AuditLog {
    fn notify(event: Event, target: Option<String>) -> Result<(), String> {
        let setting = config::get_str("file").unwrap_or_else(|| DEFAULT_FILE.into());
        let path = log_path(&setting)?;
        let mut record = godwit_sdk::json::event(&event);
        if let Some(map) = record.as_object_mut() {
            map.insert("time".into(), godwit_sdk::time::now_rfc3339().into());
            if let Some(target) = target {
                map.insert("target".into(), target.into());
            }
        }
        let mut line = record.to_string();
        line.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                format!(
                    "cannot open {}: {e} (is a `dir` granted to this plugin?)",
                    path.display()
                )
            })?;
        // One write per event, so concurrent runs interleave whole lines.
        file.write_all(line.as_bytes())
            .map_err(|e| format!("cannot append to {}: {e}", path.display()))
    }
}

godwit_sdk::export_notifier!(AuditLog);

#[cfg(test)]
mod tests {
    use super::log_path;

    #[test]
    fn file_stays_inside_the_granted_directory() {
        assert_eq!(
            log_path("audit.jsonl").unwrap().to_str(),
            Some("/audit.jsonl")
        );
        assert_eq!(
            log_path("/logs/a.jsonl").unwrap().to_str(),
            Some("/logs/a.jsonl")
        );
        let err = log_path("../x").unwrap_err();
        assert!(err.contains("leaves the granted directory"), "{err}");
        assert!(log_path("/logs/../../etc/passwd").is_err());
        assert!(log_path("/").is_err());
    }
}
