//! Upload status a user can query: the read-only virtual extended attribute
//! [`STATUS_XATTR`] (`user.bosmount.status`).
//!
//! On a file it answers what this mount is doing with it, in one line: `pending …` (open,
//! nothing sent), `uploading k/n parts (… of … sent)`, `appending (N bytes sent, M waiting)`,
//! `committed etag=… size=…` (after the last close or fsync of this mount), `failed: <error>`,
//! or `stored etag=… size=…` for a file this mount did not write. On a directory it answers
//! the files in flight below it (and the last outcome of files closed since the mount
//! started), one tab-separated line each — what `bosmount status` prints ([`crate::ops::status`]).
//!
//! Where the answer comes from: while a file is open for writing, from its one
//! [`WriteSlot`]'s writer, through the counters the writer updates as it goes
//! ([`Progress`]) — read without the slot's lock, so a query never waits for a write held
//! by back-pressure or a close waiting for its parts. When the last write handle closes,
//! the writer's final state is kept as the file's [`Outcome`] (a bounded log keyed by object
//! key); that is the only thing kept, and only once the writer is gone.
//!
//! The attribute is hidden from `listxattr`: `cp -a`, `rsync -X` and `getfattr -d` copy or
//! show every listed name, and would store a stale status on the destination (or fail to
//! set it on another bosmount mount). Setting or removing it is refused with EPERM.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fs::attr::NodeKind;
use crate::fs::error::{FsError, FsResult};
use crate::fs::handles::{SlotState, WriteSlot};
use crate::fs::inode::InodeNo;
use crate::fs::meta_cache::Cached;
use crate::fs::write::progress::{Progress, Snapshot, WriterKind};
use crate::fs::BosFs;

/// Name of the virtual attribute.
pub const STATUS_XATTR: &str = "user.bosmount.status";

/// Most outcomes of closed files remembered (the oldest are forgotten first).
const OUTCOME_CAPACITY: usize = 4096;

/// Largest answer the kernel accepts for an extended attribute (XATTR_SIZE_MAX).
pub const XATTR_SIZE_MAX: usize = 65536;

/// A directory's answer stops before this many bytes, leaving room for the last line.
const LISTING_BUDGET: usize = XATTR_SIZE_MAX - 1024;

/// Whether `name` is the virtual status attribute.
pub fn is_status_name(name: &OsStr) -> bool {
    name.as_bytes() == STATUS_XATTR.as_bytes()
}

/// The size to announce when a caller asks how large `name`'s value of `len` bytes is
/// (`getxattr` with size 0): the status changes between that call and the read, so it
/// announces room to grow rather than a size the next answer may pass (ERANGE).
pub fn announced_size(name: &OsStr, len: usize) -> usize {
    if is_status_name(name) {
        (len + len / 2 + 256).min(XATTR_SIZE_MAX)
    } else {
        len
    }
}

/// What became of a file's last upload by this mount, kept once its writer closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored: the object's ETag and size.
    Committed {
        /// ETag of the stored object.
        etag: String,
        /// Its size.
        size: u64,
        /// Bytes this mount sent for it.
        sent: u64,
    },
    /// The upload failed (or was left unstored); the bucket keeps what it had.
    Failed {
        /// Why.
        error: String,
        /// Bytes written.
        size: u64,
        /// Bytes sent before the failure.
        sent: u64,
    },
}

/// The outcomes of closed files, by object key, oldest forgotten first.
#[derive(Debug, Default)]
pub(crate) struct OutcomeLog {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    by_key: HashMap<String, (u64, Outcome)>,
    order: VecDeque<(u64, String)>,
    next: u64,
}

impl LogInner {
    /// Entries replaced or moved since leave stale order records; drop them when they pile up.
    fn compact(&mut self) {
        if self.order.len() > 2 * OUTCOME_CAPACITY {
            let LogInner { by_key, order, .. } = self;
            order.retain(|(s, k)| by_key.get(k).is_some_and(|(cur, _)| cur == s));
        }
    }
}

