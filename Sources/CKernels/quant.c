// Block-quantized matrix-vector products (quant.h). With f32 activations: the same products as the portable Swift
// kernel up to f32 rounding (the q4 formats apply the block's scale and offset to the weights, not to the sums).
// With weights packed at load: x as 16-bit integers per block, integer products.
#include "quant.h"

#include "kernels.h"


// Packing and the 16-bit activations are plain C: they run once per weight (at load) or per call on one x row.

static inline uint16_t half_bits(const uint8_t *p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return h;
}

// Element e of a q4 block's quants: e < 16 in the low nibble of byte e, e ≥ 16 in the high nibble of byte e − 16.
static inline uint8_t q4_at(const uint8_t *qs, int e) {
    return e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
}

size_t hark_quant_packed_record(int format) { return format == 2 ? 544 : 320; }

int hark_quant_pack16(const uint8_t *w, size_t row_bytes, int format, size_t blocks, size_t groups, uint8_t *out) {
    const size_t bytes = format == 0 ? 18 : format == 1 ? 20 : 34;
    const size_t record = hark_quant_packed_record(format);
    for (size_t g = 0; g < groups; g++) {
        for (size_t b = 0; b < blocks; b++) {
            uint8_t *rec = out + (g * blocks + b) * record;
            for (int r = 0; r < 16; r++) {
                const uint8_t *block = w + (g * 16 + r) * row_bytes + b * bytes;
                const uint16_t d = half_bits(block);
                __builtin_memcpy(rec + 2 * r, &d, 2);
                if (format == 2) {
                    for (int c = 0; c < 16; c++) {
                        rec[32 + 32 * c + 2 * r] = block[2 + 2 * c];
                        rec[32 + 32 * c + 2 * r + 1] = block[2 + 2 * c + 1];
                    }
                    continue;
                }
                uint16_t m;
                if (format == 0) {
                    _Float16 scale;
                    __builtin_memcpy(&scale, &d, 2);
                    const _Float16 scaled = (_Float16)(-8.0f * (float)scale);
                    if (__builtin_isinf((float)scaled)) return 0;
                    __builtin_memcpy(&m, &scaled, 2);
                } else {
                    m = half_bits(block + 2);
                }
                __builtin_memcpy(rec + 32 + 2 * r, &m, 2);
                const uint8_t *qs = block + bytes - 16;
                for (int c = 0; c < 8; c++) {
                    uint8_t *chunk = rec + 64 + 32 * c;
                    chunk[2 * r] = q4_at(qs, 4 * c) | (uint8_t)(q4_at(qs, 4 * c + 2) << 4);
                    chunk[2 * r + 1] = q4_at(qs, 4 * c + 1) | (uint8_t)(q4_at(qs, 4 * c + 3) << 4);
                }
            }
        }
    }
    return 1;
}


static void quantize_i16_scalar(const float *x, size_t k, int16_t *q, float *scale, float *sum) {
    for (size_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0;
        for (int e = 0; e < 32; e++) amax = __builtin_fmaxf(amax, __builtin_fabsf(xb[e]));
        const float inverse = amax > 0 ? 32767.0f / amax : 0;
        int total = 0;
        for (int e = 0; e < 32; e++) {
            // Round to nearest, ties to even, as the kernels' own conversions do; |x · inverse| ≤ 32767.
            const int v = (int)__builtin_rintf(xb[e] * inverse);
            q[b * 32 + e] = (int16_t)v;
            total += v;
        }
        scale[b] = amax / 32767.0f;
        sum[b] = scale[b] * (float)total;
    }
}

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

// The same rounding as quantize_i16_scalar (vcvtps2dq rounds to nearest even under the default MXCSR).
AVX512 static void quantize_i16_avx512(const float *x, size_t k, int16_t *q, float *scale, float *sum) {
    const __m512 magnitude = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    for (size_t b = 0; b < k / 32; b++) {
        const __m512 lo = _mm512_loadu_ps(x + b * 32), hi = _mm512_loadu_ps(x + b * 32 + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(lo, magnitude), _mm512_and_ps(hi, magnitude)));
        const __m512 inverse = _mm512_set1_ps(amax > 0 ? 32767.0f / amax : 0);
        const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inverse));
        const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inverse));
        _mm256_storeu_si256((__m256i *)(q + b * 32), _mm512_cvtepi32_epi16(qlo));
        _mm256_storeu_si256((__m256i *)(q + b * 32 + 16), _mm512_cvtepi32_epi16(qhi));
        scale[b] = amax / 32767.0f;
        sum[b] = scale[b] * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
    }
}

