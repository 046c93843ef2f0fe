//! What each statement of a migration does to the database: the lock it takes, the tables
//! it touches and the effects that matter for safety (drops, rewrites, validations).
//!
//! This is godwit's one statement analyser: every question asked of a statement is
//! answered in this module, from one syntax tree ([`parse`]) and one tokenizer ([`scan`]):
//!
//! - [`analyze`]: locks, tables and effects, for lint rules and `plan`. sqlparser gives the
//!   structure; when it cannot read a statement (vendor syntax it does not know yet), the
//!   tokens still recover what the first few words say — `DROP TABLE x` is a drop
//!   whatever follows — and the statement is marked `parsed: false` so that nobody
//!   mistakes the partial answer for a full one.
//! - [`destroys`] and [`creates`]: what a statement drops, deletes, creates and renames,
//!   names as written, for the backup policy and the copies of dropped data.
//! - [`resume`]: whether a statement changes data only, and whether it can run twice, for
//!   resuming an interrupted migration.
//! - [`parse`]: the syntax tree the plugin capability checker proves a plugin's statement
//!   allowed from (its rules are godwit-plugin's; the reading is this one).
//!
//! Each reads the statement with its database's lexical rules: the splitter's cut, and
//! [`scan`]'s quotes, comments and bodies.

use serde::Serialize;
use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableAlgorithm, AlterTableOperation, AlterTypeOperation,
    ColumnOption, Expr, ObjectName, ObjectType, TableConstraint, TableFactor,
};

use crate::Dialect;
use crate::split::Statement;
use crate::sql::name_key;

pub mod creates;
pub mod destroys;
pub mod name;
pub mod parse;
pub mod resume;
pub mod scan;

/// One statement, as the checks see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementInfo {
    /// 0-based position in the file.
    pub index: usize,
    /// 1-based line of the statement's first token.
    pub line: usize,
    pub sql: String,
    /// False when sqlparser could not read the statement; `effects` then hold only what
    /// a keyword scan could tell, and checks must say they could not look further.
    pub parsed: bool,
    pub parse_error: Option<String>,
    /// The strongest lock the statement takes on the tables it touches.
    pub lock: Lock,
    /// Tables touched, unquoted and schema stripped, spelled as the database names them
    /// (PostgreSQL folds unquoted names to lower case; see `ident`).
    pub tables: Vec<String>,
    /// The lock each table in `tables` gets, which need not be `lock`: `INSERT INTO a
    /// SELECT … FROM b` writes `a` but only reads `b`; a foreign key locks the table it
    /// references less than an `ALTER TABLE` locks its own; a table the statement creates
    /// is locked by nobody else. A table only read or created has the lock it has here.
    pub locks: Vec<TableLock>,
    pub effects: Vec<Effect>,
}

/// One table's lock in one statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableLock {
    pub table: String,
    pub lock: Lock,
}

/// The tables a statement touches, by role: a target gets the statement's own lock; a
/// table it only reads, references or creates gets the lock of that role.
#[derive(Default)]
struct Touched {
    /// Every name, in the order first seen.
    order: Vec<String>,
    targets: Vec<String>,
    /// Tables read, referenced or created, with that role's lock.
    others: Vec<(String, Lock)>,
}

impl Touched {
    /// A table the statement itself changes.
    fn push(&mut self, table: String) {
        self.seen(&table);
        self.targets.push(table);
    }

    fn extend(&mut self, tables: impl IntoIterator<Item = String>) {
        for t in tables {
            self.push(t);
        }
    }

    /// A table touched in another role than the statement's target.
    fn other(&mut self, table: String, lock: Lock) {
        self.seen(&table);
        self.others.push((table, lock));
    }

    fn contains(&self, table: &str) -> bool {
        self.order.iter().any(|t| t == table)
    }

    /// Leaves out names that are no tables: a `WITH` clause's own.
    fn forget(&mut self, names: &[String]) {
        self.order.retain(|t| !names.contains(t));
        self.targets.retain(|t| !names.contains(t));
        self.others.retain(|(t, _)| !names.contains(t));
    }

    fn seen(&mut self, table: &str) {
        if !table.is_empty() && !self.contains(table) {
            self.order.push(table.to_owned());
        }
    }

    /// The tables in order and each one's lock, the strongest of its roles.
    fn finish(self, statement: Lock, dialect: Dialect) -> (Vec<String>, Vec<TableLock>) {
        let locks = self
            .order
            .iter()
            .map(|table| {
                let target = self.targets.contains(table).then_some(statement);
                let lock = self
                    .others
                    .iter()
                    .filter(|(t, _)| t == table)
                    .map(|(_, lock)| *lock)
                    .chain(target)
                    .max()
                    .unwrap_or(Lock::None);
                TableLock {
                    table: table.clone(),
                    lock: dialect_lock(lock, dialect),
                }
            })
            .collect();
        (self.order, locks)
    }
}

/// The relations a statement reads, besides the ones it names as targets: every table
/// in its queries, less the names its `WITH` clauses define.
fn relations_read(statement: &ast::Statement, dialect: Dialect) -> Vec<String> {
    struct Relations {
        dialect: Dialect,
        ctes: Vec<String>,
        relations: Vec<ObjectName>,
    }
    impl ast::Visitor for Relations {
        type Break = ();
        fn pre_visit_query(&mut self, query: &ast::Query) -> std::ops::ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.ctes.push(ident(self.dialect, &cte.alias.name));
                }
            }
            std::ops::ControlFlow::Continue(())
        }
        fn pre_visit_relation(&mut self, relation: &ObjectName) -> std::ops::ControlFlow<()> {
            self.relations.push(relation.clone());
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut visitor = Relations {
        dialect,
        ctes: Vec::new(),
        relations: Vec::new(),
    };
    let _ = ast::Visit::visit(statement, &mut visitor);
    let mut names = Vec::new();
    for relation in &visitor.relations {
        let name = object(dialect, relation);
        if relation.0.len() == 1 && visitor.ctes.contains(&name) {
            continue;
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Table-level locks, named as each database's documentation names them.
///
/// Declared weakest first within each family so that `max` gives the lock a statement
/// with several operations ends up holding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Lock {
    None,
    // PostgreSQL
    AccessShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    AccessExclusive,
    /// MySQL's shared metadata lock a read takes: it waits only for DDL on the table.
    MetadataSharedRead,
    /// A MySQL write: a shared metadata lock and InnoDB row locks on the rows it writes.
    MetadataSharedWrite,
    /// MySQL's exclusive metadata lock, which DDL takes at least briefly; while it waits
    /// for running transactions, every later query on the table queues behind it.
    MetadataExclusive,
    /// SQLite locks the whole database file for any write.
    DatabaseWrite,
}

impl Lock {
    pub fn name(&self) -> &'static str {
        match self {
            Lock::None => "no",
            Lock::AccessShare => "ACCESS SHARE",
            Lock::RowExclusive => "ROW EXCLUSIVE",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
            Lock::MetadataSharedRead => "shared metadata",
            Lock::MetadataSharedWrite => "shared metadata and row locks",
            Lock::MetadataExclusive => "exclusive metadata",
            Lock::DatabaseWrite => "database write",
        }
    }

    /// Whether plain `SELECT`s on the table wait while the lock is held (or queued).
    pub fn blocks_reads(&self) -> bool {
        matches!(self, Lock::AccessExclusive | Lock::MetadataExclusive)
    }

    /// Whether `INSERT`/`UPDATE`/`DELETE` on the table wait while the lock is held.
    pub fn blocks_writes(&self) -> bool {
        matches!(
            self,
            Lock::Share
                | Lock::ShareRowExclusive
                | Lock::AccessExclusive
                | Lock::MetadataExclusive
                | Lock::DatabaseWrite
        )
    }
}

/// Something a statement does that a safety check cares about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    DropTable {
        table: String,
        /// `DROP TABLE IF EXISTS`: an absent table is not an error.
        if_exists: bool,
    },
    DropColumn {
        table: String,
        column: String,
    },
    TruncateTable {
        table: String,
    },
    /// `DROP SCHEMA`, or `DROP DATABASE` on MySQL where the two are one thing.
    DropSchema {
        schema: String,
    },
    DeleteRows {
        table: String,
        filtered: bool,
    },
    UpdateRows {
        table: String,
        filtered: bool,
    },
    AddUnique {
        table: String,
        columns: Vec<String>,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    AddColumn {
        table: String,
        column: String,
        not_null: bool,
        has_default: bool,
        /// The default is computed per row (`random()`, `gen_random_uuid()`, a serial), so
        /// PostgreSQL rewrites the whole table to fill it in.
        volatile_default: bool,
    },
    /// Also MySQL's `MODIFY`/`CHANGE`, which restate the type whether it changes or not.
    ChangeType {
        table: String,
        column: String,
        new_type: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    AddForeignKey {
        table: String,
        not_valid: bool,
    },
    AddCheck {
        table: String,
        not_valid: bool,
    },
    CreateIndex {
        table: String,
        concurrently: bool,
        unique: bool,
        columns: Vec<String>,
        /// Each key as the statement writes it (a column, quoted as written, or an
        /// expression such as `lower(email)`), and the `WHERE` of a partial index: what a
        /// count of the duplicates that would break a unique index groups by and filters
        /// on. Empty when the statement could not be parsed.
        keys: Vec<String>,
        predicate: Option<String>,
    },
    DropIndex {
        concurrently: bool,
    },
    AddEnumValue {
        type_name: String,
    },
    /// `SET lock_timeout` (PostgreSQL) or `SET lock_wait_timeout` (MySQL).
    SetsLockTimeout,
    CreateTable {
        table: String,
    },
    /// A MySQL `ALTER TABLE` that has to copy the table (no INSTANT or INPLACE algorithm
    /// exists for it), with the reason.
    CopiesTable {
        table: String,
        reason: String,
    },
    /// `VALIDATE CONSTRAINT`: the second half of the NOT VALID pattern.
    ValidateConstraint {
        table: String,
        name: String,
    },
    /// `INSERT INTO into … SELECT … FROM from`: the rows of one table copied into another,
    /// as a table rebuild does (see [`crate::rebuild`]).
    CopyRows {
        into: String,
        from: String,
        /// The columns of `from` the `SELECT` reads, as plain columns or inside
        /// expressions; `None` when it reads them all (`*`).
        columns: Option<Vec<String>>,
        /// False when some rows may stay behind: a `WHERE`, `LIMIT`, `DISTINCT`,
        /// `GROUP BY`, a join, or conflict handling that skips or replaces rows.
        every_row: bool,
        /// When the copy leaves rows behind by its `WHERE` alone: which, so that `plan`
        /// can count them.
        #[serde(skip_serializing_if = "Option::is_none")]
        filter: Option<CopyFilter>,
    },
    /// The columns a `CREATE TABLE` or `ADD COLUMN` declares, with their types as written:
    /// what later type changes are compared with (see [`crate::columns`]).
    DeclaresColumns {
        table: String,
        columns: Vec<(String, String)>,
    },
    /// `BEGIN`/`START TRANSACTION` written in the file.
    BeginTransaction,
    Other,
}

/// The `WHERE` of an `INSERT … SELECT` that copies the rows it matches and no other
/// difference from a copy of every row (see [`Effect::CopyRows`]), as SQL of the
/// statement's dialect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyFilter {
    /// The table read, as written, with its alias if it has one (`"Job" AS j`).
    pub source: String,
    /// The condition a row must meet to be copied.
    pub condition: String,
}

