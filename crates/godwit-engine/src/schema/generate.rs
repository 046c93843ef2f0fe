//! The generator behind `godwit diff NAME`: from two [`Schema`]s, the migrations that turn
//! the first into the second, each with the down.sql that turns it back.
//!
//! It is pure (no database): `diff` builds both schemas on shadows, calls [`generate`],
//! then proves the result there (up, down, up) before writing a file.
//!
//! Every change is a `Change`: the statements that make it and the statements that undo
//! it, and the migration it belongs to. A migration's down.sql is its changes' undo
//! statements, last change first, so that if up runs in a valid order, down does too.
//!
//! Order in up: renames, then what goes (triggers, views, routines, foreign keys, other
//! constraints and indexes, tables, columns), then what comes (types, sequences, tables,
//! columns, constraints, indexes, foreign keys, routines, views, triggers).
//!
//! The migrations written, by dialect:
//! - PostgreSQL: `NAME` (in a transaction, `lock_timeout` set); `NAME_indexes` when an
//!   index of an existing table is created, dropped or replaced (`CONCURRENTLY`, so
//!   `-- godwit:no-transaction`; a new unique or primary key is built there as an index
//!   and attached with `USING INDEX`); `NAME_validate` when a check or foreign key was
//!   added `NOT VALID`, or a column becomes NOT NULL (through a validated check).
//! - MySQL: `NAME` only, each `ALTER` with `ALGORITHM=INPLACE, LOCK=NONE` (or INSTANT)
//!   where MySQL and MariaDB both allow it, none where only a copy can do it.
//! - SQLite: `NAME` only; a change `ALTER TABLE` cannot make rebuilds the table (create
//!   the new one, copy, drop, rename, indexes and triggers again) with
//!   `-- godwit:foreign-keys-off`, so the drop cascades into nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::schema::ddl::{self, Writer};
use crate::schema::{Column, Constraint, ConstraintKind, Definitions, Index, Schema, Table};
use godwit_core::Dialect;

/// What the user said about renames: `-- godwit:renamed-from` in the schema, `--rename`,
/// `--no-rename`.
#[derive(Clone, Debug, Default)]
pub struct Renames {
    /// New table name → old table name.
    pub tables: BTreeMap<String, String>,
    /// (new table name, new column name) → old column name.
    pub columns: BTreeMap<(String, String), String>,
    /// Old names (`table` or `table.column`) that were dropped, not renamed.
    pub not_renamed: BTreeSet<String>,
}

/// A change that loses data; written only with `--allow-destructive`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destructive {
    DropTable {
        table: String,
    },
    DropColumn {
        table: String,
        column: String,
    },
    NarrowType {
        table: String,
        column: String,
        from: String,
        to: String,
    },
}

impl fmt::Display for Destructive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destructive::DropTable { table } => write!(f, "drops table {table}"),
            Destructive::DropColumn { table, column } => write!(f, "drops {table}.{column}"),
            Destructive::NarrowType {
                table,
                column,
                from,
                to,
            } => write!(
                f,
                "changes {table}.{column} from {from} to {to}, which may not hold every value"
            ),
        }
    }
}

/// A table or column dropped while another of the same shape is added: a rename, or not?
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbableRename {
    /// The table the columns are in (for a column), in the declared schema.
    pub table: Option<String>,
    pub old: String,
    pub new: String,
}

impl fmt::Display for ProbableRename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.table {
            None => write!(
                f,
                "table {old} is dropped and table {new} added with the same columns: a rename?\n    \
                 if so, write `-- godwit:renamed-from {old}` on the line above CREATE TABLE {new} \
                 in the schema, or pass `--rename {old}={new}`;\n    if not, pass `--no-rename {old}` \
                 (and --allow-destructive: its rows are dropped)",
                old = self.old,
                new = self.new
            ),
            Some(table) => write!(
                f,
                "column {table}.{old} is dropped and {table}.{new} added with the same type: a rename?\n    \
                 if so, write `-- godwit:renamed-from {old}` at the end of the line of column {new} \
                 in the schema, or pass `--rename {table}.{old}={new}`;\n    if not, pass \
                 `--no-rename {table}.{old}` (and --allow-destructive: its values are dropped)",
                old = self.old,
                new = self.new
            ),
        }
    }
}

/// Why no migration can be generated; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "{} probable rename{}; godwit never guesses a rename into a drop and an add:\n  {}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    ProbableRenames(Vec<ProbableRename>),

    #[error("rename {hint}: {why}")]
    BadRename { hint: String, why: String },

    #[error(
        "{object}: {why}\n  write this part of the change by hand in a migration of its own (`godwit new`), \
         then run `godwit diff` again for the rest"
    )]
    Unsupported { object: String, why: String },
}

/// Which migration a change belongs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `NAME`: everything that runs in one transaction.
    Main,
    /// `NAME_indexes` (PostgreSQL): `CONCURRENTLY`, outside a transaction.
    Indexes,
    /// `NAME_validate` (PostgreSQL): `VALIDATE CONSTRAINT` and what waits for it.
    Validate,
}

impl Phase {
    /// What the migration's name gets after NAME.
    pub fn suffix(self) -> &'static str {
        match self {
            Phase::Main => "",
            Phase::Indexes => "_indexes",
            Phase::Validate => "_validate",
        }
    }
}

/// One generated migration.
#[derive(Clone, Debug, Serialize)]
pub struct GeneratedMigration {
    pub phase: Phase,
    /// up.sql, directives and comments included.
    pub up: String,
    /// down.sql.
    pub down: String,
    /// up's statements alone, in order.
    pub statements: Vec<String>,
    /// down's statements alone, in order.
    pub down_statements: Vec<String>,
    /// Runs outside a transaction (`-- godwit:no-transaction`).
    pub no_transaction: bool,
}

/// What [`generate`] found to do.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Generated {
    /// In the order they are to run; empty when the schemas are equal.
    pub migrations: Vec<GeneratedMigration>,
    /// The changes that lose data, whether or not they are allowed.
    pub destructive: Vec<Destructive>,
}

/// A statement, with the lint rule it knowingly trips and why (written as an ignore
/// comment above it).
#[derive(Clone, Debug)]
struct Sql {
    text: String,
    ignore: Option<(&'static str, String)>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            ignore: None,
        }
    }

    fn ignoring(text: impl Into<String>, rule: &'static str, reason: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            ignore: Some((rule, reason.into())),
        }
    }
}

struct Change {
    phase: Phase,
    up: Vec<Sql>,
    down: Vec<Sql>,
}

/// The lock timeout every generated PostgreSQL and MySQL migration sets.
pub const LOCK_TIMEOUT: &str = "5s";

/// The migrations that turn `current` into `desired`. `definitions` hold the whole
/// `CREATE` of routines and triggers on each side (from [`godwit_db::Introspect::definitions`]).
pub fn generate(
    dialect: Dialect,
    current: &Schema,
    current_definitions: &Definitions,
    desired: &Schema,
    desired_definitions: &Definitions,
    renames: &Renames,
) -> Result<Generated, GenerateError> {
    let mut g = Generator {
        dialect,
        w: Writer::new(dialect),
        changes: Vec::new(),
        renames: Vec::new(),
        destructive: Vec::new(),
        owned_before: BTreeMap::new(),
        owned_after: BTreeMap::new(),
        moved: BTreeSet::new(),
        keyed: BTreeSet::new(),
    };
    let renamed = g.renames(current, desired, renames)?;
    probable_renames(&renamed, desired, renames)?;
    g.changes(&renamed, current_definitions, desired, desired_definitions)?;
    Ok(g.finish())
}

struct Generator {
    dialect: Dialect,
    w: Writer,
    changes: Vec<Change>,
    /// The RENAMEs, written after the views, triggers and routines that read the old
    /// names are gone (so that down makes those again after renaming back).
    renames: Vec<Change>,
    destructive: Vec<Destructive>,
    /// PostgreSQL: the sequences owned by a column (serials), before and after.
    owned_before: BTreeMap<String, Owner>,
    owned_after: BTreeMap<String, Owner>,
    /// Owned sequences whose owner changes: disowned before anything goes, owned by the
    /// new column once it exists, never created with a table.
    moved: BTreeSet<String>,
    /// PostgreSQL: columns that were nullable (or absent) and are in a primary key added
    /// to a table that stays. The key makes them NOT NULL and holds them so until it is
    /// dropped: the key's down makes them nullable again, not `_validate`'s.
    keyed: BTreeSet<Owner>,
}

/// A sequence's owning column, as (table, column).
type Owner = (String, String);

/// PostgreSQL: the sequences owned by a column, which the model keeps only as the
/// column's `nextval('…')` default (a sequence of its own is in [`Schema::sequences`]).
/// When several columns draw from one, the owner is the one whose name serial gives it.
fn owned_sequences(schema: &Schema) -> BTreeMap<String, Owner> {
    let mut owned: BTreeMap<String, Owner> = BTreeMap::new();
    for (t, table) in &schema.tables {
        for (c, column) in &table.columns {
            let Some(sequence) = column.default.as_deref().and_then(ddl::nextval_sequence) else {
                continue;
            };
            if schema.sequences.contains_key(&sequence) {
                continue;
            }
            let serial_name = sequence == format!("{t}_{c}_seq");
            match owned.get(&sequence) {
                Some(_) if !serial_name => {}
                _ => {
                    owned.insert(sequence, (t.clone(), c.clone()));
                }
            }
        }
    }
    owned
}

