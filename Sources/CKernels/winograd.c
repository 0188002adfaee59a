// Winograd F(4, r) one-dimensional convolutions (winograd.h). Per tile of four outputs d apart: the n = 3 + r inputs
// they read are transformed (Bᵀ·x), multiplied point by point with the transformed filter (G·w, at load) and summed
// over input channels (one GEMM per point over every tile of a chunk), then transformed back (Aᵀ·m). The matrices
// come from the Cook-Toom construction at the points below (0, ±1, ±2, then ±1/2 for kernel 5 and ±3/2 for kernel 7:
// measured in float32 at a few 1e-6 relative error, the worst case 3e-5 for r = 7).
#include "winograd.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sgemm.h"

#define TILE 4  // outputs per tile (the m of F(m, r))
#define MAX_POINTS 10

size_t hark_winograd_points(int r) { return (r == 3 || r == 5 || r == 7) ? (size_t)(TILE + r - 1) : 0; }

/// The finite interpolation points of F(4, r) (the last point is infinity); returns their count, n − 1.
static int finite_points(int r, double *p) {
    static const double all[] = {0, 1, -1, 2, -2, 0.5, -0.5, 1.5, -1.5};
    int count = TILE + r - 2;
    memcpy(p, all, (size_t)count * sizeof(double));
    return count;
}

/// G [n × r] of F(4, r) (Cook-Toom, y = Aᵀ ((G g) ⊙ (Bᵀ x))): powers of each point over Π (p_k − p_l), the
/// filter's last tap for the point at infinity. In double: its entries (1/6, 2/9, …) are not exact in float.
static void build_g(int r, double g[MAX_POINTS][7]) {
    double p[MAX_POINTS];
    int f = finite_points(r, p), n = f + 1;
    memset(g, 0, sizeof(double) * MAX_POINTS * 7);
    for (int k = 0; k < n; k++) {
        double norm = 1;
        for (int l = 0; l < f; l++)
            if (k < f && l != k) norm *= p[k] - p[l];
        for (int j = 0; j < r; j++) {
            double v = 1;
            for (int e = 0; e < j; e++) v *= k < f ? p[k] : 0;
            g[k][j] = k < f ? v / norm : (j == r - 1 ? 1 : 0);
        }
    }
}

void hark_winograd_weights(const float *w, size_t cout, size_t cin, int r, float *out) {
    double g[MAX_POINTS][7];
    build_g(r, g);
    size_t n = hark_winograd_points(r);
    float *u = malloc(cout * cin * sizeof(float));
    for (size_t p = 0; p < n; p++) {
        for (size_t i = 0; i < cout * cin; i++) {
            double s = 0;
            for (int j = 0; j < r; j++) s += g[p][j] * w[i * (size_t)r + (size_t)j];
            u[i] = (float)s;
        }
        hark_sgemm_pack_a(0, cout, cin, u, cin, out + p * cout * cin);
    }
    free(u);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))

