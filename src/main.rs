//! The `bosmount` binary: parse arguments, run, and report failure as one line. Logging
//! is set up by each command (a mount knows its log destination only once parsed).

fn main() {
    let result = bosmount::cli::parse(std::env::args_os().collect()).and_then(bosmount::cli::run);
    if let Err(message) = result {
        eprintln!("bosmount: {message}");
        std::process::exit(1);
    }
}
