// llama.cpp's CPU arithmetic, operation for operation (ggml_arith.h). Written from ggml-cpu's x86 sources
// (https://github.com/ggml-org/llama.cpp/tree/master/ggml/src/ggml-cpu: arch/x86/quants.c, vec.h, vec.cpp, ops.cpp,
// llamafile/sgemm.cpp) as built by GCC for AVX-512: every fma below is one ggml's code (or GCC's contraction of it)
// performs, every other operation rounds on its own, and sums run in ggml's lane order. Scalar code reproduces the
// vector code's results exactly, so any CPU gets llama.cpp-on-x86's numbers; the packed matrix-vector kernel is
// the fast path for the products.
#pragma STDC FP_CONTRACT OFF

#include "ggml_arith.h"

#include <math.h>
#include <string.h>

#include "kernels.h"

static inline float half_to_float(uint16_t h) {
    _Float16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}

static inline float round_half(float x) { return (float)(_Float16)x; }

// The f16 at p (a block's d or m), read without assuming alignment.
static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

// _mm512_reduce_add_ps as GCC's avx512fintrin.h writes it: halves, quarters, then pairs.
static inline float reduce16(const float *v) {
    float t8[8], t4[4];
    for (int i = 0; i < 8; i++) t8[i] = v[8 + i] + v[i];
    for (int i = 0; i < 4; i++) t4[i] = t8[4 + i] + t8[i];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

// hsum_float_8 (quants.c) and tinyBLAS's hsum(__m256): the same pairing on eight lanes.
static inline float reduce8(const float *v) {
    float t4[4];
    for (int i = 0; i < 4; i++) t4[i] = v[4 + i] + v[i];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

void hark_gg_quantize_q8_scalar(const float *x, size_t k, int with_sum, int16_t *q, float *d, float *s) {
    for (size_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(xb[i]));
        const float scale = amax / 127.f;
        const float inverse = amax != 0.0f ? 127.f / amax : 0.0f;
        int sum = 0;
        for (int i = 0; i < 32; i++) {
            const int v = (int)nearbyintf(xb[i] * inverse);
            q[b * 32 + i] = (int16_t)v;
            sum += v;
        }
        d[b] = round_half(scale);
        if (with_sum) s[b] = round_half(scale * (float)sum);
    }
}

static inline int q_weight(const uint8_t *block, int format, int e) {
    if (format == 2) return (int8_t)block[2 + e];
    const uint8_t *qs = block + (format == 0 ? 2 : 4);
    const int v = e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
    return format == 0 ? v - 8 : v;
}

void hark_gg_matvec(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const int16_t *q, const float *d, const float *s,
    size_t m, float *y, size_t ldy, size_t j0, size_t j1) {
    const size_t bytes = format == 0 ? 18 : format == 1 ? 20 : 34;
    for (size_t j = j0; j < j1; j++) {
        for (size_t i = 0; i < m; i++) {
            const int16_t *qx = q + i * blocks * 32;
            float acc[8] = {0}, offsets = 0;
            for (size_t b = 0; b < blocks; b++) {
                const uint8_t *block = w + j * row_bytes + b * bytes;
                const float dd = half_at(block) * d[i * blocks + b];
                if (format == 1) {
                    offsets = fmaf(half_at(block + 2), s[i * blocks + b], offsets);
                }
                for (int lane = 0; lane < 8; lane++) {
                    int dot = 0;
                    for (int e = 4 * lane; e < 4 * lane + 4; e++) dot += q_weight(block, format, e) * qx[b * 32 + e];
                    acc[lane] = fmaf(dd, (float)dot, acc[lane]);
                }
            }
            y[i * ldy + j] = format == 1 ? reduce8(acc) + offsets : reduce8(acc);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")))
#define VNNI __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,fma,f16c")))

// A packed record (hark_quant_pack16) per 16 rows and block: f16 d of each row, for q4 their m, then the quants in
// 32-byte chunks. q4 chunk c holds elements 4c…4c+3 of every row, so its two vpdpwssd give ggml's lane c for 16
// rows at once; q8_0 chunks 2c and 2c+1 do the same. Per row the lanes then accumulate exactly as ggml's.
// The eight lanes added as hsum_float_8 pairs them, for 16 rows at once, stored at y.
AVX512 static inline void lanes_add8(const __m512 acc[8], float *y, __m512 offsets, int with_offsets) {
    const __m512 t0 = _mm512_add_ps(acc[4], acc[0]), t1 = _mm512_add_ps(acc[5], acc[1]);
    const __m512 t2 = _mm512_add_ps(acc[6], acc[2]), t3 = _mm512_add_ps(acc[7], acc[3]);
    __m512 r = _mm512_add_ps(_mm512_add_ps(t0, t2), _mm512_add_ps(t1, t3));
    if (with_offsets) r = _mm512_add_ps(r, offsets);
    _mm512_storeu_ps(y, r);
}

// The body, with each lane's pair products summed by DOT: vpdpwssd with VNNI, vpmaddwd + vpaddd without; the
// integer sums are the same either way.
#define DOT_VNNI(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
#define DOT_BW(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#define PACKED_MATVEC(NAME, ATTR, DOT)                                                                               \
    ATTR static void NAME(                                                                                           \
        int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *d, const float *s, size_t m, \
        float *y, size_t ldy, size_t g0, size_t g1) {                                                                \
        const size_t record = format == 2 ? 544 : 320;                                                               \
        for (size_t g = g0; g < g1; g++) {                                                                           \
            const uint8_t *group = packed + g * blocks * record;                                                     \
            for (size_t i = 0; i < m; i++) {                                                                         \
                const int32_t *xq = (const int32_t *)(q + i * blocks * 32);                                          \
                __m512 acc[8], offsets = _mm512_setzero_ps();                                                        \
                for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();                                            \
                for (size_t b = 0; b < blocks; b++) {                                                                \
                    const uint8_t *rec = group + b * record;                                                         \
                    const int32_t *xb = xq + b * 16;                                                                 \
                    const __m512 dd = _mm512_mul_ps(                                                                 \
                        _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)rec)), _mm512_set1_ps(d[i * blocks + b])); \
                    if (format == 2) {                                                                               \
                        for (int l = 0; l < 8; l++) {                                                                \
                            __m512i t = DOT(                                                                         \
                                _mm512_setzero_si512(),                                                              \
                                _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(rec + 32 + 64 * l))),      \
                                _mm512_set1_epi32(xb[2 * l]));                                                       \
                            t = DOT(                                                                                 \
                                t, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(rec + 64 + 64 * l))),   \
                                _mm512_set1_epi32(xb[2 * l + 1]));                                                   \
                            acc[l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(t), acc[l]);                             \
                        }                                                                                            \
                    } else {                                                                                         \
                        /* q4_0's quants are q − 8: ggml multiplies the signed values, so the lanes' sums do too. */ \
                        const __m512i bias = _mm512_set1_epi16(format == 0 ? 8 : 0);                                 \
                        if (format == 1) {                                                                           \
                            offsets = _mm512_fmadd_ps(                                                               \
                                _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(rec + 32))),                    \
                                _mm512_set1_ps(s[i * blocks + b]), offsets);                                         \
                        }                                                                                            \
                        for (int l = 0; l < 8; l++) {                                                                \
                            const __m512i v =                                                                        \
                                _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(rec + 64 + 32 * l)));      \
                            __m512i t = DOT(                                                                         \
                                _mm512_setzero_si512(),                                                              \
                                _mm512_sub_epi16(_mm512_and_si512(v, _mm512_set1_epi16(0x000F)), bias),              \
                                _mm512_set1_epi32(xb[2 * l]));                                                       \
                            t = DOT(t, _mm512_sub_epi16(_mm512_srli_epi16(v, 4), bias), _mm512_set1_epi32(xb[2 * l + 1])); \
                            acc[l] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(t), acc[l]);                             \
                        }                                                                                            \
                    }                                                                                                \
                }                                                                                                    \
                lanes_add8(acc, y + i * ldy + g * 16, offsets, format == 1);                                         \
            }                                                                                                        \
        }                                                                                                            \
    }

