//! Table rebuilds: how SQLite histories change a table that `ALTER TABLE` cannot.
//!
//! SQLite has no `ALTER COLUMN`, so Prisma, Drizzle Kit and hand-written histories
//! (authelia, kratos) rebuild the table instead, in one of two spellings:
//!
//! ```sql
//! -- Prisma, Drizzle Kit, SQLite's own documentation
//! CREATE TABLE "new_Job" (…);
//! INSERT INTO "new_Job" ("id", "name") SELECT "id", "name" FROM "Job";
//! DROP TABLE "Job";
//! ALTER TABLE "new_Job" RENAME TO "Job";
//!
//! -- authelia
//! ALTER TABLE consent RENAME TO _bkp_consent;
//! CREATE TABLE consent (…);
//! INSERT INTO consent (id, subject) SELECT id, subject FROM _bkp_consent;
//! DROP TABLE _bkp_consent;
//! ```
//!
//! Either way the `DROP TABLE` loses no row and the application's table keeps its name:
//! only the columns the copy leaves out are gone. The checks that judge a drop (lint,
//! `plan`'s live counts) ask [`rebuilds`] first, so that they report the columns at risk
//! rather than the whole table.

use crate::analyze::{Effect, Lock, StatementInfo};

/// One table rebuilt within one migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebuild {
    /// The table whose rows were copied and which is then dropped.
    pub dropped: String,
    /// 0-based index of the statement dropping it.
    pub drop: usize,
    /// The table the rows were first copied into, created by the same migration.
    pub into: String,
    /// 0-based index of the `INSERT … SELECT` copying the rows out.
    pub copy: usize,
    /// The table holding the rows when the migration ends: `into`, or the table they were
    /// copied on to (authelia copies into a backup table and back into a new table of the
    /// old name).
    pub survivor: String,
    /// 0-based index of the `RENAME` that gives the new table the application's name, or
    /// moves the old one out of its way; `None` when the survivor was created under it.
    pub rename: Option<usize>,
    /// The name the application uses, before and after.
    pub name: String,
    /// The columns of `dropped` the copies carry; `None` when they carry them all (`*`).
    pub columns: Option<Vec<String>>,
}

/// The rebuild whose `DROP TABLE table` is statement `index` (0-based), if it is one.
pub fn dropping<'a>(rebuilds: &'a [Rebuild], table: &str, index: usize) -> Option<&'a Rebuild> {
    rebuilds
        .iter()
        .find(|r| r.drop == index && r.dropped == table)
}

/// The rebuild whose rename is statement `index` (0-based), if any.
pub fn renaming(rebuilds: &[Rebuild], index: usize) -> Option<&Rebuild> {
    rebuilds.iter().find(|r| r.rename == Some(index))
}

impl Rebuild {
    /// Whether the copy carries `column` (a key as [`crate::sql::column_key`] gives it).
    pub fn carries(&self, column: &str) -> bool {
        self.columns
            .as_ref()
            .is_none_or(|c| c.iter().any(|c| c == column))
    }
}

/// One copy of every row of a table: statement `index` copied them into `into`.
struct FullCopy<'a> {
    index: usize,
    into: &'a str,
    columns: &'a Option<Vec<String>>,
}

/// Every copy of all the rows of `table` made before statement `drop` (and after
/// statement `after`) with nothing changing `table` between it and the drop, latest first.
fn full_copies<'a>(
    statements: &'a [StatementInfo],
    table: &str,
    after: Option<usize>,
    drop: usize,
) -> Vec<FullCopy<'a>> {
    copies(statements, table, after, drop, true)
}

