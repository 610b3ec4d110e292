//! The index: a redb database mapping (bucket, key) → object record, ordered by key bytes
//! so a listing is a range scan, plus buckets, multipart uploads and parts. Every write is
//! one transaction, answered once durable (group commit, see [`super::group_commit`]);
//! conditions are checked inside it, so they are atomic.
//! All methods block: call them from `spawn_blocking`.

use super::group_commit::GroupCommit;
use super::records::{BucketRecord, ObjectRecord, PartRecord, UploadRecord};
use crate::server::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
const UPLOADS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("uploads");
const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");
/// Content of small objects, by inline blob id; written and dropped in the same
/// transactions as the records that use them.
const INLINE: TableDefinition<&str, &[u8]> = TableDefinition::new("inline");

fn enc<T: Serialize>(value: &T) -> ApiResult<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

fn dec<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Parameters of a listing.
#[derive(Debug, Clone, Copy)]
pub struct ListParams<'a> {
    /// Keys start with this.
    pub prefix: &'a str,
    /// Group by this (one character).
    pub delimiter: Option<&'a str>,
    /// Only after this.
    pub marker: Option<&'a str>,
    /// Page size (contents + prefixes).
    pub max: usize,
}

/// A page of a listing.
#[derive(Debug, Default)]
pub struct Listing {
    /// Objects.
    pub contents: Vec<(String, ObjectRecord)>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// Last key or prefix returned, when truncated.
    pub next_marker: Option<String>,
}

/// The smallest string greater than every string starting with `prefix` whose last
/// character is the delimiter (that character is bumped by one).
fn skip_past(prefix: &str) -> String {
    let mut s = prefix.to_string();
    match s.pop() {
        Some(c) => {
            let next = char::from_u32(c as u32 + 1).unwrap_or(char::MAX);
            s.push(next);
            if next == char::MAX {
                s.push(char::MAX);
            }
            s
        }
        None => s,
    }
}

/// The database.
#[derive(Debug)]
pub struct Index {
    db: Database,
    group: GroupCommit,
}

