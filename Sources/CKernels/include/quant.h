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
