// Single-threaded AVX-512 SGEMM (sgemm.h). The classic blocked design: for each KC-deep slice of the product,
// B is packed into NR-wide column panels (the last one zero-padded) and A into MR-tall row panels (the last one
// just shorter), and a microkernel holds an MR×NR block of C in zmm registers while it walks the slice.
#include "sgemm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#include "transpose.h"

#define MR HARK_SGEMM_MR
#define NR HARK_SGEMM_NR
#define NV (NR / 16)  // zmm registers per row of the C tile: MR·NV = 24 accumulators of the 32
_Static_assert(MR == 8 && NR == 48, "microkernel() has cases for 8 rows and 3 vectors");
// Block sizes (measured on Zen 5 against 14×32, 12×32 and 6×64 tiles and other blockings): an MR×KC panel of
// A (12 KB) stays in L1 while the microkernel walks a KC×NC block of packed B (720 KB, in L2); an MC×KC block
// of packed A (1.5 MB) sits in L3.
#define KC 384
#define MC (MR * 128)
#define NC 480
// Up to this many rows of C, a NoTrans B is read in place rather than packed.
#define DIRECT_ROWS (8 * MR)

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))

/// Columns `j` of a row of C that a tile of width `nr` covers, as one mask per zmm.
AVX512 static inline __mmask16 column_mask(int nr, int v) {
    int left = nr - 16 * v;
    if (left >= 16) return 0xFFFF;
    if (left <= 0) return 0;
    return (__mmask16)((1u << left) - 1);
}

/// C[mr×nr] (+)= alpha · Apanel · Bpanel over kc steps, with nv = ⌈nr / 16⌉ zmm columns (a narrow last panel
/// only computes the columns it has: a 4-wide tail of a 50-column share cost a whole 48-wide panel before).
/// `pa` holds kc groups of mr floats (one per row), `pb` kc groups of NR floats (packed, zero-padded) or a
/// stretch of B's rows `ldpb` apart. mode 0: C = alpha·AB; 1: C = alpha·AB + beta·C; 2: C += alpha·AB.
AVX512 static inline __attribute__((always_inline)) void
tile(const int mr, const int nv, size_t kc, const float *restrict pa, const float *restrict pb, size_t ldpb, float *c,
     size_t ldc, int nr, float alpha, float beta, int mode) {
    __m512 acc[MR][NV];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_ps();
    // Whole vectors: packed panels (zero-padded) or columns of an unpacked B that all lie inside its rows.
    const int whole = nr == 16 * nv || ldpb == NR;
    __mmask16 mask[NV];
    for (int v = 0; v < nv; v++) mask[v] = column_mask(nr, v);
    for (size_t p = 0; p < kc; p++) {
        __m512 bv[NV];
        for (int v = 0; v < nv; v++)
            bv[v] = whole ? _mm512_loadu_ps(pb + 16 * v) : _mm512_maskz_loadu_ps(mask[v], pb + 16 * v);
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(pa[i]);
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
        pa += mr;
        pb += ldpb;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *row = c + (size_t)i * ldc;
        for (int v = 0; v < nv; v++) {
            __m512 r = _mm512_mul_ps(acc[i][v], va);
            if (nr == 16 * nv) {
                if (mode == 1) r = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16 * v), vb, r);
                if (mode == 2) r = _mm512_add_ps(_mm512_loadu_ps(row + 16 * v), r);
                _mm512_storeu_ps(row + 16 * v, r);
            } else {
                if (mode == 1) r = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[v], row + 16 * v), vb, r);
                if (mode == 2) r = _mm512_add_ps(_mm512_maskz_loadu_ps(mask[v], row + 16 * v), r);
                _mm512_mask_storeu_ps(row + 16 * v, mask[v], r);
            }
        }
    }
}

/// One microkernel call, with the row count and the panel's vector count made constants so each case's loops
/// unroll into registers.
AVX512 static void microkernel(int mr, size_t kc, const float *pa, const float *pb, size_t ldpb, float *c, size_t ldc,
                               int nr, float alpha, float beta, int mode) {
    const int nv = (nr + 15) / 16;
    switch (mr * 4 + nv) {
#define CASE(R, V) \
    case R * 4 + V: tile(R, V, kc, pa, pb, ldpb, c, ldc, nr, alpha, beta, mode); break;
#define ROWS(R) CASE(R, 1) CASE(R, 2) CASE(R, 3)
        ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7) ROWS(8)
#undef ROWS
#undef CASE
    default: break;
    }
}

