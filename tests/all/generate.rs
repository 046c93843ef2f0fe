//! `godwit diff NAME` (issue 14): migrations generated from the declared schema.
//!
//! The property test draws a schema A and a schema B from a seed (tables, columns of each
//! dialect's types, nullability, defaults, checks, indexes, foreign keys, views, and
//! renames hinted with `-- godwit:renamed-from`), deploys A with rows in every table,
//! declares B, and runs `godwit diff`. Then: the files pass `godwit lint`; deploying them
//! makes the database pull as B does; `godwit down` makes it pull as A did; the rows of
//! renamed tables and columns are still there. A failure names its seed; replay it with
//! `GODWIT_DIFF_SEED=N`, or run more with `GODWIT_DIFF_CASES=N`.

use crate::each_dialect;
use crate::schema::{diff_answering_renames, migration_dirs, pulled, pulled_again, strip_header};
use crate::support::*;

/// splitmix64: small, and the same sequence for a seed everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Debug)]
struct Col {
    name: String,
    ty: &'static str,
    nullable: bool,
    default: Option<String>,
    /// Added in B: its rows hold the default, so no unique index on it.
    fresh: bool,
    /// References this table's `id` (always nullable, NULL in every row).
    references: Option<String>,
}

#[derive(Clone, Debug)]
struct Tab {
    name: String,
    cols: Vec<Col>,
    /// name, column, unique
    indexes: Vec<(String, String, bool)>,
    /// name, integer column: `CHECK (col >= 0)`
    checks: Vec<(String, String)>,
    /// The name it had in A (a rename hint), if renamed.
    renamed_from: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct Model {
    tables: Vec<Tab>,
    /// name, table, column
    views: Vec<(String, String, String)>,
    /// Column renames: (table in B, new column, old column).
    column_renames: Vec<(String, String, String)>,
}

fn types(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::Postgres => &[
            "integer",
            "bigint",
            "text",
            "varchar(40)",
            "boolean",
            "date",
        ],
        Dialect::MySql => &["int", "bigint", "varchar(40)", "date"],
        Dialect::Sqlite => &["integer", "text", "real", "varchar(40)"],
    }
}

fn is_integer(ty: &str) -> bool {
    matches!(ty, "integer" | "int" | "bigint")
}

fn id_type(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => "bigint",
        _ => "integer",
    }
}

fn default_for(ty: &str) -> String {
    match ty {
        "boolean" => "true".into(),
        "date" => "'2020-01-01'".into(),
        "real" => "1.5".into(),
        t if is_integer(t) => "7".into(),
        _ => "'d'".into(),
    }
}

fn value_for(ty: &str, row: usize) -> String {
    match ty {
        "boolean" => "true".into(),
        "date" => format!("'2020-01-0{}'", row + 1),
        "real" => format!("{row}.5"),
        t if is_integer(t) => format!("{}", row + 1),
        _ => format!("'v{row}'"),
    }
}

impl Model {
    fn random(rng: &mut Rng, dialect: Dialect, counter: &mut usize) -> Model {
        let mut model = Model::default();
        for _ in 0..2 + rng.below(3) {
            let table = new_table(rng, dialect, counter, &model);
            model.tables.push(table);
        }
        if rng.chance(60) {
            add_view(rng, &mut model, counter);
        }
        model
    }

    fn table(&mut self, name: &str) -> &mut Tab {
        self.tables.iter_mut().find(|t| t.name == name).unwrap()
    }

