import Tensors

extension OpParity {
    /// The standard cases: every op, on shapes drawn from the models Hark runs (Whisper tiny, Piper's
    /// HiFi-GAN, a small Llama) and on random odd sizes, with every parameter the ops take exercised.
    public static func standardCases(seed: UInt64 = 1) -> [Case] {
        var rng = SeededRandom(seed: seed)
        var cases: [Case] = []

        // Linear: decode (m = 1) and prefill (m > 1), odd sizes, each weight type, with and without bias.
        for (m, k, n) in [(1, 384, 1152), (7, 384, 51), (13, 65, 33), (1, 127, 255), (24, 96, 97)] {
            for dtype in [DType.f32, .f16, .bf16] {
                cases.append(linearCase(&rng, m: m, k: k, n: n, dtype: dtype, bias: n % 2 == 1 || m > 1))
            }
        }
        cases.append(
            linearCase(&rng, m: rng.int(2...40), k: rng.int(3...200), n: rng.int(3...200), dtype: .f32, bias: true))

        // Linear with ggml block-quantized weights (SmolLM2's q4_1 / q8_0): decode and prefill, odd n,
        // k = 64 / 96 / 576; both sides read the same dequantized values, so only f32 rounding differs.
        for (m, k, n) in [(1, 64, 33), (7, 96, 51), (1, 576, 193), (9, 576, 65), (3, 96, 17)] {
            for dtype in [DType.q4_0, .q4_1, .q8_0] {
                cases.append(linearCase(&rng, m: m, k: k, n: n, dtype: dtype, bias: n % 2 == 1 && m > 1))
            }
        }

        // Linear with k-quant weights (q4_K, q6_K) at LLM shapes (k = 1536, 2048; a tall output head), decode
        // and prefill, odd n. k must be whole 256-element super-blocks (so not SmolLM2's 576: llama.cpp
        // falls back to a 32-element format for such rows).
        for (m, k, n) in [
            (1, 1536, 576), (1, 512, 1536), (3, 2048, 97), (1, 768, 2049), (9, 1536, 193), (17, 256, 33),
        ] {
            for dtype in [DType.q4_K, .q6_K] {
                cases.append(linearCase(&rng, m: m, k: k, n: n, dtype: dtype, bias: n % 2 == 1 && m > 1))
            }
        }

        // Matmul on activations: dense, transposed B, batched, GQA broadcast, strided head views, beta.
        cases.append(matmulCase(&rng, batch: 1, m: 17, k: 31, n: 23, transposeB: false, groups: 1, alpha: 1, beta: 0))
        cases.append(matmulCase(&rng, batch: 6, m: 9, k: 64, n: 9, transposeB: true, groups: 1, alpha: 0.125, beta: 0))
        cases.append(matmulCase(&rng, batch: 6, m: 1, k: 64, n: 37, transposeB: true, groups: 3, alpha: 0.125, beta: 0))
        cases.append(matmulCase(&rng, batch: 4, m: 5, k: 19, n: 64, transposeB: false, groups: 2, alpha: 1, beta: 0.5))
        cases.append(headViewCase(&rng, tokens: 11, heads: 6, headDim: 64))

        // conv1d: Whisper's stem, HiFi-GAN's resblocks (dilations 1, 3, 5), strides, asymmetric padding,
        // grouped and depthwise, 1×1.
        let convs: [(Int, Int, Int, Int, Conv1DParams)] = [
            (80, 96, 3, 61, Conv1DParams(stride: 1, padding: 1)),
            (96, 96, 3, 61, Conv1DParams(stride: 2, padding: 1)),
            (32, 32, 3, 50, Conv1DParams(stride: 1, dilation: 3, padding: 3)),
            (32, 32, 11, 50, Conv1DParams(stride: 1, dilation: 5, padding: 25)),
            (64, 1, 7, 45, Conv1DParams(stride: 1, padding: 3)),
            (17, 19, 5, 33, Conv1DParams(stride: 3, dilation: 2, padLeft: 4, padRight: 1, groups: 1)),
            (24, 12, 3, 29, Conv1DParams(stride: 1, padding: 1, groups: 3)),
            (16, 16, 3, 40, Conv1DParams(stride: 1, dilation: 2, padding: 2, groups: 16)),
            (33, 21, 1, 37, Conv1DParams()),
            // Long enough for the time-tiled path (its packed weights): rows of A in one panel block, K over
            // two KC slices with a partial row panel, and rows of A over two MC blocks.
            (32, 32, 7, 700, Conv1DParams(stride: 1, dilation: 3, padding: 9)),
            (130, 70, 5, 300, Conv1DParams(stride: 1, padding: 2)),
            // Long enough for Winograd F(4, r) (kernel 7; kernel 5 from 64 channels in), dilated and not, an odd
            // output count and channel counts off the GEMM's tiles.
            (64, 40, 7, 1700, Conv1DParams(stride: 1, padding: 3)),
            (32, 32, 7, 1601, Conv1DParams(stride: 1, dilation: 3, padding: 9)),
            (72, 64, 5, 1300, Conv1DParams(stride: 1, padding: 2)),
            (8, 1100, 3, 200, Conv1DParams(stride: 1, padding: 1)),
        ]
        for (cin, cout, k, len, p) in convs {
            cases.append(conv1dCase(&rng, cin: cin, cout: cout, kernel: k, length: len, params: p, dtype: .f32))
        }
        cases.append(
            conv1dCase(&rng, cin: 40, cout: 48, kernel: 3, length: 30, params: Conv1DParams(padding: 1), dtype: .f16))

        // conv-transpose1d: HiFi-GAN upsamplers (k 16 s 8, k 4 s 2), output padding, groups, dilation.
        let convTs: [(Int, Int, Int, Int, ConvTranspose1DParams)] = [
            (64, 32, 16, 13, ConvTranspose1DParams(stride: 8, padding: 4)),
            (32, 16, 4, 21, ConvTranspose1DParams(stride: 2, padding: 1)),
            (12, 9, 5, 17, ConvTranspose1DParams(stride: 3, padding: 2, outputPadding: 1)),
            (12, 6, 3, 10, ConvTranspose1DParams(stride: 2, dilation: 2, padding: 1, groups: 3)),
            // Long enough for several time tiles (the CPU's polyphase form, its 4-row interleave).
            (64, 32, 8, 300, ConvTranspose1DParams(stride: 4, padding: 2)),
        ]
        for (cin, cout, k, len, p) in convTs {
            cases.append(convTransposeCase(&rng, cin: cin, cout: cout, kernel: k, length: len, params: p, dtype: .f32))
        }
        cases.append(
            convTransposeCase(
                &rng, cin: 16, cout: 8, kernel: 16, length: 9, params: ConvTranspose1DParams(stride: 8, padding: 4),
                dtype: .f16))

        // Norms and softmax: rows of Whisper width, channels-first VITS layout, odd sizes, causal masks.
        cases.append(layerNormCase(&rng, shape: [23, 384], axis: 1, affine: true))
        cases.append(layerNormCase(&rng, shape: [192, 37], axis: 0, affine: true))
        cases.append(layerNormCase(&rng, shape: [3, 17, 301], axis: 1, affine: false))
        cases.append(rmsNormCase(&rng, shape: [9, 576], gamma: true))
        cases.append(rmsNormCase(&rng, shape: [5, 33], gamma: false))
        cases.append(softmaxCase(&rng, shape: [6, 13, 13], causalOffset: 0))
        cases.append(softmaxCase(&rng, shape: [12, 7, 40], causalOffset: 33))
        cases.append(softmaxCase(&rng, shape: [31, 1001], causalOffset: nil))

        // Activations, including a length that is not a multiple of any vector width.
        for f in [
            Activation.gelu, .geluTanh, .silu, .relu, .leakyReLU(slope: 0.1), .leakyReLU(slope: 0.01), .tanh, .sigmoid,
        ] {
            cases.append(activationCase(&rng, f, count: 40_001))
        }

        // Broadcasting element-wise ops: same shape, bias per feature, per channel, scalar, middle axis.
        let pairs: [([Int], [Int])] = [
            ([33, 77], [33, 77]), ([50, 384], [384]), ([192, 45], [192, 1]), ([7, 9], [1]),
            ([4, 5, 6], [5, 1]), ([2, 3, 4], [3, 4]),
        ]
        for (a, b) in pairs {
            cases.append(binaryCase(&rng, .add, a, b))
            cases.append(binaryCase(&rng, .mul, a, b))
        }

        // Embedding lookups from f32, f16 and bf16 tables.
        for dtype in [DType.f32, .f16, .bf16] {
            cases.append(embeddingCase(&rng, vocab: 97, dim: 48, count: 13, dtype: dtype))
        }
        cases.append(embeddingCase(&rng, vocab: 97, dim: 96, count: 13, dtype: .q8_0))
        cases.append(embeddingCase(&rng, vocab: 31, dim: 64, count: 5, dtype: .q4_1))
        cases.append(embeddingCase(&rng, vocab: 29, dim: 512, count: 7, dtype: .q4_K))
        cases.append(embeddingCase(&rng, vocab: 29, dim: 256, count: 7, dtype: .q6_K))

        // RoPE: both pairings, full and partial rotary dimensions, scaled frequencies.
        cases.append(ropeCase(&rng, tokens: 9, heads: 3, headDim: 64, rotaryDim: 64, mode: .interleaved, freqScale: 1))
        cases.append(ropeCase(&rng, tokens: 5, heads: 2, headDim: 32, rotaryDim: 16, mode: .halves, freqScale: 0.5))

        // Transpose: a conv output [channels, time] to transformer rows [time, channels], odd sizes.
        cases.append(transposeCase(&rng, rows: 37, cols: 101))
        cases.append(transposeCase(&rng, rows: 384, cols: 65))

        // Attention: Whisper's encoder (heads read out of a fused QKV projection, rows and keys not whole tiles),
        // the decoder's cached self-attention (causal, one row and a prompt) and cross-attention, grouped-query
        // heads, and a head width the tiled kernel does not take.
        cases.append(attentionCase(&rng, heads: 6, kvHeads: 6, rows: 37, keys: 37, headDim: 64, causalOffset: nil))
        cases.append(attentionCase(&rng, heads: 2, kvHeads: 2, rows: 45, keys: 45, headDim: 32, causalOffset: 0))
        cases.append(attentionCase(&rng, heads: 6, kvHeads: 6, rows: 1, keys: 23, headDim: 64, causalOffset: 22))
        cases.append(attentionCase(&rng, heads: 6, kvHeads: 6, rows: 3, keys: 9, headDim: 64, causalOffset: 6))
        cases.append(attentionCase(&rng, heads: 6, kvHeads: 6, rows: 2, keys: 150, headDim: 64, causalOffset: nil))
        cases.append(attentionCase(&rng, heads: 6, kvHeads: 2, rows: 9, keys: 20, headDim: 64, causalOffset: 11))
        cases.append(attentionCase(&rng, heads: 3, kvHeads: 3, rows: 10, keys: 17, headDim: 24, causalOffset: nil))
        // Keys and values kept in f16 (the decoder's cross-attention cache in int8 mode).
        cases.append(
            attentionCase(&rng, heads: 6, kvHeads: 6, rows: 1, keys: 150, headDim: 64, causalOffset: nil, kvType: .f16))
        cases.append(
            attentionCase(&rng, heads: 2, kvHeads: 2, rows: 12, keys: 40, headDim: 64, causalOffset: nil, kvType: .f16))
        return cases
    }

