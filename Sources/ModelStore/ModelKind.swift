/// The roles a model plays in Hark; each has its own catalog and its own folder in the data directory.
public enum ModelKind: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// A Piper voice: a `.onnx` file and its `.onnx.json` configuration.
    case voice
    /// A Whisper model for speech to text: a CTranslate2 folder (`model.bin`, `config.json`, vocabulary).
    case stt
    /// A language model: one GGUF file.
    case llm
    /// A voice-activity detector (Silero VAD): one ONNX file.
    case vad

    /// The folder, under the data directory, that holds one subfolder per installed model of this kind.
    public var directoryName: String {
        switch self {
        case .voice: "voices"
        case .stt: "stt"
        case .llm: "llm"
        case .vad: "vad"
        }
    }

    /// The catalog file of this kind, relative to the catalog directory (the repository root in a clone).
    public var catalogPath: String {
        switch self {
        case .voice: "voices/catalog.json"
        case .stt: "Resources/models/stt.json"
        case .llm: "Resources/models/llm.json"
        case .vad: "Resources/models/vad.json"
        }
    }

    /// Whether a loader opens the model's folder (CTranslate2) rather than one file in it.
    public var loadsFolder: Bool { self == .stt }

    public var description: String { rawValue }

    /// Whether `path` names the file a loader of this kind needs most: the `.onnx` of a voice, the `model.bin` of a
    /// CTranslate2 folder, the `.gguf` of a language model.
    func isPrimaryFile(_ path: String) -> Bool {
        switch self {
        case .voice: path.hasSuffix(".onnx")
        case .stt: path == "model.bin" || path.hasSuffix("/model.bin")
        case .llm: path.hasSuffix(".gguf")
        case .vad: path.hasSuffix(".onnx")
        }
    }

    /// The end of the name of the file `isPrimaryFile` accepts.
    var primaryFileSuffix: String {
        switch self {
        case .voice: ".onnx"
        case .stt: "model.bin"
        case .llm: ".gguf"
        case .vad: ".onnx"
        }
    }

    /// How `isPrimaryFile` reads to people.
    var primaryFileDescription: String { self == .stt ? "model.bin" : "\(primaryFileSuffix) file" }
}
