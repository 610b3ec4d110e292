//! Resumable MD5 of an appendable object's whole content: the hasher's internal state
//! (chaining words, length, pending partial block) serialized as base64 text for the index
//! record, so each append hashes only its own bytes and HEAD reads the digest from the
//! record instead of re-reading a log that may be gigabytes long.

use base64::Engine;
use md5::digest::common::hazmat::{SerializableState, SerializedState};
use md5::{Digest, Md5};

/// The state of `hasher` as text for the index.
pub fn save(hasher: &Md5) -> String {
    base64::engine::general_purpose::STANDARD.encode(hasher.serialize().as_slice())
}

/// A hasher resumed from text written by [`save`]; `None` if the text is not a valid state.
pub fn load(text: &str) -> Option<Md5> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    let state = SerializedState::<Md5>::try_from(bytes.as_slice()).ok()?;
    Md5::deserialize(&state).ok()
}

/// The digest a saved state stands for, without consuming anything.
pub fn digest_of(hasher: &Md5) -> [u8; 16] {
    hasher.clone().finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumed_state_continues_the_same_digest() {
        // Lengths around the 64-byte block so the pending partial block is exercised.
        for split in [0usize, 1, 63, 64, 65, 200] {
            let data: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
            let mut first = Md5::new();
            first.update(&data[..split]);
            let text = save(&first);
            let mut resumed = load(&text).expect("valid state");
            resumed.update(&data[split..]);
            let want: [u8; 16] = Md5::digest(&data).into();
            assert_eq!(digest_of(&resumed), want, "split at {split}");
        }
        assert!(load("not base64!").is_none());
        assert!(load("AAAA").is_none());
    }
}
