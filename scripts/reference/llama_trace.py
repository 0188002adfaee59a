#!/usr/bin/env python3
"""Where does Hark's arithmetic part from llama.cpp's? A diagnostic for the LLM's parity (issue 8).

Runs llama.cpp (llama-cpp-python) on one batch with an eval callback that copies its named intermediate tensors
(attn_norm-L, Qcur-L, Kcur-L, Vcur-L, kqv_out-L, ffn_inp-L, ffn_norm-L, ffn_out-L, l_out-L), then runs the same
layers through Hark's `Arithmetic.ggml` kernels (Sources/CKernels/ggml_arith.c, compiled here with cc and called
through ctypes; NumPy only moves data). For each op it prints how many elements differ from llama.cpp's tensor in
any bit, and the largest difference: first with every op fed llama.cpp's own inputs (is the op itself the same?),
then free-running (does a difference grow?).

What it showed for SmolLM2-135M Q4_1 (2026-11-26, llama-cpp-python 0.3.36 built for AVX-512): 0 differing
elements in every op of every layer, both ways. (A NumPy forward that rounded at the same places but summed in
NumPy's own order agreed with llama.cpp's top-1 at 950-955 of 986 positions: any one-ulp difference eventually
moves an 8-bit rounding and grows from there.)

    scripts/reference-env
    .venv/bin/python scripts/reference/llama_trace.py \
        ~/.local/share/hark/llm/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf --layers 4
"""
import argparse
import ctypes
import os
import pathlib
import subprocess
import tempfile

import gguf
import llama_cpp
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
OPS = ["attn_norm", "Qcur", "Kcur", "Vcur", "kqv_out", "ffn_inp", "ffn_norm", "ffn_out", "l_out"]
FORMATS = {gguf.GGMLQuantizationType.Q4_0: 0, gguf.GGMLQuantizationType.Q4_1: 1, gguf.GGMLQuantizationType.Q8_0: 2}
SIZE = ctypes.c_size_t


def kernels():
    """Hark's ggml_arith.c as a shared library (kernels.c for its CPU probe)."""
    out = pathlib.Path(tempfile.mkdtemp()) / "ggml_arith.so"
    sources = ROOT / "Sources/CKernels"
    subprocess.run(["cc", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-I", str(sources / "include"), str(sources / "ggml_arith.c"),
                    str(sources / "kernels.c"), "-lm", "-o", str(out)], check=True)
    return ctypes.CDLL(str(out))


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
    return found


def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


