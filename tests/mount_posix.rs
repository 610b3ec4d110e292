//! POSIX breadth through real mounts of the `bosmount` binary (as root, `--allow-other`):
//! fifos, devices and sockets made by mknod, listed and stat'ed with their type after a
//! remount, renamed, unlinked and used as pipes; hard links refused with EPERM; new nodes
//! owned by the calling user (setgid directories give their group), chown and chmod by the
//! POSIX rules, the kernel's permission checks answering by those owners, all of it after a
//! remount too, and `--uid/--gid` for objects without ownership metadata; inode numbers
//! kept across renames; O_EXCL and symlink onto every existing type refused with EEXIST.
//!
//! Other users are played with `setpriv` (util-linux), running plain shell commands.

mod mountutil;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use bytes::Bytes;

use bosmount::bos::PutOptions;
use mountutil::{tail_of, Mount, ServerOptions, TestServer, BUCKET};

/// The unprivileged users every Debian has.
const NOBODY: u32 = 65534;
const DAEMON: u32 = 1;
/// A group `nobody` is given as a supplementary one.
const EXTRA_GROUP: u32 = 4242;

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run command")
}

/// `sh -c script` in `dir` as root; panics with the mount log unless it succeeds.
fn sh_ok(dir: &Path, script: &str, mount: &Mount) -> String {
    let out = run(Command::new("timeout")
        .args(["30", "sh", "-c", script])
        .current_dir(dir));
    assert!(
        out.status.success(),
        "`{script}` failed ({}):\n{}{}\nmount log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text())
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `sh -c script` in `dir` as `uid`/`gid` with supplementary `groups`: (success, stderr).
fn sh_as(dir: &Path, uid: u32, gid: u32, groups: &[u32], script: &str) -> (bool, String) {
    let groups = if groups.is_empty() {
        "--clear-groups".to_string()
    } else {
        format!(
            "--groups={}",
            groups.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        )
    };
    let out = run(Command::new("timeout")
        .args(["30", "setpriv"])
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg(groups)
        .args(["sh", "-c", script])
        .current_dir(dir));
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
}

/// A mount other users can reach (the fixture's temp directory is private).
fn shared_mount(server: &TestServer, extra: &[&str]) -> Mount {
    let mut args = vec!["--allow-other"];
    args.extend_from_slice(extra);
    let mount = Mount::start(server.endpoint(), &args);
    for dir in [mount.path().parent().expect("temp dir"), mount.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    mount
}

fn lstat(path: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()))
}

fn errno_of(result: std::io::Result<impl Sized>) -> Option<i32> {
    result.err().and_then(|e| e.raw_os_error())
}

#[test]
fn special_nodes_keep_their_type_after_a_remount_and_a_fifo_is_a_pipe() {
    let server = TestServer::start(ServerOptions::default());
    let mount = shared_mount(&server, &[]);
    let dir = mount.path();
    sh_ok(
        dir,
        "mkdir d && mkfifo -m 640 d/fifo && mknod d/chr c 1 3 && mknod d/blk b 8 1 && \
         python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('d/sock')\"",
        &mount,
    );
    let check = |root: &Path| {
        let fifo = lstat(&root.join("d/fifo"));
        assert!(fifo.file_type().is_fifo(), "{fifo:?}");
        assert_eq!(fifo.mode() & 0o7777, 0o640);
        assert_eq!(fifo.len(), 0);
        let chr = lstat(&root.join("d/chr"));
        assert!(chr.file_type().is_char_device());
        assert_eq!(chr.rdev(), libc::makedev(1, 3));
        let blk = lstat(&root.join("d/blk"));
        assert!(blk.file_type().is_block_device());
        assert_eq!(blk.rdev(), libc::makedev(8, 1));
        assert!(lstat(&root.join("d/sock")).file_type().is_socket());
    };
    check(dir);
    // A fifo through the mount is a local pipe: the kernel serves it.
    let out = sh_ok(
        dir,
        "cat d/fifo > got & echo through-the-fifo > d/fifo; wait; cat got",
        &mount,
    );
    assert_eq!(out.trim(), "through-the-fifo");
    // Each is one zero-byte object whose metadata says what it is.
    let client = server.client();
    let meta = server
        .block_on(client.head_object(BUCKET, "d/chr"))
        .expect("head d/chr");
    assert_eq!(meta.size, 0);
    assert_eq!(meta.user_meta.get("mode").map(String::as_str), Some("20644"));
    assert_eq!(
        meta.user_meta.get("rdev").map(String::as_str),
        Some(libc::makedev(1, 3).to_string().as_str())
    );
    // chmod keeps the type.
    sh_ok(dir, "chmod 600 d/fifo", &mount);
    mount.unmount();

    let mount = Mount::start(server.endpoint(), &[]);
    check_types_listed(mount.path(), &mount);
    assert_eq!(lstat(&mount.join("d/fifo")).mode() & 0o7777, 0o600);
    sh_ok(
        mount.path(),
        "mv d/fifo d/fifo2 && mv d/chr chr && rm d/blk d/sock",
        &mount,
    );
    assert!(lstat(&mount.join("d/fifo2")).file_type().is_fifo());
    assert!(lstat(&mount.join("chr")).file_type().is_char_device());
    mount.unmount();
    let mut keys = server.keys();
    keys.retain(|k| !k.ends_with(".bosmount-attrs.json"));
    keys.sort();
    assert_eq!(keys, vec!["chr", "d/", "d/fifo2", "got"]);
    let mount = Mount::start(server.endpoint(), &[]);
    assert!(lstat(&mount.join("d/fifo2")).file_type().is_fifo());
    assert!(lstat(&mount.join("chr")).file_type().is_char_device());
}

/// `ls -l` of a fresh mount shows the types (from the listing and the attribute index).
fn check_types_listed(root: &Path, mount: &Mount) {
    let listing = sh_ok(root, "ls -l d", mount);
    let kinds: Vec<char> = listing
        .lines()
        .filter(|l| !l.starts_with("total"))
        .filter_map(|l| l.chars().next())
        .collect();
    assert_eq!(kinds, vec!['b', 'c', 'p', 's'], "{listing}");
    assert!(listing.contains("1, 3") && listing.contains("8, 1"), "{listing}");
}

#[test]
fn hard_links_are_refused_with_eperm() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    std::fs::write(mount.join("f"), b"x").expect("write");
    assert_eq!(
        errno_of(std::fs::hard_link(mount.join("f"), mount.join("g"))),
        Some(libc::EPERM)
    );
    assert!(!mount.join("g").exists());
}