/// A column's name inside an index part or an expression, as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    let lower = text.to_lowercase();
    let name = name.to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    lower.match_indices(&name).any(|(at, _)| {
        !lower[..at].chars().next_back().is_some_and(word)
            && !lower[at + name.len()..].chars().next().is_some_and(word)
    })
}

/// `text` with the whole word `old` replaced by `new` (quoted or not).
fn replace_word(text: &str, old: &str, new: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(old) {
        let before_ok = !rest[..at].chars().next_back().is_some_and(word);
        let after_ok = !rest[at + old.len()..].chars().next().is_some_and(word);
        out.push_str(&rest[..at]);
        out.push_str(if before_ok && after_ok { new } else { old });
        rest = &rest[at + old.len()..];
    }
    out.push_str(rest);
    out
}

/// Whether changing a column from `from` to `to` keeps every value it can hold.
fn widens(from: &str, to: &str) -> bool {
    let from = from.to_lowercase();
    let to = to.to_lowercase();
    let length = |t: &str, base: &str| -> Option<u64> {
        t.strip_prefix(base)?
            .strip_prefix('(')?
            .strip_suffix(')')?
            .trim()
            .parse()
            .ok()
    };
    let integer_rank = |t: &str| match t {
        "smallint" | "int2" => Some(1),
        "integer" | "int" | "int4" | "mediumint" => Some(2),
        "bigint" | "int8" => Some(3),
        _ => None,
    };
    if let (Some(a), Some(b)) = (integer_rank(&from), integer_rank(&to)) {
        return a <= b;
    }
    for base in ["varchar", "character varying", "char", "varbinary"] {
        if let Some(a) = length(&from, base) {
            if let Some(b) = length(&to, "varchar").or_else(|| length(&to, base)) {
                return a <= b;
            }
            return matches!(to.as_str(), "text" | "longtext" | "mediumtext");
        }
    }
    (from == "varchar" && to == "text")
        || (integer_rank(&from).is_some() && matches!(to.as_str(), "numeric" | "decimal"))
        || (from == "text" && matches!(to.as_str(), "longtext" | "mediumtext"))
        || (from == "mediumtext" && to == "longtext")
        || (from == "real" && to == "double precision")
        || (from == "timestamp without time zone" && to == "timestamp with time zone")
}

/// Whether a PostgreSQL default is computed for each row (so adding it rewrites the table).
fn volatile(default: &str) -> bool {
    let lower = default.to_lowercase();
    [
        "random(",
        "gen_random_uuid(",
        "uuid_generate",
        "clock_timestamp(",
        "timeofday(",
        "nextval(",
    ]
    .iter()
    .any(|f| lower.contains(f))
}

impl Generator {
    fn q(&self, name: &str) -> String {
        self.w.q(name)
    }

    fn push(&mut self, phase: Phase, up: Vec<Sql>, down: Vec<Sql>) {
        self.changes.push(Change { phase, up, down });
    }

    /// `ALTER TABLE t <action>` with MySQL's online clause where it applies.
    fn alter(&self, table: &str, action: &str, online: Online) -> String {
        let clause = match (self.dialect, online) {
            (Dialect::MySql, Online::Inplace) => ", ALGORITHM=INPLACE, LOCK=NONE",
            (Dialect::MySql, Online::Instant) => ", ALGORITHM=INSTANT",
            _ => "",
        };
        format!("ALTER TABLE {} {action}{clause};", self.q(table))
    }

    /// Applies the rename hints to `current`, writing the RENAME statements; returns the
    /// current schema as it is after them.
    fn renames(
        &mut self,
        current: &Schema,
        desired: &Schema,
        renames: &Renames,
    ) -> Result<Schema, GenerateError> {
        let mut schema = current.clone();
        for (new, old) in &renames.tables {
            let hint = format!("{old}={new}");
            if !desired.tables.contains_key(new) {
                return Err(GenerateError::BadRename {
                    hint,
                    why: format!("the declared schema has no table {new}"),
                });
            }
            if schema.tables.contains_key(new) {
                continue; // Already renamed: the migrations have it under the new name.
            }
            let Some(table) = schema.tables.remove(old) else {
                return Err(GenerateError::BadRename {
                    hint,
                    why: format!(
                        "the migrations build no table {old}; name the table as they build it"
                    ),
                });
            };
            schema.tables.insert(new.clone(), table);
            for other in schema.tables.values_mut() {
                for c in other.constraints.values_mut() {
                    if let Some(r) = c.references.as_mut()
                        && r.table == *old
                    {
                        r.table = new.clone();
                    }
                }
            }
            let up = match self.dialect {
                Dialect::MySql => format!("RENAME TABLE {} TO {};", self.q(old), self.q(new)),
                _ => format!("ALTER TABLE {} RENAME TO {};", self.q(old), self.q(new)),
            };
            let down = match self.dialect {
                Dialect::MySql => format!("RENAME TABLE {} TO {};", self.q(new), self.q(old)),
                _ => format!("ALTER TABLE {} RENAME TO {};", self.q(new), self.q(old)),
            };
            self.renames.push(Change {
                phase: Phase::Main,
                up: vec![Sql::new(up)],
                down: vec![Sql::new(down)],
            });
        }
        for ((table_name, new), old) in &renames.columns {
            let hint = format!("{table_name}.{old}={new}");
            let Some(table) = schema.tables.get_mut(table_name) else {
                return Err(GenerateError::BadRename {
                    hint,
                    why: format!("the migrations build no table {table_name}"),
                });
            };
            if !desired
                .tables
                .get(table_name)
                .is_some_and(|t| t.columns.contains_key(new))
            {
                return Err(GenerateError::BadRename {
                    hint,
                    why: format!("the declared table {table_name} has no column {new}"),
                });
            }
            if table.columns.contains_key(new) {
                continue;
            }
            let Some(column) = table.columns.remove(old) else {
                return Err(GenerateError::BadRename {
                    hint,
                    why: format!("the migrations build no column {table_name}.{old}"),
                });
            };
            table.columns.insert(new.clone(), column);
            // Keys and indexes follow a renamed column in every dialect.
            let rename = |cols: &mut Vec<String>| {
                for c in cols.iter_mut() {
                    *c = replace_word(c, old, new);
                }
            };
            for index in table.indexes.values_mut() {
                rename(&mut index.columns);
                if let Some(p) = index.predicate.as_mut() {
                    *p = replace_word(p, old, new);
                }
            }
            let constraints = std::mem::take(&mut table.constraints);
            for (key, mut c) in constraints {
                rename(&mut c.columns);
                if let Some(e) = c.expression.as_mut() {
                    *e = replace_word(e, old, new);
                }
                // SQLite keys unnamed constraints by their text.
                let key = if self.dialect == Dialect::Sqlite && key.contains(' ') {
                    replace_word(&key, old, new)
                } else {
                    key
                };
                table.constraints.insert(key, c);
            }
            for other in schema.tables.values_mut() {
                for c in other.constraints.values_mut() {
                    if let Some(r) = c.references.as_mut()
                        && r.table == *table_name
                    {
                        rename(&mut r.columns);
                    }
                }
            }
            let online = Online::Inplace;
            let up = self.alter(
                table_name,
                &format!("RENAME COLUMN {} TO {}", self.q(old), self.q(new)),
                online,
            );
            let down = self.alter(
                table_name,
                &format!("RENAME COLUMN {} TO {}", self.q(new), self.q(old)),
                online,
            );
            self.renames.push(Change {
                phase: Phase::Main,
                up: vec![Sql::new(up)],
                down: vec![Sql::new(down)],
            });
        }
        Ok(schema)
    }