    /// A changed copy: one to four mutations.
    fn mutate(&self, rng: &mut Rng, dialect: Dialect, counter: &mut usize) -> Model {
        let mut b = self.clone();
        for t in &mut b.tables {
            t.renamed_from = None;
            for c in &mut t.cols {
                c.fresh = false;
            }
        }
        b.column_renames.clear();
        for _ in 0..1 + rng.below(4) {
            let ti = rng.below(b.tables.len());
            let table_name = b.tables[ti].name.clone();
            match rng.below(14) {
                0 => {
                    let t = new_table(rng, dialect, counter, &b);
                    b.tables.push(t);
                }
                1 if b.tables.len() > 1 => {
                    // Drop a table, and what refers to it.
                    b.tables.remove(ti);
                    b.views.retain(|(_, t, _)| *t != table_name);
                    for t in &mut b.tables {
                        t.cols
                            .retain(|c| c.references.as_deref() != Some(&table_name));
                        let cols: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
                        t.indexes.retain(|(_, c, _)| cols.contains(c));
                        t.checks.retain(|(_, c)| cols.contains(c));
                    }
                }
                2 if b.tables[ti].renamed_from.is_none() => {
                    *counter += 1;
                    let new = format!("t{counter}");
                    for t in &mut b.tables {
                        for c in &mut t.cols {
                            if c.references.as_deref() == Some(&table_name) {
                                c.references = Some(new.clone());
                            }
                        }
                    }
                    for v in &mut b.views {
                        if v.1 == table_name {
                            v.1 = new.clone();
                        }
                    }
                    let t = b.table(&table_name);
                    t.renamed_from = Some(table_name.clone());
                    t.name = new;
                }
                3 => {
                    *counter += 1;
                    let ty = types(dialect)[rng.below(types(dialect).len())];
                    let nullable = rng.chance(50);
                    let col = Col {
                        name: format!("c{counter}"),
                        ty,
                        nullable,
                        default: (!nullable || rng.chance(30)).then(|| default_for(ty)),
                        fresh: true,
                        references: None,
                    };
                    b.tables[ti].cols.push(col);
                }
                4 => {
                    let t = &mut b.tables[ti];
                    // A dropped column comes back empty in down: no unique index on it
                    // could be made again.
                    if let Some(at) = pick_plain_column(rng, t)
                        && !t
                            .indexes
                            .iter()
                            .any(|(_, c, u)| *u && *c == t.cols[at].name)
                    {
                        let name = t.cols.remove(at).name;
                        t.indexes.retain(|(_, c, _)| *c != name);
                        t.checks.retain(|(_, c)| *c != name);
                        b.views
                            .retain(|(_, vt, vc)| !(*vt == table_name && *vc == name));
                    }
                }
                5 if b.tables[ti].renamed_from.is_none() => {
                    let t = &mut b.tables[ti];
                    if let Some(at) = pick_plain_column(rng, t)
                        && !b
                            .column_renames
                            .iter()
                            .any(|(tt, n, _)| *tt == table_name && *n == t.cols[at].name)
                    {
                        *counter += 1;
                        let old = t.cols[at].name.clone();
                        let new = format!("c{counter}");
                        t.cols[at].name = new.clone();
                        for (_, c, _) in &mut t.indexes {
                            if *c == old {
                                *c = new.clone();
                            }
                        }
                        for (_, c) in &mut t.checks {
                            if *c == old {
                                *c = new.clone();
                            }
                        }
                        for v in &mut b.views {
                            if v.1 == table_name && v.2 == old {
                                v.2 = new.clone();
                            }
                        }
                        b.column_renames.push((table_name.clone(), new, old));
                    }
                }
                6 => {
                    let t = &mut b.tables[ti];
                    if let Some(at) = pick_plain_column(rng, t) {
                        t.cols[at].nullable = !t.cols[at].nullable;
                    }
                }
                7 => {
                    // A type change: wider, and now and then narrower (destructive).
                    let t = &mut b.tables[ti];
                    if let Some(at) = pick_plain_column(rng, t) {
                        let col = &mut t.cols[at];
                        let to = match col.ty {
                            "integer" | "int" if dialect != Dialect::Sqlite => Some("bigint"),
                            "varchar(40)" => Some("varchar(80)"),
                            "varchar(80)" => Some("varchar(40)"),
                            _ => None,
                        };
                        if let Some(to) = to {
                            let checked = t.checks.iter().any(|(_, c)| *c == col.name);
                            if !checked || is_integer(to) {
                                col.ty = to;
                                if let Some(d) = &col.default {
                                    col.default = Some(if is_integer(to) {
                                        d.clone()
                                    } else {
                                        default_for(to)
                                    });
                                }
                            }
                        }
                    }
                }
                8 => {
                    let t = &mut b.tables[ti];
                    if let Some(at) = pick_plain_column(rng, t) {
                        let col = &t.cols[at];
                        let indexable = dialect != Dialect::MySql || col.ty != "text";
                        if indexable {
                            *counter += 1;
                            let unique = !col.fresh && col.ty != "boolean" && rng.chance(40);
                            let name = format!("i{counter}");
                            let col = col.name.clone();
                            t.indexes.push((name, col, unique));
                        }
                    }
                }
                9 if !b.tables[ti].indexes.is_empty() => {
                    let t = &mut b.tables[ti];
                    let at = rng.below(t.indexes.len());
                    t.indexes.remove(at);
                }
                10 => {
                    let t = &mut b.tables[ti];
                    let ints: Vec<String> = t
                        .cols
                        .iter()
                        .filter(|c| is_integer(c.ty) && c.references.is_none() && c.name != "id")
                        .map(|c| c.name.clone())
                        .collect();
                    if !ints.is_empty() && rng.chance(50) {
                        *counter += 1;
                        let col = ints[rng.below(ints.len())].clone();
                        t.checks.push((format!("k{counter}"), col));
                    } else if !t.checks.is_empty() {
                        let at = rng.below(t.checks.len());
                        t.checks.remove(at);
                    }
                }
                11 => {
                    let target = b.tables[rng.below(b.tables.len())].name.clone();
                    *counter += 1;
                    let col = Col {
                        name: format!("r{counter}"),
                        ty: id_type(dialect),
                        nullable: true,
                        default: None,
                        fresh: true,
                        references: Some(target),
                    };
                    b.tables[ti].cols.push(col);
                }
                12 => {
                    if !b.views.is_empty() && rng.chance(50) {
                        let at = rng.below(b.views.len());
                        b.views.remove(at);
                    } else {
                        add_view(rng, &mut b, counter);
                    }
                }
                13 => {
                    let t = &mut b.tables[ti];
                    if let Some(at) = pick_plain_column(rng, t) {
                        let col = &mut t.cols[at];
                        if col.nullable {
                            col.default = match col.default {
                                Some(_) => None,
                                None => Some(default_for(col.ty)),
                            };
                        }
                    }
                }
                _ => {}
            }
        }
        b
    }

