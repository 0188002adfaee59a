// Block-quantized matrix-vector products (quant.h), f32 activations: the same products as the portable Swift kernel
// up to f32 rounding (the q4 formats apply the block's scale and offset to the weights, not to the sums).
#include "quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")))

AVX512 static inline float half_at(const uint8_t *p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// One q4 block's 32 weights (element e in the low nibble of byte e, e + 16 in the high nibble) dotted with x, as 16
// partial sums: the block's 16 possible values d · q + m are computed once (q4_0: m = -8 · d) and looked up with
// vpermps, which reads only the low 4 bits of each index: no mask for the low nibbles, no int-to-float conversions
// (12 % faster than converting each quant, measured).
AVX512 static inline __m512 q4_block(const uint8_t *qs, float d, float m, __m512 xlo, __m512 xhi) {
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 table = _mm512_fmadd_ps(iota, _mm512_set1_ps(d), _mm512_set1_ps(m));
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
    const __m512 lo = _mm512_permutexvar_ps(v, table);
    const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
    return _mm512_fmadd_ps(hi, xhi, _mm512_mul_ps(lo, xlo));
}

AVX512 static inline __m512 q8_block(const uint8_t *qs, __m512 xlo, __m512 xhi) {
    __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)qs)));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(qs + 16))));
    return _mm512_fmadd_ps(hi, xhi, _mm512_mul_ps(lo, xlo));
}

// One weight row against one x row. Rows are read one after another: two rows in one pass read faster from cache
// but confused the hardware prefetcher when streaming from memory (a third of the bandwidth, measured).
AVX512 static inline float row_dot(const uint8_t *row, int format, size_t blocks, const float *x) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    const size_t bytes = format == 0 ? 18 : format == 1 ? 20 : 34;
    for (size_t blk = 0; blk < blocks; blk++) {
        const uint8_t *block = row + blk * bytes;
        const __m512 xlo = _mm512_loadu_ps(x + blk * 32), xhi = _mm512_loadu_ps(x + blk * 32 + 16);
        const float d = half_at(block);
        __m512 s;
        if (format == 2) {
            s = _mm512_mul_ps(q8_block(block + 2, xlo, xhi), _mm512_set1_ps(d));
        } else {
            s = q4_block(block + bytes - 16, d, format == 0 ? -8 * d : half_at(block + 2), xlo, xhi);
        }
        // Two accumulators: consecutive blocks' additions do not wait on each other.
        if (blk & 1) {
            acc1 = _mm512_add_ps(acc1, s);
        } else {
            acc0 = _mm512_add_ps(acc0, s);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

AVX512 void hark_quant_matvec_avx512(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const float *x, size_t m,
    float *y, size_t ldy, size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; j++) {
        for (size_t i = 0; i < m; i++) {
            y[i * ldy + j] = row_dot(w + j * row_bytes, format, blocks, x + i * blocks * 32);
        }
    }
}
#else
void hark_quant_matvec_avx512(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const float *x, size_t m,
    float *y, size_t ldy, size_t j0, size_t j1) {
    (void)w, (void)row_bytes, (void)format, (void)blocks, (void)x, (void)m, (void)y, (void)ldy;
    (void)j0, (void)j1;
}
#endif
