//! Reading migration directories: versions, names, directives and checksums.
//!
//! Everything here is checked before a single statement runs, so a malformed file
//! late in the list stops the deploy while the database is still untouched.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

mod create;
mod envsub;
mod layout;

pub use create::{NewMigration, create, next_version};
pub use layout::{
    Layout, LayoutSpec, declared_dialect, detect, diesel_recorded_version, left_out, read,
    sniffed_dialect,
};

use crate::split::{self, Statement};
use crate::{Dialect, Error};

/// A migration version as written: digits, optionally dotted (`20261121090000`, `0007`,
/// Flyway's `1.2.3`), `R__name` for a Flyway repeatable migration, or `B1.2.3` for a
/// Flyway baseline migration (a `B1.2.3__name.sql` file: the schema as of version 1.2.3,
/// built in one script for an empty database; see [`crate::history::Baseline`]).
///
/// Compared by numeric value segment by segment, so `9` sorts before `10` whatever the
/// padding and `1.10` after `1.9`; a baseline comes right before the version of the same
/// number, and repeatables after every versioned migration. The text is kept as written
/// because it is what the history table and the user see.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        if let Some(name) = text.strip_prefix("R__") {
            return (!name.is_empty()).then(|| Version(text.to_string()));
        }
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .split('.')
                .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        valid.then(|| Version(text.to_string()))
    }

    /// A version as the history table or the user writes it: what [`Version::parse`]
    /// reads, or a baseline's `B1.2.3`. (File names go through `parse`: a folder named
    /// `B1_x` is no baseline outside Flyway's layout.)
    pub fn parse_recorded(text: &str) -> Option<Version> {
        match text.strip_prefix('B') {
            Some(number) => Version::parse(number)
                .filter(|v| !v.is_repeatable())
                .map(|v| Version::baseline(&v)),
            None => Version::parse(text),
        }
    }

    /// The version of a Flyway baseline migration of `version` (`B1.2.3`).
    pub fn baseline(version: &Version) -> Version {
        Version(format!("B{}", version.0))
    }

    /// A Flyway baseline migration's version (`B1.2.3`).
    pub fn is_baseline(&self) -> bool {
        self.0.starts_with('B')
    }

    /// A Flyway repeatable: applied after the versioned ones, again whenever it changes.
    pub fn repeatable(name: &str) -> Version {
        Version(format!("R__{name}"))
    }

    pub fn is_repeatable(&self) -> bool {
        self.0.starts_with("R__")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Same number whatever the padding: `00001` and `1` (other tools store integers).
    pub fn same_number(&self, other: &Version) -> bool {
        self.is_repeatable() == other.is_repeatable()
            && self.is_baseline() == other.is_baseline()
            && self.segments().eq(other.segments())
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        let digits = self.0.strip_prefix('B').unwrap_or(&self.0);
        digits.split('.').map(|s| {
            let trimmed = s.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value_cmp(other).then_with(|| self.0.cmp(&other.0))
    }
}

impl Version {
    /// The order of the numbers the versions stand for, without the tie-break on their
    /// text: `4`, `04` and `4.0` are one version, as Flyway, golang-migrate, goose and
    /// sqlx read them (each refuses two files of one version).
    pub fn value_cmp(&self, other: &Self) -> Ordering {
        // A baseline is the schema as of its number: `down --to 1.1` keeps `B1.1`.
        self.number_cmp(other)
            .then_with(|| other.is_baseline().cmp(&self.is_baseline()))
    }

    /// The order of the numbers alone: a baseline `B4` is neither before nor after `4`.
    pub fn number_cmp(&self, other: &Self) -> Ordering {
        match (self.is_repeatable(), other.is_repeatable()) {
            (true, true) => return self.0.cmp(&other.0),
            (a, b) if a != b => return a.cmp(&b),
            _ => {}
        }
        // Timestamps of different precision order by time, as the tools that write them
        // order them (as text): diesel 2.2's `YYYYMMDDHHMMSSNNNN` beside its older
        // `YYYYMMDDHHMMSS` (20260120162913 is after 202511190914440000), and Prisma's
        // folder names, whose timestamps a hand may shorten to 12 or 8 digits (papermark:
        // `20241231_…` comes after `20230912150657_…`). Every timestamp comes after every
        // other version, which keeps the order total; a numeric tool (golang-migrate,
        // goose, sqlx) orders them the same way wherever its history can work, since it
        // never applies a version below one it applied.
        match (timestamp(self), timestamp(other)) {
            (Some(x), Some(y)) if x.len() != y.len() => {
                let width = x.len().max(y.len());
                let (px, py) = (format!("{x:0<width$}"), format!("{y:0<width$}"));
                let order = px.cmp(&py).then_with(|| x.len().cmp(&y.len()));
                return order
                    .then_with(|| segments_cmp(self.segments().skip(1), other.segments().skip(1)));
            }
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            _ => {}
        }
        segments_cmp(self.segments(), other.segments())
    }
}

/// Numbers in segments (`1.2.10`), compared one by one; a missing segment is 0.
fn segments_cmp<'a>(
    mut a: impl Iterator<Item = &'a str>,
    mut b: impl Iterator<Item = &'a str>,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => {
                let (x, y) = (x.unwrap_or("0"), y.unwrap_or("0"));
                let order = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// The first segment of a version that is a timestamp: 14 digits or more, or at least 8
/// whose first 8 are a date of this century (`YYYYMMDD`).
fn timestamp(v: &Version) -> Option<&str> {
    if v.is_repeatable() {
        return None;
    }
    let first = v.segments().next()?;
    if first.len() >= 14 {
        return Some(first);
    }
    let number = |range: std::ops::Range<usize>| first.get(range)?.parse::<u32>().ok();
    let date = first.len() >= 8
        && number(0..4).is_some_and(|y| (2000..=2099).contains(&y))
        && number(4..6).is_some_and(|m| (1..=12).contains(&m))
        && number(6..8).is_some_and(|d| (1..=31).contains(&d));
    date.then_some(first)
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Per-file settings written as `-- godwit:` comments above the first statement.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Directives {
    /// Run statement by statement outside a transaction (`CREATE INDEX CONCURRENTLY`).
    pub no_transaction: bool,
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    /// `-- godwit:foreign-keys-off` (SQLite): run with foreign keys off, so that a table
    /// rebuild's `DROP TABLE` does not cascade into the rows that reference it.
    pub foreign_keys_off: bool,
}

/// One SQL script, normalised: BOM stripped, CRLF turned into LF. For tools that keep
/// up and down in one file, `text` is that file with the other section blanked out, so
/// line numbers still point into the real file.
#[derive(Clone, Debug)]
pub struct Script {
    pub path: PathBuf,
    pub text: String,
    pub directives: Directives,
    pub splitting: Splitting,
    /// What asked for this script to run outside a transaction: godwit's directive or
    /// the marker of the tool that wrote it.
    pub no_transaction: Option<NoTransaction>,
    /// Written for a tool that sent each file as it is, without a transaction of its own
    /// around it: a file that manages its own transactions (or runs `CONCURRENTLY`) ran
    /// there, so it runs here too.
    pub ran_as_is: Option<Layout>,
    /// Run with SQLite's foreign keys off, as popx runs every SQLite migration: its table
    /// rebuilds (`DROP TABLE`, `RENAME`) must not cascade into the rows of the tables
    /// that reference the one rebuilt. The pragma works only outside a transaction, so
    /// the migrator sets it around the script.
    pub sqlite_foreign_keys_off: bool,
}

/// What told godwit to run a script outside a transaction, in the words of the tool
/// that wrote it: each tool's marker keeps the meaning it had there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoTransaction {
    /// `-- godwit:no-transaction`.
    Godwit,
    /// sqlx's `-- no-transaction` on the first line.
    Sqlx,
    /// goose's `-- +goose NO TRANSACTION`.
    Goose,
    /// dbmate's `-- migrate:up transaction:false`.
    Dbmate,
    /// Flyway's `executeInTransaction=false` in the script's `.sql.conf`.
    Flyway,
    /// ory/popx's `.autocommit` in the file name.
    Popx,
    /// diesel's `run_in_transaction = false` in the migration's `metadata.toml`.
    Diesel,
}

impl NoTransaction {
    /// The marker as the user wrote it.
    pub fn marker(self) -> &'static str {
        match self {
            NoTransaction::Godwit => "-- godwit:no-transaction",
            NoTransaction::Sqlx => "sqlx's -- no-transaction",
            NoTransaction::Goose => "goose's -- +goose NO TRANSACTION",
            NoTransaction::Dbmate => "dbmate's transaction:false",
            NoTransaction::Flyway => "Flyway's executeInTransaction=false",
            NoTransaction::Popx => "popx's .autocommit file name",
            NoTransaction::Diesel => "diesel's run_in_transaction = false",
        }
    }
}

/// How a script is applied. Deploy, lint and plan all ask [`Script::transaction_mode`],
/// so what lint warns about and what plan announces is what deploy does.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum TransactionMode {
    /// One transaction, which also writes the history row: all of it or nothing.
    Transaction,
    /// Each statement on its own, the history row counting them.
    StatementByStatement { why: WhyNoTransaction },
}