#[test]
fn new_nodes_belong_to_the_caller_and_chown_chmod_follow_posix() {
    let server = TestServer::start(ServerOptions::default());
    let mount = shared_mount(&server, &[]);
    let dir = mount.path();
    sh_ok(dir, "mkdir pub && chmod 777 pub", &mount);
    let pubdir = mount.join("pub");
    let (ok, err) = sh_as(
        &pubdir,
        NOBODY,
        NOBODY,
        &[NOBODY, EXTRA_GROUP],
        "echo mine > f && mkdir sub && ln -s f link && mkfifo fifo && chmod 600 f && chgrp 4242 f",
    );
    assert!(ok, "{err}");
    for name in ["f", "sub", "link", "fifo"] {
        let m = lstat(&pubdir.join(name));
        assert_eq!(m.uid(), NOBODY, "{name}");
    }
    assert_eq!(lstat(&pubdir.join("sub")).gid(), NOBODY);
    assert_eq!(
        lstat(&pubdir.join("f")).gid(),
        EXTRA_GROUP,
        "chgrp to a supplementary group"
    );
    assert_eq!(lstat(&pubdir.join("f")).mode() & 0o7777, 0o600, "chmod by the owner");
    // Nobody else may read it, chmod it, or give it away; the owner may not give it away.
    let (ok, _) = sh_as(&pubdir, DAEMON, DAEMON, &[], "cat f");
    assert!(!ok, "daemon read nobody's 0600 file");
    let (ok, err) = sh_as(&pubdir, DAEMON, DAEMON, &[], "chmod 666 f");
    assert!(!ok && err.contains("not permitted"), "{err}");
    let (ok, err) = sh_as(&pubdir, NOBODY, NOBODY, &[NOBODY], "chown 1 f");
    assert!(!ok && err.contains("not permitted"), "{err}");
    let (ok, err) = sh_as(&pubdir, NOBODY, NOBODY, &[NOBODY], "chgrp 1 f");
    assert!(!ok && err.contains("not permitted"), "{err}");
    // Root gives it away; chown clears set-user-ID.
    sh_ok(&pubdir, "chmod 4755 f && chown 1:1 f", &mount);
    let m = lstat(&pubdir.join("f"));
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (DAEMON, DAEMON, 0o755));
    // A set-group-ID directory gives its group, and its subdirectories stay set-group-ID.
    sh_ok(dir, "mkdir sg && chgrp 4242 sg && chmod 2777 sg", &mount);
    let (ok, err) = sh_as(&mount.join("sg"), NOBODY, NOBODY, &[NOBODY], "touch n && mkdir m");
    assert!(ok, "{err}");
    let n = lstat(&mount.join("sg/n"));
    assert_eq!((n.uid(), n.gid()), (NOBODY, EXTRA_GROUP));
    let m = lstat(&mount.join("sg/m"));
    assert_eq!((m.gid(), m.mode() & 0o2000), (EXTRA_GROUP, 0o2000));
    // Sticky directory: daemon cannot remove nobody's file.
    sh_ok(dir, "mkdir tmp && chmod 1777 tmp", &mount);
    let (ok, err) = sh_as(&mount.join("tmp"), NOBODY, NOBODY, &[], "touch x");
    assert!(ok, "{err}");
    let (ok, _) = sh_as(&mount.join("tmp"), DAEMON, DAEMON, &[], "rm -f x");
    assert!(!ok, "daemon removed nobody's file in a sticky directory");
    assert!(mount.join("tmp/x").exists());
    mount.unmount();

    // All of it is in the bucket: a fresh mount shows and enforces the same.
    let mount = shared_mount(&server, &[]);
    let pubdir = mount.join("pub");
    let sub = lstat(&pubdir.join("sub"));
    assert_eq!((sub.uid(), sub.gid()), (NOBODY, NOBODY));
    assert_eq!(lstat(&pubdir.join("fifo")).uid(), NOBODY);
    let f = lstat(&pubdir.join("f"));
    assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (DAEMON, DAEMON, 0o755));
    let n = lstat(&mount.join("sg/n"));
    assert_eq!((n.uid(), n.gid()), (NOBODY, EXTRA_GROUP));
    let (ok, _) = sh_as(&mount.join("tmp"), DAEMON, DAEMON, &[], "rm -f x");
    assert!(!ok, "sticky rule after a remount");
    let (ok, err) = sh_as(&pubdir, NOBODY, NOBODY, &[], "touch sub/inside");
    assert!(ok, "the owner writes into its directory after a remount: {err}");
    let (ok, _) = sh_as(&pubdir, DAEMON, DAEMON, &[], "touch sub/intruder");
    assert!(!ok, "daemon wrote into nobody's 0755 directory");
}

