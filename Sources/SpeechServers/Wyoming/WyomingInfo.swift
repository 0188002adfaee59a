// The `info` event, with the field names of rhasspy/wyoming wyoming/info.py as 1.10.2 writes them
// (research/assistant.md §1.3): every artifact has name, attribution {name, url}, installed, description, version
// (nulls written); ASR programs list `models` with `languages`; TTS programs list `voices` with `languages` and
// `speakers`; all seven program lists are written, empty ones included.

enum WyomingInfo {
    /// Credit where the models come from, as wyoming-piper and wyoming-faster-whisper give it.
    static let whisper: JSONValue = .object([
        "name": .string("OpenAI"), "url": .string("https://github.com/openai/whisper"),
    ])
    static let piper: JSONValue = .object([
        "name": .string("rhasspy"), "url": .string("https://github.com/rhasspy/piper"),
    ])

    static func artifact(_ name: String, _ attribution: JSONValue, description: String?, version: String? = nil)
        -> [String: JSONValue]
    {
        [
            "name": .string(name), "attribution": attribution, "installed": .bool(true),
            "description": description.map(JSONValue.string) ?? .null,
            "version": version.map(JSONValue.string) ?? .null,
        ]
    }

    /// `info` for the loaded STT model and every announced voice.
    static func event(for services: SpeechServices) -> WyomingEvent {
        var model = artifact(services.sttName, whisper, description: "Whisper \(services.sttName) on Hark's engine")
        model["languages"] = .array(services.sttLanguages.map(JSONValue.string))
        var asr = artifact("hark-whisper", whisper, description: "Whisper speech to text (Hark)")
        asr["models"] = .array([.object(model)])
        asr["supports_transcript_streaming"] = .bool(false)
        asr["requires_external_vad"] = .bool(true)
        asr["prefers_auto_gain_enabled"] = .bool(true)
        asr["prefers_noise_reduction_enabled"] = .bool(true)

        let voices = services.voices.map { voice -> JSONValue in
            var v = artifact(voice.name, piper, description: voice.summary.isEmpty ? voice.name : voice.summary)
            v["languages"] = .array([.string(voice.language)])
            v["speakers"] =
                voice.speakers.isEmpty ? .null : .array(voice.speakers.map { .object(["name": .string($0)]) })
            return .object(v)
        }
        var tts = artifact("hark-piper", piper, description: "Piper text to speech (Hark)")
        tts["voices"] = .array(voices)
        tts["supports_synthesize_streaming"] = .bool(true)

        return WyomingEvent(
            type: "info",
            data: [
                "asr": .array([.object(asr)]), "tts": .array([.object(tts)]), "handle": .array([]),
                "intent": .array([]), "wake": .array([]), "mic": .array([]), "snd": .array([]),
            ])
    }
}