/// Why a script runs statement by statement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WhyNoTransaction {
    /// MySQL and MariaDB commit DDL implicitly, so no transaction can hold a migration.
    ImplicitCommit,
    /// A directive or a tool's marker asked for it.
    Marker { marker: NoTransaction },
    /// The tool that wrote the file ran it as it is, and a statement in it cannot run
    /// inside a transaction godwit opens: `because` says why.
    RanAsIs {
        tool: Layout,
        line: usize,
        because: NeedsNoTransaction,
    },
    /// The file opens or ends transactions itself (`BEGIN; … COMMIT;`, the statement at
    /// `line` first): inside a transaction of godwit's, its `COMMIT` would commit godwit's
    /// and leave what follows outside any, with the history saying otherwise on a
    /// failure. So it runs as written: its own transaction holds its statements.
    OwnTransaction { line: usize },
}

/// Why a statement cannot run inside a transaction godwit opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedsNoTransaction {
    /// `BEGIN`, `COMMIT` and the like: the file manages its own transaction.
    OwnTransaction,
    /// PostgreSQL refuses it in a transaction block (`CONCURRENTLY`, `VACUUM`, …).
    Refused,
    /// [`NeedsNoTransaction::Refused`], beside other statements in a file its tool sent
    /// whole: PostgreSQL runs such a query as one transaction block, so the tool stopped
    /// on it, where godwit runs each statement on its own.
    RefusedBesideOthers,
    /// A file that is a lone `CALL`, sent as it is: the procedure may commit, which
    /// PostgreSQL allows only when the `CALL` is not in a transaction block
    /// (reportportal's `CALL fill_attachment_creation_date()` commits per project).
    LoneCall,
}

