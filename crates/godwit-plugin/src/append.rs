//! The `append` grant: a plugin may read one file and add to its end, and reach nothing
//! else in the file's directory.
//!
//! WASI mounts directories only, and the directory of a file worth granting often holds
//! files that must stay out of reach: the GitHub Actions runner keeps `GITHUB_ENV` and
//! `GITHUB_PATH`, which change later steps of the job, beside `GITHUB_STEP_SUMMARY`. So the
//! plugin never sees the real directory. For each call godwit makes a private directory
//! holding a copy of each granted file, and mounts it in the guest at the real file's
//! directory, so the file is at the same absolute path inside the sandbox as outside
//! (`$GITHUB_STEP_SUMMARY` works unchanged) and its neighbours are simply not there.
//!
//! After a call that did not trap, godwit appends to the real file exactly what the
//! plugin added at the end of its copy. It refuses, appending nothing, a copy whose first
//! bytes changed (truncated or rewritten), that is no longer a regular file (a link), or
//! that grew by more than [`APPEND_CAP`]. The real file is opened inside its directory
//! with cap-std's primitives after checking, without following links, that it is a
//! regular file. The private directory and everything the plugin put in it are removed
//! when the call ends.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use cap_primitives::fs::{FollowSymlinks, OpenOptions, open, open_ambient_dir, stat};

/// Bytes a call may append to one granted file; GitHub's job summary takes 1 MiB per step.
pub const APPEND_CAP: u64 = 1 << 20;

/// Bytes a granted file may already hold to be handed to a plugin.
pub const COPY_CAP: u64 = 16 << 20;

/// Why a granted file could not be handed to a plugin, or its additions applied.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("{} is not a regular file (a link, a directory or a device); grant the file itself", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} holds {size} bytes, more than the {COPY_CAP} a plugin may be handed", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("the plugin changed what {} already held (truncated or rewrote it); a plugin may only append, so nothing was written", path.display())]
    Rewritten { path: PathBuf },
    #[error("the plugin replaced {} with something that is not a regular file; nothing was written", path.display())]
    Replaced { path: PathBuf },
    #[error("the plugin appended {added} bytes to {}, more than {APPEND_CAP}; nothing was written", path.display())]
    AppendTooLarge { path: PathBuf, added: u64 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AppendError + '_ {
    move |source| AppendError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The private directories of one call and what each file held when the call began.
pub(crate) struct Staged {
    /// Each private directory with the guest path it is mounted at.
    pub(crate) mounts: Vec<(tempfile::TempDir, String)>,
    files: Vec<StagedFile>,
}

struct StagedFile {
    real: PathBuf,
    /// Index into `mounts`.
    mount: usize,
    name: PathBuf,
    before: Vec<u8>,
}

/// A file's directory and name, or why it has none.
fn split(path: &Path) -> Result<(&Path, &Path), AppendError> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if path.is_absolute() => Ok((dir, Path::new(name))),
        _ => Err(AppendError::NotAFile {
            path: path.to_owned(),
        }),
    }
}

/// Copies each of `files` (absolute paths) into a private directory per parent directory.
/// A file that does not exist yet starts empty.
pub(crate) fn stage(files: &[PathBuf]) -> Result<Staged, AppendError> {
    let mut staged = Staged {
        mounts: Vec::new(),
        files: Vec::new(),
    };
    for real in files {
        let (dir, name) = split(real)?;
        let guest = dir.to_string_lossy().into_owned();
        let mount = match staged.mounts.iter().position(|(_, g)| *g == guest) {
            Some(i) => i,
            None => {
                let private = tempfile::Builder::new()
                    .prefix("godwit-append-")
                    .tempdir()
                    .map_err(io(real))?;
                staged.mounts.push((private, guest));
                staged.mounts.len() - 1
            }
        };
        let before = read_real(dir, name, real)?;
        std::fs::write(staged.mounts[mount].0.path().join(name), &before).map_err(io(real))?;
        staged.files.push(StagedFile {
            real: real.clone(),
            mount,
            name: name.to_owned(),
            before,
        });
    }
    Ok(staged)
}

/// The real file's bytes, empty if it does not exist; never through a link.
fn read_real(dir: &Path, name: &Path, real: &Path) -> Result<Vec<u8>, AppendError> {
    let parent = open_ambient_dir(dir, cap_primitives::ambient_authority()).map_err(io(real))?;
    let meta = match stat(&parent, name, FollowSymlinks::No) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(real)(e)),
    };
    if !meta.is_file() {
        return Err(AppendError::NotAFile {
            path: real.to_owned(),
        });
    }
    if meta.len() > COPY_CAP {
        return Err(AppendError::TooLarge {
            path: real.to_owned(),
            size: meta.len(),
        });
    }
    let mut file = open(&parent, name, OpenOptions::new().read(true)).map_err(io(real))?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(COPY_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(io(real))?;
    Ok(bytes)
}

