//! `godwit lint`: static safety checks of migration files, with no database.

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;

use super::Cli;
use crate::config::{self, FileConfig};
use crate::error::{Error, exit};
use crate::findings_report::{self, Format, Summary};
use crate::source;
use crate::validate::Validators;
use crate::{Dialect, lint as checks};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Migration directories or migrations folders, relative to the project directory
    /// (default: the project's migrations directory).
    paths: Vec<PathBuf>,
    /// Output format (default human, or json with --json).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The SQL dialect to check for (default: the configured database URL's, else the
    /// database deploy would use: the embedded SQLite file in development, PostgreSQL
    /// otherwise).
    #[arg(long, value_enum)]
    dialect: Option<DialectArg>,
}

/// `--dialect` values, with the URL schemes people already know as aliases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectArg {
    #[value(alias = "postgresql", alias = "pg")]
    Postgres,
    #[value(alias = "mariadb")]
    Mysql,
    #[value(alias = "sqlite3")]
    Sqlite,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Dialect {
        match d {
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Mysql => Dialect::MySql,
            DialectArg::Sqlite => Dialect::Sqlite,
        }
    }
}

/// Reads godwit.toml and the files, never the database URL's target, so it runs in CI
/// jobs that have no database and no DATABASE_URL. Validator plugins declared in
/// godwit.toml check each file too; their findings join the built-in ones.
/// The folder `path` is in (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The migrations of `path`'s folder, read in that folder's layout, that `keep` picks.
fn of_its_folder(
    path: &Path,
    layout: &source::LayoutSpec,
    dialect: Dialect,
    keep: impl Fn(&source::Migration) -> bool,
) -> Result<Vec<source::Migration>, Error> {
    Ok(source::read(folder(path), layout, dialect)?
        .into_iter()
        .filter(|m| keep(m))
        .collect())
}

/// Why a path given to `lint` is not there, and what to pass instead: paths are read
/// relative to the project directory (`-C`), as git reads them, so a path typed
/// relative to the shell's directory misses when `-C` names another one.
fn missing_path(project: &Path, given: &Path, resolved: &Path) -> String {
    let mut message = format!("{} does not exist", resolved.display());
    if project != Path::new(".") && !given.is_absolute() && given.exists() {
        message.push_str(&format!(
            ": lint reads its paths relative to the project directory {} (-C), and {} is a \
             path from the current directory",
            project.display(),
            given.display()
        ));
        match given.strip_prefix(project) {
            Ok(inside) if !inside.as_os_str().is_empty() => {
                message.push_str(&format!("; pass `{}` instead", inside.display()))
            }
            _ => message
                .push_str("; pass it relative to the project directory, or as an absolute path"),
        }
    } else {
        message.push_str(
            "; pass a migrations folder, a migration's folder or its file, relative to the \
             project directory",
        );
        if project != Path::new(".") {
            message.push_str(&format!(" ({})", project.display()));
        }
    }
    message
}

