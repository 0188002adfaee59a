// The two stages of the speech pipeline as actors, each on a thread of its own: the encoder stage (CPU) turns a
// sentence's ids into a latent while the decoder stage turns the previous sentence's latent into audio.

import ThreadExecutors

/// The encoder stage of a pipeline: one sentence's ids → its prior, and the prior → latent frames through the flow,
/// on the stage's own thread.
actor EncoderWorker {
    private let thread: DedicatedThread
    /// The stage it runs.
    let stage: PiperEncoderStage

    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Starts the stage's thread.
    /// - Throws: `PiperError` `.computeFailed` when the thread cannot start.
    init(_ stage: PiperEncoderStage) throws(PiperError) {
        do {
            thread = try DedicatedThread(name: "encoder stage")
        } catch {
            throw PiperError(.computeFailed, "cannot start a thread for the encoder stage: \(error)")
        }
        self.stage = stage
    }

    deinit {
        thread.shutDown()
    }

    /// `PiperEncoderStage.prior(ids:parameters:)`: text encoder, duration predictor, alignment, prior sampling.
    func prior(ids: [Int], parameters: PiperSynthesisParameters) throws(PiperError) -> PiperPrior {
        try stage.prior(ids: ids, parameters: parameters)
    }

    /// `PiperEncoderStage.flow(_:window:)`: the flow over a window of frames.
    func flow(_ prior: PiperPrior, window: Range<Int>) throws(PiperError) -> PiperLatent {
        try stage.flow(prior, window: window)
    }
}

/// The decoder stage of a pipeline: frame ranges of a latent → samples ready to play, on the stage's own thread.
actor DecoderWorker {
    private let thread: DedicatedThread
    /// The stage it runs.
    let stage: PiperDecoderStage

    nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Starts the stage's thread.
    /// - Throws: `PiperError` `.computeFailed` when the thread cannot start.
    init(_ stage: PiperDecoderStage) throws(PiperError) {
        do {
            thread = try DedicatedThread(name: "decoder stage")
        } catch {
            throw PiperError(.computeFailed, "cannot start a thread for the decoder stage: \(error)")
        }
        self.stage = stage
    }

    deinit {
        thread.shutDown()
    }

    /// The samples of `frames` of `latent` (`PiperDecoderStage.decode(_:frames:margin:)`), times `volume` and clipped
    /// to [−1, 1], with the time the decoder took.
    func decode(_ latent: PiperLatent, frames: Range<Int>, margin: Int, volume: Float) throws(PiperError) -> (
        samples: [Float], time: Duration
    ) {
        let clock = ContinuousClock()
        let start = clock.now
        var samples = try stage.decode(latent, frames: frames, margin: margin)
        if volume != 1 {
            for i in samples.indices { samples[i] = min(1, max(-1, samples[i] * volume)) }
        }
        return (samples, clock.now - start)
    }
}