    // MARK: - Case builders

    /// Uniform values in [−scale, scale] stored as `dtype`: plain types directly, block formats quantized.
    static func randomWeight(_ rng: inout SeededRandom, _ shape: [Int], scale: Float, dtype: DType) -> Tensor {
        guard Quantization.supports(dtype) else { return rng.tensor(shape, scale: scale, dtype: dtype) }
        return Quantization.quantize(rng.tensor(shape, scale: scale).floats(), shape: shape, as: dtype)
    }

    static func linearCase(_ rng: inout SeededRandom, m: Int, k: Int, n: Int, dtype: DType, bias: Bool) -> Case {
        let x = rng.tensor([m, k])
        let w = randomWeight(&rng, [n, k], scale: 0.2, dtype: dtype)
        let b = bias ? rng.tensor([n]) : nil
        return Case(op: .linear(m: m, k: k, n: n, weight: dtype), tolerance: Tolerance.products, weight: (w, .linear)) {
            be, pw throws(ComputeError) in
            var y = Tensor(zeros: [m, n])
            try be.linear(x, weight: pw!, bias: b, into: &y)
            return y
        }
    }

    static func matmulCase(
        _ rng: inout SeededRandom, batch: Int, m: Int, k: Int, n: Int, transposeB: Bool, groups: Int, alpha: Float,
        beta: Float
    ) -> Case {
        let a = rng.tensor([batch, m, k])
        let bBatch = batch / groups
        let b = rng.tensor(transposeB ? [bBatch, n, k] : [bBatch, k, n])
        let c0 = rng.tensor([batch, m, n])
        let av = MatrixView(dense: a)
        let bv = MatrixView(dense: b)
        let cv = MatrixView(dense: c0)
        return Case(
            op: .matmul(batch: batch, m: m, k: k, n: n, transposeB: transposeB), tolerance: Tolerance.products,
            weight: nil
        ) { be, _ throws(ComputeError) in
            var c = c0
            try be.matmul(a, av, b, bv, transposeB: transposeB, alpha: alpha, beta: beta, into: &c, cv)
            return c
        }
    }