    fn ddl(&self, dialect: Dialect) -> String {
        let q = |name: &str| match dialect {
            Dialect::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        };
        let mut out = String::new();
        let mut foreign = String::new();
        for t in &self.tables {
            if let Some(old) = &t.renamed_from {
                out.push_str(&format!("-- godwit:renamed-from {old}\n"));
            }
            out.push_str(&format!("CREATE TABLE {} (\n", q(&t.name)));
            let mut lines = Vec::new();
            for c in &t.cols {
                let mut line = format!("    {} {}", q(&c.name), c.ty);
                if let Some(d) = &c.default {
                    line.push_str(&format!(" DEFAULT {d}"));
                }
                if !c.nullable {
                    line.push_str(" NOT NULL");
                }
                let hint = self
                    .column_renames
                    .iter()
                    .find(|(tt, n, _)| *tt == t.name && *n == c.name)
                    .map(|(_, _, old)| format!(" -- godwit:renamed-from {old}"));
                lines.push((line, hint));
            }
            lines.push((
                format!(
                    "    CONSTRAINT {} PRIMARY KEY ({})",
                    q(&format!("{}_pkey", t.name)),
                    q("id")
                ),
                None,
            ));
            for (name, col) in &t.checks {
                lines.push((
                    format!("    CONSTRAINT {} CHECK ({} >= 0)", q(name), q(col)),
                    None,
                ));
            }
            for c in &t.cols {
                let Some(target) = &c.references else {
                    continue;
                };
                let name = format!("{}_{}_fk", t.name, c.name);
                let element = format!(
                    "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
                    q(&name),
                    q(&c.name),
                    q(target),
                    q("id")
                );
                if dialect == Dialect::Sqlite {
                    lines.push((format!("    {element}"), None));
                } else {
                    foreign.push_str(&format!("ALTER TABLE {} ADD {element};\n", q(&t.name)));
                }
            }
            let count = lines.len();
            for (i, (line, hint)) in lines.into_iter().enumerate() {
                out.push_str(&line);
                if i + 1 < count {
                    out.push(',');
                }
                if let Some(hint) = hint {
                    out.push_str(&hint);
                }
                out.push('\n');
            }
            out.push_str(");\n");
            for (name, col, unique) in &t.indexes {
                out.push_str(&format!(
                    "CREATE {}INDEX {} ON {} ({});\n",
                    if *unique { "UNIQUE " } else { "" },
                    q(name),
                    q(&t.name),
                    q(col)
                ));
            }
        }
        out.push_str(&foreign);
        for (name, table, col) in &self.views {
            out.push_str(&format!(
                "CREATE VIEW {} AS SELECT {} FROM {};\n",
                q(name),
                q(col),
                q(table)
            ));
        }
        out
    }

    /// Three rows in every table, every column holding a value (foreign keys NULL).
    fn rows(&self, dialect: Dialect) -> Vec<String> {
        let q = |name: &str| match dialect {
            Dialect::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        };
        let mut out = Vec::new();
        for t in &self.tables {
            for row in 0..3 {
                let names: Vec<String> = t.cols.iter().map(|c| q(&c.name)).collect();
                let values: Vec<String> = t
                    .cols
                    .iter()
                    .map(|c| {
                        if c.references.is_some() {
                            "NULL".into()
                        } else {
                            value_for(c.ty, row)
                        }
                    })
                    .collect();
                out.push(format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    q(&t.name),
                    names.join(", "),
                    values.join(", ")
                ));
            }
        }
        out
    }
}

/// A column that is neither the key nor a reference.
fn pick_plain_column(rng: &mut Rng, t: &Tab) -> Option<usize> {
    let plain: Vec<usize> = (0..t.cols.len())
        .filter(|&i| t.cols[i].name != "id" && t.cols[i].references.is_none())
        .collect();
    (!plain.is_empty()).then(|| plain[rng.below(plain.len())])
}

fn new_table(rng: &mut Rng, dialect: Dialect, counter: &mut usize, model: &Model) -> Tab {
    *counter += 1;
    let name = format!("t{counter}");
    let mut cols = vec![Col {
        name: "id".into(),
        ty: id_type(dialect),
        nullable: false,
        default: None,
        fresh: false,
        references: None,
    }];
    for _ in 0..1 + rng.below(3) {
        *counter += 1;
        let ty = types(dialect)[rng.below(types(dialect).len())];
        let nullable = rng.chance(60);
        cols.push(Col {
            name: format!("c{counter}"),
            ty,
            nullable,
            default: rng.chance(30).then(|| default_for(ty)),
            fresh: false,
            references: None,
        });
    }
    if !model.tables.is_empty() && rng.chance(50) {
        *counter += 1;
        cols.push(Col {
            name: format!("r{counter}"),
            ty: id_type(dialect),
            nullable: true,
            default: None,
            fresh: false,
            references: Some(model.tables[rng.below(model.tables.len())].name.clone()),
        });
    }
    let mut indexes = Vec::new();
    let mut checks = Vec::new();
    for c in &cols[1..] {
        if c.references.is_some() {
            continue;
        }
        if rng.chance(30) && (dialect != Dialect::MySql || c.ty != "text") {
            *counter += 1;
            let unique = c.ty != "boolean" && rng.chance(30);
            indexes.push((format!("i{counter}"), c.name.clone(), unique));
        }
        if is_integer(c.ty) && rng.chance(30) {
            *counter += 1;
            checks.push((format!("k{counter}"), c.name.clone()));
        }
    }
    Tab {
        name,
        cols,
        indexes,
        checks,
        renamed_from: None,
    }
}

