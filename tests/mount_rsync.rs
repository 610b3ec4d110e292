//! Acceptance tests of rsync and cp fidelity through real mounts of the `bosmount` binary
//! over the local server: `rsync -a` of a 500-file tree, a restart of the server and a
//! remount, then a second rsync that transfers nothing; rsync of a few changed files over an
//! existing target; `cp -a` and `cp -r --preserve=timestamps`. Trees are compared by content,
//! modes, owners, mtimes (seconds and nanoseconds) and symlink targets.

mod mountutil;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bosmount::server::StatsSnapshot;
use mountutil::{Mount, ServerOptions, TestServer};
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------
// Private helpers.
// ---------------------------------------------------------------------------------------

/// Run `sh -c script` in `dir`, killed after `limit`; stdout and stderr captured.
fn sh_limited(dir: &Path, script: &str, limit: Duration) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    // Drain the pipes on threads so a chatty command cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{script}` did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_thread.join().expect("stdout thread"),
        stderr: err_thread.join().expect("stderr thread"),
    }
}

/// Run `script` (limited to 10 minutes) and insist that it succeeds.
fn sh_ok(dir: &Path, script: &str, mount: &Mount) -> String {
    let out = sh_limited(dir, script, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "`{script}` failed ({}):\nstdout: {}\nstderr: {}\nmount log:\n{}",
        out.status,
        tail_of(&stdout, 30),
        tail_of(&String::from_utf8_lossy(&out.stderr), 30),
        tail_of(&mount.log_text(), 40),
    );
    stdout
}

fn tail_of(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Print the request counters of one scenario, in total and per unit.
fn print_requests(label: &str, stats: &StatsSnapshot, units: u64, unit: &str) {
    let detail: Vec<String> = stats
        .requests
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(op, n)| format!("{op}={n} ({:.2}/{unit})", *n as f64 / units as f64))
        .collect();
    println!(
        "[requests] {label}: total={} ({:.2}/{unit}); {}",
        stats.total(),
        stats.total() as f64 / units.max(1) as f64,
        detail.join(", ")
    );
    println!(
        "[requests] {label}: LIST/{unit} {:.2}, HEAD/{unit} {:.2}, PUT/{unit} {:.2}",
        stats.count("ListObjects") as f64 / units as f64,
        stats.count("GetObjectMeta") as f64 / units as f64,
        stats.count("PutObject") as f64 / units as f64,
    );
}

/// The number in rsync's "Number of regular files transferred: N" line.
fn regular_files_transferred(stats_output: &str) -> u64 {
    stats_output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Number of regular files transferred:"))
        .map(|n| n.trim().replace(',', "").parse().expect("a number"))
        .unwrap_or_else(|| panic!("no 'Number of regular files transferred' in rsync's output:\n{stats_output}"))
}

/// One entry of a source tree.
#[derive(Debug, Clone)]
struct Spec {
    rel: String,
    size: usize,
    mode: u32,
    mtime: SystemTime,
    owner: Option<(u32, u32)>,
}

/// Write `specs` under `root` (directories made as needed) with their modes, times and owners.
fn write_tree(root: &Path, specs: &[Spec], seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for spec in specs {
        let path = root.join(&spec.rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir -p");
        let mut data = vec![0u8; spec.size];
        rng.fill(&mut data[..]);
        std::fs::write(&path, &data).expect("write a source file");
        set_attrs(&path, spec);
    }
}

fn set_attrs(path: &Path, spec: &Spec) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(spec.mode)).expect("chmod");
    if let Some((uid, gid)) = spec.owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown (the tests run as root)");
    }
    let file = std::fs::File::options().write(true).open(path).expect("open for times");
    file.set_times(
        std::fs::FileTimes::new()
            .set_modified(spec.mtime)
            .set_accessed(spec.mtime),
    )
    .expect("set mtime");
}

/// A time in 2020 with a non-zero nanosecond part (rsync compares nanoseconds).
fn past_time(i: u64) -> SystemTime {
    UNIX_EPOCH
        + Duration::new(
            1_577_836_800 + i * 3_607,
            ((i * 1_234_567 + 891) % 1_000_000_000) as u32,
        )
}

