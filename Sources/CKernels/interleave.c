// Row interleaving for the CPU backend's polyphase transposed convolution (interleave.h).
#include "interleave.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "transpose.h"

#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

/// Eight rows, eight samples at a time: an 8×8 transpose in ymm registers.
AVX512 static void interleave8(const float *src, size_t stride, size_t n, float bias, float *dst, size_t *done) {
    const __m256 b = _mm256_set1_ps(bias);
    size_t t = 0;
    for (; t + 8 <= n; t += 8) {
        __m256 r[8];
        for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(src + q * stride + t);
        hark_transpose8(r);
        for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + (t + q) * 8, _mm256_add_ps(r[q], b));
    }
    *done = t;
}

/// Four rows, four samples at a time: a 4×4 transpose in xmm registers.
AVX512 static void interleave4(const float *src, size_t stride, size_t n, float bias, float *dst, size_t *done) {
    const __m128 b = _mm_set1_ps(bias);
    size_t t = 0;
    for (; t + 4 <= n; t += 4) {
        __m128 r0 = _mm_loadu_ps(src + t), r1 = _mm_loadu_ps(src + stride + t);
        __m128 r2 = _mm_loadu_ps(src + 2 * stride + t), r3 = _mm_loadu_ps(src + 3 * stride + t);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + t * 4, _mm_add_ps(r0, b));
        _mm_storeu_ps(dst + t * 4 + 4, _mm_add_ps(r1, b));
        _mm_storeu_ps(dst + t * 4 + 8, _mm_add_ps(r2, b));
        _mm_storeu_ps(dst + t * 4 + 12, _mm_add_ps(r3, b));
    }
    *done = t;
}
#endif

void hark_interleave(const float *src, size_t rows, size_t stride, size_t n, float bias, float *dst) {
    size_t t = 0;
#if defined(__x86_64__)
    if (rows == 8) interleave8(src, stride, n, bias, dst, &t);
    if (rows == 4) interleave4(src, stride, n, bias, dst, &t);
#endif
    for (; t < n; t++)
        for (size_t r = 0; r < rows; r++) dst[t * rows + r] = src[r * stride + t] + bias;
}
