// Hand-vectorised C kernels and CPU feature probes for the CPU backend. Kernels with AVX-512 bodies are
// chosen at run time, so the package still builds for, and runs on, any x86-64 or AArch64 CPU.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU and OS run AVX-512 F/VL/BW/DQ code and the user has not turned it off with
/// HARK_CPU_KERNELS=avx2 (the portable Swift kernels then run).
int hark_cpu_has_avx512(void);

/// A spin-wait hint (x86 `pause`, Arm `yield`): lets the sibling hyperthread run and saves power while spinning.
static inline void hark_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// `hark_cpu_has_avx512()`, probed on the first call only (for kernels that choose their path per call).
int hark_cpu_avx512_once(void);

/// 1 when `hark_cpu_has_avx512()` and the CPU has AVX-512 VNNI (vpdpwssd).
int hark_cpu_has_avx512_vnni(void);

/// dst[i] = src[i] rounded to IEEE half precision (to nearest, ties to even), F16C's vcvtps2ph where the CPU has
/// AVX-512, a plain conversion elsewhere.
void hark_f32_to_f16(const float *src, uint16_t *dst, size_t n);