impl Effect {
    /// Loses data that only a backup can bring back.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Effect::DropTable { .. }
                | Effect::DropColumn { .. }
                | Effect::TruncateTable { .. }
                | Effect::DropSchema { .. }
                | Effect::DeleteRows { .. }
        )
    }
}

/// Reads each statement of one file.
pub fn analyze(statements: &[Statement], dialect: Dialect) -> Vec<StatementInfo> {
    statements
        .iter()
        .enumerate()
        .map(|(index, s)| analyze_one(index, s, dialect))
        .collect()
}

fn analyze_one(index: usize, statement: &Statement, dialect: Dialect) -> StatementInfo {
    let words = words(&statement.sql, dialect);
    let mut info = StatementInfo {
        index,
        line: statement.line,
        sql: statement.sql.clone(),
        parsed: true,
        parse_error: None,
        lock: Lock::None,
        tables: Vec::new(),
        locks: Vec::new(),
        effects: Vec::new(),
    };
    let mut touched = Touched::default();
    // sqlparser does not know `DROP INDEX CONCURRENTLY`; without the keyword the rest is
    // ordinary syntax, so parse that and put the flag back.
    let drop_concurrently = starts_with(&words, &["DROP", "INDEX", "CONCURRENTLY"]);
    let text = if drop_concurrently {
        remove_word(&statement.sql, &words, 2)
    } else {
        statement.sql.clone()
    };
    let parse = |text: &str| parse::parse(text, dialect);
    let parsed = match parse(&text) {
        Err(e) => match respelled(&text, &words, dialect) {
            Some(other) => parse(&other).map_err(|_| e),
            None => Err(e),
        },
        ok => ok,
    };
    let mut lock = Lock::None;
    match parsed {
        // One statement, or several that run as one: a goose `StatementBegin` … `End`
        // block is sent whole, so what it does is what each of its statements does, and
        // it holds the strongest of their locks.
        Ok(asts) if !asts.is_empty() => {
            for (i, ast) in asts.iter().enumerate() {
                let targets_before = touched.targets.len();
                let own = from_ast(
                    ast,
                    dialect,
                    &mut info,
                    &mut touched,
                    drop_concurrently && i == 0,
                );
                lock = lock.max(own);
                // In a block each part's tables hold that part's lock, not the block's
                // strongest: its CREATE INDEX takes SHARE on its table even beside a DROP.
                if asts.len() > 1 {
                    for table in touched.targets.split_off(targets_before) {
                        touched.others.push((table, own));
                    }
                }
                if matches!(
                    ast,
                    ast::Statement::Insert(_)
                        | ast::Statement::Query(_)
                        | ast::Statement::Update(_)
                        | ast::Statement::Delete(_)
                        | ast::Statement::CreateTable(_)
                ) {
                    for table in relations_read(ast, dialect) {
                        if !touched.contains(&table) {
                            touched.other(table, Lock::AccessShare);
                        }
                    }
                }
            }
            if asts.len() > 1 {
                if info.effects.iter().any(|e| *e != Effect::Other) {
                    info.effects.retain(|e| *e != Effect::Other);
                }
                info.effects.dedup();
            }
        }
        Ok(_) => {}
        // pg_dump's sequences (`CREATE SEQUENCE … AS integer START WITH 1 INCREMENT BY 1
        // NO MINVALUE …`, `ALTER SEQUENCE … OWNED BY t.c`), whose option order sqlparser
        // does not take: they touch no table's rows or locks, so there is nothing more to
        // judge. A RESTART, which changes what later inserts get, is left to GW022.
        // pg_dump's `ALTER DEFAULT PRIVILEGES`, likewise: grants for objects not yet made.
        Err(_)
            if dialect == Dialect::Postgres
                && (starts_with(&words, &["CREATE", "SEQUENCE"])
                    || starts_with(&words, &["ALTER", "DEFAULT", "PRIVILEGES"])
                    || (starts_with(&words, &["ALTER", "SEQUENCE"])
                        && !words.iter().any(|w| w.upper == "RESTART"))) => {}
        // MySQL's user variables (`SET @s := IF(…)`) and the release of a prepared
        // statement touch no table: nothing to judge.
        Err(_)
            if dialect == Dialect::MySql
                && ((starts_with(&words, &["SET"])
                    && words.get(1).is_some_and(|w| w.text == "@"))
                    || starts_with(&words, &["DEALLOCATE", "PREPARE"])
                    || starts_with(&words, &["DROP", "PREPARE"])) => {}
        // MySQL's dynamic SQL: the statement PREPARE reads from a variable runs at EXECUTE.
        Err(_)
            if dialect == Dialect::MySql
                && words
                    .first()
                    .is_some_and(|w| w.upper == "PREPARE" || w.upper == "EXECUTE") =>
        {
            info.parsed = false;
            info.parse_error = Some(
                "dynamic SQL (PREPARE/EXECUTE): the statement it runs is built at run time, so it is not analysed"
                    .into(),
            );
        }
        // PostgreSQL's anonymous code block: procedural code, which no SQL parser reads.
        Err(_)
            if dialect == Dialect::Postgres && words.first().is_some_and(|w| w.upper == "DO") =>
        {
            info.parsed = false;
            info.parse_error =
                Some("a DO block: its procedural body is not analysed, only that it runs".into());
        }
        Err(e) => {
            info.parsed = false;
            let text = e.to_string();
            let text = text.strip_prefix("sql parser error: ").unwrap_or(&text);
            info.parse_error = Some(in_the_file(text, statement.line));
        }
    }
    if !info.parsed {
        touched = Touched::default();
        lock = from_words(dialect, &words, &mut info, &mut touched);
    }
    // Transaction control and `SET` never reach the AST paths above in a useful form on
    // every dialect, and both matter to the checks whether or not the parser read them.
    if (starts_with(&words, &["BEGIN"]) && words.len() <= 2)
        || starts_with(&words, &["START", "TRANSACTION"])
    {
        info.effects.retain(|e| *e != Effect::Other);
        info.effects.push(Effect::BeginTransaction);
    }
    if sets_lock_timeout(&words) && !info.effects.contains(&Effect::SetsLockTimeout) {
        info.effects.retain(|e| *e != Effect::Other);
        info.effects.push(Effect::SetsLockTimeout);
    }
    if info.effects.is_empty() {
        info.effects.push(Effect::Other);
    }
    // SQLite takes its one write lock, on the whole file, for any statement that writes,
    // creating a table included.
    if dialect == Dialect::Sqlite
        && lock == Lock::None
        && words.first().is_some_and(|w| {
            matches!(
                w.upper.as_str(),
                "CREATE" | "ALTER" | "DROP" | "INSERT" | "UPDATE" | "DELETE" | "REPLACE"
            )
        })
    {
        lock = Lock::RowExclusive;
    }
    info.lock = dialect_lock(lock, dialect);
    (info.tables, info.locks) = touched.finish(lock, dialect);
    info
}

/// The lock PostgreSQL would take, translated to what the dialect actually does.
fn dialect_lock(pg: Lock, dialect: Dialect) -> Lock {
    match dialect {
        Dialect::Postgres => pg,
        Dialect::MySql if pg >= Lock::ShareUpdateExclusive => Lock::MetadataExclusive,
        Dialect::MySql if pg >= Lock::RowExclusive => Lock::MetadataSharedWrite,
        Dialect::MySql if pg == Lock::AccessShare => Lock::MetadataSharedRead,
        Dialect::MySql => pg,
        Dialect::Sqlite if pg >= Lock::RowExclusive => Lock::DatabaseWrite,
        Dialect::Sqlite => pg,
    }
}

/// `schema.Table` → `Table`, spelled as the database names it (see [`ident`]).
fn object(dialect: Dialect, name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| ident(dialect, i))
        .unwrap_or_else(|| name.to_string().to_lowercase())
}

/// An identifier as the database itself names the object, so that a name the checks
/// report is the object's, and a live count can query it:
/// - PostgreSQL folds an unquoted name to lower case and keeps a quoted one exactly
///   (`"Users"` and `users` are two tables);
/// - MySQL and MariaDB keep table names as written (case-sensitive on Linux), quoted or not;
/// - SQLite compares names without case, so lower case names the same object.
fn ident(dialect: Dialect, i: &ast::Ident) -> String {
    name_key(dialect, &i.value, i.quote_style.is_some())
}

fn index_columns(dialect: Dialect, columns: &[ast::IndexColumn]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(i) => ident(dialect, i),
            Expr::CompoundIdentifier(parts) => {
                parts.last().map(|i| ident(dialect, i)).unwrap_or_default()
            }
            other => other.to_string(),
        })
        .collect()
}

fn from_table(dialect: Dialect, factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Table { name, .. } => Some(object(dialect, name)),
        _ => None,
    }
}

