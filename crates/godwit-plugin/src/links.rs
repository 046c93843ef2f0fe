//! No symbolic link survives in a directory a plugin was granted.
//!
//! Inside the sandbox, cap-std resolves every path within the granted directory, so a
//! plugin cannot follow a link out of it. But WASI lets a plugin *create* a link whose
//! target is relative (`../../etc/passwd`), and whatever reads the directory outside the
//! sandbox afterwards — godwit, another plugin granted a directory below this one, a later
//! CI step, a person — would follow it. So after every call godwit walks the granted
//! directory without following anything and removes every symbolic link it finds, and the
//! call fails naming them.
//!
//! Links that point inside the directory are removed too: what a relative link means
//! depends on where it sits and who reads it (a plugin granted `data/sub` sees
//! `data/sub/l -> ..` leave its grant), a directory rename changes it, and nothing a
//! plugin has to do needs one.
//!
//! What a plugin cannot leave behind in the first place, so the walk does not look for
//! it: a hard link to a file outside the directory (both ends of `link-at` are resolved
//! inside the grant), a FIFO, socket or device node (WASI has no `mknod` or `bind` on a
//! path).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use cap_primitives::fs::{open_dir_nofollow, read_base_dir, read_link_contents, remove_file};

/// Directories deeper than this below the granted one are not walked, and the call fails:
/// the walk holds one open directory per level.
pub const MAX_DEPTH: usize = 64;

/// A symbolic link found, and removed, in a granted directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedLink {
    /// Where it was, relative to the granted directory.
    pub path: PathBuf,
    /// What it pointed at, as written in the link.
    pub target: PathBuf,
}

impl std::fmt::Display for RemovedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {}",
            self.path.display(),
            crate::text::sanitize(&self.target.to_string_lossy())
        )
    }
}

/// Why a granted directory could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{} is nested more than {MAX_DEPTH} directories deep, too deep to check for links",
        path.display()
    )]
    TooDeep { path: PathBuf },
}

/// Removes every symbolic link in `dir` and below, following none, and returns them.
pub fn remove_links(dir: &Path) -> Result<Vec<RemovedLink>, WalkError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WalkError::Io { path, source }
    };
    let root = cap_primitives::fs::open_ambient_dir(dir, cap_primitives::ambient_authority())
        .map_err(io(Path::new(".")))?;
    let mut removed = Vec::new();
    walk(&root, Path::new(""), 0, &mut removed)?;
    Ok(removed)
}

fn walk(
    dir: &File,
    at: &Path,
    depth: usize,
    removed: &mut Vec<RemovedLink>,
) -> Result<(), WalkError> {
    let io = |path: PathBuf| move |source| WalkError::Io { path, source };
    let shown = || {
        if at.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            at.to_path_buf()
        }
    };
    if depth > MAX_DEPTH {
        return Err(WalkError::TooDeep { path: shown() });
    }
    // The names first, then the changes: removing while reading a directory may skip entries.
    let mut links = Vec::new();
    let mut subdirs = Vec::new();
    for entry in read_base_dir(dir).map_err(io(shown()))? {
        let entry = entry.map_err(io(shown()))?;
        let name = entry.file_name();
        let kind = entry.file_type().map_err(io(at.join(&name)))?;
        if kind.is_symlink() {
            links.push(name);
        } else if kind.is_dir() {
            subdirs.push(name);
        }
    }
    for name in links {
        let path = at.join(&name);
        let target = read_link_contents(dir, Path::new(&name)).map_err(io(path.clone()))?;
        remove_file(dir, Path::new(&name)).map_err(io(path.clone()))?;
        removed.push(RemovedLink { path, target });
    }
    for name in subdirs {
        let path = at.join(&name);
        // Refuses a link: something swapped the directory for one since it was listed.
        let sub = open_dir_nofollow(dir, Path::new(&name)).map_err(io(path.clone()))?;
        walk(&sub, &path, depth + 1, removed)?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn every_link_goes_and_nothing_else_does() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let granted = tempfile::tempdir().unwrap();
        let g = granted.path();
        std::fs::create_dir_all(g.join("a/b")).unwrap();
        std::fs::write(g.join("a/b/keep.txt"), "k").unwrap();
        symlink("../../etc/passwd", g.join("rel")).unwrap();
        symlink(outside.path().join("secret"), g.join("a/abs")).unwrap();
        symlink("keep.txt", g.join("a/b/inside")).unwrap();
        symlink(outside.path(), g.join("a/b/dirlink")).unwrap();
        let mut removed = remove_links(g).unwrap();
        removed.sort_by(|x, y| x.path.cmp(&y.path));
        let paths: Vec<_> = removed.iter().map(|l| l.path.clone()).collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("a/abs"),
                PathBuf::from("a/b/dirlink"),
                PathBuf::from("a/b/inside"),
                PathBuf::from("rel")
            ]
        );
        assert_eq!(removed[3].target, Path::new("../../etc/passwd"));
        assert!(std::fs::symlink_metadata(g.join("rel")).is_err());
        assert_eq!(
            std::fs::read_to_string(g.join("a/b/keep.txt")).unwrap(),
            "k"
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "s",
            "the dir link was not followed"
        );
        assert!(remove_links(g).unwrap().is_empty());
    }

    #[test]
    fn too_deep_is_an_error_not_a_pass() {
        let granted = tempfile::tempdir().unwrap();
        let mut deep = granted.path().to_path_buf();
        for _ in 0..=MAX_DEPTH + 1 {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        assert!(matches!(
            remove_links(granted.path()),
            Err(WalkError::TooDeep { .. })
        ));
    }
}
