//! HTTP implementation of the BOS API (to be written).