    /// Attention scores for every head straight out of [tokens, heads · headDim] q and k, no copies.
    static func headViewCase(_ rng: inout SeededRandom, tokens: Int, heads: Int, headDim: Int) -> Case {
        let q = rng.tensor([tokens, heads * headDim])
        let k = rng.tensor([tokens, heads * headDim])
        let view = MatrixView(
            batch: heads, rows: tokens, cols: headDim, rowStride: heads * headDim, batchStride: headDim)
        let cv = MatrixView(batch: heads, rows: tokens, cols: tokens)
        return Case(
            op: .matmul(batch: heads, m: tokens, k: headDim, n: tokens, transposeB: true),
            tolerance: Tolerance.products, weight: nil
        ) { be, _ throws(ComputeError) in
            var s = Tensor(zeros: [heads, tokens, tokens])
            try be.matmul(q, view, k, view, transposeB: true, alpha: 0.125, beta: 0, into: &s, cv)
            return s
        }
    }

    static func conv1dCase(
        _ rng: inout SeededRandom, cin: Int, cout: Int, kernel: Int, length: Int, params: Conv1DParams, dtype: DType
    ) -> Case {
        let x = rng.tensor([cin, length])
        let w = rng.tensor([cout, cin / params.groups, kernel], scale: 0.3, dtype: dtype)
        let b = rng.tensor([cout])
        let tout = params.outputLength(input: length, kernel: kernel)
        let op = Op.conv1d(
            inChannels: cin, outChannels: cout, kernel: kernel, length: length, params: params, weight: dtype)
        return Case(op: op, tolerance: Tolerance.products, weight: (w, .conv1d(params))) {
            be, pw throws(ComputeError) in
            var y = Tensor(zeros: [cout, tout])
            try be.conv1d(x, weight: pw!, bias: b, params: params, into: &y)
            return y
        }
    }

