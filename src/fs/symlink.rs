//! Symbolic links: an object whose user metadata holds the target (`x-bce-meta-symlink`,
//! see [`crate::fs::meta_codec`]) and whose mode says S_IFLNK; the body is the target too,
//! so its size is the target's length, as `lstat` reports for a link. The inode table and
//! caches treat a link as a file; only the attributes reported to the kernel say Symlink,
//! which needs the object's metadata (a HEAD, or the directory's attribute index).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use bytes::Bytes;

use crate::bos::PutOptions;
use crate::fs::access::Caller;
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::persist::check_size;
use crate::fs::{meta_codec, BosFs, FsAttr};

impl BosFs {
    /// Create symlink `name` in `parent` pointing at `target`.
    pub async fn symlink(&self, parent: InodeNo, name: &OsStr, target: &OsStr) -> FsResult<FsAttr> {
        self.symlink_as(parent, name, target, None).await
    }

    /// [`BosFs::symlink`] on behalf of `caller`, who owns the link (see `access`).
    pub async fn symlink_as(
        &self,
        parent: InodeNo,
        name: &OsStr,
        target: &OsStr,
        caller: Option<&Caller>,
    ) -> FsResult<FsAttr> {
        let (name, key) = self.new_entry_key(parent, name, NodeKind::File)?;
        let target = target.as_bytes();
        if target.is_empty() {
            return Err(FsError::NotFound);
        }
        let owner = self.initial_perms(parent, caller, 0o777, false).await?;
        let perms = Perms {
            mode: Some(0o777),
            symlink: true,
            ..owner
        };
        let mut user_meta = std::collections::BTreeMap::new();
        meta_codec::encode_perms(&perms, false, &mut user_meta);
        user_meta.insert(meta_codec::SYMLINK.into(), meta_codec::encode_value(target));
        if check_size(&user_meta).is_err() {
            return Err(FsError::NameTooLong(format!(
                "symlink target of {} bytes",
                target.len()
            )));
        }
        let options = PutOptions {
            user_meta,
            ..PutOptions::default()
        };
        let meta = self
            .put_new_node(&key, Bytes::copy_from_slice(target), &options)
            .await?;
        let attr = ObjectAttr::from_meta(meta);
        self.cache().put_found(&key, attr.clone());
        self.index_note(&key, &attr);
        self.remember_new(parent, name, &attr)
    }

    /// The target of symlink `ino`.
    pub async fn readlink(&self, ino: InodeNo) -> FsResult<Vec<u8>> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            return Err(FsError::InvalidArgument("not a symlink".into()));
        }
        let meta = self.known_meta(&node.key).await?;
        meta_codec::symlink_target(&meta.user_meta).ok_or_else(|| FsError::InvalidArgument("not a symlink".into()))
    }
}
