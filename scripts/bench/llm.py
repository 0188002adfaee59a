#!/usr/bin/env python3
"""LLM speed, side by side in one run: Hark's `hark-bench llm` (release build) and llama.cpp (llama-cpp-python),
same GGUF, same prompt ids (llama.cpp tokenizes the text; Hark gets the ids), same thread count, greedy decoding.
Prints prefill and decode tokens/s of each and the Hark/llama.cpp ratios, plus Hark's per-op decode profile.

    scripts/reference-env && swift build -c release
    .venv/bin/python scripts/bench/llm.py [--threads 2] [--prompt-tokens 128] [--decode-tokens 64] [--repeat 3]
"""
import argparse
import os
import pathlib
import subprocess
import time

import numpy as np
from gguf import GGUFReader
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEXT = (
    "The history of the written word goes back almost six thousand years. Writing systems developed independently"
    " in Mesopotamia, Egypt, China and Mesoamerica, and each began as a way to keep records of trade, harvests and"
    " taxes. Over the centuries, scribes simplified their signs, and alphabets spread from the eastern Mediterranean"
    " to Greece and Rome, and from there to the rest of Europe. The printing press, invented in the fifteenth"
    " century, made books cheap enough for ordinary people, and literacy rose quickly. Today most of what we read"
    " appears on screens, yet the letters we use are still close to those carved in stone two thousand years ago."
)


def prompt_ids(llm, count):
    ids = llm.tokenize(TEXT.encode(), add_bos=True)
    while len(ids) < count:
        ids += ids
    return ids[:count]


def llama_cpp(llm, ids, decode, repeat):
    best_prefill = best_decode = float("inf")
    for _ in range(repeat):
        llm.reset()
        start = time.perf_counter()
        llm.eval(ids)
        best_prefill = min(best_prefill, time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(decode):
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            llm.eval([token])
        best_decode = min(best_decode, time.perf_counter() - start)
    return best_prefill, best_decode


def hark(model, ids, decode, threads, repeat, profile):
    binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    command = [f"{binary}/hark-bench", "llm", "--model", model, "-t", str(threads), "--ids", ",".join(map(str, ids)),
               "--decode-tokens", str(decode), "--repeats", str(repeat)] + (["--profile"] if profile else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    prefill = next(float(line.split()[7]) for line in out.splitlines() if line.startswith("prefill:"))
    decoded = next(float(line.split()[7]) for line in out.splitlines() if line.startswith("decode:"))
    return prefill, decoded, out


def weight_bytes(model):
    """Bytes a decoded token reads: every weight once (the embedding table only as the tied output head, if tied)."""
    tensors = {t.name: int(t.n_bytes) for t in GGUFReader(model).tensors}
    total = sum(tensors.values())
    if "output.weight" in tensors:  # untied: the embedding table gives one row per token
        total -= tensors.get("token_embd.weight", 0)
    return total


def bandwidth(threads):
    binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.strip()
    out = subprocess.run([f"{binary}/hark-bench", "bandwidth", "-t", str(threads)], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split(":")[-1].split()[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=os.path.expanduser(
        "~/.local/share/hark/llm/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine and round; the best is reported")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two engines")
    args = parser.parse_args()

    llm = Llama(model_path=args.model, n_ctx=512, n_threads=args.threads, n_threads_batch=args.threads,
                seed=0, verbose=False)
    ids = prompt_ids(llm, args.prompt_tokens)
    print(f"{os.path.basename(args.model)}: {len(ids)}-token prompt, {args.decode_tokens} decoded tokens, "
          f"{args.threads} threads, best of {args.repeat} runs × {args.rounds} rounds")
    best = {"hark": [float("inf")] * 2, "llama.cpp": [float("inf")] * 2}
    output = ""
    # The bound's bandwidth is sampled every round, beside the engines: on a shared machine it moves with the
    # neighbours' traffic, and the highest sample (the least flattering bound) is the one used.
    samples = []
    for r in range(args.rounds):  # alternated, so machine noise hits both engines alike
        samples.append(bandwidth(args.threads))
        prefill, decode = llama_cpp(llm, ids, args.decode_tokens, args.repeat)
        best["llama.cpp"] = [min(best["llama.cpp"][0], prefill), min(best["llama.cpp"][1], decode)]
        prefill_rate, decode_rate, out = hark(args.model, ids, args.decode_tokens, args.threads, args.repeat,
                                              profile=r == args.rounds - 1)
        best["hark"] = [min(best["hark"][0], len(ids) / prefill_rate),
                        min(best["hark"][1], args.decode_tokens / decode_rate)]
        output = out
    rates = {name: (len(ids) / p, args.decode_tokens / d) for name, (p, d) in best.items()}
    print(f"{'engine':12} {'prefill tok/s':>14} {'decode tok/s':>13}")
    for name, (p, d) in rates.items():
        print(f"{name:12} {p:14.1f} {d:13.1f}")
    print(f"{'Hark/llama':12} {rates['hark'][0] / rates['llama.cpp'][0]:14.2f} "
          f"{rates['hark'][1] / rates['llama.cpp'][1]:13.2f}")
    samples.append(bandwidth(args.threads))
    size, gbps = weight_bytes(args.model), max(samples)
    bound = gbps * 1e9 / size
    print(f"\nmemory-bandwidth bound for decoding: {size / 1e6:.1f} MB of weights per token, {gbps:.1f} GB/s read "
          f"with {args.threads} threads (hark-bench bandwidth; the highest of "
          f"{', '.join(f'{g:.1f}' for g in samples)}) -> {bound:.1f} tok/s")
    for name, (_, d) in rates.items():
        print(f"{name:12} decode at {100 * d / bound:.0f} % of the bound")
    print("\nHark (last round):")
    print(output)


if __name__ == "__main__":
    main()