impl OutcomeLog {
    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remember `outcome` for `key` (replacing an older one).
    pub fn record(&self, key: &str, outcome: Outcome) {
        let mut log = self.lock();
        log.next += 1;
        let seq = log.next;
        log.by_key.insert(key.to_string(), (seq, outcome));
        log.order.push_back((seq, key.to_string()));
        while log.by_key.len() > OUTCOME_CAPACITY {
            let Some((old_seq, old_key)) = log.order.pop_front() else {
                break;
            };
            if log.by_key.get(&old_key).is_some_and(|(s, _)| *s == old_seq) {
                log.by_key.remove(&old_key);
            }
        }
        log.compact();
    }

    /// The outcome remembered for `key`.
    pub fn get(&self, key: &str) -> Option<Outcome> {
        self.lock().by_key.get(key).map(|(_, o)| o.clone())
    }

    /// Forget `key` (its object changed by other means).
    pub fn forget(&self, key: &str) {
        self.lock().by_key.remove(key);
    }

    /// A rename moved the object at `from` to `to` (with `tree`, every key below the directory
    /// key `from` to the same place below `to`): their outcomes follow, and what was
    /// remembered for the replaced names is dropped. `etag`: the moved file's new ETag when
    /// the copy changed it (a streamed or multipart copy).
    pub fn moved(&self, from: &str, to: &str, tree: bool, etag: Option<&str>) {
        let mut log = self.lock();
        let LogInner { by_key, order, .. } = &mut *log;
        let renamed = |key: &str| -> Option<String> {
            if tree {
                key.strip_prefix(from).map(|rest| format!("{to}{rest}"))
            } else {
                (key == from).then(|| to.to_string())
            }
        };
        by_key.retain(|key, _| if tree { !key.starts_with(to) } else { key != to });
        let moving: Vec<String> = by_key.keys().filter(|k| renamed(k).is_some()).cloned().collect();
        for old in moving {
            if let (Some(mut entry), Some(new)) = (by_key.remove(&old), renamed(&old)) {
                if let (Outcome::Committed { etag: kept, .. }, Some(etag)) = (&mut entry.1, etag) {
                    *kept = etag.trim_matches('"').to_string();
                }
                order.push_back((entry.0, new.clone()));
                by_key.insert(new, entry);
            }
        }
        log.compact();
    }

    /// Every remembered outcome whose key starts with `prefix`, oldest first.
    pub fn under(&self, prefix: &str) -> Vec<(String, Outcome)> {
        let log = self.lock();
        let mut found: Vec<(u64, String, Outcome)> = log
            .by_key
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (s, o))| (*s, k.clone(), o.clone()))
            .collect();
        found.sort_by_key(|(s, _, _)| *s);
        found.into_iter().map(|(_, k, o)| (k, o)).collect()
    }
}

/// One line of a status: a state word, bytes sent, the file's size and the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// `pending`, `uploading`, `appending`, `committed`, `failed`, `open` or `stored`.
    pub state: &'static str,
    /// Bytes this mount stored for the file.
    pub sent: u64,
    /// The file's size.
    pub size: u64,
    /// The one-line status.
    pub text: String,
}