impl Staged {
    /// Appends to each real file what the plugin added to its copy, after checking every
    /// copy first: one refused file means none is written.
    pub(crate) fn commit(&self) -> Result<(), AppendError> {
        let mut additions = Vec::new();
        for f in &self.files {
            let private = open_ambient_dir(
                self.mounts[f.mount].0.path(),
                cap_primitives::ambient_authority(),
            )
            .map_err(io(&f.real))?;
            let meta = match stat(&private, &f.name, FollowSymlinks::No) {
                Ok(meta) => meta,
                // Removed: nothing added, and the real file keeps what it held.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && f.before.is_empty() => {
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(AppendError::Rewritten {
                        path: f.real.clone(),
                    });
                }
                Err(e) => return Err(io(&f.real)(e)),
            };
            if !meta.is_file() {
                return Err(AppendError::Replaced {
                    path: f.real.clone(),
                });
            }
            let before = f.before.len() as u64;
            if meta.len() < before {
                return Err(AppendError::Rewritten {
                    path: f.real.clone(),
                });
            }
            if meta.len() - before > APPEND_CAP {
                return Err(AppendError::AppendTooLarge {
                    path: f.real.clone(),
                    added: meta.len() - before,
                });
            }
            let mut copy =
                open(&private, &f.name, OpenOptions::new().read(true)).map_err(io(&f.real))?;
            let mut bytes = Vec::new();
            (&mut copy)
                .take(before + APPEND_CAP + 1)
                .read_to_end(&mut bytes)
                .map_err(io(&f.real))?;
            if !bytes.starts_with(&f.before) {
                return Err(AppendError::Rewritten {
                    path: f.real.clone(),
                });
            }
            if bytes.len() as u64 - before > APPEND_CAP {
                return Err(AppendError::AppendTooLarge {
                    path: f.real.clone(),
                    added: bytes.len() as u64 - before,
                });
            }
            bytes.drain(..f.before.len());
            if !bytes.is_empty() {
                additions.push((f, bytes));
            }
        }
        for (f, bytes) in additions {
            append_real(&f.real, &bytes)?;
        }
        Ok(())
    }
}

/// Appends `bytes` to the real file, creating it if missing, refusing anything but a
/// regular file, and resolving nothing outside its directory.
fn append_real(real: &Path, bytes: &[u8]) -> Result<(), AppendError> {
    let (dir, name) = split(real)?;
    let parent = open_ambient_dir(dir, cap_primitives::ambient_authority()).map_err(io(real))?;
    match stat(&parent, name, FollowSymlinks::No) {
        Ok(meta) if !meta.is_file() => {
            return Err(AppendError::NotAFile {
                path: real.to_owned(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(real)(e)),
    }
    let mut file: File =
        open(&parent, name, OpenOptions::new().append(true).create(true)).map_err(io(real))?;
    file.write_all(bytes).map_err(io(real))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn real(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("summary.md");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn only_what_was_appended_reaches_the_real_file() {
        let runner = tempfile::tempdir().unwrap();
        let summary = real(runner.path(), "one\n");
        let staged = stage(std::slice::from_ref(&summary)).unwrap();
        let copy = staged.mounts[0].0.path().join("summary.md");
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "one\n");
        // Meanwhile something else appends to the real file: kept, and ours follows it.
        std::fs::write(&summary, "one\nother\n").unwrap();
        std::fs::write(&copy, "one\ntwo\n").unwrap();
        staged.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(&summary).unwrap(),
            "one\nother\ntwo\n"
        );
    }

    #[test]
    fn a_rewrite_a_truncation_or_a_link_writes_nothing() {
        let runner = tempfile::tempdir().unwrap();
        let summary = real(runner.path(), "one\n");
        for attack in ["rewrite", "truncate", "link", "remove"] {
            let staged = stage(std::slice::from_ref(&summary)).unwrap();
            let copy = staged.mounts[0].0.path().join("summary.md");
            match attack {
                "rewrite" => std::fs::write(&copy, "ONE\ntwo\n").unwrap(),
                "truncate" => std::fs::write(&copy, "").unwrap(),
                "link" => {
                    std::fs::remove_file(&copy).unwrap();
                    std::os::unix::fs::symlink(&summary, &copy).unwrap();
                }
                _ => std::fs::remove_file(&copy).unwrap(),
            }
            let e = staged.commit().unwrap_err();
            assert!(
                matches!(
                    e,
                    AppendError::Rewritten { .. } | AppendError::Replaced { .. }
                ),
                "{attack}: {e}"
            );
            assert_eq!(
                std::fs::read_to_string(&summary).unwrap(),
                "one\n",
                "{attack}"
            );
        }
    }

    #[test]
    fn a_real_file_that_is_a_link_is_refused() {
        let runner = tempfile::tempdir().unwrap();
        std::fs::write(runner.path().join("env"), "A=1\n").unwrap();
        let summary = runner.path().join("summary.md");
        std::os::unix::fs::symlink("env", &summary).unwrap();
        assert!(matches!(
            stage(std::slice::from_ref(&summary)),
            Err(AppendError::NotAFile { .. })
        ));
        assert!(matches!(
            append_real(&summary, b"B=2\n"),
            Err(AppendError::NotAFile { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(runner.path().join("env")).unwrap(),
            "A=1\n"
        );
    }
}