/// 500 files in nested directories: mostly small, a few of 1–3 MiB, several modes, a few
/// owned by 1000:1000, old mtimes with nanoseconds.
fn five_hundred_files() -> Vec<Spec> {
    let dirs = ["", "a", "a/b", "a/b/c", "docs", "docs/img", "logs", "deep/1/2/3"];
    (0..500u64)
        .map(|i| {
            let dir = dirs[(i % dirs.len() as u64) as usize];
            let name = format!("file{i:03}.{}", ["dat", "txt", "bin", "log"][(i % 4) as usize]);
            let size = match i {
                _ if i % 50 == 7 => 1024 * 1024 + ((i * 7919) % (2 * 1024 * 1024)) as usize,
                _ if i % 97 == 0 => 0,
                _ => ((i * 2_654_435_761) % 40_000) as usize + 1,
            };
            let mode = [0o644, 0o644, 0o600, 0o755, 0o640][(i % 5) as usize];
            Spec {
                rel: if dir.is_empty() { name } else { format!("{dir}/{name}") },
                size,
                mode,
                mtime: past_time(i),
                owner: (i % 25 == 4).then_some((1000, 1000)),
            }
        })
        .collect()
}

/// Symlinks of the source trees: (link, target).
const SYMLINKS: [(&str, &str); 3] = [
    ("a/up.lnk", "../file000.dat"),
    ("docs/absolute.lnk", "/etc/hostname"),
    ("dangling.lnk", "nowhere/missing.txt"),
];

fn add_symlinks(root: &Path) {
    for (link, target) in SYMLINKS {
        std::os::unix::fs::symlink(target, root.join(link)).expect("symlink");
    }
}

fn sha256_of(path: &Path) -> String {
    mountutil::sha256_file(path)
}

/// Every entry under `root` (relative paths), depth first, directories included.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("readdir {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").file_name())
            .collect();
        entries.sort();
        for name in entries {
            let child = rel.join(&name);
            let meta = std::fs::symlink_metadata(root.join(&child)).expect("lstat");
            if meta.is_dir() {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out
}

/// What must match between a source entry and its copy.
#[derive(Clone, Copy)]
struct Checks {
    mode: bool,
    owner: bool,
    /// Expected permission bits = source bits & !mask (for a copy that does not keep modes).
    mode_mask: u32,
}

/// Differences between `src` and `dst` (regular files and symlinks checked strictly;
/// directories only for existence), one line each.
fn compare_trees(src: &Path, dst: &Path, checks: Checks) -> Vec<String> {
    let mut problems = Vec::new();
    let src_entries = walk(src);
    let dst_entries: BTreeSet<PathBuf> = walk(dst).into_iter().collect();
    let src_set: BTreeSet<PathBuf> = src_entries.iter().cloned().collect();
    for extra in dst_entries.difference(&src_set) {
        problems.push(format!("{}: in the copy but not in the source", extra.display()));
    }
    for rel in &src_entries {
        let (s, d) = (src.join(rel), dst.join(rel));
        let sm = std::fs::symlink_metadata(&s).expect("lstat source");
        let dm = match std::fs::symlink_metadata(&d) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{}: missing in the copy ({e})", rel.display()));
                continue;
            }
        };
        let name = rel.display();
        if sm.file_type().is_symlink() {
            if !dm.file_type().is_symlink() {
                problems.push(format!(
                    "{name}: a symlink in the source, {:?} in the copy",
                    dm.file_type()
                ));
                continue;
            }
            let (st, dt) = (std::fs::read_link(&s).expect("readlink"), std::fs::read_link(&d));
            if dt.as_ref().ok() != Some(&st) {
                problems.push(format!("{name}: symlink target {dt:?}, want {st:?}"));
            }
            continue;
        }
        if sm.is_dir() {
            if !dm.is_dir() {
                problems.push(format!("{name}: a directory in the source, not in the copy"));
            }
            continue;
        }
        if !dm.is_file() {
            problems.push(format!(
                "{name}: a regular file in the source, {:?} in the copy",
                dm.file_type()
            ));
            continue;
        }
        if sm.len() != dm.len() {
            problems.push(format!("{name}: size {} want {}", dm.len(), sm.len()));
        } else if sha256_of(&s) != sha256_of(&d) {
            problems.push(format!("{name}: content differs"));
        }
        let want_mode = sm.mode() & 0o7777 & !checks.mode_mask;
        if checks.mode && dm.mode() & 0o7777 != want_mode {
            problems.push(format!("{name}: mode {:o} want {:o}", dm.mode() & 0o7777, want_mode));
        }
        if checks.owner && (dm.uid(), dm.gid()) != (sm.uid(), sm.gid()) {
            problems.push(format!(
                "{name}: owner {}:{} want {}:{}",
                dm.uid(),
                dm.gid(),
                sm.uid(),
                sm.gid()
            ));
        }
        if dm.mtime() != sm.mtime() {
            problems.push(format!("{name}: mtime {} s want {} s", dm.mtime(), sm.mtime()));
        } else if dm.mtime_nsec() != sm.mtime_nsec() {
            problems.push(format!(
                "{name}: mtime nanoseconds {} want {} (seconds match)",
                dm.mtime_nsec(),
                sm.mtime_nsec()
            ));
        }
    }
    problems
}

