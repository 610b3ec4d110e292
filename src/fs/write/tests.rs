//! Tests of the write pipelines against the in-memory BOS twin.