impl Index {
    /// Open or create the database at `path`. `blob_dir`, when given, is fsynced before
    /// every durable commit, so blobs renamed into it are durable before a record refers to
    /// them (see [`GroupCommit`]).
    pub fn open(path: &Path, blob_dir: Option<PathBuf>) -> ApiResult<Self> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        {
            txn.open_table(BUCKETS)?;
            txn.open_table(OBJECTS)?;
            txn.open_table(UPLOADS)?;
            txn.open_table(PARTS)?;
            txn.open_table(INLINE)?;
        }
        txn.commit()?;
        Ok(Index {
            db,
            group: GroupCommit::new(blob_dir),
        })
    }

    /// Commit `txn` durably, grouped with concurrent commits. Blocking.
    fn commit(&self, txn: WriteTransaction) -> ApiResult<()> {
        self.group.commit(&self.db, txn)
    }

    /// Every bucket, by name.
    pub fn buckets(&self) -> ApiResult<Vec<(String, BucketRecord)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BUCKETS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            let (k, v) = item?;
            out.push((k.value().to_string(), dec(v.value())?));
        }
        Ok(out)
    }

    /// Create a bucket; `false` when it exists.
    pub fn create_bucket(&self, name: &str, record: &BucketRecord) -> ApiResult<bool> {
        let txn = self.db.begin_write()?;
        let created = {
            let mut table = txn.open_table(BUCKETS)?;
            if table.get(name)?.is_some() {
                false
            } else {
                table.insert(name, enc(record)?.as_slice())?;
                true
            }
        };
        self.commit(txn)?;
        Ok(created)
    }

    /// Delete an empty bucket (its unfinished uploads go with it); the blobs to remove.
    pub fn delete_bucket(&self, name: &str) -> ApiResult<Vec<String>> {
        let txn = self.db.begin_write()?;
        let mut blobs = Vec::new();
        {
            let mut buckets = txn.open_table(BUCKETS)?;
            if buckets.get(name)?.is_none() {
                return Err(ApiError::no_such_bucket());
            }
            let objects = txn.open_table(OBJECTS)?;
            let mut range = objects.range::<(&str, &str)>((name, "")..)?;
            if let Some(item) = range.next() {
                let (k, _) = item?;
                if k.value().0 == name {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "BucketNotEmpty",
                        "The bucket you tried to delete is not empty.",
                    ));
                }
            }
            let mut uploads = txn.open_table(UPLOADS)?;
            let mut parts = txn.open_table(PARTS)?;
            let ids: Vec<String> = uploads
                .range::<(&str, &str)>((name, "")..)?
                .map(|item| item.map(|(k, _)| (k.value().0.to_string(), k.value().1.to_string())))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .take_while(|(b, _)| b == name)
                .map(|(_, id)| id)
                .collect();
            for id in ids {
                uploads.remove((name, id.as_str()))?;
                blobs.extend(remove_parts(&mut parts, &id)?);
            }
            buckets.remove(name)?;
        }
        self.commit(txn)?;
        Ok(blobs)
    }

    /// The object at `bucket`/`key`.
    pub fn get_object(&self, bucket: &str, key: &str) -> ApiResult<Option<ObjectRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(OBJECTS)?;
        let value = table.get((bucket, key))?;
        value.map(|v| dec(v.value())).transpose()
    }

    /// The object at `bucket`/`key` and, when its content is inline, that content, read
    /// from one snapshot.
    pub fn get_object_with_content(
        &self,
        bucket: &str,
        key: &str,
    ) -> ApiResult<Option<(ObjectRecord, Option<Vec<u8>>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(OBJECTS)?;
        let Some(record) = table
            .get((bucket, key))?
            .map(|v| dec::<ObjectRecord>(v.value()))
            .transpose()?
        else {
            return Ok(None);
        };
        if !record.is_inline() {
            return Ok(Some((record, None)));
        }
        let inline = txn.open_table(INLINE)?;
        let mut content = Vec::with_capacity(usize::try_from(record.size).unwrap_or(0));
        for seg in &record.segments {
            let value = inline
                .get(seg.blob.as_str())?
                .ok_or_else(|| ApiError::internal(format!("inline content {} is missing", seg.blob)))?;
            let bytes = value.value();
            let len = usize::try_from(seg.len).unwrap_or(usize::MAX).min(bytes.len());
            content.extend_from_slice(&bytes[..len]);
        }
        Ok(Some((record, Some(content))))
    }

    /// Write the object at `bucket`/`key` in one transaction: `build` sees the current
    /// record (it may refuse with an error) and returns the new one. Returns the old record.
    pub fn put_object<F>(&self, bucket: &str, key: &str, build: F) -> ApiResult<Option<ObjectRecord>>
    where
        F: FnOnce(Option<&ObjectRecord>) -> ApiResult<ObjectRecord>,
    {
        self.put_object_with(bucket, key, None, build)
    }

    /// [`Index::put_object`], also storing `content` as inline value `id` when given (the
    /// new record refers to it). Inline values of the old record that the new one does not
    /// use are dropped in the same transaction.
    pub fn put_object_with<F>(
        &self,
        bucket: &str,
        key: &str,
        content: Option<(&str, &[u8])>,
        build: F,
    ) -> ApiResult<Option<ObjectRecord>>
    where
        F: FnOnce(Option<&ObjectRecord>) -> ApiResult<ObjectRecord>,
    {
        let txn = self.db.begin_write()?;
        let old = {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(ApiError::no_such_bucket());
            }
            let mut table = txn.open_table(OBJECTS)?;
            let old: Option<ObjectRecord> = table.get((bucket, key))?.map(|v| dec(v.value())).transpose()?;
            let new = build(old.as_ref())?;
            let value = enc(&new)?;
            let mut inline = txn.open_table(INLINE)?;
            if let Some((id, bytes)) = content {
                inline.insert(id, bytes)?;
            }
            drop_inline(&mut inline, old.as_ref(), Some(&new))?;
            table.insert((bucket, key), value.as_slice())?;
            old
        };
        self.commit(txn)?;
        Ok(old)
    }

    /// Remove the object; the removed record, `None` if there was none.
    pub fn delete_object(&self, bucket: &str, key: &str) -> ApiResult<Option<ObjectRecord>> {
        let txn = self.db.begin_write()?;
        let old = {
            let mut table = txn.open_table(OBJECTS)?;
            let old = table.remove((bucket, key))?;
            let old: Option<ObjectRecord> = old.map(|v| dec(v.value())).transpose()?;
            drop_inline(&mut txn.open_table(INLINE)?, old.as_ref(), None)?;
            old
        };
        if old.is_some() {
            self.commit(txn)?;
        } else {
            txn.abort()?;
        }
        Ok(old)
    }

    /// One page of objects of `bucket`, in key byte order.
    pub fn list_objects(&self, bucket: &str, params: ListParams<'_>) -> ApiResult<Listing> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(OBJECTS)?;
        let prefix = params.prefix;
        let delimiter = params.delimiter.filter(|d| !d.is_empty());
        let marker = params.marker.filter(|m| !m.is_empty());
        // Where to start, and whether a key equal to the start is excluded.
        let (mut start, mut exclusive) = (prefix.to_string(), false);
        if let Some(m) = marker {
            if m >= prefix {
                match delimiter {
                    Some(d) if m.ends_with(d) && m.starts_with(prefix) && m.len() > prefix.len() => {
                        start = skip_past(m);
                    }
                    _ => {
                        start = m.to_string();
                        exclusive = true;
                    }
                }
            }
        }
        let mut out = Listing::default();
        let mut count = 0usize;
        let mut last: Option<String> = None;
        'scan: loop {
            let mut restart = None;
            for item in table.range::<(&str, &str)>((bucket, start.as_str())..)? {
                let (k, v) = item?;
                let (b, key) = k.value();
                if b != bucket || !key.starts_with(prefix) {
                    break 'scan;
                }
                if exclusive && Some(key) == marker {
                    continue;
                }
                if let Some(d) = delimiter {
                    if let Some(pos) = key[prefix.len()..].find(d) {
                        let common = &key[..prefix.len() + pos + d.len()];
                        if marker.is_none_or(|m| common > m) {
                            if count == params.max {
                                out.truncated = true;
                                break 'scan;
                            }
                            out.prefixes.push(common.to_string());
                            last = Some(common.to_string());
                            count += 1;
                        }
                        restart = Some(skip_past(common));
                        break;
                    }
                }
                if count == params.max {
                    out.truncated = true;
                    break 'scan;
                }
                out.contents.push((key.to_string(), dec(v.value())?));
                last = Some(key.to_string());
                count += 1;
            }
            match restart {
                Some(next) => {
                    start = next;
                    exclusive = false;
                }
                None => break,
            }
        }
        if out.truncated {
            out.next_marker = last;
        }
        Ok(out)
    }

    /// Record a new multipart upload.
    pub fn create_upload(&self, bucket: &str, id: &str, record: &UploadRecord) -> ApiResult<()> {
        let txn = self.db.begin_write()?;
        {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(ApiError::no_such_bucket());
            }
            txn.open_table(UPLOADS)?.insert((bucket, id), enc(record)?.as_slice())?;
        }
        self.commit(txn)?;
        Ok(())
    }

    /// The upload `id` of `bucket` for `key`, or NoSuchUpload.
    pub fn get_upload(&self, bucket: &str, key: &str, id: &str) -> ApiResult<UploadRecord> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(UPLOADS)?;
        read_upload(&table, bucket, key, id)
    }

    /// Every upload of `bucket` (id, record).
    pub fn uploads(&self, bucket: &str) -> ApiResult<Vec<(String, UploadRecord)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(UPLOADS)?;
        let mut out = Vec::new();
        for item in table.range::<(&str, &str)>((bucket, "")..)? {
            let (k, v) = item?;
            let (b, id) = k.value();
            if b != bucket {
                break;
            }
            out.push((id.to_string(), dec(v.value())?));
        }
        Ok(out)
    }

    /// Record part `number` of upload `id`; the part it replaces.
    pub fn put_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: u32,
        record: &PartRecord,
    ) -> ApiResult<Option<PartRecord>> {
        let txn = self.db.begin_write()?;
        let old = {
            let uploads = txn.open_table(UPLOADS)?;
            read_upload(&uploads, bucket, key, id)?;
            let mut parts = txn.open_table(PARTS)?;
            let old = parts.insert((id, number), enc(record)?.as_slice())?;
            old.map(|v| dec(v.value())).transpose()?
        };
        self.commit(txn)?;
        Ok(old)
    }

    /// Parts of upload `id`, ascending.
    pub fn parts(&self, id: &str) -> ApiResult<BTreeMap<u32, PartRecord>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PARTS)?;
        read_parts(&table, id)
    }

    /// Drop upload `id` and its parts; the part blobs to remove.
    pub fn remove_upload(&self, bucket: &str, key: &str, id: &str) -> ApiResult<Vec<String>> {
        let txn = self.db.begin_write()?;
        let blobs = {
            let mut uploads = txn.open_table(UPLOADS)?;
            read_upload(&uploads, bucket, key, id)?;
            uploads.remove((bucket, id))?;
            let mut parts = txn.open_table(PARTS)?;
            remove_parts(&mut parts, id)?
        };
        self.commit(txn)?;
        Ok(blobs)
    }

    /// Complete upload `id` in one transaction: `build` turns the upload and its parts into
    /// the object record (or refuses). Returns the new record, the replaced one, and the
    /// blobs of parts the object does not use.
    pub fn complete_upload<F>(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        build: F,
    ) -> ApiResult<(ObjectRecord, Option<ObjectRecord>, Vec<String>)>
    where
        F: FnOnce(&UploadRecord, &BTreeMap<u32, PartRecord>, Option<&ObjectRecord>) -> ApiResult<ObjectRecord>,
    {
        let txn = self.db.begin_write()?;
        let result = {
            if txn.open_table(BUCKETS)?.get(bucket)?.is_none() {
                return Err(ApiError::no_such_bucket());
            }
            let mut uploads = txn.open_table(UPLOADS)?;
            let upload = read_upload(&uploads, bucket, key, id)?;
            let mut parts_table = txn.open_table(PARTS)?;
            let parts = read_parts(&parts_table, id)?;
            let mut objects = txn.open_table(OBJECTS)?;
            let old: Option<ObjectRecord> = objects.get((bucket, key))?.map(|v| dec(v.value())).transpose()?;
            let record = build(&upload, &parts, old.as_ref())?;
            let used: HashSet<&str> = record.blobs().collect();
            let unused: Vec<String> = parts
                .values()
                .filter(|p| !used.contains(p.blob.as_str()))
                .map(|p| p.blob.clone())
                .collect();
            objects.insert((bucket, key), enc(&record)?.as_slice())?;
            drop_inline(&mut txn.open_table(INLINE)?, old.as_ref(), Some(&record))?;
            uploads.remove((bucket, id))?;
            remove_parts(&mut parts_table, id)?;
            (record, old, unused)
        };
        self.commit(txn)?;
        Ok(result)
    }

    /// Every blob file the index refers to, and the committed length of each Appendable
    /// object's blob (appends write in place, so after a crash the file may be longer).
    pub fn referenced_blobs(&self) -> ApiResult<Referenced> {
        let txn = self.db.begin_read()?;
        let mut out = Referenced::default();
        for item in txn.open_table(OBJECTS)?.iter()? {
            let (_, v) = item?;
            let record: ObjectRecord = dec(v.value())?;
            out.blobs.extend(record.file_blobs().map(str::to_string));
            if record.object_type == crate::bos::types::ObjectType::Appendable {
                out.appendable.extend(
                    record
                        .segments
                        .iter()
                        .filter(|s| !s.inline)
                        .map(|s| (s.blob.clone(), s.len)),
                );
            }
        }
        for item in txn.open_table(PARTS)?.iter()? {
            let (_, v) = item?;
            let record: PartRecord = dec(v.value())?;
            out.blobs.insert(record.blob);
        }
        Ok(out)
    }
}

