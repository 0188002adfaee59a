// Block-quantized dot products for the CPU backend.
#include "quant_kernels.h"

int hark_quant_vector_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
