//! The targets file of `--targets`: one database per line, `[NAME] URL` or
//! `[NAME] env(VARIABLE)`, each resolved to the project's settings pointed at it. Every
//! problem of every line is found before any database is touched.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError, FileConfig, Overrides};

/// One database of the fleet.
#[derive(Debug)]
pub struct FleetTarget {
    /// The name the file gives it, else its variable's name or its URL (password hidden).
    pub name: String,
    /// Its line in the targets file.
    pub line: usize,
    /// The variable of an `env(NAME)` line.
    pub variable: Option<String>,
    /// The project's settings, pointed at this database.
    pub config: Config,
}

/// The targets of a targets file, in its order.
#[derive(Debug)]
pub struct Fleet {
    pub file: PathBuf,
    pub targets: Vec<FleetTarget>,
}

/// What is wrong with a targets file. Every problem of every line is reported at once,
/// before any database is touched.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error("cannot read the targets file {}: {source}\n  give --targets a file listing one database URL or env(NAME) per line (see docs/fleet.md)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the targets file {} lists no targets: write one database URL or env(NAME) per line, e.g.\n  tenant_1 postgres://app@db1:5432/app\n  tenant_2 env(TENANT_2_URL)", path.display())]
    Empty { path: PathBuf },
    #[error("{}", lines_message(path, problems))]
    Lines {
        path: PathBuf,
        problems: Vec<LineProblem>,
    },
    /// godwit.toml or the project's `.env` cannot be used (it becomes
    /// [`crate::error::Error::Config`], as it would without `--targets`).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A line of a targets file that cannot be used.
#[derive(Debug)]
pub struct LineProblem {
    pub line: usize,
    pub problem: Problem,
}

#[derive(Debug)]
pub enum Problem {
    /// `env(NAME)` names a variable that is set neither in the environment nor in `.env`.
    Unset {
        variable: String,
    },
    /// The URL (or the variable's value) is not one godwit can use.
    BadTarget {
        message: String,
    },
    /// A name with characters other than letters, digits, `_`, `-`, `.` and `:`.
    BadName {
        name: String,
    },
    /// More than `NAME TARGET` on the line.
    TooManyFields {
        fields: usize,
    },
    DuplicateName {
        name: String,
        first: usize,
    },
    /// The same database (and schema) as an earlier line: two deploys of it would race.
    DuplicateTarget {
        first: usize,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unset { variable } => write!(
                f,
                "env({variable}) is not set in the environment or in the project's .env; set {variable} to the database's URL, or remove the line"
            ),
            Problem::BadTarget { message } => f.write_str(message),
            Problem::BadName { name } => write!(
                f,
                "`{name}` cannot be a target's name: use letters, digits, `_`, `-`, `.` and `:` (a line is `[NAME] URL` or `[NAME] env(VARIABLE)`)"
            ),
            Problem::TooManyFields { fields } => write!(
                f,
                "{fields} fields where a line has one or two, `[NAME] URL` or `[NAME] env(VARIABLE)`; percent-encode spaces in a URL as %20, and start a comment with `#`"
            ),
            Problem::DuplicateName { name, first } => write!(
                f,
                "the name `{name}` is already taken by line {first}; give each target its own name"
            ),
            Problem::DuplicateTarget { first } => write!(
                f,
                "the same database as line {first}; list each database (and schema) once"
            ),
        }
    }
}

fn lines_message(path: &Path, problems: &[LineProblem]) -> String {
    let mut out = format!(
        "the targets file {} has {} problem{}; nothing was done on any database:",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!("\n  {}:{}: {}", path.display(), p.line, p.problem));
    }
    out
}