    fn changes(
        &mut self,
        current: &Schema,
        current_definitions: &Definitions,
        desired: &Schema,
        desired_definitions: &Definitions,
    ) -> Result<(), GenerateError> {
        let rebuilt: BTreeSet<String> = if self.dialect == Dialect::Sqlite {
            desired
                .tables
                .iter()
                .filter_map(|(name, want)| {
                    let have = current.tables.get(name)?;
                    sqlite_needs_rebuild(have, want).then(|| name.clone())
                })
                .collect()
        } else {
            BTreeSet::new()
        };
        if self.dialect == Dialect::Postgres {
            self.owned_before = owned_sequences(current);
            self.owned_after = owned_sequences(desired);
            self.moved = self
                .owned_before
                .iter()
                .filter(|(name, owner)| self.owned_after.get(*name).is_some_and(|o| o != *owner))
                .map(|(name, _)| name.clone())
                .collect();
            for (table_name, want) in &desired.tables {
                let Some(have) = current.tables.get(table_name) else {
                    continue;
                };
                for (name, c) in &want.constraints {
                    if c.kind != ConstraintKind::PrimaryKey || have.constraints.get(name) == Some(c)
                    {
                        continue;
                    }
                    for column in &c.columns {
                        if have.columns.get(column).is_none_or(|col| col.nullable) {
                            self.keyed.insert((table_name.clone(), column.clone()));
                        }
                    }
                }
            }
        }
        // Tables whose columns change shape: the views that read them are made again.
        let reshaped: BTreeSet<&String> = desired
            .tables
            .iter()
            .filter_map(|(name, want)| {
                let have = current.tables.get(name)?;
                let changed = have.columns.iter().any(|(c, col)| {
                    want.columns
                        .get(c)
                        .is_none_or(|w| w.data_type != col.data_type)
                });
                (changed || rebuilt.contains(name)).then_some(name)
            })
            .chain(
                current
                    .tables
                    .keys()
                    .filter(|n| !desired.tables.contains_key(*n)),
            )
            .collect();
        let mut remade_views: BTreeSet<String> = desired
            .views
            .iter()
            .filter(|(name, def)| {
                current
                    .views
                    .get(*name)
                    .is_some_and(|have| have != *def || reshaped.iter().any(|t| mentions(have, t)))
            })
            .map(|(n, _)| n.clone())
            .collect();
        // A view that reads a view made again is made again too.
        loop {
            let more: Vec<String> = desired
                .views
                .iter()
                .filter(|(n, d)| {
                    current.views.contains_key(*n)
                        && !remade_views.contains(*n)
                        && remade_views.iter().any(|r| mentions(d, r))
                })
                .map(|(n, _)| n.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            remade_views.extend(more);
        }

        // Triggers that go or change (and all on a rebuilt table: DROP TABLE takes them).
        let trigger_goes = |key: &String, def: &String| {
            desired.triggers.get(key) != Some(def)
                || current_definitions.triggers.get(key) != desired_definitions.triggers.get(key)
                || rebuilt.iter().any(|t| key.ends_with(&format!(" on {t}")))
        };
        for (key, def) in &current.triggers {
            if trigger_goes(key, def) {
                let create = self.trigger_create(key, def, current_definitions)?;
                let drop = self.trigger_drop(key);
                self.push(Phase::Main, vec![Sql::new(drop)], create);
            }
        }
        // Views that go or are made again, readers first.
        let current_order: Vec<(String, String)> = ddl::view_order(&current.views)
            .into_iter()
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect();
        for (name, def) in current_order.iter().rev() {
            if !desired.views.contains_key(name) || remade_views.contains(name) {
                let drop = self.view_drop(name, def);
                let create = self.view_create(name, def);
                self.push(Phase::Main, vec![Sql::new(drop)], vec![Sql::new(create)]);
            }
        }
        // Routines that go or change.
        for (key, def) in &current.routines {
            let changed = desired.routines.get(key) != Some(def);
            if changed {
                let create = self.routine_create(key, current_definitions)?;
                let drop = self.routine_drop(key, def);
                self.push(Phase::Main, vec![Sql::new(drop)], create);
            }
        }
        let renames = std::mem::take(&mut self.renames);
        self.changes.extend(renames);
        // Sequences that change owner leave the old one first, so that no drop below
        // takes them along (a renamed serial table, written as a drop and a create).
        // In down, the old owner gets it back, moved past the rows it holds now (the
        // column drew from another sequence in between).
        for name in self.moved.clone() {
            let s = self.q(&name);
            let (table, column) = &self.owned_before[&name];
            let old = format!("{}.{}", self.q(table), self.q(column));
            let literal = self.regclass(&name);
            self.push(
                Phase::Main,
                vec![Sql::new(format!("ALTER SEQUENCE {s} OWNED BY NONE;"))],
                vec![
                    Sql::new(format!("ALTER SEQUENCE {s} OWNED BY {old};")),
                    Sql::new(format!(
                        "SELECT setval({literal}, GREATEST(COALESCE(MAX({c}), 0) + 1, nextval({literal})), false) FROM {t};",
                        c = self.q(column),
                        t = self.q(table)
                    )),
                ],
            );
        }
        // Foreign keys that go or change, before the keys they reference. SQLite has no
        // ALTER for them: a dropped table takes its own, a rebuilt one is made without.
        for (table_name, have) in &current.tables {
            if rebuilt.contains(table_name) || self.dialect == Dialect::Sqlite {
                continue;
            }
            let want = desired.tables.get(table_name);
            for (name, c) in &have.constraints {
                if c.kind == ConstraintKind::ForeignKey
                    && want.is_none_or(|t| t.constraints.get(name) != Some(c))
                {
                    self.drop_constraint(table_name, name, c);
                }
            }
        }
        // Other constraints and indexes that go or change, on tables that stay.
        for (table_name, have) in &current.tables {
            let Some(want) = desired.tables.get(table_name) else {
                continue;
            };
            if rebuilt.contains(table_name) {
                continue;
            }
            for (name, c) in &have.constraints {
                if c.kind != ConstraintKind::ForeignKey && want.constraints.get(name) != Some(c) {
                    self.drop_constraint(table_name, name, c);
                }
            }
            for (name, index) in &have.indexes {
                match want.indexes.get(name) {
                    Some(w) if w == index => {}
                    // Replaced online below, where it can be; on MySQL in one ALTER, unless
                    // it covers a column that goes (MySQL changes or drops it with the
                    // column): then it goes first, and comes back below.
                    Some(_) if self.dialect == Dialect::Postgres => {}
                    Some(_)
                        if self.dialect == Dialect::MySql
                            && !Self::index_tied(have, want, index) => {}
                    // MySQL refuses to drop an index a foreign key uses (1553) until
                    // another covers its columns: those that come are added first, below.
                    None if self.dialect == Dialect::MySql
                        && !Self::index_tied(have, want, index) => {}
                    _ => self.drop_index(table_name, have, want, name, index),
                }
            }
        }
        // Tables that go.
        for (table_name, have) in &current.tables {
            if desired.tables.contains_key(table_name) {
                continue;
            }
            self.destructive.push(Destructive::DropTable {
                table: table_name.clone(),
            });
            let drop = Sql::ignoring(
                format!("DROP TABLE {};", self.q(table_name)),
                "ban-drop-table",
                "the declared schema drops it (godwit diff --allow-destructive)",
            );
            let mut down = self.create_table(current, table_name, have);
            // Its foreign keys went above; its indexes come back with it.
            down.extend(self.table_indexes_plain(table_name, have));
            self.push(Phase::Main, vec![drop], down);
        }
        // Columns that go (tables that stay, not rebuilt).
        for (table_name, have) in &current.tables {
            let Some(want) = desired.tables.get(table_name) else {
                continue;
            };
            if rebuilt.contains(table_name) {
                continue;
            }
            for (column_name, column) in &have.columns {
                if !want.columns.contains_key(column_name) {
                    self.destructive.push(Destructive::DropColumn {
                        table: table_name.clone(),
                        column: column_name.clone(),
                    });
                    let drop = Sql::ignoring(
                        self.alter(
                            table_name,
                            &format!("DROP COLUMN {}", self.q(column_name)),
                            Online::Inplace,
                        ),
                        "ban-drop-column",
                        "the declared schema drops it (godwit diff --allow-destructive)",
                    );
                    let (add, extra) = self.column_def(current, table_name, column_name, column);
                    let mut down = extra.0;
                    down.push(Sql::new(self.alter(
                        table_name,
                        &format!("ADD COLUMN {add}"),
                        Online::None,
                    )));
                    down.extend(extra.1);
                    self.push(Phase::Main, vec![drop], down);
                }
            }
        }

        // PostgreSQL extensions new here come before the types, tables and indexes that
        // may use them; those no longer used go last (below).
        let extensions = |d: &Definitions| d.extensions.iter().cloned().collect::<BTreeSet<_>>();
        let (had, wants) = (
            extensions(current_definitions),
            extensions(desired_definitions),
        );
        for name in wants.difference(&had) {
            let e = self.q(name);
            self.push(
                Phase::Main,
                vec![Sql::new(format!("CREATE EXTENSION IF NOT EXISTS {e};"))],
                vec![Sql::new(format!("DROP EXTENSION {e};"))],
            );
        }

        // Types and sequences that come, change or go.
        self.enums(current, desired)?;
        self.sequences(current, desired)?;

        // Tables that come.
        for (table_name, want) in &desired.tables {
            if current.tables.contains_key(table_name) {
                continue;
            }
            let mut up = self.create_table(desired, table_name, want);
            up.extend(self.table_indexes_plain(table_name, want));
            let down = vec![Sql::new(format!("DROP TABLE {};", self.q(table_name)))];
            self.push(Phase::Main, up, down);
        }
        // Tables rebuilt (SQLite).
        for table_name in &rebuilt {
            let have = &current.tables[table_name];
            let want = &desired.tables[table_name];
            for (column, col) in &have.columns {
                match want.columns.get(column) {
                    None => self.destructive.push(Destructive::DropColumn {
                        table: table_name.clone(),
                        column: column.clone(),
                    }),
                    Some(w)
                        if w.data_type != col.data_type
                            && !widens(&col.data_type, &w.data_type) =>
                    {
                        self.destructive.push(Destructive::NarrowType {
                            table: table_name.clone(),
                            column: column.clone(),
                            from: col.data_type.clone(),
                            to: w.data_type.clone(),
                        })
                    }
                    _ => {}
                }
            }
            let up = self.rebuild(table_name, have, want);
            let down = self.rebuild(table_name, want, have);
            self.push(Phase::Main, up, down);
        }
        // Columns that come or change, on tables that stay.
        for (table_name, want) in &desired.tables {
            let Some(have) = current.tables.get(table_name) else {
                continue;
            };
            if rebuilt.contains(table_name) {
                continue;
            }
            for (column_name, column) in &want.columns {
                match have.columns.get(column_name) {
                    None => self.add_column(desired, table_name, column_name, column),
                    Some(old) if old != column => {
                        self.alter_column(table_name, column_name, old, column)?
                    }
                    Some(_) => {}
                }
            }
        }
        // And join their new owner, now that it exists.
        for name in self.moved.clone() {
            let s = self.q(&name);
            let (table, column) = &self.owned_after[&name];
            let new = format!("{}.{}", self.q(table), self.q(column));
            self.push(
                Phase::Main,
                vec![Sql::new(format!("ALTER SEQUENCE {s} OWNED BY {new};"))],
                vec![Sql::new(format!("ALTER SEQUENCE {s} OWNED BY NONE;"))],
            );
        }
        // Constraints and indexes that come, on tables that stay.
        let mut validate = Vec::new();
        for (table_name, want) in &desired.tables {
            let Some(have) = current.tables.get(table_name) else {
                continue;
            };
            if rebuilt.contains(table_name) {
                continue;
            }
            for (name, c) in &want.constraints {
                if c.kind != ConstraintKind::ForeignKey && have.constraints.get(name) != Some(c) {
                    self.add_constraint(table_name, name, c, &mut validate);
                }
            }
            for (name, index) in &want.indexes {
                match have.indexes.get(name) {
                    Some(old) if old == index => {}
                    Some(old) if self.dialect == Dialect::Postgres => {
                        self.replace_index(table_name, want, have, name, old, index)
                    }
                    Some(old)
                        if self.dialect == Dialect::MySql && !Self::index_tied(have, want, old) =>
                    {
                        self.mysql_replace_index(table_name, name, old, index)
                    }
                    _ => self.add_index(table_name, want, name, index),
                }
            }
        }
        // MySQL: the indexes that go, now that those that come are there.
        if self.dialect == Dialect::MySql {
            for (table_name, have) in &current.tables {
                let Some(want) = desired.tables.get(table_name) else {
                    continue;
                };
                for (name, index) in &have.indexes {
                    if !want.indexes.contains_key(name) && !Self::index_tied(have, want, index) {
                        self.drop_index(table_name, have, want, name, index);
                    }
                }
            }
        }
        // Foreign keys that come (new tables' too, now that every table is there).
        for (table_name, want) in &desired.tables {
            let have = current.tables.get(table_name);
            let is_new = have.is_none();
            if rebuilt.contains(table_name) || (self.dialect == Dialect::Sqlite && is_new) {
                continue; // Inside their CREATE TABLE.
            }
            for (name, c) in &want.constraints {
                if c.kind == ConstraintKind::ForeignKey
                    && have.is_none_or(|t| t.constraints.get(name) != Some(c))
                {
                    if is_new {
                        let add = self.w.q(table_name);
                        let element = ddl::constraint(&self.w, name, c);
                        self.push(
                            Phase::Main,
                            vec![Sql::new(format!("ALTER TABLE {add} ADD {element};"))],
                            vec![Sql::new(self.drop_constraint_sql(table_name, name, c))],
                        );
                    } else {
                        self.add_constraint(table_name, name, c, &mut validate);
                    }
                }
            }
        }
        // Routines, views and triggers that come or change.
        for key in desired.routines.keys() {
            if current.routines.get(key) != desired.routines.get(key) {
                let create = self.routine_create(key, desired_definitions)?;
                let drop = self.routine_drop(key, &desired.routines[key]);
                self.push(Phase::Main, create, vec![Sql::new(drop)]);
            }
        }
        let desired_order: Vec<(String, String)> = ddl::view_order(&desired.views)
            .into_iter()
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect();
        for (name, def) in &desired_order {
            if !current.views.contains_key(name) || remade_views.contains(name) {
                let create = self.view_create(name, def);
                let drop = self.view_drop(name, def);
                self.push(Phase::Main, vec![Sql::new(create)], vec![Sql::new(drop)]);
            }
        }
        for (key, def) in &desired.triggers {
            let comes = current.triggers.get(key) != Some(def)
                || current_definitions.triggers.get(key) != desired_definitions.triggers.get(key)
                || rebuilt.iter().any(|t| key.ends_with(&format!(" on {t}")));
            if comes {
                let create = self.trigger_create(key, def, desired_definitions)?;
                let drop = self.trigger_drop(key);
                self.push(Phase::Main, create, vec![Sql::new(drop)]);
            }
        }
        // Extensions no longer used, once nothing of the main migration uses them.
        for name in had.difference(&wants) {
            let e = self.q(name);
            self.push(
                Phase::Main,
                vec![Sql::new(format!("DROP EXTENSION {e};"))],
                vec![Sql::new(format!("CREATE EXTENSION IF NOT EXISTS {e};"))],
            );
        }
        for (up, down) in validate {
            self.push(Phase::Validate, up, down);
        }
        Ok(())
    }

    /// CREATE TABLE (and on PostgreSQL the sequences its columns own), no foreign keys
    /// except on SQLite, where they can only be written inside it.
    fn create_table(&self, schema: &Schema, name: &str, table: &Table) -> Vec<Sql> {
        match self.dialect {
            Dialect::Postgres => {
                let built = ddl::postgres_table(&self.w, schema, name, table, &self.moved);
                built
                    .sequences
                    .into_iter()
                    .chain(std::iter::once(built.create))
                    .chain(built.owned_by)
                    .map(Sql::new)
                    .collect()
            }
            Dialect::MySql => vec![Sql::new(ddl::mysql_table(&self.w, name, table))],
            Dialect::Sqlite => vec![Sql::new(ddl::sqlite_table(&self.w, name, table))],
        }
    }

    /// A new (or re-created) table's indexes, plain: it holds no rows yet. MySQL writes
    /// them inside CREATE TABLE.
    fn table_indexes_plain(&self, table_name: &str, table: &Table) -> Vec<Sql> {
        if self.dialect == Dialect::MySql {
            return Vec::new();
        }
        table
            .indexes
            .iter()
            .map(|(name, index)| {
                Sql::new(ddl::create_index(
                    &self.w, table_name, table, name, index, "",
                ))
            })
            .collect()
    }

    /// A column as ADD COLUMN takes it, with what must come before (a sequence it owns)
    /// and after (the sequence's OWNED BY).
    fn column_def(
        &self,
        schema: &Schema,
        table_name: &str,
        column_name: &str,
        column: &Column,
    ) -> (String, (Vec<Sql>, Vec<Sql>)) {
        match self.dialect {
            Dialect::Postgres => {
                let (text, owned) = ddl::postgres_column(
                    &self.w,
                    schema,
                    table_name,
                    column_name,
                    column,
                    &self.moved,
                );
                match owned {
                    Some((sequence, owner)) => {
                        (text, (vec![Sql::new(sequence)], vec![Sql::new(owner)]))
                    }
                    None => (text, (Vec::new(), Vec::new())),
                }
            }
            Dialect::MySql => (
                ddl::mysql_column(&self.w, column_name, column),
                (Vec::new(), Vec::new()),
            ),
            Dialect::Sqlite => {
                let mut one = Table::default();
                one.columns.insert(column_name.to_string(), column.clone());
                let create = ddl::sqlite_table(&self.w, "t", &one);
                let element = create.lines().nth(1).unwrap_or_default().trim().to_string();
                (element, (Vec::new(), Vec::new()))
            }
        }
    }

    fn add_column(
        &mut self,
        schema: &Schema,
        table_name: &str,
        column_name: &str,
        column: &Column,
    ) {
        let t = self.q(table_name);
        let c = self.q(column_name);
        let drop = Sql::new(self.alter(table_name, &format!("DROP COLUMN {c}"), Online::None));
        match self.dialect {
            Dialect::Postgres
                if !column.nullable && column.default.is_none() && column.generated.is_none() =>
            {
                // NULL first, then NOT NULL through a check validated in a later migration.
                let mut nullable = column.clone();
                nullable.nullable = true;
                let (def, (before, after)) =
                    self.column_def(schema, table_name, column_name, &nullable);
                let check = self.not_null_check(table_name, column_name);
                let mut up = before;
                up.push(Sql::new(format!("ALTER TABLE {t} ADD COLUMN {def};")));
                up.extend(after);
                up.push(Sql::new(format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({c} IS NOT NULL) NOT VALID;",
                    self.q(&check)
                )));
                self.push(Phase::Main, up, vec![drop]);
                self.set_not_null_later(table_name, column_name);
            }
            _ => {
                let (def, (before, after)) =
                    self.column_def(schema, table_name, column_name, column);
                let mut up = before;
                let text = self.alter(
                    table_name,
                    &format!("ADD COLUMN {def}"),
                    self.add_online(column),
                );
                up.push(match (&column.default, self.dialect) {
                    (Some(default), Dialect::Postgres) if volatile(default) => Sql::ignoring(
                        text,
                        "volatile-default",
                        "the declared default is computed per row, so existing rows need it written; on a large table add the column without it and backfill in a step",
                    ),
                    (None, Dialect::MySql) if !column.nullable && column.generated.is_none() => Sql::ignoring(
                        text,
                        "adding-not-null-column",
                        "declared NOT NULL without a default: MySQL gives existing rows the type's implicit default",
                    ),
                    _ => Sql::new(text),
                });
                up.extend(after);
                self.push(Phase::Main, up, vec![drop]);
            }
        }
    }

