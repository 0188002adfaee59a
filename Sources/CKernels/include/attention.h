// Fused multi-head attention, the AVX-512 forms of AttentionKernels' two paths: many query rows (Whisper's
// encoder; one call per task, a head and a block of rows) and one row (decoding; one call per head and row),
// so the Swift side keeps its parallel loops.
#pragma once
#include <stddef.h>

/// Keys per packed panel: two 16-lane vectors.
#define HARK_ATTENTION_PANEL 32
/// Query rows per task, a multiple of the score tile's and the value tile's rows.
#define HARK_ATTENTION_BLOCK_ROWS 12

/// Floats one key/value head's packed keys take: `keys` rounded up to whole panels, times `e`.
size_t hark_attention_packed_floats(long keys, long e);

/// Floats of scratch one task needs (scores, their row sums, the query block transposed).
size_t hark_attention_scratch_floats(long keys, long e);

/// Packs panels [first, first + count) of one head's keys transposed: panel p holds feature c of key
/// p · 32 + i at [p · 32 · e + c · 32 + i]; keys past `keys` are zero. `k` is key 0, `k_stride` floats apart.
void hark_attention_pack_keys(
    const float *k, long k_stride, long keys, long e, long first, long count, float *packed);

/// One task, for CPUs with AVX-512 (call only when hark_cpu_has_avx512()): `rows` (1 ...
/// HARK_ATTENTION_BLOCK_ROWS) query rows at `q` (`q_stride` apart, `e` features) against one head's packed
/// keys and its values at `v` (`v_stride` apart, `ev` features, a multiple of 16), written to `out`.
/// Row i sees keys [0, min(keys, max(0, causal_first + i + 1))) when `causal`, else all of them.
/// `scratch` holds hark_attention_scratch_floats(keys, e) floats, 64-byte aligned.
void hark_attention_block_avx512(
    const float *q, long q_stride, long rows, long e, const float *packed, long keys, const float *v,
    long v_stride, long ev, float scale, int causal, long causal_first, float *out, long o_stride,
    float *scratch);

/// One query row against `keys` keys (≥ 1) of one head, for CPUs with AVX-512 (decoding: few rows, keys
/// read once, so unpacked): q has `e` features; k and v rows are `k_stride` and `v_stride` elements apart,
/// f16 when `half` else f32; `ev` any width. `scratch` holds `keys` floats.
void hark_attention_row_avx512(
    const float *q, long e, const void *k, long k_stride, const void *v, long v_stride, long ev, long keys,
    int half, float scale, float *out, float *scratch);
