import Compute
import Foundation
import HarkTestSupport
import ModelStore
import PiperTTS
import Tensors

/// The default voice, the reference runtime and the phoneme-id sequences the Piper tests share.
enum PiperTestSupport {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The default voice's `.onnx`, from the model store.
    static func voicePath() throws -> String {
        try ModelStore().installedModel(named: "en_US-joe-medium").location.path
    }

    /// The default voice, loaded once (CPU engine).
    static let voice: Result<PiperVoice, any Error> = Result { try PiperVoice(modelPath: try voicePath()) }

    /// The venv's Python (`HARK_REFERENCE_PYTHON`, else `<repo>/.venv/bin/python`); a missing one is a failure
    /// that says how to make it.
    static func referencePython() throws -> URL {
        let path =
            ProcessInfo.processInfo.environment["HARK_REFERENCE_PYTHON"]
            ?? repositoryRoot.appending(path: ".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure("no reference Python at \(path): run scripts/reference-env to make the venv with onnxruntime")
        }
        return URL(fileURLWithPath: path)
    }

    /// A reference waveform from onnxruntime.
    struct Reference {
        let ids: [Int]
        let samples: [Float]
    }

    /// Runs scripts/reference/piper_reference.py on `sequences` (scales [0, lengthScale, 0]).
    static func reference(_ sequences: [[Int]], model: String, lengthScale: Float = 1) throws -> [Reference] {
        let directory = FileManager.default.temporaryDirectory.appending(path: "hark-piper-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appending(path: "ids.json")
        try JSONEncoder().encode(sequences).write(to: input)

        let result = try ChildProcess.run(
            try referencePython(),
            [
                repositoryRoot.appending(path: "scripts/reference/piper_reference.py").path, "--model", model,
                "--sequences", input.path, "--out", directory.path, "--length-scale", "\(lengthScale)",
            ])
        guard result.status == 0 else { throw Failure("piper_reference.py failed: \(result.error)") }

        struct Index: Decodable {
            struct Entry: Decodable {
                let ids: [Int]
                let samples: Int
                let file: String
            }
            let sequences: [Entry]
        }
        let index = try JSONDecoder().decode(
            Index.self, from: Data(contentsOf: directory.appending(path: "index.json")))
        return try index.sequences.map { entry in
            let data = try Data(contentsOf: directory.appending(path: entry.file))
            let samples = data.withUnsafeBytes { raw in
                (0..<(data.count / 4)).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            }
            guard samples.count == entry.samples else { throw Failure("\(entry.file): wrong size") }
            return Reference(ids: entry.ids, samples: samples)
        }
    }

    /// A deterministic phoneme-id sentence of `phonemes` symbols from the voice's map, interleaved as Piper does
    /// (`^ _ (p _)* $`): mostly real phonemes, with word spaces and now and then punctuation.
    static func sequence(phonemes count: Int, config: PiperVoiceConfig, seed: UInt64) -> [Int] {
        let reserved: Set<String> = ["_", "^", "$", " "]
        let punctuationMarks: Set<String> = ["!", "'", "(", ")", ",", "-", ".", ":", ";", "?"]
        let keys = config.phonemeIDMap.keys.sorted()
        let phonemes = keys.filter { !reserved.contains($0) && !punctuationMarks.contains($0) }
            .compactMap { config.phonemeIDMap[$0]?.first }
        let punctuation = [",", ".", "?", "!"].compactMap { config.phonemeIDMap[$0]?.first }
        let space = config.phonemeIDMap[" "]?.first ?? 3
        let pad = config.phonemeIDMap["_"]?.first ?? 0
        var random = SeededRandom(seed: seed)
        var symbols: [Int] = []
        for i in 0..<count {
            let roll = random.int(0...99)
            let previousIsPhoneme = symbols.last.map { $0 != space && !punctuation.contains($0) } ?? false
            if i == count - 1 && count > 2 {
                symbols.append(punctuation[random.int(0...(punctuation.count - 1))])
            } else if roll < 16 && previousIsPhoneme {
                symbols.append(space)
            } else if roll < 20 && previousIsPhoneme {
                symbols.append(punctuation[random.int(0...(punctuation.count - 1))])
            } else {
                symbols.append(phonemes[random.int(0...(phonemes.count - 1))])
            }
        }
        var ids = [config.phonemeIDMap["^"]?.first ?? 1, pad]
        for symbol in symbols { ids += [symbol, pad] }
        ids.append(config.phonemeIDMap["$"]?.first ?? 2)
        return ids
    }

    /// Largest absolute difference and the signal-to-error ratio in dB.
    static func compare(_ actual: [Float], _ expected: [Float]) -> (maxError: Float, snr: Double) {
        var worst: Float = 0
        var signal: Double = 0
        var noise: Double = 0
        for (a, e) in zip(actual, expected) {
            worst = max(worst, abs(a - e))
            signal += Double(e) * Double(e)
            noise += Double(a - e) * Double(a - e)
        }
        return (worst, noise == 0 ? .infinity : 10 * log10(signal / noise))
    }

    /// A tiny well-formed ONNX model that is not a Piper voice: z = x · y.
    static func multiplyModel() -> Data {
        func varint(_ value: Int) -> [UInt8] {
            var v = UInt64(value)
            var out: [UInt8] = []
            repeat {
                out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
                v >>= 7
            } while v != 0
            return out
        }
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(bytes.count) + bytes }
        func field(_ number: Int, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }
        let node = field(1, "x") + field(1, "y") + field(2, "z") + field(4, "Mul")
        let graph =
            field(1, node) + field(2, "g") + field(11, field(1, "x")) + field(11, field(1, "y"))
            + field(12, field(1, "z"))
        let opset = field(1, "") + varint(2 << 3) + varint(15)
        return Data(varint(1 << 3) + varint(8) + field(8, opset) + field(7, graph))
    }
}
