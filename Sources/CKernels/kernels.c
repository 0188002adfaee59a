// CPU feature probes (kernels.h).
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

int hark_cpu_has_avx512(void) {
#if defined(__x86_64__)
    const char *choice = getenv("HARK_CPU_KERNELS");
    if (choice != NULL && strcmp(choice, "avx2") == 0) return 0;
    __builtin_cpu_init();  // libgcc's probe also checks that the OS saves the AVX-512 registers
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

int hark_cpu_has_avx512_vnni(void) {
#if defined(__x86_64__)
    return hark_cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}
