import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The default models as `scripts/fetch-models` installs them under `$HARK_DATA`
/// (default `$XDG_DATA_HOME/hark`, i.e. `~/.local/share/hark`).
enum DefaultModels {
    /// The Piper voice en_US-joe-medium.
    static let voice = "voices/en_US-joe-medium/en_US-joe-medium.onnx"
    /// Whisper tiny.en converted to CTranslate2 (float16).
    static let whisper = "stt/whisper-tiny.en/model.bin"
    /// SmolLM2-135M-Instruct, Q4_1.
    static let llm = "llm/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// The data directory: `$HARK_DATA`, else `$XDG_DATA_HOME/hark`, else `~/.local/share/hark`.
    static var dataDirectory: String {
        func variable(_ name: String) -> String? {
            guard let value = getenv(name), value.pointee != 0 else { return nil }
            return String(cString: value)
        }
        if let data = variable("HARK_DATA") { return data }
        let share = variable("XDG_DATA_HOME") ?? ((variable("HOME") ?? "") + "/.local/share")
        return share + "/hark"
    }

    /// The path of a default model file. A missing file fails the test (these tests never skip) with a
    /// message saying how to fetch the models.
    static func path(_ relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = dataDirectory + "/" + relative
        try #require(
            access(path, R_OK) == 0,
            "\(path) is missing: run scripts/fetch-models to download the default models",
            sourceLocation: sourceLocation)
        return path
    }
}
