// EspeakLibrary: the process's one espeak-ng, initialised once and used under one lock.
//
// espeak-ng keeps all its state in globals (the voice, the translator, the text decoder, the character held back
// between clauses) and is not thread-safe, so every call goes through this type. The calls follow piper1-gpl's
// src/piper/espeakbridge.c (initialise for synchronous output, select the voice by name, translate clause by
// clause); espeak-ng's API is src/include/espeak-ng/speak_lib.h and espeak_ng.h.
// https://github.com/OHF-Voice/piper1-gpl/blob/main/src/piper/espeakbridge.c

import CEspeakNG
import Foundation

/// What espeak-ng produced for one text: each clause's phoneme string and where its text pointer stood after it.
struct EspeakTranslation: Sendable {
    /// One entry per `espeak_TextToPhonemes` call, in order.
    struct Clause: Sendable {
        /// The phonemes (IPA, or espeak-ng's mnemonics), phonemes separated by `EspeakLibrary.separator`.
        var phonemes: String
        /// The text pointer after the call, as a byte offset into the UTF-8 text; nil once the text is finished.
        var byteOffset: Int?
    }

    /// The IPA pass.
    var ipa: [Clause]
    /// The same text in espeak-ng's phoneme mnemonics (only when asked for).
    var mnemonics: [Clause]?
    /// The selected voice's file, as espeak-ng names it (for example `gmw/en-US`).
    var voiceIdentifier: String
}

/// The owner of espeak-ng's process-wide state. Use `shared`; every entry point takes the lock.
final class EspeakLibrary: @unchecked Sendable {
    /// The one instance: espeak-ng exists once per process.
    static let shared = EspeakLibrary()

    /// The character espeak-ng is asked to put between phonemes (a private-use code point it never writes
    /// otherwise); bits 8 to 23 of the phoneme mode carry it.
    static let separator: Unicode.Scalar = "\u{E000}"

    private let lock = NSLock()
    // Guarded by `lock`:
    private var initialization: Result<Void, PhonemizerError>?
    private var currentVoice: String?
    private var currentVoiceIdentifier = ""

    private init() {}

    /// Translates `text` with `voice`, clause by clause, in IPA and (when `withMnemonics`) a second time in
    /// espeak-ng's mnemonics. Both passes read the same text from the same state, so their clauses correspond.
    ///
    /// - Important: `text` must not contain U+0000 (the C string would end there).
    func translate(_ text: String, voice: String, withMnemonics: Bool) throws(PhonemizerError) -> EspeakTranslation {
        lock.lock()
        defer { lock.unlock() }
        try initializeIfNeeded()
        try select(voice)
        var bytes = Array(text.utf8)
        bytes.append(0)
        let separator = Int32(Self.separator.value) << 8
        let ipa = try clauses(of: bytes, mode: espeakPHONEMES_IPA | separator, voice: voice)
        let mnemonics = withMnemonics ? try clauses(of: bytes, mode: separator, voice: voice) : nil
        return EspeakTranslation(ipa: ipa, mnemonics: mnemonics, voiceIdentifier: currentVoiceIdentifier)
    }

    /// espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT) spelled out, so that a
    /// failure comes back with espeak-ng's message instead of ending the process. The data folder is the system's
    /// (Debian: /usr/lib/x86_64-linux-gnu/espeak-ng-data), or `ESPEAK_DATA_PATH` when set.
    private func initializeIfNeeded() throws(PhonemizerError) {
        if let initialization {
            try initialization.get()
            return
        }
        espeak_ng_InitializePath(nil)
        var context: espeak_ng_ERROR_CONTEXT? = nil
        let status = espeak_ng_Initialize(&context)
        espeak_ng_ClearErrorContext(&context)
        guard status == ENS_OK else {
            let error = PhonemizerError.initializationFailed(detail: Self.message(for: status))
            initialization = .failure(error)
            throw error
        }
        let output = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, nil)
        guard output == ENS_OK else {
            let error = PhonemizerError.initializationFailed(detail: Self.message(for: output))
            initialization = .failure(error)
            throw error
        }
        initialization = .success(())
    }

    private func select(_ voice: String) throws(PhonemizerError) {
        if voice == currentVoice { return }
        guard !voice.isEmpty else { throw PhonemizerError.unknownVoice(voice, detail: "no voice name given") }
        currentVoice = nil
        let status = espeak_ng_SetVoiceByName(voice)
        guard status == ENS_OK else { throw PhonemizerError.unknownVoice(voice, detail: Self.message(for: status)) }
        currentVoice = voice
        currentVoiceIdentifier = espeak_GetCurrentVoice()?.pointee.identifier.map { String(cString: $0) } ?? voice
    }

    /// Calls `espeak_TextToPhonemes` until the text pointer comes back NULL, recording each clause.
    private func clauses(of bytes: [UInt8], mode: Int32, voice: String) throws(PhonemizerError)
        -> [EspeakTranslation.Clause]
    {
        let result: [EspeakTranslation.Clause]? = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            var pointer: UnsafeRawPointer? = UnsafeRawPointer(base)
            var clauses: [EspeakTranslation.Clause] = []
            // Each call takes at least one character; the bound only guards against a library that does not.
            while pointer != nil && clauses.count <= buffer.count {
                guard let phonemes = espeak_TextToPhonemes(&pointer, espeakCHARS_UTF8, mode) else { return nil }
                let offset = pointer.map { $0 - UnsafeRawPointer(base) }
                clauses.append(EspeakTranslation.Clause(phonemes: String(cString: phonemes), byteOffset: offset))
            }
            return pointer == nil ? clauses : nil
        }
        guard let result else { throw PhonemizerError.translationFailed(voice) }
        return result
    }

    private static func message(for status: espeak_ng_STATUS) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        espeak_ng_GetStatusCodeMessage(status, &buffer, buffer.count)
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
