//! The declared schema: `schema =` in godwit.toml, the DDL of the schema a project wants.
//!
//! It is plain DDL for the project's dialect, read from a `.sql` file, from the `.sql`
//! files of a directory in name order, or from the standard output of a command (so ORM
//! users keep their own schema language: `npx drizzle-kit export`). It is built in an
//! empty shadow database statement by statement, split as godwit splits migrations, and
//! read back with [`godwit_db::Introspect::introspect`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::SchemaSource;
use godwit_core::Dialect;
use godwit_db::describe_db_error;
use godwit_db::{Session, SqlError};

/// Why the declared schema cannot be used; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DeclaredError {
    #[error(
        "godwit.toml declares no schema: add `schema = \"schema\"` (a file or directory of DDL) or \
         `schema = {{ command = \"…\" }}` (a command that prints DDL); `godwit pull --out schema` \
         writes one from a database"
    )]
    NotConfigured,

    #[error(
        "schema = {shown:?} in godwit.toml: {} does not exist\n  write it from a database with \
         `godwit pull --out DIR`, or fix the path (relative to the project directory)",
        path.display()
    )]
    Missing { path: PathBuf, shown: String },

    #[error("cannot read the declared schema {}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },

    #[error(
        "the declared schema directory {} holds no .sql file\n  put the schema's DDL in .sql files \
         there (they are read in name order), or run `godwit pull --out {}`",
        path.display(),
        path.display()
    )]
    NoFiles { path: PathBuf },

    #[error(
        "the schema command `{command}` could not be started: {message}\n  check that its program \
         is installed and on PATH, or fix `schema = {{ command = … }}` in godwit.toml"
    )]
    CommandNotStarted { command: String, message: String },

    #[error(
        "the schema command `{command}` failed ({status}){}\n  run it by hand in the project \
         directory to see why; its standard output must be the schema as DDL",
        if stderr.trim().is_empty() { String::new() } else { format!(":\n    {}", stderr.trim().replace('\n', "\n    ")) }
    )]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error(
        "the schema command `{command}` printed nothing\n  its standard output must be the schema \
         as DDL for the project's database"
    )]
    CommandEmpty { command: String },

    #[error("{origin}: {message}")]
    Split { origin: String, message: String },

    #[error("the declared schema could not be applied in one transaction: {message}")]
    Transaction { message: String },

    #[error(
        "{origin}, line {line}: the declared schema does not build in an empty database: \
         {message}\n  fix the statement; the declared schema must create every object it uses"
    )]
    Statement {
        origin: String,
        line: usize,
        message: String,
    },
}

/// One piece of the declared schema: a file, or a command's output.
#[derive(Clone, Debug)]
pub struct Part {
    /// The file's path, or `` `command` ``.
    pub origin: String,
    pub text: String,
}

/// Reads the declared schema: the file, the directory's `.sql` files in name order, or
/// what the command prints.
pub fn read(source: &SchemaSource, project_dir: &Path) -> Result<Vec<Part>, DeclaredError> {
    match source {
        SchemaSource::Path(shown) => read_path(&project_dir.join(shown), shown),
        SchemaSource::Command(command) => run(command, project_dir).map(|text| {
            vec![Part {
                origin: format!("`{command}`"),
                text,
            }]
        }),
    }
}

fn read_path(path: &Path, shown: &Path) -> Result<Vec<Part>, DeclaredError> {
    let unreadable = |path: &Path, e: std::io::Error| DeclaredError::Unreadable {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = |path: &Path| -> Result<Part, DeclaredError> {
        let bytes = std::fs::read(path).map_err(|e| unreadable(path, e))?;
        let text = godwit_core::source::normalize(&bytes).map_err(|message| {
            DeclaredError::Unreadable {
                path: path.to_path_buf(),
                message,
            }
        })?;
        Ok(Part {
            origin: path.display().to_string(),
            text,
        })
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DeclaredError::Missing {
            path: path.to_path_buf(),
            shown: shown.display().to_string(),
        }),
        Err(e) => Err(unreadable(path, e)),
        Ok(meta) if meta.is_dir() => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| unreadable(path, e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
                .collect();
            if files.is_empty() {
                return Err(DeclaredError::NoFiles {
                    path: path.to_path_buf(),
                });
            }
            files.sort();
            files.iter().map(|f| file(f)).collect()
        }
        Ok(_) => Ok(vec![file(path)?]),
    }
}

