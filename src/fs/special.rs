//! mknod: fifos, character and block devices and Unix sockets as zero-byte objects whose
//! user metadata says what they are (`mode` with the file type bits, `rdev` for devices,
//! see [`crate::fs::meta_codec`]); a regular file made by mknod is an empty object.
//!
//! The inode table, the caches and rename treat such a node as a file (it is one object);
//! only the attributes reported to the kernel carry its type ([`FsAttr::special`]), from
//! the object's metadata (a HEAD, our own PutObject, or the directory's attribute index,
//! which every special node enters since it carries metadata). The kernel serves the I/O of
//! a node that reports S_IFIFO (a pipe local to this machine) or a device number; opening a
//! device fails on this mount anyway, which is `nodev`.
//!
//! Hard links are not possible on BOS (one key, one object): `link` answers EPERM, as
//! Linux file systems without hard links (vfat) do.

use std::ffi::OsStr;

use bytes::Bytes;

use crate::bos::PutOptions;
use crate::fs::access::Caller;
use crate::fs::attr::{NodeKind, ObjectAttr, Special, SpecialKind};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::persist::check_size;
use crate::fs::{meta_codec, BosFs, FsAttr};

/// `S_IFREG`.
const S_IFREG: u32 = 0o100000;

/// What mknod makes of `mode` and `rdev`: `None` a regular file, else the special node.
pub fn special_of(mode: u32, rdev: u32) -> FsResult<Option<Special>> {
    let fmt = mode & meta_codec::S_IFMT;
    match meta_codec::special_kind(fmt) {
        Some(kind) => {
            let device = matches!(kind, SpecialKind::CharDevice | SpecialKind::BlockDevice);
            Ok(Some(Special {
                kind,
                rdev: if device { rdev } else { 0 },
            }))
        }
        None if fmt == 0 || fmt == S_IFREG => Ok(None),
        None => Err(FsError::InvalidArgument(format!("mknod of file type {fmt:o}"))),
    }
}

/// What `link` answers: hard links cannot exist on BOS.
pub fn hard_link() -> FsError {
    FsError::NotPermitted("hard links are not supported".into())
}

impl BosFs {
    /// Make node `name` in `parent` of the type and permission bits in `mode` (device number
    /// `rdev` for devices), owned by `caller`.
    pub async fn mknod(
        &self,
        parent: InodeNo,
        name: &OsStr,
        mode: u32,
        rdev: u32,
        caller: Option<&Caller>,
    ) -> FsResult<FsAttr> {
        let special = special_of(mode, rdev)?;
        let (name, key) = self.new_entry_key(parent, name, NodeKind::File)?;
        let mut perms = self
            .initial_perms(parent, caller, (mode & 0o7777) as u16, false)
            .await?;
        if special.is_some() {
            // The type lives in the mode: always stored.
            perms.mode = Some((mode & 0o7777) as u16);
            perms.special = special;
        }
        let mut user_meta = std::collections::BTreeMap::new();
        meta_codec::encode_perms(&perms, false, &mut user_meta);
        check_size(&user_meta)?;
        let options = PutOptions {
            user_meta,
            // Never replace a node someone made meanwhile (the kernel saw no such name).
            forbid_overwrite: true,
            ..PutOptions::default()
        };
        let meta = self.put_new_node(&key, Bytes::new(), &options).await?;
        let attr = ObjectAttr::from_meta(meta);
        self.cache().put_found(&key, attr.clone());
        self.index_note(&key, &attr);
        self.remember_new(parent, name, &attr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mknod_types() {
        assert_eq!(special_of(0o644, 0).expect("regular"), None);
        assert_eq!(special_of(S_IFREG | 0o644, 0).expect("regular"), None);
        let fifo = special_of(0o010644, 77).expect("fifo").expect("special");
        assert_eq!((fifo.kind, fifo.rdev), (SpecialKind::Fifo, 0));
        let chr = special_of(0o020600, 0x0103).expect("char").expect("special");
        assert_eq!((chr.kind, chr.rdev), (SpecialKind::CharDevice, 0x0103));
        let sock = special_of(0o140755, 0).expect("socket").expect("special");
        assert_eq!(sock.kind, SpecialKind::Socket);
        assert!(special_of(0o040755, 0).is_err(), "directories are mkdir's");
    }
}
