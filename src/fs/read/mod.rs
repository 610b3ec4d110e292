//! Read path: ranged GETs with sequential read-ahead (to be written).
