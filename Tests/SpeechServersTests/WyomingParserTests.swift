// The Wyoming framing (research/assistant.md §1.1, PyPI wyoming 1.10.2's exact bytes) and a seeded fuzz of the
// parser: truncated, bit-flipped and oversized frames give clean errors or nil, never a crash or a hang.

import Foundation
import Testing

@testable import SpeechServers

@Suite("Wyoming framing")
struct WyomingParserTests {
    /// The bytes wyoming 1.10.2 writes for a 2-sample audio chunk (research/assistant.md §1.1).
    static let pythonAudioChunk: [UInt8] =
        Array(#"{"type": "audio-chunk", "version": "1.10.2", "data_length": 61, "payload_length": 4}"#.utf8) + [0x0A]
        + Array(#"{"rate": 16000, "width": 2, "channels": 1, "timestamp": null}"#.utf8) + [1, 0, 255, 255]

    @Test("reads the Python writer's bytes: data block merged, explicit null kept, payload")
    func pythonBytes() throws {
        var parser = WyomingParser()
        parser.append(Self.pythonAudioChunk)
        let event = try #require(try parser.next())
        #expect(event.type == "audio-chunk")
        #expect(event.data["rate"] == .int(16000))
        #expect(event.data["timestamp"] == .null)
        #expect(event.payload == [1, 0, 255, 255])
        #expect(try parser.next() == nil)
        try parser.finish()
    }

    @Test("inline data and the data block merge, the block winning; missing lengths mean none")
    func inlineData() throws {
        var parser = WyomingParser()
        let data = Array(#"{"text": "block"}"#.utf8)
        parser.append(
            Array(#"{"type": "synthesize", "data": {"text": "inline", "x": 1}, "data_length": \#(data.count)}"#.utf8)
                + [0x0A] + data + Array("{\"type\": \"describe\"}\n".utf8))
        let first = try #require(try parser.next())
        #expect(first.data == ["text": .string("block"), "x": .int(1)])
        #expect(first.payload == nil)
        let second = try #require(try parser.next())
        #expect(second.type == "describe" && second.data.isEmpty)
    }

    @Test("events split at every byte boundary come out the same")
    func byteByByte() throws {
        let event = WyomingEvent(type: "audio-chunk", data: ["rate": .int(22050)], payload: Array(0..<200))
        let bytes = event.encoded() + WyomingEvent(type: "describe").encoded()
        var parser = WyomingParser()
        var events: [WyomingEvent] = []
        for byte in bytes {
            parser.append([byte])
            while let e = try parser.next() { events.append(e) }
        }
        #expect(events == [event, WyomingEvent(type: "describe")])
        try parser.finish()
    }

    @Test("our encoding matches the Python writer's layout: data in the block, lengths only when needed")
    func encoding() throws {
        let bytes = WyomingEvent(type: "describe").encoded()
        let line = String(decoding: bytes, as: UTF8.self)
        #expect(line == #"{"type":"describe","version":"1.10.2"}"# + "\n")
        let chunk = WyomingEvent(type: "audio-chunk", data: ["rate": .int(16000)], payload: [0, 0]).encoded()
        let header = String(decoding: chunk.prefix { $0 != 0x0A }, as: UTF8.self)
        #expect(header.contains(#""data_length":14"#) && header.contains(#""payload_length":2"#))
    }

    @Test(
        "bad frames are clean errors",
        arguments: [
            ("not json\n", "headerNotJSON"), ("[1,2]\n", "headerNotJSON"), ("{\"data\": {}}\n", "missingType"),
            ("{\"type\": \"x\", \"payload_length\": 2000000000}\n", "tooLarge"),
            ("{\"type\": \"x\", \"data_length\": -1}\n", "badLength"),
            ("{\"type\": \"x\", \"data_length\": \"7\"}\n", "badLength"),
            ("{\"type\": \"x\", \"data_length\": 3}\nabc", "dataNotJSON"),
            ("{\"type\": \"x\", \"data\": 5}\n", "headerNotJSON"),
        ])
    func badFrames(input: String, expected: String) {
        var parser = WyomingParser(maxHeaderBytes: 1024, maxPayloadBytes: 1 << 20)
        parser.append(Array(input.utf8))
        do throws(WyomingProtocolError) {
            _ = try parser.next()
            Issue.record("no error for \(input)")
        } catch {
            let name =
                switch error {
                case .headerTooLong: "headerTooLong"
                case .headerNotJSON: "headerNotJSON"
                case .missingType: "missingType"
                case .badLength: "badLength"
                case .tooLarge: "tooLarge"
                case .dataNotJSON: "dataNotJSON"
                case .truncated: "truncated"
                }
            #expect(name == expected, "\(input): \(error)")
        }
    }

    @Test("a header line longer than the limit fails before its newline arrives")
    func longHeader() {
        var parser = WyomingParser(maxHeaderBytes: 256, maxPayloadBytes: 1024)
        parser.append([UInt8](repeating: 0x20, count: 300))
        #expect(throws: WyomingProtocolError.headerTooLong(limit: 256)) { try parser.next() }
    }

    @Test("a stream that ends inside an event is truncated")
    func truncated() throws {
        var parser = WyomingParser()
        let bytes = WyomingEvent(type: "audio-chunk", data: ["rate": .int(1)], payload: [1, 2, 3, 4]).encoded()
        parser.append(bytes.dropLast())
        #expect(try parser.next() == nil)
        #expect(throws: WyomingProtocolError.truncated) { try parser.finish() }
    }

    @Test("seeded fuzz: truncated, bit-flipped, spliced and oversized frames never crash and stay bounded")
    func fuzz() {
        var rng = SplitMix(seed: 0x5EED)
        let samples = [
            WyomingEvent(type: "describe"),
            WyomingEvent(
                type: "synthesize", data: ["text": .string("Hello — wörld."), "voice": .object(["name": .string("v")])]),
            WyomingEvent(
                type: "audio-chunk", data: ["rate": .int(16000), "width": .int(2), "channels": .int(1)],
                payload: Array(repeating: 7, count: 512)),
            WyomingEvent(type: "transcript", data: ["text": .string("x")]),
        ]
        var outcomes = (events: 0, errors: 0, incomplete: 0)
        for _ in 0..<3000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(rng.next() % 4 + 1) { bytes += samples[Int(rng.next() % UInt64(samples.count))].encoded() }
            switch rng.next() % 4 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))  // truncated
            case 1:  // bit flips
                for _ in 0..<Int(rng.next() % 8 + 1) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    bytes[i] ^= UInt8(1 << (rng.next() % 8))
                }
            case 2:  // a huge announced length spliced in
                let huge = Array("{\"type\":\"audio-chunk\",\"payload_length\":\(rng.next() % (1 << 40))}\n".utf8)
                bytes.insert(contentsOf: huge, at: Int(rng.next() % UInt64(bytes.count)))
            default:  // random garbage
                bytes += (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            var cuts: [Int] = []
            var total = 0
            while total < bytes.count {
                let n = Int(rng.next() % 64 + 1)
                cuts.append(n)
                total += n
            }
            let result = Self.parse(bytes, in: cuts)
            outcomes.events += result.events
            #expect(result.maxBuffered <= 4096 + 2 * (1 << 16) + 64)
            if let error = result.error {
                #expect(!error.description.isEmpty)
                if error == .truncated { outcomes.incomplete += 1 } else { outcomes.errors += 1 }
            }
        }
        #expect(outcomes.events > 0 && outcomes.errors > 0 && outcomes.incomplete > 0)
    }
}

extension WyomingParserTests {
    /// Feeds `bytes` to a fresh parser in pieces of the given sizes: events read, the most bytes buffered, the error.
    static func parse(_ bytes: [UInt8], in pieces: [Int]) -> (
        events: Int, maxBuffered: Int, error: WyomingProtocolError?
    ) {
        var parser = WyomingParser(maxHeaderBytes: 4096, maxPayloadBytes: 1 << 16)
        var events = 0
        var maxBuffered = 0
        var offset = 0
        do throws(WyomingProtocolError) {
            for n in pieces {
                parser.append(bytes[offset..<min(bytes.count, offset + n)])
                offset += n
                while try parser.next() != nil { events += 1 }
                maxBuffered = max(maxBuffered, parser.bufferedCount)
            }
            try parser.finish()
            return (events, maxBuffered, nil)
        } catch {
            return (events, maxBuffered, error)
        }
    }
}

/// A tiny deterministic generator for the fuzz (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