void hark_quantize_i16(const float *x, size_t k, int16_t *q, float *scale, float *sum) {
    if (hark_cpu_avx512_once()) {
        quantize_i16_avx512(x, k, q, scale, sum);
    } else {
        quantize_i16_scalar(x, k, q, scale, sum);
    }
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

// The packed products. A q4 record's chunk c (32 bytes) widens to 16-bit lanes: 32-bit lane r then holds row r's
// elements (4c, 4c+1) in its low nibbles and (4c+2, 4c+3) in its high nibbles; a q8_0 record's chunk c holds row r's
// elements (2c, 2c+1) as two signed bytes. One vpdpwssd (or vpmaddwd + vpaddd) multiplies each lane's pair by the
// same broadcast pair of x and adds both products to row r's sum: 32 products per instruction, no conversion to
// float until the block's end.
#define PACKED_BODY(DOT, RECORD, PRODUCTS, OFFSET)                                                                   \
    for (size_t g = g0; g < g1; g++) {                                                                               \
        const uint8_t *group = packed + g * blocks * RECORD;                                                         \
        for (size_t i = 0; i < m; i++) {                                                                             \
            const int32_t *xq = (const int32_t *)(q + i * blocks * 32);                                              \
            __m512 acc = _mm512_setzero_ps();                                                                        \
            for (size_t b = 0; b < blocks; b++) {                                                                    \
                const uint8_t *rec = group + b * RECORD;                                                             \
                const int32_t *xb = xq + b * 16;                                                                     \
                __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();                                   \
                PRODUCTS(DOT)                                                                                        \
                const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)rec));                          \
                const __m512 dots = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));                                    \
                acc = _mm512_fmadd_ps(dots, _mm512_mul_ps(d, _mm512_set1_ps(scale[i * blocks + b])), acc);           \
                OFFSET                                                                                               \
            }                                                                                                        \
            _mm512_storeu_ps(y + i * ldy + g * 16, acc);                                                             \
        }                                                                                                            \
    }

#define Q4_PRODUCTS(DOT)                                                                                             \
    for (int c = 0; c < 8; c++) {                                                                                    \
        const __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(rec + 64 + 32 * c)));            \
        s0 = DOT(s0, _mm512_and_si512(v, _mm512_set1_epi16(0x000F)), _mm512_set1_epi32(xb[2 * c]));                  \
        s1 = DOT(s1, _mm512_srli_epi16(v, 4), _mm512_set1_epi32(xb[2 * c + 1]));                                     \
    }
#define Q4_OFFSET                                                                                                    \
    acc = _mm512_fmadd_ps(                                                                                           \
        _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(rec + 32))), _mm512_set1_ps(sum[i * blocks + b]), acc);
#define Q8_PRODUCTS(DOT)                                                                                             \
    for (int c = 0; c < 16; c += 2) {                                                                                \
        s0 = DOT(s0, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(rec + 32 + 32 * c))),                 \
                 _mm512_set1_epi32(xb[c]));                                                                          \
        s1 = DOT(s1, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(rec + 64 + 32 * c))),                 \
                 _mm512_set1_epi32(xb[c + 1]));                                                                      \
    }

#define DOT_VNNI(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
#define DOT_BW(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#define PACKED_ARGS                                                                                                  \
    const uint8_t *packed, size_t blocks, const int16_t *q, const float *scale, const float *sum, size_t m, float *y, \
        size_t ldy, size_t g0, size_t g1
#define VNNI __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,fma,f16c")))

VNNI static void q4_vnni(PACKED_ARGS) { PACKED_BODY(DOT_VNNI, 320, Q4_PRODUCTS, Q4_OFFSET) }
AVX512 static void q4_bw(PACKED_ARGS) { PACKED_BODY(DOT_BW, 320, Q4_PRODUCTS, Q4_OFFSET) }
VNNI static void q8_vnni(PACKED_ARGS) { (void)sum; PACKED_BODY(DOT_VNNI, 544, Q8_PRODUCTS, ) }
AVX512 static void q8_bw(PACKED_ARGS) { (void)sum; PACKED_BODY(DOT_BW, 544, Q8_PRODUCTS, ) }

void hark_quant_packed_matvec(
    int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *scale, const float *sum,
    size_t m, float *y, size_t ldy, size_t g0, size_t g1, int vnni) {
    if (format == 2) {
        (vnni ? q8_vnni : q8_bw)(packed, blocks, q, scale, sum, m, y, ldy, g0, g1);
    } else {
        (vnni ? q4_vnni : q4_bw)(packed, blocks, q, scale, sum, m, y, ldy, g0, g1);
    }
}
#else
void hark_quantize_i16(const float *x, size_t k, int16_t *q, float *scale, float *sum) {
    quantize_i16_scalar(x, k, q, scale, sum);
}

void hark_quant_matvec_avx512(
    const uint8_t *w, size_t row_bytes, int format, size_t blocks, const float *x, size_t m,
    float *y, size_t ldy, size_t j0, size_t j1) {
    (void)w, (void)row_bytes, (void)format, (void)blocks, (void)x, (void)m, (void)y, (void)ldy;
    (void)j0, (void)j1;
}
void hark_quant_packed_matvec(
    int format, const uint8_t *packed, size_t blocks, const int16_t *q, const float *scale, const float *sum,
    size_t m, float *y, size_t ldy, size_t g0, size_t g1, int vnni) {
    (void)format, (void)packed, (void)blocks, (void)q, (void)scale, (void)sum, (void)m, (void)y, (void)ldy, (void)g0, (void)g1;
    (void)vnni;
}
#endif
