//! Migration folders as other tools lay them out, read in place: switching to godwit
//! must not mean renaming a single file. Each tool's markers keep the meaning they had
//! there (goose's `StatementBegin`, dbmate's `transaction:false`, sqlx's
//! `-- no-transaction`, Drizzle's breakpoints, Flyway's undo and repeatable scripts,
//! diesel's `metadata.toml`, popx's per-database files and `.autocommit`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DownPlace, Migration, NoTransaction, Script, Splitting, Version, checksum, read_text};
use crate::{Dialect, Error};

/// The tool a migrations folder was written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `<version>_<name>/up.sql` and `down.sql`.
    Godwit,
    /// `<timestamp>_<name>/migration.sql`, no down scripts.
    Prisma,
    /// `NNNN_<tag>.sql` listed in `meta/_journal.json`, `--> statement-breakpoint`.
    Drizzle,
    /// `<version>_<name>.sql`, or `.up.sql` / `.down.sql`; `-- no-transaction`.
    Sqlx,
    /// `V<version>__<name>.sql`, `U…` undo, `R__…` repeatable.
    Flyway,
    /// `<version>_<name>.sql` with `-- +goose Up` / `Down` sections.
    Goose,
    /// `<version>_<name>.sql` with `-- migrate:up` / `down` sections.
    Dbmate,
    /// `<version>_<name>.up.sql` / `.down.sql`.
    GolangMigrate,
    /// diesel: `YYYY-MM-DD-HHMMSS_<name>/up.sql` and `down.sql`, `metadata.toml`.
    Diesel,
    /// ory/popx (Kratos, Hydra, Keto):
    /// `<version>_<name>[.<database>][.autocommit].{up,down}.sql`.
    Popx,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Godwit => "godwit",
            Layout::Prisma => "prisma",
            Layout::Drizzle => "drizzle",
            Layout::Sqlx => "sqlx",
            Layout::Flyway => "flyway",
            Layout::Goose => "goose",
            Layout::Dbmate => "dbmate",
            Layout::GolangMigrate => "golang-migrate",
            Layout::Diesel => "diesel",
            Layout::Popx => "popx",
        }
    }

    /// Tools that ran a file that needs it without a transaction of their own around
    /// it: a file with its own `BEGIN`/`COMMIT`, or a lone `CREATE INDEX CONCURRENTLY`,
    /// worked there. (Prisma and golang-migrate send the whole file in one call; Flyway
    /// runs a migration with such a statement outside its transaction.) The others wrap
    /// every file unless a marker says not to; drizzle-orm's migrator runs every pending
    /// migration inside one transaction, where such a statement fails (Dokploy trial).
    fn ran_files_as_is(self) -> bool {
        matches!(
            self,
            Layout::Prisma | Layout::GolangMigrate | Layout::Flyway
        )
    }

    /// Tools that sent each file whole, in one call, with no transaction around it: a file
    /// that is a lone `CALL` of a procedure that commits worked there (PostgreSQL allows
    /// a procedure's `COMMIT` only outside a transaction block). Flyway and Drizzle run
    /// files in transactions of their own.
    pub(crate) fn sent_files_whole(self) -> bool {
        matches!(self, Layout::Prisma | Layout::GolangMigrate)
    }

    /// Whether the tool ran SQLite migrations with foreign keys off, SQLite's own default:
    /// goose, golang-migrate and dbmate (through mattn/go-sqlite3 or modernc, which leave
    /// them off unless the DSN asks), diesel (whose connection does not turn them on),
    /// Flyway (sqlite-jdbc) and popx. A table rebuild written for them (`DROP TABLE`,
    /// then `RENAME`) would, with foreign keys on, cascade into every row that references
    /// the table. sqlx turns them on, Prisma's engine and Drizzle's drivers too (their
    /// rebuilds say `PRAGMA foreign_keys=OFF` themselves), and so does godwit for its own
    /// layout unless a file says `-- godwit:foreign-keys-off`.
    pub fn ran_sqlite_with_foreign_keys_off(self) -> bool {
        matches!(
            self,
            Layout::Goose
                | Layout::GolangMigrate
                | Layout::Dbmate
                | Layout::Diesel
                | Layout::Flyway
                | Layout::Popx
        )
    }
}

/// What godwit.toml says about the folder; everything unset is detected.
#[derive(Clone, Debug, Default)]
pub struct LayoutSpec {
    pub layout: Option<Layout>,
    pub pattern: Option<String>,
}

/// Folders under `root` (a few levels down, build output and dependencies left out)
/// named like a migrations folder (`migrations`, `migration`, or such a name with a
/// prefix such as `db_migrations`) that hold `.sql` files, directly or one folder
/// down; relative to `root`, at most eight.
fn migration_folders(root: &Path) -> Vec<String> {
    const SKIP: &[&str] = &["node_modules", "target", "vendor", "dist", "build", "out"];
    let holds_sql = |d: &Path| {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("sql"))
            })
    };
    let subfolders = |d: &Path| -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    };
    let mut found = Vec::new();
    let mut queue = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = queue.pop() {
        for child in subfolders(&dir).into_iter().rev() {
            let name = child
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if name.starts_with('.') || SKIP.contains(&name.as_str()) {
                continue;
            }
            let named =
                name.ends_with("migrations") || name.ends_with("migration") || name == "sql";
            // The folder that holds the files, or the ones one level down that do
            // (popx keeps them in `migrations/sql`): the one `migrations` must name.
            let holding: Vec<PathBuf> = if !named {
                Vec::new()
            } else if holds_sql(&child) {
                vec![child.clone()]
            } else {
                let inner: Vec<PathBuf> = subfolders(&child)
                    .into_iter()
                    .filter(|d| holds_sql(d))
                    .collect();
                // A folder of migration directories (Prisma's `<timestamp>_<name>/`,
                // diesel's, godwit's) is itself the one to name, not each directory in it
                // (formbricks keeps Prisma's in `packages/database/migration`).
                let versioned = |d: &PathBuf| {
                    d.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
                };
                if !inner.is_empty() && inner.iter().all(versioned) {
                    vec![child.clone()]
                } else {
                    inner
                }
            };
            if holding.is_empty() {
                if depth < 5 {
                    queue.push((child, depth + 1));
                }
                continue;
            }
            for dir in holding {
                if let Ok(rel) = dir.strip_prefix(root) {
                    found.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
    }
    found.sort();
    found.truncate(8);
    found
}

/// Reads every migration under `dir`, sorted by version. `dialect` picks the files of
/// layouts that keep one per database (popx).
pub fn read(dir: &Path, spec: &LayoutSpec, dialect: Dialect) -> Result<Vec<Migration>, Error> {
    if !dir.is_dir() {
        let found = dir.parent().map(migration_folders).unwrap_or_default();
        let advice = match found.first() {
            Some(first) => format!(
                "; folders below it that hold migrations: {}. Set `migrations = \"{first}\"` (or another of them) in godwit.toml",
                found.join(", ")
            ),
            None => "; set `migrations` in godwit.toml to where they are, or run `godwit init` to start a new project".into(),
        };
        return Err(Error::Config(format!(
            "the migrations directory {} does not exist{advice}",
            dir.display()
        )));
    }
    let mut migrations = match (&spec.pattern, spec.layout) {
        (Some(pattern), _) => read_pattern(dir, pattern)?,
        (None, layout) => match layout.map(Ok).unwrap_or_else(|| detect(dir))? {
            Layout::Godwit => read_godwit(dir, dialect)?,
            Layout::Prisma => read_prisma(dir)?,
            Layout::Drizzle => read_drizzle(dir)?,
            Layout::Sqlx => read_up_down_files(dir, Layout::Sqlx)?,
            Layout::GolangMigrate => read_up_down_files(dir, Layout::GolangMigrate)?,
            Layout::Diesel => read_diesel(dir)?,
            Layout::Popx => read_popx(dir, dialect)?,
            Layout::Flyway => read_flyway(dir)?,
            Layout::Goose => read_sections(dir, Sections::Goose)?,
            Layout::Dbmate => read_sections(dir, Sections::Dbmate)?,
        },
    };
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in migrations.windows(2) {
        if pair[0].version.value_cmp(&pair[1].version) == std::cmp::Ordering::Equal {
            return Err(Error::source(
                dir.join(&pair[1].origin),
                format!(
                    "version {} is also used by {}; give each migration its own version",
                    pair[1].version, pair[0].origin
                ),
            ));
        }
    }
    Ok(migrations)
}

/// The database a migrations folder says it was written for, and where it says so:
/// Prisma's `migration_lock.toml` (`provider = "postgresql"`) or Drizzle Kit's
/// `meta/_journal.json` (`"dialect": "postgresql"`). `None` when the folder does not say
/// (most tools' folders) or names a database godwit does not drive.
pub fn declared_dialect(dir: &Path) -> Option<(Dialect, String)> {
    let lock = dir.join("migration_lock.toml");
    if let Ok(text) = std::fs::read_to_string(&lock) {
        let provider = text
            .parse::<toml::Table>()
            .ok()?
            .get("provider")?
            .as_str()?
            .to_owned();
        let dialect = match provider.as_str() {
            "postgresql" | "postgres" | "cockroachdb" => Dialect::Postgres,
            "mysql" => Dialect::MySql,
            "sqlite" => Dialect::Sqlite,
            _ => return None,
        };
        return Some((
            dialect,
            format!("{} says provider = \"{provider}\"", lock.display()),
        ));
    }
    let journal = dir.join("meta/_journal.json");
    let text = std::fs::read_to_string(&journal).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let named = value.get("dialect")?.as_str()?.to_owned();
    let dialect = match named.as_str() {
        "postgresql" | "pg" => Dialect::Postgres,
        "mysql" | "singlestore" => Dialect::MySql,
        "sqlite" | "turso" => Dialect::Sqlite,
        _ => return None,
    };
    Some((
        dialect,
        format!("{} says \"dialect\": \"{named}\"", journal.display()),
    ))
}

/// The database the SQL files under `dir` are written for, when their words say so: markers of one database only (see
/// [`crate::analyze::dialect_markers`]), or SQLite's with MySQL's (SQLite takes MySQL's
/// types and backquotes). `None` when nothing marks them or PostgreSQL's and MySQL's
/// markers are both there. The sentence says which word in which file decided.
pub fn sniffed_dialect(dir: &Path) -> Option<(Dialect, String)> {
    let mut files = Vec::new();
    collect_sql(dir, dir, &mut files).ok()?;
    let mut first: Vec<(Dialect, String, String)> = Vec::new();
    for (name, path) in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (dialect, marker) in crate::analyze::dialect_markers(&text) {
            if !first.iter().any(|(d, _, _)| *d == dialect) {
                first.push((dialect, marker, name.clone()));
            }
        }
    }
    let has = |d: Dialect| first.iter().find(|(x, _, _)| *x == d);
    let (dialect, marker, file) = match (
        has(Dialect::Postgres),
        has(Dialect::MySql),
        has(Dialect::Sqlite),
    ) {
        (Some(pg), None, None) => pg,
        (None, Some(my), None) => my,
        (None, _, Some(lite)) => lite,
        _ => return None,
    };
    let marker = if marker == "`" {
        "a backquoted name".to_string()
    } else {
        format!("`{marker}`")
    };
    Some((*dialect, format!("{marker} in {file} is {dialect}'s")))
}

/// Works out which tool wrote `dir` from what is in it.
pub fn detect(dir: &Path) -> Result<Layout, Error> {
    let entries = entries(dir)?;
    if dir.join("meta/_journal.json").is_file() {
        return Ok(Layout::Drizzle);
    }
    if dir.join("migration_lock.toml").is_file()
        || entries
            .iter()
            .any(|(_, p)| p.join("migration.sql").is_file())
    {
        return Ok(Layout::Prisma);
    }
    let migration_dirs: Vec<&String> = entries
        .iter()
        .filter(|(_, p)| p.join("up.sql").is_file())
        .map(|(n, _)| n)
        .collect();
    if migration_dirs.iter().any(|n| diesel_version(n).is_some()) {
        return Ok(Layout::Diesel);
    }
    if !migration_dirs.is_empty() {
        return Ok(Layout::Godwit);
    }
    let sql: Vec<&(String, PathBuf)> = entries
        .iter()
        .filter(|(n, p)| n.ends_with(".sql") && p.is_file())
        .collect();
    if sql.is_empty() {
        return Ok(Layout::Godwit);
    }
    if sql.iter().any(|(n, _)| flyway_name(n).is_some()) {
        return Ok(Layout::Flyway);
    }
    let head = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    // One read of each file for both markers; goose's wins wherever it appears.
    let mut dbmate = false;
    for (_, path) in &sql {
        for line in head(path).lines() {
            if crate::source::goose_annotation(line).as_deref() == Some("up") {
                return Ok(Layout::Goose);
            }
            dbmate |= crate::source::dbmate_marker(line).is_some_and(|(up, _)| up);
        }
    }
    if dbmate {
        return Ok(Layout::Dbmate);
    }
    // A database popx knows, or `.autocommit`: sqlx allows dots in a description too
    // (docs.rs: `…_release_status_view.sql.up.sql`), and those are not database names.
    if sql.iter().any(|(n, _)| {
        popx_name(n).is_some_and(|f| {
            f.autocommit
                || matches!(
                    f.database.as_deref(),
                    Some("postgres" | "mysql" | "sqlite3" | "cockroach")
                )
        })
    }) {
        return Ok(Layout::Popx);
    }
    if sql.iter().any(|(n, _)| n.ends_with(".up.sql")) {
        let sqlx_directive = sql
            .iter()
            .any(|(_, p)| head(p).starts_with("-- no-transaction"));
        return Ok(if sqlx_directive || project_uses_sqlx(dir) {
            Layout::Sqlx
        } else {
            Layout::GolangMigrate
        });
    }
    if sql
        .iter()
        .any(|(n, _)| version_and_name(n.trim_end_matches(".sql")).is_some())
    {
        return Ok(Layout::Sqlx);
    }
    Err(Error::source(
        dir,
        "cannot tell which tool wrote this folder; set `layout` (godwit, prisma, drizzle, sqlx, flyway, goose, dbmate, golang-migrate, diesel, popx) \
         or `pattern` (e.g. \"V{version}.{name}.{direction}.sql\") in godwit.toml",
    ))
}

/// Whether the project around `dir` is a Rust crate that depends on sqlx: the one sign
/// that tells sqlx's `.up.sql`/`.down.sql` files from golang-migrate's, which are named
/// alike, when no file carries sqlx's `-- no-transaction`. Looks in each folder from
/// `dir` up to the repository's root (a `.git` entry); a `go.mod` on the way means a Go
/// project, so golang-migrate's.
fn project_uses_sqlx(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    for folder in dir.ancestors().take(8) {
        if folder.join("go.mod").is_file() {
            return false;
        }
        if folder.join(".sqlx").is_dir() {
            return true;
        }
        if let Ok(manifest) = std::fs::read_to_string(folder.join("Cargo.toml"))
            && manifest.lines().any(names_sqlx)
        {
            return true;
        }
        if folder.join(".git").exists() {
            break;
        }
    }
    false
}

/// A Cargo.toml line that declares sqlx: `sqlx = …`, `sqlx.workspace = true`,
/// `[dependencies.sqlx]`, and the same under any dependency table.
fn names_sqlx(line: &str) -> bool {
    let line = line.trim_start();
    let rest = if let Some(table) = line.strip_prefix('[') {
        match table.trim_end().strip_suffix(']') {
            Some(name) => return name.trim().rsplit('.').next() == Some("sqlx"),
            None => return false,
        }
    } else {
        line
    };
    let named = rest
        .strip_prefix("\"sqlx\"")
        .or_else(|| rest.strip_prefix("sqlx"))
        .is_some_and(|r| {
            let r = r.trim_start();
            r.starts_with('=') || r.starts_with('.')
        });
    // A renamed dependency: `db = { package = "sqlx", … }`.
    let renamed = rest.split([',', '{', '}']).any(|part| {
        part.trim()
            .strip_prefix("package")
            .and_then(|p| p.trim_start().strip_prefix('='))
            .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == "sqlx")
    });
    named || renamed
}