PACKED_MATVEC(packed_vnni, VNNI, DOT_VNNI)
PACKED_MATVEC(packed_bw, AVX512, DOT_BW)

void hark_gg_packed_matvec(
    int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *d, const float *s, size_t m,
    float *y, size_t ldy, size_t g0, size_t g1, int vnni) {
    (vnni ? packed_vnni : packed_bw)(format, packed, blocks, q, d, s, m, y, ldy, g0, g1);
}
#else
void hark_gg_packed_matvec(
    int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *d, const float *s, size_t m,
    float *y, size_t ldy, size_t g0, size_t g1, int vnni) {
    (void)format, (void)packed, (void)blocks, (void)q, (void)d, (void)s, (void)m, (void)y, (void)ldy, (void)g0;
    (void)g1, (void)vnni;
}
#endif

void hark_gg_rms_norm(const float *x, const float *w, size_t n, float eps, float *y) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (size_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

void hark_gg_rope_cache(float position, float freq_scale, float base, size_t dims, float *cache) {
    const float theta_scale = powf(base, -2.0f / (float)dims);
    float theta = position;
    for (size_t i = 0; i < dims; i += 2) {
        const float angle = freq_scale * theta;
        cache[i] = cosf(angle);
        cache[i + 1] = sinf(angle);
        theta *= theta_scale;
    }
}

void hark_gg_rope_rows(float *x, size_t heads, size_t head_dim, size_t dims, int neox, const float *cache) {
    for (size_t h = 0; h < heads; h++) {
        float *row = x + h * head_dim;
        for (size_t i = 0; i < dims; i += 2) {
            const size_t a = neox ? i / 2 : i, b = neox ? i / 2 + dims / 2 : i + 1;
            const float c = cache[i], sn = cache[i + 1];
            const float x0 = row[a], x1 = row[b];
            // GCC contracts x0·c − x1·s into one fma of the first product (checked against llama.cpp's tensors).
            row[a] = fmaf(x0, c, -(x1 * sn));
            row[b] = fmaf(x0, sn, x1 * c);
        }
    }
}

// ggml_v_expf (vec.h, AVX-512 body): exp as 2ⁿ · a polynomial, with ggml's constants and fma's.
static inline float v_expf(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float j = fmaf(
        fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
        fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
    return ldexpf(j, (int)n);
}

void hark_gg_swiglu_scalar(const float *g, const float *u, size_t n, float *y) {
    const size_t vector = n & ~(size_t)15;
    for (size_t i = 0; i < vector; i++) y[i] = (g[i] / (1.0f + v_expf(0.0f - g[i]))) * u[i];
    for (size_t i = vector; i < n; i++) y[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i];
}

// tinyBLAS<16, __m512, …> (llamafile/sgemm.cpp) for f16 operands: lane l sums elements l, l + 16, … in one fma
// chain, the lanes reduced as _mm512_reduce_add_ps. n is a multiple of 16 (zeros past the real length).
static inline float dot_f16_tiled(const float *a, const float *b, size_t n) {
    float lanes[16] = {0};
    for (size_t i = 0; i < n; i += 16) {
        for (int l = 0; l < 16; l++) lanes[l] = fmaf(a[i + l], b[i + l], lanes[l]);
    }
    return reduce16(lanes);
}

// ggml_vec_dot_f16 (vec.cpp, AVX-512 without FP16 arithmetic): four 16-lane accumulators per 64 elements, added
// (0 + 2, 1 + 3, then 0 + 1) and reduced; elements past the last 64 added in double.
static inline float dot_f16_vec(const float *a, const float *b, size_t n) {
    float sum[4][16] = {{0}};
    const size_t np = n & ~(size_t)63;
    for (size_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 16; l++) sum[j][l] = fmaf(a[i + 16 * j + l], b[i + 16 * j + l], sum[j][l]);
        }
    }
    for (int l = 0; l < 16; l++) {
        sum[0][l] = sum[0][l] + sum[2][l];
        sum[1][l] = sum[1][l] + sum[3][l];
    }
    for (int l = 0; l < 16; l++) sum[0][l] = sum[0][l] + sum[1][l];
    double total = (double)reduce16(sum[0]);
    for (size_t i = np; i < n; i++) total += (double)(a[i] * b[i]);
    return (float)total;
}

