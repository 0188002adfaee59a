// Block-quantized matrix-vector products (quant.h). A block's quants are widened to 32-bit lanes and converted to
// floats (exact), so the only difference from the portable Swift kernel is the order of the f32 sums.
#include "quant.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")))

AVX512 static inline float half_at(const uint8_t *p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// Σ over one block of x · q for a q4 block's 16 quant bytes (element e in the low nibble of byte e, e + 16 in the
// high nibble), as 16 partial sums.
AVX512 static inline __m512 q4_block(const uint8_t *qs, __m512 xlo, __m512 xhi) {
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
    __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, _mm512_set1_epi32(0xF)));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
    return _mm512_fmadd_ps(hi, xhi, _mm512_mul_ps(lo, xlo));
}

AVX512 static inline __m512 q8_block(const uint8_t *qs, __m512 xlo, __m512 xhi) {
    __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)qs)));
    __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(qs + 16))));
    return _mm512_fmadd_ps(hi, xhi, _mm512_mul_ps(lo, xlo));
}

// One weight row against one x row. Rows are read one after another: two rows in one pass read faster from cache
// but confused the hardware prefetcher when streaming from memory (a third of the bandwidth, measured).
AVX512 static inline float row_dot(const uint8_t *row, int format, size_t blocks, const float *x, const float *sums) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    float shift = 0;
    const size_t bytes = format == 0 ? 18 : format == 1 ? 20 : 34;
    const size_t qoff = format == 2 ? 2 : bytes - 16;
    for (size_t blk = 0; blk < blocks; blk++) {
        const uint8_t *block = row + blk * bytes;
        const __m512 xlo = _mm512_loadu_ps(x + blk * 32), xhi = _mm512_loadu_ps(x + blk * 32 + 16);
        const float d = half_at(block);
        __m512 s;
        if (format == 2) {
            s = q8_block(block + qoff, xlo, xhi);
        } else {
            s = q4_block(block + qoff, xlo, xhi);
            // q4_0: value (q - 8) · d; q4_1: value q · d + m. The offset meets x through the block's sum.
            shift += format == 0 ? -8 * d * sums[blk] : half_at(block + 2) * sums[blk];
        }
        // Two accumulators: consecutive blocks' FMAs do not wait on each other.
        if (blk & 1) {
            acc1 = _mm512_fmadd_ps(s, _mm512_set1_ps(d), acc1);
        } else {
            acc0 = _mm512_fmadd_ps(s, _mm512_set1_ps(d), acc0);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + shift;
}

AVX512 void hark_quant_matvec_avx512(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const float *x, const float *sums, size_t m,
    float *y, size_t ldy, size_t j0, size_t j1) {
    for (size_t j = j0; j < j1; j++) {
        for (size_t i = 0; i < m; i++) {
            y[i * ldy + j] = row_dot(w + j * row_bytes, format, blocks, x + i * blocks * 32, sums + i * blocks);
        }
    }
}
#else
void hark_quant_matvec_avx512(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const float *x, const float *sums, size_t m,
    float *y, size_t ldy, size_t j0, size_t j1) {
    (void)w, (void)row_bytes, (void)format, (void)blocks, (void)x, (void)sums, (void)m, (void)y, (void)ldy;
    (void)j0, (void)j1;
}
#endif
