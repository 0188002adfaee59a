// Fused attention for many query rows (attention.h): scores by a 12 × 32 register tile, the softmax of
// the block's rows while they are in cache, then the value product by a 6 × 64 tile.
#include "attention.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PANEL HARK_ATTENTION_PANEL
#define BLOCK HARK_ATTENTION_BLOCK_ROWS
/// Rows of the value tile (its 4 × 6 accumulators, 4 value vectors and a broadcast fill 29 registers).
#define VALUE_ROWS 6

static long padded_keys(long keys) { return (keys + PANEL - 1) / PANEL * PANEL; }

size_t hark_attention_packed_floats(long keys, long e) { return (size_t)(padded_keys(keys) * e); }

size_t hark_attention_scratch_floats(long keys, long e) {
    // Scores, then the row sums padded to a cache line, then the query block transposed.
    return (size_t)(BLOCK * padded_keys(keys) + 16 + e * BLOCK);
}

void hark_attention_pack_keys(
    const float *k, long k_stride, long keys, long e, long first, long count, float *packed) {
    for (long p = first; p < first + count; p++) {
        float *dst = packed + p * PANEL * e;
        for (long i = 0; i < PANEL; i++) {
            long j = p * PANEL + i;
            if (j < keys) {
                for (long c = 0; c < e; c++) dst[c * PANEL + i] = k[j * k_stride + c];
            } else {
                for (long c = 0; c < e; c++) dst[c * PANEL + i] = 0;
            }
        }
    }
}

/// Keys row r (counted from the causal origin) sees.
static long visible(long r, long keys, int causal) {
    if (!causal) return keys;
    long n = r + 1;
    return n < 0 ? 0 : (n > keys ? keys : n);
}

#if defined(__x86_64__)

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define INLINE static inline __attribute__((always_inline))

/// VectorMath.exp sixteen lanes at a time: the same range reduction and polynomial, with fused
/// multiply-adds (as accurate or more).
AVX512 INLINE __m512 exp16(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.3f);
    __m512 clamped = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.7f));
    // Adding 1.5 · 2²³ rounds to the nearest integer, which then sits in the low mantissa bits.
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(1.44269504f)), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), clamped);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.1219444e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000 - 127));
    __m512 result = _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(bits, 23)));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), result);
}

/// Scores of the block's BLOCK rows (qt: [e][BLOCK]) against one panel, scaled, into s (rows s_stride apart).
AVX512 INLINE void score_tile(const float *qt, long e, const float *panel, float *s, long s_stride, __m512 scale) {
    __m512 a[BLOCK][2];
    for (int r = 0; r < BLOCK; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
    for (long c = 0; c < e; c++) {
        __m512 k0 = _mm512_loadu_ps(panel + c * PANEL);
        __m512 k1 = _mm512_loadu_ps(panel + c * PANEL + 16);
        const float *qc = qt + c * BLOCK;
        for (int r = 0; r < BLOCK; r++) {
            __m512 b = _mm512_set1_ps(qc[r]);
            a[r][0] = _mm512_fmadd_ps(b, k0, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(b, k1, a[r][1]);
        }
    }
    for (int r = 0; r < BLOCK; r++) {
        _mm512_storeu_ps(s + r * s_stride, _mm512_mul_ps(a[r][0], scale));
        _mm512_storeu_ps(s + r * s_stride + 16, _mm512_mul_ps(a[r][1], scale));
    }
}

/// exp(s − max) in place over the first n scores; returns 1 / Σ.
AVX512 static float softmax_row(float *s, long n) {
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    long j = 0;
    for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j));
    __mmask16 tail = (__mmask16)((1u << (n - j)) - 1);
    if (j < n) mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, s + j));
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (j = 0; j + 16 <= n; j += 16) {
        __m512 x = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), m));
        _mm512_storeu_ps(s + j, x);
        sum = _mm512_add_ps(sum, x);
    }
    if (j < n) {
        __m512 x = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + j), m));
        _mm512_mask_storeu_ps(s + j, tail, x);
        sum = _mm512_mask_add_ps(sum, tail, sum, x);
    }
    return 1.0f / _mm512_reduce_add_ps(sum);
}

