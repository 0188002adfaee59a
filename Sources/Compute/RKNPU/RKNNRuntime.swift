// Rockchip's librknnrt matmul API (SDK 2.x), loaded at run time so Hark builds and runs without it.
//
// No C module: the few functions are resolved with dlsym into `@convention(c)` pointers, and the structs
// are raw bytes at the SDK 2.x offsets below (research/backends.md §1; the 1.x layout differs, which is why
// the SDK version is logged at start).
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Why the NPU backend could not start or run.
public struct RKNPUError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// librknnrt.so (or `HARK_RKNN_LIB`) could not be loaded.
        case libraryMissing
        /// The library lacks a function of the matmul API (an SDK older than 2.x, or another library).
        case symbolMissing
        /// The runtime refused a matmul context or a buffer.
        case runtimeFailure
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// SDK constants and struct offsets (SDK 2.x, checked against several public copies of the header).
enum RKNN {
    static let success: Int32 = 0
    /// rknn_matmul_type
    static let float16ToFloat32: Int32 = 1
    static let int8ToInt32: Int32 = 2
    static let layoutNative: Int16 = 1
    static let querySDKVersion: Int32 = 5
    static func typeName(_ type: Int32) -> String {
        switch type {
        case float16ToFloat32: "fp16 x fp16 -> fp32"
        case int8ToInt32: "int8 x int8 -> int32"
        default: "type \(type)"
        }
    }
    /// rknn_core_mask for core i (RK3588 has three).
    static func coreMask(_ core: Int) -> Int32 { Int32(1) << Int32(core) }

    /// rknn_matmul_info: M, K, N (int32), type (enum), B_layout, B_quant_type, AC_layout, AC_quant_type
    /// (int16), iommu_domain_id (int32), group_size (int16), reserved[34].
    enum Info {
        static let size = 64
        static let m = 0, k = 4, n = 8, type = 12, bLayout = 16, acLayout = 20
    }

    /// rknn_matmul_tensor_attr: name[256], n_dims, dims[16], size (uint32), type (enum).
    enum TensorAttr {
        static let size = 332
        static let nDims = 256, dims = 260, byteSize = 324
    }

    /// rknn_matmul_io_attr: A, B, C tensor attrs back to back.
    enum IOAttr {
        static let size = 3 * TensorAttr.size
        static let a = 0, b = TensorAttr.size, c = 2 * TensorAttr.size
    }

    /// rknn_tensor_mem: virt_addr, phys_addr, fd, offset, size, flags, priv_data.
    enum Mem {
        static let virtAddr = 0, size = 24
    }
}

