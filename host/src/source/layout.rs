//! Migration folders as other tools lay them out, read in place: switching to godwit
//! must not mean renaming a single file. Each tool's markers keep the meaning they had
//! there (goose's `StatementBegin`, dbmate's `transaction:false`, sqlx's
//! `-- no-transaction`, Drizzle's breakpoints, Flyway's undo and repeatable scripts).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Directives, Migration, Script, Splitting, Version, checksum, read_text};
use crate::Error;

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
        }
    }
}

/// What godwit.toml says about the folder; everything unset is detected.
#[derive(Clone, Debug, Default)]
pub struct LayoutSpec {
    pub layout: Option<Layout>,
    pub pattern: Option<String>,
}

/// Reads every migration under `dir`, sorted by version.
pub fn read(dir: &Path, spec: &LayoutSpec) -> Result<Vec<Migration>, Error> {
    if !dir.is_dir() {
        return Err(Error::Config(format!(
            "the migrations directory {} does not exist; run `godwit init`, or set `migrations` in godwit.toml",
            dir.display()
        )));
    }
    let mut migrations = match (&spec.pattern, spec.layout) {
        (Some(pattern), _) => read_pattern(dir, pattern)?,
        (None, layout) => match layout.map(Ok).unwrap_or_else(|| detect(dir))? {
            Layout::Godwit => read_godwit(dir)?,
            Layout::Prisma => read_prisma(dir)?,
            Layout::Drizzle => read_drizzle(dir)?,
            Layout::Sqlx => read_up_down_files(dir, true)?,
            Layout::GolangMigrate => read_up_down_files(dir, false)?,
            Layout::Flyway => read_flyway(dir)?,
            Layout::Goose => read_sections(dir, Sections::Goose)?,
            Layout::Dbmate => read_sections(dir, Sections::Dbmate)?,
        },
    };
    migrations.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
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
    if entries.iter().any(|(_, p)| p.join("up.sql").is_file()) {
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
    if sql.iter().any(|(_, p)| head(p).contains("-- +goose up")) {
        return Ok(Layout::Goose);
    }
    if sql.iter().any(|(_, p)| head(p).contains("-- migrate:up")) {
        return Ok(Layout::Dbmate);
    }
    if sql.iter().any(|(n, _)| n.ends_with(".up.sql")) {
        let sqlx_directive = sql
            .iter()
            .any(|(_, p)| head(p).starts_with("-- no-transaction"));
        return Ok(if sqlx_directive {
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
        "cannot tell which tool wrote this folder; set `layout` (godwit, prisma, drizzle, sqlx, flyway, goose, dbmate, golang-migrate) \
         or `pattern` (e.g. \"V{version}.{name}.{direction}.sql\") in godwit.toml",
    ))
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
    }
}

fn foreign(mut script: Script) -> Script {
    script.foreign = true;
    script
}

fn read_godwit(dir: &Path) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
    for (name, path) in entries(dir)? {
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
                    foreign: false,
                };
                let mut m = migration(version, label, &path, name, script, down);
                m.checksum = checksum(&text);
                m.step = Some(Box::new(step));
                migrations.push(m);
            }
        }
    }
    Ok(migrations)
}

fn read_prisma(dir: &Path) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
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
        migrations.push(migration(
            version,
            label,
            &path,
            name,
            foreign(Script::read(&file)?),
            None,
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
        let mut up = foreign(Script::read(&file)?);
        if entry.breakpoints {
            up.splitting = Splitting::Breakpoints;
        }
        let mut m = migration(version, label, dir, format!("{}.sql", entry.tag), up, None);
        m.created_at = Some(entry.when);
        migrations.push(m);
    }
    Ok(migrations)
}