    /// MySQL: an added column is online unless it is generated STORED or auto-numbered.
    fn add_online(&self, column: &Column) -> Online {
        match &column.generated {
            None => Online::Inplace,
            Some(_) => Online::None,
        }
    }

    /// `name` as a `regclass` literal (`'"Name"'`), for `setval` and `nextval`.
    fn regclass(&self, name: &str) -> String {
        format!("'{}'", self.q(name).replace('\'', "''"))
    }

    /// A serial's sequence made apart from its column, for a column that has rows: it
    /// starts after the largest value there, as the column's own sequence would have.
    fn sequence_for(&self, sequence: &str, table: &str, column: &str, col: &Column) -> Vec<Sql> {
        let literal = self.regclass(sequence);
        vec![
            Sql::new(format!(
                "CREATE SEQUENCE {} AS {};",
                self.q(sequence),
                col.data_type
            )),
            Sql::new(format!(
                "SELECT setval({literal}, COALESCE(MAX({c}), 0) + 1, false) FROM {t};",
                c = self.q(column),
                t = self.q(table)
            )),
        ]
    }

    fn not_null_check(&self, table: &str, column: &str) -> String {
        let name = format!("{table}_{column}_not_null");
        // PostgreSQL cuts names at 63 bytes; a cut name must still be unique and stable.
        if name.len() > 63 {
            let digest = godwit_core::source::checksum(&name);
            format!("{}_{}", &name[..50], &digest[..8])
        } else {
            name
        }
    }

