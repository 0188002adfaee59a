// multipart/form-data bodies, after RFC 7578 (form-data) and RFC 2046 §5.1.1 (delimiters: CRLF "--" boundary,
// the close delimiter adds "--"), as the `openai` client (httpx) and curl -F send them.

/// One part of a multipart/form-data body.
public struct MultipartPart: Sendable, Equatable {
    /// The form field name (`Content-Disposition: form-data; name="…"`).
    public var name: String
    /// The file name, for file fields.
    public var filename: String?
    /// The part's `Content-Type`, when given.
    public var contentType: String?
    public var body: [UInt8]

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a body is not multipart/form-data this parser takes.
public enum MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
    case notMultipart
    case missingBoundary
    /// The body ends before the close delimiter (a truncated upload).
    case truncated
    case malformedPart(String)
    case tooManyParts(limit: Int)

    public var description: String {
        switch self {
        case .notMultipart: "the body must be multipart/form-data"
        case .missingBoundary: "the multipart Content-Type has no boundary"
        case .truncated: "the multipart body is truncated (no closing boundary)"
        case .malformedPart(let why): "a multipart part is malformed: \(why)"
        case .tooManyParts(let limit): "the multipart body has more than \(limit) parts"
        }
    }
}

/// Parses multipart/form-data bodies held whole in memory (bounded by the server's body limit).
public enum MultipartParser {
    /// The boundary of a `multipart/form-data; boundary=…` content type.
    /// - Throws: `.notMultipart` for another type, `.missingBoundary` without one.
    public static func boundary(contentType: String) throws(MultipartError) -> String {
        let fields = contentType.split(separator: ";").map { $0.trimmingWhitespace() }
        guard let type = fields.first, type.lowercased() == "multipart/form-data" else { throw .notMultipart }
        for field in fields.dropFirst() {
            guard let eq = field.firstIndex(of: "=") else { continue }
            guard field[..<eq].trimmingWhitespace().lowercased() == "boundary" else { continue }
            var value = field[field.index(after: eq)...].trimmingWhitespace()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            // RFC 2046: 1 to 70 characters.
            guard (1...70).contains(value.utf8.count) else { throw .missingBoundary }
            return value
        }
        throw .missingBoundary
    }

    /// The parts of `body`.
    /// - Throws: `MultipartError`: `.truncated` when the close delimiter is missing, `.malformedPart` for a part
    ///   without headers or a form-data name.
    public static func parse(_ body: [UInt8], boundary: String, maxParts: Int = 64) throws(MultipartError)
        -> [MultipartPart]
    {
        let dash = Array("--".utf8) + Array(boundary.utf8)
        let delimiter = Array("\r\n".utf8) + dash
        // The first delimiter may open the body without a CRLF before it.
        var position: Int
        if body.starts(with: dash) {
            position = dash.count
        } else if let found = find(delimiter, in: body, from: 0) {
            position = found + delimiter.count
        } else {
            throw .truncated
        }
        var parts: [MultipartPart] = []
        while true {
            // After a delimiter: "--" closes the body; else optional white space, CRLF, a part.
            if body.count >= position + 2, body[position] == 0x2D, body[position + 1] == 0x2D { return parts }
            while position < body.count, body[position] == 0x20 || body[position] == 0x09 { position += 1 }
            guard body.count >= position + 2 else { throw .truncated }
            guard body[position] == 0x0D, body[position + 1] == 0x0A else {
                throw .malformedPart("no line break after the boundary")
            }
            position += 2
            guard let headerEnd = find(Array("\r\n\r\n".utf8), in: body, from: position) else { throw .truncated }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let contentEnd = find(delimiter, in: body, from: contentStart) else { throw .truncated }
            guard parts.count < maxParts else { throw .tooManyParts(limit: maxParts) }
            parts.append(try part(headers: headers, body: Array(body[contentStart..<contentEnd])))
            position = contentEnd + delimiter.count
        }
    }

    private static func part(headers: String, body: [UInt8]) throws(MultipartError) -> MultipartPart {
        var name: String?
        var filename: String?
        var contentType: String?
        for line in headers.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedPart("header line without a colon") }
            let field = line[..<colon].trimmingWhitespace().lowercased()
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            switch field {
            case "content-disposition":
                for parameter in parameters(value) {
                    switch parameter.key.lowercased() {
                    case "name": name = parameter.value
                    case "filename": filename = parameter.value
                    default: break
                    }
                }
            case "content-type": contentType = value
            default: break
            }
        }
        guard let name else { throw .malformedPart("no form-data name") }
        return MultipartPart(name: name, filename: filename, contentType: contentType, body: body)
    }

    /// `form-data; name="file"; filename="a;b.wav"` → [(name, file), (filename, a;b.wav)], quotes honoured.
    static func parameters(_ value: String) -> [(key: String, value: String)] {
        var result: [(String, String)] = []
        var fields: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
            } else if quoted && character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
                current.append(character)
            } else if character == ";" && !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        for field in fields.dropFirst() {
            guard let eq = field.firstIndex(of: "=") else { continue }
            var v = field[field.index(after: eq)...].trimmingWhitespace()
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            result.append((field[..<eq].trimmingWhitespace(), v))
        }
        return result
    }

    /// The first index of `needle` in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        let first = needle[0]
        let last = haystack.count - needle.count
        var i = from
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                while i <= last {
                    if h[i] == first {
                        var j = 1
                        while j < n.count && h[i + j] == n[j] { j += 1 }
                        if j == n.count { return i }
                    }
                    i += 1
                }
                return nil
            }
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
