//! What a run creates, so that only data that existed before it is copied.
//!
//! A deploy that creates a table and drops it a few migrations later (a fresh database
//! replaying a whole history does this all the time) destroys nothing anyone had: the
//! rows were written by the run itself. So before the run, the statements of the whole
//! plan are read in order and every table (or column) is followed through creates,
//! renames and drops; a drop of something the run created is never copied.
//!
//! The statements are read, not the catalog: catalog identities (PostgreSQL's OIDs) do
//! not exist on every database, and MySQL changes its table ids on every table rebuild.
//! What the reading cannot see (a table made by dynamic SQL in a procedure) counts as
//! existing before the run, so the mistake it can make is an unneeded copy, never a
//! missing one. `CREATE TABLE IF NOT EXISTS` and `ADD COLUMN IF NOT EXISTS` create only
//! what was not there, so those few statements are checked against the tables and
//! columns that exist when the run starts.

use std::collections::{HashMap, HashSet};

use godwit_core::Dialect;
use godwit_core::analyze::creates::{Effect, effects};
use godwit_core::analyze::destroys::{Destroys, Ident, Name};

/// A table as the database resolves it: schema (the current one when unqualified) and
/// name, spelled as the catalog stores them.
pub(crate) type Key = (String, String);

/// Turns statement names into [`Key`]s for one database and current schema.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    pub dialect: Dialect,
    pub current: String,
}

impl Names {
    pub fn key(&self, name: &Name) -> Key {
        let schema = name
            .schema
            .as_ref()
            .map(|s| self.ident(s))
            .unwrap_or_else(|| self.current.clone());
        (schema, self.ident(&name.table))
    }

    pub fn ident(&self, ident: &Ident) -> String {
        let text = ident.catalog(self.dialect);
        if super::of(self.dialect).folds_case() {
            text.to_ascii_lowercase()
        } else {
            text
        }
    }
}

/// Whether a table's current incarnation holds data from before the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Created by this run (or renamed from a table it created).
    Created,
    /// Existed before the run, possibly under another name.
    Before,
    /// Dropped, or renamed away.
    Gone,
}

/// What existed when the run started, for the `IF NOT EXISTS` forms.
#[derive(Clone, Debug, Default)]
pub(crate) struct Existing {
    pub tables: HashSet<Key>,
    pub columns: HashSet<(Key, String)>,
}

/// Follows tables and columns through a run's statements.
#[derive(Debug)]
pub(crate) struct Run {
    names: Names,
    existing: Existing,
    tables: HashMap<Key, State>,
    /// Columns the run added to tables that existed before it.
    added: HashSet<(Key, String)>,
    /// Columns dropped since the start (an `ADD COLUMN IF NOT EXISTS` then adds again).
    dropped_columns: HashSet<(Key, String)>,
}

impl Run {
    pub fn new(names: Names, existing: Existing) -> Run {
        Run {
            names,
            existing,
            tables: HashMap::new(),
            added: HashSet::new(),
            dropped_columns: HashSet::new(),
        }
    }

    fn state(&self, key: &Key) -> State {
        // A table the statements never created is taken as one from before the run,
        // even when no snapshot knows it (dynamic SQL made it): the worst case is then a
        // copy not needed, never one missing.
        self.tables.get(key).copied().unwrap_or(State::Before)
    }

    fn exists(&self, key: &Key) -> bool {
        match self.tables.get(key) {
            Some(State::Gone) => false,
            Some(_) => true,
            None => self.existing.tables.contains(key),
        }
    }

    /// Whether this drop destroys data that existed before the run.
    pub fn destroys_old_data(&self, what: &Destroys) -> bool {
        match what {
            Destroys::Table(name) => self.state(&self.names.key(name)) != State::Created,
            Destroys::Column(name, column) => {
                let key = self.names.key(name);
                self.state(&key) != State::Created
                    && !self.added.contains(&(key, self.names.ident(column)))
            }
            Destroys::Truncate(_) | Destroys::Delete { .. } => true,
        }
    }

    /// Takes one statement into account: first its drops, then what it creates.
    pub fn apply(&mut self, drops: &[Destroys], effects: &[Effect]) {
        for what in drops {
            match what {
                Destroys::Table(name) => {
                    let key = self.names.key(name);
                    self.added.retain(|(k, _)| k != &key);
                    self.tables.insert(key, State::Gone);
                }
                Destroys::Column(name, column) => {
                    let entry = (self.names.key(name), self.names.ident(column));
                    self.added.remove(&entry);
                    self.dropped_columns.insert(entry);
                }
                Destroys::Truncate(_) | Destroys::Delete { .. } => {}
            }
        }
        for effect in effects {
            match effect {
                Effect::CreateTable {
                    name,
                    if_not_exists,
                } => {
                    let key = self.names.key(name);
                    if *if_not_exists && self.exists(&key) {
                        continue;
                    }
                    self.added.retain(|(k, _)| k != &key);
                    self.tables.insert(key, State::Created);
                }
                Effect::RenameTable { from, to } => {
                    let (from, to) = (self.names.key(from), self.names.key(to));
                    let state = match self.state(&from) {
                        State::Gone => State::Before,
                        s => s,
                    };
                    let moved: Vec<String> = self
                        .added
                        .iter()
                        .filter(|(k, _)| k == &from)
                        .map(|(_, c)| c.clone())
                        .collect();
                    self.added.retain(|(k, _)| k != &from);
                    for column in moved {
                        self.added.insert((to.clone(), column));
                    }
                    self.tables.insert(from, State::Gone);
                    self.tables.insert(to, state);
                }
                Effect::AddColumn {
                    table,
                    column,
                    if_not_exists,
                } => {
                    let key = self.names.key(table);
                    if self.state(&key) == State::Created {
                        continue;
                    }
                    let entry = (key, self.names.ident(column));
                    let there = self.added.contains(&entry)
                        || (self.existing.columns.contains(&entry)
                            && !self.dropped_columns.contains(&entry));
                    if *if_not_exists && there {
                        continue;
                    }
                    self.added.insert(entry);
                }
                Effect::RenameColumn { table, from, to } => {
                    let key = self.names.key(table);
                    let from = (key.clone(), self.names.ident(from));
                    let to = (key, self.names.ident(to));
                    // A column renamed onto a new name keeps its data, old or new.
                    if self.added.remove(&from) {
                        self.added.insert(to);
                    } else {
                        self.added.remove(&to);
                    }
                }
            }
        }
    }
}

