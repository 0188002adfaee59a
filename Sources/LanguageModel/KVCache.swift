import Compute
import Tensors

/// The keys and values of the positions a decoder has seen, per layer, so each new token attends to them
/// without recomputing them. A value type: copy it to fork a conversation (the copy shares storage until
/// one of them writes).
///
/// Layout per layer: `[capacity, kvHeads · E]` f16, position p in row p, so one head of all cached positions
/// is a strided `MatrixView` the attention products read in place. f16 as llama.cpp keeps it: half the bytes a
/// decoded token reads back, and logits measured slightly closer to llama.cpp's than with an f32 cache.
public struct KVCache: Sendable {
    /// Positions held.
    public private(set) var count = 0
    /// The most positions it can hold.
    public let capacity: Int
    /// Width of a row: key/value heads × head width.
    let width: Int
    var keys: [Tensor]
    var values: [Tensor]
    /// Work buffers of the last `forward`, kept so decoding one token after another allocates nothing
    /// they can hold.
    var scratch: LlamaScratch?

    init(layers: Int, capacity: Int, width: Int) {
        self.capacity = capacity
        self.width = width
        // Left uninitialised: only rows below `count` are ever read, and untouched pages cost no memory, so a
        // long context is paid for only as positions fill it.
        func layer() -> Tensor {
            Tensor(
                shape: [capacity, width], dtype: .f16, storage: TensorStorage(uninitializedBytes: capacity * width * 2))
        }
        keys = (0..<layers).map { _ in layer() }
        values = (0..<layers).map { _ in layer() }
    }

    /// Forgets every position from `n` on (rewinds a conversation to a shared prefix).
    public mutating func truncate(to n: Int) {
        count = min(count, max(0, n))
    }

    /// Marks `n` more positions, already written by `write`, as held.
    mutating func advance(by n: Int) { count += n }

    /// Writes the keys and values of `rows` new positions (rows of `k` and `v`, each `[rows, width]`) after the
    /// held ones, in layer `layer`.
    mutating func write(layer: Int, keys k: Tensor, values v: Tensor, rows: Int) {
        keys[layer].storeHalves(of: k, count: rows * width, at: count * width)
        values[layer].storeHalves(of: v, count: rows * width, at: count * width)
    }
}
