// multipart/form-data as httpx (the `openai` client) and curl -F write it (RFC 7578, RFC 2046 §5.1.1).

import Foundation
import Testing

@testable import SpeechServers

@Suite("multipart/form-data")
struct MultipartTests {
    static func body(_ boundary: String, _ parts: [(String, String?, [UInt8])], close: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        for (name, filename, data) in parts {
            out += Array("--\(boundary)\r\n".utf8)
            let file = filename.map { "; filename=\"\($0)\"" } ?? ""
            out += Array("Content-Disposition: form-data; name=\"\(name)\"\(file)\r\n".utf8)
            if filename != nil { out += Array("Content-Type: audio/wav\r\n".utf8) }
            out += Array("\r\n".utf8) + data + Array("\r\n".utf8)
        }
        if close { out += Array("--\(boundary)--\r\n".utf8) }
        return out
    }

    @Test("the boundary is read from the content type, quoted or not")
    func boundary() throws {
        #expect(try MultipartParser.boundary(contentType: "multipart/form-data; boundary=abc123") == "abc123")
        #expect(try MultipartParser.boundary(contentType: "multipart/form-data;boundary=\"a b\"") == "a b")
        #expect(throws: MultipartError.notMultipart) { try MultipartParser.boundary(contentType: "application/json") }
        #expect(throws: MultipartError.missingBoundary) {
            try MultipartParser.boundary(contentType: "multipart/form-data")
        }
    }

    @Test("fields and a binary file come back exactly, CRLFs and boundary look-alikes inside included")
    func parts() throws {
        let audio: [UInt8] = [0, 13, 10, 45, 45, 255] + Array("\r\n--bound".utf8) + [1, 2]
        let body = Self.body(
            "bound42", [("model", nil, Array("whisper-1".utf8)), ("file", "a;b.wav", audio), ("language", nil, [])])
        let parsed = try MultipartParser.parse(body, boundary: "bound42")
        #expect(parsed.map(\.name) == ["model", "file", "language"])
        #expect(parsed[0].text == "whisper-1")
        #expect(parsed[1].filename == "a;b.wav" && parsed[1].contentType == "audio/wav")
        #expect(parsed[1].body == audio)
        #expect(parsed[2].body.isEmpty)
    }

    @Test("a body without its closing boundary is truncated, wherever it is cut")
    func truncated() {
        let body = Self.body("xyz", [("model", nil, Array("m".utf8)), ("file", "f.wav", [1, 2, 3, 4])])
        for cut in [0, 5, 20, 60, body.count - 9, body.count - 3] {
            #expect(throws: MultipartError.truncated) {
                try MultipartParser.parse(Array(body.prefix(cut)), boundary: "xyz")
            }
        }
        #expect(throws: MultipartError.truncated) {
            try MultipartParser.parse(Self.body("xyz", [("a", nil, [1])], close: false), boundary: "xyz")
        }
    }

    @Test("a part with no name is malformed")
    func malformed() {
        let body = Array("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n".utf8)
        #expect(throws: MultipartError.self) { try MultipartParser.parse(body, boundary: "b") }
    }
}

@Suite("OpenAI error JSON and configuration")
struct ErrorAndConfigurationTests {
    @Test("errors render as OpenAI's {error: {message, type, code}} with the right status")
    func errorJSON() throws {
        let error = ServerError.busy(retryAfter: 3)
        #expect(error.httpStatus == 503)
        let text = String(decoding: error.jsonBody, as: UTF8.self)
        #expect(
            text.contains(#""error":{"#) && text.contains(#""code":"busy""#) && text.contains(#""type":"server_busy""#))
        #expect(text.contains(#""message":"the server is busy; retry after 3 s""#))
        #expect(ServerError.badRequest("x").httpStatus == 400)
        #expect(ServerError.unauthorized.httpStatus == 401)
        #expect(ServerError.tooLarge("x").httpStatus == 413)
        #expect(ServerError.from(MultipartError.truncated) == .badRequest(MultipartError.truncated.description))
    }

    @Test("busyNamesTheRetryDelay")
    func busyNamesTheRetryDelay() {
        #expect(ServerError.busy(retryAfter: 3).description.contains("3 s"))
    }

    @Test("addresses parse; off disables; defaults are loopback")
    func addresses() throws {
        let config = ServerConfiguration()
        #expect(try config.wyomingAddress() == ListenAddress(host: "127.0.0.1", port: 10500))
        #expect(try config.httpAddress() == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ServerConfiguration(wyoming: "off", http: "off").wyomingAddress() == nil)
        #expect(ListenAddress(parsing: "[::1]:9")?.host == "::1")
        #expect(ListenAddress(parsing: "0.0.0.0:8080")?.isLoopback == false)
        #expect(throws: ServerError.self) { try ServerConfiguration(wyoming: "udp://x:1").validate() }
        #expect(throws: ServerError.self) { try ServerConfiguration(http: "nohost").validate() }
    }

    @Test("the configuration is Codable with defaults for missing keys")
    func codable() throws {
        let decoded = try JSONDecoder().decode(
            ServerConfiguration.self, from: Data(#"{"http": "off", "api_key": "k"}"#.utf8))
        #expect(decoded.http == "off" && decoded.apiKey == "k" && decoded.wyoming == ServerConfiguration.defaultWyoming)
        let again = try JSONDecoder().decode(ServerConfiguration.self, from: JSONEncoder().encode(decoded))
        #expect(again == decoded)
    }

    @Test("streamed text is cut after its last complete sentence")
    func sentences() {
        #expect(WyomingSession.completeSentences("Hello there. How are") == ("Hello there.", " How are"))
        #expect(WyomingSession.completeSentences("No end yet") == ("", "No end yet"))
        #expect(WyomingSession.completeSentences("A! B? C. ") == ("A! B? C.", " "))
    }

    @Test("PCM of any width and channel count becomes mono floats")
    func pcm() throws {
        // Stereo 16-bit: (16384, -16384) averages to 0; (32767, 32767) to ~1.
        let stereo: [UInt8] = [0x00, 0x40, 0x00, 0xC0, 0xFF, 0x7F, 0xFF, 0x7F]
        let mono = try PCMCodec.monoFloats(stereo, width: 2, channels: 2)
        #expect(mono.count == 2 && mono[0] == 0 && abs(mono[1] - 32767 / 32768) < 1e-6)
        #expect(try PCMCodec.monoFloats([128, 255], width: 1, channels: 1) == [0, 127 / 128])
        #expect(throws: ServerError.self) { try PCMCodec.monoFloats([1, 2, 3], width: 2, channels: 1) }
        #expect(PCMCodec.int16LittleEndian([0.5, -1, 2]) == [0x00, 0x40, 0x00, 0x80, 0xFF, 0x7F])
    }
}
