// Block-quantized dot products for the CPU backend (see quant_kernels.c).
//
// Matrix-vector products y[r] = dot(W row r, x) with W in ggml's 32-element block formats (q4_0, q4_1, q8_0)
// and x quantized once per call to int8 blocks: integer products within a block, one float
// multiply-add per block. Weight block layouts are ggml's (`Sources/Tensors/Quantization.swift`).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether this CPU runs the vector paths (AVX2+FMA+F16C on x86-64; elsewhere none yet: the portable
/// scalar code runs, and the Swift side keeps its own float kernels instead).
int hark_quant_vector_isa(void);

/// The activation vector quantized to 32-element int8 blocks: block b has scale ds[2b] = d (value j ≈ q_j · d)
/// and block sum ds[2b + 1] = s = d · Σ q_j, which q4_0's −8 offset and q4_1's min need (ggml's q8_1 idea,
/// in f32). Scales and quants live in separate arrays so that four blocks' (d, s) pairs load as one vector.
///
/// Quantizes `count` floats (a multiple of 32): d = max |x| / 127, q = x / d rounded to nearest (ties to
/// even). `ds` holds 2 · count / 32 floats, `qs` count bytes. With `nibble_pairs` 0, block b's q_j is
/// qs[32b + j] (what the q8_0 kernel reads). With `nibble_pairs` 1 (what the q4_0 / q4_1 kernels read),
/// blocks 2i and 2i + 1 share 64 bytes in the order a q4 byte's nibbles unpack to for two blocks at once:
/// elements 0–15 of block 2i, 0–15 of 2i + 1, 16–31 of 2i, 16–31 of 2i + 1; an odd last block stays as is.
void hark_quantize_q8(const float *x, size_t count, int nibble_pairs, float *ds, int8_t *qs);

/// y[r] = Σ_b dot(block b of W row r, x block b) for r in [row_begin, row_end), x as `hark_quantize_q8`
/// leaves it. W rows are `blocks` blocks each (18 bytes for q4_0, 20 for q4_1, 34 for q8_0) with no padding
/// between rows; `y` is indexed by r. These pick the AVX2 kernel when `hark_quant_vector_isa()` holds, else
/// the scalar one.
void hark_q4_0_rows(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                    size_t row_end, float *y);
void hark_q4_1_rows(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                    size_t row_end, float *y);
void hark_q8_0_rows(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                    size_t row_end, float *y);

/// The portable scalar kernels, whatever the CPU (for tests: the vector paths must agree with them).
void hark_q4_0_rows_scalar(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                           size_t row_end, float *y);
void hark_q4_1_rows_scalar(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                           size_t row_end, float *y);
void hark_q8_0_rows_scalar(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                           size_t row_end, float *y);

#ifdef __cplusplus
}
#endif
