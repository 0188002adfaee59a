import Compute
import Foundation
import PiperTTS
import Testing

/// Loading the default voice: the architecture read from the weights, and clear typed errors for files that are
/// not Piper voices.
@Suite("Piper voice loading")
struct PiperVoiceLoadingTests {
    @Test("the default voice's architecture is read from its weights: medium, ResBlock2, upsampling 8·8·4")
    func defaultVoiceArchitecture() throws {
        let voice = try PiperTestSupport.voice.get()
        let a = voice.architecture
        #expect(a.quality == .medium)
        #expect(a.resblock == .two)
        #expect(a.upsampleRates == [8, 8, 4])
        #expect(a.upsampleKernels == [16, 16, 8])
        #expect(a.upsampleInitialChannels == 256)
        #expect(a.hopLength == 256)
        #expect(a.resblockKernels == [3, 5, 7])
        #expect(a.resblockDilations == [[1, 2], [2, 6], [3, 12]])
        #expect(a.speakerCount == 1 && !a.isMultiSpeaker)
        #expect(a.symbolCount == 256)
        #expect(a.hiddenChannels == 192 && a.interChannels == 192 && a.filterChannels == 768)
        #expect(a.heads == 2 && a.encoderLayers == 6 && a.attentionWindow == 4 && a.ffnKernel == 3)
        #expect(a.durationFlows == [7, 5, 3] && a.splineBins == 10 && a.durationConvLayers == 3)
        #expect(a.flowCouplings == [6, 4, 2, 0] && a.flowLayers == 4)
        #expect(voice.sampleRate == 22050)
        #expect(voice.config.espeak.voice == "en-us")
        #expect(voice.config.inference == PiperVoiceConfig.Inference(noiseScale: 0.667, lengthScale: 1, noiseW: 0.8))
        #expect(voice.config.phonemeIDMap["^"] == [1] && voice.config.phonemeIDMap["_"] == [0])
    }

    @Test("a config missing optional keys loads with Piper's defaults")
    func tolerantConfig() throws {
        let json = #"{"phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [14]}, "audio": {"sample_rate": 16000}}"#
        let config = try JSONDecoder().decode(PiperVoiceConfig.self, from: Data(json.utf8))
        #expect(config.audio.sampleRate == 16000)
        #expect(config.espeak.voice == "en-us")
        #expect(config.inference.noiseScale == 0.667 && config.inference.lengthScale == 1)
        #expect(config.speakerCount == 1 && config.speakerIDMap.isEmpty && config.phonemeMap.isEmpty)
        let roundTrip = try JSONDecoder().decode(PiperVoiceConfig.self, from: try JSONEncoder().encode(config))
        #expect(roundTrip == config)
    }

    @Test("an ONNX model that is not a Piper voice is refused with .notAPiperVoice")
    func notAVoice() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "hark-piper-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appending(path: "mul.onnx")
        try PiperTestSupport.multiplyModel().write(to: model)
        let config = try PiperTestSupport.voicePath() + ".json"
        let error = #expect(throws: PiperError.self) {
            try PiperVoice(modelPath: model.path, configPath: config)
        }
        #expect(error?.code == .notAPiperVoice, "\(String(describing: error))")
        #expect(error?.path == model.path)
    }

    @Test("a truncated voice file is refused with .unreadableModel, a missing config with .unreadableConfig")
    func truncatedAndMissing() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "hark-piper-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try PiperTestSupport.voicePath()
        let truncated = directory.appending(path: "truncated.onnx")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: source))
        try handle.readData(ofLength: 1 << 20).write(to: truncated)
        try handle.close()
        let error = #expect(throws: PiperError.self) {
            try PiperVoice(modelPath: truncated.path, configPath: source + ".json")
        }
        #expect(error?.code == .unreadableModel, "\(String(describing: error))")

        let noConfig = #expect(throws: PiperError.self) {
            try PiperVoice(modelPath: truncated.path)
        }
        #expect(noConfig?.code == .unreadableConfig, "\(String(describing: noConfig))")

        let garbage = directory.appending(path: "garbage.onnx.json")
        try Data("{\"audio\": 3}".utf8).write(to: garbage)
        let invalid = #expect(throws: PiperError.self) {
            try PiperVoice(modelPath: source, configPath: garbage.path)
        }
        #expect(invalid?.code == .invalidConfig, "\(String(describing: invalid))")
    }

    @Test("unusable input is a typed error, not a crash")
    func invalidInput() throws {
        let voice = try PiperTestSupport.voice.get()
        for ids in [[], [1, 0, 300, 0, 2], [-1]] {
            let error = #expect(throws: PiperError.self) { try voice.synthesize(ids: ids) }
            #expect(error?.code == .invalidInput)
        }
        let latent = try voice.encoder.encode(
            ids: [1, 0, 20, 0, 2], parameters: PiperSynthesisParameters(noiseScale: 0, noiseW: 0))
        let error = #expect(throws: PiperError.self) {
            try voice.decoder.decode(latent, frames: 0..<(latent.frameCount + 1))
        }
        #expect(error?.code == .invalidInput)
    }
}
