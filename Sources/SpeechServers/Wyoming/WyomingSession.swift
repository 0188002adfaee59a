// One Wyoming connection's conversation, after the flows of rhasspy/wyoming's README "Event Flow" and the handlers
// of wyoming-faster-whisper and wyoming-piper (research/assistant.md §1.2–1.4): describe → info;
// transcribe? + audio-start/chunk/stop → transcript; synthesize → audio-start/chunk…/stop; synthesize-start/
// -chunk…/-stop → audio per sentence, then synthesize-stopped (a plain `synthesize` inside a stream is ignored).

import AudioIO
import Foundation
import Logging
import PiperTTS

/// Where a session's events go.
protocol WyomingEventSink {
    mutating func send(_ event: WyomingEvent) async throws
}

/// The state of one connection between events; `handle` reacts to each event in turn.
struct WyomingSession {
    let services: SpeechServices
    let limits: ServerLimits
    let logger: Logger

    /// Model and language asked for by `transcribe`, for the next audio.
    private var language: String?
    /// Audio received since `audio-start`.
    private var audio: AudioInput?
    /// An open streaming synthesis: its voice and the text not yet spoken.
    private var stream: (voice: String?, speaker: String?, pending: String)?

    init(services: SpeechServices, limits: ServerLimits, logger: Logger) {
        self.services = services
        self.limits = limits
        self.logger = logger
    }

    /// Reacts to one event.
    /// - Throws: `ServerError` for an event it cannot serve (the server then sends `error` and closes), and the
    ///   sink's errors.
    mutating func handle(_ event: WyomingEvent, _ out: inout some WyomingEventSink) async throws {
        switch event.type {
        case "describe":
            try await out.send(WyomingInfo.event(for: services))
        case "ping":
            try await out.send(WyomingEvent(type: "pong", data: event.data["text"].map { ["text": $0] } ?? [:]))
        case "transcribe":
            language = event.data["language"]?.string
        case "audio-start":
            audio = try AudioInput(event.data, maxSeconds: limits.maxAudioSeconds)
        case "audio-chunk":
            if audio == nil { audio = try AudioInput(event.data, maxSeconds: limits.maxAudioSeconds) }
            try audio!.append(event.data, event.payload ?? [])
        case "audio-stop":
            guard let input = audio else { throw ServerError.badRequest("audio-stop without audio") }
            audio = nil
            let samples = try input.whisperSamples()
            let result = try await services.transcribe(samples, language: language)
            language = nil
            try await out.send(
                WyomingEvent(
                    type: "transcript", data: ["text": .string(result.text), "language": .string(result.language)]))
        case "synthesize":
            guard stream == nil else { return }  // the old-server copy of a streamed text
            guard let text = event.data["text"]?.string else { throw ServerError.badRequest("synthesize needs text") }
            let (voice, speaker) = voiceChoice(event.data["voice"])
            try await speak(text, voice: voice, speaker: speaker, &out)
        case "synthesize-start":
            let (voice, speaker) = voiceChoice(event.data["voice"])
            stream = (voice, speaker, "")
        case "synthesize-chunk":
            guard var open = stream else { throw ServerError.badRequest("synthesize-chunk outside synthesize-start") }
            open.pending += event.data["text"]?.string ?? ""
            guard open.pending.count <= limits.maxSpeechCharacters * 4 else {
                throw ServerError.tooLarge("the streamed text is longer than \(limits.maxSpeechCharacters * 4)")
            }
            let (ready, rest) = Self.completeSentences(open.pending)
            open.pending = rest
            stream = open
            if !ready.isEmpty { try await speak(ready, voice: open.voice, speaker: open.speaker, &out) }
        case "synthesize-stop":
            guard let open = stream else { throw ServerError.badRequest("synthesize-stop outside synthesize-start") }
            stream = nil
            if open.pending.contains(where: { !$0.isWhitespace }) {
                try await speak(open.pending, voice: open.voice, speaker: open.speaker, &out)
            }
            try await out.send(WyomingEvent(type: "synthesize-stopped"))
        default:
            throw ServerError.badRequest("unknown event type '\(event.type)'")
        }
    }

