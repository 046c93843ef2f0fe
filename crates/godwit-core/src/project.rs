//! The project's `.godwit` directory, where godwit keeps data of its own.

use std::path::Path;

/// After godwit creates `created` (a directory, or a file's directory): if it lies in a
/// `.godwit` directory, that directory gets a `.gitignore` of `*`. It holds data, never
/// source: the SQLite default, backups with the database's rows, the plugin cache. `godwit
/// init` adds `.godwit/` to the project's .gitignore, but a project of another tool never
/// ran init, and a `git add .` there would commit a dump of the database. Best effort: a
/// directory godwit could create but not write a file in fails on its next write anyway.
pub fn keep_out_of_git(created: &Path) {
    let Some(dot) = created
        .ancestors()
        .find(|a| a.file_name() == Some(std::ffi::OsStr::new(".godwit")))
    else {
        return;
    };
    let ignore = dot.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(
            &ignore,
            "# Written by godwit: what is in here is data (backups, caches, the SQLite default), not source.\n*\n",
        );
    }
}
