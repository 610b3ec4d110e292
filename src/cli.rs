//! Command line: `bosmount serve` and `bosmount mount`.