/// What an `INSERT … SELECT` into `into` copies, as an [`Effect::CopyRows`]: the one
/// table it reads, the columns it reads from it (`None` for all), whether it copies every
/// row, and the `WHERE` that alone keeps it from doing so. `None` for an `INSERT` that is
/// not a plain copy of one table (`VALUES`, a `UNION`, a CTE, a subquery as the source).
fn copied_from(dialect: Dialect, insert: &ast::Insert, into: String) -> Option<Effect> {
    let query = insert.source.as_deref()?;
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if query.with.is_some() {
        return None;
    }
    let [only] = select.from.as_slice() else {
        return None;
    };
    let from = from_table(dialect, &only.relation)?;
    let mut columns = Some(Vec::new());
    for item in &select.projection {
        match item {
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                columns = None;
            }
            ast::SelectItem::UnnamedExpr(expr)
            | ast::SelectItem::ExprWithAlias { expr, .. }
            | ast::SelectItem::ExprWithAliases { expr, .. } => {
                let _ = ast::visit_expressions(expr, |e| {
                    let name = match e {
                        Expr::Identifier(i) => Some(i),
                        Expr::CompoundIdentifier(parts) => parts.last(),
                        _ => None,
                    };
                    if let (Some(i), Some(columns)) = (name, columns.as_mut()) {
                        let key =
                            crate::sql::column_key(dialect, &i.value, i.quote_style.is_some());
                        if !columns.contains(&key) {
                            columns.push(key);
                        }
                    }
                    std::ops::ControlFlow::<()>::Continue(())
                });
            }
        }
    }
    let grouped = match &select.group_by {
        ast::GroupByExpr::All(_) => true,
        ast::GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    let but_for_where = only.joins.is_empty()
        && select.distinct.is_none()
        && select.having.is_none()
        && select.top.is_none()
        && !grouped
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && insert.or.is_none()
        && !insert.ignore
        && !insert.replace_into
        && insert.on.is_none();
    let filter = match &select.selection {
        Some(condition) if but_for_where => Some(CopyFilter {
            source: only.relation.to_string(),
            condition: condition.to_string(),
        }),
        _ => None,
    };
    Some(Effect::CopyRows {
        into,
        from,
        columns,
        every_row: but_for_where && select.selection.is_none(),
        filter,
    })
}

/// sqlparser counts `Line: N, Column: M` from the start of the statement it was given;
/// a reader looks in the file, where the statement starts at `first_line`. Column counts
/// only on the statement's later lines, which start where the file's lines do.
fn in_the_file(message: &str, first_line: usize) -> String {
    static POSITION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"at Line: (\d+), Column: (\d+)").expect("a valid pattern")
    });
    POSITION
        .replace(message, |c: &regex::Captures| {
            let line: usize = c[1].parse().unwrap_or(1);
            let file_line = first_line + line.saturating_sub(1);
            if line > 1 {
                format!("at line {file_line}, column {}", &c[2])
            } else {
                format!("at line {file_line}")
            }
        })
        .into_owned()
}

fn from_ast(
    statement: &ast::Statement,
    dialect: Dialect,
    info: &mut StatementInfo,
    tables: &mut Touched,
    drop_concurrently: bool,
) -> Lock {
    use ast::Statement as S;
    let effects = &mut info.effects;
    match statement {
        // `WITH … UPDATE`: the data-changing statement inside the query is what it does.
        S::Query(query) => match query.body.as_ref() {
            ast::SetExpr::Update(inner)
            | ast::SetExpr::Insert(inner)
            | ast::SetExpr::Delete(inner) => {
                let lock = from_ast(inner, dialect, info, tables, drop_concurrently);
                // `WITH src AS (…) INSERT … SELECT … FROM src`: src is the query's own
                // name, not a table to lock, count or copy from.
                if let Some(with) = &query.with {
                    let ctes: Vec<String> = with
                        .cte_tables
                        .iter()
                        .map(|cte| ident(dialect, &cte.alias.name))
                        .collect();
                    tables.forget(&ctes);
                    info.effects.retain(
                        |e| !matches!(e, Effect::CopyRows { from, .. } if ctes.contains(from)),
                    );
                }
                lock
            }
            _ => Lock::AccessShare,
        },
        S::Insert(insert) => {
            if let ast::TableObject::TableName(name) = &insert.table {
                let into = object(dialect, name);
                tables.push(into.clone());
                if let Some(copy) = copied_from(dialect, insert, into) {
                    if let Effect::CopyRows { from, .. } = &copy {
                        tables.other(from.clone(), Lock::AccessShare);
                    }
                    effects.push(copy);
                }
            }
            Lock::RowExclusive
        }
        S::Update(update) => {
            if let Some(table) = from_table(dialect, &update.table.relation) {
                effects.push(Effect::UpdateRows {
                    table: table.clone(),
                    filtered: update.selection.is_some(),
                });
                tables.push(table);
            }
            Lock::RowExclusive
        }
        S::Delete(delete) => {
            let from = match &delete.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            for t in from.iter().filter_map(|t| from_table(dialect, &t.relation)) {
                effects.push(Effect::DeleteRows {
                    table: t.clone(),
                    filtered: delete.selection.is_some() || delete.limit.is_some(),
                });
                tables.push(t);
            }
            Lock::RowExclusive
        }
        S::Truncate(truncate) => {
            for t in &truncate.table_names {
                let table = object(dialect, &t.name);
                effects.push(Effect::TruncateTable {
                    table: table.clone(),
                });
                tables.push(table);
            }
            Lock::AccessExclusive
        }
        S::Drop {
            object_type,
            names,
            table,
            if_exists,
            ..
        } => match object_type {
            ObjectType::Table => {
                for n in names {
                    effects.push(Effect::DropTable {
                        table: object(dialect, n),
                        if_exists: *if_exists,
                    });
                    tables.push(object(dialect, n));
                }
                Lock::AccessExclusive
            }
            ObjectType::Schema | ObjectType::Database => {
                for n in names {
                    effects.push(Effect::DropSchema {
                        schema: object(dialect, n),
                    });
                }
                Lock::AccessExclusive
            }
            ObjectType::Index => {
                effects.push(Effect::DropIndex {
                    concurrently: drop_concurrently,
                });
                if let Some(t) = table {
                    tables.push(object(dialect, t));
                }
                if drop_concurrently {
                    Lock::ShareUpdateExclusive
                } else {
                    Lock::AccessExclusive
                }
            }
            ObjectType::View | ObjectType::MaterializedView => {
                tables.extend(names.iter().map(|n| object(dialect, n)));
                Lock::AccessExclusive
            }
            _ => Lock::None,
        },
        S::CreateTable(create) => {
            let table = object(dialect, &create.name);
            effects.push(Effect::CreateTable {
                table: table.clone(),
            });
            effects.push(Effect::DeclaresColumns {
                table: table.clone(),
                columns: create
                    .columns
                    .iter()
                    .map(|c| (ident(dialect, &c.name), c.data_type.to_string()))
                    .collect(),
            });
            // Nobody else can be using a table that does not exist yet.
            tables.other(table, Lock::None);
            // A foreign key takes SHARE ROW EXCLUSIVE on the table it references, which
            // already exists and is in use.
            let mut lock = Lock::None;
            let referenced = create
                .constraints
                .iter()
                .filter_map(|c| match c {
                    TableConstraint::ForeignKey(fk) => Some(&fk.foreign_table),
                    _ => None,
                })
                .chain(create.columns.iter().flat_map(|c| {
                    c.options.iter().filter_map(|o| match &o.option {
                        ColumnOption::ForeignKey(fk) => Some(&fk.foreign_table),
                        _ => None,
                    })
                }));
            for name in referenced {
                tables.other(object(dialect, name), Lock::ShareRowExclusive);
                lock = Lock::ShareRowExclusive;
            }
            if create.query.is_some() {
                lock = lock.max(Lock::AccessShare);
            }
            lock
        }
        S::CreateIndex(index) => {
            let table = object(dialect, &index.table_name);
            effects.push(Effect::CreateIndex {
                table: table.clone(),
                concurrently: index.concurrently,
                unique: index.unique,
                columns: index_columns(dialect, &index.columns),
                keys: index
                    .columns
                    .iter()
                    .map(|c| c.column.expr.to_string())
                    .collect(),
                predicate: index.predicate.as_ref().map(ToString::to_string),
            });
            tables.push(table);
            if index.concurrently {
                Lock::ShareUpdateExclusive
            } else {
                Lock::Share
            }
        }
        S::AlterTable(alter) => {
            let table = object(dialect, &alter.name);
            tables.push(table.clone());
            // Dropping the primary key needs a copy only alone: dropped and added in one
            // statement, MySQL and MariaDB replace it in place, writes allowed.
            let adds_primary_key = alter.operations.iter().any(|op| match op {
                AlterTableOperation::AddConstraint { constraint, .. } => {
                    matches!(constraint, TableConstraint::PrimaryKey(_))
                }
                AlterTableOperation::AddColumn { column_def, .. } => column_def
                    .options
                    .iter()
                    .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_))),
                _ => false,
            });
            let mut lock = Lock::None;
            for op in &alter.operations {
                lock = lock.max(alter_operation(
                    op,
                    &table,
                    dialect,
                    adds_primary_key,
                    effects,
                    tables,
                ));
            }
            lock
        }
        S::RenameTable(renames) => {
            for r in renames {
                effects.push(Effect::RenameTable {
                    from: object(dialect, &r.old_name),
                    to: object(dialect, &r.new_name),
                });
                tables.push(object(dialect, &r.old_name));
            }
            Lock::AccessExclusive
        }
        S::AlterType(alter) => {
            if let AlterTypeOperation::AddValue(_) = &alter.operation {
                effects.push(Effect::AddEnumValue {
                    type_name: object(dialect, &alter.name),
                });
            }
            Lock::None
        }
        // A new materialized view holds rows like a new table, and nothing reads it yet:
        // an index built on it in the same run blocks nobody (crates.io's
        // recent_crate_downloads).
        S::CreateView(view) if view.materialized && !view.or_replace => {
            effects.push(Effect::CreateTable {
                table: object(dialect, &view.name),
            });
            Lock::None
        }
        // Replacing a view locks it like a table: queries reading it wait, and queue
        // behind the replacement while it waits for running ones.
        S::CreateView(view) if view.or_replace => {
            tables.push(object(dialect, &view.name));
            Lock::AccessExclusive
        }
        // Triggers change how every write to the table behaves, so PostgreSQL takes
        // SHARE ROW EXCLUSIVE to add or remove one.
        S::CreateTrigger(trigger) => {
            tables.push(object(dialect, &trigger.table_name));
            Lock::ShareRowExclusive
        }
        S::DropTrigger(trigger) => {
            if let Some(table) = &trigger.table_name {
                tables.push(object(dialect, table));
            }
            Lock::ShareRowExclusive
        }
        S::Set(_) => Lock::None,
        _ => Lock::None,
    }
}