/// Every version the folder uses, whichever database its files are for: what `godwit
/// new` must not reuse.
pub(super) fn existing_versions(dir: &Path, spec: &LayoutSpec) -> Result<Vec<Version>, Error> {
    if let Some(pattern) = &spec.pattern {
        return Ok(read_pattern(dir, pattern)?
            .into_iter()
            .map(|m| m.version)
            .collect());
    }
    let mut names: Vec<String> = entries(dir)?.into_iter().map(|(n, _)| n).collect();
    let mut nested = Vec::new();
    collect_sql(dir, dir, &mut nested)?;
    names.extend(
        nested
            .iter()
            .filter_map(|(_, p)| Some(p.file_name()?.to_string_lossy().into_owned())),
    );
    Ok(names
        .iter()
        .filter_map(|n| {
            if let Some((kind, v, _)) = flyway_name(n)
                && kind != 'R'
            {
                return Version::parse(&v);
            }
            if let Some((v, _)) = diesel_version(n) {
                return Some(v);
            }
            let stem = n.split('.').next().unwrap_or_default();
            version_and_name(stem).map(|(v, _)| v)
        })
        .collect())
}

/// Visible entries, sorted by name.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let listing =
        std::fs::read_dir(dir).map_err(|e| Error::source(dir, format!("cannot list: {e}")))?;
    let mut out = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Error::source(dir, format!("cannot list: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// `20231010120000_add_users` → (version, name); the name may be empty for tools that allow it.
fn version_and_name(stem: &str) -> Option<(Version, String)> {
    let (version, name) = stem.split_once('_').unwrap_or((stem, ""));
    Some((Version::parse(version)?, name.to_string()))
}

fn migration(
    version: Version,
    name: String,
    dir: &Path,
    origin: String,
    up: Script,
    down: Option<Script>,
    down_place: DownPlace,
) -> Migration {
    Migration {
        checksum: checksum(&up.text),
        version,
        name,
        dir: dir.to_path_buf(),
        origin,
        up,
        down,
        created_at: None,
        step: None,
        down_place,
    }
}

/// A script as `tool` wrote it: with the tool's way of running files.
fn written_for(mut script: Script, tool: Layout) -> Script {
    if tool.ran_files_as_is() {
        script.ran_as_is = Some(tool);
    }
    script.sqlite_foreign_keys_off |= tool.ran_sqlite_with_foreign_keys_off();
    script
}

/// A script whose tool marked it to run outside a transaction. godwit's own directive,
/// if the file has one too, says the same.
fn marked(mut script: Script, marker: Option<NoTransaction>) -> Script {
    if marker.is_some() {
        script.no_transaction = marker;
    }
    script
}

fn read_godwit(dir: &Path, dialect: Dialect) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
    let all = entries(dir)?;
    for (name, path) in all.iter().cloned() {
        if !path.is_dir() {
            if name.ends_with(".sql") {
                return Err(Error::source(
                    &path,
                    "godwit expects one directory per migration: move this file to <version>_<name>/up.sql \
                     (or set `layout` in godwit.toml if another tool wrote this folder)",
                ));
            }
            continue;
        }
        // vaultwarden keeps diesel folders per database: migrations/{mysql,postgresql,sqlite}.
        const DATABASES: [&str; 8] = [
            "mysql",
            "mariadb",
            "postgres",
            "postgresql",
            "pg",
            "sqlite",
            "sqlite3",
            "cockroach",
        ];
        if DATABASES.contains(&name.to_ascii_lowercase().as_str()) {
            // Suggest the folder for the database godwit is pointed at, if there is one.
            let ours: &[&str] = match dialect {
                Dialect::Postgres => &["postgres", "postgresql", "pg", "cockroach"],
                Dialect::MySql => &["mysql", "mariadb"],
                Dialect::Sqlite => &["sqlite", "sqlite3"],
            };
            let suggested = all
                .iter()
                .map(|(n, _)| n)
                .find(|n| ours.contains(&n.to_ascii_lowercase().as_str()))
                .unwrap_or(&name);
            return Err(Error::source(
                dir,
                format!(
                    "holds a folder of migrations per database ({name}/ among them): set `migrations` in \
                     godwit.toml to the one for this database ({dialect}), e.g. `migrations = \"{}/{suggested}\"`",
                    dir.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                ),
            ));
        }
        let (version, label) = version_and_name(&name).filter(|(_, n)| !n.is_empty()).ok_or_else(|| {
            Error::source(&path, "a migration directory is named <version>_<name>, e.g. 20261121090000_create_users")
        })?;
        let up_path = path.join("up.sql");
        let step_path = path.join("step.toml");
        let down_path = path.join("down.sql");
        let down = down_path
            .exists()
            .then(|| Script::read(&down_path))
            .transpose()?;
        match (up_path.exists(), step_path.exists()) {
            (true, true) => {
                return Err(Error::source(
                    &path,
                    "has both up.sql and step.toml; a migration is either SQL or a plugin step: \
                     move the SQL into a migration of its own, before or after the step",
                ));
            }
            (false, false) => {
                return Err(Error::source(
                    &path,
                    "has no up.sql (or step.toml for a plugin step); every migration directory needs one",
                ));
            }
            (true, false) => migrations.push(migration(
                version,
                label,
                &path,
                name,
                Script::read(&up_path)?,
                down,
                DownPlace::File(down_path),
            )),
            (false, true) => {
                let text = super::read_text(&step_path)?;
                let step = crate::step::StepFile::parse(&text)
                    .map_err(|m| Error::source(&step_path, m))?;
                // The step has no SQL of its own; an empty script keeps lint, plan and
                // verify from mistaking the TOML for statements.
                let script = Script {
                    path: step_path.clone(),
                    text: String::new(),
                    directives: Default::default(),
                    splitting: super::Splitting::Tokenizer,
                    no_transaction: None,
                    ran_as_is: None,
                    sqlite_foreign_keys_off: false,
                };
                let mut m = migration(
                    version,
                    label,
                    &path,
                    name,
                    script,
                    down,
                    DownPlace::File(down_path),
                );
                m.checksum = checksum(&text);
                m.step = Some(Box::new(step));
                migrations.push(m);
            }
        }
    }
    Ok(migrations)
}

/// Prisma names a migration by its whole folder name and applies the folders in the
/// order of their names, so two folders may share a timestamp (trigger.dev has such a
/// pair, deployed by Prisma). The second and later of one timestamp get the versions
/// `<timestamp>.1`, `<timestamp>.2`, … in that order: unique, ordered as Prisma orders
/// them, and matched to `_prisma_migrations` by folder name all the same.
fn read_prisma(dir: &Path) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (name, path) in entries(dir)? {
        if !path.is_dir() {
            continue;
        }
        let file = path.join("migration.sql");
        if !file.is_file() {
            return Err(Error::source(
                &path,
                "a Prisma migration directory needs a migration.sql",
            ));
        }
        let (version, label) = version_and_name(&name).ok_or_else(|| {
            Error::source(
                &path,
                "a Prisma migration directory is named <timestamp>_<name>",
            )
        })?;
        let earlier = seen.entry(version.to_string()).or_insert(0);
        let version = match *earlier {
            0 => version,
            n => Version::parse(&format!("{version}.{n}")).unwrap_or(version),
        };
        *earlier += 1;
        migrations.push(migration(
            version,
            label,
            &path,
            name,
            written_for(Script::read(&file)?, Layout::Prisma),
            None,
            DownPlace::Nowhere {
                reason: "Prisma migrations have no down scripts",
            },
        ));
    }
    Ok(migrations)
}

#[derive(Deserialize)]
struct Journal {
    entries: Vec<JournalEntry>,
}

#[derive(Deserialize)]
struct JournalEntry {
    when: i64,
    tag: String,
    #[serde(default = "yes")]
    breakpoints: bool,
}

fn yes() -> bool {
    true
}

/// `.sql` files in the folder that its tool never runs, and so neither does godwit, with
/// why: a Drizzle file its journal does not list (drizzle-kit reads the journal only), a
/// Flyway file whose name is none of `V`, `U`, `B` or `R__` (Flyway skips it). Read for
/// `status`, which names them: a file left out by a typo is otherwise never noticed.
pub fn left_out(dir: &Path, spec: &LayoutSpec) -> Vec<(String, &'static str)> {
    if spec.pattern.is_some() {
        return Vec::new();
    }
    match spec.layout.map(Ok).unwrap_or_else(|| detect(dir)) {
        Ok(Layout::Drizzle) => {
            let Ok(text) = read_text(&dir.join("meta/_journal.json")) else {
                return Vec::new();
            };
            let Ok(journal) = serde_json::from_str::<Journal>(&text) else {
                return Vec::new();
            };
            entries(dir)
                .unwrap_or_default()
                .into_iter()
                .filter(|(name, path)| {
                    path.is_file()
                        && name
                            .strip_suffix(".sql")
                            .is_some_and(|tag| !journal.entries.iter().any(|e| e.tag == tag))
                })
                .map(|(name, _)| (name, "not in meta/_journal.json: drizzle-kit skips it too"))
                .collect()
        }
        Ok(Layout::Flyway) => {
            let mut files = Vec::new();
            if collect_sql(dir, dir, &mut files).is_err() {
                return Vec::new();
            }
            files
                .into_iter()
                .filter_map(|(origin, path)| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                    if flyway_name(&name).is_some() {
                        None
                    } else if flyway_callback(&name) {
                        Some((
                            origin,
                            "a Flyway callback: Flyway runs it around its own commands, godwit runs no callbacks",
                        ))
                    } else {
                        Some((origin, "not named V<v>__, U<v>__, B<v>__ or R__: Flyway skips it too"))
                    }
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Flyway's SQL callbacks: `<event>[__<description>].sql`, the event one of Flyway's
/// `beforeMigrate`, `afterEachMigrate`, `beforeValidate`, … (camel case after `before` or
/// `after`). Flyway runs them at that event; they are no migrations.
fn flyway_callback(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".sql") else {
        return false;
    };
    let event = stem.split("__").next().unwrap_or(stem);
    ["before", "after"].iter().any(|when| {
        event.strip_prefix(when).is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_ascii_uppercase())
                && rest.chars().all(|c| c.is_ascii_alphabetic())
        })
    })
}

fn read_drizzle(dir: &Path) -> Result<Vec<Migration>, Error> {
    let path = dir.join("meta/_journal.json");
    let journal: Journal = serde_json::from_str(&read_text(&path)?)
        .map_err(|e| Error::source(&path, format!("is not a Drizzle journal: {e}")))?;
    let mut migrations = Vec::new();
    for entry in journal.entries {
        let file = dir.join(format!("{}.sql", entry.tag));
        if !file.is_file() {
            return Err(Error::source(
                &path,
                format!("lists {} but {} is missing", entry.tag, file.display()),
            ));
        }
        let (version, label) = version_and_name(&entry.tag)
            .ok_or_else(|| Error::source(&file, "a Drizzle migration is named NNNN_<tag>.sql"))?;
        let mut up = written_for(Script::read(&file)?, Layout::Drizzle);
        if entry.breakpoints {
            up.splitting = Splitting::Breakpoints;
        }
        let mut m = migration(
            version,
            label,
            dir,
            format!("{}.sql", entry.tag),
            up,
            None,
            DownPlace::Nowhere {
                reason: "Drizzle Kit migrations have no down scripts",
            },
        );
        m.created_at = Some(entry.when);
        migrations.push(m);
    }
    Ok(migrations)
}