/// Like [`full_copies`], with `every_row` false for the copies that take only some rows
/// (a `WHERE`, a `LIMIT`, a join) instead.
fn copies<'a>(
    statements: &'a [StatementInfo],
    table: &str,
    after: Option<usize>,
    drop: usize,
    every_row: bool,
) -> Vec<FullCopy<'a>> {
    // Only reading it again (a SELECT, or copying some of its rows elsewhere as well, as
    // vaultwarden's 2018 migration and flipt do) leaves a copy whole.
    let reads_only = |s: &StatementInfo| {
        s.lock == Lock::AccessShare
            || s.effects.iter().any(
                |e| matches!(e, Effect::CopyRows { from, into, .. } if from == table && into != table),
            )
    };
    let changed_after = |index: usize| {
        statements
            .iter()
            .filter(|s| s.index > index && s.index < drop)
            .any(|s| s.tables.iter().any(|t| t == table) && !reads_only(s))
    };
    let mut copies: Vec<FullCopy<'a>> = statements
        .iter()
        .filter(|s| s.index < drop && after.is_none_or(|a| s.index > a))
        .flat_map(|s| s.effects.iter().map(move |e| (s.index, e)))
        .filter_map(|(index, e)| match e {
            Effect::CopyRows {
                into,
                from,
                columns,
                every_row: all,
                ..
            } if *all == every_row && from == table && into != table => Some(FullCopy {
                index,
                into,
                columns,
            }),
            _ => None,
        })
        .filter(|copy| !changed_after(copy.index))
        .collect();
    copies.reverse();
    copies
}

/// Where the rows of `table` went before statement `drop` dropped it, when a copy of
/// every row was made and nothing changed the table after it: the copying statement's
/// index and the table copied into (the latest such copy). A drop of a table whose rows
/// live on under another name still breaks code using the name, but loses no row.
pub fn rows_copied_before<'a>(
    statements: &'a [StatementInfo],
    table: &str,
    drop: usize,
) -> Option<(usize, &'a str)> {
    full_copies(statements, table, None, drop)
        .first()
        .map(|c| (c.index, c.into))
}

/// Where some of the rows of `table` went before statement `drop` dropped it: the latest
/// copy that took only some of them (stash's SQLite rebuilds copy `… WHERE a IS NOT
/// NULL`), with nothing changing the table after it. The rows it left behind are what the
/// drop loses.
pub fn rows_partly_copied_before<'a>(
    statements: &'a [StatementInfo],
    table: &str,
    drop: usize,
) -> Option<(usize, &'a str)> {
    copies(statements, table, None, drop, false)
        .first()
        .map(|c| (c.index, c.into))
}

/// Every table rebuild in one migration's statements.
///
/// A `DROP TABLE T` belongs to a rebuild when T's rows reach a table that keeps T's name:
/// - an earlier `INSERT INTO D … SELECT … FROM T` copied every row of T (no `WHERE`,
///   `LIMIT`, join, `DISTINCT` or conflict clause), with no statement changing T between
///   that copy and the drop (its rows could have changed after the copy);
/// - D was created by this migration before the copy;
/// - if D is dropped too, its rows were copied on the same way, and so on;
/// - the last table of that chain is T itself created anew, or is renamed to T after the
///   drop, or took the name T had before the migration moved T aside with a rename.
///
/// When T was copied in full more than once (flipt copies its rows into the new table and
/// some columns into a side table), each copy is followed, the latest first.
///
/// Anything else, such as copying rows into an older archive table and dropping the
/// original, or copying them into a table of another name, is not a rebuild: code using
/// the dropped name breaks, and the drop is judged as a drop.
pub fn rebuilds(statements: &[StatementInfo]) -> Vec<Rebuild> {
    let mut out = Vec::new();
    for s in statements {
        for effect in &s.effects {
            let Effect::DropTable { table, .. } = effect else {
                continue;
            };
            let chain = Chain { statements };
            if let Some(rebuild) = chain
                .copies_out(table, None, s.index)
                .into_iter()
                .find_map(|head| chain.follow(table, s.index, head))
            {
                out.push(rebuild);
            }
        }
    }
    out
}

/// Follows the rows of one dropped table through the copies of one migration.
struct Chain<'a> {
    statements: &'a [StatementInfo],
}

