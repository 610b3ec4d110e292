//! `bosmount status PATH [--all]`: the files a running mount is uploading, with bytes sent,
//! size and state — and with `--all` the last outcome of files closed since it started.
//!
//! The control channel is the mount itself: the answer is the virtual extended attribute
//! `user.bosmount.status` of PATH ([`crate::fs::status`]), read with one `getxattr(2)`.
//! On a directory (the mountpoint, or any directory in the mount) it lists the files below
//! it; on a file it is that file's status. Nothing to name, create, clean up after a
//! `kill -9` or secure separately: the kernel routes the request to the mount serving PATH
//! and applies that mount's access rules, and the channel ends with the mount.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::fs::status::{human_bytes, STATUS_XATTR, XATTR_SIZE_MAX};

/// `bosmount status` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The mountpoint, or a directory or file in the mount.
    pub path: PathBuf,
    /// Also list files closed since the mount started, with their last outcome.
    #[arg(long)]
    pub all: bool,
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// PATH cannot be reached.
    #[error("{path}: {source}")]
    Io {
        /// The path asked about.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// PATH is not on a bosmount mount.
    #[error("{0}: not on a bosmount mount (it has no {STATUS_XATTR} attribute)")]
    NotBosmount(String),
}

/// One file of a directory's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// State word (`pending`, `uploading`, `appending`, `committed`, `failed`, `open`).
    pub state: String,
    /// Bytes sent.
    pub sent: u64,
    /// File size.
    pub size: u64,
    /// Still open for writing (else: closed, its last outcome).
    pub open: bool,
    /// Path relative to the directory asked about.
    pub path: String,
    /// The one-line status.
    pub text: String,
}

/// Run the command, printing to stdout.
pub fn run(args: StatusArgs) -> Result<(), StatusError> {
    let answer = read_status(&args.path)?;
    let shown = args.path.display().to_string();
    if !args.path.is_dir() {
        println!("{shown}: {}", answer.trim_end());
        return Ok(());
    }
    let (entries, notes) = parse_listing(&answer);
    let entries: Vec<Entry> = entries.into_iter().filter(|e| args.all || e.open).collect();
    print!("{}", render_table(&entries, &notes, &shown));
    Ok(())
}

/// The value of the status attribute of `path`.
pub fn read_status(path: &Path) -> Result<String, StatusError> {
    let shown = path.display().to_string();
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| StatusError::Io {
        path: shown.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })?;
    let c_name = CString::new(STATUS_XATTR).map_err(|e| StatusError::Io {
        path: shown.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })?;
    // The largest value the kernel passes: one call, no size probe to race with.
    let mut buffer = vec![0u8; XATTR_SIZE_MAX];
    // SAFETY: both strings are NUL-terminated and the buffer is as long as we say.
    let n = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if n < 0 {
        let error = std::io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => StatusError::NotBosmount(shown),
            _ => StatusError::Io {
                path: shown,
                source: error,
            },
        });
    }
    buffer.truncate(n as usize);
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

/// The files of a directory's answer, and its comment lines (`# …`).
pub fn parse_listing(answer: &str) -> (Vec<Entry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    for line in answer.lines() {
        if let Some(note) = line.strip_prefix("# ") {
            notes.push(note.to_string());
            continue;
        }
        let fields: Vec<&str> = line.splitn(6, '\t').collect();
        let [state, sent, size, open, path, text] = fields[..] else {
            continue;
        };
        entries.push(Entry {
            state: state.to_string(),
            sent: sent.parse().unwrap_or(0),
            size: size.parse().unwrap_or(0),
            open: open == "open",
            path: unescape(path),
            text: unescape(text),
        });
    }
    (entries, notes)
}

/// The table `bosmount status` prints for `entries` of the directory `shown`.
pub fn render_table(entries: &[Entry], notes: &[String], shown: &str) -> String {
    if entries.is_empty() {
        let mut out = format!("no files in flight under {shown}\n");
        for note in notes {
            out.push_str(&format!("({note})\n"));
        }
        return out;
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            [
                e.state.clone(),
                human_bytes(e.sent),
                human_bytes(e.size),
                e.path.clone(),
                e.text.clone(),
            ]
        })
        .collect();
    let header = ["STATE", "SENT", "SIZE", "FILE", "STATUS"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (cell, w) in row.iter().take(4).zip(widths) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        line.push_str(&row[4]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for note in notes {
        out.push_str(&format!("({note})\n"));
    }
    out
}

/// Undo [`crate::fs::status::escape_field`].
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::status::escape_field;

    #[test]
    fn listing_round_trips_and_renders() {
        let name = "odd\tname\\x";
        let answer = format!(
            "uploading\t25165824\t41943040\topen\tdir/big.bin\tuploading 3/5 parts (24 MiB of 40 MiB sent)\n\
             failed\t0\t5\tclosed\t{}\tfailed: boom\n# 2 more not shown\n",
            escape_field(name)
        );
        let (entries, notes) = parse_listing(&answer);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].path, name);
        assert!(entries[0].open && !entries[1].open);
        assert_eq!(notes, vec!["2 more not shown".to_string()]);
        let table = render_table(&entries[..1], &notes, "/mnt");
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("STATE"), "{table}");
        assert!(lines[1].starts_with("uploading  24 MiB"), "{table}");
        assert!(
            lines[1].ends_with("uploading 3/5 parts (24 MiB of 40 MiB sent)"),
            "{table}"
        );
        assert_eq!(render_table(&[], &[], "/mnt"), "no files in flight under /mnt\n");
    }
}
