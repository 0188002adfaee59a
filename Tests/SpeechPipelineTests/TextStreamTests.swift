// Sentence splitting of streamed text, and the server-sent-event parsing of OpenAI-style chat streams.

import SpeechPipeline
import Testing

@Suite("Sentence splitting")
struct SentenceSplitterTests {
    /// Feeds `pieces` one by one; returns the sentences in the order they came out, and after which piece.
    static func split(_ pieces: [String]) -> [(String, Int)] {
        var splitter = SentenceSplitter()
        var out: [(String, Int)] = []
        for (i, piece) in pieces.enumerated() { out += splitter.add(piece).map { ($0, i) } }
        if let rest = splitter.finish() { out.append((rest, pieces.count)) }
        return out
    }

    @Test("A sentence comes out as soon as the next piece shows it is complete")
    func streaming() {
        let out = Self.split(["Hello", " there.", " How are", " you? I'm", " fine!", " Bye"])
        #expect(out.map(\.0) == ["Hello there.", "How are you?", "I'm fine!", "Bye"])
        #expect(out.map(\.1) == [2, 3, 5, 6])
    }

    @Test("Abbreviations, initials, decimals and quotes do not end a sentence")
    func notEnds() {
        let out = Self.split(["Dr. Smith paid $3.50 for J. R. R. Tolkien's book, e.g. ", "\"The Hobbit.\" ", "Done."])
        #expect(out.map(\.0) == ["Dr. Smith paid $3.50 for J. R. R. Tolkien's book, e.g. \"The Hobbit.\"", "Done."])
    }

    @Test("Line breaks end sentences; markdown marks and bullets are dropped")
    func markdown() {
        let out = Self.split(["**Two** things:\n- first", " item\n* second item\n"])
        #expect(out.map(\.0) == ["Two things:", "first item", "second item"])
    }

    @Test("Nothing but white space gives no sentence")
    func empty() {
        #expect(Self.split(["  ", "\n\n", " "]).isEmpty)
    }
}

@Suite("Server-sent events")
struct ServerSentEventTests {
    @Test("Events split across pieces, CRLF, comments, data without a space, [DONE]")
    func parsing() throws {
        let stream = """
            : a comment\r
            \r
            data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\r
            \r
            data:{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}

            event: message
            data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}

            data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

            data: [DONE]


            """
        let bytes = Array(stream.utf8)
        // Every split point must give the same events.
        for cut in [1, 7, 50, 200, bytes.count] {
            var parser = ServerSentEventParser()
            var events: [String] = []
            var start = 0
            while start < bytes.count {
                events += parser.feed(bytes[start..<min(start + cut, bytes.count)])
                start += cut
            }
            #expect(parser.finish() == nil)
            let contents = try events.map { try ChatCompletionChunk.content(of: $0) }
            #expect(contents == ["", "Hel", "lo", "", nil], "cut \(cut)")
        }
    }

    @Test("Multi-line data joins with newlines; an unterminated last event still counts")
    func multiline() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("data: a\ndata: b\n\ndata: c".utf8)) == ["a\nb"])
        #expect(parser.finish() == "c")
    }

    @Test("Errors in the stream and unreadable chunks throw")
    func errors() {
        #expect(throws: PipelineError.self) { try ChatCompletionChunk.content(of: #"{"error":{"message":"boom"}}"#) }
        #expect(throws: PipelineError.self) { try ChatCompletionChunk.content(of: "not json") }
    }
}