/// PostgreSQL's lock for one `ALTER TABLE` action, per the ALTER TABLE reference page.
fn alter_operation(
    op: &AlterTableOperation,
    table: &str,
    dialect: Dialect,
    adds_primary_key: bool,
    effects: &mut Vec<Effect>,
    tables: &mut Touched,
) -> Lock {
    use AlterTableOperation as Op;
    let copies = |effects: &mut Vec<Effect>, reason: &str| {
        if dialect == Dialect::MySql {
            effects.push(Effect::CopiesTable {
                table: table.to_string(),
                reason: reason.to_string(),
            });
        }
    };
    match op {
        Op::AddColumn { column_def, .. } => {
            let (not_null, has_default, volatile_default) = column_facts(column_def);
            effects.push(Effect::AddColumn {
                table: table.to_string(),
                column: ident(dialect, &column_def.name),
                not_null,
                has_default,
                volatile_default,
            });
            effects.push(Effect::DeclaresColumns {
                table: table.to_string(),
                columns: vec![(
                    ident(dialect, &column_def.name),
                    column_def.data_type.to_string(),
                )],
            });
            let mut lock = Lock::AccessExclusive;
            for option in &column_def.options {
                match &option.option {
                    ColumnOption::ForeignKey(fk) => {
                        tables.other(object(dialect, &fk.foreign_table), Lock::ShareRowExclusive);
                        effects.push(Effect::AddForeignKey {
                            table: table.to_string(),
                            not_valid: false,
                        });
                    }
                    ColumnOption::Check(_) => effects.push(Effect::AddCheck {
                        table: table.to_string(),
                        not_valid: false,
                    }),
                    ColumnOption::Unique(_) => effects.push(Effect::AddUnique {
                        table: table.to_string(),
                        columns: vec![ident(dialect, &column_def.name)],
                    }),
                    // Adding a primary key is done in place, concurrent writes allowed
                    // (MySQL's online DDL table; MariaDB the same): no copy.
                    ColumnOption::PrimaryKey(_) => {}
                    ColumnOption::Generated { .. } => {
                        let text = option.option.to_string().to_ascii_uppercase();
                        if text.contains("STORED") {
                            copies(effects, "adds a STORED generated column");
                        }
                    }
                    _ => {}
                }
                lock = lock.max(Lock::AccessExclusive);
            }
            lock
        }
        Op::DropColumn { column_names, .. } => {
            for c in column_names {
                effects.push(Effect::DropColumn {
                    table: table.to_string(),
                    column: ident(dialect, c),
                });
            }
            Lock::AccessExclusive
        }
        Op::AddConstraint {
            constraint,
            not_valid,
        } => match constraint {
            TableConstraint::ForeignKey(fk) => {
                tables.other(object(dialect, &fk.foreign_table), Lock::ShareRowExclusive);
                effects.push(Effect::AddForeignKey {
                    table: table.to_string(),
                    not_valid: *not_valid,
                });
                Lock::ShareRowExclusive
            }
            TableConstraint::Check(_) => {
                effects.push(Effect::AddCheck {
                    table: table.to_string(),
                    not_valid: *not_valid,
                });
                Lock::AccessExclusive
            }
            TableConstraint::Unique(u) => {
                // `UNIQUE USING INDEX` adopts an index built concurrently beforehand; it
                // is the safe pattern, not the risk, and sqlparser reads it with no columns.
                if !u.columns.is_empty() {
                    effects.push(Effect::AddUnique {
                        table: table.to_string(),
                        columns: index_columns(dialect, &u.columns),
                    });
                }
                Lock::AccessExclusive
            }
            TableConstraint::PrimaryKey(pk) => {
                // A primary key is a unique index plus NOT NULL: built under the same lock.
                if !pk.columns.is_empty() {
                    effects.push(Effect::AddUnique {
                        table: table.to_string(),
                        columns: index_columns(dialect, &pk.columns),
                    });
                }
                Lock::AccessExclusive
            }
            _ => Lock::AccessExclusive,
        },
        Op::ValidateConstraint { name } => {
            effects.push(Effect::ValidateConstraint {
                table: table.to_string(),
                name: ident(dialect, name),
            });
            Lock::ShareUpdateExclusive
        }
        Op::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            effects.push(Effect::RenameColumn {
                table: table.to_string(),
                from: ident(dialect, old_column_name),
                to: ident(dialect, new_column_name),
            });
            Lock::AccessExclusive
        }
        Op::RenameTable { table_name } => {
            let to = match table_name {
                ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => {
                    object(dialect, n)
                }
            };
            effects.push(Effect::RenameTable {
                from: table.to_string(),
                to,
            });
            Lock::AccessExclusive
        }
        Op::ChangeColumn {
            old_name,
            new_name,
            data_type,
            ..
        } => {
            effects.push(Effect::ChangeType {
                table: table.to_string(),
                column: ident(dialect, old_name),
                new_type: data_type.to_string(),
            });
            if ident(dialect, old_name) != ident(dialect, new_name) {
                effects.push(Effect::RenameColumn {
                    table: table.to_string(),
                    from: ident(dialect, old_name),
                    to: ident(dialect, new_name),
                });
            }
            Lock::AccessExclusive
        }
        Op::ModifyColumn {
            col_name,
            data_type,
            ..
        } => {
            effects.push(Effect::ChangeType {
                table: table.to_string(),
                column: ident(dialect, col_name),
                new_type: data_type.to_string(),
            });
            Lock::AccessExclusive
        }
        Op::AlterColumn { column_name, op } => match op {
            AlterColumnOperation::SetNotNull => {
                effects.push(Effect::SetNotNull {
                    table: table.to_string(),
                    column: ident(dialect, column_name),
                });
                Lock::AccessExclusive
            }
            AlterColumnOperation::SetDataType { data_type, .. } => {
                effects.push(Effect::ChangeType {
                    table: table.to_string(),
                    column: ident(dialect, column_name),
                    new_type: data_type.to_string(),
                });
                Lock::AccessExclusive
            }
            _ => Lock::AccessExclusive,
        },
        Op::DropPrimaryKey { .. } => {
            if !adds_primary_key {
                copies(effects, "drops the primary key");
            }
            Lock::AccessExclusive
        }
        Op::Algorithm {
            algorithm: AlterTableAlgorithm::Copy,
            ..
        } => {
            copies(effects, "asks for ALGORITHM=COPY");
            Lock::AccessExclusive
        }
        Op::EnableTrigger { .. }
        | Op::DisableTrigger { .. }
        | Op::EnableAlwaysTrigger { .. }
        | Op::EnableReplicaTrigger { .. } => Lock::ShareRowExclusive,
        Op::SetOptionsParens { .. } => Lock::ShareUpdateExclusive,
        Op::Algorithm { .. } | Op::Lock { .. } => Lock::None,
        _ => Lock::AccessExclusive,
    }
}

/// Functions (and type names, which look like calls in casts such as `numeric(10, 2)`)
/// known not to be volatile. Any other call in a default is taken as volatile: PostgreSQL
/// then rewrites the table, and a user-defined function is volatile unless declared
/// otherwise, so guessing "constant" would hide exactly the expensive case.
const NOT_VOLATILE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "timezone",
    "current_user",
    "current_setting",
    "lower",
    "upper",
    "coalesce",
    "nullif",
    "concat",
    "array",
    "to_jsonb",
    "to_json",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "make_interval",
    "interval",
    "numeric",
    "decimal",
    "varchar",
    "char",
    "character",
    "bit",
    "timestamp",
    "timestamptz",
    "time",
    "float",
    "cast",
    "in",
    // PostgreSQL's built-in immutable and stable functions that defaults use
    // (chirpstack's `DEFAULT decode('0000000000000000', 'hex')`).
    "decode",
    "encode",
    "md5",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "length",
    "char_length",
    "octet_length",
    "substr",
    "substring",
    "replace",
    "btrim",
    "ltrim",
    "rtrim",
    "trim",
    "lpad",
    "rpad",
    "repeat",
    "left",
    "right",
    "split_part",
    "string_to_array",
    "abs",
    "round",
    "trunc",
    "floor",
    "ceil",
    "ceiling",
    "greatest",
    "least",
    "date_trunc",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "to_char",
    "to_date",
    "to_timestamp",
    "jsonb_object",
    "json_object",
    "array_fill",
];

/// `(not_null, has_default, volatile_default)` of a column definition.
fn column_facts(column: &ast::ColumnDef) -> (bool, bool, bool) {
    let type_name = column.data_type.to_string().to_ascii_lowercase();
    let serial = matches!(
        type_name.as_str(),
        "serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2"
    );
    let mut not_null = serial;
    let mut has_default = serial;
    let mut volatile = serial;
    for option in &column.options {
        match &option.option {
            ColumnOption::NotNull | ColumnOption::PrimaryKey(_) => not_null = true,
            ColumnOption::Default(expr) => {
                has_default = true;
                volatile |= is_volatile(&expr.to_string());
            }
            ColumnOption::Generated { .. } | ColumnOption::Identity(_) => {
                has_default = true;
                let text = option.option.to_string().to_ascii_uppercase();
                // Identity columns draw from a sequence per row, like serial.
                volatile |= text.contains("IDENTITY");
            }
            ColumnOption::DialectSpecific(tokens) => {
                let text = tokens
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<String>()
                    .to_ascii_uppercase();
                if text.contains("AUTO_INCREMENT") || text.contains("AUTOINCREMENT") {
                    has_default = true;
                }
            }
            _ => {}
        }
    }
    (not_null, has_default, volatile)
}

fn is_volatile(expr: &str) -> bool {
    let lower = expr.to_ascii_lowercase();
    let b = lower.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            in_string = !in_string;
            i += 1;
        } else if !in_string && (c.is_ascii_alphabetic() || c == b'_') {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            let name = lower[start..i].rsplit('.').next().unwrap_or_default();
            let call = lower[i..].trim_start().starts_with('(');
            if call && !NOT_VOLATILE.contains(&name) {
                return true;
            }
        } else {
            i += 1;
        }
    }
    false
}

