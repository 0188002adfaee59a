#!/usr/bin/env python3
"""harkd's turn latency: end of speech -> first audio, split by stage, for a built-in intent ("What time is it?")
and for a language-model answer (llama-cpp-python's OpenAI-compatible server on the catalog's SmolLM2, started
here). harkd (release build) runs as in production, not in virtual time: its capture device is ALSA's file plugin
reading a FIFO that this script feeds in real time, 20 ms at a time, so speech, pauses and silence take their real
duration while harkd listens, transcribes and speaks. Playback goes to a file device, which takes audio at once.

"End of speech" is the endpointer's decision that the utterance ended: it comes vad.silence (0.7 s by default)
after the last speech window, a wait reported separately. Each turn's stages come from harkd's own `timings` event
(wall clock from that decision): transcript ready, intent decided (a built-in answer, or the request sent to the
language model), the model's first token, the first audio chunk handed to the playback device.

    swift build -c release
    .venv/bin/python scripts/bench/harkd.py [--runs 5] [--bin DIR] [--skip-llm] [--threads N]
    .venv/bin/python scripts/bench/harkd.py --no-transcribe-at-pause    # Whisper starts at the endpoint instead

By default harkd starts transcribing when the user pauses (vad.transcribeAtPause): the 0.7 s of silence that ends
the utterance is then spent on Whisper, and the transcript it keeps is of the very same samples.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEECH = ROOT.parent / "shared/testdata/speech"
RATE = 16_000
CHUNK = 320  # 20 ms: written to the FIFO whole, so a read of one capture period never gets part of one


def read_wav(path):
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2, path
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
        audio = audio.reshape(-1, w.getnchannels()).mean(axis=1)
        return resample(audio, w.getframerate())


def resample(audio, rate):
    """Band-limited resampling to 16 kHz (FFT method; the clips are short and padded with silence)."""
    if rate == RATE:
        return audio
    count = int(round(len(audio) * RATE / rate))
    spectrum = np.fft.rfft(audio)
    kept = np.zeros(count // 2 + 1, dtype=complex)
    n = min(len(kept), len(spectrum))
    kept[:n] = spectrum[:n]
    return np.fft.irfft(kept, count).astype(np.float32) * count / len(audio)


def spoken(binary, text, folder):
    """`text` said by Hark's default voice (the `speak` CLI), at 16 kHz."""
    path = os.path.join(folder, "question.wav")
    subprocess.run([f"{binary}/speak", "-f", path, text], check=True, capture_output=True)
    return read_wav(path)


def silence(seconds):
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def feed(fifo, audio, stop):
    """Writes `audio` into the FIFO in real time, then silence until `stop` is set (harkd then has all it reads)."""
    data = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    step = CHUNK * 2
    with open(fifo, "wb", buffering=0) as out:
        start = time.monotonic()
        sent = 0
        try:
            while not stop.is_set():
                piece = data[sent:sent + step] if sent < len(data) else bytes(step)
                out.write(piece)
                sent += step
                delay = start + sent / 2 / RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except BrokenPipeError:
            pass


def run_harkd(binary, audio, extra, folder, at_pause=True):
    """Runs harkd on `audio` in real time; returns its events and log."""
    fifo = os.path.join(folder, "capture.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    asoundrc = os.path.join(folder, "asoundrc")
    with open(asoundrc, "w") as f:
        f.write(f'pcm.bench_in {{ type file slave {{ pcm {{ type null }} }} file "/dev/null" infile "{fifo}" '
                f'format raw }}\n'
                f'pcm.bench_out {{ type file slave {{ pcm {{ type null }} }} file "{folder}/playback.raw" '
                f'format raw }}\n')
    config = os.path.join(folder, "harkd.json")
    with open(config, "w") as f:
        # Short answers (60 tokens), so each is over before the next question: a question asked while Hark speaks
        # cuts the answer (barge-in), and llama-cpp-python's server goes on generating the abandoned one meanwhile.
        json.dump({"vad": {"transcribeAtPause": at_pause}, "llm": {"maxTokens": 60}}, f)
    seconds = len(audio) / RATE
    command = [f"{binary}/harkd", "--config", config, "--capture", "bench_in", "--playback", "bench_out", "--alsa-config", asoundrc,
               "--events", "--exit-after", f"{seconds:.3f}", "--wyoming", "off", "--http", "off", *extra]
    stop = threading.Event()
    writer = threading.Thread(target=feed, args=(fifo, audio, stop))
    writer.start()
    log_path = os.path.join(folder, "harkd.log")
    with open(log_path, "w") as log:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True)
    stop.set()
    writer.join()
    log_text = open(log_path).read()
    if result.returncode != 0:
        sys.exit(f"harkd failed ({result.returncode}):\n{log_text[-3000:]}")
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return events, log_text