/// What [`Index::referenced_blobs`] finds.
#[derive(Debug, Default)]
pub struct Referenced {
    /// Blob ids in use.
    pub blobs: HashSet<String>,
    /// (blob id, committed length) of the blobs of Appendable objects.
    pub appendable: Vec<(String, u64)>,
}

/// Drop the inline values of `old` that `new` does not use.
fn drop_inline(
    table: &mut redb::Table<&'static str, &'static [u8]>,
    old: Option<&ObjectRecord>,
    new: Option<&ObjectRecord>,
) -> ApiResult<()> {
    let Some(old) = old else { return Ok(()) };
    for id in old.inline_blobs() {
        if !new.is_some_and(|n| n.inline_blobs().any(|x| x == id)) {
            table.remove(id)?;
        }
    }
    Ok(())
}

/// Upload `id` of `bucket`, or NoSuchUpload when there is none or it is for another key.
fn read_upload(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    bucket: &str,
    key: &str,
    id: &str,
) -> ApiResult<UploadRecord> {
    let record: UploadRecord = match table.get((bucket, id))? {
        Some(v) => dec(v.value())?,
        None => return Err(ApiError::no_such_upload()),
    };
    if record.key != key {
        return Err(ApiError::no_such_upload());
    }
    Ok(record)
}