/// Runs `command` with the shell in `dir`; its standard output, or why there is none.
fn run(command: &str, dir: &Path) -> Result<String, DeclaredError> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DeclaredError::CommandNotStarted {
            command: command.to_string(),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(DeclaredError::CommandFailed {
            command: command.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let text = godwit_core::source::normalize(&output.stdout).map_err(|message| {
        DeclaredError::CommandFailed {
            command: command.to_string(),
            status: format!("its output is not text: {message}"),
            stderr: String::new(),
        }
    })?;
    if text.trim().is_empty() {
        return Err(DeclaredError::CommandEmpty {
            command: command.to_string(),
        });
    }
    Ok(text)
}

/// Runs every statement of the declared schema on `driver` (an empty shadow), in order;
/// in one transaction where the database allows it (not MySQL, whose DDL commits, nor a
/// schema with `CREATE INDEX CONCURRENTLY` and the like), which on SQLite is the
/// difference between one write to disk and one per statement.
pub async fn apply(
    parts: &[Part],
    driver: &mut dyn Session,
    dialect: Dialect,
) -> Result<(), DeclaredError> {
    let mut split = Vec::new();
    for part in parts {
        let statements =
            godwit_core::split::split(&part.text, dialect).map_err(|e| DeclaredError::Split {
                origin: part.origin.clone(),
                message: e.to_string(),
            })?;
        split.push((part, statements));
    }
    let transaction = dialect != Dialect::MySql
        && split
            .iter()
            .flat_map(|(_, statements)| statements)
            .all(|s| !godwit_core::source::needs_no_transaction(&s.sql));
    let failed = |origin: &str, line: usize, e: &SqlError| DeclaredError::Statement {
        origin: origin.to_string(),
        line,
        message: describe_db_error(e),
    };
    let whole = |e: SqlError| DeclaredError::Transaction {
        message: describe_db_error(&e),
    };
    if transaction {
        driver.begin().await.map_err(whole)?;
    }
    for (part, statements) in &split {
        for statement in statements {
            driver
                .execute(&statement.sql)
                .await
                .map_err(|e| failed(&part.origin, statement.line, &e))?;
        }
    }
    if transaction {
        driver.commit().await.map_err(whole)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_read_in_name_order_and_only_its_sql_files() {
        let dir = tempfile::tempdir().unwrap();
        let schema = dir.path().join("schema");
        std::fs::create_dir(&schema).unwrap();
        std::fs::write(schema.join("2_tables.sql"), "CREATE TABLE t (a int);").unwrap();
        std::fs::write(schema.join("1_types.sql"), "CREATE TYPE x AS ENUM ('a');").unwrap();
        std::fs::write(schema.join("notes.md"), "not DDL").unwrap();
        let parts = read(&SchemaSource::Path("schema".into()), dir.path()).unwrap();
        let names: Vec<&str> = parts
            .iter()
            .map(|p| p.origin.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["1_types.sql", "2_tables.sql"]);

        std::fs::remove_file(schema.join("1_types.sql")).unwrap();
        std::fs::remove_file(schema.join("2_tables.sql")).unwrap();
        assert!(matches!(
            read(&SchemaSource::Path("schema".into()), dir.path()),
            Err(DeclaredError::NoFiles { .. })
        ));
        assert!(matches!(
            read(&SchemaSource::Path("nowhere.sql".into()), dir.path()),
            Err(DeclaredError::Missing { .. })
        ));
    }

    #[test]
    fn a_command_gives_its_output_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let parts = read(
            &SchemaSource::Command("echo 'CREATE TABLE t (a int);'; echo noise >&2".into()),
            dir.path(),
        )
        .unwrap();
        assert_eq!(parts[0].text.trim(), "CREATE TABLE t (a int);");
        match read(
            &SchemaSource::Command("echo broken >&2; exit 3".into()),
            dir.path(),
        ) {
            Err(DeclaredError::CommandFailed { stderr, .. }) => assert_eq!(stderr.trim(), "broken"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read(&SchemaSource::Command("true".into()), dir.path()),
            Err(DeclaredError::CommandEmpty { .. })
        ));
    }
}