/// `n` bytes for a person: `512 bytes`, `24 MiB`, `1.5 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// The status of a writer whose counters are `s` (`part_size` numbers its parts).
pub fn describe_writer(s: &Snapshot, part_size: u64) -> Described {
    let line = |state, text| Described {
        state,
        sent: s.sent,
        size: s.size,
        text,
    };
    if let Some(error) = &s.error {
        return line("failed", format!("failed: {error}"));
    }
    match s.kind {
        WriterKind::Append if s.sent == 0 && s.held == 0 => line("pending", "pending (nothing written)".into()),
        WriterKind::Append => line(
            "appending",
            format!("appending ({} bytes sent, {} waiting)", s.sent, s.held),
        ),
        WriterKind::Stream if s.uploading && s.parts_started > 0 => {
            let needed = s.size.div_ceil(part_size.max(1));
            let total = u64::from(s.parts_started).max(needed);
            line(
                "uploading",
                format!(
                    "uploading {}/{total} parts ({} of {} sent)",
                    s.parts_done,
                    human_bytes(s.sent),
                    human_bytes(s.size)
                ),
            )
        }
        WriterKind::Stream if s.uploading => line(
            "uploading",
            format!("uploading ({} in one request)", human_bytes(s.size)),
        ),
        WriterKind::Stream if s.dirty => line(
            "pending",
            format!("pending ({} written, nothing sent)", human_bytes(s.size)),
        ),
        WriterKind::Stream => match &s.etag {
            Some(etag) => line("committed", format!("committed etag={etag} size={}", s.size)),
            None => line("open", "open (unchanged)".into()),
        },
    }
}

/// The status of a closed file from its remembered outcome.
pub fn describe_outcome(o: &Outcome) -> Described {
    match o {
        Outcome::Committed { etag, size, sent } => Described {
            state: "committed",
            sent: *sent,
            size: *size,
            text: format!("committed etag={etag} size={size}"),
        },
        Outcome::Failed { error, size, sent } => Described {
            state: "failed",
            sent: *sent,
            size: *size,
            text: format!("failed: {error}"),
        },
    }
}

/// What a writer's final counters leave as its file's outcome (nothing when it did nothing).
pub fn outcome_of(s: &Snapshot) -> Option<Outcome> {
    if let Some(error) = &s.error {
        return Some(Outcome::Failed {
            error: error.clone(),
            size: s.size,
            sent: s.sent,
        });
    }
    if s.dirty {
        return Some(Outcome::Failed {
            error: "closed before its changes were stored".into(),
            size: s.size,
            sent: s.sent,
        });
    }
    s.etag.as_ref().map(|etag| Outcome::Committed {
        etag: etag.clone(),
        size: s.size,
        sent: s.sent,
    })
}

