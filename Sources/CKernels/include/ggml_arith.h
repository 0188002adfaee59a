// llama.cpp's CPU arithmetic (ggml-cpu, x86 build with AVX-512 and FMA), reproduced operation for operation so a
// model run through these kernels rounds exactly where llama.cpp does: activations quantized to 8 bits per
// 32-element block before every block-quantized product, products summed in ggml's lane order, attention operands
// in f16, ggml's own exp approximation in softmax and SiLU. Each function names the ggml function it follows.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// ggml's quantize_row_q8_1 (`with_sum` 1) or quantize_row_q8_0 (0) of k values (whole blocks of 32): per block
/// d = max|x| / 127 kept as f16, q = round-half-even(x · 127 / max|x|), and for q8_1 s = f16(d · Σ q) with the
/// unrounded d. q is written as 16-bit integers (for `hark_gg_packed_matvec`); d and s as floats (f16 values).
void hark_gg_quantize_q8(const float *x, size_t k, int with_sum, int16_t *q, float *d, float *s);

/// y[i · ldy + j] for weight rows j in [j0, j1) (q4_0 `format` 0, q4_1 1, q8_0 2; rows `row_bytes` apart) and the
/// m activation rows quantized by `hark_gg_quantize_q8` (row i at q + i · blocks · 32, d and s + i · blocks): ggml's
/// ggml_vec_dot_q4_1_q8_1 / ggml_vec_dot_q4_0_q8_0 / ggml_vec_dot_q8_0_q8_0 (AVX2 bodies; llamafile's
/// tinyBLAS_Q0_AVX sums the same way): eight lanes of four-element integer sums, each lane accumulated with
/// fma(d_w · d_x, lane, acc) block after block, the lanes added pairwise, q4_1's offsets fma'd separately.
void hark_gg_matvec(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const int16_t *q, const float *d, const float *s,
    size_t m, float *y, size_t ldy, size_t j0, size_t j1);

/// The same products for rows of a weight packed by `hark_quant_pack16`, row groups [g0, g1). AVX-512 BW; VNNI
/// when `vnni` (the same integer sums either way). Only call when hark_cpu_has_avx512().
void hark_gg_packed_matvec(
    int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *d, const float *s, size_t m,
    float *y, size_t ldy, size_t g0, size_t g1, int vnni);

/// ggml_compute_forward_rms_norm_f32 fused with the weight's mul: Σ x² in double, scale = 1 / sqrtf(mean + eps),
/// y = x · scale · w. In place allowed.
void hark_gg_rms_norm(const float *x, const float *w, size_t n, float eps, float *y);

/// ggml_rope_cache_init (no YaRN, attention factor 1): cache[2i], cache[2i+1] = cos, sin of
/// freq_scale · position · base^(−2i/dims), the angle multiplied up step by step in f32 from powf(base, −2/dims).
void hark_gg_rope_cache(float position, float freq_scale, float base, size_t dims, float *cache);

/// Rotates `heads` rows of `head_dim` in place with a cache from `hark_gg_rope_cache`: adjacent pairs (`neox` 0,
/// ggml's GGML_ROPE_TYPE_NORMAL) or halves (`neox` 1).
void hark_gg_rope_rows(float *x, size_t heads, size_t head_dim, size_t dims, int neox, const float *cache);

/// ggml_vec_swiglu_f32: y = silu(g) · u with ggml's AVX-512 exp approximation per 16 values, libm's expf for the
/// rest.
void hark_gg_swiglu(const float *g, const float *u, size_t n, float *y);

/// One causal attention of `rows` queries against `keys` cached keys and values, ggml's non-flash path (ggml_mul_mat
/// of f16 operands, ggml_soft_max_ext): q [rows, E] (rows `q_stride` apart, f32, rounded to f16 here), k and v
/// [keys, E] f16 (rows `kv_stride` apart), out [rows, E] (rows `out_stride` apart). Query row r sees keys
/// 0 ... past + r. With `rows` ≥ 2 the products sum as llamafile's tinyBLAS (16 lanes, one fma chain per lane),
/// with one row as ggml_vec_dot_f16 (four 16-lane accumulators per 64 elements). `scratch` holds
/// 2 · pad64(keys) + 66 · E floats.
void hark_gg_attention(
    const float *q, size_t q_stride, const uint16_t *k, const uint16_t *v, size_t kv_stride, size_t rows,
    size_t keys, size_t past, size_t head_dim, float scale, float *out, size_t out_stride, float *scratch);

/// The portable bodies of `hark_gg_quantize_q8`, `hark_gg_swiglu` and `hark_gg_attention`, which run where AVX-512
/// does not; the same results bit for bit (exported so tests can hold the vector bodies to them).
void hark_gg_quantize_q8_scalar(const float *x, size_t k, int with_sum, int16_t *q, float *d, float *s);
void hark_gg_swiglu_scalar(const float *g, const float *u, size_t n, float *y);
void hark_gg_attention_scalar(
    const float *q, size_t q_stride, const uint16_t *k, const uint16_t *v, size_t kv_stride, size_t rows,
    size_t keys, size_t past, size_t head_dim, float scale, float *out, size_t out_stride, float *scratch);
