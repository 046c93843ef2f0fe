//! SQLite's side of the confinement: an authorizer (`sqlite3_set_authorizer`) installed on
//! the work connection while a plugin's statements are prepared.
//!
//! SQLite asks the authorizer about every table and column a statement reads or writes,
//! and every function it calls, after SQLite's own parse and name resolution — so a CTE
//! named like a real table, a quoting trick or a comment the checker read differently
//! changes nothing: the authorizer sees the table SQLite will actually read. Anything not
//! positively allowed (PRAGMA, ATTACH, DDL, transaction control, godwit's tables,
//! `sqlite_master`, `load_extension`…) is denied, which fails the prepare with
//! `SQLITE_AUTH`.
//!
//! The authorizer runs at prepare time only, so confined statements are never taken from
//! or put into sqlx's statement cache (`persistent(false)`): a statement prepared earlier
//! without the authorizer cannot be reused under it, nor the other way round.

use std::collections::HashSet;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::ops::ControlFlow;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use libsqlite3_sys as ffi;
use sqlparser::ast::{Query, Visit, Visitor};

use crate::confine::Scope;

/// Built-in SQLite functions that read nothing but their arguments and change nothing.
/// Anything else — `load_extension`, `sqlite_*` introspection, `fts3_tokenizer`,
/// `readfile`, application functions — is denied.
const PURE_FUNCTIONS: &[&str] = &[
    "abs",
    "avg",
    "char",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "date",
    "datetime",
    "dense_rank",
    "first_value",
    "format",
    "glob",
    "group_concat",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "json",
    "json_array",
    "json_array_length",
    "json_extract",
    "json_group_array",
    "json_group_object",
    "json_object",
    "json_quote",
    "json_type",
    "json_valid",
    "julianday",
    "lag",
    "last_value",
    "lead",
    "length",
    "like",
    "likelihood",
    "likely",
    "lower",
    "ltrim",
    "max",
    "min",
    "nth_value",
    "ntile",
    "nullif",
    "octet_length",
    "percent_rank",
    "cume_dist",
    "printf",
    "quote",
    "random",
    "randomblob",
    "rank",
    "replace",
    "round",
    "row_number",
    "rtrim",
    "sign",
    "string_agg",
    "strftime",
    "substr",
    "substring",
    "sum",
    "time",
    "timediff",
    "total",
    "trim",
    "typeof",
    "unhex",
    "unicode",
    "unixepoch",
    "unlikely",
    "upper",
    "zeroblob",
];

/// SQLite's read-only schema pragmas, reachable as table-valued functions
/// (`pragma_table_info(…)`) when `pragma_NAME` is granted as a table, as the checker does.
const CATALOG_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "foreign_key_list",
];

/// What the callback consults, and the first thing it denied (for the operator's log).
pub(super) struct Authorizer {
    scope: Arc<dyn Scope>,
    denied: Mutex<Option<String>>,
    /// Every name an unqualified table reference could resolve to other than a CTE, lower
    /// case: the tables and views of every attached database, and the virtual-table
    /// modules (`json_each`, `dbstat`…), read before the authorizer was installed.
    objects: HashSet<String>,
    /// The CTE names of the statement being prepared, lower case.
    ctes: Mutex<HashSet<String>>,
}

impl Authorizer {
    /// `objects`: the names of every table, view and virtual-table module the connection
    /// can reach (any case).
    pub(super) fn new(scope: Arc<dyn Scope>, objects: Vec<String>) -> Box<Authorizer> {
        Box::new(Authorizer {
            scope,
            denied: Mutex::new(None),
            objects: objects.iter().map(|o| o.to_ascii_lowercase()).collect(),
            ctes: Mutex::new(HashSet::new()),
        })
    }

    /// Called before each confined statement is prepared: remembers the CTEs it defines.
    /// A statement that does not parse defines none, so nothing is relaxed for it.
    pub(super) fn prepare(&self, sql: &str) {
        let names = cte_names(sql);
        if let Ok(mut ctes) = self.ctes.lock() {
            *ctes = names;
        }
    }

    /// Whether an unqualified `name` can only be one of the statement's CTEs: SQLite
    /// reports a FROM item none of whose columns is used (`SELECT count(*) FROM r`) as a
    /// read of the name *as written*, with an empty column, whether it is a table or a
    /// CTE that could not be flattened (recursive, `LIMIT`, `UNION`, `MATERIALIZED`).
    /// A name that is also a real table, view or module stays a read of that: a CTE
    /// defined in a subquery does not hide the table from the outer query.
    fn only_a_cte(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        !name.starts_with("pragma_")
            && !self.objects.contains(&name)
            && self.ctes.lock().is_ok_and(|c| c.contains(&name))
    }

    /// The first action denied since installation, if any.
    pub(super) fn take_denied(&self) -> Option<String> {
        self.denied.lock().ok().and_then(|mut d| d.take())
    }