fn add_view(rng: &mut Rng, model: &mut Model, counter: &mut usize) {
    let t = &model.tables[rng.below(model.tables.len())];
    let c = &t.cols[rng.below(t.cols.len())];
    *counter += 1;
    model
        .views
        .push((format!("v{counter}"), t.name.clone(), c.name.clone()));
}

fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("GODWIT_DIFF_SEED") {
        return vec![seed.parse().expect("GODWIT_DIFF_SEED is a number")];
    }
    let cases: u64 = std::env::var("GODWIT_DIFF_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6);
    (1..=cases).collect()
}

each_dialect!(generated_migrations_turn_a_into_b_and_back);

fn generated_migrations_turn_a_into_b_and_back(dialect: Dialect) {
    for seed in seeds() {
        let outcome = std::panic::catch_unwind(|| one_case(dialect, seed));
        if let Err(e) = outcome {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("seed {seed} failed (replay with GODWIT_DIFF_SEED={seed}): {message}");
        }
    }
}

fn one_case(dialect: Dialect, seed: u64) {
    let mut rng = Rng(seed * 7919 + dialect as u64);
    let mut counter = 0;
    let a = Model::random(&mut rng, dialect, &mut counter);
    let b = a.mutate(&mut rng, dialect, &mut counter);
    let (ddl_a, ddl_b) = (a.ddl(dialect), b.ddl(dialect));
    let context = format!("seed {seed}\n--- A\n{ddl_a}--- B\n{ddl_b}");

    let p = Project::empty(dialect);
    p.write("20260101000000_schema_a/up.sql", &ddl_a);
    p.godwit(&["deploy"]).expect(0);
    for insert in a.rows(dialect) {
        admin(&p.db.url, &insert);
    }
    let pulled_a = pulled(&p);
    std::fs::write(p.path().join("schema.sql"), &ddl_b).unwrap();
    std::fs::write(p.path().join("godwit.toml"), "schema = \"schema.sql\"\n").unwrap();
    p.backups_off_where_pg_dump_cannot();

    let before = migration_dirs(&p);
    // A drop beside an add of the same shape, unhinted: the user says it is no rename.
    let out = diff_answering_renames(&p, "change_schema");
    assert_eq!(out.code, 0, "{context}\n{}", out.text());
    let written = migration_dirs(&p).len() - before.len();
    if written == 0 {
        assert!(
            out.text().contains("Nothing to do"),
            "{context}\n{}",
            out.text()
        );
        return;
    }
    let lint = p.godwit(&["lint"]);
    assert_eq!(lint.code, 0, "lint: {context}\n{}", lint.text());

    let deploy = p.godwit(&["deploy"]);
    assert_eq!(deploy.code, 0, "deploy: {context}\n{}", deploy.text());
    let pulled_b = pulled(&p);
    // Built as a migration, where a `-- godwit:` line after a statement is refused.
    let plain_b: String = ddl_b
        .lines()
        .filter(|l| !l.starts_with("-- godwit:renamed-from"))
        .map(|l| format!("{}\n", l.split(" -- godwit:").next().unwrap_or(l)))
        .collect();
    let expected_b = pulled_again(dialect, &plain_b, "");
    assert_eq!(
        strip_header(&pulled_b),
        strip_header(&expected_b),
        "after up: {context}"
    );
    // Renamed tables and columns kept their rows and values.
    for t in &b.tables {
        let Some(_) = a
            .tables
            .iter()
            .find(|at| Some(&at.name) == t.renamed_from.as_ref())
        else {
            continue;
        };
        let q = |n: &str| quoted(dialect, n);
        let n = admin_count(&p.db.url, &format!("SELECT count(*) FROM {}", q(&t.name)));
        assert_eq!(n, 3, "rows of renamed table {}: {context}", t.name);
    }
    for (table, new, _) in &b.column_renames {
        let q = |n: &str| quoted(dialect, n);
        let n = admin_count(
            &p.db.url,
            &format!("SELECT count({}) FROM {}", q(new), q(table)),
        );
        assert_eq!(n, 3, "values of renamed column {table}.{new}: {context}");
    }

    let steps = written.to_string();
    let down = p.godwit(&["down", "--steps", &steps]);
    assert_eq!(down.code, 0, "down: {context}\n{}", down.text());
    assert_eq!(
        strip_header(&pulled(&p)),
        strip_header(&pulled_a),
        "after down: {context}"
    );
}

fn quoted(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

fn admin_count(url: &str, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
        let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
        row.try_get::<i64, _>(0)
            .or_else(|_| row.try_get::<i32, _>(0).map(i64::from))
            .unwrap()
    })
}

/// A project whose migrations build `a` and whose declared schema is `b`.
fn project(dialect: Dialect, a: &str, b: &str) -> Project {
    let p = Project::empty(dialect);
    p.write("20260101000000_schema_a/up.sql", a);
    std::fs::write(p.path().join("schema.sql"), b).unwrap();
    std::fs::write(p.path().join("godwit.toml"), "schema = \"schema.sql\"\n").unwrap();
    p
}

