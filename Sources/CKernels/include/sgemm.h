// Single-threaded SGEMM with an AVX-512 body, for the CPU backend's large products (callers split the work
// over threads: each calls this on its own block of C).
#pragma once
#include <stddef.h>

/// C = alpha · op(A) · op(B) + beta · C over row-major matrices, op(X) = X or Xᵀ (trans_x nonzero): op(A) is
/// m×k, op(B) is k×n, C is m×n; lda, ldb, ldc are row strides in floats. beta == 0 never reads C (so it may hold
/// NaN). Needs AVX-512 F/VL/BW/DQ: call only when hark_cpu_has_avx512() says yes. Allocates its packing buffers
/// per call, so concurrent calls on disjoint blocks of C are safe.
void hark_sgemm_avx512(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                       size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/// Packs op(A) (m×k) whole, as hark_sgemm_avx512 packs it block by block, into `out` (m·k floats): a weight used
/// as A in many products is then packed once, at load.
void hark_sgemm_pack_a(int trans_a, size_t m, size_t k, const float *a, size_t lda, float *out);

/// hark_sgemm_avx512 with op(A) already packed by hark_sgemm_pack_a (same m and k).
void hark_sgemm_avx512_packed(size_t m, size_t n, size_t k, float alpha, const float *packed_a, int trans_b,
                              const float *b, size_t ldb, float beta, float *c, size_t ldc);

/// The register tile of hark_sgemm_avx512's microkernel: rows of C (MR) and columns of C (NR). Splitting C
/// between threads at multiples of these keeps every tile but the last one full.
enum { HARK_SGEMM_MR = 8, HARK_SGEMM_NR = 48 };