    fn decide(&self, action: c_int, args: [Option<&str>; 4]) -> Result<(), String> {
        let [a1, a2, db, _inner] = args;
        // `None` for the main database, as grants name it; `temp` and attached databases
        // by name, which only an explicit grant covers.
        let schema = db.filter(|d| !d.eq_ignore_ascii_case("main"));
        let table = a1.unwrap_or_default();
        let scope = &self.scope;
        let allowed = match action {
            ffi::SQLITE_SELECT | ffi::SQLITE_RECURSIVE => true,
            // No exception for view and trigger bodies: SQLite reports a CTE's body with the
            // CTE's name in the same place as a view's, so a CTE named like a granted view
            // would pass. Reading through a view, or writing a table whose triggers write
            // others, needs those tables granted too.
            ffi::SQLITE_READ => {
                scope.may_read(schema, table)
                    || (db.is_none() && a2 == Some("") && self.only_a_cte(table))
            }
            // A catalog pragma's table function registers itself in the schema once per
            // connection, reported as an update of sqlite_master (which SQLite itself
            // never lets a statement write while writable_schema is off, and PRAGMA is
            // denied here).
            ffi::SQLITE_UPDATE
                if table.eq_ignore_ascii_case("sqlite_master")
                    && CATALOG_PRAGMAS
                        .iter()
                        .any(|p| scope.may_read(None, &format!("pragma_{p}"))) =>
            {
                true
            }
            ffi::SQLITE_UPDATE => scope.may_write(schema, table, a2),
            ffi::SQLITE_INSERT => scope.may_write_any(schema, table),
            ffi::SQLITE_DELETE => scope.may_write(schema, table, None),
            ffi::SQLITE_FUNCTION => {
                a2.is_some_and(|f| PURE_FUNCTIONS.iter().any(|p| p.eq_ignore_ascii_case(f)))
            }
            ffi::SQLITE_PRAGMA => a1.is_some_and(|p| {
                let p = p.to_ascii_lowercase();
                CATALOG_PRAGMAS.contains(&p.as_str())
                    && a2.is_some()
                    && scope.may_read(None, &format!("pragma_{p}"))
            }),
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(describe(action, args))
        }
    }
}

/// The CTE names a statement defines anywhere in it (lower case); none if it does not parse.
fn cte_names(sql: &str) -> HashSet<String> {
    struct Ctes(HashSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.to_ascii_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let Ok(statements) = godwit_core::analyze::parse::parse(sql, godwit_core::Dialect::Sqlite)
    else {
        return HashSet::new();
    };
    let mut ctes = Ctes(HashSet::new());
    let _ = statements.visit(&mut ctes);
    ctes.0
}

fn describe(action: c_int, [a1, a2, db, _]: [Option<&str>; 4]) -> String {
    let table = match (db, a1) {
        (Some(d), Some(t)) if !d.eq_ignore_ascii_case("main") => format!("{d}.{t}"),
        (_, Some(t)) => t.to_owned(),
        _ => String::new(),
    };
    match action {
        ffi::SQLITE_READ if a2.is_some_and(|c| !c.is_empty()) => {
            format!("reading column {} of table {table}", a2.unwrap_or_default())
        }
        ffi::SQLITE_READ => format!("reading table {table}"),
        ffi::SQLITE_UPDATE => format!("writing column {} of table {table}", a2.unwrap_or_default()),
        ffi::SQLITE_INSERT => format!("inserting into table {table}"),
        ffi::SQLITE_DELETE => format!("deleting from table {table}"),
        ffi::SQLITE_FUNCTION => format!("calling function {}()", a2.unwrap_or_default()),
        ffi::SQLITE_PRAGMA => format!("PRAGMA {}", a1.unwrap_or_default()),
        ffi::SQLITE_ATTACH => "ATTACH".to_owned(),
        ffi::SQLITE_DETACH => "DETACH".to_owned(),
        ffi::SQLITE_TRANSACTION | ffi::SQLITE_SAVEPOINT => {
            "transaction control (BEGIN, COMMIT, SAVEPOINT…)".to_owned()
        }
        other => format!("a schema or connection change (SQLite authorizer action {other})"),
    }
}

unsafe extern "C" fn callback(
    data: *mut c_void,
    action: c_int,
    a1: *const c_char,
    a2: *const c_char,
    db: *const c_char,
    inner: *const c_char,
) -> c_int {
    // SAFETY: `data` is the `Authorizer` that `install` registered, which stays alive
    // until `remove` has unregistered it (or is leaked when that cannot be proved).
    let auth = unsafe { &*(data as *const Authorizer) };
    let text = |p: *const c_char| {
        // SAFETY: SQLite passes NULL or a NUL-terminated string valid for this call.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("\u{fffd}"))
    };
    let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        auth.decide(action, [text(a1), text(a2), text(db), text(inner)])
    }));
    match decided {
        Ok(Ok(())) => ffi::SQLITE_OK,
        Ok(Err(what)) => {
            if let Ok(mut first) = auth.denied.lock() {
                first.get_or_insert(what);
            }
            ffi::SQLITE_DENY
        }
        Err(_) => ffi::SQLITE_DENY,
    }
}

/// Registers `auth` on `handle`. The caller keeps `auth` alive until [`remove`] returns.
pub(super) fn install(handle: NonNull<ffi::sqlite3>, auth: &Authorizer) -> Result<(), String> {
    // SAFETY: the handle is the connection's open handle, held locked by the caller; the
    // data pointer outlives the registration (see `callback`).
    let rc = unsafe {
        ffi::sqlite3_set_authorizer(
            handle.as_ptr(),
            Some(callback),
            auth as *const Authorizer as *mut c_void,
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("sqlite3_set_authorizer failed with code {rc}"))
    }
}

/// Unregisters whatever authorizer `handle` has.
pub(super) fn remove(handle: NonNull<ffi::sqlite3>) -> Result<(), String> {
    // SAFETY: as in `install`; a NULL callback removes the authorizer.
    let rc = unsafe { ffi::sqlite3_set_authorizer(handle.as_ptr(), None, std::ptr::null_mut()) };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("sqlite3_set_authorizer failed with code {rc}"))
    }
}