#[test]
fn a_probable_rename_is_refused_until_the_user_says_which() {
    let p = project(
        Dialect::Sqlite,
        "CREATE TABLE users (id integer PRIMARY KEY, name text);\n",
        "CREATE TABLE users (id integer PRIMARY KEY, full_name text);\n",
    );
    p.godwit(&["diff", "rename_name"])
        .expect(4)
        .says(
            "column users.name is dropped and users.full_name added with the same type: a rename?",
        )
        .says("`-- godwit:renamed-from name`")
        .says("--rename users.name=full_name")
        .says("--no-rename users.name");
    assert_eq!(migration_dirs(&p).len(), 1, "nothing written");
    // The flag decides: a rename.
    p.godwit(&[
        "diff",
        "rename_name",
        "--rename",
        "users.name=full_name",
        "--dry-run",
    ])
    .expect(0)
    .says("ALTER TABLE users RENAME COLUMN name TO full_name;");
    // Or not a rename: then it is a drop, which needs --allow-destructive.
    p.godwit(&["diff", "rename_name", "--no-rename", "users.name"])
        .expect(4)
        .says("drops users.name:")
        .says("--allow-destructive");
    p.godwit(&["diff", "rename_name", "--rename", "nonsense"])
        .expect(2)
        .says("`nonsense` is not a rename");
    p.godwit(&["diff", "rename_name", "--rename", "users.nope=full_name"])
        .expect(2)
        .says("the migrations build no column users.nope");
}

#[test]
fn a_destructive_change_shows_the_live_count_and_needs_the_flag() {
    let p = project(
        Dialect::Sqlite,
        "CREATE TABLE users (id integer PRIMARY KEY, email text);\nCREATE TABLE old_logs (id integer PRIMARY KEY);\n",
        "CREATE TABLE users (id integer PRIMARY KEY);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    admin(
        &p.db.url,
        "INSERT INTO users (id, email) VALUES (1, 'a'), (2, NULL), (3, 'c')",
    );
    admin(&p.db.url, "INSERT INTO old_logs (id) VALUES (1)");
    p.godwit(&["diff", "drop_email"])
        .expect(4)
        .says("drops users.email: 2 non-null values")
        .says("drops table old_logs: 1 row")
        .says("run again with --allow-destructive");
    let out = p.godwit(&["diff", "drop_email", "--allow-destructive", "--json"]);
    out.expect(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["proved"], true);
    let hazards: Vec<String> = report["migrations"][0]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["hazards"].as_array().unwrap().clone())
        .map(|h| h.to_string())
        .collect();
    assert!(
        hazards
            .iter()
            .any(|h| h.contains("data_loss") && h.contains("drops table old_logs: 1 row")),
        "{hazards:?}"
    );
    let files = report["migrations"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    let up = std::fs::read_to_string(files[0].as_str().unwrap()).unwrap();
    assert!(up.contains("DROP TABLE old_logs;"), "{up}");
    p.godwit(&["deploy"]).expect(0);
    p.godwit(&["diff", "--check"]).expect(0);
    p.godwit(&["diff", "anything_more"])
        .expect(0)
        .says("Nothing to do");
}

#[test]
fn dry_run_writes_nothing_and_json_names_the_hazards() {
    let p = project(
        Dialect::Postgres,
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email ON users (email);\n",
    );
    p.godwit(&["deploy"]).expect(0);
    let out = p.godwit(&["diff", "require_email", "--dry-run"]);
    out.expect(0)
        .says("-- ===== require_email (up) =====")
        .says("CHECK (email IS NOT NULL) NOT VALID;")
        .says("-- ===== require_email_indexes (up) =====")
        .says("-- godwit:no-transaction")
        .says("CREATE INDEX CONCURRENTLY users_email ON users (email);")
        .says("-- ===== require_email_validate (up) =====")
        .says("VALIDATE CONSTRAINT users_email_not_null;")
        .says("-- godwit:lock-timeout=5s");
    assert_eq!(migration_dirs(&p).len(), 1, "--dry-run wrote a file");
    let json = p.godwit(&["diff", "require_email", "--dry-run", "--json"]);
    json.expect(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let names: Vec<&str> = report["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "require_email",
            "require_email_indexes",
            "require_email_validate"
        ]
    );
    assert_eq!(report["migrations"][1]["no_transaction"], true);
    let locks: Vec<String> = report["migrations"][2]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["lock"].as_str().unwrap().to_string())
        .collect();
    assert!(
        locks
            .iter()
            .any(|l| l.starts_with("SHARE UPDATE EXCLUSIVE on ")),
        "{locks:?}"
    );
}

#[test]
fn diff_without_a_declared_schema_says_how_to_declare_one() {
    let p = Project::empty(Dialect::Sqlite);
    p.godwit(&["diff", "add_things"])
        .expect(2)
        .says("godwit.toml declares no schema");
    let p = project(
        Dialect::Sqlite,
        "SELECT 1;\n",
        "CREATE TABLE t (id integer);\n",
    );
    p.godwit(&["diff", "update"])
        .expect(2)
        .says("does not say what the migration changes");
    p.godwit(&["diff"]).expect(2);
}