void hark_gg_attention_scalar(
    const float *q, size_t q_stride, const uint16_t *k, const uint16_t *v, size_t kv_stride, size_t rows,
    size_t keys, size_t past, size_t head_dim, float scale, float *out, size_t out_stride, float *scratch) {
    // Keys padded to 64 with zero weights: llama.cpp's view of the cache is a multiple of 256 long and its masked
    // positions weigh exactly 0, which leaves every lane's sum as it is.
    const size_t padded = (keys + 63) & ~(size_t)63;
    float *weights = scratch, *column = scratch + padded, *qh = scratch + 2 * padded + head_dim;
    const int tiled = rows >= 2, tiled_scores = tiled && head_dim % 16 == 0;
    for (size_t r = 0; r < rows; r++) {
        const size_t visible = past + r + 1;
        for (size_t e = 0; e < head_dim; e++) qh[e] = round_half(q[r * q_stride + e]);
        // Scores: K · q, scaled, masked (ggml_soft_max_ext).
        float max = -INFINITY;
        for (size_t p = 0; p < padded; p++) {
            if (p >= visible) {
                weights[p] = -INFINITY;
                continue;
            }
            for (size_t e = 0; e < head_dim; e++) column[e] = half_to_float(k[p * kv_stride + e]);
            const float score = tiled_scores ? dot_f16_tiled(column, qh, head_dim) : dot_f16_vec(column, qh, head_dim);
            weights[p] = score * scale;
            max = fmaxf(max, weights[p]);
        }
        // ggml_vec_soft_max_f32: exp per 16 (all of them here: padded is a multiple of 16), sums in double.
        double sum = 0.0;
        for (size_t p = 0; p < padded; p += 16) {
            float vals[16];
            for (int l = 0; l < 16; l++) vals[l] = weights[p + l] == -INFINITY ? 0.0f : v_expf(weights[p + l] - max);
            for (int l = 0; l < 16; l++) weights[p + l] = vals[l];
            sum += (double)reduce16(vals);
        }
        const float inverse = (float)(1.0 / sum);
        for (size_t p = 0; p < padded; p++) weights[p] = round_half(weights[p] * inverse);
        // Output: Vᵀ · weights, both f16.
        for (size_t e = 0; e < head_dim; e++) {
            for (size_t p = 0; p < padded; p++) column[p] = p < visible ? half_to_float(v[p * kv_stride + e]) : 0.0f;
            out[r * out_stride + e] = tiled ? dot_f16_tiled(column, weights, padded) : dot_f16_vec(column, weights, padded);
        }
    }
}

