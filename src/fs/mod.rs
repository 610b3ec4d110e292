//! Filesystem logic over the BOS API (to be written).