impl Fleet {
    /// Reads the targets file (`file` relative to the project directory, like every path
    /// godwit is given) and resolves every target, `env(NAME)` from the environment or
    /// the project's `.env`. A relative SQLite path is relative to the targets file.
    pub fn read(dir: &Path, file: &Path, overrides: &Overrides) -> Result<Fleet, TargetsError> {
        let project_dir = config::project_dir(dir)?;
        let settings = FileConfig::read(&project_dir)?;
        let path = project_dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|source| TargetsError::Read {
            path: path.clone(),
            source,
        })?;
        let lookup = config::env_lookup(&project_dir)?;
        let base = path.parent().unwrap_or(&project_dir).to_path_buf();
        let mut targets = Vec::new();
        let mut problems = Vec::new();
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let mut problem = |problem| problems.push(LineProblem { line, problem });
            let fields: Vec<&str> = strip_comment(raw).split_whitespace().collect();
            let (name, entry) = match fields[..] {
                [] => continue,
                [entry] => (None, entry),
                [name, entry] => (Some(name), entry),
                _ => {
                    problem(Problem::TooManyFields {
                        fields: fields.len(),
                    });
                    continue;
                }
            };
            if let Some(name) = name
                && !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
            {
                problem(Problem::BadName { name: name.into() });
                continue;
            }
            let variable = entry
                .strip_prefix("env(")
                .and_then(|v| v.strip_suffix(')'))
                .map(|v| v.trim().trim_matches('"'));
            let (url, origin) = match variable {
                Some(variable) => match lookup(variable) {
                    Some(url) => (url, format!("env({variable})")),
                    None => {
                        problem(Problem::Unset {
                            variable: variable.into(),
                        });
                        continue;
                    }
                },
                None => (entry.to_string(), "the target".to_string()),
            };
            let target = match config::parse_target(&url, &origin, &base) {
                Ok(target) => target,
                Err(e) => {
                    problem(Problem::BadTarget {
                        message: config::redact(&e.to_string()),
                    });
                    continue;
                }
            };
            let name = match (name, variable) {
                (Some(name), _) => name.to_string(),
                (None, Some(variable)) => variable.to_string(),
                (None, None) => target.display.clone(),
            };
            if let Some(&(_, first)) = seen.iter().find(|(n, _)| *n == name) {
                problem(Problem::DuplicateName { name, first });
                continue;
            }
            let key = (target.url.clone(), target.schema.clone());
            if let Some(first) = targets
                .iter()
                .find(|t: &&FleetTarget| {
                    (t.config.target.url.clone(), t.config.target.schema.clone()) == key
                })
                .map(|t| t.line)
            {
                problem(Problem::DuplicateTarget { first });
                continue;
            }
            seen.push((name.clone(), line));
            match Config::for_target(project_dir.clone(), settings.clone(), overrides, target) {
                Ok(config) => targets.push(FleetTarget {
                    name,
                    line,
                    variable: variable.map(str::to_string),
                    config,
                }),
                Err(e) => problem(Problem::BadTarget {
                    message: e.to_string(),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(TargetsError::Lines { path, problems });
        }
        if targets.is_empty() {
            return Err(TargetsError::Empty { path });
        }
        Ok(Fleet {
            file: path,
            targets,
        })
    }
}

/// A `#` at the start of a line or after a space begins a comment; inside a URL (a
/// fragment) it does not.
fn strip_comment(line: &str) -> &str {
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_whitespace() {
            return &line[..i];
        }
        previous = c;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_starts_at_a_hash_after_a_space_not_inside_a_url() {
        assert_eq!(strip_comment("# all of it"), "");
        assert_eq!(
            strip_comment("a sqlite://x.db  # note"),
            "a sqlite://x.db  "
        );
        assert_eq!(
            strip_comment("postgres://u:p#w@h/db"),
            "postgres://u:p#w@h/db"
        );
    }

    #[test]
    fn bad_lines_are_all_reported_with_their_numbers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t.txt"),
            "ok sqlite://a.db\n\n# comment\nok sqlite://b.db\nx y z\n",
        )
        .unwrap();
        let err = Fleet::read(dir.path(), Path::new("t.txt"), &Overrides::default()).unwrap_err();
        let TargetsError::Lines { problems, .. } = err else {
            panic!("{err:?}");
        };
        assert!(matches!(
            problems[..],
            [
                LineProblem {
                    line: 4,
                    problem: Problem::DuplicateName { first: 1, .. }
                },
                LineProblem {
                    line: 5,
                    problem: Problem::TooManyFields { fields: 3 }
                }
            ]
        ));
    }
}
