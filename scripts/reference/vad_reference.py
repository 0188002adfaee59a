#!/usr/bin/env python3
"""Reference outputs for Hark's Silero VAD: onnxruntime's speech probabilities for every 512-sample window
of each test clip (the same silero_vad_16k_op15.onnx, state carried between windows, 64 samples of
context), and faster-whisper's get_speech_timestamps chunks computed from those probabilities.

    scripts/reference-env
    .venv/bin/python scripts/reference/vad_reference.py --model ~/.local/share/hark/vad/silero-vad-16k/silero_vad_16k_op15.onnx \
        --speech ../shared/testdata/speech --out Tests/VoiceActivityTests/Fixtures/silero-16k.json
"""
import argparse
import json
import pathlib
import wave

import numpy as np
import onnxruntime as ort
from faster_whisper import vad as fw_vad


def read_wav(path):
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def probabilities(session, audio):
    padded = np.pad(audio, (0, 512 - audio.shape[0] % 512))
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    out = []
    for i in range(0, len(padded), 512):
        window = padded[i : i + 512]
        x = np.concatenate([context, window])[None]
        p, state = session.run(None, {"input": x, "state": state, "sr": np.array(16000, dtype=np.int64)})
        context = window[-64:]
        out.append(float(p[0][0]))
    return np.array(out, np.float32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--speech", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    manifest = pathlib.Path(args.speech) / "manifest.tsv"
    clips = sorted(line.split("\t")[0] for line in manifest.read_text().splitlines()[1:] if line.strip())
    result = {"clips": []}
    for name in clips:
        audio = read_wav(pathlib.Path(args.speech) / name)
        probs = probabilities(session, audio)
        # faster-whisper's chunking on exactly these probabilities.
        fw_vad.get_vad_model = lambda: (lambda padded: probs)
        chunks = fw_vad.get_speech_timestamps(audio)
        result["clips"].append({
            "clip": name,
            "samples": int(audio.shape[0]),
            "probabilities": [round(float(p), 5) for p in probs],
            "chunks": [[c["start"], c["end"]] for c in chunks],
        })
        print(name, len(probs), chunks)
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