/// `--from database --to migrations`: the SQL that undoes what was done by hand.
#[test]
fn drift_is_repaired_from_the_database_to_the_migrations() {
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let p = project(
            dialect,
            "CREATE TABLE users (id integer PRIMARY KEY, email text);\n",
            "SELECT 1;\n",
        );
        p.godwit(&["deploy"]).expect(0);
        admin(&p.db.url, "CREATE INDEX by_hand ON users (email)");
        admin(&p.db.url, "CREATE TABLE scratch (id integer)");
        let out = p.godwit(&["diff", "--from", "database", "--to", "migrations"]);
        out.expect(0)
            .says("DROP INDEX")
            .says("by_hand")
            .says("DROP TABLE scratch;");
        assert_eq!(migration_dirs(&p).len(), 1, "nothing written");
    }
}

/// The shapes behind the fidelity failures on umami and authelia (issue 14), on rows: a
/// new extension (and one no longer used); a primary key moved to a new column (umami 02 without its renames,
/// whose down failed with 42P16: NOT NULL dropped under the key); a serial table renamed
/// aside and made again, so that one sequence changes owner and the table made again
/// draws from `…_seq1` (authelia 0002 and 0003: 42P07, then 42P01); and a serial table
/// renamed without a hint, a drop and a create whose sequence must survive the drop.
#[test]
fn postgres_serials_keys_and_extensions_turn_a_into_b_and_back() {
    let dialect = Dialect::Postgres;
    let a = "CREATE EXTENSION IF NOT EXISTS citext;\n\
             CREATE TABLE totp (id SERIAL PRIMARY KEY, username varchar(100) NOT NULL);\n\
             CREATE TABLE event_data (event_id uuid NOT NULL, k text, CONSTRAINT event_data_pkey PRIMARY KEY (event_id));\n\
             CREATE TABLE old_items (id serial PRIMARY KEY, label text);\n";
    let b = "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n\
             CREATE TABLE totp (id SERIAL PRIMARY KEY, username varchar(100) NOT NULL);\n\
             ALTER TABLE totp RENAME TO bkp_totp;\n\
             ALTER TABLE bkp_totp RENAME CONSTRAINT totp_pkey TO bkp_totp_pkey;\n\
             CREATE TABLE totp (id SERIAL PRIMARY KEY, username varchar(100) NOT NULL);\n\
             CREATE TABLE event_data (event_data_id uuid NOT NULL, k text, CONSTRAINT event_data_pkey PRIMARY KEY (event_data_id));\n\
             CREATE TABLE old_items (id serial PRIMARY KEY, label text);\n\
             ALTER TABLE old_items RENAME TO items;\n\
             ALTER TABLE items RENAME CONSTRAINT old_items_pkey TO items_pkey;\n";
    let p = project(dialect, a, b);
    // The generator is under test, not the backup its drops would take first: that one
    // needs a pg_dump as new as the server, which the PostgreSQL 18 pass does not have.
    std::fs::write(
        p.path().join("godwit.toml"),
        "schema = \"schema.sql\"\n[backup]\npolicy = \"never\"\n",
    )
    .unwrap();
    p.godwit(&["deploy"]).expect(0);
    admin(
        &p.db.url,
        "INSERT INTO totp (username) VALUES ('a'), ('b'), ('c'); \
         INSERT INTO old_items (label) VALUES ('one'), ('two')",
    );
    let pulled_a = pulled(&p);
    let before = migration_dirs(&p);
    let out = diff_answering_renames(&p, "change_schema");
    assert_eq!(out.code, 0, "{}", out.text());
    let written = migration_dirs(&p).len() - before.len();
    let up = written_up(&p, before.len());
    assert!(
        up.contains("CREATE EXTENSION IF NOT EXISTS pgcrypto;"),
        "{up}"
    );
    assert!(up.contains("DROP EXTENSION citext;"), "{up}");
    assert!(
        up.contains("ALTER SEQUENCE totp_id_seq OWNED BY NONE;"),
        "{up}"
    );
    assert!(
        up.contains("ALTER SEQUENCE old_items_id_seq OWNED BY NONE;"),
        "{up}"
    );

    p.godwit(&["deploy"]).expect(0);
    let expected_b = pulled_again(dialect, b, "");
    assert_eq!(strip_header(&pulled(&p)), strip_header(&expected_b));
    // The table made again draws from a sequence that starts after its rows, and the
    // renamed one's sequence survived the drop of the table that owned it.
    admin(&p.db.url, "INSERT INTO totp (username) VALUES ('d')");
    assert_eq!(admin_count(&p.db.url, "SELECT max(id) FROM totp"), 4);
    admin(&p.db.url, "INSERT INTO items (label) VALUES ('three')");
    assert_eq!(admin_count(&p.db.url, "SELECT max(id) FROM items"), 3);

    p.godwit(&["down", "--steps", &written.to_string()])
        .expect(0);
    assert_eq!(strip_header(&pulled(&p)), strip_header(&pulled_a));
    // The old sequence came back past the row added in between (id 4).
    admin(&p.db.url, "INSERT INTO totp (username) VALUES ('e')");
    assert_eq!(admin_count(&p.db.url, "SELECT max(id) FROM totp"), 5);
}

/// The up.sql files written after the first `before` migrations, one after the other.
fn written_up(p: &Project, before: usize) -> String {
    migration_dirs(p)[before..]
        .iter()
        .map(|d| std::fs::read_to_string(p.migrations().join(d).join("up.sql")).unwrap())
        .collect()
}

