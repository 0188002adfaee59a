#!/usr/bin/env python3
"""Reference outputs of faster-whisper / CTranslate2 for Hark's Whisper parity tests.

Writes a small JSON fixture: for each clip, a strided sample of the log-mel features (faster-whisper's
FeatureExtractor), a few rows of the encoder output and the first decoder step's log-probabilities
(CTranslate2, float32 on the CPU), the greedy token sequence without timestamps, with the same
suppression rules Hark applies (suppress_blank, suppress_tokens = [-1]), and faster-whisper's greedy long-form
transcription (segments with times, text and tokens), and its text with beam search (beam_size=5).

Run it in a venv with faster-whisper installed:
    python3 -m venv /tmp/fw-venv && /tmp/fw-venv/bin/pip install faster-whisper
    /tmp/fw-venv/bin/python scripts/reference/whisper_reference.py \
        --model ~/.local/share/hark/stt/whisper-tiny.en --speech ../shared/testdata/speech \
        --out Tests/WhisperSTTTests/Fixtures/ct2-tiny.en.json
"""
import argparse
import json
import pathlib
import wave

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.feature_extractor import FeatureExtractor

MEL_FRAME_STRIDE = 50
ENCODER_ROWS = [0, 1, 750, 1499]
TOP_LOGPROBS = 20
# Clips whose features and encoder output are sampled in detail (every clip gets tokens and log-probs).
DETAILED = {"jfk_inaugural_1961.wav", "timit_LDC93S1.wav", "nonspeech_speechbrain_noise1.wav"}


def read_wav(path):
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--speech", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    model = ctranslate2.models.Whisper(args.model, device="cpu", compute_type="float32")
    extractor = FeatureExtractor(feature_size=model.n_mels)
    # The same model through faster-whisper's long-form transcription: greedy, its default fallback rules.
    whisper = WhisperModel(args.model, device="cpu", compute_type="float32", cpu_threads=2)
    manifest = pathlib.Path(args.speech) / "manifest.tsv"
    clips = [line.split("\t")[0] for line in manifest.read_text().splitlines()[1:] if line.strip()]
    out = {"model": "whisper-tiny.en", "ctranslate2": ctranslate2.__version__, "mel_frame_stride": MEL_FRAME_STRIDE,
           "encoder_rows": ENCODER_ROWS, "clips": []}
    for name in sorted(clips):
        audio = read_wav(pathlib.Path(args.speech) / name)
        features = extractor(audio)  # [80, frames], padded by 160 samples as faster-whisper does
        content_frames = features.shape[1] - 1  # faster-whisper drops the last frame
        window = pad_or_trim(features[:, : min(3000, content_frames)])
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(window[None]))
        encoded = np.array(model.encode(batch, to_cpu=True))[0]
        result = model.generate(
            batch, [[50257, 50362]], beam_size=1, max_length=448, return_logits_vocab=True,
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1])[0]
        first = np.array(result.logits[0][0]) if result.logits else None
        if name == "jfk_inaugural_1961.wav":
            print("logits:", len(result.logits), len(result.logits[0]), np.array(result.logits[0][0]).shape)
        entry = {
            "clip": name,
            "samples": int(audio.shape[0]),
            "mel_frames": int(features.shape[1]),
            "content_frames": int(content_frames),
            "mel_max": float(features.max()),
            "tokens": result.sequences_ids[0],
            "no_speech_prob": float(result.no_speech_prob),
        }
        segments, _ = whisper.transcribe(audio, beam_size=1, vad_filter=False)
        entry["segments"] = [
            {"start": round(seg.start, 2), "end": round(seg.end, 2), "text": seg.text, "tokens": seg.tokens,
             "temperature": seg.temperature}
            for seg in segments
        ]
        segments, _ = whisper.transcribe(audio, beam_size=5, vad_filter=False)
        entry["beam5_text"] = "".join(seg.text for seg in segments)
        if name in DETAILED:
            entry["mel_sampled"] = features[:, :3000:MEL_FRAME_STRIDE].T.round(5).tolist()
            entry["encoder_sampled"] = encoded[ENCODER_ROWS].round(5).tolist()
        if first is not None:
            top = np.argsort(-first)[:TOP_LOGPROBS]
            entry["first_step_top_ids"] = top.tolist()
            entry["first_step_top_values"] = first[top].round(5).tolist()
        out["clips"].append(entry)
        print(name, len(entry["tokens"]), "tokens")
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