/// Packs op(B)[kc×nc] (rows p0.., columns j0..) into NR-wide panels, each kc rows of NR floats; a narrow
/// last panel is padded with zeros so the microkernel can always load whole rows.
AVX512 static void pack_b(int trans, const float *b, size_t ldb, size_t kc, size_t nc, float *dst) {
    for (size_t j = 0; j < nc; j += NR) {
        int nr = (int)(nc - j < NR ? nc - j : NR);
        if (!trans) {
            // op(B) = B: each panel row is a contiguous run of a row of B.
            __mmask16 mask[NV];
            for (int v = 0; v < NV; v++) mask[v] = column_mask(nr, v);
            for (size_t p = 0; p < kc; p++) {
                const float *src = b + p * ldb + j;
                for (int v = 0; v < NV; v++)
                    _mm512_store_ps(dst + p * NR + 16 * v, _mm512_maskz_loadu_ps(mask[v], src + 16 * v));
            }
        } else {
            // op(B) = Bᵀ: panel column jj is row j + jj of B. Whole 16×16 blocks are transposed in registers.
            size_t p = 0;
            if (nr == NR) {
                for (; p + 16 <= kc; p += 16) {
                    for (int v = 0; v < NV; v++) {
                        __m512 r[16];
                        for (int q = 0; q < 16; q++) r[q] = _mm512_loadu_ps(b + (j + 16 * v + q) * ldb + p);
                        // 16×16 transpose: r[q][s] → out[s][q].
                        __m512 t[16];
                        for (int q = 0; q < 16; q += 2) {
                            t[q] = _mm512_unpacklo_ps(r[q], r[q + 1]);
                            t[q + 1] = _mm512_unpackhi_ps(r[q], r[q + 1]);
                        }
                        for (int q = 0; q < 16; q += 4) {
                            r[q] = _mm512_shuffle_ps(t[q], t[q + 2], 0x44);
                            r[q + 1] = _mm512_shuffle_ps(t[q], t[q + 2], 0xEE);
                            r[q + 2] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0x44);
                            r[q + 3] = _mm512_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
                        }
                        for (int q = 0; q < 4; q++) {
                            t[q] = _mm512_shuffle_f32x4(r[q], r[q + 4], 0x88);
                            t[q + 4] = _mm512_shuffle_f32x4(r[q], r[q + 4], 0xDD);
                            t[q + 8] = _mm512_shuffle_f32x4(r[q + 8], r[q + 12], 0x88);
                            t[q + 12] = _mm512_shuffle_f32x4(r[q + 8], r[q + 12], 0xDD);
                        }
                        for (int q = 0; q < 4; q++) {
                            r[q] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0x88);
                            r[q + 8] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0xDD);
                            r[q + 4] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0x88);
                            r[q + 12] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0xDD);
                        }
                        for (int s = 0; s < 16; s++) _mm512_store_ps(dst + (p + s) * NR + 16 * v, r[s]);
                    }
                }
            }
            for (; p < kc; p++) {
                float *out = dst + p * NR;
                int jj = 0;
                for (; jj < nr; jj++) out[jj] = b[(j + jj) * ldb + p];
                for (; jj < NR; jj++) out[jj] = 0;
            }
        }
        dst += kc * NR;
    }
}

