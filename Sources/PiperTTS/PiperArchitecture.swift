// The sizes of a Piper VITS voice, read from its weights' shapes and its graph's conv attributes, never from
// its name or its `.onnx.json` (research/piper.md §1.2: "low" voices are medium or x_low inside, and some "high"
// voices are medium-sized). Hyperparameters follow piper_train/vits/lightning.py and models.py (SynthesizerTrn).

import Tensors

/// The architecture of a Piper VITS voice.
public struct PiperArchitecture: Codable, Sendable, Equatable {
    /// Piper's quality levels by architecture (the voice's own `quality` label may say otherwise).
    public enum Quality: String, Codable, Sendable {
        /// hidden 96, ResBlock2, upsampling 8·8·4.
        case xLow = "x_low"
        /// hidden 192, ResBlock2, upsampling 8·8·4 (also most "low" voices).
        case medium
        /// hidden 192, ResBlock1, upsampling 8·8·2·2.
        case high
    }

    /// HiFi-GAN's residual block kinds (`resblock` "1" or "2" in the training config).
    public enum ResBlock: String, Codable, Sendable {
        /// Per dilation: x += conv2(lrelu(conv1_dilated(lrelu(x)))).
        case one = "1"
        /// Per dilation: x += conv(lrelu(x)).
        case two = "2"
    }

    /// The quality level this architecture is (read from the sizes, not the voice's label).
    public var quality: Quality
    /// Phoneme id vocabulary (rows of the embedding).
    public var symbolCount: Int
    /// Text encoder width (192; 96 for x_low).
    public var hiddenChannels: Int
    /// Latent channels (`inter_channels`, the flow's and the decoder's input).
    public var interChannels: Int
    /// Text encoder FFN width (768; 384 for x_low).
    public var filterChannels: Int
    /// Attention heads (2).
    public var heads: Int
    /// Text encoder layers (6).
    public var encoderLayers: Int
    /// Relative-position window (4): positions j − i in −window…window have their own embedding.
    public var attentionWindow: Int
    /// Text encoder FFN kernel (3).
    public var ffnKernel: Int
    /// Stochastic duration predictor width.
    public var durationChannels: Int
    /// DDSConv layers per DDSConv (3; dilations kernel^i).
    public var durationConvLayers: Int
    /// The ConvFlow modules `dp.flows.N` run in reverse, in that order (e.g. [7, 5, 3]).
    public var durationFlows: [Int]
    /// Bins of the rational-quadratic spline (10).
    public var splineBins: Int
    /// The coupling layers `flow.flows.N` run in reverse, in that order (e.g. [6, 4, 2, 0]).
    public var flowCouplings: [Int]
    /// WaveNet layers per coupling layer (4).
    public var flowLayers: Int
    /// Channels of HiFi-GAN's first stage (256; 512 for high).
    public var upsampleInitialChannels: Int
    /// Upsampling factor of each stage; their product is the hop length.
    public var upsampleRates: [Int]
    /// Transposed-conv kernel of each stage.
    public var upsampleKernels: [Int]
    /// The residual block kind of every stage.
    public var resblock: ResBlock
    /// Kernel of each of a stage's residual blocks.
    public var resblockKernels: [Int]
    /// Dilations of each of a stage's residual blocks.
    public var resblockDilations: [[Int]]
    /// Speakers (1 for single-speaker voices).
    public var speakerCount: Int
    /// Speaker embedding width (`gin_channels`), 0 for single-speaker voices.
    public var speakerChannels: Int

    /// Samples per latent frame.
    public var hopLength: Int { upsampleRates.reduce(1, *) }
    /// Whether the voice takes a speaker id.
    public var isMultiSpeaker: Bool { speakerChannels > 0 }
}

