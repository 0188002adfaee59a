// One-dimensional convolutions by Winograd's minimal filtering F(4, r) (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015, in one dimension): four outputs of an r-tap filter from 3 + r products per
// channel pair instead of 4r, the channel sums as one matrix product per point. Kernels 3, 5 and 7 (HiFi-GAN's
// residual blocks, VITS's flow and text encoder, Whisper's stem): 2×, 2.5× and 2.8× fewer multiply-adds than
// im2col + GEMM.
#pragma once
#include <stddef.h>

/// Points (products per tile) of F(4, r) for r = 3, 5 or 7; 0 for a kernel it does not take.
size_t hark_winograd_points(int r);

/// The weight `w` [cout, cin, r] transformed for F(4, r) (in double, rounded once) and packed as
/// hark_sgemm_pack_a packs A: `points` matrices of cout × cin floats, one after another, into `out`.
void hark_winograd_weights(const float *w, size_t cout, size_t cin, int r, float *out);

/// Blocks [s0, s1) of y[co, t] = bias[co] + residual[co, t] + Σ_ci Σ_j w[co, ci, j] · a(x[ci, t − pad + d·j]) for
/// t < lout, with a(v) = v, or v < 0 ? slope · v : v when `leaky`; x is [cin, length] (zero outside), y and
/// residual (nil: none) [cout, lout], bias nil for none. A block is the 4·d consecutive outputs whose tiles (one
/// per phase t mod d, four outputs d apart) share their inputs' span. `u` is hark_winograd_weights' output.
/// Needs AVX-512 F/VL/BW/DQ: call only when hark_cpu_has_avx512() says yes. Its scratch is kept per thread.
void hark_winograd_conv1d(
    const float *x, size_t cin, size_t length, const float *u, size_t cout, int r, int d, int pad, size_t lout,
    int leaky, float slope, const float *bias, const float *residual, float *y, size_t s0, size_t s1);
