// Block-quantized dot products for the CPU backend.
//
// The activation vector is quantized once per call to 32-element int8 blocks (`hark_quantize_q8`); each
// weight block is then dotted with its activation block in integers and scaled once:
//
//   q8_0:  Σ (dw · qw) (dx · qx)        = dw · dx · Σ qw · qx
//   q4_0:  Σ (dw · (qw − 8)) (dx · qx)  = dw · dx · Σ qw · qx − 8 · dw · s      (s = dx · Σ qx)
//   q4_1:  Σ (dw · qw + m) (dx · qx)    = dw · dx · Σ qw · qx + m · s
//
// This is how ggml's CPU backend decodes (ggml_vec_dot_q4_1_q8_1 and friends); the code here is written
// from that idea, not copied. q4_0 keeps its nibbles unsigned (0…15) and takes the −8 off through s, so all
// three formats share one activation format. On x86-64 the integer dot product of 32 bytes is two
// instructions: vpmaddubsw (unsigned × signed bytes, pairs summed to int16) and vpmaddwd against ones (pairs
// summed to int32). Neither int16 sum can overflow: |15 · 127 · 2| and |128 · 127 · 2| < 32768.

#include "quant_kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HARK_X86 1
#endif

// MARK: - Run-time ISA choice

int hark_quant_vector_isa(void) {
#if HARK_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

#if HARK_X86
/// 1 when the AVX2 kernels run, 0 when the scalar ones do; decided on first use.
static int vector_isa(void) {
    static _Atomic int isa = -1;  // threads racing to set it all store the same value
    int v = atomic_load_explicit(&isa, memory_order_relaxed);
    if (v < 0) {
        v = hark_quant_vector_isa();
        atomic_store_explicit(&isa, v, memory_order_relaxed);
    }
    return v;
}
#endif

// MARK: - Helpers

/// An IEEE half (as stored in ggml blocks, little-endian) as float, without F16C.
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000 | (mant << 13);  // inf, nan
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);  // normal: rebias 15 → 127
    } else if (mant == 0) {
        bits = sign;  // ±0
    } else {
        float f = (float)mant * (1.0f / 16777216.0f);  // subnormal: mant · 2⁻²⁴, exact
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

// MARK: - Activation quantizer

/// Where element j of block b lies in `qs` (see `hark_quantize_q8`).
static size_t q8_index(size_t b, int j, size_t blocks, int nibble_pairs) {
    if (!nibble_pairs || ((blocks & 1) && b == blocks - 1)) return 32 * b + (size_t)j;
    return 32 * (b & ~(size_t)1) + 32 * (size_t)(j >= 16) + 16 * (b & 1) + (size_t)(j & 15);
}

void hark_quantize_q8(const float *x, size_t count, int nibble_pairs, float *ds, int8_t *qs) {
    const size_t blocks = count / 32;
    for (size_t b = 0; b < blocks; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)nearbyintf(xb[j] * id);  // |q| ≤ 127
            qs[q8_index(b, j, blocks, nibble_pairs)] = (int8_t)q;
            sum += q;
        }
        ds[2 * b] = d;
        ds[2 * b + 1] = d * (float)sum;
    }
}

// MARK: - Scalar kernels (any CPU)

/// Σ qw · qx over block b of nibbles packed as ggml does (element j low, j + 16 high), x in nibble-pair order.
static int dot_nibbles(const uint8_t *qw, const int8_t *qs, size_t b, size_t blocks) {
    int sum = 0;
    for (int j = 0; j < 16; j++) {
        sum += (qw[j] & 0x0F) * qs[q8_index(b, j, blocks, 1)] + (qw[j] >> 4) * qs[q8_index(b, j + 16, blocks, 1)];
    }
    return sum;
}

void hark_q4_0_rows_scalar(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                           size_t row_end, float *y) {
    const size_t row_bytes = blocks * 18;
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + r * row_bytes;
        float acc = 0;
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *blk = row + 18 * b;
            float d = half_to_float(load_u16(blk));
            acc += d * (ds[2 * b] * (float)dot_nibbles(blk + 2, qs, b, blocks) - 8 * ds[2 * b + 1]);
        }
        y[r] = acc;
    }
}

