use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("I/O error on {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("refusing to overwrite existing record {}", path.display())]
    Exists { path: PathBuf },
    #[error("invalid record: {message}")]
    Invalid { message: String },
    #[error("corrupt file {}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// The records directory has a chain but this machine lacks the station key for it.
    #[error(
        "station key {} not found: the chain in {} cannot be checked or extended without it \
         (restore the key, or set STATION_KEY_DIR to the directory holding it)",
        path.display(),
        records.display()
    )]
    KeyMissing { path: PathBuf, records: PathBuf },
}

impl RecordError {
    pub(crate) fn io(path: &Path, err: impl std::fmt::Display) -> Self {
        RecordError::Io {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        RecordError::Invalid {
            message: message.into(),
        }
    }

    pub(crate) fn corrupt(path: &Path, message: impl std::fmt::Display) -> Self {
        RecordError::Corrupt {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}
