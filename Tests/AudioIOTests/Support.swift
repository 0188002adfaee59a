// Helpers shared by the AudioIO tests: temporary folders, test signals, the shared speech recordings.

import Foundation

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appending(path: "hark-audio-tests-\(UUID().uuidString)", directoryHint: .isDirectory).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the folder.
    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// The names of the files in the folder.
    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Test signals.
enum Signal {
    /// `frames` samples of a sine of `frequency` Hz at `sampleRate`, peak `amplitude`.
    static func sine(frequency: Double, sampleRate: Int, frames: Int, amplitude: Double = 0.5) -> [Float] {
        (0..<frames).map { Float(amplitude * sin(2 * .pi * frequency * Double($0) / Double(sampleRate))) }
    }

    /// Samples that are exactly representable in 16 bits (`k / 32768`), from a fixed pseudo-random sequence that
    /// also contains both extremes.
    static func sixteenBit(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [Float] {
        var state = seed
        var samples = (0..<count).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int16(truncatingIfNeeded: state >> 48)) / 32768
        }
        if count >= 2 {
            samples[0] = -1
            samples[1] = 32767 / 32768
        }
        return samples
    }

    /// Signed 16-bit little-endian bytes of `samples` (as `k / 32768`).
    static func littleEndianBytes(_ samples: [Float]) -> [UInt8] {
        samples.flatMap { sample -> [UInt8] in
            let value = UInt16(bitPattern: Int16(max(-32768, min(32767, (sample * 32768).rounded()))))
            return [UInt8(value & 0xFF), UInt8(value >> 8)]
        }
    }

    /// The largest absolute difference between two equally long arrays.
    static func maximumDifference(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}

/// The real recordings in `<repo root>/../shared/testdata/speech` (16 kHz mono 16-bit WAV).
enum SpeechRecordings {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // AudioIOTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repo root
        .deletingLastPathComponent()  // beside the repo
        .appending(path: "shared/testdata/speech").path

    static func path(_ name: String) -> String { "\(directory)/\(name)" }
}