/// Packs op(A)[mc×kc] into MR-tall panels, each kc groups of mr floats (mr < MR only for the last panel).
AVX512 static void pack_a(int trans, const float *a, size_t lda, size_t mc, size_t kc, float *dst) {
    if (trans) {
        // op(A) = Aᵀ: a panel's k-th group is a contiguous run of row k of A. Eight panels are filled together
        // so each row of A is read in 256-byte runs rather than 32-byte ones (one page walk per row, not eight).
        size_t full = mc / MR;
        for (size_t i0 = 0; i0 < full; i0 += 8) {
            size_t count = full - i0 < 8 ? full - i0 : 8;
            for (size_t p = 0; p < kc; p++) {
                const float *src = a + p * lda + i0 * MR;
                for (size_t q = 0; q < count; q++)
                    _mm256_storeu_ps(dst + (i0 + q) * kc * MR + p * MR, _mm256_loadu_ps(src + q * MR));
            }
        }
        int mr = (int)(mc - full * MR);
        if (mr > 0) {
            __mmask8 mask = (__mmask8)((1u << mr) - 1);
            float *last = dst + full * kc * MR;
            for (size_t p = 0; p < kc; p++)
                _mm256_mask_storeu_ps(last + p * mr, mask, _mm256_maskz_loadu_ps(mask, a + p * lda + full * MR));
        }
        return;
    }
    for (size_t i = 0; i < mc; i += MR) {
        int mr = (int)(mc - i < MR ? mc - i : MR);
        {
            // op(A) = A: the panel is the transpose of its rows, 8 steps of k at a time through registers.
            size_t p = 0;
            if (mr == MR) {
                for (; p + 8 <= kc; p += 8) {
                    __m256 r[8];
                    for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(a + (i + q) * lda + p);
                    hark_transpose8(r);
                    for (int s = 0; s < 8; s++) _mm256_storeu_ps(dst + (p + s) * MR, r[s]);
                }
            }
            for (; p < kc; p++)
                for (int r = 0; r < mr; r++) dst[p * mr + r] = a[(i + r) * lda + p];
        }
        dst += kc * (size_t)mr;
    }
}

/// Where block (i0, p0) of a whole op(A) packed by hark_sgemm_pack_a starts: the MC-row blocks in order, each
/// holding its KC-deep slices in order, each slice packed as pack_a lays it out.
static inline size_t packed_offset(size_t m, size_t k, size_t i0, size_t p0) {
    size_t mc = m - i0 < MC ? m - i0 : MC;
    return i0 * k + p0 * mc;
}

/// Element (i, p) of op(A) in hark_sgemm_pack_a's layout: in its block, its MR-row panel holds kc groups of the
/// panel's rows.
static inline float packed_at(const float *packed, size_t m, size_t k, size_t i, size_t p) {
    size_t i0 = i / MC * MC, p0 = p / KC * KC;
    size_t mc = m - i0 < MC ? m - i0 : MC, kc = k - p0 < KC ? k - p0 : KC;
    size_t panel = (i - i0) / MR * MR;
    size_t mr = mc - panel < MR ? mc - panel : MR;
    return packed[packed_offset(m, k, i0, p0) + panel * kc + (p - p0) * mr + (i - i0 - panel)];
}