/// The loaded library: every function the backend calls, resolved once at start.
///
/// The library is never closed: contexts and buffers made through it live as long as the process.
final class RKNNRuntime: Sendable {
    typealias Create =
        @convention(c) (
            UnsafeMutablePointer<UInt64>, UnsafeMutableRawPointer, UnsafeMutableRawPointer
        ) -> Int32
    typealias SetIOMem = @convention(c) (UInt64, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    typealias SetCoreMask = @convention(c) (UInt64, Int32) -> Int32
    typealias Run = @convention(c) (UInt64) -> Int32
    typealias Destroy = @convention(c) (UInt64) -> Int32
    typealias CreateMem = @convention(c) (UInt64, UInt32) -> UnsafeMutableRawPointer?
    typealias DestroyMem = @convention(c) (UInt64, UnsafeMutableRawPointer) -> Int32
    typealias Query = @convention(c) (UInt64, Int32, UnsafeMutableRawPointer, UInt32) -> Int32
    typealias NormalToNative =
        @convention(c) (
            UnsafeMutableRawPointer, UnsafeMutableRawPointer, Int32, Int32, UnsafeMutableRawPointer
        ) -> Int32

    let path: String
    let create: Create
    let setIOMem: SetIOMem
    let setCoreMask: SetCoreMask
    let run: Run
    let destroy: Destroy
    let createMem: CreateMem
    let destroyMem: DestroyMem
    /// Optional in the API's sense: used only to log the version.
    let query: Query?
    /// Optional: tests compare Hark's own B converter with the runtime's.
    let normalToNative: NormalToNative?

    /// The library `HARK_RKNN_LIB` names, else the system's librknnrt.so.
    static var defaultPath: String { ProcessInfo.processInfo.environment["HARK_RKNN_LIB"] ?? "librknnrt.so" }

    init(path: String) throws(RKNPUError) {
        self.path = path
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw RKNPUError(
                .libraryMissing,
                "the RK3588 NPU runtime could not be loaded from '\(path)' (\(reason)); install Rockchip's "
                    + "librknnrt.so (SDK 2.x) or point HARK_RKNN_LIB at it")
        }
        func symbol<F>(_ name: String, as: F.Type) throws(RKNPUError) -> F {
            guard let p = dlsym(handle, name) else {
                throw RKNPUError(
                    .symbolMissing, "'\(path)' has no \(name): it is not librknnrt with the 2.x matmul API")
            }
            return unsafeBitCast(p, to: F.self)
        }
        create = try symbol("rknn_matmul_create", as: Create.self)
        setIOMem = try symbol("rknn_matmul_set_io_mem", as: SetIOMem.self)
        setCoreMask = try symbol("rknn_matmul_set_core_mask", as: SetCoreMask.self)
        run = try symbol("rknn_matmul_run", as: Run.self)
        destroy = try symbol("rknn_matmul_destroy", as: Destroy.self)
        createMem = try symbol("rknn_create_mem", as: CreateMem.self)
        destroyMem = try symbol("rknn_destroy_mem", as: DestroyMem.self)
        query = dlsym(handle, "rknn_query").map { unsafeBitCast($0, to: Query.self) }
        normalToNative = dlsym(handle, "rknn_B_normal_layout_to_native_layout").map {
            unsafeBitCast($0, to: NormalToNative.self)
        }
    }

    /// The SDK and driver versions, if the runtime answers the query on `context`.
    func version(context: UInt64) -> String? {
        guard let query else { return nil }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        guard query(context, RKNN.querySDKVersion, buffer, 512) == RKNN.success else { return nil }
        let api = String(cString: buffer.assumingMemoryBound(to: CChar.self))
        let driver = String(cString: (buffer + 256).assumingMemoryBound(to: CChar.self))
        return "api \(api), driver \(driver)"
    }
}

/// A zeroed rknn_matmul_info for an M×K×N product with native layouts.
struct MatmulInfo: ~Copyable {
    let bytes: UnsafeMutableRawPointer

    init(m: Int, k: Int, n: Int, type: Int32) {
        bytes = UnsafeMutableRawPointer.allocate(byteCount: RKNN.Info.size, alignment: 8)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: RKNN.Info.size)  // the SDK asks for zeroes
        bytes.storeBytes(of: Int32(m), toByteOffset: RKNN.Info.m, as: Int32.self)
        bytes.storeBytes(of: Int32(k), toByteOffset: RKNN.Info.k, as: Int32.self)
        bytes.storeBytes(of: Int32(n), toByteOffset: RKNN.Info.n, as: Int32.self)
        bytes.storeBytes(of: type, toByteOffset: RKNN.Info.type, as: Int32.self)
        bytes.storeBytes(of: RKNN.layoutNative, toByteOffset: RKNN.Info.bLayout, as: Int16.self)
        bytes.storeBytes(of: RKNN.layoutNative, toByteOffset: RKNN.Info.acLayout, as: Int16.self)
    }

    deinit { bytes.deallocate() }
}

/// One matmul context pinned to one core, with its own A and C buffers (B is bound per call).
struct MatmulKernel: @unchecked Sendable {
    // @unchecked: the pointers are used only under the lock of the core that owns the kernel.
    let context: UInt64
    /// rknn_matmul_io_attr as the runtime filled it.
    let ioAttr: UnsafeMutableRawPointer
    let a: UnsafeMutableRawPointer
    let c: UnsafeMutableRawPointer
    let m: Int
    let k: Int
    let n: Int

