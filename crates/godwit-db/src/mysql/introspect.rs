//! MySQL and MariaDB's schema from information_schema, for `DATABASE()`.
//!
//! MySQL has no separate unique constraints (a `UNIQUE` constraint is a unique index), so
//! they are reported as indexes; the primary key, foreign keys and checks are constraints.

use std::collections::BTreeMap;

use godwit_core::schema::{
    Column, Constraint, ConstraintKind, Definitions, Index, Reference, Schema, Table,
    is_bookkeeping_table, squash_whitespace,
};

use crate::error::DbError;
use crate::introspect::{Rows, trim_lines};
use crate::traits::Session;

pub(crate) async fn introspect(driver: &mut dyn Session, mariadb: bool) -> Result<Schema, DbError> {
    let mut schema = Schema::default();
    let database = Rows::read(driver, "current database", "SELECT DATABASE()")
        .await?
        .iter()
        .next()
        .map(|r| r.text(0))
        .unwrap_or_default();
    // View definitions and some expressions name the database; the shadow's name differs.
    let qualifier = format!("`{}`.", database.replace('`', "``"));
    let unqualify = |text: &str| text.replace(&qualifier, "");

    let tables = Rows::read(
        driver,
        "tables",
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?;
    for row in tables.iter() {
        let name = row.text(0);
        match row.text(1).as_str() {
            "VIEW" | "SYSTEM VIEW" => {}
            "SEQUENCE" => {
                schema.sequences.insert(name, "SEQUENCE".into());
            }
            _ if is_bookkeeping_table(&name) => {}
            _ => {
                schema.tables.insert(name, Table::default());
            }
        }
    }

    let columns = Rows::read(
        driver,
        "columns",
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), \
         CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_DEFAULT AS CHAR), CAST(EXTRA AS CHAR), CAST(GENERATION_EXPRESSION AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?;
    for row in columns.iter() {
        let Some(table) = schema.tables.get_mut(&row.text(0)) else {
            continue;
        };
        // MariaDB spells "no default" as the text NULL; MySQL as SQL NULL.
        let default = row.opt(4).filter(|d| d != "NULL");
        let mut extra: Vec<String> = row
            .text(5)
            .split_whitespace()
            .filter(|w| !w.eq_ignore_ascii_case("DEFAULT_GENERATED"))
            .map(str::to_string)
            .collect();
        let expression = row.opt(6).filter(|e| !e.is_empty());
        if let Some(expression) = &expression {
            extra.retain(|w| !w.eq_ignore_ascii_case("GENERATED"));
            let storage = extra
                .iter()
                .position(|w| {
                    w.eq_ignore_ascii_case("VIRTUAL")
                        || w.eq_ignore_ascii_case("STORED")
                        || w.eq_ignore_ascii_case("PERSISTENT")
                })
                .map(|i| extra.remove(i).to_uppercase())
                .unwrap_or_default();
            extra.insert(
                0,
                format!(
                    "GENERATED ALWAYS AS ({}) {storage}",
                    squash_whitespace(&unqualify(expression))
                )
                .trim_end()
                .to_string(),
            );
        }
        let generated = (!extra.is_empty()).then(|| extra.join(" "));
        table.columns.insert(
            row.text(1),
            Column {
                data_type: normalize_type(&row.text(2)),
                nullable: row.text(3) == "YES",
                default: if expression.is_some() { None } else { default },
                generated,
            },
        );
    }

    // MySQL 8 reports functional index parts in EXPRESSION; MariaDB has no such column.
    let expression = if mariadb {
        "NULL"
    } else {
        "CAST(EXPRESSION AS CHAR)"
    };
    let statistics = Rows::read(
        driver,
        "indexes",
        &format!(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), CAST(NON_UNIQUE AS CHAR), CAST(COLUMN_NAME AS CHAR), \
             CAST(SUB_PART AS CHAR), CAST(COLLATION AS CHAR), CAST(INDEX_TYPE AS CHAR), {expression} \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ),
    )
    .await?;
    for row in statistics.iter() {
        let Some(table) = schema.tables.get_mut(&row.text(0)) else {
            continue;
        };
        let mut part = match row.opt(7).filter(|e| !e.is_empty()) {
            Some(e) => format!("({})", unqualify(&e)),
            None => row.text(3),
        };
        if let Some(prefix) = row.opt(4) {
            part.push_str(&format!("({prefix})"));
        }
        if row.text(5) == "D" {
            part.push_str(" DESC");
        }
        let method = row.text(6);
        let index = table.indexes.entry(row.text(1)).or_insert_with(|| Index {
            columns: Vec::new(),
            unique: row.text(2) == "0",
            predicate: None,
            method: (method != "BTREE").then_some(method),
        });
        index.columns.push(part);
    }

    let kinds = Rows::read(
        driver,
        "constraints",
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONSTRAINT_NAME AS CHAR), CAST(CONSTRAINT_TYPE AS CHAR) \
         FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
         AND CONSTRAINT_TYPE IN ('PRIMARY KEY', 'FOREIGN KEY')",
    )
    .await?;
    let key_columns = Rows::read(
        driver,
        "key columns",
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONSTRAINT_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
         CAST(REFERENCED_TABLE_SCHEMA AS CHAR), CAST(REFERENCED_TABLE_NAME AS CHAR), CAST(REFERENCED_COLUMN_NAME AS CHAR) \
         FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
    )
    .await?;
    let rules = Rows::read(
        driver,
        "foreign key actions",
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONSTRAINT_NAME AS CHAR), CAST(UPDATE_RULE AS CHAR), CAST(DELETE_RULE AS CHAR) \
         FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
    )
    .await?;
    let rules: BTreeMap<(String, String), (String, String)> = rules
        .iter()
        .map(|r| {
            (
                (r.text(0), r.text(1)),
                (r.text(2).to_lowercase(), r.text(3).to_lowercase()),
            )
        })
        .collect();
    for row in kinds.iter() {
        let (table_name, name) = (row.text(0), row.text(1));
        let Some(table) = schema.tables.get_mut(&table_name) else {
            continue;
        };
        let foreign = row.text(2) == "FOREIGN KEY";
        let parts: Vec<_> = key_columns
            .iter()
            .filter(|k| k.text(0) == table_name && k.text(1) == name)
            .collect();
        let references = foreign.then(|| {
            let (on_update, on_delete) = rules
                .get(&(table_name.clone(), name.clone()))
                .cloned()
                .unwrap_or_else(|| ("no action".into(), "no action".into()));
            let target = parts.first().map(|p| (p.text(3), p.text(4)));
            Reference {
                table: match target {
                    Some((db, t)) if db == database || db.is_empty() => t,
                    Some((db, t)) => format!("{db}.{t}"),
                    None => String::new(),
                },
                columns: parts.iter().map(|p| p.text(5)).collect(),
                on_update,
                on_delete,
            }
        });
        table.constraints.insert(
            name,
            Constraint {
                kind: if foreign {
                    ConstraintKind::ForeignKey
                } else {
                    ConstraintKind::PrimaryKey
                },
                columns: parts.iter().map(|p| p.text(2)).collect(),
                references,
                expression: None,
            },
        );
    }

    // MariaDB names a column-level check after its column, so check names repeat across
    // tables there and CHECK_CONSTRAINTS carries the table; MySQL's needs the join.
    let checks_sql = if mariadb {
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONSTRAINT_NAME AS CHAR), CAST(CHECK_CLAUSE AS CHAR) \
         FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"
    } else {
        "SELECT CAST(tc.TABLE_NAME AS CHAR), CAST(cc.CONSTRAINT_NAME AS CHAR), CAST(cc.CHECK_CLAUSE AS CHAR) \
         FROM information_schema.CHECK_CONSTRAINTS cc JOIN information_schema.TABLE_CONSTRAINTS tc \
         ON tc.CONSTRAINT_SCHEMA = cc.CONSTRAINT_SCHEMA AND tc.CONSTRAINT_NAME = cc.CONSTRAINT_NAME AND tc.CONSTRAINT_TYPE = 'CHECK' \
         WHERE cc.CONSTRAINT_SCHEMA = DATABASE()"
    };
    for row in Rows::read(driver, "checks", checks_sql).await?.iter() {
        if let Some(table) = schema.tables.get_mut(&row.text(0)) {
            table.constraints.insert(
                row.text(1),
                Constraint {
                    kind: ConstraintKind::Check,
                    columns: Vec::new(),
                    references: None,
                    expression: Some(squash_whitespace(&unqualify(&row.text(2)))),
                },
            );
        }
    }

    let views = Rows::read(
        driver,
        "views",
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(VIEW_DEFINITION AS CHAR) FROM information_schema.VIEWS \
         WHERE TABLE_SCHEMA = DATABASE()",
    )
    .await?;
    for row in views.iter() {
        schema
            .views
            .insert(row.text(0), squash_whitespace(&unqualify(&row.text(1))));
    }

    let routines = Rows::read(
        driver,
        "routines",
        "SELECT CAST(ROUTINE_NAME AS CHAR), CAST(ROUTINE_TYPE AS CHAR), CAST(DTD_IDENTIFIER AS CHAR), \
         CAST(ROUTINE_DEFINITION AS CHAR) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
    )
    .await?;
    for row in routines.iter() {
        let mut what = row.text(1).to_lowercase();
        if let Some(returns) = row.opt(2).filter(|r| !r.is_empty()) {
            what.push_str(&format!(" returning {returns}"));
        }
        // The body as written, so that a routine replaced by hand shows as a line diff.
        if let Some(body) = row.opt(3).filter(|b| !b.trim().is_empty()) {
            what.push('\n');
            what.push_str(&unqualify(&body));
        }
        let what = trim_lines(&what);
        schema.routines.insert(row.text(0), what);
    }

    let triggers = Rows::read(
        driver,
        "triggers",
        "SELECT CAST(TRIGGER_NAME AS CHAR), CAST(EVENT_OBJECT_TABLE AS CHAR), CAST(ACTION_TIMING AS CHAR), \
         CAST(EVENT_MANIPULATION AS CHAR), CAST(LEFT(MD5(ACTION_STATEMENT), 12) AS CHAR) \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
    )
    .await?;
    for row in triggers.iter() {
        schema.triggers.insert(
            format!("{} on {}", row.text(0), row.text(1)),
            format!(
                "{} {} ON {}, body md5 {}",
                row.text(2),
                row.text(3),
                row.text(1),
                row.text(4)
            ),
        );
    }
    Ok(schema)
}

