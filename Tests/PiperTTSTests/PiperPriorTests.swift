import Tensors
import Testing

@testable import PiperTTS

/// The encoder stage in two steps (prior, then the flow over windows) against the one-shot `encode`.
@Suite("Encoder stage in two steps")
struct PiperPriorTests {
    @Test("the flow's receptive field is read from its convolutions: 4 couplings × 4 layers × kernel 5 = ±32 frames")
    func flowMargin() throws {
        #expect(try PiperTestSupport.voice.get().encoder.flowMargin == 32)
    }

    @Test("prior + flow over all frames equals encode, noise included; a window equals those frames")
    func windows() throws {
        let voice = try PiperTestSupport.voice.get()
        let ids = PiperTestSupport.sequence(phonemes: 60, config: voice.config, seed: 5)
        let parameters = PiperSynthesisParameters(noiseScale: 0.667, lengthScale: 1, noiseW: 0.8, seed: 21)
        let oneShot = try voice.encoder.encode(ids: ids, parameters: parameters)
        let prior = try voice.encoder.prior(ids: ids, parameters: parameters)
        #expect(prior.durations == oneShot.durations)
        let frames = prior.frameCount
        #expect(frames > 150)
        let whole = try voice.encoder.flow(prior, window: 0..<frames)
        #expect(whole.z.shape == oneShot.z.shape)
        #expect(whole.z.withUnsafeFloats(Array.init) == oneShot.z.withUnsafeFloats(Array.init))

        for window in [0..<30, 40..<100, (frames - 25)..<frames] {
            let part = try voice.encoder.flow(prior, window: window)
            #expect(part.frameCount == window.count)
            let expected = oneShot.z.columns(window).withUnsafeFloats(Array.init)
            let (maxError, _) = PiperTestSupport.compare(part.z.withUnsafeFloats(Array.init), expected)
            // Float rounding only: the products run on other shapes (z is of order 1 to 5).
            #expect(maxError <= 1e-4, "window \(window): max |Δ| \(maxError)")
        }
        #expect(throws: PiperError.self) { try voice.encoder.flow(prior, window: 0..<(frames + 1)) }
    }
}
