//! The local BOS-compatible server (to be written).