impl<'a> Chain<'a> {
    fn effects(&self) -> impl DoubleEndedIterator<Item = (usize, &'a Effect)> + use<'a> {
        self.statements
            .iter()
            .flat_map(|s| s.effects.iter().map(move |e| (s.index, e)))
    }

    /// The statement before `before` that created `table`, the latest one.
    fn created(&self, table: &str, before: usize) -> Option<usize> {
        self.effects()
            .filter(|(i, _)| *i < before)
            .filter_map(|(i, e)| match e {
                Effect::CreateTable { table: t } if t == table => Some(i),
                _ => None,
            })
            .next_back()
    }

    /// Full copies of `table` (see [`full_copies`]) into a table this migration created
    /// before each.
    fn copies_out(&self, table: &str, after: Option<usize>, drop: usize) -> Vec<FullCopy<'a>> {
        full_copies(self.statements, table, after, drop)
            .into_iter()
            .filter(|copy| self.created(copy.into, copy.index).is_some())
            .collect()
    }

    fn follow(&self, dropped: &str, drop: usize, first: FullCopy<'a>) -> Option<Rebuild> {
        let mut columns = first.columns.clone();
        let mut hops = 0;
        let mut hop = first.index;
        let mut survivor = first.into;
        // Follow the rows while the table holding them is dropped again; a history
        // passes them through one backup table, so a few hops are plenty.
        while let Some(again) = self.effects().find_map(|(i, e)| match e {
            Effect::DropTable { table, .. } if i > hop && table == survivor => Some(i),
            _ => None,
        }) {
            if hops >= 4 {
                return None;
            }
            let next = self
                .copies_out(survivor, Some(hop), again)
                .into_iter()
                .next()?;
            // Columns keep their names through a backup table, as every history we know
            // writes it; one that renames them is read conservatively.
            if let (Some(kept), Some(read)) = (columns.as_mut(), next.columns) {
                kept.retain(|c| read.contains(c));
            } else if columns.is_none() {
                columns.clone_from(next.columns);
            }
            hops += 1;
            hop = next.index;
            survivor = next.into;
        }
        let survivor_created = self.created(survivor, hop).unwrap_or(0);
        let (rename, name) = if survivor == dropped {
            // Created anew under its own name, after the drop.
            (None, dropped.to_owned())
        } else {
            self.effects().find_map(|(i, e)| match e {
                Effect::RenameTable { from, to } if from == survivor && to == dropped => {
                    if i > drop {
                        Some((Some(i), dropped.to_owned()))
                    } else if i < survivor_created {
                        Some((Some(i), survivor.to_owned()))
                    } else {
                        None
                    }
                }
                _ => None,
            })?
        };
        Some(Rebuild {
            dropped: dropped.to_owned(),
            drop,
            into: first.into.to_owned(),
            copy: first.index,
            survivor: survivor.to_owned(),
            rename,
            name,
            columns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dialect;

    fn rebuilds_in(sql: &str, dialect: Dialect) -> Vec<Rebuild> {
        let statements = crate::split::split(sql, dialect).unwrap();
        rebuilds(&crate::analyze::analyze(&statements, dialect))
    }

    /// Prisma's SQLite migrations, as `prisma migrate dev` writes them (Spacedrive).
    const PRISMA: &str = r#"-- RedefineTables
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_job" (
    "id" BLOB NOT NULL PRIMARY KEY,
    "name" TEXT,
    "status" INTEGER
);
INSERT INTO "new_job" ("id", "name", "status") SELECT "id", "name", coalesce("status", 0) FROM "job";
DROP TABLE "job";
ALTER TABLE "new_job" RENAME TO "job";
PRAGMA foreign_key_check;
PRAGMA foreign_keys=ON;
"#;

    #[test]
    fn prisma_and_drizzle_rebuilds_are_recognised() {
        let found = rebuilds_in(PRISMA, Dialect::Sqlite);
        assert_eq!(
            found,
            vec![Rebuild {
                dropped: "job".into(),
                drop: 3,
                into: "new_job".into(),
                copy: 2,
                survivor: "new_job".into(),
                rename: Some(4),
                name: "job".into(),
                columns: Some(vec!["id".into(), "name".into(), "status".into()]),
            }]
        );
        assert!(found[0].carries("status") && !found[0].carries("date_created"));
        // Drizzle Kit: backticks, `__new_`, and the same four steps.
        let drizzle = "CREATE TABLE `__new_users` (`id` integer PRIMARY KEY, `email` text);\n\
            INSERT INTO `__new_users`(\"id\", \"email\") SELECT \"id\", \"email\" FROM `users`;\n\
            DROP TABLE `users`;\n\
            ALTER TABLE `__new_users` RENAME TO `users`;\n";
        let found = rebuilds_in(drizzle, Dialect::Sqlite);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].name, "users");
    }

