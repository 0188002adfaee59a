// Whisper's initial prompt (`prompt` of POST /v1/audio/transcriptions) against faster-whisper's `initial_prompt`:
// the token ids of each prompt (tokenizer.json through LanguageModel's byte-level BPE) and the greedy segments of
// one clip with no prompt, a short one and one longer than the 223 tokens the decoder keeps. Reference:
// scripts/reference/whisper_prompt_reference.py (committed fixture Fixtures/whisper-prompt-tiny.en.json).

import Foundation
import Testing
import WhisperSTT

@testable import SpeechServers

// In the integration suite, which loads the models once and runs its tests one at a time.
extension ServerIntegrationTests {
    struct PromptReference: Decodable {
        struct Encoding: Decodable {
            let prompt: String
            let tokens: [Int32]
        }
        struct Transcription: Decodable {
            let prompt: String?
            let segments: [ReferenceSegment]
        }
        struct ReferenceSegment: Decodable, Equatable {
            let start: Double
            let end: Double
            let text: String
            let tokens: [Int32]
            let temperature: Double
        }
        let model: String
        let clip: String
        let encodings: [Encoding]
        let transcriptions: [Transcription]

        static func load() throws -> PromptReference {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appending(path: "Fixtures/whisper-prompt-tiny.en.json")
            return try JSONDecoder().decode(PromptReference.self, from: Data(contentsOf: url))
        }
    }

    @Test("prompt: token ids equal faster-whisper's encoding of \" \" + prompt.strip()")
    func promptTokens() async throws {
        let services = try await S.servers().services
        let reference = try PromptReference.load()
        try #require(services.sttName == reference.model)
        for encoding in reference.encodings {
            #expect(try services.promptTokens(encoding.prompt) == encoding.tokens, "\(encoding.prompt)")
        }
    }

    @Test("prompt: greedy segments equal faster-whisper's transcribe(initial_prompt:), also past 223 tokens")
    func promptTranscription() async throws {
        let services = try await S.servers().services
        let reference = try PromptReference.load()
        let samples = try SoundFileSamples.whisper(S.clip(reference.clip))
        // The prompt must change what the model writes, or this test could not tell it is used.
        #expect(Set(reference.transcriptions.map { $0.segments.map(\.text) }).count > 1)
        for transcription in reference.transcriptions {
            var options = TranscriptionOptions()
            options.voiceActivity = nil  // the reference transcribes the whole clip
            options.initialPrompt = try transcription.prompt.map { try services.promptTokens($0) }
            let segments = try services.transcriber.transcribe(samples, options: options).map {
                PromptReference.ReferenceSegment(
                    start: ($0.start * 100).rounded() / 100, end: ($0.end * 100).rounded() / 100, text: $0.text,
                    tokens: $0.tokens, temperature: Double($0.temperature))
            }
            #expect(segments == transcription.segments, "prompt: \(transcription.prompt ?? "none")")
        }
    }

    @Test("prompt: POST /v1/audio/transcriptions passes it to the model (the same text as in-process)")
    func promptOverHTTP() async throws {
        let servers = try await S.servers()
        let reference = try PromptReference.load()
        let prompt = try #require(reference.transcriptions.compactMap(\.prompt).first)
        let path = S.clip(reference.clip)
        let expected = try await servers.services.transcribe(try SoundFileSamples.whisper(path), prompt: prompt).text
        let reply = try await S.curl([
            "-H", "Authorization: Bearer \(S.apiKey)", "-F", "file=@\(path)", "-F", "model=whisper-1",
            "-F", "prompt=\(prompt)", "-F", "response_format=text",
            "http://127.0.0.1:\(servers.httpPort)/v1/audio/transcriptions",
        ])
        #expect(reply.status == 200, "\(reply.body)")
        #expect(reply.body.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
    }
}