    /// PostgreSQL: in `_validate`, the check added NOT VALID is validated, proves NOT
    /// NULL without a scan, and goes.
    fn set_not_null_later(&mut self, table_name: &str, column_name: &str) {
        let t = self.q(table_name);
        let c = self.q(column_name);
        let check = self.q(&self.not_null_check(table_name, column_name));
        let up = vec![
            Sql::new(format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check};")),
            Sql::ignoring(
                format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"),
                "setting-not-null",
                "the check validated above proves it, so PostgreSQL does not scan the table",
            ),
            Sql::new(format!("ALTER TABLE {t} DROP CONSTRAINT {check};")),
        ];
        let mut down = vec![Sql::new(format!(
            "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID;"
        ))];
        let owner = (table_name.to_string(), column_name.to_string());
        if !self.keyed.contains(&owner) {
            down.push(Sql::new(format!(
                "ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;"
            )));
        }
        self.push(Phase::Validate, up, down);
    }

    fn alter_column(
        &mut self,
        table_name: &str,
        column_name: &str,
        old: &Column,
        new: &Column,
    ) -> Result<(), GenerateError> {
        if old.generated != new.generated {
            return Err(GenerateError::Unsupported {
                object: format!("column {table_name}.{column_name}"),
                why: format!(
                    "its generation changes ({} → {}), which godwit diff does not write",
                    old.generated.as_deref().unwrap_or("none"),
                    new.generated.as_deref().unwrap_or("none")
                ),
            });
        }
        if old.data_type != new.data_type && !widens(&old.data_type, &new.data_type) {
            self.destructive.push(Destructive::NarrowType {
                table: table_name.to_string(),
                column: column_name.to_string(),
                from: old.data_type.clone(),
                to: new.data_type.clone(),
            });
        }
        let t = self.q(table_name);
        let c = self.q(column_name);
        match self.dialect {
            Dialect::MySql => {
                if old.data_type == new.data_type && old.nullable == new.nullable {
                    let set = |d: &Option<String>| match d {
                        Some(d) => format!("ALTER COLUMN {c} SET DEFAULT {d}"),
                        None => format!("ALTER COLUMN {c} DROP DEFAULT"),
                    };
                    let up = self.alter(table_name, &set(&new.default), Online::Instant);
                    let down = self.alter(table_name, &set(&old.default), Online::Instant);
                    self.push(Phase::Main, vec![Sql::new(up)], vec![Sql::new(down)]);
                } else {
                    let up = Sql::ignoring(
                        self.alter(
                            table_name,
                            &format!(
                                "MODIFY COLUMN {}",
                                ddl::mysql_column(&self.w, column_name, new)
                            ),
                            Online::None,
                        ),
                        "changing-column-type",
                        "the declared schema changes the column's definition; MySQL copies the table",
                    );
                    let down = Sql::new(self.alter(
                        table_name,
                        &format!(
                            "MODIFY COLUMN {}",
                            ddl::mysql_column(&self.w, column_name, old)
                        ),
                        Online::None,
                    ));
                    self.push(Phase::Main, vec![up], vec![down]);
                }
            }
            Dialect::Postgres => {
                // A serial's own sequence comes or goes with its default.
                let owner = (table_name.to_string(), column_name.to_string());
                let draws = |d: &Option<String>| d.as_deref().and_then(ddl::nextval_sequence);
                let (sequence_goes, sequence_comes) = if old.default == new.default {
                    (None, None)
                } else {
                    (
                        draws(&old.default).filter(|s| {
                            self.owned_before.get(s) == Some(&owner)
                                && !self.owned_after.contains_key(s)
                        }),
                        draws(&new.default).filter(|s| {
                            self.owned_after.get(s) == Some(&owner)
                                && !self.owned_before.contains_key(s)
                        }),
                    )
                };
                if old.default != new.default && old.default.is_some() {
                    self.push(
                        Phase::Main,
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT;"
                        ))],
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {};",
                            old.default.as_deref().unwrap_or_default()
                        ))],
                    );
                }
                if let Some(sequence) = &sequence_goes {
                    let s = self.q(sequence);
                    let mut down = self.sequence_for(sequence, table_name, column_name, old);
                    down.push(Sql::new(format!("ALTER SEQUENCE {s} OWNED BY {t}.{c};")));
                    self.push(
                        Phase::Main,
                        vec![Sql::new(format!("DROP SEQUENCE {s};"))],
                        down,
                    );
                }
                if let Some(sequence) = &sequence_comes {
                    let up = self.sequence_for(sequence, table_name, column_name, new);
                    let drop = format!("DROP SEQUENCE {};", self.q(sequence));
                    self.push(Phase::Main, up, vec![Sql::new(drop)]);
                }
                if old.data_type != new.data_type {
                    let to = &new.data_type;
                    let from = &old.data_type;
                    self.push(
                        Phase::Main,
                        vec![Sql::ignoring(
                            format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {to} USING {c}::{to};"),
                            "changing-column-type",
                            "the declared schema changes the type; PostgreSQL rewrites the table unless the change is binary-compatible",
                        )],
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} TYPE {from} USING {c}::{from};"
                        ))],
                    );
                }
                if old.default != new.default
                    && let Some(default) = &new.default
                {
                    self.push(
                        Phase::Main,
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {default};"
                        ))],
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT;"
                        ))],
                    );
                }
                if let Some(sequence) = &sequence_comes {
                    let s = self.q(sequence);
                    // Dropping the sequence in down drops the ownership with it.
                    let own = format!("ALTER SEQUENCE {s} OWNED BY {t}.{c};");
                    self.push(Phase::Main, vec![Sql::new(own)], Vec::new());
                }
                if old.nullable && !new.nullable {
                    let check = self.q(&self.not_null_check(table_name, column_name));
                    self.push(
                        Phase::Main,
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID;"
                        ))],
                        vec![Sql::new(format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check};"))],
                    );
                    self.set_not_null_later(table_name, column_name);
                } else if !old.nullable && new.nullable {
                    self.push(
                        Phase::Main,
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL;"
                        ))],
                        vec![Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"
                        ))],
                    );
                }
            }
            Dialect::Sqlite => unreachable!("SQLite rebuilds a table whose columns change"),
        }
        Ok(())
    }

    fn drop_constraint_sql(&self, table_name: &str, name: &str, c: &Constraint) -> String {
        let n = self.q(name);
        match (self.dialect, c.kind) {
            (Dialect::MySql, ConstraintKind::ForeignKey) => self.alter(
                table_name,
                &format!("DROP FOREIGN KEY {n}"),
                Online::Inplace,
            ),
            (Dialect::MySql, ConstraintKind::PrimaryKey) => {
                self.alter(table_name, "DROP PRIMARY KEY", Online::None)
            }
            _ => self.alter(table_name, &format!("DROP CONSTRAINT {n}"), Online::None),
        }
    }

    fn drop_constraint(&mut self, table_name: &str, name: &str, c: &Constraint) {
        let drop = self.drop_constraint_sql(table_name, name, c);
        let element = ddl::constraint(&self.w, name, c);
        let add = self.alter(table_name, &format!("ADD {element}"), Online::None);
        self.push(Phase::Main, vec![Sql::new(drop)], vec![Sql::new(add)]);
    }

    /// A constraint added to a table that stays. PostgreSQL: checks and foreign keys
    /// NOT VALID (validated in `_validate`), keys built as an index CONCURRENTLY (in
    /// `_indexes`) and attached.
    fn add_constraint(
        &mut self,
        table_name: &str,
        name: &str,
        c: &Constraint,
        validate: &mut Vec<(Vec<Sql>, Vec<Sql>)>,
    ) {
        let t = self.q(table_name);
        let n = self.q(name);
        let element = ddl::constraint(&self.w, name, c);
        let drop = Sql::new(self.drop_constraint_sql(table_name, name, c));
        match (self.dialect, c.kind) {
            (Dialect::Postgres, ConstraintKind::Check | ConstraintKind::ForeignKey) => {
                self.push(
                    Phase::Main,
                    vec![Sql::new(format!(
                        "ALTER TABLE {t} ADD {element} NOT VALID;"
                    ))],
                    vec![drop],
                );
                validate.push((
                    vec![Sql::new(format!(
                        "ALTER TABLE {t} VALIDATE CONSTRAINT {n};"
                    ))],
                    Vec::new(),
                ));
            }
            (Dialect::Postgres, ConstraintKind::PrimaryKey | ConstraintKind::Unique) => {
                let index = Index {
                    columns: c.columns.clone(),
                    unique: true,
                    predicate: None,
                    method: None,
                };
                let create = ddl::create_index(
                    &self.w,
                    table_name,
                    &Table::default(),
                    name,
                    &index,
                    "CONCURRENTLY ",
                );
                let kind = if c.kind == ConstraintKind::PrimaryKey {
                    "PRIMARY KEY"
                } else {
                    "UNIQUE"
                };
                let timing = c
                    .expression
                    .as_ref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default();
                let mut down = vec![drop];
                for column in &c.columns {
                    if self
                        .keyed
                        .contains(&(table_name.to_string(), column.clone()))
                    {
                        down.push(Sql::new(format!(
                            "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL;",
                            self.q(column)
                        )));
                    }
                }
                self.push(
                    Phase::Indexes,
                    vec![
                        Sql::new(create),
                        Sql::new(format!(
                            "ALTER TABLE {t} ADD CONSTRAINT {n} {kind} USING INDEX {n}{timing};"
                        )),
                    ],
                    down,
                );
            }
            _ => {
                let add = self.alter(table_name, &format!("ADD {element}"), Online::None);
                self.push(Phase::Main, vec![Sql::new(add)], vec![drop]);
            }
        }
    }

    /// Whether an index covers a column that goes or changes type in this change: it
    /// goes with the column, inside the main migration.
    fn index_tied(have: &Table, want: &Table, index: &Index) -> bool {
        have.columns.iter().any(|(name, col)| {
            want.columns
                .get(name)
                .is_none_or(|w| w.data_type != col.data_type)
                && index
                    .columns
                    .iter()
                    .chain(index.predicate.iter())
                    .any(|p| mentions(p, name))
        })
    }

    fn drop_index(
        &mut self,
        table_name: &str,
        have: &Table,
        want: &Table,
        name: &str,
        index: &Index,
    ) {
        let n = self.q(name);
        match self.dialect {
            Dialect::Postgres if !Self::index_tied(have, want, index) => self.push(
                Phase::Indexes,
                vec![Sql::new(format!("DROP INDEX CONCURRENTLY IF EXISTS {n};"))],
                vec![Sql::new(ddl::create_index(
                    &self.w,
                    table_name,
                    have,
                    name,
                    index,
                    "CONCURRENTLY ",
                ))],
            ),
            Dialect::Postgres | Dialect::Sqlite => self.push(
                Phase::Main,
                vec![Sql::new(format!("DROP INDEX {n};"))],
                vec![Sql::new(ddl::create_index(
                    &self.w, table_name, have, name, index, "",
                ))],
            ),
            Dialect::MySql => {
                let up = self.alter(table_name, &format!("DROP INDEX {n}"), Online::Inplace);
                let down = self.alter(
                    table_name,
                    &format!("ADD {}", ddl::mysql_index(&self.w, name, index)),
                    mysql_index_online(index),
                );
                self.push(Phase::Main, vec![Sql::new(up)], vec![Sql::new(down)]);
            }
        }
    }

    fn add_index(&mut self, table_name: &str, want: &Table, name: &str, index: &Index) {
        let n = self.q(name);
        match self.dialect {
            Dialect::Postgres => self.push(
                Phase::Indexes,
                vec![Sql::new(ddl::create_index(
                    &self.w,
                    table_name,
                    want,
                    name,
                    index,
                    "CONCURRENTLY ",
                ))],
                vec![Sql::new(format!("DROP INDEX CONCURRENTLY IF EXISTS {n};"))],
            ),
            Dialect::Sqlite => self.push(
                Phase::Main,
                vec![Sql::new(ddl::create_index(
                    &self.w, table_name, want, name, index, "",
                ))],
                vec![Sql::new(format!("DROP INDEX {n};"))],
            ),
            Dialect::MySql => {
                let up = self.alter(
                    table_name,
                    &format!("ADD {}", ddl::mysql_index(&self.w, name, index)),
                    mysql_index_online(index),
                );
                let down = self.alter(table_name, &format!("DROP INDEX {n}"), Online::Inplace);
                self.push(Phase::Main, vec![Sql::new(up)], vec![Sql::new(down)]);
            }
        }
    }

    /// MySQL: a changed index is dropped and added in one ALTER, so that a foreign key
    /// that uses it is never without one (MySQL checks that at the end of the statement).
    fn mysql_replace_index(&mut self, table_name: &str, name: &str, old: &Index, new: &Index) {
        let n = self.q(name);
        let replace = |index: &Index| {
            self.alter(
                table_name,
                &format!(
                    "DROP INDEX {n}, ADD {}",
                    ddl::mysql_index(&self.w, name, index)
                ),
                // The clause both parts allow: a copy if either needs one.
                match (mysql_index_online(old), mysql_index_online(new)) {
                    (Online::Inplace, Online::Inplace) => Online::Inplace,
                    _ => Online::None,
                },
            )
        };
        let (up, down) = (replace(new), replace(old));
        self.push(Phase::Main, vec![Sql::new(up)], vec![Sql::new(down)]);
    }

    /// PostgreSQL: a changed index is built beside the old one under a temporary name,
    /// the old one dropped, the new one renamed: queries keep an index all along.
    fn replace_index(
        &mut self,
        table_name: &str,
        want: &Table,
        have: &Table,
        name: &str,
        old: &Index,
        new: &Index,
    ) {
        let temporary = format!("{}_godwit_new", &name[..name.len().min(50)]);
        let n = self.q(name);
        let tmp = self.q(&temporary);
        let swap = |table: &Table, index: &Index| {
            vec![
                Sql::new(ddl::create_index(
                    &self.w,
                    table_name,
                    table,
                    &temporary,
                    index,
                    "CONCURRENTLY ",
                )),
                Sql::new(format!("DROP INDEX CONCURRENTLY IF EXISTS {n};")),
                Sql::new(format!("ALTER INDEX {tmp} RENAME TO {n};")),
            ]
        };
        let up = swap(want, new);
        let down = swap(have, old);
        self.push(Phase::Indexes, up, down);
    }

    /// SQLite's table rebuild: the new table beside the old, the rows copied, the old
    /// dropped, the new renamed, its indexes made again (triggers come with the others).
    fn rebuild(&self, table_name: &str, from: &Table, to: &Table) -> Vec<Sql> {
        let temporary = format!("_godwit_new_{table_name}");
        let t = self.q(table_name);
        let tmp = self.q(&temporary);
        let common: Vec<(&String, &Column)> = to
            .columns
            .iter()
            .filter(|(name, col)| {
                from.columns.contains_key(*name)
                    && !col
                        .generated
                        .as_deref()
                        .is_some_and(|g| g.starts_with("GENERATED"))
            })
            .collect();
        let mut out = vec![Sql::new(ddl::sqlite_table(&self.w, &temporary, to))];
        if !common.is_empty() {
            let list: Vec<String> = common.iter().map(|(name, _)| self.q(name)).collect();
            // A column that becomes NOT NULL with a default takes the default where it
            // held NULL, as the declared schema says new rows would.
            let values: Vec<String> = common
                .iter()
                .map(|(name, col)| match &col.default {
                    Some(default) if !col.nullable && from.columns[*name].nullable => {
                        format!("coalesce({}, {default})", self.q(name))
                    }
                    _ => self.q(name),
                })
                .collect();
            out.push(Sql::new(format!(
                "INSERT INTO {tmp} ({}) SELECT {} FROM {t};",
                list.join(", "),
                values.join(", ")
            )));
        }
        out.push(Sql::ignoring(
            format!("DROP TABLE {t};"),
            "ban-drop-table",
            "rebuilt: its rows were copied to the new table above, which takes its name",
        ));
        out.push(Sql::ignoring(
            format!("ALTER TABLE {tmp} RENAME TO {t};"),
            "renaming-table",
            "the last step of SQLite's table rebuild",
        ));
        out.extend(self.table_indexes_plain(table_name, to));
        out
    }

    fn enums(&mut self, current: &Schema, desired: &Schema) -> Result<(), GenerateError> {
        for (name, labels) in &desired.enums {
            match current.enums.get(name) {
                None => {
                    let create = format!("CREATE TYPE {} AS {labels};", self.q(name));
                    let drop = format!("DROP TYPE {};", self.q(name));
                    self.push(Phase::Main, vec![Sql::new(create)], vec![Sql::new(drop)]);
                }
                Some(have) if have != labels => {
                    return Err(GenerateError::Unsupported {
                        object: format!("type {name}"),
                        why: format!(
                            "its labels change ({have} → {labels}); PostgreSQL cannot take a label back out of an enum, so this needs a migration written by hand"
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        for (name, labels) in &current.enums {
            if !desired.enums.contains_key(name) {
                let create = format!("CREATE TYPE {} AS {labels};", self.q(name));
                let drop = format!("DROP TYPE {};", self.q(name));
                // Types go after the tables and columns that use them.
                self.push(Phase::Main, vec![Sql::new(drop)], vec![Sql::new(create)]);
            }
        }
        Ok(())
    }

    fn sequences(&mut self, current: &Schema, desired: &Schema) -> Result<(), GenerateError> {
        if self.dialect == Dialect::MySql && (current.sequences != desired.sequences) {
            return Err(GenerateError::Unsupported {
                object: "sequences".into(),
                why: "MariaDB sequences change; godwit diff does not write them yet".into(),
            });
        }
        for (name, def) in &desired.sequences {
            let s = self.q(name);
            match current.sequences.get(name) {
                None => self.push(
                    Phase::Main,
                    vec![Sql::new(format!("CREATE SEQUENCE {s} AS {def};"))],
                    vec![Sql::new(format!("DROP SEQUENCE {s};"))],
                ),
                Some(have) if have != def => self.push(
                    Phase::Main,
                    vec![Sql::new(format!("ALTER SEQUENCE {s} AS {def};"))],
                    vec![Sql::new(format!("ALTER SEQUENCE {s} AS {have};"))],
                ),
                Some(_) => {}
            }
        }
        for (name, def) in &current.sequences {
            if !desired.sequences.contains_key(name) {
                let s = self.q(name);
                self.push(
                    Phase::Main,
                    vec![Sql::new(format!("DROP SEQUENCE {s};"))],
                    vec![Sql::new(format!("CREATE SEQUENCE {s} AS {def};"))],
                );
            }
        }
        Ok(())
    }

    fn view_create(&self, name: &str, def: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("{def};"),
            Dialect::MySql => format!("CREATE VIEW {} AS {def};", self.q(name)),
            Dialect::Postgres => match def.strip_prefix("MATERIALIZED ") {
                Some(query) => format!(
                    "CREATE MATERIALIZED VIEW {} AS {};",
                    self.q(name),
                    query.trim_end_matches(';')
                ),
                None => format!(
                    "CREATE VIEW {} AS {};",
                    self.q(name),
                    def.trim_end_matches(';')
                ),
            },
        }
    }

    fn view_drop(&self, name: &str, def: &str) -> String {
        if self.dialect == Dialect::Postgres && def.starts_with("MATERIALIZED ") {
            format!("DROP MATERIALIZED VIEW {};", self.q(name))
        } else {
            format!("DROP VIEW {};", self.q(name))
        }
    }

    /// `name on table` → (name, table).
    fn trigger_parts(key: &str) -> (&str, &str) {
        key.split_once(" on ").unwrap_or((key, ""))
    }

    fn trigger_drop(&self, key: &str) -> String {
        let (name, table) = Self::trigger_parts(key);
        match self.dialect {
            Dialect::Postgres => format!("DROP TRIGGER {} ON {};", self.q(name), self.q(table)),
            _ => format!("DROP TRIGGER {};", self.q(name)),
        }
    }

    fn trigger_create(
        &self,
        key: &str,
        def: &str,
        definitions: &Definitions,
    ) -> Result<Vec<Sql>, GenerateError> {
        Ok(match self.dialect {
            Dialect::Postgres => vec![Sql::new(format!("CREATE {def};"))],
            Dialect::Sqlite => vec![Sql::new(format!("{def};"))],
            Dialect::MySql => {
                let Some(definition) = definitions.triggers.get(key) else {
                    return Err(GenerateError::Unsupported {
                        object: format!("trigger {key}"),
                        why: "its definition could not be read".into(),
                    });
                };
                vec![Sql::new(compound(definition))]
            }
        })
    }

    fn routine_create(
        &self,
        key: &str,
        definitions: &Definitions,
    ) -> Result<Vec<Sql>, GenerateError> {
        match definitions.routines.get(key) {
            Some(Some(definition)) => Ok(vec![Sql::new(match self.dialect {
                Dialect::MySql => compound(definition),
                _ => format!("{definition};"),
            })]),
            _ => Err(GenerateError::Unsupported {
                object: format!("routine {key}"),
                why: "the database cannot print its CREATE (an aggregate?)".into(),
            }),
        }
    }

    fn routine_drop(&self, key: &str, def: &str) -> String {
        let (name, arguments) = match key.find('(') {
            Some(at) => (&key[..at], &key[at..]),
            None => (key, ""),
        };
        let kind = if def.starts_with("procedure") {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        match self.dialect {
            Dialect::Postgres => format!("DROP {kind} {}{arguments};", self.q(name)),
            _ => format!("DROP {kind} {};", self.q(name)),
        }
    }

    /// The changes grouped into migrations, each with its header.
    fn finish(self) -> Generated {
        let mut migrations = Vec::new();
        for phase in [Phase::Main, Phase::Indexes, Phase::Validate] {
            let changes: Vec<&Change> = self.changes.iter().filter(|c| c.phase == phase).collect();
            if changes.is_empty() {
                continue;
            }
            let up: Vec<&Sql> = changes.iter().flat_map(|c| c.up.iter()).collect();
            let down: Vec<&Sql> = changes.iter().rev().flat_map(|c| c.down.iter()).collect();
            let no_transaction = phase == Phase::Indexes;
            let rebuilds = self.dialect == Dialect::Sqlite
                && up.iter().chain(down.iter()).any(|s| {
                    s.text.starts_with("INSERT INTO \"_godwit_new_")
                        || s.text.contains("_godwit_new_")
                });
            let header = |direction: &str| {
                let mut text = format!(
                    "-- Written by `godwit diff` ({direction}){}.\n",
                    match phase {
                        Phase::Main => "",
                        Phase::Indexes =>
                            ": indexes built and dropped CONCURRENTLY, outside a transaction",
                        Phase::Validate =>
                            ": constraints added NOT VALID are validated, without blocking writes",
                    }
                );
                if no_transaction {
                    text.push_str("-- godwit:no-transaction\n");
                }
                if rebuilds {
                    text.push_str("-- godwit:foreign-keys-off\n");
                }
                if self.dialect != Dialect::Sqlite {
                    text.push_str(&format!("-- godwit:lock-timeout={LOCK_TIMEOUT}\n"));
                }
                text
            };
            let render = |statements: &[&Sql]| {
                let mut text = String::new();
                for s in statements {
                    text.push('\n');
                    if let Some((rule, reason)) = &s.ignore {
                        text.push_str(&format!("-- godwit:ignore {rule} -- reason: {reason}\n"));
                    }
                    text.push_str(&s.text);
                    text.push('\n');
                }
                text
            };
            migrations.push(GeneratedMigration {
                phase,
                up: header("up") + &render(&up),
                down: header("down") + &render(&down),
                statements: up.iter().map(|s| s.text.clone()).collect(),
                down_statements: down.iter().map(|s| s.text.clone()).collect(),
                no_transaction,
            });
        }
        Generated {
            migrations,
            destructive: self.destructive,
        }
    }
}

/// How online a MySQL ALTER is asked to be.
#[derive(Clone, Copy)]
enum Online {
    /// No clause: MySQL chooses (a copy where it must).
    None,
    /// `ALGORITHM=INPLACE, LOCK=NONE`: MySQL refuses rather than block writes.
    Inplace,
    /// `ALGORITHM=INSTANT`: metadata only.
    Instant,
}

fn mysql_index_online(index: &Index) -> Online {
    match index.method.as_deref() {
        // Full-text and spatial indexes are built in place but with writes blocked.
        Some("FULLTEXT" | "SPATIAL") => Online::None,
        _ => Online::Inplace,
    }
}

/// A MySQL compound statement between DELIMITER lines, as godwit's splitter reads it.
fn compound(definition: &str) -> String {
    format!("DELIMITER $$\n{definition}$$\nDELIMITER ;")
}

/// SQLite can add a plain column and drop an unindexed one; anything else rebuilds.
fn sqlite_needs_rebuild(have: &Table, want: &Table) -> bool {
    if have.constraints != want.constraints {
        return true;
    }
    let in_use = |table: &Table, column: &str| {
        table.indexes.values().any(|i| {
            i.columns
                .iter()
                .chain(i.predicate.iter())
                .any(|p| mentions(p, column))
        }) || table.constraints.values().any(|c| {
            c.columns.iter().any(|c| c == column)
                || c.expression.as_deref().is_some_and(|e| mentions(e, column))
        })
    };
    for (name, col) in &have.columns {
        match want.columns.get(name) {
            Some(w) if w != col => return true,
            Some(_) => {}
            None if in_use(have, name) || col.generated.is_some() => return true,
            None => {}
        }
    }
    want.columns.iter().any(|(name, col)| {
        !have.columns.contains_key(name)
            && (col.generated.is_some()
                || (!col.nullable && col.default.is_none())
                || col
                    .default
                    .as_deref()
                    .is_some_and(|d| d.contains('(') || d.to_uppercase().starts_with("CURRENT_")))
    })
}

/// Tables and columns dropped while one of the same shape is added, with no hint either
/// way: the user must say which.
fn probable_renames(
    current: &Schema,
    desired: &Schema,
    renames: &Renames,
) -> Result<(), GenerateError> {
    let shape = |t: &Table| -> Vec<String> {
        let mut types: Vec<String> = t.columns.values().map(|c| c.data_type.clone()).collect();
        types.sort();
        types
    };
    let mut found = Vec::new();
    let dropped: Vec<(&String, &Table)> = current
        .tables
        .iter()
        .filter(|(n, _)| !desired.tables.contains_key(*n) && !renames.not_renamed.contains(*n))
        .collect();
    for (new, want) in &desired.tables {
        if current.tables.contains_key(new) {
            continue;
        }
        if let Some((old, _)) = dropped.iter().find(|(_, t)| shape(t) == shape(want)) {
            found.push(ProbableRename {
                table: None,
                old: (*old).clone(),
                new: new.clone(),
            });
        }
    }
    for (table_name, want) in &desired.tables {
        let Some(have) = current.tables.get(table_name) else {
            continue;
        };
        for (new, col) in &want.columns {
            if have.columns.contains_key(new) {
                continue;
            }
            let old = have.columns.iter().find(|(old, c)| {
                !want.columns.contains_key(*old)
                    && c.data_type == col.data_type
                    && !renames.not_renamed.contains(&format!("{table_name}.{old}"))
            });
            if let Some((old, _)) = old {
                found.push(ProbableRename {
                    table: Some(table_name.clone()),
                    old: old.clone(),
                    new: new.clone(),
                });
            }
        }
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(GenerateError::ProbableRenames(found))
    }
}

/// Reads `-- godwit:renamed-from OLD` hints in the declared schema's text: above a
/// `CREATE TABLE` (or on its line) for the table, at the end of a column's line (or on
/// the line above it) for the column.
pub fn hints(text: &str, dialect: Dialect, renames: &mut Renames) {
    const MARK: &str = "godwit:renamed-from";
    let unquote = |name: &str| -> String {
        let name = name.trim().trim_end_matches([',', ';']);
        let stripped = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .or_else(|| name.strip_prefix('`').and_then(|n| n.strip_suffix('`')));
        match stripped {
            Some(n) => n.to_string(),
            None if dialect == Dialect::Postgres => name.to_lowercase(),
            None => name.to_string(),
        }
    };
    let mut pending: Option<String> = None;
    let mut table: Option<String> = None;
    for line in text.lines() {
        let (code, comment) = match line.find("--") {
            Some(at) => (&line[..at], Some(line[at + 2..].trim())),
            None => (line, None),
        };
        let hint = comment
            .and_then(|c| c.strip_prefix(MARK))
            .map(|rest| unquote(rest.split_whitespace().next().unwrap_or("")));
        let code = code.trim();
        if code.is_empty() {
            if hint.is_some() {
                pending = hint;
            }
            continue;
        }
        let hint = hint.or_else(|| pending.take());
        let upper = code.to_uppercase();
        if let Some(rest) = upper
            .strip_prefix("CREATE TABLE ")
            .map(|_| &code["CREATE TABLE ".len()..])
        {
            let rest = rest.trim_start();
            let rest = if rest.to_uppercase().starts_with("IF NOT EXISTS ") {
                &rest["IF NOT EXISTS ".len()..]
            } else {
                rest
            };
            let name_end = rest.find(['(', ' ']).unwrap_or(rest.len());
            let name = unquote(&rest[..name_end]);
            if let Some(old) = hint {
                renames.tables.insert(name.clone(), old);
            }
            table = Some(name);
            continue;
        }
        if let (Some(table), Some(old)) = (&table, hint) {
            let first = code.split_whitespace().next().unwrap_or("");
            let column = unquote(first);
            renames.columns.insert((table.clone(), column), old);
        }
        if code.starts_with(')') || code.ends_with(");") {
            table = None;
        }
    }
}

/// Why `godwit diff NAME` wrote nothing; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Generate(#[from] GenerateError),

    #[error(
        "the change loses data, and godwit diff writes that only with --allow-destructive:\n  {}\n  \
         if the data can go, run again with --allow-destructive; if a table or column was renamed, \
         say so with `-- godwit:renamed-from OLD` in the schema or `--rename OLD=NEW`",
        .0.join("\n  ")
    )]
    Destructive(Vec<String>),

    #[error("`{0}` is not a rename: write OLD=NEW for a table, or TABLE.OLD=NEW for a column")]
    BadRenameFlag(String),

    #[error(
        "godwit diff writes migrations as separate up and down files; the migrations folder is in the {0} \
         layout, which keeps them otherwise\n  write this change by hand (`godwit diff NAME --dry-run` prints it)"
    )]
    Layout(String),

    #[error(
        "the generated migrations do not {step} on a shadow database, so nothing was written:\n  {}\n  \
         this is a bug in godwit diff; please report it with the schema, and write this change by hand \
         (`--dry-run` prints what was generated)",
        .details.join("\n  ")
    )]
    NotProved { step: String, details: Vec<String> },

    #[error(
        "the generated migrations fail godwit's own lint, so nothing was written:\n  {}\n  \
         this is a bug in godwit diff; please report it",
        .0.join("\n  ")
    )]
    Lint(Vec<String>),
}