    /// vaultwarden's 2018 spelling: moved aside, copied back, and some rows also copied
    /// into a second table before the drop; reading the old table again changes nothing.
    #[test]
    fn reading_the_old_table_again_before_the_drop_keeps_it_a_rebuild() {
        let sql = "ALTER TABLE ciphers RENAME TO oldCiphers;\n\
            CREATE TABLE ciphers (uuid TEXT PRIMARY KEY, name TEXT);\n\
            CREATE TABLE folders_ciphers (cipher_uuid TEXT, folder_uuid TEXT);\n\
            INSERT INTO ciphers (uuid, name) SELECT uuid, name FROM oldCiphers;\n\
            INSERT INTO folders_ciphers (cipher_uuid, folder_uuid) SELECT uuid, folder_uuid FROM oldCiphers WHERE folder_uuid IS NOT NULL;\n\
            SELECT count(*) FROM oldCiphers;\n\
            DROP TABLE oldCiphers;\n";
        let found = rebuilds_in(sql, Dialect::Sqlite);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].name.as_str(), found[0].copy), ("ciphers", 3));
        // Writing it is another matter: that row is not in the copy.
        let written = sql.replace(
            "SELECT count(*) FROM oldCiphers;",
            "UPDATE oldCiphers SET name = 'x';",
        );
        assert_eq!(rebuilds_in(&written, Dialect::Sqlite), vec![]);
    }

    /// flipt: the rows go into the new table and some columns into a side table too; the
    /// side table is the latest copy, the new table the one that takes the name.
    #[test]
    fn a_second_full_copy_elsewhere_does_not_hide_the_rebuild() {
        let sql = "CREATE TABLE rules_temp (id TEXT PRIMARY KEY);\n\
            INSERT INTO rules_temp (id) SELECT id FROM rules;\n\
            CREATE TABLE rule_segments (rule_id TEXT, seg TEXT);\n\
            INSERT INTO rule_segments (rule_id, seg) SELECT id, seg FROM rules;\n\
            DROP TABLE rules;\n\
            ALTER TABLE rules_temp RENAME TO rules;\n";
        let found = rebuilds_in(sql, Dialect::Sqlite);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].into.as_str(), found[0].copy, found[0].rename),
            ("rules_temp", 1, Some(5))
        );
        assert_eq!(found[0].columns, Some(vec!["id".to_owned()]));
    }

    /// authelia's spelling: the old table is moved aside first; `SELECT *` carries all.
    #[test]
    fn moving_the_old_table_aside_is_a_rebuild_too() {
        let sql = "ALTER TABLE consent RENAME TO _bkp_consent;\n\
            CREATE TABLE consent (id INTEGER PRIMARY KEY, subject CHAR(36) NULL);\n\
            INSERT INTO consent SELECT * FROM _bkp_consent ORDER BY id;\n\
            DROP TABLE IF EXISTS _bkp_consent;\n";
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            let found = rebuilds_in(sql, dialect);
            assert_eq!(found.len(), 1, "{dialect}: {found:?}");
            assert_eq!(
                (
                    found[0].name.as_str(),
                    found[0].rename,
                    found[0].columns.as_ref()
                ),
                ("consent", Some(0), None)
            );
        }
    }

    /// authelia's other spelling: copied into a backup table, the original dropped and
    /// created anew, the rows copied back and the backup dropped. Only the columns both
    /// copies carry survive.
    #[test]
    fn rows_copied_through_a_backup_table_and_back() {
        let sql = "CREATE TABLE _bkp_session (id INTEGER PRIMARY KEY, subject TEXT, form TEXT);\n\
            INSERT INTO _bkp_session (id, subject, form) SELECT id, subject, form FROM session ORDER BY id;\n\
            DROP TABLE IF EXISTS session;\n\
            CREATE TABLE session (id INTEGER PRIMARY KEY, subject TEXT);\n\
            INSERT INTO session (id, subject) SELECT id, subject FROM _bkp_session ORDER BY id;\n\
            DROP TABLE IF EXISTS _bkp_session;\n";
        let found = rebuilds_in(sql, Dialect::Sqlite);
        assert_eq!(
            found,
            vec![Rebuild {
                dropped: "session".into(),
                drop: 2,
                into: "_bkp_session".into(),
                copy: 1,
                survivor: "session".into(),
                rename: None,
                name: "session".into(),
                columns: Some(vec!["id".into(), "subject".into()]),
            }]
        );
        // The backup dropped before its rows were copied back: they are gone.
        let lost = "CREATE TABLE _bkp_session (id INTEGER PRIMARY KEY);\n\
            INSERT INTO _bkp_session (id) SELECT id FROM session;\n\
            DROP TABLE session;\n\
            CREATE TABLE session (id INTEGER PRIMARY KEY);\n\
            DROP TABLE _bkp_session;\n";
        assert_eq!(rebuilds_in(lost, Dialect::Sqlite), vec![]);
    }

    /// Each way the rows or the name could be lost keeps the drop a drop.
    #[test]
    fn a_copy_that_can_lose_rows_or_the_name_is_not_a_rebuild() {
        let cases = [
            // Rows filtered out by the copy.
            r#"CREATE TABLE "new_job" ("id" BLOB);
INSERT INTO "new_job" ("id") SELECT "id" FROM "job" WHERE "id" IS NOT NULL;
DROP TABLE "job";
ALTER TABLE "new_job" RENAME TO "job";"#,
            // Rows skipped on conflict.
            r#"CREATE TABLE "new_job" ("id" BLOB UNIQUE);
INSERT OR IGNORE INTO "new_job" ("id") SELECT "id" FROM "job";
DROP TABLE "job";
ALTER TABLE "new_job" RENAME TO "job";"#,
            // Rows written to the old table after the copy.
            r#"CREATE TABLE "new_job" ("id" BLOB);
INSERT INTO "new_job" ("id") SELECT "id" FROM "job";
INSERT INTO "job" ("id") VALUES (x'01');
DROP TABLE "job";
ALTER TABLE "new_job" RENAME TO "job";"#,
            // Copied into a table that already existed: an archive, not a rebuild, and
            // code that queries `job` breaks.
            r#"INSERT INTO "job_archive" ("id") SELECT "id" FROM "job";
DROP TABLE "job";"#,
            // The copy is dropped again.
            r#"CREATE TABLE "new_job" ("id" BLOB);
INSERT INTO "new_job" ("id") SELECT "id" FROM "job";
DROP TABLE "job";
DROP TABLE "new_job";"#,
            // The new table never takes the old name.
            r#"CREATE TABLE "new_job" ("id" BLOB);
INSERT INTO "new_job" ("id") SELECT "id" FROM "job";
DROP TABLE "job";
ALTER TABLE "new_job" RENAME TO "jobs";"#,
            // Copied from a join: rows without a partner stay behind.
            r#"CREATE TABLE "new_job" ("id" BLOB);
INSERT INTO "new_job" ("id") SELECT "job"."id" FROM "job" JOIN "node" ON "node"."id" = "job"."node_id";
DROP TABLE "job";
ALTER TABLE "new_job" RENAME TO "job";"#,
        ];
        for sql in cases {
            assert_eq!(rebuilds_in(sql, Dialect::Sqlite), vec![], "{sql}");
        }
    }

    /// On PostgreSQL a quoted name is exact: `"Job"` copied is not `job` dropped.
    #[test]
    fn names_follow_the_dialect() {
        let sql = r#"CREATE TABLE "new_Job" ("id" int);
INSERT INTO "new_Job" ("id") SELECT "id" FROM "Job";
DROP TABLE job;
ALTER TABLE "new_Job" RENAME TO job;"#;
        assert_eq!(rebuilds_in(sql, Dialect::Postgres), vec![]);
        assert_eq!(rebuilds_in(sql, Dialect::Sqlite).len(), 1);
    }
}