    static func convTransposeCase(
        _ rng: inout SeededRandom, cin: Int, cout: Int, kernel: Int, length: Int, params: ConvTranspose1DParams,
        dtype: DType
    ) -> Case {
        let x = rng.tensor([cin, length])
        let w = rng.tensor([cin, cout / params.groups, kernel], scale: 0.3, dtype: dtype)
        let b = rng.tensor([cout])
        let tout = params.outputLength(input: length, kernel: kernel)
        let op = Op.convTranspose1d(
            inChannels: cin, outChannels: cout, kernel: kernel, length: length, params: params, weight: dtype)
        return Case(op: op, tolerance: Tolerance.products, weight: (w, .convTranspose1d(params))) {
            be, pw throws(ComputeError) in
            var y = Tensor(zeros: [cout, tout])
            try be.convTranspose1d(x, weight: pw!, bias: b, params: params, into: &y)
            return y
        }
    }

    static func layerNormCase(_ rng: inout SeededRandom, shape: [Int], axis: Int, affine: Bool) -> Case {
        let x = rng.tensor(shape, scale: 3)
        let n = shape[axis]
        let g = affine ? rng.tensor([n]) : nil
        let b = affine ? rng.tensor([n]) : nil
        let op = Op.layerNorm(outer: shape[..<axis].reduce(1, *), n: n, inner: shape[(axis + 1)...].reduce(1, *))
        return Case(op: op, tolerance: Tolerance.elementwise, weight: nil) { be, _ throws(ComputeError) in
            var y = x
            try be.layerNorm(&y, axis: axis, gamma: g, beta: b, epsilon: 1e-5)
            return y
        }
    }

    static func rmsNormCase(_ rng: inout SeededRandom, shape: [Int], gamma: Bool) -> Case {
        let x = rng.tensor(shape, scale: 2)
        let g = gamma ? rng.tensor([shape.last!]) : nil
        return Case(
            op: .rmsNorm(rows: x.count / shape.last!, n: shape.last!), tolerance: Tolerance.elementwise, weight: nil
        ) { be, _ throws(ComputeError) in
            var y = x
            try be.rmsNorm(&y, gamma: g, epsilon: 1e-6)
            return y
        }
    }

    static func softmaxCase(_ rng: inout SeededRandom, shape: [Int], causalOffset: Int?) -> Case {
        let x = rng.tensor(shape, scale: 8)
        let n = shape.last!
        return Case(op: .softmax(rows: x.count / n, n: n), tolerance: Tolerance.elementwise, weight: nil) {
            be, _ throws(ComputeError) in
            var y = x
            try be.softmax(&y, causalOffset: causalOffset)
            return y
        }
    }

