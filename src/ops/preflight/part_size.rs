//! The multipart part size must be one the server accepts at CompleteMultipartUpload:
//! BOS's 5 MiB minimum (and 5 GiB maximum) for every part but the last, or the lower
//! minimum a `bosmount serve --min-part-size` announces. Refused before mounting rather
//! than as EIO at the `close()` of every large file.

use crate::bos::types::MIN_PART_SIZE;

/// BOS's largest part.
pub const MAX_PART_SIZE: u64 = 5 << 30;

/// A part size the server would refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PartSizeError {
    /// Below the minimum.
    #[error("--part-size {size} is below the smallest part {who} accepts ({min} bytes); files over one part would fail at close")]
    TooSmall {
        /// Asked for.
        size: u64,
        /// The minimum.
        min: u64,
        /// "BOS" or "this server".
        who: &'static str,
    },
    /// Above the maximum.
    #[error("--part-size {size} is above BOS's largest part ({MAX_PART_SIZE} bytes)")]
    TooLarge {
        /// Asked for.
        size: u64,
    },
}

/// Check `size` against `server_min` (announced by the local server) or BOS's minimum.
pub fn check(size: u64, server_min: Option<u64>) -> Result<(), PartSizeError> {
    let (min, who) = match server_min {
        Some(min) => (min.max(1), "this server"),
        None => (MIN_PART_SIZE, "BOS"),
    };
    if size < min {
        return Err(PartSizeError::TooSmall { size, min, who });
    }
    if size > MAX_PART_SIZE {
        return Err(PartSizeError::TooLarge { size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(check(MIN_PART_SIZE, None).is_ok());
        assert!(matches!(
            check(1 << 20, None),
            Err(PartSizeError::TooSmall { who: "BOS", .. })
        ));
        assert!(check(1 << 20, Some(1 << 20)).is_ok());
        assert!(check(1, Some(1 << 20)).is_err());
        assert!(matches!(check(6 << 30, None), Err(PartSizeError::TooLarge { .. })));
    }
}
