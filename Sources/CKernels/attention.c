// Fused attention (attention.h). Many query rows: scores by a 12 × 32 register tile, the softmax of the
// block's rows while they are in cache, then the value product by a 6 × 64 tile. One row: sixteen keys'
// dot products summed across lanes together, the softmax, then the value product with sums in registers.
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

/// Sixteen values of row `row` from feature c, f16 or f32; `mask` picks the lanes read (the rest are 0).
AVX512 INLINE __m512 load_row(const void *base, long row, long stride, long c, __mmask16 mask, int half) {
    if (half) {
        const unsigned short *p = (const unsigned short *)base + row * stride + c;
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
    }
    return _mm512_maskz_loadu_ps(mask, (const float *)base + row * stride + c);
}

/// Lane i of the result is the sum of a[i]'s sixteen lanes.
AVX512 INLINE __m512 sum16(const __m512 a[16]) {
    __m512 s[8], u[4], w[2];
    // Pairs within 128-bit lanes: [a0+a2, b0+b2, a1+a3, b1+b3] per lane.
    for (int i = 0; i < 8; i++)
        s[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    // Four rows' lane sums per 128-bit lane: [a, b, c, d].
    for (int i = 0; i < 4; i++)
        u[i] = _mm512_add_ps(
            _mm512_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
            _mm512_shuffle_ps(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    // Then across the 128-bit lanes.
    for (int i = 0; i < 2; i++)
        w[i] = _mm512_add_ps(
            _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
            _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(
        _mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
        _mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

AVX512 INLINE void attention_row(
    const float *q, long e, const void *k, long k_stride, const void *v, long v_stride, long ev, long keys,
    int half, float scale, float *out, float *s) {
    __m512 sc = _mm512_set1_ps(scale);
    // Scores sixteen keys at a time: one vector of partial products per key, then summed across lanes.
    for (long j0 = 0; j0 < keys; j0 += 16) {
        long n = keys - j0 < 16 ? keys - j0 : 16;
        __m512 a[16];
        for (int i = 0; i < 16; i++) a[i] = _mm512_setzero_ps();
        for (long c = 0; c < e; c += 16) {
            __mmask16 m = e - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (e - c)) - 1);
            __m512 qc = _mm512_maskz_loadu_ps(m, q + c);
            // A short last group repeats its last key; those lanes are not stored.
            for (int i = 0; i < 16; i++)
                a[i] = _mm512_fmadd_ps(qc, load_row(k, i < n ? j0 + i : keys - 1, k_stride, c, m, half), a[i]);
        }
        __mmask16 keep = n == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(s + j0, keep, _mm512_mul_ps(sum16(a), sc));
    }
    float inv = softmax_row(s, keys);
    __m512 iv = _mm512_set1_ps(inv);
    // The value product 64 columns at a time, even and odd keys in separate sums (eight FMA chains).
    for (long c0 = 0; c0 < ev; c0 += 64) {
        __mmask16 m[4];
        for (int x = 0; x < 4; x++) {
            long left = ev - c0 - 16 * x;
            m[x] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        }
        __m512 a0[4], a1[4];
        for (int x = 0; x < 4; x++) a0[x] = a1[x] = _mm512_setzero_ps();
        long j = 0;
        for (; j + 2 <= keys; j += 2) {
            __m512 b0 = _mm512_set1_ps(s[j]), b1 = _mm512_set1_ps(s[j + 1]);
            for (int x = 0; x < 4; x++) {
                if (!m[x]) continue;
                a0[x] = _mm512_fmadd_ps(b0, load_row(v, j, v_stride, c0 + 16 * x, m[x], half), a0[x]);
                a1[x] = _mm512_fmadd_ps(b1, load_row(v, j + 1, v_stride, c0 + 16 * x, m[x], half), a1[x]);
            }
        }
        if (j < keys) {
            __m512 b0 = _mm512_set1_ps(s[j]);
            for (int x = 0; x < 4; x++)
                if (m[x]) a0[x] = _mm512_fmadd_ps(b0, load_row(v, j, v_stride, c0 + 16 * x, m[x], half), a0[x]);
        }
        for (int x = 0; x < 4; x++)
            if (m[x]) _mm512_mask_storeu_ps(out + c0 + 16 * x, m[x], _mm512_mul_ps(_mm512_add_ps(a0[x], a1[x]), iv));
    }
}

AVX512 void hark_attention_row_avx512(
    const float *q, long e, const void *k, long k_stride, const void *v, long v_stride, long ev, long keys,
    int half, float scale, float *out, float *scratch) {
    // Two copies, so the element type is a constant inside each.
    if (half)
        attention_row(q, e, k, k_stride, v, v_stride, ev, keys, 1, scale, out, scratch);
    else
        attention_row(q, e, k, k_stride, v, v_stride, ev, keys, 0, scale, out, scratch);
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

void hark_attention_row_avx512(
    const float *q, long e, const void *k, long k_stride, const void *v, long v_stride, long ev, long keys,
    int half, float scale, float *out, float *scratch) {
    (void)q, (void)e, (void)k, (void)k_stride, (void)v, (void)v_stride, (void)ev, (void)keys, (void)half;
    (void)scale, (void)out, (void)scratch;
}

#endif
