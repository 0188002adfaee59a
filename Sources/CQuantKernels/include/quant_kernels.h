// Block-quantized dot products for the CPU backend (see quant_kernels.c).
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Whether this CPU runs the vector paths (AVX2+FMA on x86-64, NEON with dot products on AArch64).
int hark_quant_vector_isa(void);