/// The schemas `sql` creates, spelled as the database names them: `CREATE SCHEMA [IF NOT
/// EXISTS] name`, and PostgreSQL's `CREATE SCHEMA AUTHORIZATION role`, named after the
/// role. Every statement of a block is read (goose's `StatementBegin`); text in strings
/// and dollar-quoted bodies is not.
pub fn created_schemas(sql: &str, dialect: Dialect) -> Vec<String> {
    let words = words(sql, dialect);
    let mut out = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if word.upper != "CREATE" || words.get(i + 1).is_none_or(|w| w.upper != "SCHEMA") {
            continue;
        }
        let at = skip(&words, i + 2, &["IF", "NOT", "EXISTS", "AUTHORIZATION"]);
        if let Some((name, _)) = name_at(dialect, &words, at) {
            out.push(name);
        }
    }
    out
}

/// Words only one database's SQL is written with, found in `sql` (outside strings,
/// comments and dollar bodies), each with that database, in the order found and each
/// once: PostgreSQL's `TIMESTAMPTZ` or `::` casts, MySQL's `AUTO_INCREMENT` or backquoted
/// names, SQLite's `AUTOINCREMENT` or `PRAGMA`. (SQLite takes most type names it is
/// given, so a marker says what a file was written for, not where it would fail.)
pub fn dialect_markers(sql: &str) -> Vec<(Dialect, String)> {
    const POSTGRES: &[&str] = &[
        "TIMESTAMPTZ",
        "TIMETZ",
        "JSONB",
        "BYTEA",
        "SERIAL",
        "BIGSERIAL",
        "SMALLSERIAL",
        "CONCURRENTLY",
        "PLPGSQL",
        "TSVECTOR",
        "CITEXT",
        "ILIKE",
        "INHERITS",
        "GEN_RANDOM_UUID",
        "UUID_GENERATE_V4",
    ];
    const MYSQL: &[&str] = &[
        "AUTO_INCREMENT",
        "UNSIGNED",
        "TINYINT",
        "MEDIUMINT",
        "MEDIUMTEXT",
        "LONGTEXT",
        "TINYTEXT",
        "LONGBLOB",
        "MEDIUMBLOB",
        "TINYBLOB",
    ];
    // Table options, only as options: a column may be called `engine`.
    const MYSQL_OPTIONS: &[&str] = &["ENGINE", "CHARSET"];
    const SQLITE: &[&str] = &["AUTOINCREMENT", "PRAGMA", "ROWID"];
    let words = as_words(scan::spanned_any(sql));
    let mut out: Vec<(Dialect, String)> = Vec::new();
    let mut found = |dialect: Dialect, marker: String| {
        if !out.iter().any(|(d, m)| *d == dialect && *m == marker) {
            out.push((dialect, marker));
        }
    };
    for (i, word) in words.iter().enumerate() {
        let upper = word.upper.as_str();
        if POSTGRES.contains(&upper) {
            found(Dialect::Postgres, upper.to_string());
        } else if MYSQL.contains(&upper)
            || MYSQL_OPTIONS.contains(&upper)
                && words.get(i + 1).is_some_and(|next| next.text == "=")
        {
            found(Dialect::MySql, upper.to_string());
        } else if SQLITE.contains(&upper) {
            found(Dialect::Sqlite, upper.to_string());
        } else if word.text == ":"
            && words
                .get(i + 1)
                .is_some_and(|next| next.text == ":" && next.start == word.end)
        {
            found(Dialect::Postgres, "::".to_string());
        } else if sql.as_bytes().get(word.start) == Some(&b'`') {
            found(Dialect::MySql, "`".to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Keyword scan, for statements sqlparser cannot read
// ---------------------------------------------------------------------------------------

/// A token of the statement as the keyword scan reads it: keywords and identifiers with
/// their quotes removed (a quoted one never matches a keyword: its `upper` is empty);
/// each string or body as one `'`; punctuation as one-character words, so `a.b` and `(`
/// survive. Comments are skipped.
#[derive(Clone, Debug)]
struct Word {
    text: String,
    upper: String,
    start: usize,
    end: usize,
}

fn words(sql: &str, dialect: Dialect) -> Vec<Word> {
    as_words(scan::spanned(sql, dialect))
}

fn as_words(tokens: Vec<scan::Spanned>) -> Vec<Word> {
    tokens
        .into_iter()
        .map(|s| {
            let (text, upper) = match s.token {
                scan::Token::Word(w) => {
                    let upper = w.to_ascii_uppercase();
                    (w, upper)
                }
                scan::Token::Quoted(q) => (q, String::new()),
                scan::Token::Str(_) => ("'".to_string(), "'".to_string()),
                scan::Token::Punct(c) => (c.to_string(), c.to_string()),
            };
            Word {
                text,
                upper,
                start: s.span.start,
                end: s.span.end,
            }
        })
        .collect()
}

fn starts_with(words: &[Word], keywords: &[&str]) -> bool {
    words.len() >= keywords.len() && words.iter().zip(keywords).all(|(w, k)| w.upper == *k)
}

fn remove_word(sql: &str, words: &[Word], index: usize) -> String {
    let w = &words[index];
    format!("{}{}", &sql[..w.start], &sql[w.end..])
}

/// The same statement in a spelling sqlparser reads, for forms the databases accept that
/// sqlparser 0.63 does not: SQLite's `PRAGMA foreign_keys=off` (a bare word as value) and
/// MySQL's `ALTER TABLE a RENAME b` (without `TO`). Found in authelia's migrations.
fn respelled(sql: &str, words: &[Word], dialect: Dialect) -> Option<String> {
    match dialect {
        Dialect::Sqlite if starts_with(words, &["PRAGMA"]) => {
            let eq = words.iter().position(|w| w.text == "=")?;
            let value = words.get(eq + 1).filter(|w| {
                !w.upper.is_empty() && w.text.chars().all(|c| c.is_ascii_alphabetic())
            })?;
            Some(format!(
                "{}'{}'{}",
                &sql[..value.start],
                value.text,
                &sql[value.end..]
            ))
        }
        // `CREATE FUNCTION … COST 100` (pg_dump writes it; atuin's triggers), which the
        // parser does not take: the planner's estimate changes nothing analysed here.
        Dialect::Postgres
            if starts_with(words, &["CREATE", "FUNCTION"])
                || starts_with(words, &["CREATE", "OR", "REPLACE", "FUNCTION"]) =>
        {
            let at = words.windows(2).position(|pair| {
                matches!(pair[0].upper.as_str(), "COST" | "ROWS")
                    && pair[1].text.chars().all(|c| c.is_ascii_digit())
            })?;
            Some(format!(
                "{}{}",
                &sql[..words[at].start],
                &sql[words[at + 1].end..]
            ))
        }
        // `ALTER MATERIALIZED VIEW … OWNER TO …` (pg_dump, lemmy), which the parser takes
        // for tables only: the same ACCESS EXCLUSIVE lock, on the view, and no rows.
        Dialect::Postgres
            if starts_with(words, &["ALTER", "MATERIALIZED", "VIEW"])
                && words.iter().any(|w| w.upper == "OWNER") =>
        {
            Some(format!("ALTER TABLE{}", &sql[words[2].end..]))
        }
        // `CREATE EXTENSION … [WITH] SCHEMA s [VERSION v] [CASCADE]` (pg_dump writes `WITH
        // SCHEMA`), which the parser takes only without its options: they say where the
        // extension's objects go, which touches no table here.
        Dialect::Postgres if starts_with(words, &["CREATE", "EXTENSION"]) => {
            let at = words.iter().position(|w| {
                matches!(w.upper.as_str(), "WITH" | "SCHEMA" | "VERSION" | "CASCADE")
            })?;
            Some(sql[..words[at].start].to_string())
        }
        // `COMMENT ON CONSTRAINT c ON t IS '…'` (pg_dump), which the parser lacks: a
        // comment on the table's catalog entry, as `COMMENT ON TABLE t` is.
        Dialect::Postgres if starts_with(words, &["COMMENT", "ON", "CONSTRAINT"]) => {
            let on = words.iter().skip(3).position(|w| w.upper == "ON")? + 3;
            Some(format!(
                "COMMENT ON TABLE {}",
                &sql[words.get(on + 1)?.start..]
            ))
        }
        Dialect::MySql if starts_with(words, &["ALTER", "TABLE"]) => {
            let rename = words.iter().position(|w| w.upper == "RENAME")?;
            let next = words.get(rename + 1)?;
            if ["TO", "AS", "COLUMN", "INDEX", "KEY"].contains(&next.upper.as_str()) {
                return None;
            }
            Some(format!("{}TO {}", &sql[..next.start], &sql[next.start..]))
        }
        _ => None,
    }
}

fn sets_lock_timeout(words: &[Word]) -> bool {
    if words.first().is_none_or(|w| w.upper != "SET") {
        return false;
    }
    words.iter().skip(1).take(4).any(|w| {
        matches!(
            w.upper.as_str(),
            "LOCK_TIMEOUT" | "LOCK_WAIT_TIMEOUT" | "INNODB_LOCK_WAIT_TIMEOUT"
        )
    })
}

/// Skips optional words at `at`, returning the new position.
fn skip(words: &[Word], mut at: usize, optional: &[&str]) -> usize {
    while at < words.len() && optional.contains(&words[at].upper.as_str()) {
        at += 1;
    }
    at
}

/// A possibly qualified name starting at `at`: its last part, and the position after it.
fn name_at(dialect: Dialect, words: &[Word], at: usize) -> Option<(String, usize)> {
    let mut at = at;
    // A quoted word has no upper-case form: it is never a keyword.
    let spelled = |w: &Word| name_key(dialect, &w.text, w.upper.is_empty());
    let mut name = spelled(words.get(at)?);
    if name.is_empty()
        || !name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    at += 1;
    while words.get(at).is_some_and(|w| w.text == ".") {
        name = spelled(words.get(at + 1)?);
        at += 2;
    }
    Some((name, at))
}

fn position(words: &[Word], keyword: &str) -> Option<usize> {
    words.iter().position(|w| w.upper == keyword)
}

fn from_words(
    dialect: Dialect,
    words: &[Word],
    info: &mut StatementInfo,
    tables: &mut Touched,
) -> Lock {
    let effects = &mut info.effects;
    let first = words.first().map(|w| w.upper.as_str()).unwrap_or_default();
    match first {
        "DROP" => {
            let kind = words.get(1).map(|w| w.upper.as_str()).unwrap_or_default();
            let mut at = skip(words, 2, &["CONCURRENTLY", "IF", "EXISTS"]);
            let if_exists = words[2..at].iter().any(|w| w.upper == "EXISTS");
            let mut names = Vec::new();
            while let Some((name, next)) = name_at(dialect, words, at) {
                names.push(name);
                if words.get(next).is_some_and(|w| w.text == ",") {
                    at = next + 1;
                } else {
                    break;
                }
            }
            match kind {
                "TABLE" => {
                    for n in names {
                        effects.push(Effect::DropTable {
                            table: n.clone(),
                            if_exists,
                        });
                        tables.push(n);
                    }
                    Lock::AccessExclusive
                }
                "SCHEMA" | "DATABASE" => {
                    for n in names {
                        effects.push(Effect::DropSchema { schema: n });
                    }
                    Lock::AccessExclusive
                }
                "INDEX" => {
                    let concurrently = words.get(2).is_some_and(|w| w.upper == "CONCURRENTLY");
                    effects.push(Effect::DropIndex { concurrently });
                    if concurrently {
                        Lock::ShareUpdateExclusive
                    } else {
                        Lock::AccessExclusive
                    }
                }
                _ => Lock::AccessExclusive,
            }
        }
        "TRUNCATE" => {
            let at = skip(words, 1, &["TABLE", "ONLY", "IF", "EXISTS"]);
            if let Some((table, _)) = name_at(dialect, words, at) {
                effects.push(Effect::TruncateTable {
                    table: table.clone(),
                });
                tables.push(table);
            }
            Lock::AccessExclusive
        }
        "CREATE" => {
            let at = skip(
                words,
                1,
                &["OR", "REPLACE", "UNIQUE", "TEMPORARY", "TEMP", "UNLOGGED"],
            );
            match words.get(at).map(|w| w.upper.as_str()) {
                Some("TABLE") => {
                    let at = skip(words, at + 1, &["IF", "NOT", "EXISTS"]);
                    if let Some((table, _)) = name_at(dialect, words, at) {
                        effects.push(Effect::CreateTable {
                            table: table.clone(),
                        });
                        tables.push(table);
                    }
                    Lock::None
                }
                Some("INDEX") => {
                    let concurrently = words.get(at + 1).is_some_and(|w| w.upper == "CONCURRENTLY");
                    let unique = words[..at].iter().any(|w| w.upper == "UNIQUE");
                    let table = position(words, "ON").and_then(|on| {
                        name_at(dialect, words, skip(words, on + 1, &["ONLY"])).map(|(n, _)| n)
                    });
                    if let Some(table) = table {
                        effects.push(Effect::CreateIndex {
                            table: table.clone(),
                            concurrently,
                            unique,
                            columns: Vec::new(),
                            keys: Vec::new(),
                            predicate: None,
                        });
                        tables.push(table);
                    }
                    if concurrently {
                        Lock::ShareUpdateExclusive
                    } else {
                        Lock::Share
                    }
                }
                _ => Lock::None,
            }
        }
        "ALTER" if words.get(1).is_some_and(|w| w.upper == "TABLE") => {
            let at = skip(words, 2, &["IF", "EXISTS", "ONLY"]);
            let Some((table, at)) = name_at(dialect, words, at) else {
                return Lock::AccessExclusive;
            };
            tables.push(table.clone());
            let rest = &words[at..];
            let has = |seq: &[&str]| {
                rest.windows(seq.len())
                    .position(|w| w.iter().zip(seq).all(|(w, k)| w.upper == *k))
            };
            let not_valid = has(&["NOT", "VALID"]).is_some();
            let mut lock = Lock::AccessExclusive;
            if let Some(p) = has(&["DROP", "COLUMN"]) {
                let at = skip(rest, p + 2, &["IF", "EXISTS"]);
                if let Some((column, _)) = name_at(dialect, rest, at) {
                    effects.push(Effect::DropColumn {
                        table: table.clone(),
                        column,
                    });
                }
            }
            if let Some(p) = has(&["RENAME", "COLUMN"]) {
                if let (Some((from, next)), Some((to, _))) =
                    (name_at(dialect, rest, p + 2), name_at(dialect, rest, p + 4))
                    && rest.get(next).is_some_and(|w| w.upper == "TO")
                {
                    effects.push(Effect::RenameColumn {
                        table: table.clone(),
                        from,
                        to,
                    });
                }
            } else if let Some(p) = has(&["RENAME", "TO"])
                && let Some((to, _)) = name_at(dialect, rest, p + 2)
            {
                effects.push(Effect::RenameTable {
                    from: table.clone(),
                    to,
                });
            }
            if let Some(p) = has(&["SET", "NOT", "NULL"])
                && let Some(c) = rest[..p].iter().rposition(|w| w.upper == "COLUMN")
                && let Some((column, _)) = name_at(dialect, rest, c + 1)
            {
                effects.push(Effect::SetNotNull {
                    table: table.clone(),
                    column,
                });
            }
            if has(&["FOREIGN", "KEY"]).is_some() || has(&["REFERENCES"]).is_some() {
                effects.push(Effect::AddForeignKey {
                    table: table.clone(),
                    not_valid,
                });
                lock = Lock::ShareRowExclusive;
            }
            if has(&["ADD"]).is_some() && has(&["CHECK"]).is_some() {
                effects.push(Effect::AddCheck {
                    table: table.clone(),
                    not_valid,
                });
                lock = Lock::AccessExclusive;
            }
            if has(&["VALIDATE", "CONSTRAINT"]).is_some() && effects.is_empty() {
                lock = Lock::ShareUpdateExclusive;
            }
            lock
        }
        "ALTER" if words.get(1).is_some_and(|w| w.upper == "TYPE") => {
            if let Some((type_name, at)) = name_at(dialect, words, 2)
                && starts_with(&words[at..], &["ADD", "VALUE"])
            {
                effects.push(Effect::AddEnumValue { type_name });
            }
            Lock::None
        }
        "DELETE" => {
            let at = skip(words, 1, &["FROM", "ONLY"]);
            if let Some((table, _)) = name_at(dialect, words, at) {
                effects.push(Effect::DeleteRows {
                    table: table.clone(),
                    filtered: position(words, "WHERE").is_some(),
                });
                tables.push(table);
            }
            Lock::RowExclusive
        }
        "UPDATE" => {
            let at = skip(words, 1, &["ONLY"]);
            if let Some((table, _)) = name_at(dialect, words, at) {
                effects.push(Effect::UpdateRows {
                    table: table.clone(),
                    filtered: position(words, "WHERE").is_some(),
                });
                tables.push(table);
            }
            Lock::RowExclusive
        }
        "INSERT" => {
            let at = skip(words, 1, &["INTO", "IGNORE"]);
            if let Some((table, _)) = name_at(dialect, words, at) {
                tables.push(table);
            }
            Lock::RowExclusive
        }
        "VACUUM" if words.get(1).is_some_and(|w| w.upper == "FULL") => Lock::AccessExclusive,
        "CLUSTER" | "REINDEX" => Lock::AccessExclusive,
        _ => Lock::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str, dialect: Dialect) -> StatementInfo {
        let statements = crate::split::split(sql, dialect).unwrap();
        assert_eq!(statements.len(), 1, "{sql}");
        analyze(&statements, dialect).remove(0)
    }

    #[test]
    fn created_schemas_are_read_in_every_spelling() {
        let pg = Dialect::Postgres;
        assert_eq!(created_schemas("CREATE SCHEMA app", pg), ["app"]);
        assert_eq!(
            created_schemas("create schema if not exists Thunderdome", pg),
            ["thunderdome"]
        );
        assert_eq!(created_schemas(r#"CREATE SCHEMA "Mixed""#, pg), ["Mixed"]);
        assert_eq!(
            created_schemas("CREATE SCHEMA AUTHORIZATION joe", pg),
            ["joe"]
        );
        assert_eq!(
            created_schemas(
                "CREATE SCHEMA a AUTHORIZATION joe CREATE TABLE t (id int)",
                pg
            ),
            ["a"]
        );
        // A goose block: a DO body, a DROP, then the schema.
        assert_eq!(
            created_schemas(
                "DO $$ BEGIN RAISE NOTICE 'CREATE SCHEMA no'; END $$;\nDROP TABLE IF EXISTS x;\nCREATE SCHEMA IF NOT EXISTS td;",
                pg
            ),
            ["td"]
        );
        assert!(created_schemas("SELECT 'CREATE SCHEMA s' -- CREATE SCHEMA t", pg).is_empty());
        assert!(created_schemas("CREATE TABLE schema_x (id int)", pg).is_empty());
    }

    /// Each table gets the lock of its own role: the one written, the ones only read, the
    /// one referenced, the one created.
    #[test]
    fn each_table_gets_its_own_lock() {
        let locks = |sql: &str, dialect: Dialect| -> Vec<(String, &'static str)> {
            one(sql, dialect)
                .locks
                .into_iter()
                .map(|l| (l.table, l.lock.name()))
                .collect()
        };
        let pairs = |p: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
            p.iter().map(|(t, l)| (t.to_string(), *l)).collect()
        };
        let pg = Dialect::Postgres;
        assert_eq!(
            locks(
                "INSERT INTO archive SELECT * FROM orders o JOIN users u ON u.id = o.user_id",
                pg
            ),
            pairs(&[
                ("archive", "ROW EXCLUSIVE"),
                ("orders", "ACCESS SHARE"),
                ("users", "ACCESS SHARE")
            ])
        );
        assert_eq!(
            locks("CREATE TABLE archive AS SELECT * FROM orders", pg),
            pairs(&[("archive", "no"), ("orders", "ACCESS SHARE")])
        );
        assert_eq!(
            locks(
                "CREATE TABLE items (id int, order_id int REFERENCES orders (id))",
                pg
            ),
            pairs(&[("items", "no"), ("orders", "SHARE ROW EXCLUSIVE")])
        );
        assert_eq!(
            locks(
                "ALTER TABLE orders ADD COLUMN note text, ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id)",
                pg
            ),
            pairs(&[
                ("orders", "ACCESS EXCLUSIVE"),
                ("users", "SHARE ROW EXCLUSIVE")
            ])
        );
        // A CTE is not a table; the statement's own target keeps its lock when it also reads itself.
        assert_eq!(
            locks(
                "WITH gone AS (SELECT id FROM users WHERE banned) UPDATE users SET note = 'x' WHERE id IN (SELECT id FROM gone)",
                pg
            ),
            pairs(&[("users", "ROW EXCLUSIVE")])
        );
        // Nor when the INSERT copies from it (documenso's add_organisations).
        let copied = one(
            "WITH src AS (SELECT id FROM t) INSERT INTO u (id) SELECT id FROM src",
            pg,
        );
        assert_eq!(
            copied
                .locks
                .iter()
                .map(|l| (l.table.clone(), l.lock.name()))
                .collect::<Vec<_>>(),
            pairs(&[("u", "ROW EXCLUSIVE"), ("t", "ACCESS SHARE")])
        );
        assert!(
            !copied.tables.iter().any(|t| t == "src"),
            "{:?}",
            copied.tables
        );
        assert!(
            !copied
                .effects
                .iter()
                .any(|e| matches!(e, Effect::CopyRows { from, .. } if from == "src")),
            "{:?}",
            copied.effects
        );
        // SQLite locks the whole file for any write, creating a table included.
        let created = one("CREATE TABLE t (id integer)", Dialect::Sqlite);
        assert_eq!(created.lock, Lock::DatabaseWrite);
    }

    /// conductor's MySQL migrations build a statement in a user variable and run it with
    /// PREPARE/EXECUTE: the variable and the release are understood (no GW022 parser
    /// noise), and PREPARE is named as dynamic SQL, not as a parse error.
    #[test]
    fn mysql_user_variables_and_prepared_statements() {
        let my = Dialect::MySql;
        for sql in [
            "SET @colstmt := IF(@has > 0, 'ALTER TABLE q DROP COLUMN id', 'SELECT 1')",
            "SET @x = 1",
            "DEALLOCATE PREPARE stmt",
        ] {
            let info = one(sql, my);
            assert!(info.parsed, "{sql}: {:?}", info.parse_error);
        }
        let prepared = one("PREPARE stmt FROM @colstmt", my);
        assert!(!prepared.parsed);
        assert!(
            prepared
                .parse_error
                .as_deref()
                .is_some_and(|e| e.starts_with("dynamic SQL")),
            "{:?}",
            prepared.parse_error
        );
    }

    /// A goose `StatementBegin` … `End` block runs as one statement of several (hatchet's
    /// migrations hold whole groups in one): each part is judged, and the block holds the
    /// strongest lock. A drop in its second statement is a drop, not GW022's "could not
    /// read" (its keyword scan saw only the first statement's words).
    #[test]
    fn a_block_of_several_statements_is_judged_statement_by_statement() {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let block = crate::split::Statement {
                sql: "CREATE TABLE audit (id integer);\nALTER TABLE users DROP COLUMN legacy;\nCREATE INDEX users_email ON users (email)".into(),
                line: 3,
                span: 0..0,
            };
            let info = analyze(std::slice::from_ref(&block), dialect).remove(0);
            assert!(info.parsed, "{dialect}: {:?}", info.parse_error);
            assert!(
                info.effects.contains(&Effect::DropColumn {
                    table: "users".into(),
                    column: "legacy".into()
                }),
                "{dialect}: {:?}",
                info.effects
            );
            assert!(!info.effects.contains(&Effect::Other), "{:?}", info.effects);
            assert_eq!(info.tables, ["audit", "users"], "{dialect}");
            let alone = one("ALTER TABLE users DROP COLUMN legacy", dialect);
            assert_eq!(info.lock, alone.lock, "{dialect}");
        }
        // Each part's table holds that part's lock (thunderdome: a CREATE INDEX beside a
        // DROP TABLE was said to take ACCESS EXCLUSIVE on the indexed table).
        let block = crate::split::Statement {
            sql: "CREATE INDEX orders_c ON orders (customer_id);\nDROP TABLE legacy".into(),
            line: 1,
            span: 0..0,
        };
        let info = analyze(std::slice::from_ref(&block), Dialect::Postgres).remove(0);
        assert_eq!(info.lock, Lock::AccessExclusive);
        let lock_of = |t: &str| info.locks.iter().find(|l| l.table == t).map(|l| l.lock);
        assert_eq!(lock_of("orders"), Some(Lock::Share));
        assert_eq!(lock_of("legacy"), Some(Lock::AccessExclusive));
    }

    /// A new materialized view is new like a table: lint and plan judge an index on it in
    /// the same run as on a table nothing uses yet.
    #[test]
    fn a_new_materialized_view_is_created() {
        let info = one(
            "CREATE MATERIALIZED VIEW recent_crate_downloads (crate_id, downloads) AS SELECT crate_id, SUM(downloads) FROM version_downloads GROUP BY crate_id",
            Dialect::Postgres,
        );
        assert!(info.parsed, "{:?}", info.parse_error);
        assert!(
            info.effects.contains(&Effect::CreateTable {
                table: "recent_crate_downloads".into()
            }),
            "{:?}",
            info.effects
        );
    }

    /// pg_dump and atuin write `COST 100` on functions, which the parser does not take.
    #[test]
    fn a_function_with_a_cost_is_read() {
        let info = one(
            "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql COST 100 AS $$ BEGIN NEW.cost := 1; RETURN NEW; END $$",
            Dialect::Postgres,
        );
        assert!(info.parsed, "{:?}", info.parse_error);
        let rows = one(
            "CREATE FUNCTION f(cost int) RETURNS SETOF int LANGUAGE sql ROWS 10 AS 'SELECT 1'",
            Dialect::Postgres,
        );
        assert!(rows.parsed, "{:?}", rows.parse_error);
    }

    /// atuin's trigger at file line 15 failed at its line 32: the message said "Line: 32".
    #[test]
    fn parse_errors_point_into_the_file() {
        assert_eq!(
            in_the_file(
                "Expected: end of statement, found: cost at Line: 32, Column: 1",
                15
            ),
            "Expected: end of statement, found: cost at line 46, column 1"
        );
        assert_eq!(
            in_the_file("Expected: (, found: GUSTO at Line: 1, Column: 24", 7),
            "Expected: (, found: GUSTO at line 7"
        );
        let statements = crate::split::split(
            "SELECT 1;\n\nFROBNICATE\n  TABLE users WITH GUSTO;\n",
            Dialect::Postgres,
        )
        .unwrap();
        let info = &analyze(&statements, Dialect::Postgres)[1];
        assert!(!info.parsed);
        assert!(
            info.parse_error
                .as_deref()
                .unwrap_or("")
                .contains("at line 3"),
            "{:?}",
            info.parse_error
        );
    }

    #[test]
    fn postgres_locks_follow_the_documentation() {
        let pg = |sql| one(sql, Dialect::Postgres).lock;
        assert_eq!(
            pg("ALTER TABLE users ADD COLUMN x int"),
            Lock::AccessExclusive
        );
        assert_eq!(pg("CREATE INDEX i ON users (email)"), Lock::Share);
        assert_eq!(
            pg("CREATE INDEX CONCURRENTLY i ON users (email)"),
            Lock::ShareUpdateExclusive
        );
        assert_eq!(
            pg("ALTER TABLE users VALIDATE CONSTRAINT c"),
            Lock::ShareUpdateExclusive
        );
        assert_eq!(
            pg("ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b_id) REFERENCES b (id)"),
            Lock::ShareRowExclusive
        );
        assert_eq!(
            pg("UPDATE users SET a = 1 WHERE id = 2"),
            Lock::RowExclusive
        );
        assert_eq!(pg("SELECT 1"), Lock::AccessShare);
        assert_eq!(pg("DROP INDEX CONCURRENTLY i"), Lock::ShareUpdateExclusive);
        assert_eq!(
            pg("DROP TRIGGER IF EXISTS t ON users"),
            Lock::ShareRowExclusive
        );
        assert_eq!(
            pg("CREATE OR REPLACE VIEW v AS SELECT 1"),
            Lock::AccessExclusive
        );
        assert_eq!(pg("CREATE VIEW v AS SELECT 1"), Lock::None);
        assert!(Lock::AccessExclusive.blocks_reads());
        assert!(Lock::Share.blocks_writes() && !Lock::Share.blocks_reads());
        assert!(!Lock::ShareUpdateExclusive.blocks_writes());
    }

    #[test]
    fn dialects_translate_locks() {
        assert_eq!(
            one("ALTER TABLE users ADD COLUMN x int", Dialect::MySql).lock,
            Lock::MetadataExclusive
        );
        assert_eq!(
            one("ALTER TABLE users ADD COLUMN x int", Dialect::Sqlite).lock,
            Lock::DatabaseWrite
        );
        assert_eq!(
            one("INSERT INTO users (id) VALUES (1)", Dialect::MySql).lock,
            Lock::MetadataSharedWrite
        );
        assert_eq!(
            one("INSERT INTO users (id) VALUES (1)", Dialect::MySql)
                .lock
                .name(),
            "shared metadata and row locks",
            "MySQL's own terms, not PostgreSQL's ROW EXCLUSIVE"
        );
        assert_eq!(one("SELECT 1", Dialect::Sqlite).lock, Lock::AccessShare);
    }

    /// Names come out as the database names the object, so that findings name it and a
    /// live count finds it: a Prisma history's `"Subscription"` is not `subscription`.
    #[test]
    fn names_are_spelled_as_each_database_names_them() {
        let cases = [
            // (dialect, statement, table, column)
            (
                Dialect::Postgres,
                r#"ALTER TABLE "Subscription" DROP COLUMN "planId""#,
                "Subscription",
                "planId",
            ),
            (
                Dialect::Postgres,
                "ALTER TABLE Subscription DROP COLUMN PlanId",
                "subscription",
                "planid",
            ),
            (
                Dialect::MySql,
                "ALTER TABLE `Subscription` DROP COLUMN `planId`",
                "Subscription",
                "planId",
            ),
            (
                Dialect::MySql,
                "ALTER TABLE Subscription DROP COLUMN planId",
                "Subscription",
                "planId",
            ),
            (
                Dialect::Sqlite,
                r#"ALTER TABLE "Subscription" DROP COLUMN "planId""#,
                "subscription",
                "planid",
            ),
        ];
        for (dialect, sql, table, column) in cases {
            let info = one(sql, dialect);
            assert!(info.parsed, "{sql}");
            assert_eq!(info.tables, vec![table], "{dialect:?}: {sql}");
            assert_eq!(
                info.effects,
                vec![Effect::DropColumn {
                    table: table.into(),
                    column: column.into(),
                }],
                "{dialect:?}: {sql}"
            );
        }
        // Through the keyword scan too, for statements the parser cannot read.
        for (dialect, sql, table) in [
            (
                Dialect::Postgres,
                r#"DROP TABLE "Counter" CASCADE FOO"#,
                "Counter",
            ),
            (
                Dialect::Postgres,
                "DROP TABLE Counter CASCADE FOO",
                "counter",
            ),
            (Dialect::MySql, "DROP TABLE Counter CASCADE FOO", "Counter"),
            (
                Dialect::Sqlite,
                r#"DROP TABLE "Counter" CASCADE FOO"#,
                "counter",
            ),
        ] {
            let info = one(sql, dialect);
            assert!(!info.parsed, "{sql} should not parse");
            assert_eq!(info.tables, vec![table], "{dialect:?}: {sql}");
        }
    }

    #[test]
    fn effects_of_common_statements() {
        let info = one(
            "ALTER TABLE public.\"Users\" ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
            Dialect::Postgres,
        );
        assert!(info.parsed);
        assert_eq!(info.tables, vec!["Users"]);
        assert_eq!(
            info.effects,
            vec![
                Effect::AddColumn {
                    table: "Users".into(),
                    column: "token".into(),
                    not_null: true,
                    has_default: true,
                    volatile_default: true,
                },
                Effect::DeclaresColumns {
                    table: "Users".into(),
                    columns: vec![("token".into(), "UUID".into())],
                },
            ]
        );
        let info = one("DROP INDEX CONCURRENTLY IF EXISTS i", Dialect::Postgres);
        assert!(info.parsed, "{:?}", info.parse_error);
        assert_eq!(info.effects, vec![Effect::DropIndex { concurrently: true }]);
        let info = one("ALTER TYPE mood ADD VALUE 'meh'", Dialect::Postgres);
        assert_eq!(
            info.effects,
            vec![Effect::AddEnumValue {
                type_name: "mood".into()
            }]
        );
        let info = one("SET lock_timeout = '2s'", Dialect::Postgres);
        assert_eq!(info.effects, vec![Effect::SetsLockTimeout]);
        let info = one("DELETE FROM sessions", Dialect::Sqlite);
        assert!(info.effects[0].is_destructive());
        assert_eq!(
            info.effects,
            vec![Effect::DeleteRows {
                table: "sessions".into(),
                filtered: false
            }]
        );
        let info = one(
            "ALTER TABLE t MODIFY COLUMN c BIGINT NOT NULL",
            Dialect::MySql,
        );
        assert_eq!(
            info.effects,
            vec![Effect::ChangeType {
                table: "t".into(),
                column: "c".into(),
                new_type: "BIGINT".into()
            }]
        );
    }

    #[test]
    fn forms_sqlparser_lacks_are_respelled_not_reported() {
        let info = one("PRAGMA foreign_keys=off", Dialect::Sqlite);
        assert!(info.parsed, "{:?}", info.parse_error);
        for sql in [
            "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
            "CREATE EXTENSION citext SCHEMA ext VERSION '1.6' CASCADE",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO app",
            "ALTER MATERIALIZED VIEW mv OWNER TO app",
            "ALTER MATERIALIZED VIEW IF EXISTS public.mv OWNER TO CURRENT_USER",
            "COMMENT ON CONSTRAINT t_pk ON public.t IS 'the key'",
        ] {
            let info = one(sql, Dialect::Postgres);
            assert!(info.parsed, "{sql}: {:?}", info.parse_error);
        }
        // The view's owner changes under the lock ALTER TABLE … OWNER takes.
        assert_eq!(
            one("ALTER MATERIALIZED VIEW mv OWNER TO app", Dialect::Postgres).lock,
            one("ALTER TABLE mv OWNER TO app", Dialect::Postgres).lock
        );
        let info = one("ALTER TABLE totp RENAME _bkp_totp", Dialect::MySql);
        assert!(info.parsed, "{:?}", info.parse_error);
        assert_eq!(
            info.effects,
            vec![Effect::RenameTable {
                from: "totp".into(),
                to: "_bkp_totp".into()
            }]
        );
    }

    #[test]
    fn drop_table_says_whether_it_tolerates_an_absent_table() {
        let if_exists = |sql: &str, dialect| -> Vec<bool> {
            one(sql, dialect)
                .effects
                .iter()
                .filter_map(|e| match e {
                    Effect::DropTable { if_exists, .. } => Some(*if_exists),
                    _ => None,
                })
                .collect()
        };
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            assert_eq!(if_exists("DROP TABLE a", dialect), [false]);
            assert_eq!(
                if_exists("drop table if exists a, b", dialect),
                [true, true]
            );
            // The words are in a comment, not in the statement.
            assert_eq!(if_exists("DROP /* IF EXISTS */ TABLE a", dialect), [false]);
        }
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            assert_eq!(if_exists("DROP TABLE \"if exists\"", dialect), [false]);
        }
        assert_eq!(if_exists("DROP TABLE `if exists`", Dialect::MySql), [false]);
        // The keyword scan used when the parser gives up reads the same.
        let info = one("DROP TABLE a FROBNICATE", Dialect::Postgres);
        assert!(!info.parsed);
        assert_eq!(
            if_exists("DROP TABLE a FROBNICATE", Dialect::Postgres),
            [false]
        );
    }

    #[test]
    fn pg_dump_sequences_are_understood() {
        for sql in [
            "CREATE SEQUENCE public.users_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1",
            "ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id",
        ] {
            let info = one(sql, Dialect::Postgres);
            assert!(info.parsed, "{sql}: {:?}", info.parse_error);
            assert!(
                info.effects == [Effect::Other] && info.tables.is_empty(),
                "{info:?}"
            );
        }
        let restart = one(
            "ALTER SEQUENCE s RESTART WITH 1 INCREMENT BY 2 NO MINVALUE",
            Dialect::Postgres,
        );
        assert!(!restart.parsed, "a RESTART is not waved through");
    }

    #[test]
    fn a_do_block_says_what_it_is() {
        let info = one(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1) THEN CREATE TYPE t AS ENUM ('a'); END IF; END $$",
            Dialect::Postgres,
        );
        assert!(!info.parsed);
        assert!(
            info.parse_error
                .as_deref()
                .is_some_and(|e| e.starts_with("a DO block")),
            "{:?}",
            info.parse_error
        );
    }

    #[test]
    fn unparsed_statements_keep_what_the_keywords_say() {
        let info = one(
            "DROP TABLE IF EXISTS a, b CASCADE WITH SOMETHING NOBODY PARSES",
            Dialect::Postgres,
        );
        assert!(!info.parsed);
        assert!(info.parse_error.is_some());
        assert_eq!(
            info.effects,
            vec![
                Effect::DropTable {
                    table: "a".into(),
                    if_exists: true
                },
                Effect::DropTable {
                    table: "b".into(),
                    if_exists: true
                }
            ]
        );
        assert_eq!(info.lock, Lock::AccessExclusive);
        let info = one(
            "ALTER TABLE orders ALTER COLUMN total SET NOT NULL, FROBNICATE",
            Dialect::Postgres,
        );
        assert!(!info.parsed);
        assert_eq!(
            info.effects,
            vec![Effect::SetNotNull {
                table: "orders".into(),
                column: "total".into()
            }]
        );
    }

    #[test]
    fn any_call_but_known_stable_ones_is_volatile() {
        assert!(is_volatile("gen_random_uuid()"));
        assert!(is_volatile("NEXTVAL ('s')"));
        // User-defined functions are volatile unless declared otherwise (lemmy's corpus).
        assert!(is_volatile("generate_unique_changeme ()"));
        assert!(is_volatile("public.random_smallint()"));
        assert!(!is_volatile("now()"));
        assert!(!is_volatile("CURRENT_TIMESTAMP"));
        assert!(!is_volatile("-1"));
        assert!(!is_volatile("'0'::numeric(10, 2)"));
        assert!(!is_volatile("'random()'"));
        assert!(!is_volatile("decode('0000000000000000','hex')"));
        assert!(!is_volatile("md5('x')"));
        assert!(
            is_volatile("md5(random()::text)"),
            "a volatile call inside one"
        );
        assert!(is_volatile("clock_timestamp()"));
    }

    #[test]
    fn dialect_markers_are_words_of_one_database_outside_strings_and_comments() {
        let markers = |sql: &str| {
            dialect_markers(sql)
                .into_iter()
                .map(|(d, m)| format!("{d}:{m}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            markers("CREATE TABLE a (id bigserial, at timestamptz, n int DEFAULT '1'::int)"),
            [
                "PostgreSQL:BIGSERIAL",
                "PostgreSQL:TIMESTAMPTZ",
                "PostgreSQL:::"
            ]
        );
        assert_eq!(
            markers(
                "CREATE TABLE `a` (id int unsigned AUTO_INCREMENT) ENGINE=InnoDB DEFAULT CHARSET = utf8mb4"
            ),
            [
                "MySQL:`",
                "MySQL:UNSIGNED",
                "MySQL:AUTO_INCREMENT",
                "MySQL:ENGINE",
                "MySQL:CHARSET"
            ]
        );
        assert_eq!(
            markers(
                "PRAGMA foreign_keys = off; CREATE TABLE a (id integer PRIMARY KEY AUTOINCREMENT)"
            ),
            ["SQLite:PRAGMA", "SQLite:AUTOINCREMENT"]
        );
        // Not in strings, comments or dollar bodies; a column may be called engine; a
        // named parameter is not a cast.
        assert!(
            markers(
                "-- timestamptz\nCREATE TABLE a (engine text, note text DEFAULT 'jsonb'); /* UNSIGNED */\n\
                 CREATE FUNCTION f() RETURNS int AS $$ SELECT 1::int $$ LANGUAGE sql;\nSELECT * FROM a WHERE x = :id"
            )
            .is_empty()
        );
    }
}
