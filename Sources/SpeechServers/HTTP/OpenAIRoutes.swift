// The OpenAI-compatible audio API on Hummingbird 2, after openai-python's request types
// (types/audio/speech_create_params.py, transcription_create_params.py, audio_response_format.py;
// research/assistant.md §4.1–4.2): POST /v1/audio/speech, POST /v1/audio/transcriptions, GET /v1/models,
// GET /health, and POST /v1/chat/completions when a ChatService is given.

import AudioIO
import Foundation
import Hummingbird
import Logging
import NIOCore
import PiperTTS
import WhisperSTT

/// Builds the router of the HTTP API.
struct OpenAIRoutes: Sendable {
    let services: SpeechServices
    let chat: (any ChatService)?
    let configuration: ServerConfiguration
    let logger: Logger

    /// OpenAI's built-in voice names: they pick the default voice, so clients written for OpenAI work unchanged.
    static let openAIVoices: Set<String> = [
        "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin",
        "cedar",
    ]
    /// OpenAI's `pcm` format: 24 kHz 16-bit mono.
    static let pcmRate = 24_000

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: OpenAIErrorMiddleware(logger: logger))
        router.get("/health") { _, _ in try self.health() }
        if let key = configuration.apiKey { router.add(middleware: BearerAuthMiddleware(apiKey: key)) }
        router.get("/v1/models") { _, _ in try self.models() }
        router.post("/v1/audio/speech") { request, _ in try await self.speech(request) }
        router.post("/v1/audio/transcriptions") { request, _ in try await self.transcription(request) }
        if let chat {
            router.post("/v1/chat/completions") { request, _ in try await self.chat(request, chat) }
        }
        return router
    }

    // MARK: - GET

    private func health() throws -> Response {
        let queues: [String: JSONValue] = [services.sttQueue.name: .int(services.sttQueue.load)]
        return try json([
            "status": .string("ok"), "stt": .string(services.sttName), "voices": .int(services.voices.count),
            "load": .object(queues),
        ])
    }

    private func models() throws -> Response {
        var ids = [services.sttName, "whisper-1"] + services.voices.map(\.name) + ["tts-1", "tts-1-hd"]
        ids += chat?.modelIDs ?? []
        let data = ids.map { id -> JSONValue in
            .object(["id": .string(id), "object": .string("model"), "created": .int(0), "owned_by": .string("hark")])
        }
        return try json(["object": .string("list"), "data": .array(data)])
    }

    // MARK: - Speech

    struct SpeechRequest: Decodable {
        var model: String?
        var input: String
        var voice: String?
        var responseFormat: String?
        var speed: Double?
        /// Hark's extension: a speaker of a multi-speaker voice (name or id).
        var speaker: String?

        enum CodingKeys: String, CodingKey {
            case model, input, voice, speed, speaker
            case responseFormat = "response_format"
        }

        private struct VoiceObject: Decodable { var id: String }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.decodeIfPresent(String.self, forKey: .model)
            input = try c.decode(String.self, forKey: .input)
            // `voice` is a name, or `{"id": …}` for custom voices.
            if let name = try? c.decodeIfPresent(String.self, forKey: .voice) {
                voice = name
            } else {
                voice = try c.decodeIfPresent(VoiceObject.self, forKey: .voice)?.id
            }
            responseFormat = try c.decodeIfPresent(String.self, forKey: .responseFormat)
            speed = try c.decodeIfPresent(Double.self, forKey: .speed)
            speaker = try c.decodeIfPresent(String.self, forKey: .speaker)
        }
    }

    private func speech(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: min(configuration.limits.maxBodyBytes, 1 << 20))
        let speech = try JSONDecoder().decode(SpeechRequest.self, from: Data(buffer: body))
        guard speech.input.count <= configuration.limits.maxSpeechCharacters else {
            throw ServerError.tooLarge("input is longer than \(configuration.limits.maxSpeechCharacters) characters")
        }
        // OpenAI's default is mp3, which Hark does not encode; WAV is what every player reads.
        let format = (speech.responseFormat ?? "wav").lowercased()
        guard ["wav", "pcm", "flac"].contains(format) else {
            throw ServerError.unsupported("response_format '\(format)' (this server writes wav, flac and pcm)")
        }
        let job = try await services.prepareSpeech(
            text: speech.input, voice: voiceName(speech), speaker: speech.speaker, speed: speech.speed)
        if format == "pcm" { return streamedPCM(job) }
        defer { job.release() }
        var samples: [Float] = []
        do {
            for try await chunk in job.chunks() { samples += chunk.samples }
        } catch let error as PiperError {
            throw error.code == .invalidInput
                ? ServerError.badRequest(error.description) : ServerError.internalFailure(error.description)
        }
        let fileFormat: SoundFileFormat = format == "flac" ? .flac16 : .wav16
        let bytes: [UInt8]
        do {
            bytes = try SoundFile.encode(PCMBuffer(samples: samples, sampleRate: job.sampleRate), as: fileFormat)
        } catch {
            throw ServerError.internalFailure("cannot encode the audio: \(error.description)")
        }
        return Response(
            status: .ok, headers: [.contentType: fileFormat.mimeType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The voice a speech request names: a Hark voice by `voice`, else by `model`, else the default.
    private func voiceName(_ speech: SpeechRequest) -> String? {
        let names = Set(services.voices.map(\.name))
        if let voice = speech.voice, names.contains(voice) { return voice }
        if let model = speech.model, names.contains(model) { return model }
        if let voice = speech.voice, !Self.openAIVoices.contains(voice.lowercased()) { return voice }  // → 404
        return nil
    }

    /// `pcm`: 24 kHz 16-bit mono, written chunk by chunk as the decoder makes it (chunked transfer encoding).
    private func streamedPCM(_ job: SpeechJob) -> Response {
        let logger = logger
        let body = ResponseBody { writer in
            defer { job.release() }
            do {
                var resampler = try Resampler(from: job.sampleRate, to: Self.pcmRate)
                for try await chunk in job.chunks() {
                    let samples = try resampler.process(chunk.samples)
                    if !samples.isEmpty {
                        try await writer.write(ByteBuffer(bytes: PCMCodec.int16LittleEndian(samples)))
                    }
                }
                let tail = try resampler.finish()
                if !tail.isEmpty { try await writer.write(ByteBuffer(bytes: PCMCodec.int16LittleEndian(tail))) }
            } catch {
                // The status is sent: a failure (or the client leaving) can only end the stream early.
                logger.info("speech stream ended early: \(error)")
                throw error
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "audio/pcm"],
            body: body)
    }

    // MARK: - Transcription

    private func transcription(_ request: Request) async throws -> Response {
        let boundary = try MultipartParser.boundary(contentType: request.headers[.contentType] ?? "")
        var request = request
        let body = try await request.collectBody(upTo: configuration.limits.maxBodyBytes)
        let parts = try MultipartParser.parse(Array(buffer: body), boundary: boundary)
        func field(_ name: String) -> String? {
            parts.first { $0.name == name }.map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        guard let file = parts.first(where: { $0.name == "file" }) else {
            throw ServerError.badRequest("missing the 'file' field")
        }
        let format = (field("response_format") ?? "json").lowercased()
        guard ["json", "text", "srt", "vtt", "verbose_json"].contains(format) else {
            throw ServerError.unsupported("response_format '\(format)' (json, text, srt, vtt, verbose_json)")
        }
        var temperature: Float?
        if let t = field("temperature"), !t.isEmpty {
            guard let value = Float(t), value.isFinite, (0...1).contains(value) else {
                throw ServerError.badRequest("temperature must be a number from 0 to 1")
            }
            temperature = value
        }
        let samples = try SpeechServices.samples(ofFile: file.body, maxSeconds: configuration.limits.maxAudioSeconds)
        let result = try await services.transcribe(
            samples, language: field("language"), temperature: temperature, prompt: field("prompt"))
        switch format {
        case "text":
            return text(result.text + "\n")
        case "srt":
            return text(TranscriptFormat.srt.render(result.segments))
        case "vtt":
            return text(TranscriptFormat.vtt.render(result.segments), type: "text/vtt")
        case "verbose_json":
            let segments = result.segments.map { s -> JSONValue in
                .object([
                    "id": .int(s.id - 1), "seek": .int(s.seek), "start": .double(s.start), "end": .double(s.end),
                    "text": .string(s.text), "tokens": .array(s.tokens.map { .int(Int($0)) }),
                    "temperature": .double(Double(s.temperature)), "avg_logprob": .double(s.averageLogProbability),
                    "compression_ratio": .double(s.compressionRatio), "no_speech_prob": .double(s.noSpeechProbability),
                ])
            }
            return try json([
                "task": .string("transcribe"), "language": .string(result.language),
                "duration": .double(result.duration),
                "text": .string(result.text), "segments": .array(segments),
            ])
        default:
            return try json(["text": .string(result.text)])
        }
    }

    // MARK: - Chat

    private func chat(_ request: Request, _ chat: any ChatService) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: configuration.limits.maxBodyBytes)
        switch try await chat.complete(requestBody: Array(buffer: body)) {
        case .json(let bytes):
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .eventStream(let events):
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    for try await event in events { try await writer.write(ByteBuffer(bytes: event)) }
                    try await writer.finish(nil)
                })
        }
    }

    // MARK: - Bodies

    private func json(_ object: [String: JSONValue]) throws -> Response {
        let bytes = try JSONValue.makeEncoder().encode(JSONValue.object(object))
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func text(_ text: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(
            status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
