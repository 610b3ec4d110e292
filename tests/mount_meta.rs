//! Acceptance tests of metadata through real mounts of the `bosmount` binary over the local
//! server: chmod / chown / utimes persisting across a remount (files and directories),
//! extended attributes on `user.*` names mapped to BOS user metadata (x-bce-meta-*, 2 KiB in
//! all, E2BIG above), symlinks and readlink after a remount, and `ls -l` showing persisted
//! modes and times.
//!
//! Extended attributes are driven with Python's os.setxattr / getxattr / listxattr /
//! removexattr (the `attr` package's setfattr is not installed on the CI image).

mod mountutil;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use bosmount::bos::PutOptions;
use mountutil::{print_requests, tail_of, Mount, ServerOptions, TestServer, BUCKET};

// ---------------------------------------------------------------------------------------
// Private helpers.
// ---------------------------------------------------------------------------------------

fn sh_out(dir: &Path, script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

/// Run `script` in `dir`, insist that it succeeds, return its stdout.
fn sh_ok(dir: &Path, script: &str, mount: &Mount) -> String {
    let out = sh_out(dir, script);
    assert!(
        out.status.success(),
        "`{script}` failed ({}):\nstdout: {}\nstderr: {}\nmount log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text()),
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// One extended-attribute call made by Python: Ok(value) or Err(errno).
/// `op` is get, set, remove or list (list returns the names joined by '\n').
fn xattr(op: &str, path: &Path, name: &str, value: &[u8]) -> Result<Vec<u8>, i32> {
    const SCRIPT: &str = r#"
import os, sys
op, path, name, value = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
try:
    if op == "get":
        out = os.getxattr(path, name, follow_symlinks=False)
    elif op == "set":
        os.setxattr(path, name, value, follow_symlinks=False)
        out = b""
    elif op == "remove":
        os.removexattr(path, name, follow_symlinks=False)
        out = b""
    else:
        out = "\n".join(sorted(os.listxattr(path, follow_symlinks=False))).encode()
    print("ok " + out.hex())
except OSError as e:
    print("errno %d" % e.errno)
"#;
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args([op, &path.to_string_lossy(), name, &hex])
        .stdin(Stdio::null())
        .output()
        .expect("python3 is needed by the xattr tests");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "python xattr helper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(hex) = text.strip_prefix("ok ") {
        Ok((0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect())
    } else if text == "ok" {
        Ok(Vec::new())
    } else {
        Err(text
            .strip_prefix("errno ")
            .and_then(|n| n.parse().ok())
            .expect("errno line"))
    }
}

/// The `user.*` names listxattr reports.
fn user_xattrs(path: &Path) -> Vec<String> {
    let names = xattr("list", path, "", b"").unwrap_or_else(|e| panic!("listxattr {}: errno {e}", path.display()));
    String::from_utf8(names)
        .expect("utf-8 names")
        .lines()
        .filter(|n| n.starts_with("user."))
        .map(str::to_string)
        .collect()
}

fn errno_name(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// `-rw-r-----`-style mode string of a regular file's permission bits.
fn ls_mode(kind: char, mode: u32) -> String {
    let mut s = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

// ---------------------------------------------------------------------------------------
// chmod / chown / utimes.
// ---------------------------------------------------------------------------------------

/// 2001-02-03 04:05:06.123456789 UTC.
const MTIME: (i64, i64) = (981_173_106, 123_456_789);

fn check_file_attrs(path: &Path, what: &str) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{what}: stat {}: {e}", path.display()));
    let got = (
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid(),
        meta.mtime(),
        meta.mtime_nsec(),
    );
    assert_eq!(
        got,
        (0o640, 1234, 5678, MTIME.0, MTIME.1),
        "{what}: (mode, uid, gid, mtime s, mtime ns) of {}",
        path.display()
    );
}

#[test]
fn chmod_chown_and_utimes_persist_across_a_remount() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    sh_ok(mount.path(), "echo 'some content' > f.txt", &mount);
    server.reset_stats();
    sh_ok(
        mount.path(),
        "chmod 0640 f.txt && chown 1234:5678 f.txt && touch -m -d '2001-02-03 04:05:06.123456789 UTC' f.txt",
        &mount,
    );
    print_requests("chmod + chown + touch -d", &server.stats(), 3, "call");
    check_file_attrs(&mount.join("f.txt"), "on the mount that changed them");
    mount.unmount();

    let fresh = Mount::start(server.endpoint(), &[]);
    check_file_attrs(&fresh.join("f.txt"), "after a remount");
    let stat = sh_ok(fresh.path(), "TZ=UTC stat -c '%a %u %g %Y %y' f.txt", &fresh);
    assert!(
        stat.starts_with("640 1234 5678 981173106 2001-02-03 04:05:06.123456789"),
        "stat(1) after a remount: {stat}"
    );
    assert_eq!(
        std::fs::read(fresh.join("f.txt")).expect("read"),
        b"some content\n",
        "content must not change with the attributes"
    );
    let client = server.client();
    let meta = server
        .block_on(client.head_object(BUCKET, "f.txt"))
        .expect("HeadObject f.txt");
    println!("[meta] user metadata of f.txt: {:?}", meta.user_meta);
    assert!(
        !meta.user_meta.is_empty(),
        "mode, owner and mtime must be kept as x-bce-meta-* user metadata; f.txt has none: {meta:?}"
    );

    // A later change replaces the earlier one, and a rewrite of the content keeps the mode.
    sh_ok(fresh.path(), "chmod 0600 f.txt && echo 'new content' > f.txt", &fresh);
    fresh.unmount();
    let again = Mount::start(server.endpoint(), &[]);
    let meta = std::fs::metadata(again.join("f.txt")).expect("stat");
    assert_eq!(
        meta.mode() & 0o7777,
        0o600,
        "mode after chmod 0600 and a rewrite, after a remount"
    );
    assert_eq!(
        (meta.uid(), meta.gid()),
        (1234, 5678),
        "owner after a rewrite, after a remount"
    );
    assert_eq!(std::fs::read(again.join("f.txt")).expect("read"), b"new content\n");
}

#[test]
fn directory_mode_owner_and_mtime_persist_across_a_remount() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    sh_ok(
        mount.path(),
        "mkdir d && chmod 0750 d && chown 42:43 d && touch -m -d '2001-02-03 04:05:06 UTC' d",
        &mount,
    );
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    let meta = std::fs::metadata(fresh.join("d")).expect("stat d");
    assert!(meta.is_dir());
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid(), meta.mtime()),
        (0o750, 42, 43, MTIME.0),
        "(mode, uid, gid, mtime) of a directory made by mkdir, after a remount"
    );
}