impl TransactionMode {
    pub fn is_transaction(&self) -> bool {
        matches!(self, TransactionMode::Transaction)
    }

    /// "one transaction", "statement by statement: popx's .autocommit file name", ...
    pub fn describe(&self) -> String {
        match self {
            TransactionMode::Transaction => "one transaction".into(),
            TransactionMode::StatementByStatement { why } => {
                let why = match why {
                    WhyNoTransaction::ImplicitCommit => {
                        "MySQL commits each DDL statement at once".to_string()
                    }
                    WhyNoTransaction::Marker { marker } => marker.marker().to_string(),
                    WhyNoTransaction::OwnTransaction { line } => {
                        format!("the file manages its own transaction (line {line})")
                    }
                    WhyNoTransaction::RanAsIs {
                        tool,
                        line,
                        because,
                    } => {
                        let detail = match because {
                            NeedsNoTransaction::OwnTransaction => {
                                format!(", and it manages its own transaction (line {line})")
                            }
                            NeedsNoTransaction::Refused => format!(
                                ", and the statement at line {line} cannot run inside a transaction"
                            ),
                            NeedsNoTransaction::RefusedBesideOthers => format!(
                                ", and the statement at line {line} cannot run inside a transaction. {} sends the file as one query, \
                                 which PostgreSQL runs as one transaction, and would stop there; godwit runs each statement on its own",
                                tool.name()
                            ),
                            NeedsNoTransaction::LoneCall => format!(
                                ": a lone CALL (line {line}), whose procedure may commit, which PostgreSQL refuses inside a transaction"
                            ),
                        };
                        // Flyway does not send the file as it is: it sees the statement
                        // and runs the migration without a transaction (with other
                        // statements beside it only when `mixed` is set).
                        let ran = match tool {
                            Layout::Flyway => "ran it without a transaction",
                            _ => "ran the file as it is",
                        };
                        format!("{} {ran}{detail}", tool.name())
                    }
                };
                format!("statement by statement: {why}")
            }
        }
    }
}

/// `PRAGMA [main.]foreign_keys = OFF` (or `0`, `false`, `no`; `=` or parentheses; any
/// case, quoted or not), comments aside.
fn turns_foreign_keys_off(sql: &str) -> bool {
    let mut text = String::new();
    let mut rest = sql;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            text.push(c.to_ascii_lowercase());
            rest = &rest[c.len_utf8()..];
        }
    }
    let words: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '"' | '`' | ';'))
        .collect();
    let Some(setting) = words.strip_prefix("pragma") else {
        return false;
    };
    let setting = setting.strip_prefix("main.").unwrap_or(setting);
    let Some(value) = setting.strip_prefix("foreign_keys") else {
        return false;
    };
    let value = value
        .strip_prefix('=')
        .or_else(|| value.strip_prefix('(').and_then(|v| v.strip_suffix(')')));
    matches!(value, Some("off" | "0" | "false" | "no"))
}

/// Where statement boundaries come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Splitting {
    /// godwit's tokenizer.
    Tokenizer,
    /// Drizzle's `--> statement-breakpoint` lines.
    Breakpoints,
    /// goose's `-- +goose StatementBegin` … `StatementEnd` blocks, tokenizer elsewhere.
    GooseBlocks,
}

/// goose skips every line that starts with `--` (after indentation) while no statement
/// has begun, whatever the database reads as a comment: a `-----` separator line, which
/// MySQL and MariaDB do not take for a comment (theirs needs a space after `--`), is never
/// sent. The same lines are blanked here, keeping every offset and line number; inside a
/// statement (after a line that does not end with `;`) they stay, as goose keeps them.
fn goose_comments_blanked(plain: &str) -> String {
    let mut out = String::with_capacity(plain.len());
    let mut in_statement = false;
    for line in plain.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if !in_statement && content.trim_start().starts_with("--") {
            // As many bytes as each character had (`-- ═══`), so spans stay true.
            for c in content.chars() {
                match c {
                    '\t' => out.push('\t'),
                    c => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
                }
            }
            out.push_str(&line[content.len()..]);
            continue;
        }
        out.push_str(line);
        if content.trim().is_empty() {
            continue;
        }
        // goose's end of a statement: the last word before any word starting with `--`
        // ends with `;`.
        let last = content
            .split_whitespace()
            .take_while(|w| !w.starts_with("--"))
            .last();
        in_statement = !last.is_some_and(|w| w.ends_with(';'));
    }
    out
}

