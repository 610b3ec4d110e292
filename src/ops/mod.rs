//! Running bosmount as a real mount: how mount(8) and `/etc/fstab` reach it
//! ([`mount_options`]), the systemd readiness notification ([`notify`]), the checks made
//! before mounting so every mistake fails fast with its cause ([`preflight`]), the
//! `bosmount uploads` command ([`uploads`]) and `bosmount status` ([`status`]: the files a
//! running mount is uploading).

pub mod mount_options;
pub mod notify;
pub mod preflight;
pub mod status;
pub mod uploads;
