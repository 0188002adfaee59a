#!/usr/bin/env python3
"""Where does a re-implementation part from llama.cpp? A diagnostic for Hark's LLM parity work (issue 8).

Runs llama.cpp (llama-cpp-python) on a few tokens with an eval callback that copies its named intermediate
tensors (attn_norm-L, Qcur-L, Kcur-L, Vcur-L, kqv_out-L, ffn_inp-L, ffn_norm-L, ffn_out-L, l_out-L), then runs a
NumPy forward of the same GGUF (Llama family, Q4_1 / Q8_0 weights) that mimics llama.cpp's CPU arithmetic:
activations quantized to q8_1 / q8_0 per 32-block (scale = max/127 kept as f16, sum term s = f16(d * sum q)),
RMSNorm summed in double, RoPE angles multiplied up in f32, K/V/Q and attention weights rounded to f16. For each
op it prints the largest difference from llama.cpp's tensor, first with the previous op's input taken from
llama.cpp (is the op itself the same?), then free-running (how does a difference grow?).

What it showed for SmolLM2-135M Q4_1 (2026-11-26): fed llama.cpp's inputs, every op matches it to float rounding
(llama.cpp quantizes each activation row to int8 per 32-block before every quantized matmul). Free-running, the
stream stays within 1e-7 relative until a rounding difference of one ulp moves some value across a q8 rounding
boundary (layer 4 of "The capital of France is"; layer 1 when the sequence starts with BOS, whose activations
reach 2.5e4); from there the difference grows to ~1e-3 relative. Over the 986 teacher-forced positions of
Tests/LanguageModelTests/Fixtures/llama-smollm2.json this mimicking forward agrees with llama.cpp's top-1 at
950-955 positions, a plain f32 forward (and Hark) at 963: llama.cpp's int8 activation noise is one fixed draw,
reproduced only by a bit-exact copy of ggml's kernels (summation order, exp approximation, tiling, per ISA).

    scripts/reference-env
    .venv/bin/python scripts/reference/llama_trace.py \
        ~/.local/share/hark/llm/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf --layers 4
"""
import argparse
import ctypes
import os

import gguf
import llama_cpp
import numpy as np
from gguf.quants import dequantize

OPS = ["attn_norm", "Qcur", "Kcur", "Vcur", "kqv_out", "ffn_inp", "ffn_norm", "ffn_out", "l_out"]


def llama_tensors(model, ids, names):
    """llama.cpp's f32 intermediate tensors of one batch, by graph name."""
    lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    lib.ggml_get_name.restype = ctypes.c_char_p
    lib.ggml_get_name.argtypes = [ctypes.c_void_p]
    lib.ggml_nbytes.restype = ctypes.c_size_t
    lib.ggml_nbytes.argtypes = [ctypes.c_void_p]
    lib.ggml_is_contiguous.restype = ctypes.c_bool
    lib.ggml_is_contiguous.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    found = {}

    @llama_cpp.llama_cpp.ggml_backend_sched_eval_callback
    def callback(tensor, ask, _):
        name = lib.ggml_get_name(tensor).decode()
        if ask:
            return name in names
        # struct ggml_tensor starts with its enum type: 0 is f32. Every traced tensor is [tokens, features].
        if name in names and lib.ggml_is_contiguous(tensor) and ctypes.c_int32.from_address(tensor).value == 0:
            size = lib.ggml_nbytes(tensor)
            buffer = (ctypes.c_uint8 * size)()
            lib.ggml_backend_tensor_get(tensor, buffer, 0, size)
            found[name] = np.frombuffer(bytes(buffer), np.float32).reshape(len(ids), -1).copy()
        return True

    llm = llama_cpp.Llama(model_path=model, n_ctx=512, n_threads=2, verbose=False)
    params = llm.context_params
    params.cb_eval = callback
    context = llama_cpp.llama_cpp.llama_init_from_model(llm._model.model, params)
    batch = llama_cpp.llama_cpp.llama_batch_init(len(ids), 0, 1)
    batch.n_tokens = len(ids)
    for i, token in enumerate(ids):
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, i, 1, 1
        batch.seq_id[i][0] = 0
    assert llama_cpp.llama_cpp.llama_decode(context, batch) == 0
    llama_cpp.llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_cpp.llama_free(context)
    return found, llm


class Model:
    """The GGUF's weights, kept quantized where llama.cpp keeps them, and its hyperparameters."""

    def __init__(self, path):
        reader = gguf.GGUFReader(path)
        field = lambda key: reader.fields[key].contents()
        self.layers = field("llama.block_count")
        self.heads = field("llama.attention.head_count")
        self.kv_heads = field("llama.attention.head_count_kv")
        self.head_dim = field("llama.embedding_length") // self.heads
        self.eps = np.float32(field("llama.attention.layer_norm_rms_epsilon"))
        self.base = np.float32(field("llama.rope.freq_base"))
        self.tensors = {t.name: t for t in reader.tensors}
        self.cache = {}

    def dense(self, name):
        t = self.tensors[name]
        return dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1, int(t.shape[0]))

    def q4_1(self, name):
        """(d, m, q) per row and 32-block: weight = d * q + m."""
        if name not in self.cache:
            t = self.tensors[name]
            assert t.tensor_type == gguf.GGMLQuantizationType.Q4_1, f"{name}: only Q4_1 matrices are mimicked"
            blocks = np.asarray(t.data).reshape(-1, 20)
            d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)[:, 0]
            m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)[:, 0]
            q = np.concatenate([blocks[:, 4:] & 15, blocks[:, 4:] >> 4], 1).astype(np.float32)
            rows, per_row = int(t.shape[1]), int(t.shape[0]) // 32
            self.cache[name] = d.reshape(rows, per_row), m.reshape(rows, per_row), q.reshape(rows, per_row, 32)
        return self.cache[name]


