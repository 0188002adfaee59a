// Transcript files as whisper.cpp's CLI writes them (-otxt, -osrt, -ovtt, -oj):
// https://github.com/ggerganov/whisper.cpp/blob/master/examples/cli/cli.cpp (output_txt/srt/vtt/json).

import Foundation

/// Renders segments as text, SubRip, WebVTT or whisper.cpp's JSON.
public enum TranscriptFormat: String, CaseIterable, Codable, Sendable {
    case txt, srt, vtt, json

    /// The file extension whisper.cpp appends to the output base name.
    public var fileExtension: String { rawValue }

    /// The transcript of `segments` in this format.
    public func render(_ segments: [Segment], model: String = "", language: String = "en") -> String {
        switch self {
        case .txt:
            return segments.map { $0.text.trimmingCharacters(in: .whitespaces) + "\n" }.joined()
        case .srt:
            return segments.enumerated().map { i, s in
                "\(i + 1)\n\(Self.clock(s.start, comma: true)) --> \(Self.clock(s.end, comma: true))\n"
                    + "\(s.text.trimmingCharacters(in: .whitespaces))\n\n"
            }.joined()
        case .vtt:
            return "WEBVTT\n\n"
                + segments.map { s in
                    "\(Self.clock(s.start, comma: false)) --> \(Self.clock(s.end, comma: false))\n"
                        + "\(s.text.trimmingCharacters(in: .whitespaces))\n\n"
                }.joined()
        case .json:
            struct Span: Encodable {
                let from: String
                let to: String
            }
            struct Offsets: Encodable {
                let from: Int
                let to: Int
            }
            struct Entry: Encodable {
                let timestamps: Span
                let offsets: Offsets
                let text: String
            }
            struct Result: Encodable { let language: String }
            struct Document: Encodable {
                let model: [String: String]
                let result: Result
                let transcription: [Entry]
            }
            let document = Document(
                model: ["type": model], result: Result(language: language),
                transcription: segments.map { s in
                    Entry(
                        timestamps: Span(from: Self.clock(s.start, comma: true), to: Self.clock(s.end, comma: true)),
                        offsets: Offsets(from: Int((s.start * 1000).rounded()), to: Int((s.end * 1000).rounded())),
                        text: s.text)
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return (try? String(decoding: encoder.encode(document), as: UTF8.self)).map { $0 + "\n" } ?? "{}\n"
        }
    }

    /// `HH:MM:SS,mmm` (SubRip) or `HH:MM:SS.mmm` (WebVTT).
    public static func clock(_ seconds: Double, comma: Bool) -> String {
        let ms = max(0, Int((seconds * 1000).rounded()))
        let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
        let pad = { (v: Int, n: Int) in String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2))\(comma ? "," : ".")\(pad(f, 3))"
    }
}