// ---------------------------------------------------------------------------------------
// Extended attributes.
// ---------------------------------------------------------------------------------------

#[test]
fn user_xattrs_round_trip_persist_and_are_bos_user_metadata() {
    let server = TestServer::start(ServerOptions::default());
    let client = server.client();
    let mut options = PutOptions::default();
    options.user_meta.insert("origin".into(), "client".into());
    server
        .block_on(client.put_object(BUCKET, "from-client.txt", bytes::Bytes::from_static(b"x\n"), &options))
        .expect("put with user metadata");

    let mount = Mount::start(server.endpoint(), &[]);
    sh_ok(mount.path(), "echo 'tagged' > tagged.txt", &mount);
    let file = mount.join("tagged.txt");
    let utf8 = "héllo wörld ✓".as_bytes();
    for (name, value) in [
        ("user.color", b"blue".as_slice()),
        ("user.note", b"hello world"),
        ("user.utf8", utf8),
    ] {
        assert_eq!(
            xattr("set", &file, name, value),
            Ok(vec![]),
            "setxattr {name}\nmount log:\n{}",
            tail_of(&mount.log_text())
        );
    }
    assert_eq!(
        xattr("get", &file, "user.color", b""),
        Ok(b"blue".to_vec()),
        "getxattr user.color"
    );
    assert_eq!(
        xattr("get", &file, "user.utf8", b""),
        Ok(utf8.to_vec()),
        "getxattr user.utf8"
    );
    assert_eq!(
        user_xattrs(&file),
        ["user.color", "user.note", "user.utf8"],
        "listxattr"
    );
    // Replacing a value.
    assert_eq!(
        xattr("set", &file, "user.color", b"green"),
        Ok(vec![]),
        "setxattr over an existing name"
    );
    assert_eq!(
        xattr("remove", &file, "user.note", b""),
        Ok(vec![]),
        "removexattr user.note"
    );
    assert_eq!(
        xattr("get", &file, "user.note", b"").map_err(errno_name),
        Err(errno_name(libc::ENODATA)),
        "getxattr of a removed name"
    );
    assert_eq!(
        xattr("remove", &file, "user.never", b"").map_err(errno_name),
        Err(errno_name(libc::ENODATA)),
        "removexattr of a name that was never set"
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"tagged\n",
        "content is untouched by xattrs"
    );
    // Metadata put by another BOS client shows as user.* attributes.
    assert_eq!(
        xattr("get", &mount.join("from-client.txt"), "user.origin", b""),
        Ok(b"client".to_vec()),
        "x-bce-meta-origin of an object put by a client, read as user.origin"
    );
    mount.unmount();

    let meta = server.block_on(client.head_object(BUCKET, "tagged.txt")).expect("head");
    assert_eq!(
        meta.user_meta.get("color").map(String::as_str),
        Some("green"),
        "user.color must be stored as x-bce-meta-color: {:?}",
        meta.user_meta
    );
    assert!(
        !meta.user_meta.contains_key("note"),
        "user.note was removed: {:?}",
        meta.user_meta
    );

    let fresh = Mount::start(server.endpoint(), &[]);
    let file = fresh.join("tagged.txt");
    assert_eq!(
        user_xattrs(&file),
        ["user.color", "user.utf8"],
        "listxattr after a remount"
    );
    assert_eq!(
        xattr("get", &file, "user.color", b""),
        Ok(b"green".to_vec()),
        "after a remount"
    );
    assert_eq!(
        xattr("get", &file, "user.utf8", b""),
        Ok(utf8.to_vec()),
        "after a remount"
    );
}

