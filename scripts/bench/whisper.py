#!/usr/bin/env python3
"""Whisper speed, side by side in one run: Hark's `transcribe` (release build) and faster-whisper
(CTranslate2 int8 and float32), 2 threads, greedy, voice-activity filter on for both, over the same files.
Prints load times, total transcription times and Hark/faster-whisper ratios, plus Hark's per-stage profile.

    scripts/reference-env && swift build -c release
    .venv/bin/python scripts/bench/whisper.py [--repeat 3] [files...]   # default: shared/testdata/speech/*.wav
    .venv/bin/python scripts/bench/whisper.py --compute-type int8,float32     # Hark's decoder weights, each timed
    .venv/bin/python scripts/bench/whisper.py --bin DIR                       # another build folder
    .venv/bin/python scripts/bench/whisper.py --baseline-bin DIR              # and an older build, same run

Ratios are Hark's time (the first --compute-type) over each engine's: below 1 means Hark is faster.
"""
import argparse
import glob
import os
import pathlib
import subprocess
import time

from faster_whisper import WhisperModel

ROOT = pathlib.Path(__file__).resolve().parents[2]


def hark(files, threads, binary, compute_type):
    start = time.perf_counter()
    options = ["--compute-type", compute_type] if compute_type else []  # none: a build from before the option
    run = subprocess.run([f"{binary}/transcribe", "--profile", "-t", str(threads), *options, *files],
                         capture_output=True, text=True, check=True)
    total = time.perf_counter() - start
    profile = [line.removeprefix("transcribe: profile: ") for line in run.stderr.splitlines() if "profile:" in line]
    load = next(float(p.split()[2]) for p in profile if p.startswith("model load"))
    return load, total - load, profile


def faster_whisper(files, compute_type, threads, model_dir):
    start = time.perf_counter()
    model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=threads)
    load = time.perf_counter() - start
    start = time.perf_counter()
    for f in files:
        segments, _ = model.transcribe(f, beam_size=1, vad_filter=True)
        list(segments)
    return load, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is reported")
    parser.add_argument("--model", default=os.path.expanduser("~/.local/share/hark/stt/whisper-tiny.en"))
    parser.add_argument("--bin", help="folder holding Hark's transcribe (default: swift build's release folder)")
    parser.add_argument("--compute-type", default="auto", help="Hark's --compute-type, comma-separated to time several")
    parser.add_argument("--baseline-bin", help="also time the transcribe in this folder (an older build), "
                        "interleaved with the others")
    parser.add_argument("--data", help="folder of the test clips (default: shared/testdata/speech beside the repo, "
                        "else /work/shared/testdata/speech)")
    args = parser.parse_args()
    binary = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout.strip()
    data = args.data or next((str(d) for d in (ROOT.parent / "shared/testdata/speech",
                                               pathlib.Path("/work/shared/testdata/speech")) if d.is_dir()), "")
    files = args.files or sorted(glob.glob(os.path.join(data, "*.wav")))
    hark_types = args.compute_type.split(",")
    print(f"{len(files)} files, {args.threads} threads, greedy, VAD on, best of {args.repeat} runs")
    results = {}
    profiles = {}
    for _ in range(args.repeat):  # interleaved, so machine noise hits every engine alike
        runs = [(f"hark {ht}", binary, ht) for ht in hark_types]
        if args.baseline_bin:
            runs.append(("hark baseline", args.baseline_bin, ""))
        for key, folder, ht in runs:
            load, total, prof = hark(files, args.threads, folder, ht)
            if key not in results or total < results[key][1]:
                results[key], profiles[key] = (load, total), prof
        for ct in ("int8", "float32"):
            load, total = faster_whisper(files, ct, args.threads, args.model)
            key = f"faster-whisper {ct}"
            if key not in results or total < results[key][1]:
                results[key] = (load, total)
    hark_total = results[f"hark {hark_types[0]}"][1]
    print(f"{'engine':24} {'load s':>8} {'transcribe s':>13} {'Hark / this':>12}")
    for name, (load, total) in results.items():
        print(f"{name:24} {load:8.3f} {total:13.3f} {hark_total / total:12.2f}")
    for key, profile in profiles.items():
        print(f"{key} profile (best run):")
        for line in profile:
            print("  " + line)


if __name__ == "__main__":
    main()
