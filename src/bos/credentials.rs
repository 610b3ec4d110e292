//! Access credentials: where they come from (environment or a credentials file) and how
//! they are kept out of logs (`Debug` prints only the access key id).
//!
//! The credentials file is either `key = value` lines (`access_key_id`,
//! `secret_access_key`, optional `session_token`; the `BCE_*` environment names work
//! too; `#` comments and `[section]` lines are skipped), or one `ACCESS_KEY_ID:SECRET`
//! line as s3fs's passwd files have. Like s3fs, a file that its group or other users may
//! read or write is refused: `chmod 600 FILE`.

use std::fmt;
use std::path::Path;

/// Environment variable holding the access key id.
pub const ENV_ACCESS_KEY_ID: &str = "BCE_ACCESS_KEY_ID";
/// Environment variable holding the secret access key.
pub const ENV_SECRET_ACCESS_KEY: &str = "BCE_SECRET_ACCESS_KEY";
/// Environment variable holding an STS session token.
pub const ENV_SESSION_TOKEN: &str = "BCE_SESSION_TOKEN";

/// Access key id used by the local server (and `--local`) when none is configured.
pub const LOCAL_DEFAULT_ACCESS_KEY_ID: &str = "bosmount-local-ak";
/// Secret used by the local server (and `--local`) when none is configured.
pub const LOCAL_DEFAULT_SECRET_ACCESS_KEY: &str = "bosmount-local-secret";

/// A BCE access key pair, optionally with an STS session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id (not secret; may be logged).
    pub access_key_id: String,
    /// Secret access key; never printed.
    pub secret_access_key: String,
    /// STS session token, sent as `x-bce-security-token`; never printed.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"******")
            .field("session_token", &self.session_token.as_ref().map(|_| "******"))
            .finish()
    }
}

/// Why credentials could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Neither the environment nor a file provided them.
    #[error("no credentials: set {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or pass --credentials FILE")]
    Missing,
    /// The credentials file could not be read.
    #[error("cannot read credentials file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The credentials file is readable or writable by other users.
    #[error("credentials file {path} is accessible to other users (mode {mode:o}); run: chmod 600 {path}")]
    Permissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The credentials file lacks a required entry.
    #[error("credentials file {path} has no {field}")]
    Incomplete {
        /// The file.
        path: String,
        /// The missing key.
        field: &'static str,
    },
}

impl Credentials {
    /// Build credentials from parts.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// The pair the local server accepts by default.
    pub fn local_default() -> Self {
        Credentials::new(LOCAL_DEFAULT_ACCESS_KEY_ID, LOCAL_DEFAULT_SECRET_ACCESS_KEY)
    }

    /// Read `BCE_ACCESS_KEY_ID`, `BCE_SECRET_ACCESS_KEY` and `BCE_SESSION_TOKEN`.
    pub fn from_env() -> Option<Self> {
        let ak = std::env::var(ENV_ACCESS_KEY_ID).ok().filter(|v| !v.is_empty())?;
        let sk = std::env::var(ENV_SECRET_ACCESS_KEY).ok().filter(|v| !v.is_empty())?;
        let token = std::env::var(ENV_SESSION_TOKEN).ok().filter(|v| !v.is_empty());
        Some(Credentials {
            access_key_id: ak,
            secret_access_key: sk,
            session_token: token,
        })
    }

    /// Read a credentials file in one of the two forms of the module doc, refusing one
    /// that other users may read or write.
    pub fn from_file(path: &Path) -> Result<Self, CredentialsError> {
        use std::os::unix::fs::PermissionsExt;
        let shown = path.display().to_string();
        let read_error = |source| CredentialsError::Read {
            path: shown.clone(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(read_error)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(CredentialsError::Permissions {
                path: shown,
                mode: mode & 0o7777,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Credentials::parse_file_text(&text, &shown)
    }

    /// Parse the text of a credentials file named `shown` in messages.
    pub fn parse_file_text(text: &str, shown: &str) -> Result<Self, CredentialsError> {
        let shown = shown.to_string();
        let (mut ak, mut sk, mut token) = (None, None, None);
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                if let Some((id, secret)) = line.split_once(':').filter(|(a, b)| !a.is_empty() && !b.is_empty()) {
                    ak = Some(id.trim().to_string());
                    sk = Some(secret.trim().to_string());
                }
                continue;
            };
            let value = value.trim().trim_matches('"').to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "access_key_id" | "bce_access_key_id" => ak = Some(value),
                "secret_access_key" | "bce_secret_access_key" => sk = Some(value),
                "session_token" | "bce_session_token" => token = Some(value),
                _ => {}
            }
        }
        Ok(Credentials {
            access_key_id: ak.ok_or(CredentialsError::Incomplete {
                path: shown.clone(),
                field: "access_key_id",
            })?,
            secret_access_key: sk.ok_or(CredentialsError::Incomplete {
                path: shown,
                field: "secret_access_key",
            })?,
            session_token: token.filter(|t| !t.is_empty()),
        })
    }

    /// Credentials from `file` if given, else the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, CredentialsError> {
        match file {
            Some(path) => Credentials::from_file(path),
            None => Credentials::from_env().ok_or(CredentialsError::Missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let mut c = Credentials::new("AKID", "very-secret");
        c.session_token = Some("token-secret".into());
        let shown = format!("{c:?}");
        assert!(shown.contains("AKID"));
        assert!(!shown.contains("very-secret"));
        assert!(!shown.contains("token-secret"));
    }

    fn private_file(dir: &Path, text: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("creds");
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }

    #[test]
    fn reads_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = private_file(dir.path(), "# c\naccess_key_id = a\nsecret_access_key = \"s\"\n");
        let c = Credentials::from_file(&path).expect("parse");
        assert_eq!(c.access_key_id, "a");
        assert_eq!(c.secret_access_key, "s");
        let path = private_file(dir.path(), "access_key_id = a\n");
        assert!(matches!(
            Credentials::from_file(&path),
            Err(CredentialsError::Incomplete { .. })
        ));
    }

    #[test]
    fn reads_the_ak_sk_form_and_refuses_shared_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = private_file(dir.path(), "# s3fs style\nAKID:se:cret\n");
        let c = Credentials::from_file(&path).expect("parse");
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AKID", "se:cret")
        );
        for mode in [0o644, 0o640, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let error = Credentials::from_file(&path).expect_err("shared");
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
    }
}
