//! Blob files: object content on disk under `DATA/blobs/<id>`, named by generated ids
//! (never by keys, so no key can reach a path outside the data directory). Request bodies
//! are received into `DATA/tmp/` in batches of arrived chunks written by the body writer
//! pool ([`super::io_pool`]), hashed on the fly, fsynced, then renamed into `blobs/` (and
//! the directory fsynced).
//! Reads stream from disk in bounded chunks.

use super::io_pool::IoPool;
use crate::server::error::{ApiError, ApiResult};
use crate::server::stats::Stats;
use axum::body::Body;
use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use md5::Md5;
use sha2::Sha256;
use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Most bytes of arrived body chunks written in one job of the body writer pool.
pub const WRITE_BATCH: usize = 1024 * 1024;
/// Size of the chunks GETs and copies read.
const READ_CHUNK: usize = 256 * 1024;

/// Where blob files and temporary files live.
#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

/// Digests of a received body.
#[derive(Debug, Clone)]
pub struct Received {
    /// Bytes received.
    pub size: u64,
    /// MD5.
    pub md5: [u8; 16],
    /// CRC-32 (IEEE).
    pub crc32: u32,
    /// SHA-256, when asked for.
    pub sha256: Option<[u8; 32]>,
    /// MD5 of the whole content after this write: the body's own MD5 for a new file, the
    /// resumed hash of the old content plus the body for an append.
    pub content_md5: [u8; 16],
    /// The serialized state behind `content_md5` (see [`super::md5_state`]), `None` for
    /// an append to content whose state was not known.
    pub content_md5_state: Option<String>,
}

impl Received {
    /// Lower-case hex MD5 (the ETag).
    pub fn md5_hex(&self) -> String {
        crate::bos::auth::hex_lower(&self.md5)
    }

    /// Base64 MD5 (the Content-MD5 form).
    pub fn md5_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.md5)
    }

    /// Base64 MD5 of the whole content, when known.
    pub fn content_md5_base64(&self) -> Option<String> {
        use base64::Engine;
        self.content_md5_state
            .as_ref()
            .map(|_| base64::engine::general_purpose::STANDARD.encode(self.content_md5))
    }
}

/// Where a body is written.
#[derive(Debug, Clone)]
pub enum Target {
    /// A new temporary file.
    New(PathBuf),
    /// An existing blob, at `offset` (anything after it is cut first).
    Append {
        /// The blob file.
        path: PathBuf,
        /// Where the new bytes go.
        offset: u64,
        /// MD5 state of the blob's first `offset` bytes, extended with the new bytes.
        resume: Option<Box<Md5>>,
    },
}

/// A temporary file removed on drop unless kept.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Do not remove it (it was renamed away).
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let path = std::mem::take(&mut self.path);
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn_blocking(move || remove_quietly(&path));
                }
                Err(_) => remove_quietly(&path),
            }
        }
    }
}

fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            log::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// Digests of a body held in memory.
pub fn hash_bytes(data: &[u8], want_sha256: bool) -> Received {
    let mut hashers = Hashers::new(want_sha256, Whole::Body);
    hashers.update(data);
    hashers.finish()
}

/// A new random id (32 hex digits).
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    crate::bos::auth::hex_lower(&bytes)
}

/// Where the whole-content MD5 comes from.
enum Whole {
    /// The body is the whole content.
    Body,
    /// Old content (resumed state) followed by the body.
    Resumed(Box<Md5>),
    /// Old content of unknown digest.
    Unknown,
}

struct Hashers {
    md5: Md5,
    whole: Whole,
    crc: crc32fast::Hasher,
    sha: Option<Sha256>,
    size: u64,
}

impl Hashers {
    fn new(want_sha256: bool, whole: Whole) -> Self {
        Hashers {
            md5: md5::Digest::new(),
            whole,
            crc: crc32fast::Hasher::new(),
            sha: want_sha256.then(<Sha256 as sha2::Digest>::new),
            size: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        md5::Digest::update(&mut self.md5, data);
        if let Whole::Resumed(h) = &mut self.whole {
            md5::Digest::update(h.as_mut(), data);
        }
        self.crc.update(data);
        if let Some(sha) = &mut self.sha {
            sha2::Digest::update(sha, data);
        }
        self.size += data.len() as u64;
    }

    fn finish(self) -> Received {
        let (content_md5, content_md5_state) = match &self.whole {
            Whole::Body => (
                super::md5_state::digest_of(&self.md5),
                Some(super::md5_state::save(&self.md5)),
            ),
            Whole::Resumed(h) => (super::md5_state::digest_of(h), Some(super::md5_state::save(h))),
            Whole::Unknown => ([0; 16], None),
        };
        Received {
            size: self.size,
            md5: md5::Digest::finalize(self.md5).into(),
            crc32: self.crc.finalize(),
            sha256: self.sha.map(|s| sha2::Digest::finalize(s).into()),
            content_md5,
            content_md5_state,
        }
    }
}

/// A chunk of a request body, or 400 IncompleteBody when the body broke off.
fn read_chunk(item: Result<Bytes, axum::Error>) -> ApiResult<Bytes> {
    item.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "IncompleteBody",
            format!("The request body could not be read: {e}"),
        )
    })
}

