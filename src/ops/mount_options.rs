//! `-o name=value,flag,…` as mount(8), `mount.fuse3` and `/etc/fstab` pass options, turned
//! into the long options of `bosmount mount` before the command line is parsed.
//!
//! The helper runs `bosmount SOURCE MOUNTPOINT -o OPTIONS` (no subcommand): [`expand`]
//! adds `mount` then. Each option is a long option of `bosmount mount` written with `_`
//! or `-` (`endpoint=URL`, `allow_other`, `part_size=16MiB`); `ro` means `--read-only`;
//! the generic options mount(8) and fstab use (`rw`, `defaults`, `_netdev`, `nofail`,
//! `noauto`, `user`, `nodev`, `nosuid`, `x-systemd.*`, …) are accepted and ignored, since
//! they concern mount(8) itself or are what bosmount always does. Anything else is refused
//! with its name.

use std::ffi::OsString;

use clap::CommandFactory;

/// Options of mount(8) / fstab that are accepted and have no effect on bosmount.
pub const IGNORED: &[&str] = &[
    "rw",
    "defaults",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "_netdev",
    "netdev",
    "nofail",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "atime",
    "noatime",
    "relatime",
    "strictatime",
    "nodiratime",
    "async",
    "nonempty",
];

/// Why `-o` could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionError {
    /// No such option.
    #[error("unknown mount option -o {0} (see bosmount mount --help)")]
    Unknown(String),
    /// An option that needs a value got none.
    #[error("mount option -o {0} needs a value: -o {0}=VALUE")]
    MissingValue(String),
    /// A flag was given a value.
    #[error("mount option -o {0} takes no value")]
    UnexpectedValue(String),
    /// `-o` at the end of the line.
    #[error("-o needs a list of options")]
    Empty,
}

/// The command line with every `-o` list replaced by long options, and `mount` inserted
/// when the program was run as a mount helper (`bosmount SOURCE MOUNTPOINT …`).
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, OptionError> {
    let mut args = args.into_iter();
    let mut out: Vec<OsString> = args.next().into_iter().collect();
    let rest: Vec<OsString> = args.collect();
    let first = rest.first().and_then(|a| a.to_str()).unwrap_or("");
    let subcommands = ["mount", "serve", "uploads", "status", "help"];
    let helper_form = !rest.is_empty() && !first.starts_with('-') && !subcommands.contains(&first);
    let is_mount = helper_form || first == "mount";
    if helper_form {
        out.push("mount".into());
    }
    if !is_mount {
        out.extend(rest);
        return Ok(out);
    }
    let mut rest = rest.into_iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_str().unwrap_or("");
        let list = if text == "-o" || text == "--options" {
            match rest.next() {
                Some(v) => v.to_string_lossy().into_owned(),
                None => return Err(OptionError::Empty),
            }
        } else if let Some(v) = text.strip_prefix("-o").filter(|v| !v.is_empty()) {
            v.to_string()
        } else {
            out.push(arg);
            continue;
        };
        out.extend(translate(&list)?);
    }
    Ok(out)
}

/// Long options of `bosmount mount`: name → whether it takes a value.
fn long_options() -> Vec<(String, bool)> {
    let command = crate::cli::Cli::command();
    let Some(mount) = command.find_subcommand("mount") else {
        return Vec::new();
    };
    mount
        .get_arguments()
        .filter_map(|a| {
            let takes_value = a.get_action().takes_values();
            a.get_long().map(|l| (l.to_string(), takes_value))
        })
        .collect()
}

/// One `-o` list as long options.
fn translate(list: &str) -> Result<Vec<OsString>, OptionError> {
    let known = long_options();
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v)),
            None => (item, None),
        };
        if IGNORED.contains(&name) || name.starts_with("x-") || name == "comment" {
            continue;
        }
        let long = match name {
            "ro" => "read-only".to_string(),
            other => other.replace('_', "-"),
        };
        let Some((_, takes_value)) = known.iter().find(|(l, _)| *l == long && l != "options") else {
            return Err(OptionError::Unknown(item.to_string()));
        };
        match (takes_value, value) {
            (true, Some(v)) => {
                out.push(format!("--{long}").into());
                out.push(v.into());
            }
            (true, None) => return Err(OptionError::MissingValue(name.to_string())),
            (false, None) => out.push(format!("--{long}").into()),
            (false, Some(_)) => return Err(OptionError::UnexpectedValue(name.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn helper_form_gets_mount_and_long_options() {
        let got = expand(strings(&[
            "bosmount",
            "demo/logs",
            "/mnt/bos",
            "-o",
            "rw,_netdev,endpoint=http://127.0.0.1:8080,allow_other,ro,uid=1000,part_size=16MiB,x-systemd.automount",
        ]))
        .expect("expand");
        assert_eq!(
            got,
            strings(&[
                "bosmount",
                "mount",
                "demo/logs",
                "/mnt/bos",
                "--endpoint",
                "http://127.0.0.1:8080",
                "--allow-other",
                "--read-only",
                "--uid",
                "1000",
                "--part-size",
                "16MiB",
            ])
        );
    }

    #[test]
    fn unknown_and_malformed_options_are_refused() {
        let run = |o: &str| expand(strings(&["bosmount", "mount", "b", "/m", "-o", o]));
        assert_eq!(run("colour=red"), Err(OptionError::Unknown("colour=red".into())));
        assert_eq!(run("endpoint"), Err(OptionError::MissingValue("endpoint".into())));
        assert_eq!(
            run("allow_other=yes"),
            Err(OptionError::UnexpectedValue("allow_other".into()))
        );
        assert_eq!(
            expand(strings(&["bosmount", "mount", "b", "/m", "-o"])),
            Err(OptionError::Empty)
        );
    }

    #[test]
    fn other_commands_are_left_alone() {
        let args = strings(&["bosmount", "serve", "--data", "d", "-o", "x"]);
        assert_eq!(expand(args.clone()).expect("expand"), args);
        let args = strings(&["bosmount", "--help"]);
        assert_eq!(expand(args.clone()).expect("expand"), args);
    }
}