// Aᵀ and Bᵀ of F(4, r) at the same points as build_g (Bᵀ row k: the coefficients of Π_{l≠k} (x − p_l), lowest
// power first; Aᵀ: powers of the points). Every entry is exact in float; as constants, the transforms below unroll
// with their zeros and ones folded away.
static const float AT3[TILE][MAX_POINTS] = {
    {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
    {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.0f},
    {0.0f, 1.0f, 1.0f, 4.0f, 4.0f, 0.0f},
    {0.0f, 1.0f, -1.0f, 8.0f, -8.0f, 1.0f},
};
static const float BT3[MAX_POINTS][MAX_POINTS] = {
    {4.0f, 0.0f, -5.0f, 0.0f, 1.0f, 0.0f},
    {0.0f, -4.0f, -4.0f, 1.0f, 1.0f, 0.0f},
    {0.0f, 4.0f, -4.0f, -1.0f, 1.0f, 0.0f},
    {0.0f, -2.0f, -1.0f, 2.0f, 1.0f, 0.0f},
    {0.0f, 2.0f, -1.0f, -2.0f, 1.0f, 0.0f},
    {0.0f, 4.0f, 0.0f, -5.0f, 0.0f, 1.0f},
};
static const float AT5[TILE][MAX_POINTS] = {
    {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
    {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -0.5f, 0.0f},
    {0.0f, 1.0f, 1.0f, 4.0f, 4.0f, 0.25f, 0.25f, 0.0f},
    {0.0f, 1.0f, -1.0f, 8.0f, -8.0f, 0.125f, -0.125f, 1.0f},
};
static const float BT5[MAX_POINTS][MAX_POINTS] = {
    {-1.0f, 0.0f, 5.25f, 0.0f, -5.25f, 0.0f, 1.0f, 0.0f},
    {0.0f, 1.0f, 1.0f, -4.25f, -4.25f, 1.0f, 1.0f, 0.0f},
    {0.0f, -1.0f, 1.0f, 4.25f, -4.25f, -1.0f, 1.0f, 0.0f},
    {0.0f, 0.5f, 0.25f, -2.5f, -1.25f, 2.0f, 1.0f, 0.0f},
    {0.0f, -0.5f, 0.25f, 2.5f, -1.25f, -2.0f, 1.0f, 0.0f},
    {0.0f, 2.0f, 4.0f, -2.5f, -5.0f, 0.5f, 1.0f, 0.0f},
    {0.0f, -2.0f, 4.0f, 2.5f, -5.0f, -0.5f, 1.0f, 0.0f},
    {0.0f, -1.0f, 0.0f, 5.25f, 0.0f, -5.25f, 0.0f, 1.0f},
};
static const float AT7[TILE][MAX_POINTS] = {
    {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
    {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -0.5f, 1.5f, -1.5f, 0.0f},
    {0.0f, 1.0f, 1.0f, 4.0f, 4.0f, 0.25f, 0.25f, 2.25f, 2.25f, 0.0f},
    {0.0f, 1.0f, -1.0f, 8.0f, -8.0f, 0.125f, -0.125f, 3.375f, -3.375f, 1.0f},
};
static const float BT7[MAX_POINTS][MAX_POINTS] = {
    {2.25f, 0.0f, -12.8125f, 0.0f, 17.0625f, 0.0f, -7.5f, 0.0f, 1.0f, 0.0f},
    {0.0f, -2.25f, -2.25f, 10.5625f, 10.5625f, -6.5f, -6.5f, 1.0f, 1.0f, 0.0f},
    {0.0f, 2.25f, -2.25f, -10.5625f, 10.5625f, 6.5f, -6.5f, -1.0f, 1.0f, 0.0f},
    {0.0f, -1.125f, -0.5625f, 6.125f, 3.0625f, -7.0f, -3.5f, 2.0f, 1.0f, 0.0f},
    {0.0f, 1.125f, -0.5625f, -6.125f, 3.0625f, 7.0f, -3.5f, -2.0f, 1.0f, 0.0f},
    {0.0f, -4.5f, -9.0f, 7.625f, 15.25f, -3.625f, -7.25f, 0.5f, 1.0f, 0.0f},
    {0.0f, 4.5f, -9.0f, -7.625f, 15.25f, 3.625f, -7.25f, -0.5f, 1.0f, 0.0f},
    {0.0f, -1.5f, -1.0f, 7.875f, 5.25f, -7.875f, -5.25f, 1.5f, 1.0f, 0.0f},
    {0.0f, 1.5f, -1.0f, -7.875f, 5.25f, 7.875f, -5.25f, -1.5f, 1.0f, 0.0f},
    {0.0f, 2.25f, 0.0f, -12.8125f, 0.0f, 17.0625f, 0.0f, -7.5f, 0.0f, 1.0f},
};

/// This thread's scratch, grown as needed and kept: a call's buffers are hundreds of KB, which malloc would map
/// fresh (and fault in page by page) on every call. Freed when the thread exits.
typedef struct {
    float *buffer;
    size_t capacity;
} Scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) {
    Scratch *s = p;
    free(s->buffer);
    free(s);
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

static float *scratch(size_t floats) {
    pthread_once(&scratch_once, scratch_init);
    Scratch *s = pthread_getspecific(scratch_key);
    if (s == NULL) {
        s = calloc(1, sizeof(Scratch));
        pthread_setspecific(scratch_key, s);
    }
    if (floats > s->capacity) {
        free(s->buffer);
        s->capacity = floats + floats / 2;
        s->buffer = aligned_alloc(64, (s->capacity * sizeof(float) + 63) / 64 * 64);
    }
    return s->buffer;
}

/// out[c][s] = src[s · stride + c] for 16 rows s and 4 columns c: a 16 × 4 block of a row-major matrix whose rows
/// are `stride` floats apart, transposed into four vectors (instead of gathering every stride-th float). Rows from
/// `rows` on are not read (their lanes are zero).
AVX512 static inline __attribute__((always_inline)) void load_16x4(
    const float *src, size_t stride, size_t rows, __m512 out[4]) {
    __m512 a[4];
    if (stride == 4 && rows == 16) {
        for (int k = 0; k < 4; k++) a[k] = _mm512_loadu_ps(src + 16 * k);
    } else {
        for (int k = 0; k < 4; k++) {
            __m128 r[4];
            for (int i = 0; i < 4; i++) {
                const size_t at = (size_t)(4 * k + i);
                r[i] = at < rows ? _mm_loadu_ps(src + at * stride) : _mm_setzero_ps();
            }
            a[k] = _mm512_insertf32x4(_mm512_castps128_ps512(r[0]), r[1], 1);
            a[k] = _mm512_insertf32x4(a[k], r[2], 2);
            a[k] = _mm512_insertf32x4(a[k], r[3], 3);
        }
    }
    // a[k][4i + c] = row 4k + i, column c. t: columns 0–1 (t[0], t[2]) or 2–3 (t[1], t[3]) of rows 0–7 (t[0], t[1])
    // or 8–15 (t[2], t[3]), each column's eight rows in one half.
    const __m512i low = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i high = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512 t0 = _mm512_permutex2var_ps(a[0], low, a[1]), t1 = _mm512_permutex2var_ps(a[0], high, a[1]);
    const __m512 t2 = _mm512_permutex2var_ps(a[2], low, a[3]), t3 = _mm512_permutex2var_ps(a[2], high, a[3]);
    out[0] = _mm512_shuffle_f32x4(t0, t2, 0x44);
    out[1] = _mm512_shuffle_f32x4(t0, t2, 0xEE);
    out[2] = _mm512_shuffle_f32x4(t1, t3, 0x44);
    out[3] = _mm512_shuffle_f32x4(t1, t3, 0xEE);
}

/// load_16x4's inverse: dst[s · stride + c] = in[c][s] (+ res[s · stride + c] where `res` is not nil) for the
/// first `rows` rows s.
AVX512 static inline __attribute__((always_inline)) void store_4x16(
    const __m512 in[4], float *dst, const float *res, size_t stride, size_t rows) {
    const __m512 t0 = _mm512_shuffle_f32x4(in[0], in[1], 0x44), t2 = _mm512_shuffle_f32x4(in[0], in[1], 0xEE);
    const __m512 t1 = _mm512_shuffle_f32x4(in[2], in[3], 0x44), t3 = _mm512_shuffle_f32x4(in[2], in[3], 0xEE);
    // t0: columns 0, 1 of rows 0–7 (eight each); t1: columns 2, 3 of rows 0–7; t2, t3: the same for rows 8–15.
    const __m512i first = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
    const __m512i second = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
    __m512 a[4] = {
        _mm512_permutex2var_ps(t0, first, t1), _mm512_permutex2var_ps(t0, second, t1),
        _mm512_permutex2var_ps(t2, first, t3), _mm512_permutex2var_ps(t2, second, t3)};
    if (stride == 4 && rows == 16) {
        for (int k = 0; k < 4; k++) {
            if (res) a[k] = _mm512_add_ps(a[k], _mm512_loadu_ps(res + 16 * k));
            _mm512_storeu_ps(dst + 16 * k, a[k]);
        }
        return;
    }
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < 4 && (size_t)(4 * k + i) < rows; i++) {
            const size_t at = (size_t)(4 * k + i) * stride;
            __m128 v = _mm512_extractf32x4_ps(a[k], 0);
            switch (i) {
            case 1: v = _mm512_extractf32x4_ps(a[k], 1); break;
            case 2: v = _mm512_extractf32x4_ps(a[k], 2); break;
            case 3: v = _mm512_extractf32x4_ps(a[k], 3); break;
            default: break;
            }
            if (res) v = _mm_add_ps(v, _mm_loadu_ps(res + at));
            _mm_storeu_ps(dst + at, v);
        }
    }
}

AVX512 static inline __attribute__((always_inline)) void conv(
    const int n, const float at[TILE][MAX_POINTS], const float bt[MAX_POINTS][MAX_POINTS], const float *x, size_t cin,
    size_t length, const float *u, size_t cout, int d, int pad, size_t lout, int leaky, float slope, const float *bias,
    const float *residual, float *y, size_t s0, size_t s1) {
    const int md = TILE * d;
    const size_t blocks = s1 - s0, lanes = (blocks + 15) / 16 * 16, tiles = (size_t)d * lanes;
    // Blocks of left margin in xd, so that every input offset below is non-negative.
    const int margin = (pad + md - 1) / md;
    const size_t reach = (size_t)((d - 1 + d * (n - 1) - pad + md * margin) / md);
    const size_t width = lanes + reach;

    // xd[ci][q][s] = a(x[ci, md · (s0 + s − margin) + q]): x split by position mod md, so each (phase, point)
    // of consecutive blocks is one contiguous run.
    // One scratch: xd, V (later the outputs yd), M; each part a whole number of cache lines.
    const size_t xd_size = (cin * (size_t)md * width + 15) / 16 * 16;
    size_t v_size = ((size_t)n * cin * tiles + 15) / 16 * 16;
    const size_t yd_size = cout * (size_t)md * lanes;
    if (yd_size > v_size) v_size = (yd_size + 15) / 16 * 16;
    const size_t m_size = (size_t)n * cout * tiles;
    float *xd = scratch(xd_size + v_size + m_size);
    float *v = xd + xd_size, *m = v + v_size;
    // Sixteen blocks at a time: a gather of every md-th sample, masked outside x.
    const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(md));
    const __m512 zero = _mm512_setzero_ps(), leak = _mm512_set1_ps(slope);
    for (size_t ci = 0; ci < cin; ci++) {
        const float *row = x + ci * length;
        float *dst = xd + ci * (size_t)md * width;
        for (size_t s = 0; s < width; s += 16) {
            const __mmask16 stored = width - s >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (width - s)) - 1);
            const long start = (long)md * ((long)(s0 + s) - margin);
            const size_t count = width - s >= 16 ? 16 : width - s;
            if (start >= 0 && start + (long)count * md <= (long)length) {
                // Blocks wholly inside x: 16 × 4 transposes.
                for (int q = 0; q < md; q += 4) {
                    __m512 value[4];
                    load_16x4(row + start + q, (size_t)md, count, value);
                    for (int c = 0; c < 4; c++) {
                        if (leaky)
                            value[c] = _mm512_mask_mul_ps(
                                value[c], _mm512_cmp_ps_mask(value[c], zero, _CMP_LT_OQ), value[c], leak);
                        _mm512_mask_storeu_ps(dst + (size_t)(q + c) * width + s, stored, value[c]);
                    }
                }
                continue;
            }
            for (int q = 0; q < md; q++) {
                const long first = start + q;
                const __m512i t = _mm512_add_epi32(_mm512_set1_epi32((int)first), lane);
                __mmask16 inside = _mm512_cmpge_epi32_mask(t, _mm512_setzero_si512()) &
                                   _mm512_cmplt_epi32_mask(t, _mm512_set1_epi32((int)length));
                __m512 value = _mm512_mask_i32gather_ps(zero, inside & stored, t, row, 4);
                if (leaky) value = _mm512_mask_mul_ps(value, _mm512_cmp_ps_mask(value, zero, _CMP_LT_OQ), value, leak);
                _mm512_mask_storeu_ps(dst + (size_t)q * width + s, stored, value);
            }
        }
    }

    // V[p][ci][phase · lanes + s] = (Bᵀ · inputs of tile (s, phase))[p].
    for (size_t ci = 0; ci < cin; ci++) {
        for (int phase = 0; phase < d; phase++) {
            const float *in[MAX_POINTS];
            for (int i = 0; i < n; i++) {
                const int at_ = phase + d * i - pad + md * margin;
                in[i] = xd + (ci * (size_t)md + (size_t)(at_ % md)) * width + (size_t)(at_ / md);
            }
            for (size_t s = 0; s < lanes; s += 16) {
                __m512 a[MAX_POINTS];
                for (int i = 0; i < n; i++) a[i] = _mm512_loadu_ps(in[i] + s);
                for (int p = 0; p < n; p++) {
                    __m512 sum = _mm512_setzero_ps();
                    for (int i = 0; i < n; i++)
                        if (bt[p][i] != 0) sum = _mm512_fmadd_ps(_mm512_set1_ps(bt[p][i]), a[i], sum);
                    _mm512_storeu_ps(v + ((size_t)p * cin + ci) * tiles + (size_t)phase * lanes + s, sum);
                }
            }
        }
    }

    // M[p] = U[p] · V[p]: the channel sums, one product per point.
    for (int p = 0; p < n; p++)
        hark_sgemm_avx512_packed(
            cout, tiles, cin, 1, u + (size_t)p * cout * cin, 0, v + (size_t)p * cin * tiles, tiles, 0,
            m + (size_t)p * cout * tiles, tiles);

    // Outputs: Aᵀ · M per tile, then bias and residual, into y at md · (s0 + s) + phase + d · j.
    float *yd = v;  // V is spent: yd[co][q][s] takes its place
    for (size_t co = 0; co < cout; co++) {
        for (int phase = 0; phase < d; phase++) {
            for (size_t s = 0; s < lanes; s += 16) {
                __m512 a[MAX_POINTS];
                for (int p = 0; p < n; p++)
                    a[p] = _mm512_loadu_ps(m + ((size_t)p * cout + co) * tiles + (size_t)phase * lanes + s);
                for (int j = 0; j < TILE; j++) {
                    __m512 sum = _mm512_setzero_ps();
                    for (int p = 0; p < n; p++)
                        if (at[j][p] != 0) sum = _mm512_fmadd_ps(_mm512_set1_ps(at[j][p]), a[p], sum);
                    _mm512_storeu_ps(yd + (co * (size_t)md + (size_t)(phase + d * j)) * lanes + s, sum);
                }
            }
        }
        const float b = bias ? bias[co] : 0;
        const float *src = yd + co * (size_t)md * lanes;
        float *dst = y + co * lout;
        const float *res = residual ? residual + co * lout : NULL;
        const __m512 bv = _mm512_set1_ps(b);
        // Sixteen blocks at a time: those wholly inside y by 16 × 4 transposes, the rest (y's end) one by one.
        for (size_t s = 0; s < blocks; s += 16) {
            const size_t base = (s0 + s) * (size_t)md, rows = blocks - s >= 16 ? 16 : blocks - s;
            const size_t inside = lout > base ? (lout - base) / (size_t)md : 0, whole = inside < rows ? inside : rows;
            if (whole > 0) {
                for (int q = 0; q < md; q += 4) {
                    __m512 value[4];
                    for (int c = 0; c < 4; c++)
                        value[c] = _mm512_add_ps(_mm512_loadu_ps(src + (size_t)(q + c) * lanes + s), bv);
                    store_4x16(value, dst + base + (size_t)q, res ? res + base + (size_t)q : NULL, (size_t)md, whole);
                }
            }
            for (size_t r = whole; r < rows; r++) {
                const size_t at = base + r * (size_t)md;
                for (int q = 0; q < md && at + (size_t)q < lout; q++) {
                    const float value = src[(size_t)q * lanes + s + r] + b;
                    dst[at + (size_t)q] = res ? value + res[at + (size_t)q] : value;
                }
            }
        }
    }
}
AVX512 void hark_winograd_conv1d(
    const float *x, size_t cin, size_t length, const float *u, size_t cout, int r, int d, int pad, size_t lout,
    int leaky, float slope, const float *bias, const float *residual, float *y, size_t s0, size_t s1) {
    switch (r) {
    case 3: conv(6, AT3, BT3, x, cin, length, u, cout, d, pad, lout, leaky, slope, bias, residual, y, s0, s1); break;
    case 5: conv(8, AT5, BT5, x, cin, length, u, cout, d, pad, lout, leaky, slope, bias, residual, y, s0, s1); break;
    case 7: conv(10, AT7, BT7, x, cin, length, u, cout, d, pad, lout, leaky, slope, bias, residual, y, s0, s1); break;
    default: break;
    }
}
#else
void hark_winograd_conv1d(
    const float *x, size_t cin, size_t length, const float *u, size_t cout, int r, int d, int pad, size_t lout,
    int leaky, float slope, const float *bias, const float *residual, float *y, size_t s0, size_t s1) {
    (void)x, (void)cin, (void)length, (void)u, (void)cout, (void)r, (void)d, (void)pad, (void)lout, (void)leaky;
    (void)slope, (void)bias, (void)residual, (void)y, (void)s0, (void)s1;
}
#endif