/// `prepacked`, when not NULL, is op(A) as hark_sgemm_pack_a laid it out; a and lda are then unused.
AVX512 static void sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                                const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                                size_t ldc, const float *prepacked) {
    size_t ncMax = n < NC ? n : NC;
    size_t kcMax = k < KC ? k : KC;
    size_t mcMax = m < MC ? m : MC;
    size_t panelsB = (ncMax + NR - 1) / NR;
    // Few rows of C: each element of a packed B would be used only a few times, so the copy would cost about as
    // much as the product; B's rows are read in place instead.
    int direct = !trans_b && m <= DIRECT_ROWS;
    float *packedB = direct ? NULL : aligned_alloc(64, ((panelsB * NR * kcMax * sizeof(float)) + 63) & ~(size_t)63);
    float *packedA = prepacked ? NULL : aligned_alloc(64, ((mcMax * kcMax * sizeof(float)) + 63) & ~(size_t)63);
    if ((packedB == NULL && !direct) || (packedA == NULL && !prepacked)) {
        // No memory for the buffers: the plain triple loop needs none.
        free(packedB);
        free(packedA);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float s = 0;
                for (size_t p = 0; p < k; p++)
                    s += (prepacked ? packed_at(prepacked, m, k, i, p) : trans_a ? a[p * lda + i] : a[i * lda + p]) *
                         (trans_b ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
        return;
    }
    if (direct) {
        // One NR-wide column panel of B at a time, from B itself, while all of A's row panels pass over it.
        for (size_t p0 = 0; p0 < k; p0 += KC) {
            size_t kc = k - p0 < KC ? k - p0 : KC;
            int mode = p0 > 0 ? 2 : (beta == 0 ? 0 : 1);
            const float *pa = prepacked ? prepacked + packed_offset(m, k, 0, p0) : packedA;
            if (!prepacked) pack_a(trans_a, trans_a ? a + p0 * lda : a + p0, lda, m, kc, packedA);
            for (size_t j = 0; j < n; j += NR) {
                int nr = (int)(n - j < NR ? n - j : NR);
                for (size_t i = 0; i < m; i += MR) {
                    int mr = (int)(m - i < MR ? m - i : MR);
                    microkernel(mr, kc, pa + i * kc, b + p0 * ldb + j, ldb, c + i * ldc + j, ldc, nr, alpha, beta,
                                mode);
                }
            }
        }
        free(packedA);
        return;
    }
    for (size_t i0 = 0; i0 < m; i0 += MC) {
        size_t mc = m - i0 < MC ? m - i0 : MC;
        for (size_t p0 = 0; p0 < k; p0 += KC) {
            size_t kc = k - p0 < KC ? k - p0 : KC;
            int mode = p0 > 0 ? 2 : (beta == 0 ? 0 : 1);
            const float *pa = prepacked ? prepacked + packed_offset(m, k, i0, p0) : packedA;
            if (!prepacked) pack_a(trans_a, trans_a ? a + p0 * lda + i0 : a + i0 * lda + p0, lda, mc, kc, packedA);
            for (size_t j0 = 0; j0 < n; j0 += NC) {
                size_t nc = n - j0 < NC ? n - j0 : NC;
                pack_b(trans_b, trans_b ? b + j0 * ldb + p0 : b + p0 * ldb + j0, ldb, kc, nc, packedB);
                for (size_t i = 0; i < mc; i += MR) {
                    int mr = (int)(mc - i < MR ? mc - i : MR);
                    for (size_t j = 0; j < nc; j += NR) {
                        int nr = (int)(nc - j < NR ? nc - j : NR);
                        microkernel(mr, kc, pa + i * kc, packedB + (j / NR) * kc * NR, NR,
                                    c + (i0 + i) * ldc + j0 + j, ldc, nr, alpha, beta, mode);
                    }
                }
            }
        }
    }
    free(packedA);
    free(packedB);
}
#endif

void hark_sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                       size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
#if defined(__x86_64__)
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
#else
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb,
        (void)beta, (void)c, (void)ldc;
#endif
}

void hark_sgemm_pack_a(int trans_a, size_t m, size_t k, const float *a, size_t lda, float *out) {
#if defined(__x86_64__)
    for (size_t i0 = 0; i0 < m; i0 += MC) {
        size_t mc = m - i0 < MC ? m - i0 : MC;
        for (size_t p0 = 0; p0 < k; p0 += KC) {
            size_t kc = k - p0 < KC ? k - p0 : KC;
            pack_a(trans_a, trans_a ? a + p0 * lda + i0 : a + i0 * lda + p0, lda, mc, kc,
                   out + packed_offset(m, k, i0, p0));
        }
    }
#else
    (void)trans_a, (void)m, (void)k, (void)a, (void)lda, (void)out;
#endif
}

void hark_sgemm_avx512_packed(size_t m, size_t n, size_t k, float alpha, const float *packed_a, int trans_b,
                              const float *b, size_t ldb, float beta, float *c, size_t ldc) {
#if defined(__x86_64__)
    if (m == 0 || n == 0 || k == 0) {
        hark_sgemm_avx512(0, trans_b, m, n, k, alpha, packed_a, k, b, ldb, beta, c, ldc);
        return;
    }
    sgemm_avx512(0, trans_b, m, n, k, alpha, NULL, 0, b, ldb, beta, c, ldc, packed_a);
#else
    (void)m, (void)n, (void)k, (void)alpha, (void)packed_a, (void)trans_b, (void)b, (void)ldb, (void)beta, (void)c,
        (void)ldc;
#endif
}
