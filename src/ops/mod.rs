//! Running bosmount as a real mount: how mount(8) and `/etc/fstab` reach it
//! ([`mount_options`]), the systemd readiness notification ([`notify`]), the checks made
//! before mounting so every mistake fails fast with its cause ([`preflight`]), and the
//! `bosmount uploads` command ([`uploads`]).

pub mod mount_options;
pub mod notify;
pub mod preflight;
pub mod uploads;