/// sqlx (`<v>_<name>.sql`, `.up.sql`, `.down.sql`, `-- no-transaction` as the first line)
/// and golang-migrate (`.up.sql` / `.down.sql`, no directives, no implicit transaction).
fn read_up_down_files(dir: &Path, tool: Layout) -> Result<Vec<Migration>, Error> {
    let read = |path: &Path| -> Result<Script, Error> {
        let script = written_for(Script::read(path)?, tool);
        let sqlx_marker = tool == Layout::Sqlx
            && script
                .text
                .lines()
                .next()
                .is_some_and(|l| l.trim() == "-- no-transaction");
        Ok(marked(script, sqlx_marker.then_some(NoTransaction::Sqlx)))
    };
    let files = entries(dir)?;
    let named = |path: &Path, stem: &str| {
        version_and_name(stem).ok_or_else(|| {
            misnamed(
                path,
                "a migration file is named <version>_<name>.sql (or .up.sql / .down.sql)",
            )
        })
    };
    // sqlx and golang-migrate pair a down file with its up file by version alone: the
    // names may differ (ente's `30_add_magic_metadata.up.sql` and
    // `30_drop_magic_metadata.down.sql`).
    let mut downs: BTreeMap<Version, (&String, &PathBuf)> = BTreeMap::new();
    for (name, path) in &files {
        let Some(stem) = name.strip_suffix(".down.sql") else {
            continue;
        };
        if !path.is_file() {
            continue;
        }
        let (version, _) = named(path, stem)?;
        if let Some((other, _)) = downs.insert(version.clone(), (name, path)) {
            return Err(Error::source(
                path,
                format!("is a second down file for version {version}, beside {other}; keep one"),
            ));
        }
    }
    let mut migrations = Vec::new();
    for (name, path) in &files {
        if !path.is_file() || name.ends_with(".down.sql") || !name.ends_with(".sql") {
            continue;
        }
        // golang-migrate reads `<version>_<name>.up.<ext>`: stash's
        // `30_ignore_autotag.up..sql` is `ignore_autotag`, not `ignore_autotag.up.`.
        let stem = match name.rfind(".up.") {
            Some(at) => &name[..at],
            None => name.trim_end_matches(".sql"),
        };
        let (version, label) = named(path, stem)?;
        let (place, down) = match downs.remove(&version) {
            Some((_, found)) => (DownPlace::File(found.clone()), Some(read(found)?)),
            // sqlx reverts only `.up.sql`/`.down.sql` pairs: beside a one-file migration
            // a down file would not be read by sqlx.
            None if tool == Layout::Sqlx && !name.ends_with(".up.sql") => (
                DownPlace::Nowhere {
                    reason: "sqlx's one-file migrations (<version>_<name>.sql) have no down script: \
                             sqlx reverts only <version>_<name>.up.sql / .down.sql pairs",
                },
                None,
            ),
            None => (DownPlace::File(dir.join(format!("{stem}.down.sql"))), None),
        };
        migrations.push(migration(
            version,
            label,
            dir,
            name.clone(),
            read(path)?,
            down,
            place,
        ));
    }
    if !downs.is_empty() {
        let orphans: Vec<&str> = downs.values().map(|(name, _)| name.as_str()).collect();
        let (_, first) = downs.values().next().expect("not empty");
        return Err(Error::source(
            first,
            format!(
                "no up file has the version of {}: each down file needs an up file of the same version",
                orphans.join(", ")
            ),
        ));
    }
    Ok(migrations)
}

/// The version diesel records for a migration directory (in `__diesel_schema_migrations`):
/// the name up to the first `_`, dashes dropped. diesel orders migrations by this text.
pub fn diesel_recorded_version(dir_name: &str) -> String {
    dir_name
        .split('_')
        .next()
        .unwrap_or_default()
        .replace('-', "")
}

/// A directory named `YYYY-MM-DD_HHMMSS_<name>`, with `_` where diesel's generator writes
/// `-` (vaultwarden's `2024-03-13_170000_sso_userscascade`): its date, its version as the
/// author meant it (`20240313170000`), and its name. diesel itself records only the date.
fn diesel_underscored(dir_name: &str) -> Option<(&str, Version, String)> {
    let (date, rest) = dir_name.split_once('_')?;
    let (time, name) = rest.split_once('_')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let d = date.as_bytes();
    let dated = d.len() == 10
        && d[4] == b'-'
        && d[7] == b'-'
        && digits(&date[..4], 4)
        && digits(&date[5..7], 2)
        && digits(&date[8..], 2);
    (dated && digits(time, 6) && !name.is_empty()).then(|| {
        let version = Version::parse(&format!("{}{time}", date.replace('-', "")))?;
        Some((date, version, name.to_owned()))
    })?
}

/// diesel's version: the directory name up to the first `_`, dashes dropped
/// (`2016-08-15-133237_create_users` is `20160815133237`), as diesel records it. diesel
/// 2.2 and later add a subversion so that two migrations generated in one second differ
/// (`2025-09-19-132648-0000_theme` is `202509191326480000`); it is hexadecimal there, and
/// only its decimal values make a godwit version (see [`DIESEL_NAMES`]). A directory with
/// `_` between date and time takes the version its author meant (see
/// [`diesel_underscored`]).
fn diesel_version(dir_name: &str) -> Option<(Version, String)> {
    if let Some((_, version, name)) = diesel_underscored(dir_name) {
        return Some((version, name));
    }
    let (version, name) = dir_name.split_once('_')?;
    let dated = |v: &[u8]| {
        v.len() == 17
            && v.iter().enumerate().all(|(i, b)| {
                if [4, 7, 10].contains(&i) {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    let v = version.as_bytes();
    let subversioned =
        v.len() == 22 && dated(&v[..17]) && v[17] == b'-' && v[18..].iter().all(u8::is_ascii_digit);
    let initial = dir_name == "00000000000000_diesel_initial_setup";
    (dated(v) || subversioned || initial)
        .then(|| Some((Version::parse(&version.replace('-', ""))?, name.to_string())))?
}

/// What [`diesel_version`] takes, for the error about a directory it does not.
const DIESEL_NAMES: &str = "a diesel migration directory is named YYYY-MM-DD-HHMMSS_<name> or, \
     from diesel 2.2, YYYY-MM-DD-HHMMSS-NNNN_<name>; a subversion with hex letters (-000a, \
     after more than ten migrations generated in one second) is not a version godwit can \
     order: rename the directory to a free decimal subversion (such as -0009) before it is applied";

/// `diesel migration run`'s folder: one directory per migration, `up.sql` (and
/// `down.sql`), and an optional `metadata.toml` whose `run_in_transaction = false` runs
/// the migration outside a transaction.
fn read_diesel(dir: &Path) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
    for (name, path) in entries(dir)? {
        // diesel skips files in the migrations folder.
        if !path.is_dir() {
            continue;
        }
        let up_path = path.join("up.sql");
        if !up_path.is_file() {
            return Err(Error::source(
                &path,
                "a diesel migration directory needs an up.sql",
            ));
        }
        let (version, label) = diesel_version(&name)
            .or_else(|| version_and_name(&name).filter(|(_, n)| !n.is_empty()))
            .ok_or_else(|| Error::source(&path, DIESEL_NAMES))?;
        let metadata = path.join("metadata.toml");
        let in_transaction = if metadata.is_file() {
            let table: toml::Table = read_text(&metadata)?
                .parse()
                .map_err(|e| Error::source(&metadata, format!("is not valid TOML: {e}")))?;
            // diesel reads a metadata.toml that does not mention run_in_transaction as
            // `false` (its serde default), whatever its documentation says: keep that.
            match table.get("run_in_transaction") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(other) => {
                    return Err(Error::source(
                        &metadata,
                        format!("run_in_transaction is {other}; diesel expects true or false"),
                    ));
                }
            }
        } else {
            true
        };
        let marker = (!in_transaction).then_some(NoTransaction::Diesel);
        let down_path = path.join("down.sql");
        let down = down_path
            .is_file()
            .then(|| {
                Ok::<_, Error>(written_for(
                    marked(Script::read(&down_path)?, marker),
                    Layout::Diesel,
                ))
            })
            .transpose()?;
        migrations.push(migration(
            version,
            label,
            &path,
            name,
            written_for(marked(Script::read(&up_path)?, marker), Layout::Diesel),
            down,
            DownPlace::File(down_path),
        ));
    }
    same_order_as_diesel(dir, &migrations)?;
    Ok(migrations)
}

/// diesel orders by the text it records, so it runs `2024-03-13_170000_x` (recorded as
/// `20240313`) before every other migration of 2024-03-13, where godwit runs it at 17:00:00.
/// Where that changes the order, the folder is refused rather than applied differently.
fn same_order_as_diesel(dir: &Path, migrations: &[Migration]) -> Result<(), Error> {
    for m in migrations {
        let Some((date, version, _)) = diesel_underscored(&m.origin) else {
            continue;
        };
        let day = date.replace('-', "");
        if let Some(earlier) = migrations.iter().find(|o| {
            o.origin != m.origin && o.version < version && o.version.as_str().starts_with(&day)
        }) {
            return Err(Error::source(
                dir.join(&m.origin),
                format!(
                    "diesel records this directory as version {day} and runs it before {}, \
                     but its name says {version}, after it; rename it to {}-{}_{} (or earlier \
                     than {}) so that both tools apply the folder in one order",
                    earlier.origin,
                    date,
                    &version.as_str()[8..],
                    m.name,
                    earlier.origin
                ),
            ));
        }
    }
    Ok(())
}

/// A popx file name, `<version>_<name>[.<database>][.autocommit].{up,down}.sql`.
#[derive(Debug, PartialEq, Eq)]
struct PopxName {
    version: String,
    name: String,
    /// `None` for every database; else the database as popx spells it after its synonyms
    /// (`postgres`, `mysql`, `sqlite3`, `cockroach`), or the unknown word as written.
    database: Option<String>,
    autocommit: bool,
    up: bool,
}

fn popx_name(file: &str) -> Option<PopxName> {
    let (rest, up) = if let Some(r) = file.strip_suffix(".up.sql") {
        (r, true)
    } else {
        (file.strip_suffix(".down.sql")?, false)
    };
    let (rest, autocommit) = match rest.strip_suffix(".autocommit") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (stem, database) = match rest.split_once('.') {
        Some((stem, db))
            if !db.is_empty()
                && db
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) =>
        {
            (stem, Some(db))
        }
        Some(_) => return None,
        None => (rest, None),
    };
    let (version, name) = stem.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    let database = database.map(|db| {
        match db {
            "postgresql" | "pg" => "postgres",
            "cockroachdb" | "crdb" => "cockroach",
            "sqlite" => "sqlite3",
            other => other,
        }
        .to_string()
    });
    Some(PopxName {
        version: version.to_string(),
        name: name.to_string(),
        database,
        autocommit,
        up,
    })
}

/// ory/popx, as Kratos, Hydra and Keto use it. For each version and direction, a file
/// for this database wins over the file for every database; versions with files only for
/// other databases do not exist here. `.autocommit` runs the file outside a transaction.
fn read_popx(dir: &Path, dialect: Dialect) -> Result<Vec<Migration>, Error> {
    let ours = match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        Dialect::Sqlite => "sqlite3",
    };
    // (version, up?) -> (specific to this database?, name, file, path, autocommit)
    type Chosen = (bool, String, String, PathBuf, bool);
    let mut chosen: std::collections::BTreeMap<(String, bool), Chosen> = Default::default();
    // Versions with an up script for any database: a down script of another version is
    // a typo, not a file for another database.
    let mut ups = std::collections::HashSet::new();
    for (file, path) in entries(dir)? {
        if !path.is_file() {
            continue;
        }
        if file.ends_with(".fizz") {
            return Err(Error::source(
                &path,
                "is a pop fizz migration, which godwit cannot run; write it as SQL (.up.sql / .down.sql)",
            ));
        }
        if !file.ends_with(".sql") {
            continue;
        }
        let Some(found) = popx_name(&file) else {
            return Err(Error::source(
                &path,
                "is not named as popx expects, <version>_<name>[.<database>][.autocommit].{up,down}.sql, so it would never run; rename it or move it out of the migrations folder",
            ));
        };
        if found.up {
            ups.insert(found.version.clone());
        }
        let specific = match found.database.as_deref() {
            None => false,
            Some(db) if db == ours => true,
            Some("postgres" | "mysql" | "sqlite3" | "cockroach") => continue,
            Some(other) => {
                return Err(Error::source(
                    &path,
                    format!(
                        "names the database `{other}`, which popx does not know (postgres, mysql, sqlite3, cockroach), so it would never run"
                    ),
                ));
            }
        };
        let key = (found.version.clone(), found.up);
        if let Some((was_specific, _, other, _, _)) = chosen.get(&key) {
            if *was_specific == specific {
                return Err(Error::source(
                    &path,
                    format!(
                        "is a second {} script for version {} (with {other}); popx would run only one of them",
                        if found.up { "up" } else { "down" },
                        found.version
                    ),
                ));
            }
            if *was_specific {
                continue;
            }
        }
        chosen.insert(key, (specific, found.name, file, path, found.autocommit));
    }
    let read = |(_, _, _, path, autocommit): &Chosen| -> Result<Script, Error> {
        let mut script = marked(
            Script::read(path)?,
            autocommit.then_some(NoTransaction::Popx),
        );
        script.sqlite_foreign_keys_off = dialect == Dialect::Sqlite;
        Ok(script)
    };
    let mut migrations = Vec::new();
    for ((version_text, up), entry) in &chosen {
        if !up {
            continue;
        }
        let version = Version::parse(version_text)
            .ok_or_else(|| Error::source(&entry.3, format!("`{version_text}` is not a version")))?;
        let down_entry = chosen.get(&(version_text.clone(), false));
        let down = down_entry.map(read).transpose()?;
        let down_place = match down_entry {
            Some(d) => DownPlace::File(d.3.clone()),
            None => {
                DownPlace::File(dir.join(format!("{version_text}_{}.{ours}.down.sql", entry.1)))
            }
        };
        migrations.push(migration(
            version,
            entry.1.clone(),
            dir,
            entry.2.clone(),
            read(entry)?,
            down,
            down_place,
        ));
    }
    if let Some(((v, _), entry)) = chosen.iter().find(|((v, up), _)| !up && !ups.contains(v)) {
        return Err(Error::source(
            &entry.3,
            format!("is a down script for version {v}, which has no up script"),
        ));
    }
    Ok(migrations)
}

