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

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512vl,avx512bw,f16c"))) static void f32_to_f16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        const __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
        const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(tail, src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(dst + i, tail, h);
    }
}
#endif

int hark_cpu_avx512_once(void) {
    // The probe reads the environment, so hot paths ask once; a race only repeats the probe.
    static int probed = -1;
    int avx512 = __atomic_load_n(&probed, __ATOMIC_RELAXED);
    if (avx512 < 0) {
        avx512 = hark_cpu_has_avx512();
        __atomic_store_n(&probed, avx512, __ATOMIC_RELAXED);
    }
    return avx512;
}

void hark_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
#if defined(__x86_64__)
    if (hark_cpu_avx512_once()) {
        f32_to_f16_avx512(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        const _Float16 h = (_Float16)src[i];
        __builtin_memcpy(dst + i, &h, 2);
    }
}