impl Script {
    pub(crate) fn read(path: &Path) -> Result<Script, Error> {
        let text = read_text(path)?;
        let directives = parse_directives(&text).map_err(|m| Error::source(path, m))?;
        Ok(Script {
            path: path.to_path_buf(),
            text,
            splitting: Splitting::Tokenizer,
            no_transaction: directives.no_transaction.then_some(NoTransaction::Godwit),
            ran_as_is: None,
            sqlite_foreign_keys_off: directives.foreign_keys_off,
            directives,
        })
    }

    /// Splits the script into statements for `dialect`; errors name the file and line.
    pub fn statements(&self, dialect: Dialect) -> Result<Vec<Statement>, Error> {
        let fail = |e: split::SplitError| Error::source(&self.path, e.to_string());
        match self.splitting {
            Splitting::Tokenizer => split::split(&self.text, dialect).map_err(fail),
            Splitting::Breakpoints => {
                // drizzle-kit splits on the marker wherever it is: its MySQL output puts
                // it after the `;` on the statement's own line, where MySQL, unlike
                // PostgreSQL and SQLite, does not read `-->` as a comment.
                const MARKER: &str = "--> statement-breakpoint";
                let mut out = Vec::new();
                let mut chunk_start = 0;
                for (at, _) in self.text.match_indices(MARKER) {
                    let chunk = &self.text[chunk_start..at];
                    out.extend(shifted(
                        split::split(chunk, dialect).map_err(fail)?,
                        &self.text[..chunk_start],
                        chunk_start,
                    ));
                    chunk_start = at + MARKER.len();
                }
                let chunk = &self.text[chunk_start..];
                out.extend(shifted(
                    split::split(chunk, dialect).map_err(fail)?,
                    &self.text[..chunk_start],
                    chunk_start,
                ));
                Ok(out)
            }
            Splitting::GooseBlocks => {
                let mut out = Vec::new();
                let (mut offset, mut block_start) = (0, None);
                let mut plain_start = 0;
                for line in self.text.split_inclusive('\n') {
                    let marker = goose_annotation(line);
                    if marker.as_deref() == Some("statementbegin") {
                        let plain = goose_comments_blanked(&self.text[plain_start..offset]);
                        out.extend(shifted(
                            split::split(&plain, dialect).map_err(fail)?,
                            &self.text[..plain_start],
                            plain_start,
                        ));
                        block_start = Some(offset + line.len());
                    } else if marker.as_deref() == Some("statementend") {
                        let start = block_start.take().ok_or_else(|| {
                            Error::source(
                                &self.path,
                                "`-- +goose StatementEnd` without a StatementBegin",
                            )
                        })?;
                        let body = self.text[start..offset].trim();
                        if !body.is_empty() {
                            let lead = self.text[start..offset].len()
                                - self.text[start..offset].trim_start().len();
                            let at = start + lead;
                            out.push(Statement {
                                sql: body.trim_end_matches(';').trim_end().to_string(),
                                line: self.text[..at].matches('\n').count() + 1,
                                span: at..at + body.len(),
                            });
                        }
                        plain_start = offset + line.len();
                    }
                    offset += line.len();
                }
                if block_start.is_some() {
                    return Err(Error::source(
                        &self.path,
                        "`-- +goose StatementBegin` is never closed by StatementEnd",
                    ));
                }
                let plain = goose_comments_blanked(&self.text[plain_start..]);
                out.extend(shifted(
                    split::split(&plain, dialect).map_err(fail)?,
                    &self.text[..plain_start],
                    plain_start,
                ));
                Ok(out)
            }
        }
    }

    /// Whether deploy runs this script with SQLite's foreign keys off: the tool that wrote
    /// it ran it so (popx), godwit's `-- godwit:foreign-keys-off` says so, or the script
    /// itself says `PRAGMA foreign_keys = OFF`, as Prisma, Drizzle Kit and SQLite's own
    /// table-rebuild procedure write it. SQLite ignores that pragma inside a transaction,
    /// and deploy runs the script in one: taken literally, the rebuild's `DROP TABLE`
    /// would delete every row that references the table through `ON DELETE CASCADE`. So
    /// deploy turns them off around the transaction, as the author meant (and as Prisma,
    /// which runs the file without a transaction, and libsql's migrator do).
    pub fn foreign_keys_off(&self, statements: &[Statement], dialect: Dialect) -> bool {
        dialect == Dialect::Sqlite
            && (self.sqlite_foreign_keys_off
                || statements.iter().any(|s| turns_foreign_keys_off(&s.sql)))
    }

