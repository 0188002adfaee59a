#!/usr/bin/env python3
"""Piper TTS speed, side by side in one run: Hark's `speak` (release build) and piper-tts 1.8.0 (onnxruntime),
same voice, same length/noise scales, same threads, over the same texts (ten sentences and a 3-sentence paragraph).

Per text it prints each engine's synthesis time and their ratio, and the time to first audio: Hark's first chunk
(the stream `speak --output-raw` writes), piper-tts's first sentence (its first AudioChunk). Both are measured warm,
as a server runs them: piper-tts loads once and warms up on one sentence; Hark speaks all the texts in one
`speak --json-input --profile` process after a warm-up line (times from its own clock, per line). Then Hark cold, as
a user runs it: one fresh `speak --output-raw` process per text (its profile, and the first byte read from the
pipe counted from the process's start). Then the model load times, and Hark's per-stage profile over the texts.

    scripts/reference-env && swift build -c release
    .venv/bin/python scripts/bench/tts.py [--repeat 3] [--threads 2] [--bin .build/release]

Best of --repeat runs for each number, the engines interleaved so that machine noise hits both alike.
"""
import argparse
import json
import os
import pathlib
import subprocess
import tempfile
import time

import onnxruntime
from piper import PiperVoice, SynthesisConfig
from piper.config import PiperConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]

TEXTS = [
    "Hello from Hark.",
    "The quick brown fox jumps over the lazy dog.",
    "Please remind me to call my sister tomorrow morning at nine.",
    "How far is it from the railway station to the city museum?",
    "Turn off the kitchen lights and lock the front door before you go to bed.",
    "She bought fresh bread, a wedge of cheese, and a bag of green apples at the market.",
    "Reading a good book on a rainy evening is one of life's simple pleasures.",
    "The meeting has been moved to Thursday afternoon, so please update your calendar.",
    "Warning: the battery is low, and the device will shut down in five minutes.",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "Today will be mostly sunny, with a high of twenty-two degrees and a light breeze from the west. "
    "In the evening, clouds will move in from the coast. Tomorrow looks cooler, with rain in the afternoon.",
]
PARAGRAPH = len(TEXTS) - 1


def profile_lines(stderr):
    """`speak --profile`'s totals as {name: seconds}, and its per-line lines as {line: {name: seconds}}."""
    totals, lines = {}, {}
    for line in stderr.splitlines():
        if "profile: " not in line:
            continue
        body = line.split("profile: ", 1)[1]
        if body.startswith("line "):
            number, fields = body[5:].split(": ", 1)
            lines[int(number)] = {" ".join(f.split()[:-2]): float(f.split()[-2]) for f in fields.split(", ")}
            continue
        words = body.split()
        index = next(i for i, w in enumerate(words) if w.replace(".", "", 1).isdigit())
        totals[" ".join(words[:index])] = float(words[index])
    return totals, lines


def hark_warm(binary, options, scratch):
    """Per text {first audio, synthesis, audio, stages…} from one process, after a warm-up line."""
    requests = [{"text": "Warming up.", "output_file": os.path.join(scratch, "warm-up.wav")}]
    requests += [{"text": text, "output_file": os.path.join(scratch, f"{i}.wav")} for i, text in enumerate(TEXTS)]
    run = subprocess.run([binary, "--json-input", *options], input="\n".join(map(json.dumps, requests)) + "\n",
                         capture_output=True, text=True, check=True)
    _, lines = profile_lines(run.stderr)
    return [lines[i + 2] for i in range(len(TEXTS))]


def hark_cold(binary, text, options):
    """(synthesis s, first audio s, first byte s, load s) of one text in a fresh `speak --output-raw` process."""
    start = time.perf_counter()
    process = subprocess.Popen([binary, text, "--output-raw", *options], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.read(1)
    first_byte = time.perf_counter() - start
    process.stdout.read()
    stderr = process.stderr.read().decode()
    if process.wait() != 0:
        raise RuntimeError(stderr)
    totals, _ = profile_lines(stderr)
    return totals["synthesis"], totals["first audio"], first_byte, totals["model load"]


def piper_load(model, threads):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    start = time.perf_counter()
    with open(f"{model}.json", encoding="utf-8") as file:
        config = PiperConfig.from_dict(json.load(file))
    voice = PiperVoice(config=config, session=onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]))
    return voice, time.perf_counter() - start