/// A body file being written, with the hashes of what went in.
struct BodyWriter {
    file: File,
    hashers: Hashers,
}

impl BodyWriter {
    /// Create the new file, or open the blob and cut it at the append offset. Blocking.
    fn open(target: Target, want_sha256: bool) -> io::Result<Self> {
        let (file, whole) = match target {
            Target::New(path) => (OpenOptions::new().write(true).create_new(true).open(path)?, Whole::Body),
            Target::Append { path, offset, resume } => {
                let mut f = OpenOptions::new().write(true).open(path)?;
                f.set_len(offset)?;
                f.seek(SeekFrom::Start(offset))?;
                (f, resume.map_or(Whole::Unknown, Whole::Resumed))
            }
        };
        Ok(BodyWriter {
            file,
            hashers: Hashers::new(want_sha256, whole),
        })
    }

    /// Write and hash one chunk. Blocking.
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk)?;
        self.hashers.update(chunk);
        Ok(())
    }

    /// Fsync and return the digests. Blocking.
    fn finish(self) -> io::Result<Received> {
        self.file.sync_all()?;
        Ok(self.hashers.finish())
    }
}

impl BlobStore {
    /// Create (if needed) `root/blobs` and `root/tmp`. Blocking.
    pub fn open(root: &Path) -> io::Result<Self> {
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&blobs)?;
        std::fs::create_dir_all(&tmp)?;
        Ok(BlobStore { blobs, tmp })
    }

    /// The directory of the blobs.
    pub fn dir(&self) -> &Path {
        &self.blobs
    }

    /// Path of blob `id`.
    pub fn path(&self, id: &str) -> PathBuf {
        self.blobs.join(id)
    }

    /// A fresh temporary file name (not created).
    pub fn temp(&self) -> TempFile {
        TempFile {
            path: self.tmp.join(new_id()),
            armed: true,
        }
    }

    /// Remove temporary files and blobs not in `referenced` (left by a crash). Blocking.
    pub fn cleanup(&self, referenced: &HashSet<String>) -> io::Result<(usize, usize)> {
        let mut temps = 0;
        for entry in std::fs::read_dir(&self.tmp)? {
            let entry = entry?;
            remove_quietly(&entry.path());
            temps += 1;
        }
        let mut orphans = 0;
        for entry in std::fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                remove_quietly(&entry.path());
                orphans += 1;
            }
        }
        Ok((temps, orphans))
    }

    /// Cut each blob of `committed` (id, length) that is longer than its committed length
    /// back to it: the tail of an append that was not committed before a crash. Returns
    /// how many were cut. Blocking.
    pub fn trim_to_committed(&self, committed: &[(String, u64)]) -> io::Result<usize> {
        let mut cut = 0;
        for (id, len) in committed {
            let on_disk = match std::fs::metadata(self.path(id)) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if on_disk > *len {
                self.truncate(id, *len)?;
                cut += 1;
            }
        }
        Ok(cut)
    }

    /// Move a finished (fsynced) temporary file into `blobs/` under a new id. The rename
    /// becomes durable with the directory fsync that precedes the durable index commit of
    /// the record referring to it (group commit), not here. Blocking.
    pub fn install(&self, temp: &mut TempFile) -> io::Result<String> {
        let id = new_id();
        std::fs::rename(&temp.path, self.path(&id))?;
        temp.disarm();
        Ok(id)
    }

    /// A new blob sharing the content of `id` (a hard link; blobs of Normal objects never
    /// change). Durable with the next index commit, like [`BlobStore::install`]. Blocking.
    pub fn link(&self, id: &str) -> io::Result<String> {
        let new = new_id();
        std::fs::hard_link(self.path(id), self.path(&new))?;
        Ok(new)
    }

    /// Remove blobs (missing ones are fine). Blocking.
    pub fn remove(&self, ids: &[String]) {
        for id in ids {
            remove_quietly(&self.path(id));
        }
    }

    /// Cut blob `id` back to `len` bytes. Blocking.
    pub fn truncate(&self, id: &str, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.path(id))?;
        file.set_len(len)?;
        file.sync_all()
    }

    /// Write a body held in memory to the new file `temp`, hashing it, then fsync. Blocking.
    pub fn write_small(&self, temp: &TempFile, data: &[u8], want_sha256: bool) -> io::Result<Received> {
        let mut out = OpenOptions::new().write(true).create_new(true).open(temp.path())?;
        out.write_all(data)?;
        out.sync_all()?;
        Ok(hash_bytes(data, want_sha256))
    }

    /// Copy `pieces` (blob id, offset, length) into `temp`, hashing, then fsync. Blocking.
    pub fn copy_into(&self, pieces: &[(String, u64, u64)], temp: &TempFile) -> io::Result<Received> {
        let mut out = OpenOptions::new().write(true).create_new(true).open(temp.path())?;
        let mut hashers = Hashers::new(false, Whole::Body);
        let mut buf = vec![0u8; READ_CHUNK * 4];
        for (id, offset, len) in pieces {
            let mut file = File::open(self.path(id))?;
            file.seek(SeekFrom::Start(*offset))?;
            let mut left = *len;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = file.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "blob shorter than recorded",
                    ));
                }
                out.write_all(&buf[..n])?;
                hashers.update(&buf[..n]);
                left -= n as u64;
            }
        }
        out.sync_all()?;
        Ok(hashers.finish())
    }

    /// Receive `body` into `target`, at most `limit` bytes, hashing as it arrives; the file
    /// is fsynced before this returns. Opening, writing and the fsync run on `pool`, one
    /// batch of arrived chunks (at most [`WRITE_BATCH`] bytes) at a time, so memory stays
    /// bounded and a stalled body holds no thread while it waits.
    pub async fn receive(
        &self,
        body: Body,
        target: Target,
        limit: u64,
        want_sha256: bool,
        stats: &Arc<Stats>,
        pool: &IoPool,
    ) -> ApiResult<Received> {
        let mut writer = Some(pool.run(move || BodyWriter::open(target, want_sha256)).await??);
        let mut stream = body.into_data_stream();
        let mut total = 0u64;
        loop {
            let Some(first) = stream.next().await else { break };
            let mut batch = vec![read_chunk(first)?];
            let mut batch_len = batch[0].len();
            let mut ended = false;
            while batch_len < WRITE_BATCH {
                match stream.next().now_or_never() {
                    Some(Some(item)) => {
                        let chunk = read_chunk(item)?;
                        batch_len += chunk.len();
                        batch.push(chunk);
                    }
                    Some(None) => {
                        ended = true;
                        break;
                    }
                    None => break,
                }
            }
            total += batch_len as u64;
            stats.add_in(batch_len as u64);
            if total > limit {
                return Err(ApiError::entity_too_large());
            }
            let mut w = writer.take().ok_or_else(|| ApiError::internal("body writer lost"))?;
            writer = Some(
                pool.run(move || -> io::Result<BodyWriter> {
                    for chunk in &batch {
                        w.write(chunk)?;
                    }
                    Ok(w)
                })
                .await??,
            );
            if ended {
                break;
            }
        }
        let w = writer.take().ok_or_else(|| ApiError::internal("body writer lost"))?;
        Ok(pool.run(move || w.finish()).await??)
    }

    /// Stream `pieces` (blob id, offset, length). `pin` keeps the blobs on disk until the
    /// stream is done or dropped, so a replace or delete during the read cannot cut it short.
    pub async fn stream(
        &self,
        pieces: Vec<(String, u64, u64)>,
        stats: Arc<Stats>,
        pin: super::BlobPin,
    ) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
        let mut queue: VecDeque<(PathBuf, u64, u64)> = pieces
            .into_iter()
            .map(|(id, off, len)| (self.path(&id), off, len))
            .collect();
        let first = match queue.pop_front() {
            Some((path, off, len)) => {
                let mut file = tokio::fs::File::open(&path).await?;
                file.seek(SeekFrom::Start(off)).await?;
                Some((file, len))
            }
            None => None,
        };
        struct State {
            queue: VecDeque<(PathBuf, u64, u64)>,
            current: Option<(tokio::fs::File, u64)>,
            stats: Arc<Stats>,
            _pin: super::BlobPin,
        }
        let state = State {
            queue,
            current: first,
            stats,
            _pin: pin,
        };
        Ok(futures_util::stream::unfold(Some(state), |state| async move {
            let mut st = state?;
            loop {
                match st.current.take() {
                    Some((mut file, left)) if left > 0 => {
                        let want = READ_CHUNK.min(usize::try_from(left).unwrap_or(usize::MAX));
                        let mut buf = vec![0u8; want];
                        match file.read(&mut buf).await {
                            Ok(0) => {
                                let e = io::Error::new(io::ErrorKind::UnexpectedEof, "blob shorter than recorded");
                                return Some((Err(e), None));
                            }
                            Ok(n) => {
                                buf.truncate(n);
                                st.stats.add_out(n as u64);
                                st.current = Some((file, left - n as u64));
                                return Some((Ok(Bytes::from(buf)), Some(st)));
                            }
                            Err(e) => return Some((Err(e), None)),
                        }
                    }
                    _ => {
                        let (path, off, len) = st.queue.pop_front()?;
                        let opened = async {
                            let mut file = tokio::fs::File::open(&path).await?;
                            file.seek(SeekFrom::Start(off)).await?;
                            Ok::<_, io::Error>(file)
                        }
                        .await;
                        match opened {
                            Ok(file) => st.current = Some((file, len)),
                            Err(e) => return Some((Err(e), None)),
                        }
                    }
                }
            }
        }))
    }
}