    /// How deploy applies this script on `dialect`: the one place that decides it, for
    /// deploy, lint and plan alike.
    pub fn transaction_mode(&self, statements: &[Statement], dialect: Dialect) -> TransactionMode {
        let why = if dialect == Dialect::MySql {
            WhyNoTransaction::ImplicitCommit
        } else if let Some(marker) = self.no_transaction {
            WhyNoTransaction::Marker { marker }
        } else if let Some((tool, s, because)) = self.ran_as_is.and_then(|tool| {
            let found = statements
                .iter()
                .find_map(|s| Some((s, no_transaction_need(&s.sql)?)))
                .or_else(|| match statements {
                    [only]
                        if dialect == Dialect::Postgres
                            && tool.sent_files_whole()
                            && leading_words(&only.sql, 1).first().map(String::as_str)
                                == Some("CALL") =>
                    {
                        Some((only, NeedsNoTransaction::LoneCall))
                    }
                    _ => None,
                });
            found.map(|(s, because)| match because {
                NeedsNoTransaction::Refused
                    if statements.len() > 1
                        && dialect == Dialect::Postgres
                        && tool.sent_files_whole() =>
                {
                    (tool, s, NeedsNoTransaction::RefusedBesideOthers)
                }
                _ => (tool, s, because),
            })
        }) {
            WhyNoTransaction::RanAsIs {
                tool,
                line: s.line,
                because,
            }
        } else if let Some(s) = statements
            .iter()
            .find(|s| transaction_control(&s.sql).is_some())
        {
            WhyNoTransaction::OwnTransaction { line: s.line }
        } else {
            return TransactionMode::Transaction;
        };
        TransactionMode::StatementByStatement { why }
    }
}

/// The first `n` whitespace-separated words of a statement, upper case, `;` trimmed.
fn leading_words(sql: &str, n: usize) -> Vec<String> {
    sql.split_whitespace()
        .take(n)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect()
}

/// Whether `sql` changes only the session it runs in, for the statements after it:
/// `SET foreign_key_checks = 0`, `SET search_path …`, `SET NAMES …`, `SET @v := …`, `SET
/// ROLE …`. Not `SET TRANSACTION`, `SET LOCAL` or `SET CONSTRAINTS` (they last one
/// transaction), `SET GLOBAL`/`PERSIST` (not the session's), `SET STATEMENT … FOR` (a
/// statement of its own), `SET PASSWORD` or `SET DEFAULT ROLE` (stored, not session).
/// A run resumed in a new session makes these again before it goes on.
pub fn sets_session(sql: &str) -> bool {
    let words = leading_words(sql, 2);
    words.first().map(String::as_str) == Some("SET")
        && !words.get(1).is_some_and(|w| {
            matches!(
                w.as_str(),
                "TRANSACTION"
                    | "LOCAL"
                    | "CONSTRAINTS"
                    | "GLOBAL"
                    | "PERSIST"
                    | "PERSIST_ONLY"
                    | "STATEMENT"
                    | "PASSWORD"
                    | "DEFAULT"
            ) || w.starts_with("@@GLOBAL.")
        })
}

/// A statement that opens or ends a transaction of the script's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionControl {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`, `ROLLBACK` (not `ROLLBACK TO` a savepoint), `ABORT`.
    End,
}

/// Whether `sql` opens or ends a transaction (a PL/pgSQL `BEGIN` sits inside a `CREATE
/// FUNCTION` or `DO` and never starts a statement).
pub fn transaction_control(sql: &str) -> Option<TransactionControl> {
    let words = leading_words(sql, 3);
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match word(0) {
        "BEGIN" => Some(TransactionControl::Begin),
        "START" if word(1) == "TRANSACTION" => Some(TransactionControl::Begin),
        "ROLLBACK" if word(1) == "TO" || word(2) == "TO" => None,
        "COMMIT" | "END" | "ROLLBACK" | "ABORT" => Some(TransactionControl::End),
        _ => None,
    }
}

/// Statements that cannot run inside a transaction godwit opened, or that manage their own:
/// the transaction statements themselves, and what PostgreSQL refuses in a transaction
/// block (`VACUUM`, `CONCURRENTLY`, `CREATE`/`DROP DATABASE`, `ALTER SYSTEM`, `CREATE`/`DROP
/// TABLESPACE`, `REINDEX SCHEMA`/`DATABASE`/`SYSTEM`, a bare `CLUSTER`, `CREATE`/`DROP
/// SUBSCRIPTION`).
pub fn needs_no_transaction(sql: &str) -> bool {
    no_transaction_need(sql).is_some()
}

/// [`needs_no_transaction`], saying why.
fn no_transaction_need(sql: &str) -> Option<NeedsNoTransaction> {
    let words = leading_words(sql, 6);
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    if matches!(word(0), "BEGIN" | "COMMIT" | "ROLLBACK" | "END")
        || (word(0) == "START" && word(1) == "TRANSACTION")
    {
        return Some(NeedsNoTransaction::OwnTransaction);
    }
    let object = |i: usize| matches!(word(i), "DATABASE" | "TABLESPACE" | "SUBSCRIPTION");
    let refused = word(0) == "VACUUM"
        || words.iter().any(|w| w == "CONCURRENTLY")
        || (matches!(word(0), "CREATE" | "DROP") && object(1))
        || (word(0) == "ALTER" && word(1) == "SYSTEM")
        || (word(0) == "REINDEX"
            && words[1..]
                .iter()
                .find(|w| !w.starts_with('('))
                .is_some_and(|w| matches!(w.as_str(), "SCHEMA" | "DATABASE" | "SYSTEM")))
        || (word(0) == "CLUSTER" && words[1..].iter().all(|w| w == "VERBOSE"));
    refused.then_some(NeedsNoTransaction::Refused)
}