each_dialect!(each_safe_form_is_written_and_runs_on_the_server);

/// Issue 14's safe forms, one change of each kind, each dialect's form asserted in the
/// written SQL, then run on the server over rows: lint clean, deploy makes the database
/// pull as the declared schema does, the rows are all there, and down brings A back.
/// PostgreSQL: lock timeout; indexes built and dropped CONCURRENTLY in a no-transaction
/// migration, an index replaced online, a unique key attached USING INDEX; a check and a
/// foreign key NOT VALID then validated; SET NOT NULL through a validated check.
/// MySQL/MariaDB: ALGORITHM=INPLACE, LOCK=NONE where the server allows it, none where
/// only a copy can. SQLite: the table rebuild with foreign keys off, other tables'
/// references to it intact.
fn each_safe_form_is_written_and_runs_on_the_server(d: Dialect) {
    let (a, b, rows, forms): (&str, &str, &str, &[&str]) = match d {
        Dialect::Postgres => (
            "CREATE TABLE teams (id integer PRIMARY KEY);\n\
             CREATE TABLE users (id integer PRIMARY KEY, email text, name text, team_id integer, code text);\n\
             CREATE INDEX users_name ON users (name);\n",
            "CREATE TABLE teams (id integer PRIMARY KEY);\n\
             CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, name text, \
             team_id integer REFERENCES teams (id), code text, \
             CONSTRAINT users_id_positive CHECK (id > 0), CONSTRAINT users_code_key UNIQUE (code));\n\
             CREATE INDEX users_name ON users (name, email);\n\
             CREATE INDEX users_email ON users (email);\n",
            "INSERT INTO teams VALUES (1); \
             INSERT INTO users VALUES (1, 'a@x', 'n1', 1, 'c1'), (2, 'b@x', 'n2', NULL, 'c2')",
            &[
                "-- godwit:lock-timeout=5s",
                "-- godwit:no-transaction",
                "CREATE INDEX CONCURRENTLY users_email ON users (email);",
                "CREATE INDEX CONCURRENTLY users_name_godwit_new ON users (name, email);",
                "DROP INDEX CONCURRENTLY IF EXISTS users_name;",
                "CREATE UNIQUE INDEX CONCURRENTLY users_code_key ON users (code);",
                "ADD CONSTRAINT users_code_key UNIQUE USING INDEX users_code_key;",
                "CHECK (id > 0) NOT VALID;",
                "REFERENCES teams (id) NOT VALID;",
                "VALIDATE CONSTRAINT users_team_id_fkey;",
                "VALIDATE CONSTRAINT users_id_positive;",
                "CHECK (email IS NOT NULL) NOT VALID;",
                "VALIDATE CONSTRAINT users_email_not_null;",
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            ],
        ),
        Dialect::MySql => (
            "CREATE TABLE teams (id int PRIMARY KEY);\n\
             CREATE TABLE users (id int PRIMARY KEY, email varchar(40), name varchar(40), team_id int, code varchar(40));\n\
             CREATE INDEX users_name ON users (name);\n",
            "CREATE TABLE teams (id int PRIMARY KEY);\n\
             CREATE TABLE users (id int PRIMARY KEY, email varchar(40) NOT NULL, name varchar(40), team_id int, \
             code varchar(40), added int DEFAULT 0, \
             CONSTRAINT users_team FOREIGN KEY (team_id) REFERENCES teams (id), \
             CONSTRAINT users_code_key UNIQUE (code));\n\
             CREATE INDEX users_name ON users (name, email);\n\
             CREATE INDEX users_email ON users (email);\n",
            "INSERT INTO teams VALUES (1); \
             INSERT INTO users VALUES (1, 'a@x', 'n1', 1, 'c1'), (2, 'b@x', 'n2', NULL, 'c2')",
            &[
                "-- godwit:lock-timeout=5s",
                "ADD COLUMN `added` int NULL DEFAULT 0, ALGORITHM=INPLACE, LOCK=NONE;",
                "ADD KEY `users_email` (`email`), ALGORITHM=INPLACE, LOCK=NONE;",
                "ADD UNIQUE KEY `users_code_key` (`code`), ALGORITHM=INPLACE, LOCK=NONE;",
                "DROP INDEX `users_name`, ADD KEY `users_name` (`name`, `email`), ALGORITHM=INPLACE, LOCK=NONE;",
                // A foreign key checked as it is added, and a NOT NULL: a copy, so no clause.
                "REFERENCES `teams` (`id`) ON UPDATE RESTRICT ON DELETE RESTRICT;",
                "MODIFY COLUMN `email` varchar(40) NOT NULL;",
            ],
        ),
        Dialect::Sqlite => (
            "CREATE TABLE teams (id integer PRIMARY KEY);\n\
             CREATE TABLE users (id integer PRIMARY KEY, email text, n integer, team_id integer REFERENCES teams (id));\n\
             CREATE TABLE posts (id integer PRIMARY KEY, user_id integer REFERENCES users (id));\n",
            "CREATE TABLE teams (id integer PRIMARY KEY);\n\
             CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL DEFAULT '', n text, \
             team_id integer REFERENCES teams (id), CHECK (id > 0));\n\
             CREATE TABLE posts (id integer PRIMARY KEY, user_id integer REFERENCES users (id));\n\
             CREATE INDEX users_email ON users (email);\n",
            "INSERT INTO teams VALUES (1); \
             INSERT INTO users VALUES (1, 'a@x', 5, 1), (2, NULL, 6, NULL); \
             INSERT INTO posts VALUES (1, 1), (2, 2)",
            &[
                "-- godwit:foreign-keys-off",
                "CREATE TABLE _godwit_new_users (",
                "SELECT coalesce(email, ''), id, n, team_id FROM users;",
                "ALTER TABLE _godwit_new_users RENAME TO users;",
                "CREATE INDEX users_email ON users (email);",
            ],
        ),
    };
    let p = project(d, a, b);
    p.godwit(&["deploy"]).expect(0);
    admin(&p.db.url, rows);
    let pulled_a = pulled(&p);
    let before = migration_dirs(&p).len();
    let out = p.godwit(&["diff", "safe_forms", "--allow-destructive"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let written = migration_dirs(&p).len() - before;
    let up = written_up(&p, before);
    for form in forms {
        assert!(up.contains(form), "{d:?}: no {form:?} in\n{up}");
    }
    p.godwit(&["lint"]).expect(0);
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        strip_header(&pulled(&p)),
        strip_header(&pulled_again(d, b, ""))
    );
    let q = |n: &str| quoted(d, n);
    assert_eq!(
        admin_count(&p.db.url, &format!("SELECT count(*) FROM {}", q("users"))),
        2
    );
    if d == Dialect::Sqlite {
        assert_eq!(admin_count(&p.db.url, "SELECT count(*) FROM posts"), 2);
        assert_eq!(
            admin_count(&p.db.url, "SELECT count(*) FROM pragma_foreign_key_check"),
            0,
            "the rebuild left every reference valid"
        );
    }
    p.godwit(&["down", "--steps", &written.to_string()])
        .expect(0);
    assert_eq!(strip_header(&pulled(&p)), strip_header(&pulled_a));
    assert_eq!(
        admin_count(&p.db.url, &format!("SELECT count(*) FROM {}", q("users"))),
        2
    );
}

/// MySQL keeps an index under every foreign key: it refuses to drop the one a key uses
/// (error 1553) until another covers its columns. Kratos does this twenty times on
/// MariaDB: an index under a foreign key dropped for a wider one, and one redefined under
/// the same name. Both are written so that the key always has an index, up and down.
#[test]
fn mysql_indexes_under_a_foreign_key_are_replaced_without_leaving_it_bare() {
    let a = "CREATE TABLE parent (id int PRIMARY KEY);\n\
             CREATE TABLE child (id int PRIMARY KEY, parent_id int, other_id int, \
             CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id), \
             CONSTRAINT child_other FOREIGN KEY (other_id) REFERENCES parent (id));\n\
             CREATE INDEX child_parent_idx ON child (parent_id);\n\
             CREATE INDEX child_other_idx ON child (other_id);\n\
             CREATE TABLE flows (id int PRIMARY KEY, request_id int);\n\
             CREATE INDEX flows_request ON flows (request_id);\n";
    let b = "CREATE TABLE parent (id int PRIMARY KEY);\n\
             CREATE TABLE child (id int PRIMARY KEY, parent_id int, other_id int, \
             CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id), \
             CONSTRAINT child_other FOREIGN KEY (other_id) REFERENCES parent (id));\n\
             CREATE INDEX child_parent_id_sorted ON child (parent_id, id);\n\
             CREATE INDEX child_other_idx ON child (other_id, id);\n\
             CREATE TABLE flows (id int PRIMARY KEY, flow_id int);\n\
             CREATE INDEX flows_request ON flows (flow_id);\n";
    let p = project(Dialect::MySql, a, b);
    p.godwit(&["deploy"]).expect(0);
    admin(
        &p.db.url,
        "INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (1, 1, 2), (2, 2, 1)",
    );
    let pulled_a = pulled(&p);
    let before = migration_dirs(&p).len();
    // And kratos's other shape: an index kept by name over a column dropped for another
    // (a rename written as a drop and an add): it goes with its column and comes back.
    let out = diff_answering_renames(&p, "wider_indexes");
    assert_eq!(out.code, 0, "{}", out.text());
    let up = written_up(&p, before);
    let added = up.find("ADD KEY `child_parent_id_sorted`").expect(&up);
    let dropped = up.find("DROP INDEX `child_parent_idx`").expect(&up);
    assert!(added < dropped, "the wider index comes first:\n{up}");
    assert!(
        up.contains("DROP INDEX `child_other_idx`, ADD KEY `child_other_idx` (`other_id`, `id`)"),
        "{up}"
    );
    p.godwit(&["lint"]).expect(0);
    p.godwit(&["deploy"]).expect(0);
    assert_eq!(
        strip_header(&pulled(&p)),
        strip_header(&pulled_again(Dialect::MySql, b, ""))
    );
    p.godwit(&["down"]).expect(0);
    assert_eq!(strip_header(&pulled(&p)), strip_header(&pulled_a));
    assert_eq!(admin_count(&p.db.url, "SELECT count(*) FROM child"), 2);
}
