//! The data directory of `serve` and `mount --local`: created when missing, and checked
//! for what the server's own "internal error" would hide — not a directory, not
//! writable, or its database held by another running server.

use std::path::Path;

/// The database file the server keeps in its data directory.
const INDEX_FILE: &str = "index.redb";

/// What is wrong with a data directory.
#[derive(Debug, thiserror::Error)]
pub enum LocalDirError {
    /// A file is in the way.
    #[error("data directory {0} is not a directory")]
    NotADirectory(String),
    /// It cannot be created or written.
    #[error("cannot write in data directory {path}: {source}")]
    NotWritable {
        /// The directory.
        path: String,
        /// The I/O error (permission denied, read-only filesystem…).
        source: std::io::Error,
    },
    /// Another server holds its database.
    #[error("data directory {0} is in use by another bosmount server (its database is locked); stop that one first")]
    Locked(String),
    /// The database cannot be opened for another reason.
    #[error("cannot open the database {path}: {message}")]
    Database {
        /// The database file.
        path: String,
        /// What redb said.
        message: String,
    },
}

/// Check (and create) `dir` before a server opens it.
pub fn check(dir: &Path) -> Result<(), LocalDirError> {
    let shown = dir.display().to_string();
    let not_writable = |source| LocalDirError::NotWritable {
        path: shown.clone(),
        source,
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(LocalDirError::NotADirectory(shown)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir).map_err(not_writable)?,
        Err(e) => return Err(not_writable(e)),
    }
    let probe = dir.join(format!(".bosmount-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(not_writable)?;
    let _ = std::fs::remove_file(&probe);
    let index = dir.join(INDEX_FILE);
    if index.exists() {
        match redb::Database::create(&index) {
            Ok(db) => drop(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(LocalDirError::Locked(shown)),
            Err(e) => {
                return Err(LocalDirError::Database {
                    path: index.display().to_string(),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_proc_and_held_databases_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        assert!(matches!(check(&file), Err(LocalDirError::NotADirectory(_))));
        assert!(matches!(
            check(Path::new("/proc")),
            Err(LocalDirError::NotWritable { .. })
        ));
        let data = dir.path().join("data");
        check(&data).expect("created");
        assert!(data.is_dir());
        let held = redb::Database::create(data.join(INDEX_FILE)).expect("db");
        let error = check(&data).expect_err("locked");
        assert!(matches!(error, LocalDirError::Locked(_)), "{error}");
        drop(held);
        check(&data).expect("free again");
    }
}