fn assert_same_tree(src: &Path, dst: &Path, checks: Checks, what: &str) {
    let problems = compare_trees(src, dst, checks);
    assert!(
        problems.is_empty(),
        "{what}: {} difference(s), first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(25)].join("\n")
    );
}

/// `diff -r --no-dereference` (content and symlink targets) must find nothing.
fn assert_diff_clean(src: &Path, dst: &Path) {
    let out = sh_limited(
        Path::new("/"),
        &format!("diff -r --no-dereference '{}' '{}'", src.display(), dst.display()),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "diff -r found differences ({}):\n{}\n{}",
        out.status,
        tail_of(&String::from_utf8_lossy(&out.stdout), 30),
        tail_of(&String::from_utf8_lossy(&out.stderr), 10)
    );
}

const STRICT: Checks = Checks {
    mode: true,
    owner: true,
    mode_mask: 0,
};

// ---------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------

#[test]
fn rsync_of_500_files_then_a_restarted_server_and_a_remount_transfers_nothing() {
    let mut server = TestServer::start(ServerOptions::default());
    let src_dir = tempfile::tempdir().expect("src");
    let src = src_dir.path().join("tree");
    let specs = five_hundred_files();
    write_tree(&src, &specs, 500);
    add_symlinks(&src);
    let total: usize = specs.iter().map(|s| s.size).sum();
    println!(
        "[tree] {} files, {:.1} MiB, {} symlinks",
        specs.len(),
        total as f64 / 1048576.0,
        SYMLINKS.len()
    );

    let mount = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    let started = Instant::now();
    let first = sh_ok(
        Path::new("/"),
        &format!(
            "rsync -a --stats '{}/' '{}/dst/'",
            src.display(),
            mount.path().display()
        ),
        &mount,
    );
    let first_time = started.elapsed();
    let stats = server.stats();
    println!("[time] first rsync -a of 500 files: {:.2} s", first_time.as_secs_f64());
    print_requests("first rsync -a", &stats, specs.len() as u64, "file");
    assert_eq!(
        regular_files_transferred(&first),
        specs.len() as u64,
        "the first rsync transfers every file:\n{first}"
    );
    assert_same_tree(
        &src,
        &mount.join("dst"),
        STRICT,
        "after the first rsync, through the writing mount",
    );
    mount.unmount();

    // Restart the server over the same data, and mount again.
    server.reopen();
    let mount = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    let started = Instant::now();
    let second = sh_ok(
        Path::new("/"),
        &format!(
            "rsync -a --stats -i '{}/' '{}/dst/'",
            src.display(),
            mount.path().display()
        ),
        &mount,
    );
    println!(
        "[time] second rsync (no change, after restart + remount): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    print_requests("second rsync -a", &server.stats(), specs.len() as u64, "file");
    let itemized: Vec<&str> = second
        .lines()
        .filter(|l| l.starts_with('>') || l.starts_with('.') || l.starts_with("cL"))
        .collect();
    assert_eq!(
        regular_files_transferred(&second),
        0,
        "the second rsync must transfer nothing: times, modes and owners must persist in the bucket.\n\
         rsync itemized (first 20): {:?}\nfirst differences it saw:\n{}",
        &itemized[..itemized.len().min(20)],
        compare_trees(&src, &mount.join("dst"), STRICT)
            .into_iter()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_same_tree(&src, &mount.join("dst"), STRICT, "after a restart and a remount");
    assert_diff_clean(&src, &mount.join("dst"));
}

#[test]
fn rsync_over_an_existing_target_transfers_exactly_the_changed_files() {
    let server = TestServer::start(ServerOptions::default());
    let src_dir = tempfile::tempdir().expect("src");
    let src = src_dir.path().join("tree");
    let specs: Vec<Spec> = five_hundred_files().into_iter().take(60).collect();
    // Regular files only: this test is about rsync's temp-file-then-rename over existing
    // targets; symlinks are covered by the 500-file test and tests/mount_meta.rs.
    write_tree(&src, &specs, 60);

    let mount = Mount::start(server.endpoint(), &[]);
    let rsync = format!(
        "rsync -a --stats -i '{}/' '{}/dst/'",
        src.display(),
        mount.path().display()
    );
    sh_ok(Path::new("/"), &rsync, &mount);

    // Change three files (new content and time), add one, and change one file's mode only.
    let changed = [&specs[3], &specs[17], &specs[42]];
    for (n, spec) in changed.iter().enumerate() {
        let path = src.join(&spec.rel);
        std::fs::write(&path, format!("changed content number {n}\n").repeat(100 + n)).expect("rewrite");
        let mut newer = (*spec).clone();
        newer.mtime = past_time(10_000 + n as u64);
        set_attrs(&path, &newer);
    }
    let added = "a/b/new-file.txt";
    std::fs::write(src.join(added), b"a brand new file\n").expect("add");
    let chmodded = &specs[8];
    std::fs::set_permissions(src.join(&chmodded.rel), std::fs::Permissions::from_mode(0o700)).expect("chmod");

    server.reset_stats();
    let out = sh_ok(Path::new("/"), &rsync, &mount);
    print_requests("rsync of 4 changed/added files", &server.stats(), 4, "file");
    let itemized: Vec<&str> = out.lines().filter(|l| l.starts_with(['>', '.', 'c'])).collect();
    println!(
        "[rsync] itemized changes of the second run ({}):\n{}",
        itemized.len(),
        itemized.join("\n")
    );
    let transferred: BTreeSet<String> = out
        .lines()
        .filter(|l| l.starts_with(">f"))
        .filter_map(|l| l.split_once(' ').map(|(_, name)| name.trim().to_string()))
        .collect();
    let mut want: BTreeSet<String> = changed.iter().map(|s| s.rel.clone()).collect();
    want.insert(added.to_string());
    assert_eq!(transferred, want, "files rsync transferred (itemized):\n{out}");
    assert_eq!(regular_files_transferred(&out), 4, "{out}");
    // Compare on the same mount and after a remount, and report both: which of the two
    // is wrong tells a stale view from lost metadata.
    let on_mount = compare_trees(&src, &mount.join("dst"), STRICT);
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    let after_remount = compare_trees(&src, &fresh.join("dst"), STRICT);
    let show = |p: &[String]| p[..p.len().min(15)].join("\n");
    assert!(
        on_mount.is_empty() && after_remount.is_empty(),
        "after the second rsync: {} difference(s) on the same mount, {} after a remount\n\
         same mount:\n{}\nafter a remount:\n{}",
        on_mount.len(),
        after_remount.len(),
        show(&on_mount),
        show(&after_remount)
    );
    assert_diff_clean(&src, &fresh.join("dst"));
}

#[test]
fn cp_a_and_cp_r_preserve_timestamps_keep_times_and_modes_across_a_remount() {
    let server = TestServer::start(ServerOptions::default());
    let src_dir = tempfile::tempdir().expect("src");
    let src = src_dir.path().join("tree");
    let specs: Vec<Spec> = five_hundred_files()
        .into_iter()
        .filter(|s| s.size < 100_000)
        .take(40)
        .collect();
    write_tree(&src, &specs, 40);
    add_symlinks(&src);

    let mount = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    sh_ok(
        Path::new("/"),
        &format!("cp -a '{}' '{}/a'", src.display(), mount.path().display()),
        &mount,
    );
    print_requests("cp -a", &server.stats(), specs.len() as u64, "file");
    sh_ok(
        Path::new("/"),
        &format!(
            "umask 022 && cp -r --preserve=timestamps '{}' '{}/b'",
            src.display(),
            mount.path().display()
        ),
        &mount,
    );
    assert_same_tree(&src, &mount.join("a"), STRICT, "cp -a, through the writing mount");
    mount.unmount();

    let fresh = Mount::start(server.endpoint(), &[]);
    assert_same_tree(&src, &fresh.join("a"), STRICT, "cp -a, after a remount");
    assert_same_tree(
        &src,
        &fresh.join("b"),
        Checks {
            mode: true,
            owner: false,
            mode_mask: 0o022,
        },
        "cp -r --preserve=timestamps, after a remount",
    );
}

#[test]
fn an_empty_temp_file_made_like_rsync_does_can_be_timed_chmodded_and_renamed() {
    // rsync's receiver, for a zero-byte file: open(O_WRONLY|O_CREAT|O_EXCL, 0600) of a
    // dot-temp name, close without writing, set times and mode, rename over the final name.
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import os, sys
d = sys.argv[1]
tmp, final = os.path.join(d, ".empty.XXXXXX"), os.path.join(d, "empty")
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.close(fd)
os.utime(tmp, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
os.chmod(tmp, 0o640)
os.rename(tmp, final)
"#,
        )
        .arg(mount.path())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "empty temp file: create, utime, chmod, rename failed: {}\nmount log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text(), 20)
    );
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    let meta = std::fs::metadata(fresh.join("empty")).expect("stat empty after a remount");
    assert_eq!(
        (meta.len(), meta.mode() & 0o7777, meta.mtime(), meta.mtime_nsec()),
        (0, 0o640, 1_600_000_000, 123_456_789),
        "(size, mode, mtime s, mtime ns) of the renamed empty file after a remount"
    );
    assert!(
        std::fs::symlink_metadata(fresh.join(".empty.XXXXXX")).is_err(),
        "the temp name is gone"
    );
}