/// Escape tabs, newlines and backslashes of a name for the tab-separated listing.
pub fn escape_field(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The counters of the writer a slot holds now: read under the lock when it is free (and
/// shown on the slot for the next query), else the ones the slot last showed.
pub(crate) fn slot_progress(slot: &WriteSlot) -> Option<Progress> {
    match slot.state.try_lock() {
        Ok(state) => {
            slot.show(&state);
            state.writer.as_ref().map(|w| w.progress())
        }
        Err(_) => slot.shown(),
    }
}

impl BosFs {
    /// The answer of [`STATUS_XATTR`] for `ino`.
    pub(crate) async fn status_xattr(&self, ino: InodeNo) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        let text = if node.kind == NodeKind::Directory {
            self.tree_status(&node.key)
        } else {
            self.file_status(ino).await?.text
        };
        Ok(text.into_bytes())
    }

    /// The status of file `ino`.
    pub(crate) async fn file_status(&self, ino: InodeNo) -> FsResult<Described> {
        let part_size = self.config.write.part_size as u64;
        if let Some(slot) = self.handles.slot_of(ino) {
            if let Some(progress) = slot_progress(&slot) {
                return Ok(describe_writer(&progress.snapshot(), part_size));
            }
            return Ok(Described {
                state: "open",
                sent: 0,
                size: self.node(ino)?.local.map_or(0, |l| l.size),
                text: "open (unchanged)".into(),
            });
        }
        let node = self.node(ino)?;
        let key = node.live_key().ok_or(FsError::NotFound)?.to_string();
        if let Some(outcome) = self.outcomes.get(&key) {
            // Our record holds while the bucket (as last seen) still has what we stored.
            let replaced = match (&outcome, self.cache().get(&key)) {
                (Outcome::Committed { etag, .. }, Some(Cached::Found(attr))) => {
                    attr.etag.as_ref().is_some_and(|seen| seen != etag)
                }
                _ => false,
            };
            if !replaced {
                return Ok(describe_outcome(&outcome));
            }
            self.outcomes.forget(&key);
        }
        let meta = self.known_meta(&key).await?;
        Ok(Described {
            state: "stored",
            sent: 0,
            size: meta.size,
            text: format!("stored etag={} size={}", meta.etag, meta.size),
        })
    }

    /// The listing of files in flight (then closed files' outcomes) below directory key `dir`:
    /// `STATE\tSENT\tSIZE\topen|closed\tPATH\tSTATUS` lines, PATH relative to `dir`.
    pub(crate) fn tree_status(&self, dir: &str) -> String {
        let part_size = self.config.write.part_size as u64;
        let mut lines = Vec::new();
        let mut open_keys = std::collections::HashSet::new();
        let mut slots: Vec<Arc<WriteSlot>> = self.handles.all_slots();
        slots.sort_by_key(|s| s.ino);
        for slot in slots {
            let Some(node) = self.inodes().get(slot.ino) else {
                continue;
            };
            let Some(key) = node.live_key().map(str::to_string) else {
                continue;
            };
            let Some(rel) = key.strip_prefix(dir) else {
                continue;
            };
            let described = match slot_progress(&slot) {
                Some(progress) => describe_writer(&progress.snapshot(), part_size),
                None => Described {
                    state: "open",
                    sent: 0,
                    size: node.local.map_or(0, |l| l.size),
                    text: "open (unchanged)".into(),
                },
            };
            lines.push(listing_line(&described, "open", rel));
            open_keys.insert(key);
        }
        for (key, outcome) in self.outcomes.under(dir) {
            if open_keys.contains(&key) {
                continue;
            }
            let rel = key.strip_prefix(dir).unwrap_or(&key);
            lines.push(listing_line(&describe_outcome(&outcome), "closed", rel));
        }
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            if out.len() + line.len() > LISTING_BUDGET {
                out.push_str(&format!("# {} more not shown\n", lines.len() - i));
                break;
            }
            out.push_str(line);
        }
        out
    }

    /// The last write handle of `state`'s slot is going: keep what its writer left as the
    /// file's outcome (under the key it has now).
    pub(crate) fn note_outcome(&self, ino: InodeNo, state: &SlotState) {
        if state.orphaned {
            return;
        }
        let Some(writer) = state.writer.as_ref() else {
            return;
        };
        let Some(key) = self.inodes().get(ino).and_then(|n| n.live_key().map(str::to_string)) else {
            return;
        };
        if let Some(outcome) = outcome_of(&writer.progress().snapshot()) {
            self.outcomes.record(&key, outcome);
        }
    }
}