/// out[i, 0..<16·nv] = inv[i] · Σ_j p[i, j] · v[j, 0..<16·nv] for VALUE_ROWS rows of probabilities, of
/// which the first `count` are stored.
AVX512 INLINE void value_tile(
    const float *p, long p_stride, long count, const float *v, long v_stride, long keys, float *out,
    long o_stride, const float *inv, int nv) {
    __m512 a[VALUE_ROWS][4];
    for (int r = 0; r < VALUE_ROWS; r++)
        for (int x = 0; x < nv; x++) a[r][x] = _mm512_setzero_ps();
    for (long j = 0; j < keys; j++) {
        const float *vj = v + j * v_stride;
        __m512 vx[4];
        for (int x = 0; x < nv; x++) vx[x] = _mm512_loadu_ps(vj + 16 * x);
        for (int r = 0; r < VALUE_ROWS; r++) {
            __m512 b = _mm512_set1_ps(p[r * p_stride + j]);
            for (int x = 0; x < nv; x++) a[r][x] = _mm512_fmadd_ps(b, vx[x], a[r][x]);
        }
    }
    for (int r = 0; r < VALUE_ROWS && r < count; r++) {
        __m512 iv = _mm512_set1_ps(inv[r]);
        for (int x = 0; x < nv; x++) _mm512_storeu_ps(out + r * o_stride + 16 * x, _mm512_mul_ps(a[r][x], iv));
    }
}

AVX512 void hark_attention_block_avx512(
    const float *q, long q_stride, long rows, long e, const float *packed, long keys, const float *v,
    long v_stride, long ev, float scale, int causal, long causal_first, float *out, long o_stride,
    float *scratch) {
    long padded = padded_keys(keys);
    float *s = scratch;
    float *inv = s + BLOCK * padded;
    float *qt = inv + 16;
    // The block's rows transposed, so each feature's BLOCK values sit together; missing rows are zero
    // (their scores are computed, never stored to out).
    for (long c = 0; c < e; c++)
        for (long r = 0; r < BLOCK; r++) qt[c * BLOCK + r] = r < rows ? q[r * q_stride + c] : 0;
    long block_keep = visible(causal_first + rows - 1, keys, causal);
    long used = (block_keep + PANEL - 1) / PANEL;
    __m512 sc = _mm512_set1_ps(scale);
    for (long p = 0; p < used; p++) score_tile(qt, e, packed + p * PANEL * e, s + p * PANEL, padded, sc);
    for (long i = 0; i < rows; i++) {
        long keep = visible(causal_first + i, keys, causal);
        float *row = s + i * padded;
        inv[i] = keep > 0 ? softmax_row(row, keep) : 0;
        if (keep < block_keep) memset(row + keep, 0, (size_t)(block_keep - keep) * sizeof(float));
    }
    for (long i = 0; i < rows; i += VALUE_ROWS) {
        long count = rows - i < VALUE_ROWS ? rows - i : VALUE_ROWS;
        const float *p = s + i * padded;
        float *o = out + i * o_stride;
        long c0 = 0;
        for (; c0 + 64 <= ev; c0 += 64)
            value_tile(p, padded, count, v + c0, v_stride, block_keep, o + c0, o_stride, inv + i, 4);
        switch ((ev - c0) / 16) {
        case 3: value_tile(p, padded, count, v + c0, v_stride, block_keep, o + c0, o_stride, inv + i, 3); break;
        case 2: value_tile(p, padded, count, v + c0, v_stride, block_keep, o + c0, o_stride, inv + i, 2); break;
        case 1: value_tile(p, padded, count, v + c0, v_stride, block_keep, o + c0, o_stride, inv + i, 1); break;
        default: break;
        }
    }
}

#else

// Never called off x86-64 (hark_cpu_has_avx512() is 0 there); defined so the symbol links everywhere.
void hark_attention_block_avx512(
    const float *q, long q_stride, long rows, long e, const float *packed, long keys, const float *v,
    long v_stride, long ev, float scale, int causal, long causal_first, float *out, long o_stride,
    float *scratch) {
    (void)q, (void)q_stride, (void)rows, (void)e, (void)packed, (void)keys, (void)v, (void)v_stride;
    (void)ev, (void)scale, (void)causal, (void)causal_first, (void)out, (void)o_stride, (void)scratch;
}

#endif