#[test]
fn user_metadata_beyond_2_kib_is_refused_with_e2big() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    sh_ok(mount.path(), "echo 'content' > big-meta.txt", &mount);
    let file = mount.join("big-meta.txt");

    let huge = vec![b'h'; 2100];
    assert_eq!(
        xattr("set", &file, "user.huge", &huge).map_err(errno_name),
        Err(errno_name(libc::E2BIG)),
        "a 2100-byte value is over BOS's 2 KiB of user metadata"
    );
    // 700-byte values: the first fits, the third cannot (3 × 700 > 2048).
    let value = vec![b'v'; 700];
    let results: Vec<Result<Vec<u8>, i32>> = ["user.a", "user.b", "user.c"]
        .iter()
        .map(|name| xattr("set", &file, name, &value))
        .collect();
    println!("[xattr] three 700-byte values: {results:?}");
    assert_eq!(results[0], Ok(vec![]), "the first 700-byte value fits");
    let refused = results
        .iter()
        .position(|r| r.is_err())
        .expect("one of the 700-byte values must be refused");
    assert!(
        results[refused..].iter().all(|r| *r == Err(libc::E2BIG)),
        "values past 2 KiB are refused with E2BIG: {results:?}"
    );
    let kept: Vec<String> = ["user.a", "user.b", "user.c"][..refused]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(user_xattrs(&file), kept, "listxattr after the refusal");
    for name in &kept {
        assert_eq!(
            xattr("get", &file, name, b""),
            Ok(value.clone()),
            "{name} survives the refusal"
        );
    }
    assert_eq!(std::fs::read(&file).expect("read"), b"content\n");
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    assert_eq!(user_xattrs(&fresh.join("big-meta.txt")), kept, "after a remount");
}

// ---------------------------------------------------------------------------------------
// Symlinks.
// ---------------------------------------------------------------------------------------

