//! `bosmount uploads`: lists unfinished multipart uploads of a `bosmount serve` over more
//! than one ListMultipartUploads page, filters by age, and aborts them.

mod mountutil;

use std::process::Command;

use bosmount::bos::credentials::{LOCAL_DEFAULT_ACCESS_KEY_ID, LOCAL_DEFAULT_SECRET_ACCESS_KEY};
use bosmount::bos::types::PutOptions;
use mountutil::{binary, ServerOptions, TestServer, BUCKET};

fn uploads(endpoint: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(["uploads", &format!("{BUCKET}/dir/"), "--endpoint", endpoint])
        .args(args)
        .env("BCE_ACCESS_KEY_ID", LOCAL_DEFAULT_ACCESS_KEY_ID)
        .env("BCE_SECRET_ACCESS_KEY", LOCAL_DEFAULT_SECRET_ACCESS_KEY)
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn lists_pages_of_unfinished_uploads_filters_by_age_and_aborts_them() {
    let server = TestServer::start(ServerOptions::default());
    let client = server.client();
    let count = 1003;
    server.block_on(async {
        for n in 0..count {
            client
                .initiate_multipart_upload(BUCKET, &format!("dir/file-{n:04}"), &PutOptions::default())
                .await
                .expect("initiate");
        }
        client
            .initiate_multipart_upload(BUCKET, "elsewhere", &PutOptions::default())
            .await
            .expect("initiate");
    });
    let (ok, stdout, stderr) = uploads(server.endpoint(), &[]);
    assert!(ok, "{stderr}");
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("dir/file-")).collect();
    assert_eq!(listed.len(), count, "{stderr}");
    assert!(listed[0].starts_with("dir/file-0000\t") && listed[count - 1].starts_with("dir/file-1002\t"));
    assert!(!stdout.contains("elsewhere"));
    assert!(
        stdout.contains(&format!("{count} unfinished upload(s) in {BUCKET}/dir/")),
        "{stdout}"
    );

    let (ok, stdout, _) = uploads(server.endpoint(), &["--older-than", "1h", "--abort"]);
    assert!(ok);
    assert!(
        stdout.contains(&format!(
            "0 unfinished upload(s) older than 1h0m in {BUCKET}/dir/ ({count} in all)"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("aborted"));

    let (ok, stdout, stderr) = uploads(server.endpoint(), &["--abort"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("aborted dir/file-")).count(),
        count
    );
    let (ok, stdout, _) = uploads(server.endpoint(), &[]);
    assert!(ok);
    assert!(
        stdout.contains(&format!("0 unfinished upload(s) in {BUCKET}/dir/ (0 in all)")),
        "{stdout}"
    );
    let rest = server
        .block_on(bosmount::ops::uploads::list_all(client.as_ref(), BUCKET, ""))
        .expect("list");
    assert_eq!(rest.len(), 1, "the upload outside the prefix is left alone");
}

#[test]
fn a_bad_age_is_refused() {
    let out = Command::new(binary())
        .args(["uploads", BUCKET, "--older-than", "1w"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid age unit"));
}