/// `V1.2__name.sql` → ('V', "1.2", "name"); Flyway writes `_` for `.` in versions. `U`
/// is an undo script, `B` a baseline migration, `R` (no version) a repeatable one.
fn flyway_name(file: &str) -> Option<(char, String, String)> {
    let stem = file.strip_suffix(".sql")?;
    let kind = stem.chars().next()?;
    let (version, name) = stem[1..].split_once("__")?;
    match kind {
        'R' if version.is_empty() => Some(('R', String::new(), name.to_string())),
        'V' | 'U' | 'B' if !version.is_empty() => {
            Some((kind, version.replace('_', "."), name.to_string()))
        }
        _ => None,
    }
}

fn read_flyway(dir: &Path) -> Result<Vec<Migration>, Error> {
    let mut files = Vec::new();
    collect_sql(dir, dir, &mut files)?;
    let read = |path: &Path| -> Result<Script, Error> {
        let script = written_for(Script::read(path)?, Layout::Flyway);
        // A per-script `.sql.conf` is how Flyway turns off its transaction.
        let conf = PathBuf::from(format!("{}.conf", path.display()));
        let off = conf.is_file()
            && read_text(&conf)?
                .lines()
                .any(|l| l.replace(' ', "") == "executeInTransaction=false");
        Ok(marked(script, off.then_some(NoTransaction::Flyway)))
    };
    let mut migrations = Vec::new();
    for (origin, path) in &files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let Some((kind, version, name)) = flyway_name(&file) else {
            continue;
        };
        let number = || {
            Version::parse(&version)
                .ok_or_else(|| Error::source(path, format!("`{version}` is not a Flyway version")))
        };
        let version = match kind {
            'U' => continue,
            'R' => Version::repeatable(&name),
            // A baseline is the schema as of its version in one script: a database with
            // no history starts from the newest one (`history::Baseline`).
            'B' => Version::baseline(&number()?),
            _ => number()?,
        };
        let undo = (kind == 'V')
            .then(|| {
                files.iter().find(|(_, p)| {
                    flyway_name(&p.file_name().unwrap_or_default().to_string_lossy()).is_some_and(
                        |(k, v, _)| k == 'U' && Version::parse(&v).as_ref() == Some(&version),
                    )
                })
            })
            .flatten()
            .map(|(_, p)| read(p))
            .transpose()?;
        let down_place = match kind {
            'V' => DownPlace::File(path.with_file_name(format!("U{}", &file[1..]))),
            'B' => DownPlace::Nowhere {
                reason: "a Flyway baseline migration has no undo script: it builds a whole schema on an empty database",
            },
            _ => DownPlace::Nowhere {
                reason: "Flyway's repeatable migrations have no undo scripts",
            },
        };
        migrations.push(migration(
            version,
            name,
            dir,
            origin.clone(),
            read(path)?,
            undo,
            down_place,
        ));
    }
    Ok(migrations)
}

/// Flyway scans sub-folders too; origins stay relative to the migrations folder.
fn collect_sql(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), Error> {
    for (name, path) in entries(dir)? {
        if path.is_dir() {
            collect_sql(root, &path, out)?;
        } else if name.ends_with(".sql") {
            let origin = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((origin, path));
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sections {
    Goose,
    Dbmate,
}

/// goose and dbmate keep up and down in one file, separated by marker comments.
fn read_sections(dir: &Path, tool: Sections) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
    let files = entries(dir)?;
    // goose's Go migrations are named like its SQL ones (`<version>_<name>.go`); other Go
    // files (an `embed.go` holding `//go:embed *.sql`, tests) are not migrations.
    let go: Vec<&(String, PathBuf)> = files
        .iter()
        .filter(|(name, _)| {
            tool == Sections::Goose
                && !name.ends_with("_test.go")
                && name
                    .strip_suffix(".go")
                    .is_some_and(|stem| version_and_name(stem).is_some())
        })
        .collect();
    if let [(_, first), ..] = go.as_slice() {
        let names: Vec<&str> = go.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::source(
            first,
            format!(
                "goose Go migrations run code godwit cannot run; port {} to SQL or to godwit plugin steps",
                if names.len() == 1 {
                    "it".to_string()
                } else {
                    format!("each of the {}: {}", names.len(), names.join(", "))
                }
            ),
        ));
    }
    for (name, path) in files {
        if !path.is_file() || !name.ends_with(".sql") {
            continue;
        }
        let (version, label) = version_and_name(name.trim_end_matches(".sql"))
            .ok_or_else(|| misnamed(&path, "a migration file is named <version>_<name>.sql"))?;
        let text = read_text(&path)?;
        let env = |name: &str| std::env::var(name).ok();
        let (up, down, unfilled_up) = sections(&path, &text, tool, &env)?;
        let marker = match tool {
            Sections::Goose => "-- +goose Down",
            Sections::Dbmate => "-- migrate:down",
        };
        let place = DownPlace::Section {
            file: path.clone(),
            marker,
        };
        let mut m = migration(version, label, dir, name.clone(), up, down, place);
        // The file as written: the environment goose's ENVSUB filled in may differ from
        // one run to the next without the migration changing.
        m.checksum = checksum(&unfilled_up);
        migrations.push(m);
    }
    Ok(migrations)
}

/// A goose or dbmate file's up and down sections, and the up section as written (before
/// goose's `ENVSUB ON` filled in the environment from `env`).
fn sections(
    path: &Path,
    text: &str,
    tool: Sections,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Script, Option<Script>, String), Error> {
    #[derive(Clone, Copy, PartialEq)]
    enum In {
        Header,
        Up,
        Down,
    }
    let (mut up, mut down, mut unfilled_up) = (String::new(), String::new(), String::new());
    let (mut up_tx, mut down_tx, mut seen_up, mut seen_down) = (true, true, false, false);
    let mut at = In::Header;
    // goose's ENVSUB ON: on from its annotation to ENVSUB OFF, for the lines goose
    // buffers into a statement (not the comments and blank lines before one).
    let (mut envsub, mut in_statement, mut in_block) = (false, false, false);
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let blank = if line.ends_with('\n') { "\n" } else { "" };
        let section = match tool {
            Sections::Goose => match crate::source::goose_annotation(line).as_deref() {
                Some("up") => Some(In::Up),
                Some("down") => Some(In::Down),
                Some("no transaction") => {
                    (up_tx, down_tx) = (false, false);
                    Some(at)
                }
                Some("envsub on") => {
                    envsub = true;
                    Some(at)
                }
                Some("envsub off") => {
                    envsub = false;
                    Some(at)
                }
                Some("statementbegin") => {
                    in_block = true;
                    None
                }
                Some("statementend") => {
                    (in_block, in_statement) = (false, false);
                    None
                }
                _ => None,
            },
            Sections::Dbmate => crate::source::dbmate_marker(line).map(|(up, options)| {
                let which = if up { In::Up } else { In::Down };
                if options.contains("transaction:false") {
                    if up { up_tx = false } else { down_tx = false }
                }
                which
            }),
        };
        if let Some(section) = section {
            seen_up |= section == In::Up;
            seen_down |= section == In::Down;
            at = section;
            up.push_str(blank);
            unfilled_up.push_str(blank);
            down.push_str(blank);
            continue;
        }
        // The up section as written: what up.sql's checksum has always been taken of.
        unfilled_up.push_str(if at == In::Up { line } else { blank });
        let (mine, other) = match at {
            In::Up => (&mut up, &mut down),
            In::Down => (&mut down, &mut up),
            In::Header => {
                up.push_str(blank);
                down.push_str(blank);
                continue;
            }
        };
        let mut line = std::borrow::Cow::Borrowed(line);
        let annotation =
            tool == Sections::Goose && crate::source::goose_annotation(&line).is_some();
        let leading =
            !in_statement && (line.trim_start().starts_with("--") || line.trim().is_empty());
        if !annotation && !leading {
            if envsub {
                let filled = super::envsub::interpolate(line.trim_end_matches('\n'), env)
                    .map_err(|e| {
                        Error::source(
                            path,
                            format!(
                                "line {}: goose's ENVSUB ON cannot fill it from the environment: {e}",
                                number + 1
                            ),
                        )
                    })?;
                line = std::borrow::Cow::Owned(filled + blank);
            }
            in_statement = in_block || !super::envsub::ends_statement(&line);
        }
        mine.push_str(&line);
        other.push_str(blank);
    }
    if !seen_up {
        let marker = if tool == Sections::Goose {
            "-- +goose Up"
        } else {
            "-- migrate:up"
        };
        return Err(Error::source(path, format!("has no `{marker}` section")));
    }
    let splitting = if tool == Sections::Goose {
        Splitting::GooseBlocks
    } else {
        Splitting::Tokenizer
    };
    let marker = match tool {
        Sections::Goose => NoTransaction::Goose,
        Sections::Dbmate => NoTransaction::Dbmate,
    };
    let script = |text: String, transactional: bool| Script {
        path: path.to_path_buf(),
        text,
        directives: Default::default(),
        splitting: splitting.clone(),
        no_transaction: (!transactional).then_some(marker),
        ran_as_is: None,
        // goose and dbmate leave SQLite's foreign keys off.
        sqlite_foreign_keys_off: true,
    };
    // A down section that is there but empty reverts nothing, as dbmate and goose run
    // it: `down` says so (and verify reports it), rather than claiming there is none.
    Ok((
        script(up, up_tx),
        seen_down.then(|| script(down, down_tx)),
        unfilled_up,
    ))
}

/// A file the detected layout cannot name: `expected` says how that layout names files,
/// and, where the file's own name suggests a `pattern` that reads it (authelia's
/// `V0001.Initial_Schema.up.sql`), the error says that pattern too.
fn misnamed(path: &Path, expected: &str) -> Error {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match suggested_pattern(&file) {
        Some(pattern) => Error::source(
            path,
            format!(
                "{expected}\n  if another tool named these files, say how in godwit.toml: `pattern = \"{pattern}\"` reads this one \
                 (every .sql file in the folder must then match it)"
            ),
        ),
        None => Error::source(path, expected),
    }
}

/// A `pattern` that reads `file` as a migration: a prefix of letters, the version's
/// digits, a separator, the name, then `.up`/`.down` if it has one and `.sql`. Only a
/// pattern that really matches the file is suggested.
fn suggested_pattern(file: &str) -> Option<String> {
    let stem = file.strip_suffix(".sql")?;
    let (stem, direction) = match stem.rsplit_once('.') {
        Some((rest, "up" | "down")) => (rest, ".{direction}"),
        _ => (stem, ""),
    };
    let digits = stem.find(|c: char| c.is_ascii_digit())?;
    let prefix = &stem[..digits];
    let after_version = stem[digits..]
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| digits + i)?;
    let name = stem[after_version..].find(|c: char| c.is_alphanumeric())? + after_version;
    let separator = &stem[after_version..name];
    if !prefix.chars().all(|c| c.is_ascii_alphabetic()) || separator.contains(['{', '}']) {
        return None;
    }
    let pattern = format!("{prefix}{{version}}{separator}{{name}}{direction}.sql");
    let (regex, _) = pattern_regex(&pattern).ok()?;
    regex.is_match(file).then_some(pattern)
}

/// The regular expression of a `pattern`, and what follows its last placeholder.
fn pattern_regex(pattern: &str) -> Result<(regex::Regex, &str), Error> {
    let mut regex = String::from("^");
    let mut rest = pattern;
    let mut seen = Vec::new();
    while let Some(open) = rest.find('{') {
        regex.push_str(&regex::escape(&rest[..open]));
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| Error::Config(format!("pattern `{pattern}` has an unclosed `{{`")))?;
        let placeholder = &rest[open + 1..close];
        if seen.contains(&placeholder) {
            return Err(Error::Config(format!(
                "pattern `{pattern}` uses {{{placeholder}}} twice; a pattern names the files at the top of the migrations folder, \
                 each placeholder once (it does not reach into subfolders such as `{{version}}/…`)"
            )));
        }
        seen.push(placeholder);
        regex.push_str(match placeholder {
            "version" => r"(?P<version>\d+(?:[._]\d+)*)",
            "name" => r"(?P<name>.+?)",
            "direction" => r"(?P<direction>up|down)",
            other => {
                return Err(Error::Config(format!(
                    "pattern `{pattern}` uses {{{other}}}; the placeholders are {{version}}, {{name}} and {{direction}}"
                )));
            }
        });
        rest = &rest[close + 1..];
    }
    regex.push_str(&regex::escape(rest));
    regex.push('$');
    if !pattern.contains("{version}") {
        return Err(Error::Config(format!(
            "pattern `{pattern}` needs a {{version}} placeholder"
        )));
    }
    let regex = regex::Regex::new(&regex)
        .map_err(|e| Error::Config(format!("pattern `{pattern}`: {e}")))?;
    Ok((regex, rest))
}