class Model:
    """The GGUF's weights and hyperparameters, and one Llama layer through the C kernels."""

    def __init__(self, path, lib):
        reader = gguf.GGUFReader(path)
        field = lambda key: reader.fields[key].contents()
        self.lib = lib
        self.heads = field("llama.attention.head_count")
        self.kv_heads = field("llama.attention.head_count_kv")
        self.width = field("llama.embedding_length")
        self.head_dim = self.width // self.heads
        self.eps = field("llama.attention.layer_norm_rms_epsilon")
        self.base = field("llama.rope.freq_base")
        self.tensors = {t.name: t for t in reader.tensors}

    def embeddings(self, ids):
        t = self.tensors["token_embd.weight"]
        return gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1, self.width)[ids]

    def linear(self, name, x):
        t = self.tensors[name]
        w = np.ascontiguousarray(t.data)
        rows, row_bytes = w.shape
        m, k = x.shape
        x = np.ascontiguousarray(x, np.float32)
        q = np.zeros((m, k), np.int16)
        d, s = np.zeros((m, k // 32), np.float32), np.zeros((m, k // 32), np.float32)
        fmt = FORMATS[t.tensor_type]
        self.lib.hark_gg_quantize_q8(ptr(x), SIZE(m * k), int(fmt == 1), ptr(q), ptr(d), ptr(s))
        y = np.zeros((m, rows), np.float32)
        self.lib.hark_gg_matvec(ptr(w), SIZE(row_bytes), fmt, SIZE(k // 32), ptr(q), ptr(d), ptr(s), SIZE(m), ptr(y),
                                SIZE(rows), SIZE(0), SIZE(rows))
        return y

    def rms_norm(self, x, name):
        w = np.asarray(self.tensors[name].data, np.float32).reshape(-1)
        y = np.zeros_like(x)
        for i in range(x.shape[0]):
            row = np.ascontiguousarray(x[i])
            self.lib.hark_gg_rms_norm(ptr(row), ptr(w), SIZE(x.shape[1]), ctypes.c_float(self.eps), ptr(y[i]))
        return y

    def rope(self, x):
        x = np.ascontiguousarray(x, np.float32).copy()
        heads = x.shape[1] // self.head_dim
        cache = np.zeros(self.head_dim, np.float32)
        for p in range(x.shape[0]):
            self.lib.hark_gg_rope_cache(ctypes.c_float(p), ctypes.c_float(1), ctypes.c_float(self.base),
                                        SIZE(self.head_dim), ptr(cache))
            row = np.ascontiguousarray(x[p])
            self.lib.hark_gg_rope_rows(ptr(row), SIZE(heads), SIZE(self.head_dim), SIZE(self.head_dim), 0, ptr(cache))
            x[p] = row
        return x

    def attention(self, q, k, v):
        n, e, group = q.shape[0], self.head_dim, self.heads // self.kv_heads
        q = np.ascontiguousarray(q, np.float32).reshape(n, -1)
        k16, v16 = (np.ascontiguousarray(t.reshape(n, -1).astype(np.float16)).view(np.uint16) for t in (k, v))
        out = np.zeros_like(q)
        scratch = np.zeros(2 * (n + 64) + 66 * e, np.float32)
        for h in range(self.heads):
            g = h // group
            self.lib.hark_gg_attention(ptr(q[:, h * e:]), SIZE(q.shape[1]), ptr(k16[:, g * e:]), ptr(v16[:, g * e:]),
                                       SIZE(k16.shape[1]), SIZE(n), SIZE(n), SIZE(0), SIZE(e),
                                       ctypes.c_float(1 / np.sqrt(e)), ptr(out[:, h * e:]), SIZE(q.shape[1]),
                                       ptr(scratch))
        return out

    def swiglu(self, g, u):
        y = np.zeros_like(g)
        for i in range(g.shape[0]):
            self.lib.hark_gg_swiglu(ptr(np.ascontiguousarray(g[i])), ptr(np.ascontiguousarray(u[i])),
                                    SIZE(g.shape[1]), ptr(y[i]))
        return y

    def layer(self, l, x, reference=None):
        """One block; yields (op, value). With `reference`, each op's input is llama.cpp's own."""
        take = (lambda op, mine: reference[f"{op}-{l}"]) if reference else (lambda op, mine: mine)
        p = f"blk.{l}."
        h = self.rms_norm(x, p + "attn_norm.weight")
        yield "attn_norm", h
        h = take("attn_norm", h)
        q = self.rope(self.linear(p + "attn_q.weight", h))
        yield "Qcur", q
        k = self.rope(self.linear(p + "attn_k.weight", h))
        yield "Kcur", k
        v = self.linear(p + "attn_v.weight", h)
        yield "Vcur", v
        a = self.attention(take("Qcur", q), take("Kcur", k), take("Vcur", v))
        yield "kqv_out", a
        x = self.linear(p + "attn_output.weight", take("kqv_out", a)) + x
        yield "ffn_inp", x
        x = take("ffn_inp", x)
        h = self.rms_norm(x, p + "ffn_norm.weight")
        yield "ffn_norm", h
        h = take("ffn_norm", h)
        gate, up = self.linear(p + "ffn_gate.weight", h), self.linear(p + "ffn_up.weight", h)
        y = self.linear(p + "ffn_down.weight", self.swiglu(gate, up))
        yield "ffn_out", y
        yield "l_out", x + take("ffn_out", y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--text", default="The capital of France is")
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()

    model = Model(args.model, kernels())
    names = {f"{op}-{l}" for op in OPS for l in range(args.layers)}
    probe = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    ids = [probe.token_bos()] + probe.tokenize(args.text.encode(), add_bos=False, special=False)
    reference = llama_tensors(args.model, ids, names)

    for mode in ("op by op (llama.cpp's inputs)", "free-running"):
        print(f"\n{mode}: elements differing from llama.cpp (largest |difference|), tokens {ids}")
        x = model.embeddings(ids)
        for l in range(args.layers):
            fed = reference if mode.startswith("op") else None
            if fed and l > 0:
                x = reference[f"l_out-{l - 1}"]
            row = []
            for op, value in model.layer(l, x, fed):
                ref = reference[f"{op}-{l}"]
                value = np.ascontiguousarray(value, np.float32).reshape(ref.shape)
                row.append(f"{op} {int((value.view(np.uint32) != ref.view(np.uint32)).sum())}"
                           f" ({np.abs(value - ref).max():.1e})")
                if op == "l_out":
                    x = value
            print(f"  layer {l}: " + ", ".join(row))


if __name__ == "__main__":
    main()
