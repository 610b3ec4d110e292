//! The `bosmount` binary: parse arguments, set up logging, run, and report failure as one line.

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = bosmount::cli::Cli::parse();
    if let Err(message) = bosmount::cli::run(cli) {
        eprintln!("bosmount: {message}");
        std::process::exit(1);
    }
}
