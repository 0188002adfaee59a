import Tensors

extension OpParity {
    /// The product shapes of the models Hark runs, for backends that take products (the NPU): Piper's
    /// HiFi-GAN decoder (medium voices), Whisper tiny and SmolLM2-135M. Lengths are kept short so an
    /// emulated run stays quick; the shapes that decide layouts and alignment (K, N) are the models' own.
    public static func productCases(seed: UInt64 = 1) -> [Case] {
        var rng = SeededRandom(seed: seed)
        return piperDecoderCases(&rng) + whisperTinyCases(&rng) + smolLM2Cases(&rng)
    }

    /// HiFi-GAN of a medium Piper voice: conv_pre 192→512 k7, four upsamplers (k16 s8, k16 s8, k4 s2, k4 s2),
    /// resblocks with kernels 3, 7, 11 and dilations 1, 3, 5 at each width, conv_post 32→1 k7.
    static func piperDecoderCases(_ rng: inout SeededRandom) -> [Case] {
        var cases: [Case] = []
        var length = 6  // latent frames
        cases.append(
            conv1dCase(&rng, cin: 192, cout: 512, kernel: 7, length: length, params: .init(padding: 3), dtype: .f32))
        let ups = [(512, 256, 16, 8), (256, 128, 16, 8), (128, 64, 4, 2), (64, 32, 4, 2)]
        for (i, (cin, cout, k, s)) in ups.enumerated() {
            let p = ConvTranspose1DParams(stride: s, padding: (k - s) / 2)
            cases.append(
                convTransposeCase(&rng, cin: cin, cout: cout, kernel: k, length: length, params: p, dtype: .f32))
            length = p.outputLength(input: length, kernel: k)
            // One kernel size per dilation at each width keeps the run short and still covers all of them.
            for (kernel, dilation) in [(3, 1), (7, 3), (11, 5)] where i % 2 == 0 || kernel != 7 {
                let p = Conv1DParams(dilation: dilation, padding: dilation * (kernel - 1) / 2)
                cases.append(
                    conv1dCase(&rng, cin: cout, cout: cout, kernel: kernel, length: length, params: p, dtype: .f32))
            }
        }
        cases.append(
            conv1dCase(&rng, cin: 32, cout: 1, kernel: 7, length: length, params: .init(padding: 3), dtype: .f32))
        return cases
    }

    /// Whisper tiny: the conv stem (80→384 k3, 384→384 k3 s2), attention and MLP projections (d 384,
    /// FFN 1536) and the vocabulary projection (51864), with fp16 weights as CTranslate2 stores them.
    static func whisperTinyCases(_ rng: inout SeededRandom) -> [Case] {
        var cases: [Case] = []
        cases.append(
            conv1dCase(&rng, cin: 80, cout: 384, kernel: 3, length: 60, params: .init(padding: 1), dtype: .f16))
        cases.append(
            conv1dCase(
                &rng, cin: 384, cout: 384, kernel: 3, length: 60, params: .init(stride: 2, padding: 1), dtype: .f16))
        for (m, k, n) in [(30, 384, 384), (30, 384, 1152), (30, 384, 1536), (30, 1536, 384), (4, 384, 51864)] {
            cases.append(linearCase(&rng, m: m, k: k, n: n, dtype: .f16, bias: true))
        }
        return cases
    }

    /// SmolLM2-135M: d 576, FFN 1536, grouped K/V 192, vocabulary 49152; a prefill of a few tokens.
    static func smolLM2Cases(_ rng: inout SeededRandom) -> [Case] {
        [(9, 576, 576), (9, 576, 192), (9, 576, 1536), (9, 1536, 576), (3, 576, 49152)].map { m, k, n in
            linearCase(&rng, m: m, k: k, n: n, dtype: .f32, bias: false)
        }
    }
}
