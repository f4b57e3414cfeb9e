//! Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, repeating.
//!
//! [`apply_mask`] works eight bytes at a time, which the compiler vectorises; it is the
//! one used on the hot path. [`apply_mask_bytewise`] is its plain twin, kept as the
//! reference the tests compare against for every length, offset and alignment. Neither
//! needs `unsafe`.

/// XORs `buf` with `key`, where `buf[0]` sits at byte `offset` of the payload.
///
/// Masking is an involution, so the same call masks and unmasks. `offset` lets a payload
/// that arrives in pieces be unmasked piece by piece.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let key64 =
        u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes((&*chunk).try_into().expect("8-byte chunk")) ^ key64;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The tail starts at a multiple of 8, so the rotated key still lines up.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The byte-at-a-time reference for [`apply_mask`].
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(i + offset) & 3];
    }
}

/// Copies `src` to the end of `out`, masked, as if `src[0]` sat at payload byte `offset`.
///
/// A large `src` goes block by block through a buffer on the stack, which stays in L1:
/// the masking is done while copying, instead of a second pass over `out` after the
/// copy. A small one is copied and masked in place (it is in L1 anyway, and the block
/// would cost more to set up than it saves).
pub fn extend_masked(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    const BLOCK: usize = 4096;
    if src.len() < BLOCK {
        let start = out.len();
        out.extend_from_slice(src);
        apply_mask(&mut out[start..], key, offset);
        return;
    }
    out.reserve(src.len());
    let mut block = [0u8; BLOCK];
    let mut at = offset;
    for piece in src.chunks(BLOCK) {
        let block = &mut block[..piece.len()];
        block.copy_from_slice(piece);
        apply_mask(block, key, at);
        out.extend_from_slice(block);
        // BLOCK is a multiple of 4, so only the last piece's length can shift the key.
        at += piece.len();
    }
}

fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let s = offset & 3;
    [key[s], key[(s + 1) & 3], key[(s + 2) & 3], key[(s + 3) & 3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc6455_5_3_fast_mask_matches_bytewise_for_every_length_offset_and_alignment() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for align in 0..8 {
            for len in 0..(data.len() - align) {
                for offset in 0..4 {
                    let mut fast = data[align..align + len].to_vec();
                    let mut slow = fast.clone();
                    apply_mask(&mut fast, key, offset);
                    apply_mask_bytewise(&mut slow, key, offset);
                    assert_eq!(fast, slow, "align {align} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn rfc6455_5_3_extend_masked_matches_bytewise_around_its_block_size() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..9000u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 9000] {
            for offset in 0..4 {
                let mut out = vec![0xee; 3];
                extend_masked(&mut out, &data[..len], key, offset);
                let mut slow = data[..len].to_vec();
                apply_mask_bytewise(&mut slow, key, offset);
                assert_eq!(&out[..3], &[0xee; 3], "len {len} offset {offset}");
                assert_eq!(&out[3..], &slow[..], "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn rfc6455_5_7_masked_hello_example() {
        // §5.7: "A single-frame masked text message" carrying "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    proptest! {
        #[test]
        fn rfc6455_5_3_unmasking_in_pieces_equals_unmasking_whole(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            key in any::<[u8; 4]>(),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut pieces = data.clone();
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
            bounds.push(0);
            bounds.push(data.len());
            bounds.sort_unstable();
            for w in bounds.windows(2) {
                apply_mask(&mut pieces[w[0]..w[1]], key, w[0]);
            }
            prop_assert_eq!(whole, pieces);
        }
    }
}
