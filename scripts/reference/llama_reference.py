#!/usr/bin/env python3
"""Reference outputs of llama.cpp (llama-cpp-python) for Hark's Llama parity tests.

For a GGUF model, with llama.cpp tokenizing every text itself (the ids are stored, so Hark's tests need no
tokenizer):
  - teacher forcing: varied prompts followed by one fixed continuation, evaluated in one batch; per position the
    top-1 id and the top-10 (id, logit) pairs, plus the full logits of a few positions;
  - greedy chat: prompts rendered with the GGUF's ChatML template, and the ids of the reply the argmax of
    llama.cpp's logits gives, token by token, up to 64 tokens or the end-of-sequence token;
  - a long prompt (the teacher-forced prompts one after another, 600 tokens) in a 1024-token context, which
    llama.cpp evaluates in micro-batches of 512: per position the top-1 id, and the top-10 from position 500 on.

    scripts/reference-env
    .venv/bin/python scripts/reference/llama_reference.py \
        ~/.local/share/hark/llm/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf \
        --out Tests/LanguageModelTests/Fixtures/llama-smollm2.json
"""
import argparse
import json

import llama_cpp
import numpy as np
from llama_cpp import Llama

TOP = 10
REPLY_TOKENS = 64
# The long prompt's length, and where its stored top-10 start.
LONG = 600
LONG_TOP_FROM = 500
# Positions whose full logits are stored (vocabularies are large: keep this short).
FULL_LOGITS = [(0, 5), (3, 40)]

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Once upon a time, in a small village by the sea, there lived",
    "Photosynthesis is the process by which plants",
    "1, 2, 3, 5, 8, 13,",
    "Translate to French: Good morning, how are you?",
    "The quick brown fox jumps over the lazy dog. The quick brown fox",
    "In 1969, Neil Armstrong became",
    "<html>\n<head>\n  <title>",
    "Q: What is the boiling point of water at sea level?\nA:",
    "Les mathématiques sont",
    "Ingredients: 2 cups of flour, 1 egg,",
]
CONTINUATION = (
    " It is a beautiful place where people gather to talk about science, history and music. Many visitors come"
    " every year, and some of them stay for a long time because they like the weather, the food and the friendly"
    " people who live there. In the evening, the streets fill with music, and the old harbour shines under"
    " the lights of small boats."
)

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHATS = [
    "What is the capital of France?",
    "Write a haiku about the ocean.",
    "How do I reverse a list in Python?",
    "Explain gravity to a five-year-old.",
    "What are three tips for better sleep?",
    "Turn off the kitchen lights, please.",
    "What is 12 times 7?",
    "Tell me a short joke.",
    "What's the weather usually like in London in winter?",
    "Summarize the plot of Romeo and Juliet in two sentences.",
    "Set a timer for ten minutes.",
]


def chatml(user):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n")


def logits_of(llm, tokens):
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--out", default="Tests/LanguageModelTests/Fixtures/llama-smollm2.json")
    args = parser.parse_args()

    llm = Llama(model_path=args.model, logits_all=True, n_ctx=512, n_threads=2, seed=0, verbose=False)
    eos = llm.token_eos()
    continuation = llm.tokenize(CONTINUATION.encode(), add_bos=False, special=False)

    forced = []
    for i, prompt in enumerate(PROMPTS):
        ids = llm.tokenize(prompt.encode(), add_bos=True, special=False) + continuation
        logits = logits_of(llm, ids)
        top = np.argsort(-logits, axis=1, kind="stable")[:, :TOP]
        case = {
            "prompt": prompt,
            "ids": ids,
            "top1": [int(t[0]) for t in top],
            "top_ids": top.tolist(),
            "top_logits": [[round(float(logits[p, j]), 4) for j in row] for p, row in enumerate(top)],
        }
        full = [pos for (c, pos) in FULL_LOGITS if c == i]
        if full:
            case["full_positions"] = full
            case["full_logits"] = [[round(float(v), 3) for v in logits[p]] for p in full]
        forced.append(case)

    chats = []
    for user in CHATS:
        ids = llm.tokenize(chatml(user).encode(), add_bos=True, special=True)
        llm.reset()
        llm.eval(ids)
        reply = []
        while len(reply) < REPLY_TOKENS:
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            reply.append(token)
            if token == eos:
                break
            llm.eval([token])
        chats.append({"user": user, "ids": ids, "reply": reply,
                      "text": llm.detokenize(reply).decode(errors="replace")})

    long_ids = [t for case in forced for t in case["ids"]][:LONG]
    wide = Llama(model_path=args.model, logits_all=True, n_ctx=1024, n_threads=2, seed=0, verbose=False)
    logits = logits_of(wide, long_ids)
    top = np.argsort(-logits, axis=1, kind="stable")[:, :TOP]
    long = {
        "ids": long_ids,
        "top1": [int(t[0]) for t in top],
        "from": LONG_TOP_FROM,
        "top_ids": top[LONG_TOP_FROM:].tolist(),
        "top_logits": [[round(float(logits[p, j]), 4) for j in top[p]] for p in range(LONG_TOP_FROM, len(long_ids))],
    }

    out = {
        "model": args.model.rsplit("/", 1)[-1],
        "llama_cpp_python": llama_cpp.__version__,
        "n_ctx": 512,
        "eos": eos,
        "vocab": llm.n_vocab(),
        "forced": forced,
        "chats": chats,
        "long": long,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