/// Moves statements split from a slice of the file back to the file's coordinates.
fn shifted(
    statements: Vec<Statement>,
    before: &str,
    offset: usize,
) -> impl Iterator<Item = Statement> {
    let lines = before.matches('\n').count();
    statements.into_iter().map(move |s| Statement {
        line: s.line + lines,
        span: s.span.start + offset..s.span.end + offset,
        sql: s.sql,
    })
}

/// Reads and normalises a file, with errors that name it.
pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::source(path, format!("cannot read: {e}")))?;
    normalize(&bytes).map_err(|m| Error::source(path, m))
}

/// A migration directory.
#[derive(Clone, Debug)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub dir: PathBuf,
    pub up: Script,
    pub down: Option<Script>,
    /// SHA-256 of the normalised `up.sql`: what was applied is what is checked.
    pub checksum: String,
    /// The name the tool that wrote it knows it by: a directory (`20231010_init`) or a
    /// file (`V1.2__add_users.sql`), relative to the migrations folder.
    pub origin: String,
    /// Drizzle's journal timestamp, which its history table records instead of a name.
    pub created_at: Option<i64>,
    /// A plugin step (`step.toml`) instead of SQL; `up` is then empty and the checksum
    /// is the step file's.
    pub step: Option<Box<crate::step::StepFile>>,
    /// Where its down script is, or would go.
    pub down_place: DownPlace,
}

/// Where a migration's down script lives in its layout, so that advice about a missing
/// one names a place the user can actually write to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownPlace {
    /// A file of its own: `down.sql`, `<v>_<name>.down.sql`, Flyway's `U<v>__<name>.sql`.
    File(PathBuf),
    /// A section of the migration's own file, opened by `marker` (goose, dbmate).
    Section { file: PathBuf, marker: &'static str },
    /// The tool that wrote the folder keeps no down scripts (Prisma, Drizzle Kit, a
    /// `pattern` without `{direction}`); `reason` says so in a sentence.
    Nowhere { reason: &'static str },
}

impl Migration {
    /// `sql` or `step`, as the history table records it.
    pub fn kind(&self) -> &'static str {
        if self.step.is_some() { "step" } else { "sql" }
    }

    /// `20261121090000_create_users`, as the directory is named; a Flyway repeatable's
    /// version is its name already (`R__view`).
    pub fn id(&self) -> String {
        if self.version.is_repeatable() {
            return self.version.to_string();
        }
        format!("{}_{}", self.version, self.name)
    }
}

/// Strips a UTF-8 BOM and turns CRLF into LF, so a Windows checkout has the same checksum.
pub fn normalize(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("not valid UTF-8 (line {line}); save the file as UTF-8")
    })?;
    Ok(if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    })
}

pub fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn parse_directives(text: &str) -> Result<Directives, String> {
    let mut directives = Directives::default();
    let mut in_header = true;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let directive = trimmed
            .strip_prefix("--")
            .map(str::trim)
            .and_then(|c| c.strip_prefix("godwit:"));
        match directive {
            // Ignore comments sit above the statement they are about, anywhere in the
            // file; they belong to lint, not to how the file runs.
            Some(body) if is_ignore(body) => {}
            Some(body) if in_header => apply_directive(&mut directives, body.trim())
                .map_err(|m| format!("line {}: {m}", index + 1))?,
            Some(_) => {
                return Err(format!(
                    "line {}: `{trimmed}` comes after the first statement; move godwit directives to the top of the file",
                    index + 1
                ));
            }
            None if trimmed.is_empty() || trimmed.starts_with("--") => {}
            None => in_header = false,
        }
    }
    Ok(directives)
}