#[test]
fn objects_without_ownership_metadata_belong_to_the_mount_options() {
    let server = TestServer::start(ServerOptions::default());
    let client = server.client();
    server
        .block_on(client.put_object(BUCKET, "plain", Bytes::from_static(b"p"), &PutOptions::default()))
        .expect("put");
    server
        .block_on(client.put_object(BUCKET, "dir/inner", Bytes::from_static(b"i"), &PutOptions::default()))
        .expect("put");
    let mount = shared_mount(&server, &["--uid", "1234", "--gid", "5678"]);
    for name in ["plain", "dir", "dir/inner"] {
        let m = lstat(&mount.join(name));
        assert_eq!((m.uid(), m.gid()), (1234, 5678), "{name}");
    }
    // Root's new file is root's, not the mount's.
    std::fs::write(mount.join("new"), b"n").expect("write");
    let m = lstat(&mount.join("new"));
    assert_eq!((m.uid(), m.gid()), (0, 0));
    mount.unmount();
    let meta = server.block_on(client.head_object(BUCKET, "new")).expect("head new");
    assert_eq!(meta.user_meta.get("uid").map(String::as_str), Some("0"));
    let plain = server
        .block_on(client.head_object(BUCKET, "plain"))
        .expect("head plain");
    assert!(plain.user_meta.is_empty(), "{:?}", plain.user_meta);
}

#[test]
fn inode_numbers_survive_renames_and_exclusive_creates_refuse_every_type() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    let dir = mount.path();
    sh_ok(
        dir,
        "mkdir -p a/b && echo x > a/b/f && echo y > g && ln -s g l && mkfifo p",
        &mount,
    );
    let ino = |rel: &str| lstat(&mount.join(rel)).ino();
    let (a, b, f, g, l, p) = (ino("a"), ino("a/b"), ino("a/b/f"), ino("g"), ino("l"), ino("p"));
    sh_ok(dir, "mv g g2 && mv l l2 && mv p p2 && mv a/b/f a/f2 && mv a c", &mount);
    assert_eq!(ino("g2"), g, "file");
    assert_eq!(ino("l2"), l, "symlink");
    assert_eq!(ino("p2"), p, "fifo");
    assert_eq!(ino("c"), a, "directory");
    assert_eq!(ino("c/b"), b, "directory below a renamed one");
    assert_eq!(ino("c/f2"), f, "file moved, then its directory renamed");
    assert!(lstat(&mount.join("l2")).file_type().is_symlink());
    for existing in ["g2", "l2", "p2", "c"] {
        let path = mount.join(existing);
        let excl = std::fs::OpenOptions::new().write(true).create_new(true).open(&path);
        assert_eq!(errno_of(excl), Some(libc::EEXIST), "O_CREAT|O_EXCL on {existing}");
        assert_eq!(
            errno_of(std::os::unix::fs::symlink("target", &path)),
            Some(libc::EEXIST),
            "symlink over {existing}"
        );
        assert_eq!(
            errno_of(std::fs::create_dir(&path)),
            Some(libc::EEXIST),
            "mkdir over {existing}"
        );
    }
    // A file open for writing and unlinked has no links left (one open only for reading
    // loses its object: README, Limits).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(mount.join("g2"))
        .expect("open");
    std::fs::remove_file(mount.join("g2")).expect("unlink");
    assert_eq!(file.metadata().expect("fstat").nlink(), 0);
}