impl DiffError {
    pub fn exit_code(&self) -> u8 {
        match self {
            DiffError::Generate(GenerateError::ProbableRenames(_)) | DiffError::Destructive(_) => {
                crate::exit::BLOCKED
            }
            DiffError::Generate(_) | DiffError::BadRenameFlag(_) | DiffError::Layout(_) => {
                crate::exit::USAGE
            }
            DiffError::NotProved { .. } | DiffError::Lint(_) => crate::exit::FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_tables_and_columns() {
        let mut r = Renames::default();
        hints(
            "-- godwit:renamed-from users\nCREATE TABLE accounts (\n    id integer PRIMARY KEY,\n    \
             full_name text NOT NULL, -- godwit:renamed-from name\n    -- godwit:renamed-from mail\n    \"Email\" text\n);\n",
            Dialect::Postgres,
            &mut r,
        );
        assert_eq!(r.tables["accounts"], "users");
        assert_eq!(r.columns[&("accounts".into(), "full_name".into())], "name");
        assert_eq!(r.columns[&("accounts".into(), "Email".into())], "mail");
        assert_eq!(r.columns.len(), 2);
    }

    #[test]
    fn widening_is_told_from_narrowing() {
        assert!(widens("varchar(10)", "varchar(20)"));
        assert!(widens("varchar(10)", "text"));
        assert!(widens("integer", "bigint"));
        assert!(!widens("bigint", "integer"));
        assert!(!widens("varchar(20)", "varchar(10)"));
        assert!(!widens("text", "varchar(10)"));
        assert!(!widens("text", "integer"));
    }

    #[test]
    fn words_are_replaced_whole() {
        assert_eq!(replace_word("a_b + a + (a)", "a", "x"), "a_b + x + (x)");
        assert!(mentions("SELECT * FROM users u", "users"));
        assert!(!mentions("SELECT * FROM users_x", "users"));
    }
}
