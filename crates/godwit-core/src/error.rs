//! The errors of reading migrations and their settings: a file or directory that cannot be
//! used as it is, or a setting that is wrong. The host's `Error` has a variant for each,
//! with the same message and exit code, and converts from this type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// godwit.toml, flags or environment are wrong.
    #[error("{0}")]
    Config(String),

    /// A migration file or directory cannot be used as it is.
    #[error("{}: {message}", path.display())]
    Source { path: PathBuf, message: String },
}

impl Error {
    pub fn source(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Source {
            path: path.into(),
            message: message.into(),
        }
    }
}
