//! Retry policy (to be written).
