// Matrix-vector products with ggml block-quantized weights (q4_0, q4_1, q8_0) and f32 activations, AVX-512.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// y[i * ldy + j] = Σ_k x[i * k + c] · W[j, c] for rows j in [j0, j1) of W and the `m` rows of x, with W's rows
/// `row_bytes` apart, each `blocks` blocks of 32 in `format` (0 q4_0, 1 q4_1, 2 q8_0). x is in natural order,
/// f32; products are summed in f32. Only call when hark_cpu_has_avx512().
void hark_quant_matvec_avx512(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const float *x, size_t m,
    float *y, size_t ldy, size_t j0, size_t j1);

/// Bytes of one packed record (`hark_quant_pack16`): 16 rows × one 32-element block; 320 for q4_0 and q4_1, 544
/// for q8_0.
size_t hark_quant_packed_record(int format);

/// Re-lays the first `groups` × 16 rows of a q4_0 (`format` 0), q4_1 (1) or q8_0 (2) weight for
/// `hark_quant_packed_matvec`: per group of 16 rows and per block, one record of the 16 rows' scales d (f16), for
/// the q4 formats their offsets m (f16; q4_0's m is −8·d), then the quants in chunks of 32 bytes. q4: chunk c
/// (of 8) holds elements 4c…4c+3 of each row (byte 2r: elements 4c and 4c+2 of row r in its low and high nibble;
/// byte 2r+1: 4c+1 and 4c+3). q8_0: chunk c (of 16) holds elements 2c and 2c+1 of row r in bytes 2r and 2r+1.
/// Returns 0 when a q4_0 scale's −8·d does not fit an f16 (out is then incomplete).
int hark_quant_pack16(const uint8_t *w, size_t row_bytes, int format, size_t blocks, size_t groups, uint8_t *out);

/// x rows as 16-bit integers per 32-element block: q = round(x / s) with s = max |x| / 32767 over the block, and
/// per block s and s · Σ q (for the weights' offsets). k is whole blocks.
void hark_quantize_i16(const float *x, size_t k, int16_t *q, float *scale, float *sum);

/// y[i * ldy + r] for rows r of the row groups [g0, g1) of a weight packed by `hark_quant_pack16` and the `m` rows
/// of x quantized by `hark_quantize_i16` (row i at q + i · blocks · 32, scale + i · blocks, sum + i · blocks):
/// Σ_b d · s_b · Σ q_w q_x (+ m · s_b · Σ q_x for the q4 formats), integer products summed exactly per block.
/// AVX-512 BW; VNNI when `vnni`. Only call when hark_cpu_has_avx512().
void hark_quant_packed_matvec(
    int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *scale, const float *sum,
    size_t m, float *y, size_t ldy, size_t g0, size_t g1, int vnni);