    /// Creates an M×K×N context of `type` (fp16 × fp16 → fp32 or int8 × int8 → int32) on `core` and checks
    /// the layouts it reports against the ones Hark's converters write: A (K/8, M, 8) fp16 or (K/16, M, 16)
    /// int8, B (N/16, K/32, 16, 32) fp16 or (N/32, K/32, 32, 32) int8, C (N/4, M, 4).
    init(runtime r: RKNNRuntime, m: Int, k: Int, n: Int, type: Int32, core: Int) throws(RKNPUError) {
        let info = MatmulInfo(m: m, k: k, n: n, type: type)
        let attr = UnsafeMutableRawPointer.allocate(byteCount: RKNN.IOAttr.size, alignment: 8)
        attr.initializeMemory(as: UInt8.self, repeating: 0, count: RKNN.IOAttr.size)
        var context: UInt64 = 0
        let status = r.create(&context, info.bytes, attr)
        guard status == RKNN.success else {
            attr.deallocate()
            throw RKNPUError(
                .runtimeFailure,
                "rknn_matmul_create(M=\(m), K=\(k), N=\(n), \(RKNN.typeName(type))) returned \(status)")
        }
        func fail(_ message: String) -> RKNPUError {
            _ = r.destroy(context)
            attr.deallocate()
            return RKNPUError(.runtimeFailure, message)
        }
        let (aw, bw) = type == RKNN.int8ToInt32 ? (16, 32) : (8, 16)
        let expected = [
            (RKNN.IOAttr.a, [k / aw, m, aw]), (RKNN.IOAttr.b, [n / bw, k / 32, bw, 32]),
            (RKNN.IOAttr.c, [n / 4, m, 4]),
        ]
        for (offset, dims) in expected where Self.dims(attr + offset) != dims {
            throw fail(
                "the runtime reports native dims \(Self.dims(attr + offset)) where RK3588's are \(dims) "
                    + "(M=\(m), K=\(k), N=\(n)): a different chip or SDK")
        }
        guard r.setCoreMask(context, RKNN.coreMask(core)) == RKNN.success else {
            throw fail("rknn_matmul_set_core_mask(core \(core)) failed")
        }
        guard let a = r.createMem(context, Self.byteSize(attr + RKNN.IOAttr.a)) else {
            throw fail("rknn_create_mem for A (M=\(m), K=\(k)) failed")
        }
        guard let c = r.createMem(context, Self.byteSize(attr + RKNN.IOAttr.c)) else {
            _ = r.destroyMem(context, a)
            throw fail("rknn_create_mem for C (M=\(m), N=\(n)) failed")
        }
        self.context = context
        self.ioAttr = attr
        self.a = a
        self.c = c
        self.m = m
        self.k = k
        self.n = n
    }

    /// Host address of a rknn_tensor_mem's bytes.
    static func address(_ mem: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        mem.load(fromByteOffset: RKNN.Mem.virtAddr, as: UnsafeMutableRawPointer.self)
    }

    static func dims(_ tensorAttr: UnsafeMutableRawPointer) -> [Int] {
        let count = Int(tensorAttr.load(fromByteOffset: RKNN.TensorAttr.nDims, as: UInt32.self))
        return (0..<min(count, 16)).map {
            Int(tensorAttr.load(fromByteOffset: RKNN.TensorAttr.dims + 4 * $0, as: UInt32.self))
        }
    }

    static func byteSize(_ tensorAttr: UnsafeMutableRawPointer) -> UInt32 {
        tensorAttr.load(fromByteOffset: RKNN.TensorAttr.byteSize, as: UInt32.self)
    }

    /// Binds A, `b` and C and runs (blocking until the core is done).
    func run(_ r: RKNNRuntime, b: UnsafeMutableRawPointer) throws(RKNPUError) {
        for (mem, offset) in [(a, RKNN.IOAttr.a), (b, RKNN.IOAttr.b), (c, RKNN.IOAttr.c)] {
            let status = r.setIOMem(context, mem, ioAttr + offset)
            guard status == RKNN.success else {
                throw RKNPUError(.runtimeFailure, "rknn_matmul_set_io_mem returned \(status)")
            }
        }
        let status = r.run(context)
        guard status == RKNN.success else { throw RKNPUError(.runtimeFailure, "rknn_matmul_run returned \(status)") }
    }

    func destroy(_ r: RKNNRuntime) {
        _ = r.destroyMem(context, a)
        _ = r.destroyMem(context, c)
        _ = r.destroy(context)
        ioAttr.deallocate()
    }
}
