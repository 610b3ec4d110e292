//! How the mount stores POSIX attributes, symlink targets and extended attributes in an
//! object's user metadata (`x-bce-meta-*`), and reads them back.
//!
//! Names are given without the `x-bce-meta-` prefix. BOS lower-cases metadata names, so
//! every name we use is lower-case ASCII, and user-chosen names are hex-encoded:
//!
//! | name | value | example |
//! |------|-------|---------|
//! | `mode` | full `st_mode` in octal, file type bits included | `100644`, `120777`, `40755` |
//! | `uid`, `gid` | decimal | `1000` |
//! | `mtime`, `atime` | seconds since the epoch, '.', nine digits of nanoseconds (seconds may be negative; nanoseconds never are) | `1577836800.000000891` |
//! | `symlink` | the link target, percent-encoded | `..%2Ffile000.dat` |
//! | `rdev` | device number of a character or block device (`st_rdev`), decimal; the type is in `mode` (`10644` fifo, `20644` char, `60644` block, `140755` socket) | `259` |
//! | `<name>` | extended attribute `user.<name>` when `<name>` is lower-case ASCII letters, digits, '-' and '_' and not one of the names above; value percent-encoded | `color` = `blue` |
//! | `xattr-<hex>` | any other `user.<name>` (capitals, other bytes, our own names), `<hex>` = lower-case hex of its bytes | `xattr-436f6c6f72` = `blue` (`user.Color`) |
//!
//! So `user.color` is the same thing as `x-bce-meta-color` set by any BOS client, and every
//! user metadata entry that is not ours shows as a `user.*` attribute, while names BOS would
//! fold to lower case keep their case and never collide. Only what was set explicitly is stored (a
//! create's mode equal to the mount's `--file-mode` is not: plain files carry no metadata): an object without `mtime` shows its
//! Last-Modified, one without `uid` the mount's `--uid`, and so on. Values that do not
//! parse (metadata written by some other tool) are ignored, never an error.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::fs::attr::{Perms, Special, SpecialKind};

/// Permission bits and file type.
pub const MODE: &str = "mode";
/// Owner.
pub const UID: &str = "uid";
/// Group.
pub const GID: &str = "gid";
/// Modification time.
pub const MTIME: &str = "mtime";
/// Access time.
pub const ATIME: &str = "atime";
/// Target of a symbolic link.
pub const SYMLINK: &str = "symlink";
/// Device number of a character or block device, decimal (as `st_rdev`).
pub const RDEV: &str = "rdev";
/// Prefix of extended attributes.
pub const XATTR_PREFIX: &str = "xattr-";

/// `S_IFMT` and the file types (as u32 on every platform).
pub const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFIFO: u32 = 0o010000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFSOCK: u32 = 0o140000;

/// The special kind whose type bits are `fmt` (`mode & S_IFMT`).
pub fn special_kind(fmt: u32) -> Option<SpecialKind> {
    match fmt {
        S_IFIFO => Some(SpecialKind::Fifo),
        S_IFCHR => Some(SpecialKind::CharDevice),
        S_IFBLK => Some(SpecialKind::BlockDevice),
        S_IFSOCK => Some(SpecialKind::Socket),
        _ => None,
    }
}

/// The type bits of a special kind.
pub fn special_type_bits(kind: SpecialKind) -> u32 {
    match kind {
        SpecialKind::Fifo => S_IFIFO,
        SpecialKind::CharDevice => S_IFCHR,
        SpecialKind::BlockDevice => S_IFBLK,
        SpecialKind::Socket => S_IFSOCK,
    }
}

/// Bytes kept as they are in encoded values; everything else is `%XX`.
const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/')
    .remove(b':')
    .remove(b'+')
    .remove(b'=')
    .remove(b',');

/// The attributes stored in `meta`.
pub fn decode_perms(meta: &BTreeMap<String, String>) -> Perms {
    let mode = meta.get(MODE).and_then(|m| u32::from_str_radix(m.trim(), 8).ok());
    let special = mode.and_then(|m| special_kind(m & S_IFMT)).map(|kind| Special {
        kind,
        rdev: meta.get(RDEV).and_then(|v| v.trim().parse().ok()).unwrap_or(0),
    });
    Perms {
        mode: mode.map(|m| (m & 0o7777) as u16),
        uid: meta.get(UID).and_then(|v| v.trim().parse().ok()),
        gid: meta.get(GID).and_then(|v| v.trim().parse().ok()),
        mtime: meta.get(MTIME).and_then(|v| parse_time(v)),
        atime: meta.get(ATIME).and_then(|v| parse_time(v)),
        symlink: mode.is_some_and(|m| m & S_IFMT == S_IFLNK) || meta.contains_key(SYMLINK),
        special,
    }
}