#if defined(__x86_64__)
// _mm512_reduce_add_ps in GCC's order, written out (clang's own reduction pairs lanes differently).
AVX512 static inline float reduce16_avx(__m512 v) {
    const __m256 t3 = _mm256_add_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
    const __m128 t6 = _mm_add_ps(_mm256_extractf128_ps(t3, 1), _mm256_castps256_ps128(t3));
    const __m128 t8 = _mm_add_ps(t6, _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm_cvtss_f32(t8) + _mm_cvtss_f32(_mm_shuffle_ps(t8, t8, 1));
}

AVX512 static inline __m512 v_expf_avx(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(
        n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 d = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(
            _mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
            _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (d == 0) return res;
    const __m512 alt = _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
    return _mm512_mask_blend_ps(d, res, alt);
}

AVX512 static inline __m512 load_half16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

AVX512 static inline __m512 round_half16(__m512 x) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// The same sums as hark_gg_attention_scalar, 16 lanes at a time; E a multiple of 16 (of 64 for one row), E ≤ 256.
AVX512 static void attention_avx512(
    const float *q, size_t q_stride, const uint16_t *k, const uint16_t *v, size_t kv_stride, size_t rows,
    size_t keys, size_t past, size_t head_dim, float scale, float *out, size_t out_stride, float *scratch) {
    const size_t padded = (keys + 63) & ~(size_t)63;
    const size_t chunks = head_dim / 16;
    const int tiled = rows >= 2;
    const size_t lanes = tiled ? 16 : 64;
    float *weights = scratch, *acc = scratch + padded;
    __m512 qh[16];
    for (size_t r = 0; r < rows; r++) {
        const size_t visible = past + r + 1;
        for (size_t c = 0; c < chunks; c++) qh[c] = round_half16(_mm512_loadu_ps(q + r * q_stride + 16 * c));
        float max = -INFINITY;
        for (size_t p = 0; p < visible; p++) {
            const uint16_t *kp = k + p * kv_stride;
            float score;
            if (tiled) {
                __m512 a = _mm512_mul_ps(load_half16(kp), qh[0]);
                for (size_t c = 1; c < chunks; c++) a = _mm512_fmadd_ps(load_half16(kp + 16 * c), qh[c], a);
                score = reduce16_avx(a);
            } else {
                __m512 a[4];
                for (int j = 0; j < 4; j++) a[j] = _mm512_mul_ps(load_half16(kp + 16 * j), qh[j]);
                for (size_t c = 4; c < chunks; c++) a[c % 4] = _mm512_fmadd_ps(load_half16(kp + 16 * c), qh[c], a[c % 4]);
                score = reduce16_avx(_mm512_add_ps(_mm512_add_ps(a[0], a[2]), _mm512_add_ps(a[1], a[3])));
            }
            weights[p] = score * scale;
            max = fmaxf(max, weights[p]);
        }
        const size_t padded16 = (visible + 15) & ~(size_t)15;
        for (size_t p = visible; p < padded16; p++) weights[p] = -INFINITY;
        double sum = 0.0;
        for (size_t p = 0; p < padded16; p += 16) {
            const __m512 e = v_expf_avx(_mm512_sub_ps(_mm512_loadu_ps(weights + p), _mm512_set1_ps(max)));
            _mm512_storeu_ps(weights + p, e);
            sum += (double)reduce16_avx(e);
        }
        const __m512 inverse = _mm512_set1_ps((float)(1.0 / sum));
        for (size_t p = 0; p < padded16; p += 16) {
            _mm512_storeu_ps(weights + p, round_half16(_mm512_mul_ps(_mm512_loadu_ps(weights + p), inverse)));
        }
        // Per output feature, lane p mod 16 (tinyBLAS) or p mod 64 (ggml_vec_dot_f16's four accumulators) sums
        // its positions in order: kept as `lanes` rows of E here, features across the vector.
        if (chunks == 4) {
            // E = 64: each lane's running sums stay in registers, its positions visited in order.
            for (size_t lane = 0; lane < lanes; lane++) {
                __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (size_t p = lane; p < visible; p += lanes) {
                    const __m512 w = _mm512_set1_ps(weights[p]);
                    const uint16_t *vp = v + p * kv_stride;
                    a0 = _mm512_fmadd_ps(w, load_half16(vp), a0);
                    a1 = _mm512_fmadd_ps(w, load_half16(vp + 16), a1);
                    a2 = _mm512_fmadd_ps(w, load_half16(vp + 32), a2);
                    a3 = _mm512_fmadd_ps(w, load_half16(vp + 48), a3);
                }
                float *a = acc + lane * head_dim;
                _mm512_storeu_ps(a, a0);
                _mm512_storeu_ps(a + 16, a1);
                _mm512_storeu_ps(a + 32, a2);
                _mm512_storeu_ps(a + 48, a3);
            }
        } else {
            memset(acc, 0, lanes * head_dim * sizeof(float));
        }
        for (size_t p = 0; chunks != 4 && p < visible; p++) {
            float *a = acc + (p % lanes) * head_dim;
            const __m512 w = _mm512_set1_ps(weights[p]);
            for (size_t c = 0; c < chunks; c++) {
                _mm512_storeu_ps(
                    a + 16 * c, _mm512_fmadd_ps(w, load_half16(v + p * kv_stride + 16 * c), _mm512_loadu_ps(a + 16 * c)));
            }
        }
        for (size_t c = 0; c < chunks; c++) {
            __m512 l[16];
            for (int i = 0; i < 16; i++) {
                if (tiled) {
                    l[i] = _mm512_loadu_ps(acc + i * head_dim + 16 * c);
                } else {
                    const __m512 s0 = _mm512_add_ps(
                        _mm512_loadu_ps(acc + i * head_dim + 16 * c), _mm512_loadu_ps(acc + (32 + i) * head_dim + 16 * c));
                    const __m512 s1 = _mm512_add_ps(
                        _mm512_loadu_ps(acc + (16 + i) * head_dim + 16 * c),
                        _mm512_loadu_ps(acc + (48 + i) * head_dim + 16 * c));
                    l[i] = _mm512_add_ps(s0, s1);
                }
            }
            __m512 t8[8], t4[4];
            for (int i = 0; i < 8; i++) t8[i] = _mm512_add_ps(l[8 + i], l[i]);
            for (int i = 0; i < 4; i++) t4[i] = _mm512_add_ps(t8[4 + i], t8[i]);
            _mm512_storeu_ps(
                out + r * out_stride + 16 * c,
                _mm512_add_ps(_mm512_add_ps(t4[0], t4[2]), _mm512_add_ps(t4[1], t4[3])));
        }
    }
}

// quantize_row_q8_1 / q8_0's AVX body: the same max, multiply and round-to-nearest-even as the scalar path.
AVX512 static void quantize_avx512(const float *x, size_t k, int with_sum, int16_t *q, float *d, float *s) {
    const __m512 magnitude = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (size_t b = 0; b < k / 32; b++) {
        const __m512 lo = _mm512_loadu_ps(x + b * 32), hi = _mm512_loadu_ps(x + b * 32 + 16);
        const float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(lo, magnitude), _mm512_and_ps(hi, magnitude)));
        const float scale = amax / 127.f;
        const __m512 inverse = _mm512_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inverse));
        const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inverse));
        _mm256_storeu_si256((__m256i *)(q + b * 32), _mm512_cvtepi32_epi16(qlo));
        _mm256_storeu_si256((__m256i *)(q + b * 32 + 16), _mm512_cvtepi32_epi16(qhi));
        d[b] = round_half(scale);
        if (with_sum) s[b] = round_half(scale * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi)));
    }
}