def turns(events, verbose=False):
    """Per turn: the timings event, with the stages as differences (turns without a first token when one was
    expected, e.g. an apology, are left out and said)."""
    out = []
    sources = []
    for event in events:
        if event["event"] == "sentence":
            sources.append(event["source"])
        if verbose and event["event"] in ("transcript", "sentence", "error"):
            print("   ", json.dumps(event))
        if event["event"] != "timings":
            continue
        chat = "chat" in sources
        apology = "apology" in sources
        sources = []
        if apology or (chat and event["firstTokenMs"] is None):
            print(f"    (a turn without a model answer left out: {json.dumps(event)})")
            continue
        transcript, intent = event["transcriptMs"], event.get("intentMs")
        token, audio = event["firstTokenMs"], event["firstAudioMs"]
        stages = {"endpoint->transcript": transcript, "transcript->intent": intent - transcript}
        if token is not None:
            stages["intent->first token"] = token - intent
            stages["first token->first audio"] = audio - token
        else:
            stages["intent->first audio"] = audio - intent
        stages["total (endpoint->first audio)"] = audio
        out.append(stages)
    return out


def report(name, per_turn, expected):
    print(f"\n{name}: {len(per_turn)} of {expected} turns answered; median (min-max) over them, ms")
    if not per_turn:
        return {}
    summary = {}
    for stage in per_turn[0]:
        values = [t[stage] for t in per_turn]
        summary[stage] = statistics.median(values)
        print(f"  {stage:32s} {statistics.median(values):7.0f}   ({min(values):.0f}-{max(values):.0f})")
    return summary


def start_llama_server(python, model, threads):
    process = subprocess.Popen(
        [python, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", "0", "--n_ctx", "2048",
         "--n_threads", str(threads)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marker = "Uvicorn running on http://127.0.0.1:"
    for line in process.stdout:
        if marker in line:
            port = int(line.split(marker)[1].split()[0])
            # Keep reading the log so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, f"http://127.0.0.1:{port}"
    sys.exit("llama-cpp-python's server did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bin", default=None, help="build folder with harkd, speak, hark-models (default: release)")
    parser.add_argument("--skip-llm", action="store_true")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--verbose", action="store_true", help="print what was heard and said")
    parser.add_argument("--no-transcribe-at-pause", action="store_true", help="transcribe only at the endpoint")
    args = parser.parse_args()
    binary = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout.strip()
    results = {}
    with tempfile.TemporaryDirectory(prefix="hark-bench-harkd-") as folder:
        threads = ["--threads", str(args.threads)]
        question = spoken(binary, "What time is it?", folder)
        audio = np.concatenate([silence(1)] + [np.concatenate([question, silence(3)])] * args.runs)
        at_pause = not args.no_transcribe_at_pause
        events, log = run_harkd(binary, audio, ["--llm-url", "", *threads], folder, at_pause)
        results["rule"] = report('Built-in intent ("What time is it?")', turns(events, args.verbose), args.runs)

        if not args.skip_llm:
            model = subprocess.run([f"{binary}/hark-models", "path", "smollm2-135m-instruct-q4_1"],
                                   capture_output=True, text=True, check=True).stdout.strip()
            gguf = next(str(p) for p in pathlib.Path(model).glob("*.gguf")) if os.path.isdir(model) else model
            server, url = start_llama_server(sys.executable, gguf, args.threads)
            try:
                question = read_wav(SPEECH / "cmu_pocketsphinx_goforward.wav")  # "go forward ten meters"
                audio = np.concatenate([silence(1)] + [np.concatenate([question, silence(20)])] * args.runs)
                events, log = run_harkd(binary, audio, ["--llm-url", url, *threads], folder, at_pause)
                results["llm"] = report("Language model (llama-cpp-python server, SmolLM2-135M)", turns(events, args.verbose),
                                        args.runs)
            finally:
                server.kill()
    print("\nEnd of speech = the endpointer's decision, 0.7 s (vad.silence) after the last speech window; "
          f"transcription at the pause: {'on' if at_pause else 'off'}; load average {os.getloadavg()[0]:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