    /// Speaks `text`: audio-start, the chunks as the decoder makes them, audio-stop.
    private func speak(_ text: String, voice: String?, speaker: String?, _ out: inout some WyomingEventSink)
        async throws
    {
        guard text.count <= limits.maxSpeechCharacters else {
            throw ServerError.tooLarge("the text is longer than \(limits.maxSpeechCharacters) characters")
        }
        let job = try await services.prepareSpeech(text: text, voice: voice, speaker: speaker)
        defer { job.release() }
        let format: [String: JSONValue] = ["rate": .int(job.sampleRate), "width": .int(2), "channels": .int(1)]
        var start = format
        start["timestamp"] = .int(0)
        try await out.send(WyomingEvent(type: "audio-start", data: start))
        var written = 0
        do {
            for try await chunk in job.chunks() {
                // wyoming-piper sends 1024-sample chunks; larger pieces keep the event count down without delay.
                var offset = 0
                while offset < chunk.samples.count {
                    let end = min(chunk.samples.count, offset + 8192)
                    var data = format
                    data["timestamp"] = .int(written * 1000 / job.sampleRate)
                    try await out.send(
                        WyomingEvent(
                            type: "audio-chunk", data: data,
                            payload: PCMCodec.int16LittleEndian(chunk.samples[offset..<end])))
                    written += end - offset
                    offset = end
                }
            }
        } catch let error as PiperError {
            throw error.code == .invalidInput
                ? ServerError.badRequest(error.description) : ServerError.internalFailure(error.description)
        }
        try await out.send(WyomingEvent(type: "audio-stop", data: ["timestamp": .int(written * 1000 / job.sampleRate)]))
    }

    /// The voice a `voice` object asks for: its name wins; else the first voice of its language; else the default.
    private func voiceChoice(_ value: JSONValue?) -> (name: String?, speaker: String?) {
        let speaker = value?["speaker"]?.string ?? value?["speaker"]?.int.map(String.init)
        if let name = value?["name"]?.string, !name.isEmpty { return (name, speaker) }
        if let language = value?["language"]?.string {
            let wanted = Self.normalized(language)
            let match =
                services.voices.first { Self.normalized($0.language) == wanted }
                ?? services.voices.first { Self.normalized($0.language).hasPrefix(wanted + "_") }
            if let match { return (match.name, speaker) }
        }
        return (nil, speaker)
    }

    private static func normalized(_ language: String) -> String {
        language.lowercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Splits streamed text after its last sentence end (`.`, `!`, `?` followed by white space): the sentences
    /// ready to speak, and the rest to wait for more.
    static func completeSentences(_ text: String) -> (ready: String, rest: String) {
        var cut: String.Index?
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if ".!?".contains(text[index]), next < text.endIndex, text[next].isWhitespace { cut = next }
            index = next
        }
        guard let cut else { return ("", text) }
        return (String(text[..<cut]), String(text[cut...]))
    }
}

/// Audio of one transcription as it arrives: mono floats at the client's rate.
struct AudioInput {
    let rate: Int
    let width: Int
    let channels: Int
    let maxFrames: Int
    var samples: [Float] = []

    init(_ data: [String: JSONValue], maxSeconds: Double) throws(ServerError) {
        guard let rate = data["rate"]?.int, (1000...384_000).contains(rate) else {
            throw .badRequest("audio needs a rate between 1000 and 384000 Hz")
        }
        self.rate = rate
        width = data["width"]?.int ?? 2
        channels = data["channels"]?.int ?? 1
        maxFrames = Int(maxSeconds * Double(rate))
        _ = try PCMCodec.monoFloats([], width: width, channels: channels)  // checks width and channels
    }

    mutating func append(_ data: [String: JSONValue], _ payload: [UInt8]) throws(ServerError) {
        let rate = data["rate"]?.int ?? self.rate
        let width = data["width"]?.int ?? self.width
        let channels = data["channels"]?.int ?? self.channels
        guard rate == self.rate else { throw .badRequest("the audio rate changed from \(self.rate) to \(rate) Hz") }
        let mono = try PCMCodec.monoFloats(payload, width: width, channels: channels)
        guard samples.count + mono.count <= maxFrames else {
            throw .tooLarge("the audio is longer than \(maxFrames / rate) s")
        }
        samples += mono
    }

    /// 16 kHz mono for Whisper.
    func whisperSamples() throws(ServerError) -> [Float] {
        try SpeechServices.toWhisperInput(PCMBuffer(samples: samples, sampleRate: rate))
    }
}