void hark_q4_1_rows_scalar(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                           size_t row_end, float *y) {
    const size_t row_bytes = blocks * 20;
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + r * row_bytes;
        float acc = 0;
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *blk = row + 20 * b;
            float d = half_to_float(load_u16(blk));
            float m = half_to_float(load_u16(blk + 2));
            acc += d * ds[2 * b] * (float)dot_nibbles(blk + 4, qs, b, blocks) + m * ds[2 * b + 1];
        }
        y[r] = acc;
    }
}

void hark_q8_0_rows_scalar(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin,
                           size_t row_end, float *y) {
    const size_t row_bytes = blocks * 34;
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + r * row_bytes;
        float acc = 0;
        for (size_t b = 0; b < blocks; b++) {
            const uint8_t *blk = row + 34 * b;
            const int8_t *qw = (const int8_t *)(blk + 2);
            int sum = 0;
            for (int j = 0; j < 32; j++) sum += qw[j] * qs[32 * b + j];
            acc += half_to_float(load_u16(blk)) * ds[2 * b] * (float)sum;
        }
        y[r] = acc;
    }
}

// MARK: - AVX2 kernels (x86-64 with AVX2, FMA, F16C; checked at run time)
//
// Four blocks per iteration. Their f16 scales are gathered into one vector and converted and multiplied by
// the four (d, s) pairs of x at once: lanes 2j and 2j + 1 of `scales` hold block j's dw · dx and its offset
// term (q4_1: m · s; q4_0: dw · s); the offsets accumulate vector-wise, and each block's dw · dx is
// broadcast from its lane. This keeps the per-block scalar work (the bottleneck of a one-block loop: two
// f16 conversions, a multiply, a broadcast and a scalar multiply-add) to a lane permute. The q4 kernels
// also take their blocks two at a time, one per 128-bit half (x is stored in that order: nibble pairs), so
// one shift and two masks unpack 64 nibbles and one vpmaddwd widens two blocks.

#if HARK_X86
#define HARK_AVX2 __attribute__((target("avx2,fma,f16c")))

static uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/// Σ of the eight lanes.
HARK_AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Σ of the odd lanes (the offset terms).
HARK_AVX2 static inline float hsum_odd(__m256 v) {
    return hsum(_mm256_blend_ps(_mm256_setzero_ps(), v, 0xAA));
}

/// Eight int32 sums of Σ u · s over 32 unsigned bytes u and 32 signed bytes s (four products per lane).
HARK_AVX2 static inline __m256i dot_bytes(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/// Σ qw · qx for two q4 blocks at once, their 16 bytes of nibbles at q0 and q1, x in nibble-pair order
/// (64 bytes): lanes 0–3 sum block 0, lanes 4–7 block 1. Low nibbles (elements 0–15 of each block) meet the
/// first 32 bytes of x, high nibbles (16–31) the next 32; the two int16 products add before widening (each
/// at most 15 · 127 · 2 in magnitude, so their sum fits).
HARK_AVX2 static inline __m256i dot_nibble_pair(const uint8_t *q0, const uint8_t *q1, const int8_t *x) {
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                        _mm_loadu_si128((const __m128i *)q1), 1);
    __m256i low = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(v, low), _mm256_loadu_si256((const __m256i *)x));
    __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), low),
                                      _mm256_loadu_si256((const __m256i *)(x + 32)));
    return _mm256_madd_epi16(_mm256_add_epi16(lo, hi), _mm256_set1_epi16(1));
}

/// A last, unpaired q4 block: its 16 bytes of nibbles as 32 bytes 0…15 in element order (low nibbles in the
/// low 128 bits, high nibbles in the high 128 bits), dotted with x in natural order.
HARK_AVX2 static inline __m256i dot_nibbles_one(const uint8_t *q, const int8_t *x) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q));
    v = _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0)), _mm256_set1_epi8(0x0F));
    return dot_bytes(v, _mm256_loadu_si256((const __m256i *)x));
}

/// The 32-bit words at p, p + stride, p + 2 · stride, p + 3 · stride: four blocks' leading f16 pairs.
HARK_AVX2 static inline __m128i gather4(const uint8_t *p, size_t stride) {
    return _mm_setr_epi32((int)load_u32(p), (int)load_u32(p + stride), (int)load_u32(p + 2 * stride),
                          (int)load_u32(p + 3 * stride));
}

