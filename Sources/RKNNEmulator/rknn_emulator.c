// EMULATOR of Rockchip librknnrt's matmul API, for tests only: it never touches an NPU.
//
// It exports the SDK's symbols so the `rknpu` backend runs its real code path (dlopen, create, native
// layouts, set_io_mem, run) in CI. What it models, from research/backends.md:
// - RK3588 alignment: K a multiple of 32; N a multiple of 16 (fp16) or 32 (int8); K up to 8192 (the
//   segmented B layout the SDK uses beyond that is not modelled, so larger K is refused).
// - Native layouts: A (K/8, M, 8) fp16 or (K/16, M, 16) int8; B (N/16, K/32, 16, 32) fp16 or
//   (N/32, K/32, 32, 32) int8; C (N/4, M, 4) for 32-bit outputs and (N/8, M, 8) for fp16 outputs.
// - Arithmetic: fp16 inputs widened to fp32 and summed in fp32 (eight running sums; fp16 output rounds the
//   sum to nearest even); int8 inputs summed exactly in int32. The hardware's summation order is undocumented,
//   so fp16 results match a device only within a tolerance.
#include "rknn_emulator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMU_MAGIC 0x524b4e4e454d55ULL  // "RKNNEMU": tells a live emulator context from a stray handle
#define EMU_MAX_K 8192

typedef struct {
    uint64_t magic;
    rknn_matmul_info info;
    rknn_matmul_io_attr attr;
    rknn_tensor_mem *a, *b, *c;
    rknn_core_mask core_mask;
} emu_ctx;

static emu_ctx *emu_context(rknn_matmul_ctx handle) {
    emu_ctx *ctx = (emu_ctx *)(uintptr_t)handle;
    return ctx != NULL && ctx->magic == EMU_MAGIC ? ctx : NULL;
}

