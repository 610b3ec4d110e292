//! The tail buffer of a stream writer: the one part-sized window of the file that is still in
//! memory and may change. Bytes before it are uploaded (or copied) parts; bytes after it are not
//! written yet. Writes anywhere inside the window are accepted, gaps read as zeros.
//!
//! The allocation grows with what is written and never beyond one window, so a small file costs
//! only its own size and a large one at most `part_size`.

use bytes::Bytes;

/// One window `[start, start + limit)` of a file, held in memory.
#[derive(Debug)]
pub struct TailBuffer {
    start: u64,
    limit: usize,
    data: Vec<u8>,
    loaded: bool,
}

impl TailBuffer {
    /// An empty window at `start` of `limit` bytes. `loaded` says whether its content is complete
    /// in memory (nothing of an older object to read in first).
    pub fn new(start: u64, limit: usize, loaded: bool) -> Self {
        TailBuffer {
            start,
            limit,
            data: Vec::new(),
            loaded,
        }
    }

    /// File offset of the window's first byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// File offset just after the window.
    pub fn end(&self) -> u64 {
        self.start + self.limit as u64
    }

    /// Window size.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held (written or loaded), from the window start.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes held, from the window start.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Whether the window's old content (if any) has been read in, so the buffer is the truth.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Mark the window's content as complete without reading anything (no old bytes in it).
    pub fn mark_loaded(&mut self) {
        self.loaded = true;
    }

    /// Put the window's old content in place (before any write to it) and mark it loaded.
    pub fn load(&mut self, old: &[u8]) {
        debug_assert!(self.data.is_empty(), "load into a window that was written");
        let n = old.len().min(self.limit);
        self.reserve_to(n);
        self.data.extend_from_slice(&old[..n]);
        self.loaded = true;
    }

    /// Copy `bytes` to window offset `at`, zero-filling any gap. `at + bytes.len()` must not pass
    /// the window.
    pub fn write_at(&mut self, at: usize, bytes: &[u8]) {
        let end = at + bytes.len();
        assert!(end <= self.limit, "write past the tail window");
        if end > self.data.len() {
            self.reserve_to(end);
            self.data.resize(end, 0);
        }
        self.data[at..end].copy_from_slice(bytes);
    }

    /// Forget everything at window offset `len` and beyond.
    pub fn truncate(&mut self, len: usize) {
        self.data.truncate(len);
    }

    /// The first `len` bytes of the window as a new buffer (zero-padded past what is held).
    pub fn snapshot(&self, len: usize) -> Bytes {
        let mut out = Vec::with_capacity(len);
        let held = len.min(self.data.len());
        out.extend_from_slice(&self.data[..held]);
        out.resize(len, 0);
        Bytes::from(out)
    }

    /// Take the first `len` bytes (zero-padded) as a part body and move the window to the next
    /// one, empty and not loaded. The allocation moves into the returned buffer (no copy).
    pub fn take_part(&mut self, len: usize) -> Bytes {
        let mut data = std::mem::take(&mut self.data);
        data.resize(len, 0);
        self.start += self.limit as u64;
        self.loaded = false;
        Bytes::from(data)
    }

    /// Drop the content and restart as an empty window at `start`.
    pub fn reset(&mut self, start: u64, loaded: bool) {
        self.data = Vec::new();
        self.start = start;
        self.loaded = loaded;
    }

    /// Grow the allocation to hold `needed` bytes: doubling, but never past the window.
    fn reserve_to(&mut self, needed: usize) {
        if needed <= self.data.capacity() {
            return;
        }
        let target = needed.max(self.data.capacity().saturating_mul(2)).min(self.limit);
        let target = target.max(needed);
        self.data.reserve_exact(target - self.data.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_writes_zero_fill_and_stay_within_window() {
        let mut t = TailBuffer::new(0, 16, true);
        t.write_at(4, b"ab");
        assert_eq!(&t.snapshot(8)[..], b"\0\0\0\0ab\0\0");
        t.write_at(0, b"xy");
        assert_eq!(t.len(), 6);
        assert!(t.capacity() <= 16);
        t.write_at(10, b"123456");
        assert_eq!(t.len(), 16);
        assert!(t.capacity() <= 16, "capacity {} grew past the window", t.capacity());
        let part = t.take_part(16);
        assert_eq!(&part[..], b"xy\x00\x00ab\x00\x00\x00\x00123456");
        assert_eq!(t.start(), 16);
        assert!(t.is_empty());
    }

    #[test]
    fn take_part_pads_and_truncate_drops() {
        let mut t = TailBuffer::new(32, 8, false);
        t.load(b"old");
        assert!(t.is_loaded());
        t.write_at(1, b"X");
        t.truncate(2);
        assert_eq!(&t.take_part(4)[..], b"oX\0\0");
        assert!(!t.is_loaded());
        assert_eq!(t.start(), 40);
    }
}