/// `godwit:ignore RULE -- reason: ...`, read by the `godwit-lint` crate.
fn is_ignore(body: &str) -> bool {
    body.strip_prefix("ignore")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

fn apply_directive(d: &mut Directives, body: &str) -> Result<(), String> {
    let (key, value) = match body.find(['=', ' ', ':']) {
        Some(at) => (
            &body[..at],
            body[at + 1..].trim_start_matches(['=', ':', ' ']).trim(),
        ),
        None => (body, ""),
    };
    let key = key.trim().replace('_', "-").to_ascii_lowercase();
    let duration = |value: &str| -> Result<Option<Duration>, String> {
        if value.is_empty() {
            return Err(format!(
                "`godwit:{key}` needs a value, e.g. `-- godwit:{key}=5s`"
            ));
        }
        crate::duration::parse_duration(value).map(Some)
    };
    match key.as_str() {
        "no-transaction" if value.is_empty() => d.no_transaction = true,
        "foreign-keys-off" if value.is_empty() => d.foreign_keys_off = true,
        "lock-timeout" => d.lock_timeout = duration(value)?,
        "statement-timeout" => d.statement_timeout = duration(value)?,
        _ => {
            return Err(format!(
                "unknown directive `godwit:{body}`; godwit knows `no-transaction`, `foreign-keys-off`, `lock-timeout=DURATION` and `statement-timeout=DURATION`"
            ));
        }
    }
    Ok(())
}

/// Reads every migration under `dir` in the layout it was written in, sorted by version,
/// choosing the files meant for `dialect` where the layout has per-database files.
pub fn read_dir(dir: &Path, dialect: Dialect) -> Result<Vec<Migration>, Error> {
    read(dir, &LayoutSpec::default(), dialect)
}

/// goose's annotation on `line`, lower case, as goose reads it: a line starting with
/// `--`, then `+goose` with or without a space between (`--+goose Up` is as common as
/// `-- +goose Up`), then the annotation in any case: `up`, `down`, `statementbegin`,
/// `statementend`, `no transaction`, `envsub on`… `None` for any other line.
pub fn goose_annotation(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    let head = rest.get(..6)?;
    if !head.eq_ignore_ascii_case("+goose") {
        return None;
    }
    let words: Vec<&str> = rest[6..].split_whitespace().collect();
    Some(words.join(" ").to_ascii_lowercase())
}

/// dbmate's section marker on `line`, as dbmate's `^--\s*migrate:(up|down)` reads it:
/// `Some((true, options))` for up, `Some((false, options))` for down, where `options` is
/// the rest of the line (`transaction:false`). `--migrate:up` is a marker too; an indented
/// one is not (dbmate reads it as a comment inside the statement around it: UPchieve has
/// one, which dbmate never took for its down section).
pub fn dbmate_marker(line: &str) -> Option<(bool, &str)> {
    let rest = line.trim_end().strip_prefix("--")?.trim_start();
    let (up, after) = if let Some(after) = rest.strip_prefix("migrate:up") {
        (true, after)
    } else {
        (false, rest.strip_prefix("migrate:down")?)
    };
    if !after.is_empty() && !after.starts_with(char::is_whitespace) {
        return None;
    }
    Some((up, after.trim()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn transaction_control_statements() {
        use super::{TransactionControl::*, transaction_control};
        for (sql, control) in [
            ("BEGIN", Some(Begin)),
            (
                "begin transaction isolation level serializable",
                Some(Begin),
            ),
            ("START TRANSACTION", Some(Begin)),
            ("COMMIT", Some(End)),
            ("END", Some(End)),
            ("ROLLBACK", Some(End)),
            ("ROLLBACK TO SAVEPOINT a", None),
            ("ROLLBACK TRANSACTION TO a", None),
            ("SAVEPOINT a", None),
            (
                "CREATE FUNCTION f() RETURNS void AS $$ BEGIN END $$ LANGUAGE plpgsql",
                None,
            ),
            ("START SLAVE", None),
        ] {
            assert_eq!(transaction_control(sql), control, "{sql}");
        }
    }

    #[test]
    fn what_postgres_refuses_in_a_transaction_block() {
        for sql in [
            "CREATE DATABASE \"x\"",
            "drop database if exists x",
            "ALTER SYSTEM SET work_mem = '8MB'",
            "CREATE TABLESPACE t LOCATION '/x'",
            "REINDEX DATABASE app",
            "REINDEX (VERBOSE) SYSTEM app",
            "CLUSTER",
            "CLUSTER VERBOSE",
            "DROP SUBSCRIPTION s",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
        ] {
            assert!(needs_no_transaction(sql), "{sql}");
        }
        for sql in [
            "CREATE TABLE database_sizes (id int)",
            "CLUSTER t USING t_pkey",
            "REINDEX TABLE t",
            "ALTER TABLE system ADD COLUMN x int",
            "CREATE SCHEMA s",
        ] {
            assert!(!needs_no_transaction(sql), "{sql}");
        }
    }

    #[test]
    fn timestamps_of_different_precision_order_by_time() {
        let v = |t: &str| Version::parse(t).unwrap();
        let mut versions = [
            v("20260527120000"),
            v("202511190914440000"),
            v("20260120162913"),
            v("3"),
            v("202601201629130001"),
            v("1.2"),
        ];
        versions.sort();
        let texts: Vec<&str> = versions.iter().map(Version::as_str).collect();
        assert_eq!(
            texts,
            [
                "1.2",
                "3",
                "202511190914440000",
                "20260120162913",
                "202601201629130001",
                "20260527120000"
            ]
        );
        // Same length: by number, as before.
        assert!(v("20260101000000") < v("20260101000001"));
        assert!(v("9") < v("10"));
    }

    /// papermark's Prisma folders: three timestamps shortened by hand to 12 and 8
    /// digits, which Prisma applies in the order of the folder names, so by time.
    #[test]
    fn short_timestamps_order_by_time_as_prisma_orders_them() {
        let v = |t: &str| Version::parse(t).unwrap();
        let mut versions = [
            v("20241231"),
            v("202310311254"),
            v("20250310000000"),
            v("202310122339"),
            v("20230912150657.1"),
            v("20230912150657"),
            v("42"),
            v("1700000000"),
            v("2.5"),
        ];
        versions.sort();
        let texts: Vec<&str> = versions.iter().map(Version::as_str).collect();
        assert_eq!(
            texts,
            [
                "2.5",
                "42",
                "1700000000",
                "20230912150657",
                "20230912150657.1",
                "202310122339",
                "202310311254",
                "20241231",
                "20250310000000",
            ]
        );
        // Every pair agrees with the sort (a total order: no cycle through a number
        // between two timestamps' lengths).
        for a in &versions {
            for b in &versions {
                assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a} {b}");
            }
        }
        for w in versions.windows(3) {
            assert!(w[0] < w[1] && w[1] < w[2] && w[0] < w[2]);
        }
    }

    #[test]
    fn every_spelling_of_turning_foreign_keys_off() {
        for sql in [
            "PRAGMA foreign_keys=OFF",
            "PRAGMA foreign_keys = off",
            "pragma  foreign_keys = 0",
            "PRAGMA main.foreign_keys = false",
            "PRAGMA foreign_keys('no')",
            "-- RedefineTables\nPRAGMA foreign_keys=OFF",
            "PRAGMA /* rebuild */ foreign_keys = OFF",
        ] {
            assert!(super::turns_foreign_keys_off(sql), "{sql}");
        }
        for sql in [
            "PRAGMA foreign_keys=ON",
            "PRAGMA foreign_keys",
            "PRAGMA foreign_key_check",
            "PRAGMA defer_foreign_keys=ON",
            "SELECT 'PRAGMA foreign_keys=OFF'",
            "PRAGMA foreign_keys = OFFICE",
        ] {
            assert!(!super::turns_foreign_keys_off(sql), "{sql}");
        }
    }

    use super::*;

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let lf = normalize(b"CREATE TABLE t (id int);\nSELECT 1;\n").unwrap();
        let crlf = normalize(b"\xEF\xBB\xBFCREATE TABLE t (id int);\r\nSELECT 1;\r\n").unwrap();
        assert_eq!(checksum(&lf), checksum(&crlf));
    }

    #[test]
    fn versions_compare_numerically() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("9") < v("10"));
        assert!(v("0009") < v("10"));
        assert!(v("20261121090000") > v("20261121085959"));
        assert!(Version::parse("v1").is_none());
        assert!(v("1.9") < v("1.10"));
        assert!(v("1.2") < v("1.2.1"));
        assert!(v("2") > v("1.99"));
        assert!(v("99999999999999") < v("R__views"));
        assert!(Version::parse("1..2").is_none());
    }

    #[test]
    fn session_settings_are_told_from_statements_that_last_longer_or_shorter() {
        for sql in [
            "SET foreign_key_checks = 0",
            "set search_path to app, public",
            "SET @tag := 'x'",
            "SET NAMES utf8mb4",
            "SET SESSION sql_mode = ''",
            "SET ROLE app_owner",
        ] {
            assert!(sets_session(sql), "{sql}");
        }
        for sql in [
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET LOCAL lock_timeout = '1s'",
            "SET CONSTRAINTS ALL DEFERRED",
            "SET GLOBAL max_connections = 10",
            "SET @@GLOBAL.max_connections = 10",
            "SET STATEMENT max_statement_time = 1 FOR SELECT 1",
            "SET PASSWORD = 'x'",
            "SET DEFAULT ROLE app FOR u",
            "SELECT 1",
            "UPDATE t SET a = 1",
        ] {
            assert!(!sets_session(sql), "{sql}");
        }
    }

    #[test]
    fn directives() {
        let d = parse_directives("-- godwit:no-transaction\n-- godwit:lock_timeout=5s\n-- godwit:statement-timeout 2min\nCREATE INDEX x;").unwrap();
        assert!(d.no_transaction);
        assert_eq!(d.lock_timeout, Some(Duration::from_secs(5)));
        assert_eq!(d.statement_timeout, Some(Duration::from_secs(120)));
        let err = parse_directives("-- godwit:no-transactoin\n").unwrap_err();
        assert!(err.contains("line 1: unknown directive"), "{err}");
        let err = parse_directives("SELECT 1;\n-- godwit:no-transaction\n").unwrap_err();
        assert!(err.contains("after the first statement"), "{err}");
        let err = parse_directives("-- godwit:lock-timeout=5 parsecs\n").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
        // Ignore comments are lint's, and sit above any statement.
        let d = parse_directives("-- godwit:no-transaction\n-- godwit:ignore ban-truncate -- reason: cache\nTRUNCATE t;\n-- godwit:ignore GW001 -- reason: gone\nDROP TABLE u;\n").unwrap();
        assert!(d.no_transaction);
        let err = parse_directives("-- godwit:ignored\n").unwrap_err();
        assert!(err.contains("unknown directive"), "{err}");
    }
}