/// Lane `lane` of v in all eight lanes.
HARK_AVX2 static inline __m256 lane(__m256 v, int lane) {
    return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(lane));
}

/// Lane 2j of `scales` in lanes 0–3 and lane 2j + 2 in lanes 4–7: the dw · dx of a pair of blocks.
HARK_AVX2 static inline __m256 pair_scales(__m256 scales, int j) {
    return _mm256_permutevar8x32_ps(scales, _mm256_setr_epi32(2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 2, 2 * j + 2,
                                                              2 * j + 2, 2 * j + 2));
}

/// Duplicates the low f16 of each 32-bit word: [d0 · d1 · d2 · d3 ·] → [d0 d0 d1 d1 d2 d2 d3 d3].
HARK_AVX2 static inline __m128i dup_low_halves(__m128i v) {
    return _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13));
}

/// One q4 row (q4_1 when `has_min`, else q4_0): returns Σ dw · dx · Σ qw · qx and sets `*offset` to the
/// sum of the blocks' offset terms (q4_1: Σ m · s; q4_0: Σ dw · s, which the caller multiplies by −8).
/// Inlined with constant `has_min`, so each format gets its own loop.
HARK_AVX2 static inline float q4_row(const uint8_t *row, const float *ds, const int8_t *qs, size_t blocks,
                                     int has_min, float *offset) {
    const size_t bytes = has_min ? 20 : 18;  // block size
    const size_t head = has_min ? 4 : 2;     // bytes before the nibbles
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), offsets = _mm256_setzero_ps();
    size_t b = 0;
    for (; b + 4 <= blocks; b += 4) {
        const uint8_t *p = row + bytes * b;
        // q4_1: [d0 m0 d1 m1 …] × [dx0 s0 dx1 s1 …] = [dw·dx, m·s, …]; q4_0: [d0 d0 d1 d1 …] × … = [dw·dx, dw·s, …].
        __m128i halves = has_min ? gather4(p, bytes) : dup_low_halves(gather4(p, bytes));
        __m256 scales = _mm256_mul_ps(_mm256_cvtph_ps(halves), _mm256_loadu_ps(ds + 2 * b));
        offsets = _mm256_add_ps(offsets, scales);
        __m256i d01 = dot_nibble_pair(p + head, p + bytes + head, qs + 32 * b);
        __m256i d23 = dot_nibble_pair(p + 2 * bytes + head, p + 3 * bytes + head, qs + 32 * b + 64);
        acc0 = _mm256_fmadd_ps(pair_scales(scales, 0), _mm256_cvtepi32_ps(d01), acc0);
        acc1 = _mm256_fmadd_ps(pair_scales(scales, 2), _mm256_cvtepi32_ps(d23), acc1);
    }
    // The last one to three blocks: a pair, then an unpaired block; scales one at a time.
    float tail = 0, scale[2];
    for (size_t j = 0; b + j < blocks && j < 2; j++) {
        const uint8_t *p = row + bytes * (b + j);
        float d = _cvtsh_ss(load_u16(p));
        scale[j] = d * ds[2 * (b + j)];
        tail += (has_min ? _cvtsh_ss(load_u16(p + 2)) : d) * ds[2 * (b + j) + 1];
    }
    if (b + 2 <= blocks) {
        const uint8_t *p = row + bytes * b;
        __m256i d01 = dot_nibble_pair(p + head, p + bytes + head, qs + 32 * b);
        __m256 s01 = _mm256_setr_m128(_mm_set1_ps(scale[0]), _mm_set1_ps(scale[1]));
        acc0 = _mm256_fmadd_ps(s01, _mm256_cvtepi32_ps(d01), acc0);
        b += 2;
        if (b < blocks) {
            const uint8_t *p = row + bytes * b;
            float d = _cvtsh_ss(load_u16(p));
            scale[0] = d * ds[2 * b];
            tail += (has_min ? _cvtsh_ss(load_u16(p + 2)) : d) * ds[2 * b + 1];
        }
    }
    if (b < blocks) {
        __m256i d0 = dot_nibbles_one(row + bytes * b + head, qs + 32 * b);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(scale[0]), _mm256_cvtepi32_ps(d0), acc0);
    }
    *offset = hsum_odd(offsets) + tail;
    return hsum(_mm256_add_ps(acc0, acc1));
}

