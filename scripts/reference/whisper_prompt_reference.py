#!/usr/bin/env python3
"""Reference for Whisper's initial prompt (faster-whisper's `initial_prompt`), for Hark's prompt tests.

Writes a small JSON fixture: the token ids faster-whisper encodes for each prompt (" " + prompt.strip() through the
model's tokenizer.json, faster_whisper/transcribe.py generate_segments), and faster-whisper's greedy transcription
(beam_size=1, vad_filter=False) of one clip with and without a prompt, and with a prompt longer than the 223 tokens
the decoder prompt keeps.

Run it in the reference venv (scripts/reference-env; it has faster-whisper):
    .venv/bin/python scripts/reference/whisper_prompt_reference.py \
        --model ~/.local/share/hark/stt/whisper-tiny.en --speech ../shared/testdata/speech \
        --out Tests/SpeechServersTests/Fixtures/whisper-prompt-tiny.en.json
"""
import argparse
import json
import pathlib

from faster_whisper import WhisperModel
from whisper_reference import read_wav  # the script beside this one

CLIP = "fleurs_en_us_test_001.wav"
PROMPT = "In German, the polite word Sie is capitalized."
# Over 223 tokens, so that only its end reaches the decoder.
LONG_PROMPT = " ".join(f"Item {i}: nouns, Sie, capital letters." for i in range(40))
# Spaces, newlines, digits, contractions, accents, symbols, CJK and an emoji: the pre-tokenizer's and the byte map's
# corner cases.
TOKEN_PROMPTS = [
    PROMPT,
    LONG_PROMPT,
    "  Hello,   world!\n\tIt's 2024 — 12.5% of 1,000,000 cafés. ",
    "I'm, you're, we'll, they've, he'd: 'quoted' \"double\"",
    "日本語のテキスト and naïve résumé 🙂 <|endoftext|>",
    "x",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--speech", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    whisper = WhisperModel(args.model, device="cpu", compute_type="float32", cpu_threads=2)
    out = {"model": pathlib.Path(args.model).name, "clip": CLIP, "encodings": [], "transcriptions": []}
    for prompt in TOKEN_PROMPTS:
        ids = whisper.hf_tokenizer.encode(" " + prompt.strip(), add_special_tokens=False).ids
        out["encodings"].append({"prompt": prompt, "tokens": ids})
    audio = read_wav(pathlib.Path(args.speech) / CLIP)
    for prompt in [None, PROMPT, LONG_PROMPT]:
        segments, _ = whisper.transcribe(audio, beam_size=1, vad_filter=False, initial_prompt=prompt)
        out["transcriptions"].append({
            "prompt": prompt,
            "segments": [
                {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text, "tokens": s.tokens,
                 "temperature": s.temperature}
                for s in segments
            ],
        })
        print(prompt and prompt[:40], [s["text"] for s in out["transcriptions"][-1]["segments"]])
    pathlib.Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