/// Store `perms` in `meta` (keys of unset values are left as they are); `dir` picks the
/// file type written with the mode. A mode change of a symlink, fifo, device or socket
/// (`perms` says only the new bits) keeps the type `meta` already records.
pub fn encode_perms(perms: &Perms, dir: bool, meta: &mut BTreeMap<String, String>) {
    let recorded = meta
        .get(MODE)
        .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        .map(|m| m & S_IFMT)
        .filter(|fmt| *fmt == S_IFLNK || special_kind(*fmt).is_some());
    if let Some(special) = perms.special {
        if matches!(special.kind, SpecialKind::CharDevice | SpecialKind::BlockDevice) {
            meta.insert(RDEV.into(), special.rdev.to_string());
        }
    }
    if let Some(mode) = perms.mode {
        let kind = if perms.symlink {
            S_IFLNK
        } else if let Some(special) = perms.special {
            special_type_bits(special.kind)
        } else if dir {
            S_IFDIR
        } else {
            recorded.unwrap_or(S_IFREG)
        };
        meta.insert(MODE.into(), format!("{:o}", kind | (mode as u32 & 0o7777)));
    }
    if let Some(uid) = perms.uid {
        meta.insert(UID.into(), uid.to_string());
    }
    if let Some(gid) = perms.gid {
        meta.insert(GID.into(), gid.to_string());
    }
    if let Some(t) = perms.mtime {
        meta.insert(MTIME.into(), format_time(t));
    }
    if let Some(t) = perms.atime {
        meta.insert(ATIME.into(), format_time(t));
    }
}

/// `t` as "seconds.nanoseconds" (nine digits), seconds relative to the epoch.
pub fn format_time(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
        Err(e) => {
            // Before the epoch: floor the seconds so the nanoseconds stay non-negative.
            let d = e.duration();
            let (mut secs, mut nanos) = (d.as_secs() as i64, d.subsec_nanos());
            if nanos > 0 {
                secs += 1;
                nanos = 1_000_000_000 - nanos;
            }
            format!("{}.{nanos:09}", -secs)
        }
    }
}

/// The time [`format_time`] wrote (also plain seconds).
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let (secs, nanos) = match text.trim().split_once('.') {
        Some((s, n)) => {
            if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let scaled: u32 = format!("{n:0<9}").parse().ok()?;
            (s.parse::<i64>().ok()?, scaled)
        }
        None => (text.trim().parse::<i64>().ok()?, 0),
    };
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(nanos as u64))
    }
}

/// A value (symlink target, extended attribute) as stored.
pub fn encode_value(bytes: &[u8]) -> String {
    // Non-UTF-8 bytes: encode byte by byte.
    match std::str::from_utf8(bytes) {
        Ok(text) => utf8_percent_encode(text, VALUE_SET).to_string(),
        Err(_) => bytes.iter().map(|b| format!("%{b:02X}")).collect(),
    }
}

/// The bytes [`encode_value`] stored.
pub fn decode_value(text: &str) -> Vec<u8> {
    percent_decode_str(text).collect()
}

/// The target of the symlink described by `meta`.
pub fn symlink_target(meta: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    meta.get(SYMLINK).map(|t| decode_value(t))
}

/// Names the mount uses for itself: never shown as extended attributes.
const OWN_NAMES: [&str; 7] = [MODE, UID, GID, MTIME, ATIME, SYMLINK, RDEV];

/// Whether `name` can be a metadata name as it is (and is not taken).
fn plain_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
        && !name.starts_with(XATTR_PREFIX.as_bytes())
        && !OWN_NAMES.iter().any(|own| own.as_bytes() == name)
}

/// The metadata name of extended attribute `user.<name>` (`name` without "user.").
pub fn xattr_key(name: &[u8]) -> String {
    if plain_name(name) {
        return String::from_utf8_lossy(name).into_owned();
    }
    let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
    format!("{XATTR_PREFIX}{hex}")
}