    static func activationCase(_ rng: inout SeededRandom, _ f: Activation, count: Int) -> Case {
        let x = rng.tensor([count], scale: 6)
        return Case(op: .activation(f, count: count), tolerance: Tolerance.elementwise, weight: nil) {
            be, _ throws(ComputeError) in
            var y = x
            try be.activation(f, &y)
            return y
        }
    }

    static func binaryCase(_ rng: inout SeededRandom, _ op: BinaryOp, _ a: [Int], _ b: [Int]) -> Case {
        let x = rng.tensor(a)
        let y = rng.tensor(b)
        return Case(op: .binary(op, count: x.count), tolerance: Tolerance.elementwise, weight: nil) {
            be, _ throws(ComputeError) in
            var out = x
            try be.binary(op, &out, y)
            return out
        }
    }

    static func embeddingCase(_ rng: inout SeededRandom, vocab: Int, dim: Int, count: Int, dtype: DType) -> Case {
        let table = randomWeight(&rng, [vocab, dim], scale: 1, dtype: dtype)
        let ids = (0..<count).map { _ in Int32(rng.int(0...(vocab - 1))) }
        return Case(
            op: .embedding(vocab: vocab, dim: dim, count: count, table: dtype), tolerance: Tolerance.elementwise,
            weight: (table, .embedding)
        ) { be, pw throws(ComputeError) in
            var y = Tensor(zeros: [count, dim])
            try be.embedding(pw!, ids: ids, into: &y)
            return y
        }
    }

    static func ropeCase(
        _ rng: inout SeededRandom, tokens: Int, heads: Int, headDim: Int, rotaryDim: Int, mode: RoPEMode,
        freqScale: Float
    ) -> Case {
        let x = rng.tensor([tokens, heads, headDim])
        let positions = (0..<tokens).map { Int32(100 + 7 * $0) }
        return Case(
            op: .rope(tokens: tokens, heads: heads, headDim: headDim, mode: mode), tolerance: Tolerance.elementwise,
            weight: nil
        ) { be, _ throws(ComputeError) in
            var y = x
            try be.rope(&y, positions: positions, rotaryDim: rotaryDim, base: 10000, freqScale: freqScale, mode: mode)
            return y
        }
    }

    static func transposeCase(_ rng: inout SeededRandom, rows: Int, cols: Int) -> Case {
        let x = rng.tensor([rows, cols])
        return Case(op: .transpose(rows: rows, cols: cols), tolerance: Tolerance.elementwise, weight: nil) {
            be, _ throws(ComputeError) in
            var y = Tensor(zeros: [cols, rows])
            try be.transpose(x, into: &y)
            return y
        }
    }
}

extension OpParity {
    /// Attention with every head read out of one fused [rows, q | k | v] tensor (k and v have `keys` rows of
    /// their own when they differ from the query rows, as the decoder's cache does).
    static func attentionCase(
        _ rng: inout SeededRandom, heads: Int, kvHeads: Int, rows: Int, keys: Int, headDim: Int, causalOffset: Int?,
        kvType: DType = .f32
    ) -> Case {
        let (qWidth, kvWidth) = (heads * headDim, kvHeads * headDim)
        let q = rng.tensor([rows, qWidth + 2 * kvWidth])
        let kv = rng.tensor([keys, 2 * kvWidth], dtype: kvType)
        let qv = MatrixView(
            batch: heads, rows: rows, cols: headDim, rowStride: qWidth + 2 * kvWidth, batchStride: headDim)
        let kView = MatrixView(batch: kvHeads, rows: keys, cols: headDim, rowStride: 2 * kvWidth, batchStride: headDim)
        let vView = MatrixView(
            offset: kvWidth, batch: kvHeads, rows: keys, cols: headDim, rowStride: 2 * kvWidth, batchStride: headDim)
        let ov = MatrixView(batch: heads, rows: rows, cols: headDim, rowStride: qWidth, batchStride: headDim)
        let scale = 1 / Float(headDim).squareRoot()
        return Case(
            op: .attention(
                heads: heads, kvHeads: kvHeads, rows: rows, keys: keys, headDim: headDim, causal: causalOffset != nil),
            tolerance: Tolerance.products, weight: nil
        ) { be, _ throws(ComputeError) in
            var out = Tensor(zeros: [rows, qWidth])
            try be.attention(q, qv, kv, kView, kv, vView, scale: scale, causalOffset: causalOffset, into: &out, ov)
            return out
        }
    }
}