/// Whole `CREATE` statements for routines, triggers and (MariaDB) sequences, which the
/// model keeps as a summary; the `DEFINER` clause is left out so that the statement
/// creates the object for whoever runs it.
pub(crate) async fn definitions(
    driver: &mut dyn Session,
    mariadb: bool,
) -> Result<Definitions, DbError> {
    let mut definitions = Definitions::default();
    let routines = Rows::read(
        driver,
        "routine names",
        "SELECT CAST(ROUTINE_NAME AS CHAR), CAST(ROUTINE_TYPE AS CHAR) FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE()",
    )
    .await?;
    for row in routines.iter() {
        let (name, kind) = (row.text(0), row.text(1));
        let kind = if kind == "PROCEDURE" {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        let shown = Rows::read(
            driver,
            "routine definition",
            &format!("SHOW CREATE {kind} {}", backtick(&name)),
        )
        .await?;
        // Name, sql_mode, then the statement (NULL without the privilege to see it).
        let text = shown.iter().next().and_then(|r| r.opt(2));
        definitions
            .routines
            .insert(name, text.map(|t| without_definer(&t)));
    }
    let triggers = Rows::read(
        driver,
        "trigger definitions",
        "SELECT CAST(TRIGGER_NAME AS CHAR), CAST(EVENT_OBJECT_TABLE AS CHAR), CAST(ACTION_TIMING AS CHAR), \
         CAST(EVENT_MANIPULATION AS CHAR), CAST(ACTION_ORIENTATION AS CHAR), CAST(ACTION_STATEMENT AS CHAR) \
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
    )
    .await?;
    for row in triggers.iter() {
        definitions.triggers.insert(
            format!("{} on {}", row.text(0), row.text(1)),
            format!(
                "CREATE TRIGGER {} {} {} ON {} FOR EACH {} {}",
                backtick(&row.text(0)),
                row.text(2),
                row.text(3),
                backtick(&row.text(1)),
                row.text(4),
                row.text(5)
            ),
        );
    }
    if mariadb {
        let sequences = Rows::read(
            driver,
            "sequence names",
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'SEQUENCE'",
        )
        .await?;
        for row in sequences.iter() {
            let name = row.text(0);
            let shown = Rows::read(
                driver,
                "sequence definition",
                &format!("SHOW CREATE SEQUENCE {}", backtick(&name)),
            )
            .await?;
            if let Some(text) = shown.iter().next().and_then(|r| r.opt(1)) {
                definitions.sequences.insert(name, text);
            }
        }
    }
    Ok(definitions)
}

fn backtick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `CREATE DEFINER=`root`@`%` FUNCTION …` → `CREATE FUNCTION …`.
fn without_definer(text: &str) -> String {
    let Some(rest) = text.strip_prefix("CREATE DEFINER=") else {
        return text.to_string();
    };
    // The definer is `user`@`host`, each part quoted with backticks.
    let mut quoted = false;
    for (i, c) in rest.char_indices() {
        match c {
            '`' => quoted = !quoted,
            ' ' if !quoted => return format!("CREATE{}", &rest[i..]),
            _ => {}
        }
    }
    text.to_string()
}

/// Lowercase, without integer display widths: MySQL 8.0.19 stopped showing them and
/// MariaDB still does, and they never changed what a column stores. `tinyint(1)` keeps
/// its width because both servers use it to mean boolean.
pub(crate) fn normalize_type(text: &str) -> String {
    let lower = text.trim().to_lowercase();
    for kind in ["tinyint", "smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = lower.strip_prefix(kind)
            && let Some(inner) = rest.strip_prefix('(')
            && let Some(close) = inner.find(')')
            && inner[..close].bytes().all(|b| b.is_ascii_digit())
        {
            if kind == "tinyint" && &inner[..close] == "1" {
                return lower;
            }
            return format!("{kind}{}", &inner[close + 1..]);
        }
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_widths_are_dropped() {
        assert_eq!(normalize_type("int(11)"), "int");
        assert_eq!(normalize_type("bigint(20) unsigned"), "bigint unsigned");
        assert_eq!(normalize_type("INT"), "int");
        assert_eq!(normalize_type("tinyint(1)"), "tinyint(1)");
        assert_eq!(normalize_type("tinyint(4)"), "tinyint");
        assert_eq!(normalize_type("varchar(255)"), "varchar(255)");
        assert_eq!(normalize_type("decimal(10,2)"), "decimal(10,2)");
        assert_eq!(normalize_type("enum('a','b')"), "enum('a','b')");
    }

    #[test]
    fn the_definer_is_left_out() {
        assert_eq!(
            without_definer(
                "CREATE DEFINER=`root`@`local host` FUNCTION `f`() RETURNS int RETURN 1"
            ),
            "CREATE FUNCTION `f`() RETURNS int RETURN 1"
        );
        assert_eq!(
            without_definer("CREATE FUNCTION f() RETURN 1"),
            "CREATE FUNCTION f() RETURN 1"
        );
    }
}