/// The extended attribute names (without "user.") stored in `meta`.
pub fn xattr_names(meta: &BTreeMap<String, String>) -> Vec<Vec<u8>> {
    meta.keys()
        .filter(|k| !OWN_NAMES.contains(&k.as_str()))
        .filter_map(|k| match k.strip_prefix(XATTR_PREFIX) {
            Some(hex) => decode_hex(hex),
            None => Some(k.as_bytes().to_vec()),
        })
        .collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_with_nanoseconds() {
        for t in [
            UNIX_EPOCH + Duration::new(1_577_836_800, 891),
            UNIX_EPOCH,
            UNIX_EPOCH - Duration::new(10, 250),
            UNIX_EPOCH + Duration::new(4_000_000_000, 999_999_999),
        ] {
            assert_eq!(parse_time(&format_time(t)), Some(t), "{}", format_time(t));
        }
        assert_eq!(format_time(UNIX_EPOCH + Duration::new(5, 7)), "5.000000007");
        assert_eq!(parse_time("12"), Some(UNIX_EPOCH + Duration::from_secs(12)));
        assert_eq!(parse_time("1.5"), Some(UNIX_EPOCH + Duration::from_millis(1500)));
        assert_eq!(parse_time("x"), None);
        assert_eq!(parse_time("1.1234567890"), None);
    }

    #[test]
    fn perms_round_trip() {
        let perms = Perms {
            mode: Some(0o4755),
            uid: Some(1000),
            gid: Some(7),
            mtime: Some(UNIX_EPOCH + Duration::new(3, 4)),
            atime: None,
            symlink: false,
            special: None,
        };
        let mut meta = BTreeMap::new();
        encode_perms(&perms, false, &mut meta);
        assert_eq!(meta.get(MODE).map(String::as_str), Some("104755"));
        assert_eq!(decode_perms(&meta), perms);
        let link = Perms {
            mode: Some(0o777),
            symlink: true,
            ..Perms::default()
        };
        let mut meta = BTreeMap::new();
        encode_perms(&link, false, &mut meta);
        assert_eq!(meta.get(MODE).map(String::as_str), Some("120777"));
        assert!(decode_perms(&meta).symlink);
        let mut garbage = BTreeMap::new();
        garbage.insert(MODE.to_string(), "rwx".to_string());
        garbage.insert(UID.to_string(), "-1".to_string());
        assert_eq!(decode_perms(&garbage), Perms::default());
    }

    #[test]
    fn special_nodes_keep_their_type() {
        let dev = Perms {
            mode: Some(0o640),
            special: Some(Special {
                kind: SpecialKind::BlockDevice,
                rdev: 0x0801,
            }),
            ..Perms::default()
        };
        let mut meta = BTreeMap::new();
        encode_perms(&dev, false, &mut meta);
        assert_eq!(meta.get(MODE).map(String::as_str), Some("60640"));
        assert_eq!(meta.get(RDEV).map(String::as_str), Some("2049"));
        assert_eq!(decode_perms(&meta), dev);
        // A chmod says only the new bits: the type stays.
        let chmod = Perms {
            mode: Some(0o600),
            ..Perms::default()
        };
        encode_perms(&chmod, false, &mut meta);
        assert_eq!(meta.get(MODE).map(String::as_str), Some("60600"));
        let mut fifo = BTreeMap::new();
        fifo.insert(MODE.to_string(), "10644".to_string());
        let decoded = decode_perms(&fifo);
        assert_eq!(decoded.special.map(|s| (s.kind, s.rdev)), Some((SpecialKind::Fifo, 0)));
        encode_perms(&chmod, false, &mut fifo);
        assert_eq!(fifo.get(MODE).map(String::as_str), Some("10600"));
        let mut plain = BTreeMap::new();
        encode_perms(&chmod, false, &mut plain);
        assert_eq!(plain.get(MODE).map(String::as_str), Some("100600"));
        assert!(xattr_names(&meta).is_empty(), "rdev is ours, not a user.* attribute");
    }

    #[test]
    fn values_and_xattr_names() {
        for v in [&b"../file000.dat"[..], b"a b%c\n\xff", b"", "ünï".as_bytes()] {
            assert_eq!(decode_value(&encode_value(v)), v);
        }
        assert_eq!(encode_value(b"/etc/hostname"), "/etc/hostname");
        let mut meta = BTreeMap::new();
        meta.insert(xattr_key(b"Color"), "x".into());
        meta.insert(xattr_key(b"color"), "y".into());
        meta.insert(xattr_key(b"mode"), "z".into());
        meta.insert(MODE.into(), "100644".into());
        let mut names = xattr_names(&meta);
        names.sort();
        assert_eq!(names, vec![b"Color".to_vec(), b"color".to_vec(), b"mode".to_vec()]);
        assert_eq!(xattr_key(b"color"), "color");
        assert_eq!(xattr_key(b"Color"), xattr_key(b"Color").to_lowercase());
        assert_ne!(xattr_key(b"mode"), MODE);
    }
}