def f16(x):
    return x.astype(np.float16).astype(np.float32)


def q8(x):
    """ggml's quantize_row_q8_1: per 32-block d = max|x| / 127, q = round-half-even(x * 127 / max|x|)."""
    blocks = x.reshape(x.shape[0], -1, 32)
    amax = np.abs(blocks).max(-1)
    d = (amax / np.float32(127)).astype(np.float32)
    inverse = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
    q = np.round((blocks * inverse[..., None]).astype(np.float32))
    return f16(d), q, f16((d * q.sum(-1)).astype(np.float32))


def matmul_q4_1(model, name, x):
    dw, mw, qw = model.q4_1(name)
    dx, qx, sx = q8(x)
    sums = np.einsum("rbk,tbk->trb", qw, qx, optimize=True)
    return ((dw[None] * dx[:, None, :]) * sums + mw[None] * sx[:, None, :]).sum(-1).astype(np.float32)


def rms_norm(model, x, weight):
    mean = ((x * x).astype(np.float64).sum(-1, keepdims=True) / x.shape[-1]).astype(np.float32)
    return ((x * (np.float32(1) / np.sqrt(mean + model.eps))).astype(np.float32) * weight).astype(np.float32)


def rope(model, x):
    """Adjacent-pair rotation (llama.cpp's mode 0) with angles multiplied up in f32 as ggml does."""
    tokens, half = x.shape[0], model.head_dim // 2
    step = np.float32(np.power(model.base, np.float32(-2) / np.float32(model.head_dim), dtype=np.float32))
    cos, sin = np.empty((tokens, half), np.float32), np.empty((tokens, half), np.float32)
    for p in range(tokens):
        theta = np.float32(p)
        for i in range(half):
            cos[p, i], sin[p, i] = np.float32(np.cos(np.float64(theta))), np.float32(np.sin(np.float64(theta)))
            theta = np.float32(theta * step)
    x = x.reshape(tokens, -1, model.head_dim)
    even, odd, c, s = x[..., 0::2], x[..., 1::2], cos[:, None, :], sin[:, None, :]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = even * c - odd * s, even * s + odd * c
    return out.reshape(tokens, -1)


def attention(model, q, k, v):
    tokens, group = q.shape[0], model.heads // model.kv_heads
    q, k, v = (f16(t).reshape(tokens, -1, model.head_dim) for t in (q, k, v))
    mask = np.triu(np.full((tokens, tokens), -np.inf, np.float32), 1)
    out = np.empty_like(q)
    for h in range(model.heads):
        scores = (q[:, h] @ k[:, h // group].T) * np.float32(1 / np.sqrt(model.head_dim)) + mask
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        out[:, h] = f16(weights / weights.sum(-1, keepdims=True)) @ v[:, h // group]
    return out.reshape(tokens, -1)


def layer(model, l, x, reference=None):
    """One block; yields (op, value). With `reference`, each op's input is llama.cpp's own."""
    take = (lambda op, mine: reference[f"{op}-{l}"]) if reference else (lambda op, mine: mine)
    p = f"blk.{l}."
    h = rms_norm(model, x, model.dense(p + "attn_norm.weight")[0])
    yield "attn_norm", h
    h = take("attn_norm", h)
    q = rope(model, matmul_q4_1(model, p + "attn_q.weight", h))
    yield "Qcur", q
    k = rope(model, matmul_q4_1(model, p + "attn_k.weight", h))
    yield "Kcur", k
    v = matmul_q4_1(model, p + "attn_v.weight", h)
    yield "Vcur", v
    a = attention(model, take("Qcur", q), take("Kcur", k), take("Vcur", v))
    yield "kqv_out", a
    x = x + matmul_q4_1(model, p + "attn_output.weight", take("kqv_out", a))
    yield "ffn_inp", x
    x = take("ffn_inp", x)
    h = rms_norm(model, x, model.dense(p + "ffn_norm.weight")[0])
    yield "ffn_norm", h
    h = take("ffn_norm", h)
    gate, up = matmul_q4_1(model, p + "ffn_gate.weight", h), matmul_q4_1(model, p + "ffn_up.weight", h)
    y = matmul_q4_1(model, p + "ffn_down.weight", gate / (1 + np.exp(-gate)) * up)
    yield "ffn_out", y
    yield "l_out", x + take("ffn_out", y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--text", default="The capital of France is")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--bos", action="store_true", help="start with the beginning-of-sequence token")
    args = parser.parse_args()

    model = Model(args.model)
    names = {f"{op}-{l}" for op in OPS for l in range(args.layers)}
    probe = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    ids = ([probe.token_bos()] if args.bos else []) + probe.tokenize(args.text.encode(), add_bos=False, special=False)
    reference, _ = llama_tensors(args.model, ids, names)
    embeddings = model.dense("token_embd.weight")[ids]

    for mode in ("op by op (llama.cpp's inputs)", "free-running"):
        print(f"\n{mode}: largest |difference| from llama.cpp, tokens {ids}")
        x = embeddings
        for l in range(args.layers):
            fed = reference if mode.startswith("op") else None
            if fed and l > 0:
                x = reference[f"l_out-{l - 1}"]
            for op, value in layer(model, l, x, fed):
                ref = reference[f"{op}-{l}"].reshape(value.shape)
                print(f"  {op}-{l:<3} {np.abs(value - ref).max():.2e}  (values up to {np.abs(ref).max():.1f})")
                if op == "l_out":
                    x = value


if __name__ == "__main__":
    main()
