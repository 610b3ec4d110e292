//! Write path: PutObject, streaming multipart upload and AppendObject pipelines (to be written).
