// Interleaving rows into one sequence (kernels.h has the CPU probe that decides whether to call these).
#pragma once
#include <stddef.h>

/// dst[t · rows + r] = src[r · stride + t] + bias for t < n, r < rows: `rows` sequences merged sample by sample
/// (the phases of a polyphase transposed convolution into its output). 4 and 8 rows go through register
/// transposes. Needs AVX-512 F/VL: call only when hark_cpu_has_avx512() says yes.
void hark_interleave(const float *src, size_t rows, size_t stride, size_t n, float bias, float *dst);