extension PiperArchitecture {
    /// Reads the architecture from the weights, checking every shape the model relies on.
    init(weights w: PiperGraphWeights) throws(PiperError) {
        let path = w.path
        func fail(_ reason: String) -> PiperError { .notAVoice(path, reason) }
        func shape(_ module: String) throws(PiperError) -> [Int] { try w.conv(module).weight.shape }
        func count(_ prefix: String, _ suffix: String = "") -> Int {
            (0..<1024).prefix { w.has("\(prefix)\($0)\(suffix)") }.count
        }

        symbolCount = w.embedding.shape[0]
        hiddenChannels = w.embedding.shape[1]
        let h = hiddenChannels

        // Text encoder.
        encoderLayers = count("enc_p.encoder.attn_layers.", ".conv_q")
        guard encoderLayers > 0 else { throw fail("no text encoder (enc_p.encoder.attn_layers.0.conv_q)") }
        guard let relK = w.tensor("enc_p.encoder.attn_layers.0.emb_rel_k"), relK.rank == 3, relK.shape[0] == 1,
            relK.shape[1] % 2 == 1, relK.shape[2] > 0, h % relK.shape[2] == 0
        else { throw fail("no shared relative-position table enc_p.encoder.attn_layers.0.emb_rel_k [1, 2w+1, d]") }
        attentionWindow = relK.shape[1] / 2
        heads = h / relK.shape[2]
        let ffn = try shape("enc_p.encoder.ffn_layers.0.conv_1")
        filterChannels = ffn[0]
        ffnKernel = ffn[2]
        let proj = try shape("enc_p.proj")
        guard proj[0] % 2 == 0, proj[1] == h else { throw fail("enc_p.proj has shape \(proj)") }
        interChannels = proj[0] / 2

        // Stochastic duration predictor.
        let pre = try shape("dp.pre")
        guard pre[1] == h else { throw fail("dp.pre has shape \(pre)") }
        durationChannels = pre[0]
        durationConvLayers = count("dp.convs.convs_sep.")
        guard durationConvLayers > 0 else { throw fail("no DDSConv dp.convs.convs_sep.0") }
        // VITS drops `dp.flows.1` ("a useless vflow") in reverse; the export leaves it out.
        durationFlows = (2..<64).filter { w.has("dp.flows.\($0).pre") }.reversed()
        guard let lastFlow = durationFlows.first else { throw fail("no ConvFlow dp.flows.N") }
        let splineProjection = try shape("dp.flows.\(lastFlow).proj")
        guard splineProjection[0] % 3 == 2 else {
            throw fail("dp.flows.\(lastFlow).proj has shape \(splineProjection)")
        }
        splineBins = (splineProjection[0] + 1) / 3

        // Flow.
        flowCouplings = (0..<64).filter { w.has("flow.flows.\($0).pre") }.reversed()
        guard let coupling = flowCouplings.last else { throw fail("no coupling layer flow.flows.N") }
        flowLayers = count("flow.flows.\(coupling).enc.in_layers.")
        guard flowLayers > 0 else { throw fail("no WaveNet flow.flows.\(coupling).enc.in_layers.0") }
        let post = try shape("flow.flows.\(coupling).post")
        guard post[0] == interChannels / 2 else {
            throw PiperError(.unsupportedVoice, "flow.flows.\(coupling).post is not mean-only (\(post))", path: path)
        }

        // Decoder.
        let convPre = try shape("dec.conv_pre")
        guard convPre[1] == interChannels else { throw fail("dec.conv_pre has shape \(convPre)") }
        upsampleInitialChannels = convPre[0]
        let stages = count("dec.ups.")
        guard stages > 0 else { throw fail("no upsampling layer dec.ups.0") }
        var rates: [Int] = []
        var kernels: [Int] = []
        for i in 0..<stages {
            let up = try w.conv("dec.ups.\(i)")
            guard up.isTranspose, up.stride >= 1 else { throw fail("dec.ups.\(i) is not a ConvTranspose") }
            rates.append(up.stride)
            kernels.append(up.kernel)
        }
        upsampleRates = rates
        upsampleKernels = kernels
        let blocks = count("dec.resblocks.", w.has("dec.resblocks.0.convs1.0") ? ".convs1.0" : ".convs.0")
        guard blocks > 0, blocks % stages == 0 else { throw fail("\(blocks) residual blocks for \(stages) stages") }
        resblock = w.has("dec.resblocks.0.convs1.0") ? .one : .two
        let perStage = blocks / stages
        let inner = resblock == .one ? "convs1" : "convs"
        var blockKernels: [Int] = []
        var blockDilations: [[Int]] = []
        for j in 0..<perStage {
            let convs = count("dec.resblocks.\(j).\(inner).")
            blockKernels.append(try shape("dec.resblocks.\(j).\(inner).0")[2])
            var dilations: [Int] = []
            for k in 0..<convs { dilations.append(try w.conv("dec.resblocks.\(j).\(inner).\(k)").dilation) }
            blockDilations.append(dilations)
        }
        resblockKernels = blockKernels
        resblockDilations = blockDilations

        // Speakers.
        if let speakers = w.speakerEmbedding {
            speakerCount = speakers.shape[0]
            speakerChannels = speakers.shape[1]
        } else {
            speakerCount = 1
            speakerChannels = 0
        }

        quality = h < 192 ? .xLow : resblock == .one ? .high : .medium
    }
}
