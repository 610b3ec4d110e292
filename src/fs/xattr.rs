//! Extended attributes: `user.<name>` ↔ `x-bce-meta-xattr-<hex of name>` (see
//! [`crate::fs::meta_codec`]), so names keep their case although BOS lower-cases metadata
//! names, and never collide with the mount's own keys. Other namespaces (`security.`,
//! `trusted.`, `system.`) are not supported (EOPNOTSUPP). All user metadata of an object
//! fits in BOS's 2 KiB; a change that would pass it fails with E2BIG. Changes are stored like
//! chmod's (CopyObject onto itself, or the open writer's next commit — `persist`).
//! Directories carry them on their "dir/" marker. `user.bosmount.status` is the mount's own
//! read-only answer ([`crate::fs::status`]): never stored, never listed.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::bos::ObjectMeta;
use crate::fs::attr::NodeKind;
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::{meta_codec, path_of, status, BosFs};

/// `setxattr` flag: fail if the attribute exists.
const XATTR_CREATE: i32 = 1;
/// `setxattr` flag: fail if the attribute does not exist.
const XATTR_REPLACE: i32 = 2;

/// The part after "user.", or EOPNOTSUPP for any other namespace.
fn user_name(name: &OsStr) -> FsResult<&[u8]> {
    match name.as_bytes().strip_prefix(b"user.") {
        Some(rest) if !rest.is_empty() => Ok(rest),
        Some(_) => Err(FsError::InvalidArgument("empty extended attribute name".into())),
        None => Err(FsError::NotSupported(format!(
            "extended attribute namespace of {:?} (only user.* is stored)",
            name
        ))),
    }
}

/// The status attribute cannot be set or removed (EPERM).
fn refuse_status(name: &OsStr) -> FsResult<()> {
    if status::is_status_name(name) {
        return Err(FsError::Reserved(status::STATUS_XATTR.into()));
    }
    Ok(())
}

impl BosFs {
    /// Value of extended attribute `name` of `ino` (other namespaces than user.* hold nothing:
    /// the kernel asks for `security.capability` before every write).
    pub async fn getxattr(&self, ino: InodeNo, name: &OsStr) -> FsResult<Vec<u8>> {
        if status::is_status_name(name) {
            return self.status_xattr(ino).await;
        }
        let Ok(name) = user_name(name) else {
            return Err(FsError::NoAttribute);
        };
        let key = meta_codec::xattr_key(name);
        let meta = self.node_user_meta(ino).await?;
        meta.get(&key)
            .map(|v| meta_codec::decode_value(v))
            .ok_or(FsError::NoAttribute)
    }

    /// Names of the extended attributes of `ino`, each followed by a NUL byte.
    pub async fn listxattr(&self, ino: InodeNo) -> FsResult<Vec<u8>> {
        let meta = self.node_user_meta(ino).await?;
        let mut out = Vec::new();
        for name in meta_codec::xattr_names(&meta) {
            if status::STATUS_XATTR.as_bytes().strip_prefix(b"user.") == Some(name.as_slice()) {
                continue;
            }
            out.extend_from_slice(b"user.");
            out.extend_from_slice(&name);
            out.push(0);
        }
        Ok(out)
    }

    /// Set extended attribute `name` of `ino` to `value` (`flags`: XATTR_CREATE / XATTR_REPLACE).
    pub async fn setxattr(&self, ino: InodeNo, name: &OsStr, value: &[u8], flags: i32) -> FsResult<()> {
        refuse_status(name)?;
        self.check_writable()?;
        let key = meta_codec::xattr_key(user_name(name)?);
        let encoded = meta_codec::encode_value(value);
        let edit = move |meta: &mut BTreeMap<String, String>| {
            let exists = meta.contains_key(&key);
            if flags & XATTR_CREATE != 0 && exists {
                return Err(FsError::AlreadyExists);
            }
            if flags & XATTR_REPLACE != 0 && !exists {
                return Err(FsError::NoAttribute);
            }
            meta.insert(key.clone(), encoded.clone());
            Ok(())
        };
        self.edit_node_meta(ino, &edit).await
    }

    /// Remove extended attribute `name` of `ino`.
    pub async fn removexattr(&self, ino: InodeNo, name: &OsStr) -> FsResult<()> {
        refuse_status(name)?;
        self.check_writable()?;
        let key = meta_codec::xattr_key(user_name(name)?);
        let edit = move |meta: &mut BTreeMap<String, String>| meta.remove(&key).map(|_| ()).ok_or(FsError::NoAttribute);
        self.edit_node_meta(ino, &edit).await
    }

    async fn edit_node_meta(
        &self,
        ino: InodeNo,
        edit: &(dyn Fn(&mut BTreeMap<String, String>) -> FsResult<()> + Sync),
    ) -> FsResult<()> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            // Learn the marker's metadata first so the other entries survive the rewrite.
            if node.ino != InodeNo::ROOT {
                let _ = self.stat_path(path_of(&node.key)).await;
            }
            return self.edit_dir_meta(&node, edit).await;
        }
        self.edit_file_meta(&node, edit).await.map(|_| ())
    }

    /// User metadata of `ino` as stored (an open writer's pending options win).
    async fn node_user_meta(&self, ino: InodeNo) -> FsResult<BTreeMap<String, String>> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            if node.ino == InodeNo::ROOT || node.key.is_empty() {
                return Ok(BTreeMap::new());
            }
            let attr = self.stat_path(path_of(&node.key)).await?;
            return Ok(attr.meta.map(|m| m.user_meta.clone()).unwrap_or_default());
        }
        if let Some(options) = self.writer_options(ino).await {
            return Ok(options.user_meta);
        }
        let meta: Arc<ObjectMeta> = self.known_meta(&node.key).await?;
        Ok(meta.user_meta.clone())
    }
}