fn listing_line(d: &Described, open: &str, path: &str) -> String {
    format!(
        "{}\t{}\t{}\t{open}\t{}\t{}\n",
        d.state,
        d.sent,
        d.size,
        escape_field(path),
        escape_field(&d.text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(kind: WriterKind) -> Snapshot {
        Snapshot {
            kind,
            size: 0,
            sent: 0,
            parts_done: 0,
            parts_started: 0,
            held: 0,
            uploading: false,
            dirty: true,
            etag: None,
            error: None,
        }
    }

    #[test]
    fn writer_states_read_as_sentences() {
        let mib = 1024 * 1024;
        let mut s = snap(WriterKind::Stream);
        s.size = 5 * mib;
        assert_eq!(
            describe_writer(&s, 8 * mib).text,
            "pending (5 MiB written, nothing sent)"
        );
        s.size = 40 * mib;
        s.uploading = true;
        s.parts_started = 4;
        s.parts_done = 3;
        s.sent = 24 * mib;
        assert_eq!(
            describe_writer(&s, 8 * mib).text,
            "uploading 3/5 parts (24 MiB of 40 MiB sent)"
        );
        s.uploading = false;
        s.dirty = false;
        s.etag = Some("abc".into());
        let d = describe_writer(&s, 8 * mib);
        assert_eq!(
            (d.state, d.text.as_str()),
            ("committed", "committed etag=abc size=41943040")
        );
        s.error = Some("upload failed: boom".into());
        assert_eq!(describe_writer(&s, 8 * mib).text, "failed: upload failed: boom");
        let mut a = snap(WriterKind::Append);
        a.sent = 1234;
        a.held = 56;
        assert_eq!(describe_writer(&a, 1).text, "appending (1234 bytes sent, 56 waiting)");
    }

    #[test]
    fn outcomes_follow_the_final_counters() {
        let mut s = snap(WriterKind::Stream);
        assert!(matches!(outcome_of(&s), Some(Outcome::Failed { .. })));
        s.dirty = false;
        assert_eq!(outcome_of(&s), None);
        s.etag = Some("e".into());
        s.size = 3;
        assert_eq!(
            outcome_of(&s),
            Some(Outcome::Committed {
                etag: "e".into(),
                size: 3,
                sent: 0
            })
        );
    }

    /// A committed outcome whose ETag, size and bytes sent are all `n`.
    fn ok(n: u64) -> Outcome {
        Outcome::Committed {
            etag: n.to_string(),
            size: n,
            sent: n,
        }
    }

    #[test]
    fn the_log_is_bounded_and_keeps_the_newest() {
        let log = OutcomeLog::default();
        for i in 0..(OUTCOME_CAPACITY as u64 + 10) {
            log.record(&format!("d/{i}"), ok(i));
            log.record("d/again", ok(i));
        }
        assert_eq!(log.get("d/0"), None);
        assert!(log.get(&format!("d/{}", OUTCOME_CAPACITY + 9)).is_some());
        assert_eq!(log.get("d/again"), Some(ok(OUTCOME_CAPACITY as u64 + 9)));
        assert!(log.lock().by_key.len() <= OUTCOME_CAPACITY);
        assert!(log.lock().order.len() <= 2 * OUTCOME_CAPACITY + 1);
        assert!(log.under("x/").is_empty());
    }

    #[test]
    fn outcomes_follow_renames_of_files_and_trees() {
        let log = OutcomeLog::default();
        log.record("a", ok(1));
        log.record("b", ok(2));
        log.moved("a", "b", false, None);
        assert_eq!((log.get("a"), log.get("b")), (None, Some(ok(1))));
        log.moved("b", "c", false, Some("\"new\""));
        assert_eq!(
            log.get("c"),
            Some(Outcome::Committed {
                etag: "new".into(),
                size: 1,
                sent: 1
            }),
            "a copy that changed the ETag"
        );
        for i in 0..3 * OUTCOME_CAPACITY {
            let (from, to) = if i % 2 == 0 { ("c", "b") } else { ("b", "c") };
            log.moved(from, to, false, None);
        }
        assert!(
            log.lock().order.len() <= 2 * OUTCOME_CAPACITY + 1,
            "renames do not grow the log"
        );
        log.record("d/x", ok(3));
        log.record("d/e/y", ok(4));
        log.record("dd/z", ok(5));
        log.record("t/old", ok(6));
        log.moved("d/", "t/", true, None);
        assert_eq!(log.get("t/x"), Some(ok(3)));
        assert_eq!(log.get("t/e/y"), Some(ok(4)));
        assert_eq!(log.get("t/old"), None, "the replaced directory held nothing more");
        assert_eq!(log.get("dd/z"), Some(ok(5)), "a sibling with a longer name stays");
        assert!(log.under("d/").is_empty());
    }

    #[test]
    fn sizes_and_fields() {
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(24 * 1024 * 1024), "24 MiB");
        assert_eq!(escape_field("a\tb\\c\n"), "a\\tb\\\\c\\n");
        assert_eq!(announced_size(OsStr::new(STATUS_XATTR), 10), 271);
        assert_eq!(announced_size(OsStr::new("user.x"), 10), 10);
    }
}