pub(super) async fn run(cli: &Cli, args: &Args) -> Result<u8, Error> {
    let file = FileConfig::read(&cli.dir)?;
    let (dialect, origin) = match args.dialect {
        Some(d) => (Dialect::from(d), "--dialect".to_string()),
        None => config::configured_dialect(&cli.dir, &file, cli.database_url.as_deref())
            .map(|(d, origin)| (d, format!("from {origin}")))
            .or_else(|| {
                // The folder may say which database it was written for.
                source::declared_dialect(&file.migrations_dir(&cli.dir))
                    .map(|(d, said)| (d, format!("as the folder declares: {said}")))
            })
            .or_else(|| {
                // Or its SQL does, in words only one database takes.
                source::sniffed_dialect(&file.migrations_dir(&cli.dir))
                    .map(|(d, said)| (d, format!("{said}; pass --dialect to choose")))
            })
            .unwrap_or_else(|| {
                // With no URL anywhere, deploy uses the embedded SQLite file, except
                // outside development, where it refuses: then PostgreSQL is the guess.
                if file.environment.as_deref().is_none_or(|e| e == "development") {
                    (Dialect::Sqlite, "the embedded SQLite default, as deploy would use; pass --dialect to choose".to_string())
                } else {
                    (Dialect::Postgres, "no database URL configured; pass --dialect to choose".to_string())
                }
            }),
    };
    let format = args.format.unwrap_or(if cli.json {
        Format::Json
    } else {
        Format::Human
    });
    // Paths print as given (relative stays relative), which is what CI annotations need.
    let in_project = |p: &Path| {
        if cli.dir == Path::new(".") || p.is_absolute() {
            p.to_path_buf()
        } else {
            cli.dir.join(p)
        }
    };
    let dirs: Vec<PathBuf> = if args.paths.is_empty() {
        // Found the way every other command finds it (godwit.toml, else another tool's
        // folder), shown relative when the project is the current directory.
        let dir = file.migrations_dir(&cli.dir);
        vec![dir.strip_prefix(".").map(Path::to_path_buf).unwrap_or(dir)]
    } else {
        let dirs: Vec<PathBuf> = args.paths.iter().map(|p| in_project(p)).collect();
        for (given, dir) in args.paths.iter().zip(&dirs) {
            if !dir.exists() {
                return Err(Error::Config(missing_path(&cli.dir, given, dir)));
            }
        }
        dirs
    };
    let mut migrations = Vec::new();
    for dir in &dirs {
        // A migration's own file (Drizzle, Flyway, golang-migrate keep one file each):
        // read its folder in whatever layout it has, keep the migration that file is.
        if dir.is_file() {
            let found = of_its_folder(dir, &file.layout(), dialect, |m| {
                m.up.path == *dir || m.down.as_ref().is_some_and(|d| d.path == *dir)
            })?;
            if found.is_empty() {
                return Err(Error::Config(format!(
                    "{} is not a migration of {}: pass a migrations folder, a migration's folder or its file",
                    dir.display(),
                    folder(dir).display()
                )));
            }
            migrations.extend(found);
            continue;
        }
        let single = ["up.sql", "migration.sql"]
            .iter()
            .any(|f| dir.join(f).is_file());
        match dir.parent() {
            // One migration: read its folder in whatever layout it has, keep that one.
            Some(_) if single => {
                let found = of_its_folder(dir, &file.layout(), dialect, |m| {
                    m.dir.file_name() == dir.file_name()
                })?;
                if found.is_empty() {
                    return Err(Error::Config(format!(
                        "{} is not a migration godwit can read",
                        dir.display()
                    )));
                }
                migrations.extend(found);
            }
            _ => migrations.extend(source::read(dir, &file.layout(), dialect)?),
        }
    }
    let mut findings = checks::lint_migrations(&migrations, dialect, &file.lint)?;
    if file.plugins.values().any(|p| p.enabled) {
        let config = crate::validate::files_only_config(&cli.dir, file.clone(), dialect)?;
        if let Some(validators) = Validators::from_config(&config, dialect)? {
            let all: Vec<&source::Migration> = migrations.iter().collect();
            let before = findings.len();
            for report in validators.check_migrations(&all).await {
                findings.extend(report.into_findings());
            }
            if findings.len() > before {
                // Each statement's findings together, whoever raised them.
                findings.sort_by(|a, b| {
                    (&a.location.file, a.location.line).cmp(&(&b.location.file, b.location.line))
                });
            }
        }
    }
    if format == Format::Human {
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        outln!(
            "Checked {} migration{} in {} as {dialect} ({origin}).\n",
            migrations.len(),
            if migrations.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    outln!("{}", findings_report::render(&findings, format));
    Ok(if Summary::of(&findings).errors > 0 {
        exit::BLOCKED
    } else {
        exit::OK
    })
}
