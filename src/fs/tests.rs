//! Filesystem logic tests over the in-memory BOS twin (no kernel).