/// `pattern = "V{version}.{name}.{direction}.sql"`: for folders no known tool wrote.
fn read_pattern(dir: &Path, pattern: &str) -> Result<Vec<Migration>, Error> {
    let (regex, rest) = pattern_regex(pattern)?;
    // Files of the pattern's kind that it does not match would silently never run: a
    // typo in a name must stop the deploy, not skip a migration.
    let kind = rest.rsplit_once('.').map(|(_, ext)| format!(".{ext}"));
    let mut unmatched = Vec::new();
    let mut ups: Vec<(Version, String, String, String, PathBuf)> = Vec::new();
    let mut downs: Vec<(Version, PathBuf)> = Vec::new();
    for (file, path) in entries(dir)? {
        let Some(captures) = regex.captures(&file) else {
            if path.is_file() && kind.as_deref().is_none_or(|k| file.ends_with(k)) {
                unmatched.push(file);
            } else if path.is_dir() {
                // A pattern reads the top of the folder: migrations in subfolders (memos
                // keeps one per release) would never run, and status would say "up to date".
                let inside = entries(&path).map_or(0, |found| {
                    found
                        .iter()
                        .filter(|(name, p)| {
                            p.is_file() && kind.as_deref().is_none_or(|k| name.ends_with(k))
                        })
                        .count()
                });
                if inside > 0 {
                    unmatched.push(format!(
                        "{file}/ (a folder of {inside} such file{}: a pattern reads only the top of the migrations folder)",
                        if inside == 1 { "" } else { "s" }
                    ));
                }
            }
            continue;
        };
        let raw_version = captures["version"].to_string();
        let version_text = raw_version.replace('_', ".");
        let version = Version::parse(&version_text)
            .ok_or_else(|| Error::source(&path, format!("`{version_text}` is not a version")))?;
        let name = captures
            .name("name")
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        match captures.name("direction").map(|d| d.as_str()) {
            Some("down") => downs.push((version, path)),
            _ => ups.push((version, raw_version, name, file, path)),
        }
    }
    if !unmatched.is_empty() {
        let shown: Vec<&str> = unmatched.iter().take(10).map(String::as_str).collect();
        let more = match unmatched.len() {
            n if n > 10 => format!(" and {} more", n - 10),
            _ => String::new(),
        };
        return Err(Error::source(
            dir,
            format!(
                "{} file{} here do{} not match `pattern = \"{pattern}\"` in godwit.toml, so {} would never run: {}{more}; \
                 rename {}, fix the pattern, or move {} out of the migrations folder",
                unmatched.len(),
                if unmatched.len() == 1 { "" } else { "s" },
                if unmatched.len() == 1 { "es" } else { "" },
                if unmatched.len() == 1 { "it" } else { "they" },
                shown.join(", "),
                if unmatched.len() == 1 { "it" } else { "them" },
                if unmatched.len() == 1 { "it" } else { "them" },
            ),
        ));
    }
    if let Some((_, path)) = downs
        .iter()
        .find(|(v, _)| !ups.iter().any(|(u, ..)| u == v))
    {
        return Err(Error::source(
            path,
            "is a down script with no up script of the same version",
        ));
    }
    let mut migrations = Vec::new();
    for (version, raw_version, name, file, path) in ups {
        let down = downs
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, p)| Script::read(p))
            .transpose()?;
        let down_place = if pattern.contains("{direction}") {
            DownPlace::File(
                dir.join(
                    pattern
                        .replace("{version}", &raw_version)
                        .replace("{name}", &name)
                        .replace("{direction}", "down"),
                ),
            )
        } else {
            DownPlace::Nowhere {
                reason: "the `pattern` in godwit.toml has no {direction}, so there is no name for a down script",
            }
        };
        migrations.push(migration(
            version,
            name,
            dir,
            file,
            Script::read(&path)?,
            down,
            down_place,
        ));
    }
    Ok(migrations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dialect;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    /// Two Prisma folders of one timestamp are two migrations, in the order of their
    /// names, as Prisma applies them.
    #[test]
    fn prisma_folders_sharing_a_timestamp_are_both_read_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("migration_lock.toml", "provider = \"postgresql\"\n"),
                (
                    "20240101000000_create_b/migration.sql",
                    "CREATE TABLE b (id int);\n",
                ),
                (
                    "20240101000000_create_a/migration.sql",
                    "CREATE TABLE a (id int);\n",
                ),
                (
                    "20240101000000_create_c/migration.sql",
                    "CREATE TABLE c (id int);\n",
                ),
                (
                    "20240102000000_later/migration.sql",
                    "CREATE TABLE d (id int);\n",
                ),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        let got: Vec<(String, &str)> = ms
            .iter()
            .map(|m| (m.version.to_string(), m.origin.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("20240101000000".to_string(), "20240101000000_create_a"),
                ("20240101000000.1".to_string(), "20240101000000_create_b"),
                ("20240101000000.2".to_string(), "20240101000000_create_c"),
                ("20240102000000".to_string(), "20240102000000_later"),
            ]
        );
    }

    /// A missing migrations folder names the folders that do hold migrations, where
    /// other tools keep them (Flyway under Spring's `src/main/resources/db/migration`,
    /// stash under `pkg/sqlite/migrations`), and leaves build output out.
    #[test]
    fn a_missing_folder_names_the_folders_that_hold_migrations() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "src/main/resources/db/migration/V1__init.sql",
                    "CREATE TABLE a (id int);\n",
                ),
                (
                    "pkg/sqlite/migrations/1_init.up.sql",
                    "CREATE TABLE b (id int);\n",
                ),
                ("node_modules/x/migrations/1.sql", "SELECT 1;\n"),
                ("docs/migrations/README.md", "not SQL\n"),
            ],
        );
        let err = read(
            &dir.path().join("migrations"),
            &LayoutSpec::default(),
            Dialect::Postgres,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("pkg/sqlite/migrations, src/main/resources/db/migration")
                && err.contains("migrations = \"pkg/sqlite/migrations\""),
            "{err}"
        );
        assert!(
            !err.contains("node_modules") && !err.contains("docs"),
            "{err}"
        );
        // popx keeps its files one level down (keto: persistence/sql/migrations/sql), and
        // some projects call the folder `sql`: the folder named is the one holding them.
        let popx = tempfile::tempdir().unwrap();
        write(
            popx.path(),
            &[
                (
                    "persistence/migrations/sql/20200101000000000000_a.up.sql",
                    "SELECT 1;\n",
                ),
                ("db/sql/1_init.up.sql", "SELECT 1;\n"),
            ],
        );
        let err = read(
            &popx.path().join("migrations"),
            &LayoutSpec::default(),
            Dialect::Postgres,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("db/sql, persistence/migrations/sql"), "{err}");
        // A folder of migration directories is named itself, not one directory of it
        // (formbricks: `packages/database/migration/<timestamp>_<name>/migration.sql`).
        let prisma = tempfile::tempdir().unwrap();
        write(
            prisma.path(),
            &[
                (
                    "packages/database/migration/20230329205933_init/migration.sql",
                    "SELECT 1;\n",
                ),
                (
                    "packages/database/migration/20230330000000_more/migration.sql",
                    "SELECT 1;\n",
                ),
            ],
        );
        let err = read(
            &prisma.path().join("migrations"),
            &LayoutSpec::default(),
            Dialect::Postgres,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("migrations = \"packages/database/migration\"")
                && !err.contains("20230329205933_init"),
            "{err}"
        );
        let empty = tempfile::tempdir().unwrap();
        let err = read(
            &empty.path().join("migrations"),
            &LayoutSpec::default(),
            Dialect::Postgres,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("godwit init"), "{err}");
    }

    /// A goose folder often holds an `embed.go` (`//go:embed *.sql`): not a migration.
    /// Go migrations are refused, all of them named at once (hatchet has nine).
    #[test]
    fn goose_go_files_that_are_not_migrations_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "20240101000000_users.sql",
                    "-- +goose Up\nCREATE TABLE users (id int);\n",
                ),
                ("embed.go", "package migrations\n//go:embed *.sql\n"),
                ("migrations_test.go", "package migrations\n"),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        assert_eq!(ms.len(), 1);
        write(
            dir.path(),
            &[
                ("20240102000000_backfill.go", "package migrations\n"),
                ("20240103000000_rehash.go", "package migrations\n"),
            ],
        );
        let err = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("20240102000000_backfill.go") && err.contains("20240103000000_rehash.go"),
            "{err}"
        );
    }

    #[test]
    fn goose_sections_blocks_and_no_transaction() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[(
                "20240101000000_create_fn.sql",
                "-- +goose Up\n-- +goose NO TRANSACTION\nCREATE TABLE t (id int);\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$\nBEGIN RETURN 1; END;\n$$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION f();\nDROP TABLE t;\n",
            )],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Goose);
        let m = &read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap()[0];
        assert_eq!(m.up.no_transaction, Some(NoTransaction::Goose));
        let up = m.up.statements(Dialect::Postgres).unwrap();
        assert_eq!(up.len(), 2);
        assert_eq!(up[1].line, 5);
        assert!(up[1].sql.starts_with("CREATE FUNCTION") && up[1].sql.ends_with("plpgsql"));
        let down = m
            .down
            .as_ref()
            .unwrap()
            .statements(Dialect::Postgres)
            .unwrap();
        assert_eq!(
            down.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![11, 12]
        );
    }

    /// capcom6/sms-gateway's goose files (MySQL) separate their sections with a line of
    /// dashes. goose skips any `--` line while no statement has begun; MySQL does not read
    /// `-----` as a comment, so sent as godwit's splitter saw it, it failed (1064).
    #[test]
    fn goose_skips_dash_lines_between_statements_on_every_database() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[(
                "20221007133357_init.sql",
                "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE t (id int);\n-- +goose StatementEnd\n\
                 ---------------------------------------------------------------\n\
                 CREATE TABLE u (\n--- a note inside the statement stays\nid int\n);\n\
                 -----\n  --no space either\n-- ═══ a separator of another kind ═══\n\
                 CREATE TABLE w (id int);\n\
                 -- +goose Down\n-- +goose StatementBegin\nDROP TABLE u;\n-- +goose StatementEnd\n---------------\nDROP TABLE t;\n",
            )],
        );
        for dialect in [Dialect::MySql, Dialect::Postgres, Dialect::Sqlite] {
            let m = &read(dir.path(), &LayoutSpec::default(), dialect).unwrap()[0];
            let up = m.up.statements(dialect).unwrap();
            let sql: Vec<&str> = up.iter().map(|s| s.sql.as_str()).collect();
            assert_eq!(
                sql,
                [
                    "CREATE TABLE t (id int)",
                    "CREATE TABLE u (\n--- a note inside the statement stays\nid int\n)",
                    "CREATE TABLE w (id int)"
                ],
                "{dialect:?}"
            );
            assert_eq!(up[1].line, 6);
            // Spans point into the file as written, past multi-byte separators too.
            let text = &m.up.text;
            assert!(
                up.iter()
                    .all(|s| text[s.span.clone()].starts_with("CREATE TABLE"))
            );
            assert_eq!(up[2].line, 13);
            let down = m.down.as_ref().unwrap().statements(dialect).unwrap();
            let sql: Vec<&str> = down.iter().map(|s| s.sql.as_str()).collect();
            assert_eq!(sql, ["DROP TABLE u", "DROP TABLE t"], "{dialect:?}");
        }
    }

    /// goose and dbmate read their markers with or without a space after `--`; a file
    /// spelled `--+goose Up` was taken for sqlx's, and its down section ran as part of up.
    #[test]
    fn markers_without_a_space_after_the_dashes() {
        for (layout, down_line, text) in [
            (
                Layout::Goose,
                8,
                "--+goose Up\nCREATE TABLE t (id int);\n--+goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n--+goose StatementEnd\n\n--  +GOOSE  down\nDROP TABLE t;\n",
            ),
            (
                Layout::Dbmate,
                6,
                "--migrate:up\nCREATE TABLE t (id int);\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\n--migrate:down\nDROP TABLE t;\n",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), &[("20240101000000_t.sql", text)]);
            assert_eq!(detect(dir.path()).unwrap(), layout);
            let m = &read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap()[0];
            let up = m.up.statements(Dialect::Postgres).unwrap();
            assert_eq!(up.len(), 2, "{layout:?}: {up:?}");
            assert!(
                up.iter().all(|s| !s.sql.contains("DROP")),
                "{layout:?}: {up:?}"
            );
            let down = m
                .down
                .as_ref()
                .unwrap()
                .statements(Dialect::Postgres)
                .unwrap();
            assert_eq!(down.len(), 1, "{layout:?}");
            assert_eq!(down[0].line, down_line, "{layout:?}");
        }
        // Not markers: a word that only begins like one, an indented one (dbmate's `^--`),
        // a comment about goose.
        assert_eq!(
            crate::source::dbmate_marker("-- migrate:upgrade the table"),
            None
        );
        assert_eq!(crate::source::dbmate_marker("    -- migrate:down"), None);
        assert_eq!(
            crate::source::dbmate_marker("-- migrate:down transaction:false\r"),
            Some((false, "transaction:false"))
        );
        assert_eq!(crate::source::goose_annotation("-- goose up"), None);
        assert_eq!(
            crate::source::goose_annotation("--+goose NO   Transaction").as_deref(),
            Some("no transaction")
        );
    }

    /// docs.rs names a sqlx migration `…_release_status_view.sql.up.sql`: a dot in the
    /// description, not a popx database suffix.
    #[test]
    fn a_dot_in_a_sqlx_description_is_not_a_popx_database() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "20240101000000_create_t.up.sql",
                    "CREATE TABLE t (id int);\n",
                ),
                ("20240101000000_create_t.down.sql", "DROP TABLE t;\n"),
                (
                    "20240309082057_release_status_view.sql.up.sql",
                    "CREATE VIEW v AS SELECT id FROM t;\n",
                ),
                (
                    "20240309082057_release_status_view.sql.down.sql",
                    "DROP VIEW v;\n",
                ),
            ],
        );
        assert_ne!(detect(dir.path()).unwrap(), Layout::Popx);
        let migrations = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        assert_eq!(migrations.len(), 2);
        assert_eq!(migrations[1].name, "release_status_view.sql");
        // A real popx folder is still one.
        write(
            dir.path(),
            &[("20240401000000_idx.postgres.up.sql", "SELECT 1;\n")],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Popx);
    }

    #[test]
    fn goose_envsub_fills_the_environment_where_goose_does() {
        let env = |name: &str| (name == "REGION").then(|| "eu-west".to_string());
        let file = "-- +goose Up\n-- +goose ENVSUB ON\n-- costs $5: a comment before a statement is not filled\n\
                    INSERT INTO settings VALUES ('region', '${REGION}'),\n  ('zone', '${ZONE:-a}');\n\
                    -- +goose ENVSUB OFF\n-- +goose StatementBegin\n\
                    CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n-- +goose StatementEnd\n\
                    -- +goose Down\nDELETE FROM settings WHERE name = '${REGION}';\n";
        let path = Path::new("20240101000000_settings.sql");
        let (up, down, unfilled) = sections(path, file, Sections::Goose, &env).unwrap();
        assert!(
            up.text
                .contains("VALUES ('region', 'eu-west'),\n  ('zone', 'a');"),
            "{}",
            up.text
        );
        assert!(up.text.contains("costs $5"), "{}", up.text);
        assert!(
            up.text.contains("AS $$ SELECT 1 $$"),
            "ENVSUB OFF: {}",
            up.text
        );
        assert!(unfilled.contains("'${REGION}'"), "{unfilled}");
        assert_eq!(up.text.lines().count(), unfilled.lines().count());
        // Still on from the up section's point of view? No: OFF holds into the down section.
        assert!(down.unwrap().text.contains("'${REGION}'"));

        // The checksum is of the file as written, whatever the environment held.
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[("20240101000000_settings.sql", file)]);
        let m = &read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap()[0];
        assert_eq!(m.checksum, checksum(&unfilled));
        // Without ENVSUB it is the up section's checksum, as it always was.
        let plain = "-- +goose Up\n-- +goose NO TRANSACTION\nCREATE TABLE t (a int);\n-- +goose Down\nDROP TABLE t;\n";
        let (up, _, unfilled) = sections(path, plain, Sections::Goose, &env).unwrap();
        assert_eq!(up.text, unfilled);

        // What goose refuses is a source error naming the line.
        let required = "-- +goose Up\n-- +goose ENVSUB ON\nCREATE ROLE ${APP_ROLE?set APP_ROLE};\n";
        let err = sections(path, required, Sections::Goose, &env).unwrap_err();
        assert!(matches!(err, Error::Source { .. }), "{err:?}");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn dbmate_transaction_false() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[(
                "20240101000000_index.sql",
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n",
            )],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Dbmate);
        let m = &read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap()[0];
        assert_eq!(m.up.no_transaction, Some(NoTransaction::Dbmate));
        assert_eq!(m.down.as_ref().unwrap().no_transaction, None);
    }

    #[test]
    fn drizzle_breakpoints_and_journal_order() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "meta/_journal.json",
                    r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1700000000000,"tag":"0000_brave_hulk","breakpoints":true}]}"#,
                ),
                (
                    "0000_brave_hulk.sql",
                    "CREATE TABLE \"a\" (\"id\" serial PRIMARY KEY);\n--> statement-breakpoint\nCREATE TABLE \"b\" (\"id\" serial PRIMARY KEY);\n",
                ),
                ("0001_not_in_journal.sql", "SELECT 1;"),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].created_at, Some(1700000000000));
        // drizzle-kit never runs a file its journal does not list; status names it.
        assert_eq!(
            left_out(dir.path(), &LayoutSpec::default()),
            [(
                "0001_not_in_journal.sql".to_string(),
                "not in meta/_journal.json: drizzle-kit skips it too"
            )]
        );
        let statements = ms[0].up.statements(Dialect::Postgres).unwrap();
        assert_eq!(
            statements.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
    }

    /// drizzle-kit's MySQL output puts the marker after the `;`, on the statement's line;
    /// MySQL does not read `-->` as a comment, so it must not reach the server.
    #[test]
    fn drizzle_breakpoints_at_the_end_of_a_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "meta/_journal.json",
                    r#"{"version":"5","dialect":"mysql","entries":[{"idx":0,"version":"5","when":1700000000000,"tag":"0000_init_tables","breakpoints":true}]}"#,
                ),
                (
                    "0000_init_tables.sql",
                    "CREATE TABLE `a` (`id` int NOT NULL, CONSTRAINT `a_id` PRIMARY KEY(`id`));\n\
                     --> statement-breakpoint\n\
                     CREATE TABLE `b` (`id` int NOT NULL, `a_id` int);\n\
                     --> statement-breakpoint\n\
                     ALTER TABLE `b` ADD CONSTRAINT `b_a_fk` FOREIGN KEY (`a_id`) REFERENCES `a`(`id`);--> statement-breakpoint\n\
                     ALTER TABLE `b` ADD `name` varchar(20);",
                ),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::MySql).unwrap();
        let statements = ms[0].up.statements(Dialect::MySql).unwrap();
        assert_eq!(
            statements
                .iter()
                .map(|s| (s.line, s.sql.contains("-->")))
                .collect::<Vec<_>>(),
            vec![(1, false), (3, false), (5, false), (6, false)],
            "{statements:#?}"
        );
    }

    /// Flyway's baseline migrations (hawkbit keeps only `B1_20_0__baseline.sql` and the
    /// `V` files after it): an empty database starts from the newest baseline and skips
    /// what it stands for; one that applied a baseline keeps it; any other history goes on
    /// with its versioned migrations and never sees a baseline.
    #[test]
    fn flyway_baselines_stand_for_the_versions_below_them() {
        use crate::history::{self, HistoryRow};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("V1__init.sql", "CREATE TABLE a (id int);"),
                ("V2__more.sql", "CREATE TABLE b (id int);"),
                ("B1__first.sql", "CREATE TABLE a (id int);"),
                (
                    "B2__base.sql",
                    "CREATE TABLE a (id int); CREATE TABLE b (id int);",
                ),
                ("V2_1__next.sql", "CREATE TABLE c (id int);"),
                ("R__view.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;"),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        let all: Vec<&str> = ms.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(all, ["B1", "1", "B2", "2", "2.1", "R__view"]);
        let b2 = ms.iter().find(|m| m.version.as_str() == "B2").unwrap();
        assert!(b2.down.is_none());
        assert!(matches!(b2.down_place, DownPlace::Nowhere { .. }));
        assert_eq!(b2.origin, "B2__base.sql");

        let row = |version: &str, state: &str| HistoryRow {
            id: 0,
            version: version.into(),
            name: String::new(),
            kind: "sql".into(),
            operation: "deploy".into(),
            state: state.into(),
            checksum: ms
                .iter()
                .find(|m| m.version.as_str() == version)
                .map(|m| m.checksum.clone())
                .unwrap_or_default(),
            started_at: String::new(),
            finished_at: None,
            duration_ms: None,
            applied_by: String::new(),
            godwit_version: String::new(),
            plugin_digest: None,
            statements_applied: 0,
            statements_total: 0,
            rows_affected: None,
            error: None,
        };
        let path = |rows: &[HistoryRow]| -> Vec<(String, history::Status)> {
            history::entries(&ms, rows)
                .into_iter()
                .map(|e| (e.version.to_string(), e.status))
                .collect()
        };
        use history::Status::{Applied, Pending};
        // No history (or only rolled-back rows): the newest baseline, then what follows it.
        let fresh = vec![
            ("B2".into(), Pending),
            ("2.1".into(), Pending),
            ("R__view".into(), Pending),
        ];
        assert_eq!(path(&[]), fresh);
        let versions = |rows: &[HistoryRow]| -> Vec<String> {
            path(rows).into_iter().map(|(v, _)| v).collect()
        };
        assert_eq!(
            versions(&[row("B2", "rolled_back")]),
            ["B2", "2.1", "R__view"]
        );
        assert_eq!(history::Baseline::of(&ms, &[]).covers(&ms), 2);
        // It took the baseline: still its path, with the baseline applied.
        assert_eq!(
            path(&[row("B2", "applied")])[..2],
            [("B2".into(), Applied), ("2.1".into(), Pending)]
        );
        // An older baseline taken stays the one, whatever baselines came since.
        assert_eq!(
            versions(&[row("B1", "applied")]),
            ["B1", "2", "2.1", "R__view"]
        );
        // Deployed before the baselines existed: versioned migrations only.
        assert_eq!(
            path(&[row("1", "applied")])[..3],
            [
                ("1".into(), Applied),
                ("2".into(), Pending),
                ("2.1".into(), Pending)
            ]
        );
        assert_eq!(history::in_effect(&ms, &[row("1", "applied")]).len(), 4);
        // What `godwit resolve B2` and the history table write reads back as the baseline.
        assert_eq!(Version::parse_recorded("B2").as_ref(), Some(&b2.version));
        assert!(Version::parse("B2").is_none());
    }

    #[test]
    fn flyway_versions_undo_and_repeatables() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("V1__init.sql", "CREATE TABLE a (id int);"),
                ("V1_1__more.sql", "CREATE TABLE b (id int);"),
                ("U1_1__more.sql", "DROP TABLE b;"),
                ("sub/V2__nested.sql", "CREATE TABLE c (id int);"),
                ("sub/V2__nested.sql.conf", "executeInTransaction=false\n"),
                ("R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS x;"),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        let versions: Vec<&str> = ms.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(versions, vec!["1", "1.1", "2", "R__views"]);
        assert!(left_out(dir.path(), &LayoutSpec::default()).is_empty());
        write(dir.path(), &[("v3_lowercase.sql", "SELECT 1;")]);
        assert_eq!(
            left_out(dir.path(), &LayoutSpec::default()),
            [(
                "v3_lowercase.sql".to_string(),
                "not named V<v>__, U<v>__, B<v>__ or R__: Flyway skips it too"
            )]
        );
        // ehrbase's beforeValidate.sql is a callback, which Flyway does run.
        write(
            dir.path(),
            &[
                (
                    "beforeValidate.sql",
                    "UPDATE flyway_schema_history SET checksum = 1;",
                ),
                ("afterMigrate__refresh.sql", "SELECT 1;"),
            ],
        );
        let callbacks: Vec<String> = left_out(dir.path(), &LayoutSpec::default())
            .into_iter()
            .filter(|(_, why)| why.starts_with("a Flyway callback"))
            .map(|(file, _)| file)
            .collect();
        assert_eq!(
            callbacks,
            ["afterMigrate__refresh.sql", "beforeValidate.sql"]
        );
        assert!(ms[1].down.is_some());
        assert_eq!(ms[2].up.no_transaction, Some(NoTransaction::Flyway));
        assert_eq!(ms[2].origin, "sub/V2__nested.sql");
        // A repeatable is named once, as its file is: not `R__views_views`.
        assert_eq!(ms[3].id(), "R__views");
        assert_eq!(ms[0].id(), "1_init");
    }

    #[test]
    fn a_rust_project_on_sqlx_reads_its_up_down_files_as_sqlx() {
        let files = [
            (
                "migrations/20240101000000_init.up.sql",
                "CREATE TABLE t (a int);",
            ),
            ("migrations/20240101000000_init.down.sql", "DROP TABLE t;"),
        ];
        let manifests = [
            "[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n",
            "[dependencies]\nsqlx.workspace = true\n",
            "[workspace.dependencies]\n\"sqlx\" = \"0.8\"\n",
            "[dependencies.sqlx]\nversion = \"0.8\"\n",
            "[dependencies]\ndb = { package = \"sqlx\", version = \"0.8\" }\n",
        ];
        for manifest in manifests {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir(root.path().join(".git")).unwrap();
            write(root.path(), &files);
            write(root.path(), &[("Cargo.toml", manifest)]);
            let dir = root.path().join("migrations");
            assert_eq!(detect(&dir).unwrap(), Layout::Sqlx, "{manifest}");
        }
        // Not sqlx: another crate whose name starts the same, a comment, a Go project.
        for (manifest, other) in [
            ("[dependencies]\nsqlx-core-x = \"1\"\n", None),
            ("# sqlx = \"0.8\"\n[dependencies]\nserde = \"1\"\n", None),
            (
                "[dependencies]\nsqlx = \"0.8\"\n",
                Some(("migrations/go.mod", "module x\n")),
            ),
        ] {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir(root.path().join(".git")).unwrap();
            write(root.path(), &files);
            write(root.path(), &[("Cargo.toml", manifest)]);
            if let Some(file) = other {
                write(root.path(), &[file]);
            }
            let dir = root.path().join("migrations");
            assert_eq!(detect(&dir).unwrap(), Layout::GolangMigrate, "{manifest}");
        }
    }

    /// ente's golang-migrate folder names some down files apart from their up files;
    /// golang-migrate (and sqlx) pair them by version.
    #[test]
    fn up_and_down_files_pair_by_version_not_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("29_users.up.sql", "CREATE TABLE users (id int);"),
                ("29_users.down.sql", "DROP TABLE users;"),
                (
                    "30_add_magic_metadata.up.sql",
                    "ALTER TABLE users ADD COLUMN m text;",
                ),
                (
                    "30_drop_magic_metadata.down.sql",
                    "ALTER TABLE users DROP COLUMN m;",
                ),
                ("31_no_down.up.sql", "SELECT 1;"),
            ],
        );
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        let down = |i: usize| ms[i].down.as_ref().map(|d| d.text.clone());
        assert_eq!(down(0).as_deref(), Some("DROP TABLE users;"));
        assert_eq!(down(1).as_deref(), Some("ALTER TABLE users DROP COLUMN m;"));
        assert_eq!(down(2), None);
        // Where `godwit new`'s missing down goes: named after the up file.
        assert!(
            matches!(&ms[2].down_place, DownPlace::File(p) if p.ends_with("31_no_down.down.sql"))
        );

        // Down files with no up file of their version are all named at once.
        write(
            dir.path(),
            &[
                ("40_gone.down.sql", "SELECT 1;"),
                ("41_gone_too.down.sql", "SELECT 1;"),
            ],
        );
        let err = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("40_gone.down.sql") && err.contains("41_gone_too.down.sql"),
            "{err}"
        );
        // Two down files for one version: which one runs would be a guess.
        std::fs::remove_file(dir.path().join("40_gone.down.sql")).unwrap();
        std::fs::remove_file(dir.path().join("41_gone_too.down.sql")).unwrap();
        write(dir.path(), &[("30_other.down.sql", "SELECT 1;")]);
        let err = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap_err();
        assert!(matches!(err, Error::Source { .. }), "{err:?}");
    }

    #[test]
    fn a_folder_per_database_says_which_setting_picks_one() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                (
                    "migrations/mysql/2018-01-14-171611_create_tables/up.sql",
                    "SELECT 1;",
                ),
                (
                    "migrations/postgresql/2019-09-12-100000_create_tables/up.sql",
                    "SELECT 1;",
                ),
            ],
        );
        let err = read(
            &root.path().join("migrations"),
            &LayoutSpec::default(),
            Dialect::MySql,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Source { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("migrations = \"migrations/mysql\""),
            "{err}"
        );
        // Pointed at PostgreSQL, the hint names PostgreSQL's folder (apalis's hint named
        // mysql/ for a postgres:// URL).
        let err = read(
            &root.path().join("migrations"),
            &LayoutSpec::default(),
            Dialect::Postgres,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("(PostgreSQL), e.g. `migrations = \"migrations/postgresql\"`"),
            "{err}"
        );
    }

    /// atuin's sqlx folders are one-file migrations: sqlx has nowhere to keep their down
    /// script, so nothing asks for one.
    #[test]
    fn sqlx_one_file_migrations_have_nowhere_for_a_down() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "20210425153745_create_history.sql",
                    "CREATE TABLE history (id int);",
                ),
                ("20210425153800_pair.up.sql", "CREATE TABLE pair (id int);"),
                ("20210425153800_pair.down.sql", "DROP TABLE pair;"),
                ("20210425153900_lonely.up.sql", "SELECT 1;"),
            ],
        );
        let spec = LayoutSpec {
            layout: Some(Layout::Sqlx),
            pattern: None,
        };
        let ms = read(dir.path(), &spec, Dialect::Postgres).unwrap();
        assert!(matches!(ms[0].down_place, DownPlace::Nowhere { .. }));
        assert!(ms[1].down.is_some());
        assert!(
            matches!(&ms[2].down_place, DownPlace::File(p) if p.ends_with("20210425153900_lonely.down.sql"))
        );
    }

    /// Flyway reads `V04` and `V4` (and `V4.0`) as one version and refuses the pair.
    #[test]
    fn versions_of_one_number_spelled_apart_are_duplicates() {
        for (a, b) in [
            ("V4__use.sql", "V04__dup.sql"),
            ("V4__use.sql", "V4.0__dup.sql"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), &[(a, "SELECT 1;"), (b, "SELECT 2;")]);
            let err = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap_err();
            assert!(
                err.to_string().contains("is also used by"),
                "{a} {b}: {err}"
            );
        }
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(v("4").value_cmp(&v("04")), std::cmp::Ordering::Equal);
        assert_ne!(v("4"), v("04"), "the text stays as written");
        assert_eq!(v("9").cmp(&v("10")), std::cmp::Ordering::Less);
    }

    #[test]
    fn golang_migrate_names_end_at_the_direction() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("30_ignore_autotag.up..sql", "SELECT 1;"),
                ("30_ignore_autotag.down.sql", "SELECT 2;"),
                ("31_plain.up.sql", "SELECT 3;"),
            ],
        );
        let ms = read(
            dir.path(),
            &LayoutSpec {
                layout: Some(Layout::GolangMigrate),
                pattern: None,
            },
            Dialect::Sqlite,
        )
        .unwrap();
        let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ignore_autotag", "plain"]);
        assert!(ms[0].down.is_some());
    }

    #[test]
    fn sqlx_and_golang_migrate() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "1_init.up.sql",
                    "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
                ),
                ("1_init.down.sql", "DROP INDEX i;"),
            ],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Sqlx);
        let m = &read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap()[0];
        assert!(m.up.no_transaction == Some(NoTransaction::Sqlx) && m.down.is_some());
        let gm = &read(
            dir.path(),
            &LayoutSpec {
                layout: Some(Layout::GolangMigrate),
                pattern: None,
            },
            Dialect::Postgres,
        )
        .unwrap()[0];
        assert!(
            gm.up.no_transaction.is_none(),
            "golang-migrate has no such directive"
        );
        let statements = gm.up.statements(Dialect::Postgres).unwrap();
        assert!(
            !gm.up
                .transaction_mode(&statements, Dialect::Postgres)
                .is_transaction(),
            "but a CONCURRENTLY file cannot be wrapped"
        );
    }

    #[test]
    fn pattern_for_authelia_style_names() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("V0001.Initial_Schema.up.sql", "CREATE TABLE a (id int);"),
                ("V0001.Initial_Schema.down.sql", "DROP TABLE a;"),
                ("V0002.More.up.sql", ""),
            ],
        );
        let spec = LayoutSpec {
            layout: None,
            pattern: Some("V{version}.{name}.{direction}.sql".into()),
        };
        let ms = read(dir.path(), &spec, Dialect::Postgres).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].name, "Initial_Schema");
        assert!(ms[0].down.is_some() && ms[1].down.is_none());
        let bad = LayoutSpec {
            layout: None,
            pattern: Some("V{ver}.sql".into()),
        };
        assert!(
            read(dir.path(), &bad, Dialect::Postgres)
                .unwrap_err()
                .to_string()
                .contains("placeholders are")
        );
    }

    /// A folder another tool named (authelia's `V0001.Initial_Schema.up.sql`, a dash
    /// after the version) is read as golang-migrate's and fails on its first file; the
    /// error suggests a `pattern`, and that pattern reads the whole folder.
    #[test]
    fn a_misnamed_file_suggests_the_pattern_that_reads_it() {
        for (files, expected) in [
            (
                [
                    "V0001.Initial_Schema.up.sql",
                    "V0001.Initial_Schema.down.sql",
                    "V0002.More.up.sql",
                ],
                "V{version}.{name}.{direction}.sql",
            ),
            (
                ["0001-init.up.sql", "0001-init.down.sql", "0002-more.up.sql"],
                "{version}-{name}.{direction}.sql",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let contents: Vec<(&str, &str)> = files.iter().map(|f| (*f, "SELECT 1;")).collect();
            write(dir.path(), &contents);
            let detected = LayoutSpec {
                layout: None,
                pattern: None,
            };
            let message = read(dir.path(), &detected, Dialect::Postgres)
                .unwrap_err()
                .to_string();
            let suggested = message
                .split_once("`pattern = \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(pattern, _)| pattern.to_owned())
                .unwrap_or_else(|| panic!("no pattern suggested: {message}"));
            assert_eq!(suggested, expected);
            let spec = LayoutSpec {
                layout: None,
                pattern: Some(suggested),
            };
            let ms = read(dir.path(), &spec, Dialect::Postgres).unwrap();
            assert_eq!(versions(&ms), ["0001", "0002"]);
            assert!(ms[0].down.is_some());
        }
        // Nothing to suggest for a name with no version in it.
        assert_eq!(super::suggested_pattern("init.up.sql"), None);
        assert_eq!(super::suggested_pattern("V1.sql"), None, "no name");
        assert_eq!(
            super::suggested_pattern("R__refresh_views.sql").as_deref(),
            None
        );
    }

    fn versions(ms: &[Migration]) -> Vec<&str> {
        ms.iter().map(|m| m.version.as_str()).collect()
    }

    /// Shaped like Kratos: files per database, dialect-less defaults, `.autocommit`,
    /// `.sqlite` spelled as popx's synonym, and empty files for databases with nothing to do.
    #[test]
    fn popx_picks_each_database_s_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "20150100000001000000_networks.postgres.up.sql",
                    "CREATE TABLE networks (id UUID);",
                ),
                (
                    "20150100000001000000_networks.postgres.down.sql",
                    "DROP TABLE networks;",
                ),
                (
                    "20150100000001000000_networks.mysql.up.sql",
                    "CREATE TABLE networks (id CHAR(36));",
                ),
                (
                    "20150100000001000000_networks.mysql.down.sql",
                    "DROP TABLE networks;",
                ),
                (
                    "20150100000001000000_networks.sqlite3.up.sql",
                    "CREATE TABLE networks (id TEXT);",
                ),
                (
                    "20150100000001000000_networks.sqlite3.down.sql",
                    "DROP TABLE networks;",
                ),
                (
                    "20150100000001000000_networks.cockroach.up.sql",
                    "CREATE TABLE networks (id UUID);",
                ),
                (
                    "20150100000001000000_networks.cockroach.down.sql",
                    "DROP TABLE networks;",
                ),
                // Only SQLite needs this step (a table rebuild).
                (
                    "20191100000001000001_identities.sqlite.up.sql",
                    "ALTER TABLE networks ADD COLUMN x TEXT;",
                ),
                ("20191100000001000001_identities.sqlite.down.sql", ""),
                // Every database but PostgreSQL runs the dialect-less file.
                (
                    "20260616000000000000_messages_index.autocommit.up.sql",
                    "CREATE INDEX IF NOT EXISTS i ON networks (id);",
                ),
                (
                    "20260616000000000000_messages_index.autocommit.down.sql",
                    "DROP INDEX IF EXISTS i;",
                ),
                (
                    "20260616000000000000_messages_index.postgres.autocommit.up.sql",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON networks (id);",
                ),
                (
                    "20260616000000000000_messages_index.postgres.autocommit.down.sql",
                    "DROP INDEX CONCURRENTLY IF EXISTS i;",
                ),
                (
                    "20260616000000000000_messages_index.mysql.up.sql",
                    "CREATE INDEX i ON networks (id);",
                ),
                ("20260616000000000000_messages_index.mysql.down.sql", ""),
                ("20260701000000000000_plain.up.sql", "SELECT 1;"),
                ("20260701000000000000_plain.down.sql", "SELECT 1;"),
                ("README.md", "not a migration"),
            ],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Popx);
        let read_for = |d| read(dir.path(), &LayoutSpec::default(), d).unwrap();

        let pg = read_for(Dialect::Postgres);
        assert_eq!(
            versions(&pg),
            vec![
                "20150100000001000000",
                "20260616000000000000",
                "20260701000000000000"
            ]
        );
        assert!(pg[1].up.text.contains("CONCURRENTLY"));
        assert_eq!(pg[1].up.no_transaction, Some(NoTransaction::Popx));
        assert_eq!(pg[1].name, "messages_index");
        assert_eq!(
            pg[1].origin,
            "20260616000000000000_messages_index.postgres.autocommit.up.sql"
        );
        assert_eq!(
            pg[2].up.no_transaction, None,
            "popx wraps other files in a transaction"
        );
        let statements = pg[1].up.statements(Dialect::Postgres).unwrap();
        assert_eq!(
            pg[1].up.transaction_mode(&statements, Dialect::Postgres),
            super::super::TransactionMode::StatementByStatement {
                why: super::super::WhyNoTransaction::Marker {
                    marker: NoTransaction::Popx
                }
            }
        );

        let my = read_for(Dialect::MySql);
        assert_eq!(versions(&my).len(), 3);
        assert!(my[0].up.text.contains("CHAR(36)"));
        assert_eq!(my[1].up.text, "CREATE INDEX i ON networks (id);");
        assert_eq!(
            my[1].up.no_transaction, None,
            "the mysql file is not .autocommit"
        );
        assert_eq!(my[1].down.as_ref().unwrap().text, "");

        let lite = read_for(Dialect::Sqlite);
        assert_eq!(
            versions(&lite).len(),
            4,
            "the SQLite-only step exists on SQLite"
        );
        assert!(lite[2].up.text.starts_with("CREATE INDEX IF NOT EXISTS"));
        assert_eq!(lite[2].up.no_transaction, Some(NoTransaction::Popx));
    }

    #[test]
    fn popx_refuses_what_it_would_silently_skip() {
        let cases: &[(&str, &str)] = &[
            ("1_a.postgress.up.sql", "popx does not know"),
            ("1_a.sql", "not named as popx expects"),
            ("1_a.up.fizz", "fizz"),
        ];
        for (file, says) in cases {
            let dir = tempfile::tempdir().unwrap();
            write(
                dir.path(),
                &[
                    ("1_a.postgres.up.sql", "SELECT 1;"),
                    ("1_a.postgres.down.sql", "SELECT 1;"),
                    (file, "SELECT 1;"),
                ],
            );
            let spec = LayoutSpec {
                layout: Some(Layout::Popx),
                pattern: None,
            };
            let err = read(dir.path(), &spec, Dialect::Postgres)
                .unwrap_err()
                .to_string();
            assert!(err.contains(file) && err.contains(says), "{file}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("1_a.up.sql", "SELECT 1;"),
                ("1_a.autocommit.up.sql", "SELECT 2;"),
                ("1_a.postgres.up.sql", "SELECT 3;"),
            ],
        );
        let spec = LayoutSpec {
            layout: Some(Layout::Popx),
            pattern: None,
        };
        assert!(
            read(dir.path(), &spec, Dialect::Postgres).is_ok(),
            "PostgreSQL's own wins"
        );
        let err = read(dir.path(), &spec, Dialect::MySql)
            .unwrap_err()
            .to_string();
        assert!(err.contains("second up script for version 1"), "{err}");
    }

    #[test]
    fn diesel_subversions_alone_are_diesel_and_hex_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("2025-09-19-132648-0000_theme/up.sql", "SELECT 1;\n"),
                ("2025-09-19-132648-0000_theme/down.sql", "SELECT 1;\n"),
            ],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Diesel);
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        assert_eq!(versions(&ms), vec!["202509191326480000"]);
        assert_eq!(ms[0].name, "theme");
        // The eleventh in one second: diesel writes -000a, which no godwit version holds.
        write(
            dir.path(),
            &[("2025-09-19-132648-000a_eleventh/up.sql", "SELECT 1;\n")],
        );
        let err = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap_err();
        match err {
            Error::Source { path, message } => {
                assert!(
                    path.ends_with("2025-09-19-132648-000a_eleventh"),
                    "{path:?}"
                );
                assert!(message.contains("-0009"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// vaultwarden's `2024-03-13_170000_sso_userscascade`: `_` where diesel writes `-`.
    /// godwit orders it by the time its name gives, which is where diesel runs it too
    /// unless another migration of that day would swap places with it.
    #[test]
    fn diesel_directory_with_an_underscore_after_the_date() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("2024-03-06-170000_add_sso_users/up.sql", "SELECT 1;\n"),
                ("2024-03-13_170000_sso_userscascade/up.sql", "SELECT 2;\n"),
                ("2024-06-05-131359_add_2fa_duo_store/up.sql", "SELECT 3;\n"),
            ],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Diesel);
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Sqlite).unwrap();
        assert_eq!(
            versions(&ms),
            vec!["20240306170000", "20240313170000", "20240605131359"]
        );
        assert_eq!(ms[1].name, "sso_userscascade");
        assert_eq!(diesel_recorded_version(&ms[1].origin), "20240313");
        assert_eq!(diesel_recorded_version(&ms[0].origin), "20240306170000");
        assert_eq!(
            diesel_recorded_version("2025-09-19-132648-0000_theme"),
            "202509191326480000"
        );
        // Another migration earlier that day: diesel would run the underscored one first.
        write(
            dir.path(),
            &[("2024-03-13-090000_morning/up.sql", "SELECT 4;\n")],
        );
        match read(dir.path(), &LayoutSpec::default(), Dialect::Sqlite).unwrap_err() {
            Error::Source { path, message } => {
                assert!(
                    path.ends_with("2024-03-13_170000_sso_userscascade"),
                    "{path:?}"
                );
                assert!(message.contains("2024-03-13-090000_morning"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn diesel_directories_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "00000000000000_diesel_initial_setup/up.sql",
                    "CREATE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS VOID AS $$\nBEGIN\n  EXECUTE 'SELECT 1';\nEND;\n$$ LANGUAGE plpgsql;\n",
                ),
                (
                    "00000000000000_diesel_initial_setup/down.sql",
                    "DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);\n",
                ),
                (
                    "2016-08-15-133237_create_users/up.sql",
                    "CREATE TABLE users (id SERIAL PRIMARY KEY);\n",
                ),
                (
                    "2016-08-15-133237_create_users/down.sql",
                    "DROP TABLE users;\n",
                ),
                (
                    "2016-08-16-090000_index_users/up.sql",
                    "CREATE INDEX CONCURRENTLY users_id ON users (id);\n",
                ),
                (
                    "2016-08-16-090000_index_users/metadata.toml",
                    "run_in_transaction = false\n",
                ),
                ("2016-08-17-090000_other/up.sql", "SELECT 1;\n"),
                // diesel 2.2's subversions, two in one second.
                ("2025-09-19-132648-0000_theme/up.sql", "SELECT 2;\n"),
                ("2025-09-19-132648-0001_theme_again/up.sql", "SELECT 3;\n"),
                // A metadata.toml that does not mention the key: diesel reads `false`.
                ("2016-08-17-090000_other/metadata.toml", "# nothing\n"),
                ("README.md", "diesel skips files"),
            ],
        );
        assert_eq!(detect(dir.path()).unwrap(), Layout::Diesel);
        let ms = read(dir.path(), &LayoutSpec::default(), Dialect::Postgres).unwrap();
        assert_eq!(
            versions(&ms),
            vec![
                "00000000000000",
                "20160815133237",
                "20160816090000",
                "20160817090000",
                "202509191326480000",
                "202509191326480001"
            ]
        );
        assert_eq!(ms[1].name, "create_users");
        assert_eq!(ms[1].origin, "2016-08-15-133237_create_users");
        assert_eq!(ms[0].up.no_transaction, None);
        assert_eq!(ms[2].up.no_transaction, Some(NoTransaction::Diesel));
        assert_eq!(ms[3].up.no_transaction, Some(NoTransaction::Diesel));
        assert!(ms[2].down.is_none());
        assert_eq!(
            ms[2].down_place,
            DownPlace::File(dir.path().join("2016-08-16-090000_index_users/down.sql"))
        );
    }

    /// memos keeps its migrations in one folder per release: a pattern reads the top
    /// of the folder only, so the folders are reported, never skipped ("up to date").
    #[test]
    fn pattern_reports_subfolders_and_repeated_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("0.19/00__add_resource_name.sql", "SELECT 1;"),
                ("0.19/01__memo_visibility.sql", "SELECT 1;"),
                ("0.20/00__reactions.sql", "SELECT 1;"),
                ("docs/notes.md", "not SQL"),
            ],
        );
        let spec = |pattern: &str| LayoutSpec {
            layout: None,
            pattern: Some(pattern.into()),
        };
        let err = read(
            dir.path(),
            &spec("{version}__{name}.sql"),
            Dialect::Postgres,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("2 files here do not match")
                && err.contains("0.19/ (a folder of 2 such files")
                && err.contains("0.20/")
                && !err.contains("docs"),
            "{err}"
        );
        let err = read(
            dir.path(),
            &spec("{version}/{version}__{name}.sql"),
            Dialect::Postgres,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("uses {version} twice"), "{err}");
    }

    #[test]
    fn pattern_reports_the_files_it_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("V0001.Initial_Schema.up.sql", "CREATE TABLE a (id int);"),
                ("V0001.Initial_Schema.down.sql", "DROP TABLE a;"),
                // A typo: it would never run.
                ("V0002_More.up.sql", "CREATE TABLE b (id int);"),
                ("README.md", "other kinds of files are not migrations"),
            ],
        );
        let spec = LayoutSpec {
            layout: None,
            pattern: Some("V{version}.{name}.{direction}.sql".into()),
        };
        let err = read(dir.path(), &spec, Dialect::Postgres)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1 file here does not match")
                && err.contains("V0002_More.up.sql")
                && !err.contains("README"),
            "{err}"
        );
        std::fs::rename(
            dir.path().join("V0002_More.up.sql"),
            dir.path().join("V0002.More.down.sql"),
        )
        .unwrap();
        let err = read(dir.path(), &spec, Dialect::Postgres)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no up script of the same version"), "{err}");
        std::fs::remove_file(dir.path().join("V0002.More.down.sql")).unwrap();
        let ms = read(dir.path(), &spec, Dialect::Postgres).unwrap();
        assert_eq!(
            ms[0].down_place,
            DownPlace::File(dir.path().join("V0001.Initial_Schema.down.sql"))
        );
        std::fs::remove_file(dir.path().join("V0001.Initial_Schema.down.sql")).unwrap();
        let no_direction = LayoutSpec {
            layout: None,
            pattern: Some("V{version}.{name}.up.sql".into()),
        };
        let ms = read(dir.path(), &no_direction, Dialect::Postgres).unwrap();
        assert!(matches!(ms[0].down_place, DownPlace::Nowhere { .. }));
    }

    /// One function decides how each file runs, the way the tool that wrote it ran it.
    #[test]
    fn transaction_mode_follows_each_tool() {
        use super::super::{TransactionMode, WhyNoTransaction};
        let mode = |layout: Layout, files: &[(&str, &str)], dialect: Dialect| {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), files);
            let spec = LayoutSpec {
                layout: Some(layout),
                pattern: None,
            };
            let ms = read(dir.path(), &spec, dialect).unwrap();
            let m = ms.last().unwrap();
            let statements = m.up.statements(dialect).unwrap();
            m.up.transaction_mode(&statements, dialect)
        };
        let by_marker = |marker| TransactionMode::StatementByStatement {
            why: WhyNoTransaction::Marker { marker },
        };
        let index = "CREATE INDEX CONCURRENTLY i ON t (a);\n";
        let pg = Dialect::Postgres;
        // Tools that sent the file as it is.
        for (layout, file) in [
            (Layout::GolangMigrate, "1_index.up.sql"),
            (Layout::Flyway, "V1__index.sql"),
        ] {
            assert_eq!(
                mode(layout, &[(file, index)], pg),
                TransactionMode::StatementByStatement {
                    why: WhyNoTransaction::RanAsIs {
                        tool: layout,
                        line: 1,
                        because: super::super::NeedsNoTransaction::Refused,
                    }
                },
                "{layout:?}"
            );
            assert!(mode(layout, &[(file, "CREATE TABLE t (a int);")], pg).is_transaction());
        }
        assert!(!mode(Layout::Prisma, &[("1_index/migration.sql", index)], pg).is_transaction());
        // Beside other statements in a file golang-migrate sent whole, the statement
        // stopped golang-migrate (one query is one transaction block); godwit runs each
        // on its own, and says so rather than "as golang-migrate ran it". Flyway saw the
        // statement and ran the file without a transaction (with `mixed`).
        let mixed = "CREATE INDEX CONCURRENTLY i ON t (a);\nALTER TABLE t ADD COLUMN b int;\n";
        let described = |layout, file| mode(layout, &[(file, mixed)], pg).describe();
        assert!(
            described(Layout::GolangMigrate, "1_index.up.sql")
                .contains("golang-migrate sends the file as one query, which PostgreSQL runs as one transaction, and would stop there"),
            "{}",
            described(Layout::GolangMigrate, "1_index.up.sql")
        );
        assert!(
            !described(Layout::Flyway, "V1__index.sql").contains("one query"),
            "{}",
            described(Layout::Flyway, "V1__index.sql")
        );
        // A file that opens and commits its own transaction runs as written in any
        // layout, never inside one of godwit's (zero-to-production's sqlx file).
        let own = "BEGIN;\nUPDATE t SET a = 1;\nCOMMIT;\n";
        for (layout, file) in [
            (Layout::Sqlx, "20210307184428_status.sql"),
            (Layout::Godwit, "20210307184428_status/up.sql"),
        ] {
            assert_eq!(
                mode(layout, &[(file, own)], pg),
                TransactionMode::StatementByStatement {
                    why: WhyNoTransaction::OwnTransaction { line: 1 }
                },
                "{layout:?}"
            );
        }
        // drizzle-orm runs the pending migrations in one transaction: there, as here, a
        // CONCURRENTLY file needs godwit's directive.
        let journal = r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1700000000000,"tag":"0000_index","breakpoints":true}]}"#;
        assert!(
            mode(
                Layout::Drizzle,
                &[("meta/_journal.json", journal), ("0000_index.sql", index)],
                pg
            )
            .is_transaction()
        );
        // A file that is a lone CALL, sent whole by golang-migrate (reportportal's
        // procedure commits per project): outside a transaction, as there. With other
        // statements, or from a tool that wrapped it (Flyway), in one, as there.
        let call = "CALL fill_attachment_creation_date();\n";
        assert_eq!(
            mode(Layout::GolangMigrate, &[("40_fill.up.sql", call)], pg),
            TransactionMode::StatementByStatement {
                why: WhyNoTransaction::RanAsIs {
                    tool: Layout::GolangMigrate,
                    line: 1,
                    because: super::super::NeedsNoTransaction::LoneCall,
                }
            }
        );
        let with_more = format!("{call}DROP PROCEDURE fill_attachment_creation_date();\n");
        assert!(
            mode(Layout::GolangMigrate, &[("40_fill.up.sql", &with_more)], pg).is_transaction()
        );
        assert!(mode(Layout::Flyway, &[("V40__fill.sql", call)], pg).is_transaction());
        // A file that manages its own transaction says so (reportportal ends with COMMIT).
        let own = mode(
            Layout::GolangMigrate,
            &[("1_init.up.sql", "CREATE TABLE t (a int);\nCOMMIT;\n")],
            pg,
        );
        assert!(
            own.describe()
                .contains("manages its own transaction (line 2)"),
            "{}",
            own.describe()
        );
        // Tools that wrapped every file unless it was marked.
        assert!(mode(Layout::Sqlx, &[("1_index.up.sql", index)], pg).is_transaction());
        assert_eq!(
            mode(
                Layout::Sqlx,
                &[("1_index.up.sql", &format!("-- no-transaction\n{index}"))],
                pg
            ),
            by_marker(NoTransaction::Sqlx)
        );
        assert_eq!(
            mode(
                Layout::Goose,
                &[(
                    "1_index.sql",
                    &format!("-- +goose NO TRANSACTION\n-- +goose Up\n{index}")
                )],
                pg
            ),
            by_marker(NoTransaction::Goose)
        );
        assert_eq!(
            mode(
                Layout::Dbmate,
                &[(
                    "1_index.sql",
                    &format!("-- migrate:up transaction:false\n{index}")
                )],
                pg
            ),
            by_marker(NoTransaction::Dbmate)
        );
        assert!(mode(Layout::Popx, &[("1_index.postgres.up.sql", index)], pg).is_transaction());
        assert_eq!(
            mode(
                Layout::Popx,
                &[("1_index.postgres.autocommit.up.sql", index)],
                pg
            ),
            by_marker(NoTransaction::Popx)
        );
        assert!(
            mode(
                Layout::Diesel,
                &[("2016-08-16-090000_index/up.sql", index)],
                pg
            )
            .is_transaction()
        );
        assert_eq!(
            mode(
                Layout::Godwit,
                &[(
                    "1_index/up.sql",
                    &format!("-- godwit:no-transaction\n{index}")
                )],
                pg
            ),
            by_marker(NoTransaction::Godwit)
        );
        // godwit's own directive works in another tool's folder too.
        assert_eq!(
            mode(
                Layout::Sqlx,
                &[(
                    "1_index.up.sql",
                    &format!("-- godwit:no-transaction\n{index}")
                )],
                pg
            ),
            by_marker(NoTransaction::Godwit)
        );
        assert_eq!(
            mode(
                Layout::Godwit,
                &[("1_t/up.sql", "CREATE TABLE t (a int);")],
                Dialect::MySql
            ),
            TransactionMode::StatementByStatement {
                why: WhyNoTransaction::ImplicitCommit
            }
        );
    }
}