// MARK: - binary16 by hand (no reliance on the compiler's _Float16 support)

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    int exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((uint32_t)(exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        float value = ldexpf((float)mantissa, -24);  // subnormal: mantissa · 2^-24, exact in fp32
        return sign ? -value : value;
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

// Round to nearest, ties to even, as the NPU's fp16 output does.
static uint16_t float_to_half(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t abs_bits = bits & 0x7fffffffu;
    if (abs_bits >= 0x7f800000u) return sign | (abs_bits > 0x7f800000u ? 0x7e00u : 0x7c00u);
    if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504: infinity
    if (abs_bits < 0x38800000u) {  // below the smallest normal half: a subnormal or zero
        float magnitude;
        memcpy(&magnitude, &abs_bits, sizeof magnitude);
        return sign | (uint16_t)lrintf(magnitude * 16777216.0f);  // units of 2^-24, nearest even
    }
    uint32_t rounded = abs_bits + 0x0fffu + ((abs_bits >> 13) & 1u);
    return sign | (uint16_t)((rounded - 0x38000000u) >> 13);
}

// An fp32 dot product in eight running sums (K is a multiple of 32), combined pairwise at the end. The
// hardware's order of summation is undocumented; this one lets the compiler use vector registers.
static float dot_f32(const float *x, const float *y, size_t K) {
    float lanes[8] = {0};
    for (size_t k = 0; k < K; k += 8)
        for (size_t l = 0; l < 8; l++) lanes[l] += x[k + l] * y[k + l];
    for (size_t width = 4; width > 0; width /= 2)
        for (size_t l = 0; l < width; l++) lanes[l] += lanes[l + width];
    return lanes[0];
}

// MARK: - Layouts

static int is_half_input(rknn_matmul_type t) {
    return t == RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32 || t == RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16;
}

static size_t a_index(const rknn_matmul_info *i, size_t m, size_t k) {
    if (i->AC_layout != RKNN_MM_LAYOUT_NATIVE) return m * (size_t)i->K + k;
    size_t w = is_half_input(i->type) ? 8 : 16;  // 16 bytes per row of a block
    return (k / w) * (size_t)i->M * w + m * w + k % w;
}

static size_t b_index(const rknn_matmul_info *i, size_t k, size_t n) {
    size_t K = (size_t)i->K;
    switch (i->B_layout) {
    case RKNN_MM_LAYOUT_NATIVE: {
        size_t w = is_half_input(i->type) ? 16 : 32;
        return (n / w) * (K / 32) * w * 32 + (k / 32) * w * 32 + (n % w) * 32 + k % 32;
    }
    case RKNN_MM_LAYOUT_TP_NORM: return n * K + k;
    default: return k * (size_t)i->N + n;
    }
}

static size_t c_index(const rknn_matmul_info *i, size_t m, size_t n) {
    if (i->AC_layout != RKNN_MM_LAYOUT_NATIVE) return m * (size_t)i->N + n;
    size_t w = i->type == RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16 ? 8 : 4;
    return (n / w) * (size_t)i->M * w + m * w + n % w;
}

static void set_attr(rknn_matmul_tensor_attr *a, const char *name, rknn_tensor_type type, size_t element_bytes,
                     uint32_t n_dims, const uint32_t *dims) {
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->n_dims = n_dims;
    size_t count = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        a->dims[d] = dims[d];
        count *= dims[d];
    }
    a->size = (uint32_t)(count * element_bytes);
    a->type = type;
}

static void fill_io_attr(const rknn_matmul_info *i, rknn_matmul_io_attr *io) {
    uint32_t M = (uint32_t)i->M, K = (uint32_t)i->K, N = (uint32_t)i->N;
    int half = is_half_input(i->type);
    rknn_tensor_type in_type = half ? RKNN_TENSOR_FLOAT16 : RKNN_TENSOR_INT8;
    size_t in_bytes = half ? 2 : 1;
    int half_out = i->type == RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16;
    rknn_tensor_type out_type =
        half_out ? RKNN_TENSOR_FLOAT16 : (i->type == RKNN_INT8_MM_INT8_TO_INT32 ? RKNN_TENSOR_INT32 : RKNN_TENSOR_FLOAT32);
    size_t out_bytes = half_out ? 2 : 4;

    if (i->AC_layout == RKNN_MM_LAYOUT_NATIVE) {
        uint32_t aw = half ? 8 : 16, cw = half_out ? 8 : 4;
        uint32_t a[3] = {K / aw, M, aw}, c[3] = {N / cw, M, cw};
        set_attr(&io->A, "A", in_type, in_bytes, 3, a);
        set_attr(&io->C, "C", out_type, out_bytes, 3, c);
    } else {
        uint32_t a[2] = {M, K}, c[2] = {M, N};
        set_attr(&io->A, "A", in_type, in_bytes, 2, a);
        set_attr(&io->C, "C", out_type, out_bytes, 2, c);
    }
    if (i->B_layout == RKNN_MM_LAYOUT_NATIVE) {
        uint32_t bw = half ? 16 : 32;
        uint32_t b[4] = {N / bw, K / 32, bw, 32};
        set_attr(&io->B, "B", in_type, in_bytes, 4, b);
    } else if (i->B_layout == RKNN_MM_LAYOUT_TP_NORM) {
        uint32_t b[2] = {N, K};
        set_attr(&io->B, "B", in_type, in_bytes, 2, b);
    } else {
        uint32_t b[2] = {K, N};
        set_attr(&io->B, "B", in_type, in_bytes, 2, b);
    }
}

// The RK3588 rules from the 2.x header comments; RKNN_ERR_PARAM_INVALID otherwise.
static int check_info(const rknn_matmul_info *i) {
    if (i->type != RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32 && i->type != RKNN_INT8_MM_INT8_TO_INT32 &&
        i->type != RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16)
        return RKNN_ERR_PARAM_INVALID;
    if (i->M < 1 || i->K < 32 || i->N < 1 || i->K > EMU_MAX_K) return RKNN_ERR_PARAM_INVALID;
    if (i->K % 32 != 0) return RKNN_ERR_PARAM_INVALID;
    if (i->N % (is_half_input(i->type) ? 16 : 32) != 0) return RKNN_ERR_PARAM_INVALID;
    if (i->B_layout < 0 || i->B_layout > 2 || i->AC_layout < 0 || i->AC_layout > 1) return RKNN_ERR_PARAM_INVALID;
    if (i->AC_quant_type != 0 || i->B_quant_type != 0) return RKNN_ERR_PARAM_INVALID;
    return RKNN_SUCC;
}

// MARK: - The API

int rknn_matmul_create(rknn_matmul_ctx *handle, rknn_matmul_info *info, rknn_matmul_io_attr *io_attr) {
    if (handle == NULL || info == NULL || io_attr == NULL) return RKNN_ERR_PARAM_INVALID;
    int status = check_info(info);
    if (status != RKNN_SUCC) return status;
    emu_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return RKNN_ERR_MALLOC_FAIL;
    ctx->magic = EMU_MAGIC;
    ctx->info = *info;
    fill_io_attr(info, &ctx->attr);
    *io_attr = ctx->attr;
    *handle = (rknn_matmul_ctx)(uintptr_t)ctx;
    return RKNN_SUCC;
}

int rknn_matmul_set_io_mem(rknn_matmul_ctx handle, rknn_tensor_mem *mem, rknn_matmul_tensor_attr *attr) {
    emu_ctx *ctx = emu_context(handle);
    if (ctx == NULL) return RKNN_ERR_CTX_INVALID;
    if (mem == NULL || attr == NULL || mem->virt_addr == NULL) return RKNN_ERR_PARAM_INVALID;
    rknn_tensor_mem **slot;
    const rknn_matmul_tensor_attr *expected;
    if (strcmp(attr->name, "A") == 0) {
        slot = &ctx->a;
        expected = &ctx->attr.A;
    } else if (strcmp(attr->name, "B") == 0) {
        slot = &ctx->b;
        expected = &ctx->attr.B;
    } else if (strcmp(attr->name, "C") == 0) {
        slot = &ctx->c;
        expected = &ctx->attr.C;
    } else {
        return RKNN_ERR_PARAM_INVALID;
    }
    if (mem->size < expected->size + (uint32_t)mem->offset) return RKNN_ERR_PARAM_INVALID;
    *slot = mem;
    return RKNN_SUCC;
}

int rknn_matmul_set_core_mask(rknn_matmul_ctx handle, rknn_core_mask core_mask) {
    emu_ctx *ctx = emu_context(handle);
    if (ctx == NULL) return RKNN_ERR_CTX_INVALID;
    switch (core_mask) {
    case RKNN_NPU_CORE_AUTO:
    case RKNN_NPU_CORE_0:
    case RKNN_NPU_CORE_1:
    case RKNN_NPU_CORE_2:
    case RKNN_NPU_CORE_0_1:
    case RKNN_NPU_CORE_0_1_2:
    case RKNN_NPU_CORE_ALL: ctx->core_mask = core_mask; return RKNN_SUCC;
    default: return RKNN_ERR_PARAM_INVALID;
    }
}

int rknn_matmul_run(rknn_matmul_ctx handle) {
    emu_ctx *ctx = emu_context(handle);
    if (ctx == NULL) return RKNN_ERR_CTX_INVALID;
    if (ctx->a == NULL || ctx->b == NULL || ctx->c == NULL) return RKNN_ERR_PARAM_INVALID;
    const rknn_matmul_info *i = &ctx->info;
    size_t M = (size_t)i->M, K = (size_t)i->K, N = (size_t)i->N;
    const char *a = (const char *)ctx->a->virt_addr + ctx->a->offset;
    const char *b = (const char *)ctx->b->virt_addr + ctx->b->offset;
    char *c = (char *)ctx->c->virt_addr + ctx->c->offset;

    if (is_half_input(i->type)) {
        // Widen A (row-major) and B (column-major) once, so the inner loop is a plain fp32 dot product.
        float *wa = malloc(M * K * sizeof(float));
        float *wb = malloc(N * K * sizeof(float));
        if (wa == NULL || wb == NULL) {
            free(wa);
            free(wb);
            return RKNN_ERR_MALLOC_FAIL;
        }
        const uint16_t *ha = (const uint16_t *)a, *hb = (const uint16_t *)b;
        for (size_t m = 0; m < M; m++)
            for (size_t k = 0; k < K; k++) wa[m * K + k] = half_to_float(ha[a_index(i, m, k)]);
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++) wb[n * K + k] = half_to_float(hb[b_index(i, k, n)]);
        for (size_t m = 0; m < M; m++) {
            for (size_t n = 0; n < N; n++) {
                float sum = dot_f32(wa + m * K, wb + n * K, K);
                if (i->type == RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16)
                    ((uint16_t *)c)[c_index(i, m, n)] = float_to_half(sum);
                else
                    ((float *)c)[c_index(i, m, n)] = sum;
            }
        }
        free(wa);
        free(wb);
    } else {
        // Gather A (row-major) and B (column-major) once; integer sums are exact in any order.
        int16_t *wa = malloc(M * K * sizeof(int16_t));
        int16_t *wb = malloc(N * K * sizeof(int16_t));
        if (wa == NULL || wb == NULL) {
            free(wa);
            free(wb);
            return RKNN_ERR_MALLOC_FAIL;
        }
        const int8_t *qa = (const int8_t *)a, *qb = (const int8_t *)b;
        for (size_t m = 0; m < M; m++)
            for (size_t k = 0; k < K; k++) wa[m * K + k] = qa[a_index(i, m, k)];
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++) wb[n * K + k] = qb[b_index(i, k, n)];
        for (size_t m = 0; m < M; m++) {
            for (size_t n = 0; n < N; n++) {
                const int16_t *x = wa + m * K, *y = wb + n * K;
                int32_t sum = 0;
                for (size_t k = 0; k < K; k++) sum += (int32_t)x[k] * (int32_t)y[k];
                ((int32_t *)c)[c_index(i, m, n)] = sum;
            }
        }
        free(wa);
        free(wb);
    }
    return RKNN_SUCC;
}