AVX512 static void swiglu_avx512(const float *g, const float *u, size_t n, float *y) {
    const size_t vector = n & ~(size_t)15;
    for (size_t i = 0; i < vector; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 silu =
            _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), v_expf_avx(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        _mm512_storeu_ps(y + i, _mm512_mul_ps(silu, _mm512_loadu_ps(u + i)));
    }
    hark_gg_swiglu_scalar(g + vector, u + vector, n - vector, y + vector);
}
#endif

void hark_gg_quantize_q8(const float *x, size_t k, int with_sum, int16_t *q, float *d, float *s) {
#if defined(__x86_64__)
    if (hark_cpu_avx512_once()) {
        quantize_avx512(x, k, with_sum, q, d, s);
        return;
    }
#endif
    hark_gg_quantize_q8_scalar(x, k, with_sum, q, d, s);
}

void hark_gg_swiglu(const float *g, const float *u, size_t n, float *y) {
#if defined(__x86_64__)
    if (hark_cpu_avx512_once()) {
        swiglu_avx512(g, u, n, y);
        return;
    }
#endif
    hark_gg_swiglu_scalar(g, u, n, y);
}

void hark_gg_attention(
    const float *q, size_t q_stride, const uint16_t *k, const uint16_t *v, size_t kv_stride, size_t rows,
    size_t keys, size_t past, size_t head_dim, float scale, float *out, size_t out_stride, float *scratch) {
#if defined(__x86_64__)
    if (hark_cpu_avx512_once() && head_dim % (rows >= 2 ? 16 : 64) == 0 && head_dim <= 256) {
        attention_avx512(q, q_stride, k, v, kv_stride, rows, keys, past, head_dim, scale, out, out_stride, scratch);
        return;
    }
#endif
    hark_gg_attention_scalar(q, q_stride, k, v, kv_stride, rows, keys, past, head_dim, scale, out, out_stride, scratch);
}
