//! The fuser adapter (to be written).
