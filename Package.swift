// swift-tools-version: 6.1
// Hark: a speech appliance. Layers (bottom to top) are described in DESIGN.md and README.md.
import PackageDescription

/// On x86-64, build the numeric kernels for Haswell-class CPUs (AVX2, FMA, F16C: every x86 PC since 2013) so
/// loops vectorise 8 floats wide; HARK_PORTABLE=1 builds for the baseline instead.
#if arch(x86_64)
    let cpuFlags = Context.environment["HARK_PORTABLE"] == nil ? ["-target-cpu", "haswell"] : []
#else
    let cpuFlags: [String] = []
#endif

/// Release builds of numeric code matter most; these flags only affect optimisation, never semantics.
let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"] + cpuFlags, .when(configuration: .release))]

let package = Package(
    name: "Hark",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "speak", targets: ["speak"]),
        .executable(name: "transcribe", targets: ["transcribe"]),
        .executable(name: "harkd", targets: ["harkd"]),
        .executable(name: "hark-models", targets: ["hark-models"]),
        .executable(name: "hark-bench", targets: ["hark-bench"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "Compute", targets: ["Compute"]),
        .library(name: "ModelStore", targets: ["ModelStore"]),
        /// An EMULATOR of Rockchip's librknnrt matmul API (same C symbols, documented arithmetic and layouts),
        /// so the `rknpu` backend's real code path runs in CI: `HARK_RKNN_LIB=<bin>/librknnrt_emu.so`.
        .library(name: "rknnrt_emu", type: .dynamic, targets: ["RKNNEmulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // MARK: System libraries: a module map and one header each, found through pkg-config.
        /** ALSA: capture and playback. */
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        /** libsndfile: reading and writing sound files. */
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        /** espeak-ng: text to phonemes for Piper voices. */
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),
        /** OpenBLAS: sgemm for the CPU backend's heavy products. */
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        /** zlib: Whisper's compression-ratio check. */
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        /** libsoxr: high-quality resampling. */
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),

        // MARK: Libraries
        /** CPU feature probes and hand-vectorised C kernels (AVX-512 bodies chosen at run time, which a Swift module
            built for Haswell cannot hold), and the choice of OpenBLAS's kernels for the CPU. */
        .target(name: "CKernels"),
        /** Tensor value type and the model-file readers (ONNX, CTranslate2, GGUF). */
        .target(name: "Tensors"),
        /** The backend layer: ops, `Backend`, weight preparation, dispatch with CPU fallback, the CPU backend. */
        .target(
            name: "Compute",
            dependencies: ["Tensors", "COpenBLAS", "CKernels", .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimise),
        /** Model catalogs (voices/, Resources/models/) and the data directory models are fetched into. */
        .target(
            name: "ModelStore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]),

        /** Serial executors on threads of their own, for actors that block or compute for long. */
        .target(name: "ThreadExecutors"),
        /** Sound files (libsndfile), resampling (libsoxr), ALSA capture and playback. */
        .target(
            name: "AudioIO",
            dependencies: [
                "CSndFile", "CSoxr", "CALSA", "ThreadExecutors", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: optimise),
        /** Text to IPA phonemes through espeak-ng (one owning actor), and Piper's phoneme ids. */
        .target(
            name: "Phonemizer", dependencies: ["CEspeakNG", .product(name: "Logging", package: "swift-log")]),
        /** Small codecs at the C edge (zlib) that model-side code measures with. */
        .target(name: "Codecs", dependencies: ["CZlib"]),
        /** Voice-activity detection: Silero VAD over Compute and faster-whisper's speech chunking. */
        .target(name: "VoiceActivity", dependencies: ["Tensors", "Compute"], swiftSettings: optimise),
        /** Whisper speech to text over Compute: log-mel, encoder, decoder with KV cache, decoding rules. */
        .target(
            name: "WhisperSTT",
            dependencies: [
                "Tensors", "Compute", "Codecs", "VoiceActivity", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: optimise),

        /** Piper VITS voices over Compute: the encoder stage (CPU) and the HiFi-GAN decoder stage (any backend). */
        .target(
            name: "PiperTTS",
            dependencies: [
                "Tensors", "Compute", "Phonemizer", "ThreadExecutors", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: optimise),

        /** The in-process GGUF transformer runtime: tokenizer, chat format, Llama-family model, sampling. */
        .target(
            name: "LanguageModel",
            dependencies: ["Tensors", "Compute", "ThreadExecutors", .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimise),
        /** The assistant: capture → VAD → STT → intent → TTS → playback actors, events, barge-in, LLM clients. */
        .target(
            name: "SpeechPipeline",
            dependencies: [
                "AudioIO", "Phonemizer", "PiperTTS", "WhisperSTT", "VoiceActivity", "LanguageModel", "ModelStore",
                "Compute", "Tensors", "ThreadExecutors", .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Resources")]),
        /** The network faces: a Wyoming server (Home Assistant) and an OpenAI-compatible HTTP API, on shared models. */
        .target(
            name: "SpeechServers",
            dependencies: [
                "AudioIO", "Phonemizer", "PiperTTS", "WhisperSTT", "VoiceActivity", "LanguageModel", "ModelStore",
                "Compute", "Tensors", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        /** Test support, never the product's hardware path: a CPU emulation of librknnrt's matmul API. */
        .target(name: "RKNNEmulator", linkerSettings: [.linkedLibrary("m")]),

        // MARK: Executables
        /** Text to speech with Piper voices, Piper's command-line habits: files, raw stream or ALSA playback. */
        .executableTarget(
            name: "speak",
            dependencies: [
                "PiperTTS", "Phonemizer", "AudioIO", "ModelStore", "Compute",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "transcribe",
            dependencies: [
                "WhisperSTT", "VoiceActivity", "LanguageModel", "AudioIO", "ModelStore", "Compute",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        /** The voice-assistant daemon. */
        .executableTarget(
            name: "harkd",
            dependencies: [
                "SpeechPipeline", "SpeechServers", "LanguageModel", "AudioIO", "ModelStore", "Compute",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        /** Lists, locates, verifies and inspects the models in the catalogs. */
        .executableTarget(
            name: "hark-models",
            dependencies: [
                "ModelStore", "Tensors", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        /** Micro-benchmarks of the backend layer against OpenBLAS's own sgemm. */
        .executableTarget(
            name: "hark-bench",
            dependencies: [
                "Compute", "Tensors", "COpenBLAS", "LanguageModel", "ModelStore", "PiperTTS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimise),

        // MARK: Tests (fast unit tests; model tests read the real default models from $HARK_DATA)
        /** What the test targets share: child processes run with a time limit. */
        .target(name: "HarkTestSupport", dependencies: ["HarkTestExit"], path: "Tests/HarkTestSupport"),
        /** The test process's exit without library destructors (OpenBLAS's can deadlock). */
        .target(name: "HarkTestExit", path: "Tests/HarkTestExit"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "ComputeTests", dependencies: ["Compute", "Tensors", "ModelStore"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["ModelStore"]),
        .testTarget(name: "ModelFileTests", dependencies: ["Tensors", "ModelStore"]),
        .testTarget(name: "AudioIOTests", dependencies: ["AudioIO"]),
        .testTarget(name: "PhonemizerTests", dependencies: ["Phonemizer"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "PiperTTSTests",
            dependencies: ["HarkTestSupport", "PiperTTS", "Phonemizer", "Tensors", "Compute", "ModelStore"]),
        .testTarget(
            name: "VoiceActivityTests", dependencies: ["VoiceActivity", "Compute", "ModelStore", "AudioIO"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "WhisperSTTTests", dependencies: ["WhisperSTT", "Tensors", "Compute", "ModelStore", "AudioIO"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "LanguageModelTests", dependencies: ["LanguageModel", "Tensors", "Compute", "ModelStore"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "SpeechPipelineTests",
            dependencies: ["HarkTestSupport", "SpeechPipeline", "LanguageModel", "AudioIO", "ModelStore", "Compute"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "SpeechServersTests",
            dependencies: ["HarkTestSupport", "SpeechServers", "LanguageModel", "AudioIO", "ModelStore", "Compute"],
            resources: [.copy("Fixtures")]),
        /** End-to-end: runs the built executables. */
        .testTarget(
            name: "CLITests",
            dependencies: ["HarkTestSupport", "hark-models", "hark-bench", "speak", "transcribe", "harkd"]),
        .testTarget(
            name: "SystemLibrariesTests", dependencies: ["CALSA", "CSndFile", "CEspeakNG", "COpenBLAS", "CSoxr"]),
    ],
    swiftLanguageModes: [.v6]
)