/// The tables and columns a plan's `IF NOT EXISTS` statements need to know about.
pub(crate) fn wanted_for_snapshot<'a>(
    statements: impl IntoIterator<Item = &'a str>,
    dialect: Dialect,
) -> (bool, Vec<Name>) {
    let mut tables = false;
    let mut columns = Vec::new();
    for sql in statements {
        for effect in effects(sql, dialect) {
            match effect {
                Effect::CreateTable {
                    if_not_exists: true,
                    ..
                } => tables = true,
                Effect::AddColumn {
                    table,
                    if_not_exists: true,
                    ..
                } => {
                    tables = true;
                    if !columns.contains(&table) {
                        columns.push(table);
                    }
                }
                _ => {}
            }
        }
    }
    (tables, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use godwit_core::analyze::destroys::destroys;

    fn run(dialect: Dialect, existing: &[&str], statements: &[&str]) -> Vec<(usize, bool)> {
        let names = Names {
            dialect,
            current: "public".into(),
        };
        let existing = Existing {
            tables: existing
                .iter()
                .map(|t| ("public".to_string(), t.to_string()))
                .collect(),
            columns: HashSet::new(),
        };
        let mut r = Run::new(names, existing);
        let mut out = Vec::new();
        for (i, sql) in statements.iter().enumerate() {
            let drops = destroys(sql, dialect);
            for d in &drops {
                if matches!(d, Destroys::Table(_) | Destroys::Column(..)) {
                    out.push((i, r.destroys_old_data(d)));
                }
            }
            r.apply(&drops, &effects(sql, dialect));
        }
        out
    }

    #[test]
    fn a_table_the_run_created_is_not_old_data() {
        assert_eq!(
            run(
                Dialect::Postgres,
                &["users"],
                &[
                    "CREATE TABLE t (id int)",
                    "INSERT INTO t VALUES (1)",
                    "DROP TABLE t",
                    "DROP TABLE users",
                    "CREATE TABLE users (id int)",
                    "DROP TABLE users",
                ]
            ),
            vec![(2, false), (3, true), (5, false)]
        );
    }

    #[test]
    fn renames_carry_where_the_data_came_from() {
        // The SQLite redefinition Prisma and Drizzle write: the old table's data is old,
        // the renamed new table was created by the run.
        assert_eq!(
            run(
                Dialect::Sqlite,
                &["user"],
                &[
                    "CREATE TABLE \"new_User\" (id int)",
                    "INSERT INTO \"new_User\" SELECT id FROM \"User\"",
                    "DROP TABLE \"User\"",
                    "ALTER TABLE \"new_User\" RENAME TO \"User\"",
                    "DROP TABLE user",
                ]
            ),
            vec![(2, true), (4, false)]
        );
        // An old table renamed keeps old data under its new name (MySQL spelling too).
        assert_eq!(
            run(
                Dialect::MySql,
                &["a", "c"],
                &[
                    "RENAME TABLE a TO b",
                    "ALTER TABLE c RENAME d",
                    "DROP TABLE b, d"
                ]
            ),
            vec![(2, true), (2, true)]
        );
    }

    #[test]
    fn columns_the_run_added_are_not_old_data() {
        assert_eq!(
            run(
                Dialect::Postgres,
                &["users"],
                &[
                    "ALTER TABLE users ADD COLUMN nick text, ADD email text",
                    "ALTER TABLE users RENAME COLUMN nick TO nickname",
                    "ALTER TABLE users DROP COLUMN nickname, DROP COLUMN email, DROP COLUMN name",
                ]
            ),
            vec![(2, false), (2, false), (2, true)]
        );
        assert_eq!(
            run(
                Dialect::MySql,
                &["users"],
                &[
                    "ALTER TABLE users ADD COLUMN (a INT, b VARCHAR(10))",
                    "ALTER TABLE users CHANGE a c INT",
                    "ALTER TABLE users ADD CONSTRAINT u UNIQUE (b)",
                    "ALTER TABLE users DROP c, DROP COLUMN b",
                ]
            ),
            vec![(3, false), (3, false)]
        );
    }

    #[test]
    fn if_not_exists_creates_only_what_was_missing() {
        assert_eq!(
            run(
                Dialect::Postgres,
                &["kept"],
                &[
                    "CREATE TABLE IF NOT EXISTS kept (id int)",
                    "CREATE TABLE IF NOT EXISTS fresh (id int)",
                    "DROP TABLE kept",
                    "DROP TABLE fresh",
                ]
            ),
            vec![(2, true), (3, false)]
        );
    }

    #[test]
    fn temporary_tables_and_schemas() {
        let r = effects("CREATE TEMP TABLE t (id int)", Dialect::Postgres);
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(
            run(
                Dialect::Postgres,
                &[],
                &[
                    "CREATE TABLE public.t (id int)",
                    "DROP TABLE t",
                    "CREATE TABLE app.t (id int)",
                    "ALTER TABLE app.t SET SCHEMA public",
                    "DROP TABLE public.t",
                ]
            ),
            vec![(1, false), (4, false)]
        );
    }
}