HARK_AVX2 static void q4_1_rows_avx2(const void *w, const float *ds, const int8_t *qs, size_t blocks,
                                     size_t row_begin, size_t row_end, float *y) {
    for (size_t r = row_begin; r < row_end; r++) {
        float offset;
        float dot = q4_row((const uint8_t *)w + r * blocks * 20, ds, qs, blocks, 1, &offset);
        y[r] = dot + offset;
    }
}

HARK_AVX2 static void q4_0_rows_avx2(const void *w, const float *ds, const int8_t *qs, size_t blocks,
                                     size_t row_begin, size_t row_end, float *y) {
    for (size_t r = row_begin; r < row_end; r++) {
        float offset;
        float dot = q4_row((const uint8_t *)w + r * blocks * 18, ds, qs, blocks, 0, &offset);
        y[r] = dot - 8 * offset;
    }
}

/// Block j's integer dot product, times the broadcast lane 2j of `scales`, added to acc.
#define HARK_ACCUMULATE(acc, scales, j, dot) \
    acc = _mm256_fmadd_ps(lane(scales, 2 * (j)), _mm256_cvtepi32_ps(dot), acc)

/// Σ qw · qx for signed weights: |qw| (vpsignb of qw by itself) as the unsigned operand, qx with qw's sign
/// moved onto it (zero where qw is zero) as the signed one.
HARK_AVX2 static inline __m256i dot_signed(const uint8_t *qw, const int8_t *qx) {
    __m256i w = _mm256_loadu_si256((const __m256i *)qw);
    __m256i x = _mm256_loadu_si256((const __m256i *)qx);
    return dot_bytes(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
}

HARK_AVX2 static void q8_0_rows_avx2(const void *w, const float *ds, const int8_t *qs, size_t blocks,
                                     size_t row_begin, size_t row_end, float *y) {
    const size_t row_bytes = blocks * 34;
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)w + r * row_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        size_t b = 0;
        for (; b + 4 <= blocks; b += 4) {
            const uint8_t *p = row + 34 * b;
            const int8_t *x = qs + 32 * b;
            // dw · dx in even lanes (odd lanes unused).
            __m256 scales =
                _mm256_mul_ps(_mm256_cvtph_ps(dup_low_halves(gather4(p, 34))), _mm256_loadu_ps(ds + 2 * b));
            for (int j = 0; j < 4; j += 2) {
                HARK_ACCUMULATE(acc0, scales, j, dot_signed(p + 34 * j + 2, x + 32 * j));
                HARK_ACCUMULATE(acc1, scales, j + 1, dot_signed(p + 34 * j + 36, x + 32 * j + 32));
            }
        }
        for (; b < blocks; b++) {
            const uint8_t *p = row + 34 * b;
            __m256 d = _mm256_set1_ps(_cvtsh_ss(load_u16(p)) * ds[2 * b]);
            acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_signed(p + 2, qs + 32 * b)), acc0);
        }
        y[r] = hsum(_mm256_add_ps(acc0, acc1));
    }
}
#endif

// MARK: - Dispatch

#if HARK_X86
#define HARK_DISPATCH(name)                                                                                    \
    void hark_##name##_rows(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin, \
                            size_t row_end, float *y) {                                                       \
        if (vector_isa())                                                                                      \
            name##_rows_avx2(w, ds, qs, blocks, row_begin, row_end, y);                                        \
        else                                                                                                   \
            hark_##name##_rows_scalar(w, ds, qs, blocks, row_begin, row_end, y);                               \
    }
#else
#define HARK_DISPATCH(name)                                                                                    \
    void hark_##name##_rows(const void *w, const float *ds, const int8_t *qs, size_t blocks, size_t row_begin, \
                            size_t row_end, float *y) {                                                       \
        hark_##name##_rows_scalar(w, ds, qs, blocks, row_begin, row_end, y);                                   \
    }
#endif

HARK_DISPATCH(q4_0)
HARK_DISPATCH(q4_1)
HARK_DISPATCH(q8_0)