def piper_text(voice, text, scales):
    """(synthesis s, first audio s, audio s): the whole text, and its first sentence's AudioChunk."""
    config = SynthesisConfig(length_scale=scales[0], noise_scale=scales[1], noise_w_scale=scales[2])
    start = time.perf_counter()
    first = None
    samples = 0
    for chunk in voice.synthesize(text, syn_config=config):
        if first is None:
            first = time.perf_counter() - start
        samples += len(chunk.audio_float_array)
    return time.perf_counter() - start, first, samples / voice.config.sample_rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is reported")
    parser.add_argument("--bin", help="folder of the release `speak` (default: swift build -c release --show-bin-path)")
    parser.add_argument("--model", default=os.path.expanduser(
        "~/.local/share/hark/voices/en_US-joe-medium/en_US-joe-medium.onnx"))
    args = parser.parse_args()
    folder = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout.strip()
    binary = os.path.join(folder, "speak")
    with open(f"{args.model}.json", encoding="utf-8") as file:
        inference = json.load(file)["inference"]
    scales = (inference["length_scale"], inference["noise_scale"], inference["noise_w"])
    print(f"voice {pathlib.Path(args.model).name}, scales length {scales[0]} noise {scales[1]} noise_w {scales[2]}, "
          f"{args.threads} threads, {len(TEXTS)} texts, best of {args.repeat} runs")

    options = ["--length-scale", str(scales[0]), "--noise-scale", str(scales[1]), "--noise-w", str(scales[2]),
               "-t", str(args.threads), "--profile"]
    voice, _ = piper_load(args.model, args.threads)
    piper_text(voice, "Warming up.", scales)
    warm_runs, cold_runs, piper_runs = [], [[] for _ in TEXTS], [[] for _ in TEXTS]
    piper_load_time = float("inf")
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeat):
            _, load = piper_load(args.model, args.threads)
            piper_load_time = min(piper_load_time, load)
            warm_runs.append(hark_warm(binary, options, scratch))
            for i, text in enumerate(TEXTS):
                piper_runs[i].append(piper_text(voice, text, scales))
                cold_runs[i].append(hark_cold(binary, text, options))
    # Best of the runs, per text and per number; a text's stage times come from its fastest warm run.
    warm = [min((run[i] for run in warm_runs), key=lambda r: r["synthesis"]) for i in range(len(TEXTS))]
    warm_first = [min(run[i]["first audio"] for run in warm_runs) for i in range(len(TEXTS))]
    cold = [tuple(min(r[k] for r in runs) for k in range(4)) for runs in cold_runs]
    piper = [(min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]) for runs in piper_runs]

    print()
    print(f"{'':4} {'':8} {'--------- synthesis ---------':>30}   {'------- first audio -------':>29}")
    print(f"{'text':>4} {'audio s':>8} {'Hark s':>9} {'piper s':>9} {'ratio':>9}   "
          f"{'Hark s':>9} {'piper s':>9} {'ratio':>9}")
    for i in range(len(TEXTS)):
        label = "para" if i == PARAGRAPH else str(i + 1)
        print(f"{label:>4} {warm[i]['audio']:8.2f} {warm[i]['synthesis']:9.3f} {piper[i][0]:9.3f} "
              f"{warm[i]['synthesis'] / piper[i][0]:9.2f}   {warm_first[i]:9.3f} {piper[i][1]:9.3f} "
              f"{warm_first[i] / piper[i][1]:9.2f}")
    hark_total = sum(w["synthesis"] for w in warm)
    piper_total = sum(p[0] for p in piper)
    print(f"{'all':>4} {sum(w['audio'] for w in warm):8.2f} {hark_total:9.3f} {piper_total:9.3f} "
          f"{hark_total / piper_total:9.2f}")
    print()
    print(f"synthesis time, all texts, warm: Hark {hark_total:.3f} s, piper-tts {piper_total:.3f} s, "
          f"ratio {hark_total / piper_total:.2f} (goal ≤ 0.7)")
    print(f"first audio of the paragraph, warm: Hark {warm_first[PARAGRAPH]:.3f} s, piper-tts first sentence "
          f"{piper[PARAGRAPH][1]:.3f} s, ratio {warm_first[PARAGRAPH] / piper[PARAGRAPH][1]:.2f} (goal ≤ 0.5)")
    cold_total = sum(c[0] for c in cold)
    c = cold[PARAGRAPH]
    print(f"Hark cold (a process per text): synthesis {cold_total:.3f} s in all (ratio {cold_total / piper_total:.2f});"
          f" paragraph first audio {c[1]:.3f} s (ratio {c[1] / piper[PARAGRAPH][1]:.2f}), first byte {c[2]:.3f} s "
          f"after the process started")
    print(f"model load: Hark {min(c[3] for c in cold):.3f} s, piper-tts {piper_load_time:.3f} s")
    print()
    print("Hark per-stage profile (warm, fastest run of each text, summed):")
    stages = ["phonemizer", "text encoder", "duration predictor", "flow", "decoder"]
    sums = {stage: sum(w[stage] for w in warm) for stage in stages}
    busy = sum(sums.values())
    for stage in stages:
        print(f"  {stage:20} {sums[stage]:7.3f} s  {100 * sums[stage] / busy:5.1f} %")


if __name__ == "__main__":
    main()