/// sqlx (`<v>_<name>.sql`, `.up.sql`, `.down.sql`, `-- no-transaction` as the first line)
/// and golang-migrate (`.up.sql` / `.down.sql`, no directives, no implicit transaction).
fn read_up_down_files(dir: &Path, sqlx: bool) -> Result<Vec<Migration>, Error> {
    let read = |path: &Path| -> Result<Script, Error> {
        let text = read_text(path)?;
        let directives = Directives {
            no_transaction: sqlx
                && text
                    .lines()
                    .next()
                    .is_some_and(|l| l.trim() == "-- no-transaction"),
            ..Directives::default()
        };
        Ok(Script {
            path: path.to_path_buf(),
            text,
            directives,
            splitting: Splitting::Tokenizer,
            foreign: !sqlx,
        })
    };
    let mut migrations = Vec::new();
    let files = entries(dir)?;
    for (name, path) in &files {
        if !path.is_file() || name.ends_with(".down.sql") || !name.ends_with(".sql") {
            continue;
        }
        let stem = name.trim_end_matches(".sql").trim_end_matches(".up");
        let (version, label) = version_and_name(stem).ok_or_else(|| {
            Error::source(
                path,
                "a migration file is named <version>_<name>.sql (or .up.sql / .down.sql)",
            )
        })?;
        let down_path = dir.join(format!("{stem}.down.sql"));
        let down = down_path.is_file().then(|| read(&down_path)).transpose()?;
        migrations.push(migration(
            version,
            label,
            dir,
            name.clone(),
            read(path)?,
            down,
        ));
    }
    for (name, path) in &files {
        if let Some(stem) = name.strip_suffix(".down.sql")
            && !dir.join(format!("{stem}.up.sql")).is_file()
        {
            return Err(Error::source(
                path,
                format!("has no matching {stem}.up.sql"),
            ));
        }
    }
    Ok(migrations)
}

/// `V1.2__name.sql` → ('V', "1.2", "name"); Flyway writes `_` for `.` in versions.
fn flyway_name(file: &str) -> Option<(char, String, String)> {
    let stem = file.strip_suffix(".sql")?;
    let kind = stem.chars().next()?;
    let (version, name) = stem[1..].split_once("__")?;
    match kind {
        'R' if version.is_empty() => Some(('R', String::new(), name.to_string())),
        'V' | 'U' if !version.is_empty() => {
            Some((kind, version.replace('_', "."), name.to_string()))
        }
        _ => None,
    }
}