#[test]
fn symlinks_are_kept_and_readlink_works_after_a_remount() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    sh_ok(
        mount.path(),
        "echo 'target content' > target.txt && mkdir -p sub dir && echo x > dir/x \
         && ln -s target.txt link && ln -s ../dir/x sub/rel && ln -s /etc/hostname abs \
         && ln -s does/not/exist dangling",
        &mount,
    );
    let links = [
        ("link", "target.txt"),
        ("sub/rel", "../dir/x"),
        ("abs", "/etc/hostname"),
        ("dangling", "does/not/exist"),
    ];
    let check = |m: &Mount, what: &str| {
        for (link, target) in links {
            let meta = std::fs::symlink_metadata(m.join(link)).unwrap_or_else(|e| panic!("{what}: lstat {link}: {e}"));
            assert!(
                meta.file_type().is_symlink(),
                "{what}: {link} must be a symlink, is {:?}",
                meta.file_type()
            );
            assert_eq!(
                std::fs::read_link(m.join(link)).map_err(|e| e.to_string()),
                Ok(target.into()),
                "{what}: readlink {link}"
            );
        }
        assert_eq!(
            std::fs::read(m.join("link")).expect("read through the symlink"),
            b"target content\n",
            "{what}: reading through a symlink"
        );
        assert_eq!(
            std::fs::read(m.join("sub/rel")).expect("read through sub/rel"),
            b"x\n",
            "{what}"
        );
        let listing = sh_ok(m.path(), "ls -l", m);
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with('l') && l.ends_with("link -> target.txt")),
            "{what}: ls -l shows the symlink:\n{listing}"
        );
    };
    check(&mount, "on the mount that made them");
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    check(&fresh, "after a remount");
    // Removing a link leaves its target alone; renaming a link keeps its target.
    sh_ok(fresh.path(), "rm link && mv sub/rel sub/renamed", &fresh);
    assert!(std::fs::symlink_metadata(fresh.join("link")).is_err(), "rm link");
    assert_eq!(
        std::fs::read(fresh.join("target.txt")).expect("read"),
        b"target content\n"
    );
    assert_eq!(
        std::fs::read_link(fresh.join("sub/renamed")).map_err(|e| e.to_string()),
        Ok("../dir/x".into()),
        "readlink of a renamed symlink"
    );
}

// ---------------------------------------------------------------------------------------
// ls -l.
// ---------------------------------------------------------------------------------------

#[test]
fn ls_l_shows_persisted_modes_and_times_after_a_remount() {
    const FILES: u32 = 40;
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    let modes = [0o644, 0o600, 0o755, 0o640, 0o400];
    let mut script = String::from("mkdir many && cd many");
    for i in 0..FILES {
        let mode = modes[i as usize % modes.len()];
        script.push_str(&format!(
            " && echo {i} > f{i:02} && chmod {mode:o} f{i:02} && touch -m -d @{} f{i:02}",
            1_000_000_000 + i * 86_400
        ));
    }
    sh_ok(mount.path(), &script, &mount);
    mount.unmount();

    let fresh = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    let listing = sh_ok(fresh.path(), "ls -l --time-style=+%s many", &fresh);
    print_requests(
        "ls -l of 40 files after a remount",
        &server.stats(),
        FILES as u64,
        "entry",
    );
    let mut seen = 0;
    for line in listing.lines().filter(|l| l.starts_with('-')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let name = fields.last().expect("name");
        let i: u32 = name.trim_start_matches('f').parse().expect("file number");
        let want_mode = ls_mode('-', modes[i as usize % modes.len()]);
        let want_time = (1_000_000_000 + i * 86_400).to_string();
        assert_eq!(
            (fields[0], fields[5]),
            (want_mode.as_str(), want_time.as_str()),
            "ls -l line for {name}: {line}"
        );
        seen += 1;
    }
    assert_eq!(seen, FILES, "ls -l lists every file:\n{listing}");
    let meta = std::fs::metadata(fresh.join("many/f01")).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "stat agrees with ls -l");
}