fn read_parts(
    table: &impl ReadableTable<(&'static str, u32), &'static [u8]>,
    id: &str,
) -> ApiResult<BTreeMap<u32, PartRecord>> {
    let mut out = BTreeMap::new();
    for item in table.range::<(&str, u32)>((id, 0)..)? {
        let (k, v) = item?;
        let (upload, number) = k.value();
        if upload != id {
            break;
        }
        out.insert(number, dec(v.value())?);
    }
    Ok(out)
}

fn remove_parts(table: &mut redb::Table<(&'static str, u32), &'static [u8]>, id: &str) -> ApiResult<Vec<String>> {
    let parts = read_parts(table, id)?;
    let mut blobs = Vec::new();
    for (number, part) in parts {
        table.remove((id, number))?;
        blobs.push(part.blob);
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bos::types::ObjectType;

    fn record() -> ObjectRecord {
        ObjectRecord {
            segments: vec![],
            size: 0,
            etag: "e".into(),
            modified_ms: 0,
            object_type: ObjectType::Normal,
            meta: Default::default(),
            content_md5: None,
            crc32: 0,
            md5_state: None,
        }
    }

    fn keys(l: &Listing) -> (Vec<&str>, Vec<&str>) {
        (
            l.contents.iter().map(|(k, _)| k.as_str()).collect(),
            l.prefixes.iter().map(|s| s.as_str()).collect(),
        )
    }

    #[test]
    fn listing_with_delimiter_and_markers() {
        let dir = tempfile::tempdir().expect("tmp");
        let idx = Index::open(&dir.path().join("i.redb"), None).expect("open");
        idx.create_bucket("b", &BucketRecord { created_ms: 0 }).expect("bucket");
        idx.create_bucket("c", &BucketRecord { created_ms: 0 }).expect("bucket");
        for k in ["a", "a/b", "a/b/c", "a/c", "a0", "b/x", "b/y", "c"] {
            idx.put_object("b", k, |_| Ok(record())).expect("put");
        }
        idx.put_object("c", "zz", |_| Ok(record())).expect("put");
        let p = |prefix, delimiter, marker, max| ListParams {
            prefix,
            delimiter,
            marker,
            max,
        };
        let all = idx.list_objects("b", p("", None, None, 1000)).expect("list");
        assert_eq!(keys(&all).0, vec!["a", "a/b", "a/b/c", "a/c", "a0", "b/x", "b/y", "c"]);
        let d = idx.list_objects("b", p("", Some("/"), None, 1000)).expect("list");
        assert_eq!(keys(&d), (vec!["a", "a0", "c"], vec!["a/", "b/"]));
        let page = idx.list_objects("b", p("", Some("/"), None, 2)).expect("list");
        assert_eq!(keys(&page), (vec!["a"], vec!["a/"]));
        assert_eq!(page.next_marker.as_deref(), Some("a/"));
        let page2 = idx.list_objects("b", p("", Some("/"), Some("a/"), 2)).expect("list");
        assert_eq!(keys(&page2), (vec!["a0"], vec!["b/"]));
        let page3 = idx.list_objects("b", p("", Some("/"), Some("b/"), 2)).expect("list");
        assert_eq!(keys(&page3), (vec!["c"], vec![]));
        assert!(!page3.truncated && page3.next_marker.is_none());
        let inner = idx.list_objects("b", p("a/", Some("/"), None, 1000)).expect("list");
        assert_eq!(keys(&inner), (vec!["a/b", "a/c"], vec!["a/b/"]));
        let after = idx.list_objects("b", p("", None, Some("a/b"), 2)).expect("list");
        assert_eq!(keys(&after).0, vec!["a/b/c", "a/c"]);
        assert!(after.truncated);
        // A marker inside a common prefix does not repeat the prefix.
        let inside = idx
            .list_objects("b", p("", Some("/"), Some("a/b"), 1000))
            .expect("list");
        assert_eq!(keys(&inside), (vec!["a0", "c"], vec!["b/"]));
    }

    #[test]
    fn inline_content_goes_with_its_record() {
        let dir = tempfile::tempdir().expect("tmp");
        let idx = Index::open(&dir.path().join("i.redb"), None).expect("open");
        idx.create_bucket("b", &BucketRecord { created_ms: 0 }).expect("bucket");
        let inline = |id: &str, len: u64| {
            let mut r = record();
            r.segments = vec![crate::server::store::records::Segment {
                blob: id.into(),
                len,
                inline: true,
            }];
            r.size = len;
            r
        };
        let stored = || {
            let txn = idx.db.begin_read().expect("read");
            let table = txn.open_table(INLINE).expect("table");
            table.iter().expect("iter").count()
        };
        idx.put_object_with("b", "k", Some(("i1", b"hello")), |_| Ok(inline("i1", 5)))
            .expect("put");
        let (r, content) = idx.get_object_with_content("b", "k").expect("get").expect("some");
        assert_eq!((r.size, content.as_deref()), (5, Some(&b"hello"[..])));
        // A refused write stores nothing.
        let refused = idx.put_object_with("b", "k", Some(("i2", b"other")), |_| {
            Err(ApiError::precondition_failed())
        });
        assert!(refused.is_err());
        assert_eq!(stored(), 1);
        // Rewriting the record with the same value (a same-key copy) keeps it.
        idx.put_object("b", "k", |_| Ok(inline("i1", 5))).expect("same");
        assert_eq!(stored(), 1);
        // Replacing drops the old value; deleting drops the new one.
        idx.put_object_with("b", "k", Some(("i3", b"bye")), |_| Ok(inline("i3", 3)))
            .expect("replace");
        let (_, content) = idx.get_object_with_content("b", "k").expect("get").expect("some");
        assert_eq!(content.as_deref(), Some(&b"bye"[..]));
        assert_eq!(stored(), 1);
        idx.delete_object("b", "k").expect("delete");
        assert_eq!(stored(), 0);
        // A file-backed record has no inline content.
        idx.put_object("b", "f", |_| Ok(record())).expect("file");
        assert!(idx
            .get_object_with_content("b", "f")
            .expect("get")
            .expect("some")
            .1
            .is_none());
    }

    #[test]
    fn listing_scales_to_100k_objects() {
        let dir = tempfile::tempdir().expect("tmp");
        let idx = Index::open(&dir.path().join("i.redb"), None).expect("open");
        idx.create_bucket("b", &BucketRecord { created_ms: 0 }).expect("bucket");
        let value = enc(&record()).expect("enc");
        let txn = idx.db.begin_write().expect("txn");
        {
            let mut table = txn.open_table(OBJECTS).expect("table");
            for i in 0..100_000u32 {
                let key = format!("d{:02}/f{i:06}", i % 100);
                table.insert(("b", key.as_str()), value.as_slice()).expect("insert");
            }
        }
        txn.commit().expect("commit");
        let p = |prefix, delimiter, marker, max| ListParams {
            prefix,
            delimiter,
            marker,
            max,
        };
        let start = std::time::Instant::now();
        let top = idx.list_objects("b", p("", Some("/"), None, 1000)).expect("list");
        assert_eq!(top.prefixes.len(), 100, "one prefix per directory, found by skipping");
        let deep = idx
            .list_objects("b", p("d99/", None, Some("d99/f050000"), 300))
            .expect("list");
        assert_eq!(deep.contents.len(), 300);
        assert_eq!(deep.contents[0].0, "d99/f050099");
        assert!(deep.truncated);
        let tail = idx
            .list_objects("b", p("", None, Some("d99/f099899"), 1000))
            .expect("list");
        assert_eq!(tail.contents.len(), 1);
        let elapsed = start.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    }
}