fn read_flyway(dir: &Path) -> Result<Vec<Migration>, Error> {
    let mut files = Vec::new();
    collect_sql(dir, dir, &mut files)?;
    let read = |path: &Path| -> Result<Script, Error> {
        let mut script = Script::read(path)?;
        // A per-script `.sql.conf` is how Flyway turns off its transaction.
        let conf = PathBuf::from(format!("{}.conf", path.display()));
        if conf.is_file()
            && read_text(&conf)?
                .lines()
                .any(|l| l.replace(' ', "") == "executeInTransaction=false")
        {
            script.directives.no_transaction = true;
        }
        Ok(script)
    };
    let mut migrations = Vec::new();
    for (origin, path) in &files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let Some((kind, version, name)) = flyway_name(&file) else {
            continue;
        };
        let version = match kind {
            'U' => continue,
            'R' => Version::repeatable(&name),
            _ => Version::parse(&version).ok_or_else(|| {
                Error::source(path, format!("`{version}` is not a Flyway version"))
            })?,
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
        migrations.push(migration(
            version,
            name,
            dir,
            origin.clone(),
            read(path)?,
            undo,
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
    for (name, path) in entries(dir)? {
        if name.ends_with(".go") && tool == Sections::Goose {
            return Err(Error::source(
                &path,
                "goose Go migrations run code godwit cannot run; port it to SQL or to a godwit plugin step",
            ));
        }
        if !path.is_file() || !name.ends_with(".sql") {
            continue;
        }
        let (version, label) =
            version_and_name(name.trim_end_matches(".sql")).ok_or_else(|| {
                Error::source(&path, "a migration file is named <version>_<name>.sql")
            })?;
        let text = read_text(&path)?;
        let (up, down) = sections(&path, &text, tool)?;
        migrations.push(migration(version, label, dir, name.clone(), up, down));
    }
    Ok(migrations)
}

fn sections(path: &Path, text: &str, tool: Sections) -> Result<(Script, Option<Script>), Error> {
    #[derive(Clone, Copy, PartialEq)]
    enum In {
        Header,
        Up,
        Down,
    }
    let (mut up, mut down) = (String::new(), String::new());
    let (mut up_tx, mut down_tx, mut seen_up) = (true, true, false);
    let mut at = In::Header;
    for line in text.split_inclusive('\n') {
        let marker = line.trim().to_ascii_lowercase();
        let blank = if line.ends_with('\n') { "\n" } else { "" };
        let section = match tool {
            Sections::Goose => match marker.as_str() {
                "-- +goose up" => Some(In::Up),
                "-- +goose down" => Some(In::Down),
                "-- +goose no transaction" => {
                    (up_tx, down_tx) = (false, false);
                    Some(at)
                }
                _ => None,
            },
            Sections::Dbmate => {
                let mut words = marker.split_whitespace();
                let which = match (words.next(), words.next()) {
                    (Some("--"), Some("migrate:up")) => Some(In::Up),
                    (Some("--"), Some("migrate:down")) => Some(In::Down),
                    _ => None,
                };
                if let Some(which) = which
                    && marker.contains("transaction:false")
                {
                    if which == In::Up {
                        up_tx = false
                    } else {
                        down_tx = false
                    }
                }
                which
            }
        };
        if let Some(section) = section {
            seen_up |= section == In::Up;
            at = section;
            up.push_str(blank);
            down.push_str(blank);
            continue;
        }
        let (mine, other) = match at {
            In::Up => (&mut up, &mut down),
            In::Down => (&mut down, &mut up),
            In::Header => {
                up.push_str(blank);
                down.push_str(blank);
                continue;
            }
        };
        mine.push_str(line);
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
    let script = |text: String, transactional: bool| Script {
        path: path.to_path_buf(),
        text,
        directives: Directives {
            no_transaction: !transactional,
            ..Directives::default()
        },
        splitting: splitting.clone(),
        foreign: false,
    };
    let has_sql = down.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with("--")
    });
    Ok((script(up, up_tx), has_sql.then(|| script(down, down_tx))))
}

/// `pattern = "V{version}.{name}.{direction}.sql"`: for folders no known tool wrote.
fn read_pattern(dir: &Path, pattern: &str) -> Result<Vec<Migration>, Error> {
    let mut regex = String::from("^");
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        regex.push_str(&regex::escape(&rest[..open]));
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| Error::Config(format!("pattern `{pattern}` has an unclosed `{{`")))?;
        regex.push_str(match &rest[open + 1..close] {
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
    let mut ups: Vec<(Version, String, String, PathBuf)> = Vec::new();
    let mut downs: Vec<(Version, PathBuf)> = Vec::new();
    for (file, path) in entries(dir)? {
        let Some(captures) = regex.captures(&file) else {
            continue;
        };
        let version_text = captures["version"].replace('_', ".");
        let version = Version::parse(&version_text)
            .ok_or_else(|| Error::source(&path, format!("`{version_text}` is not a version")))?;
        let name = captures
            .name("name")
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        match captures.name("direction").map(|d| d.as_str()) {
            Some("down") => downs.push((version, path)),
            _ => ups.push((version, name, file, path)),
        }
    }
    let mut migrations = Vec::new();
    for (version, name, file, path) in ups {
        let down = downs
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, p)| Script::read(p))
            .transpose()?;
        migrations.push(migration(
            version,
            name,
            dir,
            file,
            Script::read(&path)?,
            down,
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
        let m = &read(dir.path(), &LayoutSpec::default()).unwrap()[0];
        assert!(m.up.directives.no_transaction);
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
        let m = &read(dir.path(), &LayoutSpec::default()).unwrap()[0];
        assert!(m.up.directives.no_transaction);
        assert!(!m.down.as_ref().unwrap().directives.no_transaction);
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
        let ms = read(dir.path(), &LayoutSpec::default()).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].created_at, Some(1700000000000));
        let statements = ms[0].up.statements(Dialect::Postgres).unwrap();
        assert_eq!(
            statements.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
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
        let ms = read(dir.path(), &LayoutSpec::default()).unwrap();
        let versions: Vec<&str> = ms.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(versions, vec!["1", "1.1", "2", "R__views"]);
        assert!(ms[1].down.is_some());
        assert!(ms[2].up.directives.no_transaction);
        assert_eq!(ms[2].origin, "sub/V2__nested.sql");
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
        let m = &read(dir.path(), &LayoutSpec::default()).unwrap()[0];
        assert!(m.up.directives.no_transaction && m.down.is_some());
        let gm = &read(
            dir.path(),
            &LayoutSpec {
                layout: Some(Layout::GolangMigrate),
                pattern: None,
            },
        )
        .unwrap()[0];
        assert!(
            !gm.up.directives.no_transaction,
            "golang-migrate has no such directive"
        );
        let statements = gm.up.statements(Dialect::Postgres).unwrap();
        assert!(
            !gm.up.transactional(&statements),
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
        let ms = read(dir.path(), &spec).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].name, "Initial_Schema");
        assert!(ms[0].down.is_some() && ms[1].down.is_none());
        let bad = LayoutSpec {
            layout: None,
            pattern: Some("V{ver}.sql".into()),
        };
        assert!(
            read(dir.path(), &bad)
                .unwrap_err()
                .to_string()
                .contains("placeholders are")
        );
    }
}
