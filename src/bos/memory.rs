//! In-memory BOS twin (to be written).