int rknn_matmul_destroy(rknn_matmul_ctx handle) {
    emu_ctx *ctx = emu_context(handle);
    if (ctx == NULL) return RKNN_ERR_CTX_INVALID;
    ctx->magic = 0;
    free(ctx);
    return RKNN_SUCC;
}

rknn_tensor_mem *rknn_create_mem(rknn_context handle, uint32_t size) {
    (void)handle;  // memory is not tied to a context here
    rknn_tensor_mem *mem = calloc(1, sizeof *mem);
    if (mem == NULL) return NULL;
    mem->virt_addr = calloc(size > 0 ? size : 1, 1);
    if (mem->virt_addr == NULL) {
        free(mem);
        return NULL;
    }
    mem->phys_addr = (uint64_t)(uintptr_t)mem->virt_addr;
    mem->fd = -1;
    mem->size = size;
    return mem;
}

int rknn_destroy_mem(rknn_context handle, rknn_tensor_mem *mem) {
    (void)handle;
    if (mem == NULL) return RKNN_ERR_PARAM_INVALID;
    free(mem->virt_addr);
    free(mem);
    return RKNN_SUCC;
}

int rknn_query(rknn_context handle, int cmd, void *info, uint32_t size) {
    (void)handle;
    if (cmd != RKNN_QUERY_SDK_VERSION || info == NULL || size < sizeof(rknn_sdk_version)) return RKNN_ERR_PARAM_INVALID;
    rknn_sdk_version *version = info;
    snprintf(version->api_version, sizeof version->api_version, "2.3.2 (hark EMULATOR, not hardware)");
    snprintf(version->drv_version, sizeof version->drv_version, "none (emulated on the CPU)");
    return RKNN_SUCC;
}

int rknn_B_normal_layout_to_native_layout(void *B_input, void *B_output, int K, int N, rknn_matmul_info *info) {
    if (B_input == NULL || B_output == NULL || info == NULL) return RKNN_ERR_PARAM_INVALID;
    rknn_matmul_info native = *info;
    native.K = K;
    native.N = N;
    native.B_layout = RKNN_MM_LAYOUT_NATIVE;
    if (check_info(&native) != RKNN_SUCC) return RKNN_ERR_PARAM_INVALID;
    size_t bytes = is_half_input(info->type) ? 2 : 1;
    for (size_t k = 0; k < (size_t)K; k++)
        for (size_t n = 0; n < (size_t)N; n++)
            memcpy((char *)B_output + b_index(&native, k, n) * bytes, (char *)B_input + (k * (size_t)N + n) * bytes,
                   bytes);
    return RKNN_SUCC;
}
