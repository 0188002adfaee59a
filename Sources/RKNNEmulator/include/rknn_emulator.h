// EMULATOR of Rockchip librknnrt's matmul API, for tests only: it never touches an NPU.
//
// The declarations below are Hark's own, written from the facts in research/backends.md (SDK 2.x struct
// layouts, RK3588 alignment rules and native layouts); no vendor header was copied. The library built from
// them (librknnrt_emu.so) exports the same C symbols as librknnrt.so, so the `rknpu` backend loads it with
// dlopen (HARK_RKNN_LIB) and runs its real code path on a CPU: inputs are read as IEEE binary16 and summed
// in fp32, int8 products are summed exactly in int32.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opaque context handle (a uint64 in the SDK; here the address of the emulator's context).
typedef uint64_t rknn_context;
typedef rknn_context rknn_matmul_ctx;

/// Return codes: 0 is success, errors are negative (the SDK's values).
enum {
    RKNN_SUCC = 0,
    RKNN_ERR_FAIL = -1,
    RKNN_ERR_MALLOC_FAIL = -4,
    RKNN_ERR_PARAM_INVALID = -5,
    RKNN_ERR_CTX_INVALID = -7,
};

/// Element types of matmul tensors (the SDK's rknn_tensor_type values).
typedef enum {
    RKNN_TENSOR_FLOAT32 = 0,
    RKNN_TENSOR_FLOAT16 = 1,
    RKNN_TENSOR_INT8 = 2,
    RKNN_TENSOR_INT32 = 6,
} rknn_tensor_type;

/// Input and output types of a matmul. The emulator runs 1, 2 and 4; others (int8 output needs quantization
/// parameters, int4 packs two values a byte) are refused with RKNN_ERR_PARAM_INVALID.
typedef enum {
    RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT32 = 1,
    RKNN_INT8_MM_INT8_TO_INT32 = 2,
    RKNN_INT8_MM_INT8_TO_INT8 = 3,
    RKNN_FLOAT16_MM_FLOAT16_TO_FLOAT16 = 4,
} rknn_matmul_type;

/// Layouts of B (and of A and C through AC_layout).
enum { RKNN_MM_LAYOUT_NORM = 0, RKNN_MM_LAYOUT_NATIVE = 1, RKNN_MM_LAYOUT_TP_NORM = 2 };

/// Which NPU cores a context may use (RK3588 has three).
typedef enum {
    RKNN_NPU_CORE_AUTO = 0,
    RKNN_NPU_CORE_0 = 1,
    RKNN_NPU_CORE_1 = 2,
    RKNN_NPU_CORE_2 = 4,
    RKNN_NPU_CORE_0_1 = 3,
    RKNN_NPU_CORE_0_1_2 = 7,
    RKNN_NPU_CORE_ALL = 0xffff,
} rknn_core_mask;

#define RKNN_MAX_NAME_LEN 256
#define RKNN_MAX_DIMS 16
#define RKNN_QUERY_SDK_VERSION 5

/// What a matmul computes (SDK 2.x layout, 64 bytes). Callers zero it before filling it in.
typedef struct {
    int32_t M, K, N;
    rknn_matmul_type type;
    int16_t B_layout;
    int16_t B_quant_type;
    int16_t AC_layout;
    int16_t AC_quant_type;
    int32_t iommu_domain_id;
    int16_t group_size;
    int8_t reserved[34];
} rknn_matmul_info;

/// One of A, B, C as the runtime wants it: dims in its layout and the buffer size in bytes.
typedef struct {
    char name[RKNN_MAX_NAME_LEN];
    uint32_t n_dims;
    uint32_t dims[RKNN_MAX_DIMS];
    uint32_t size;
    rknn_tensor_type type;
} rknn_matmul_tensor_attr;

typedef struct {
    rknn_matmul_tensor_attr A, B, C;
} rknn_matmul_io_attr;

/// A buffer the NPU can read and write (here: plain host memory).
typedef struct {
    void *virt_addr;
    uint64_t phys_addr;
    int32_t fd;
    int32_t offset;
    uint32_t size;
    uint32_t flags;
    void *priv_data;
} rknn_tensor_mem;

typedef struct {
    char api_version[256];
    char drv_version[256];
} rknn_sdk_version;

/// EMULATOR: checks the shape against RK3588's rules and fills io_attr with the layouts it expects.
int rknn_matmul_create(rknn_matmul_ctx *ctx, rknn_matmul_info *info, rknn_matmul_io_attr *io_attr);
/// EMULATOR: binds a buffer to A, B or C (chosen by attr->name).
int rknn_matmul_set_io_mem(rknn_matmul_ctx ctx, rknn_tensor_mem *mem, rknn_matmul_tensor_attr *attr);
/// EMULATOR: records the mask; every "core" is the calling CPU thread.
int rknn_matmul_set_core_mask(rknn_matmul_ctx ctx, rknn_core_mask core_mask);
/// EMULATOR: C = A · B on the CPU with the NPU's documented arithmetic. Blocking, like the real call.
int rknn_matmul_run(rknn_matmul_ctx ctx);
int rknn_matmul_destroy(rknn_matmul_ctx ctx);
/// EMULATOR: zeroed host memory.
rknn_tensor_mem *rknn_create_mem(rknn_context ctx, uint32_t size);
int rknn_destroy_mem(rknn_context ctx, rknn_tensor_mem *mem);
/// EMULATOR: RKNN_QUERY_SDK_VERSION only; the versions name the emulator.
int rknn_query(rknn_context ctx, int cmd, void *info, uint32_t size);
/// EMULATOR: row-major (K, N) B to its native layout, for the types the emulator runs.
int rknn_B_normal_layout_to_native_layout(void *B_input, void *B_output, int K, int N, rknn_matmul_info *info);

#ifdef __cplusplus
}
#endif
