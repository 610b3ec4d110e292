//! The conformance suite on the in-memory twin, plus checks of its fault injection used
//! the way filesystem tests use it.

mod common;

use std::sync::Arc;

use bosmount::bos::memory::InMemoryBos;
use common::conformance::Target;

const MIN_PART: u64 = 1024;

async fn memory_target() -> Target {
    let bos = InMemoryBos::with_bucket("conformance").with_min_part_size(MIN_PART);
    Target {
        api: Arc::new(bos),
        bucket: "conformance".into(),
        min_part: MIN_PART,
        guard: Box::new(()),
    }
}

conformance_tests!(memory_target;
    put_get_head, error_kinds, conditional_put, list_pagination, copy_object, append_table,
    multipart, upload_part_copy, deletes, buckets, edge_rules);
