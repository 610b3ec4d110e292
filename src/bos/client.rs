//! HTTP implementation of the BOS API (being written).

pub mod validate;
