//! Helpers shared by the integration tests: the backend conformance suite.

#![allow(dead_code)]

pub mod conformance;
