#!/usr/bin/env python3
"""Load test of harkd's servers: C concurrent clients x R requests each, mixed speech and transcription over both
protocols (Wyoming with the PyPI `wyoming` client, HTTP with the PyPI `openai` client). Every answer is checked:
a transcript must equal --expect (the clip's in-process transcript, normalised), speech must be a non-empty
16-bit WAV/PCM of plausible length. A 503 (HTTP) or `busy` error (Wyoming) is retried after its Retry-After and
counted. Prints one JSON line: requests/s, p50/p95 latency overall and per kind, retries, failures.

    .venv/bin/python scripts/bench/servers.py --wyoming 127.0.0.1:10500 --http 127.0.0.1:8080 \
        --clip ../shared/testdata/speech/jfk_inaugural_1961.wav --expect "And so my fellow Americans, ..." \
        --clients 8 --requests 5
"""

import argparse
import asyncio
import io
import json
import re
import statistics
import sys
import time
import wave

import openai
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.tts import Synthesize

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hark is a speech appliance.",
    "Please turn on the kitchen lights.",
    "What is the weather like tomorrow?",
]


def normalise(text):
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).split()


class Busy(Exception):
    def __init__(self, seconds):
        self.seconds = seconds


async def wyoming_transcribe(host, port, clip):
    rate, width, frames = clip
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Transcribe().event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=1).event())
        step = 2048 * width
        for i in range(0, len(frames), step):
            await client.write_event(AudioChunk(rate=rate, width=width, channels=1, audio=frames[i : i + step]).event())
        await client.write_event(AudioStop().event())
        event = await client.read_event()
        if event is not None and Error.is_type(event.type):
            error = Error.from_event(event)
            if error.code == "busy":
                raise Busy(2)
            raise RuntimeError(error.text)
        if event is None or not Transcript.is_type(event.type):
            raise RuntimeError(f"no transcript: {event}")
        return Transcript.from_event(event).text


async def wyoming_synthesize(host, port, text):
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Synthesize(text=text).event())
        samples, rate = 0, None
        while True:
            event = await client.read_event()
            if event is None:
                raise RuntimeError("closed during synthesis")
            if Error.is_type(event.type):
                error = Error.from_event(event)
                if error.code == "busy":
                    raise Busy(2)
                raise RuntimeError(error.text)
            if AudioStart.is_type(event.type):
                rate = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                samples += len(event.payload or b"") // 2
            elif event.type == "audio-stop":
                return samples / rate


def http_call(fn):
    try:
        return fn()
    except openai.APIStatusError as e:
        if e.status_code == 503:
            raise Busy(int(e.response.headers.get("retry-after", "2")))
        raise


async def http_speech(api, text, response_format):
    def call():
        response = api.audio.speech.create(model="tts-1", voice="alloy", input=text, response_format=response_format)
        return response.content

    body = await asyncio.to_thread(http_call, call)
    if response_format == "wav":
        with wave.open(io.BytesIO(body), "rb") as w:
            return w.getnframes() / w.getframerate()
    return len(body) / 2 / 24000


async def http_transcribe(api, clip_path):
    def call():
        with open(clip_path, "rb") as f:
            return api.audio.transcriptions.create(model="whisper-1", file=f).text

    return await asyncio.to_thread(http_call, call)


async def run_client(index, args, clip, api, results):
    wy_host, wy_port = args.wyoming.rsplit(":", 1)
    for j in range(args.requests):
        kind = ["wyoming-transcribe", "http-speech", "wyoming-synthesize", "http-transcribe"][(index + j) % 4]
        text = SENTENCES[(index + j) % len(SENTENCES)]
        start = time.perf_counter()
        retries = 0
        while True:
            try:
                if kind == "wyoming-transcribe":
                    answer = await wyoming_transcribe(wy_host, int(wy_port), clip)
                    ok = normalise(answer) == normalise(args.expect)
                elif kind == "http-transcribe":
                    answer = await http_transcribe(api, args.clip)
                    ok = normalise(answer) == normalise(args.expect)
                elif kind == "wyoming-synthesize":
                    answer = await wyoming_synthesize(wy_host, int(wy_port), text)
                    ok = 0.5 < answer < 15
                else:
                    answer = await http_speech(api, text, "wav" if j % 2 == 0 else "pcm")
                    ok = 0.5 < answer < 15
                break
            except Busy as busy:
                retries += 1
                await asyncio.sleep(busy.seconds)
            except Exception as e:  # a failure is a wrong answer, reported, not a crash of the bench
                answer, ok = f"{type(e).__name__}: {e}", False
                break
        results.append(
            {"kind": kind, "seconds": time.perf_counter() - start, "ok": ok, "retries": retries, "answer": str(answer)}
        )


def percentile(values, p):
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wyoming", required=True, help="HOST:PORT")
    parser.add_argument("--http", required=True, help="HOST:PORT")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--clip", required=True, help="a 16-bit mono WAV to transcribe")
    parser.add_argument("--expect", required=True, help="its transcript")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5)
    args = parser.parse_args()
    with wave.open(args.clip, "rb") as w:
        clip = (w.getframerate(), w.getsampwidth(), w.readframes(w.getnframes()))
    api = openai.OpenAI(base_url=f"http://{args.http}/v1", api_key=args.api_key, max_retries=0, timeout=600)
    results = []
    start = time.perf_counter()
    await asyncio.gather(*(run_client(i, args, clip, api, results) for i in range(args.clients)))
    wall = time.perf_counter() - start
    seconds = [r["seconds"] for r in results]
    kinds = {}
    for r in results:
        kinds.setdefault(r["kind"], []).append(r["seconds"])
    report = {
        "clients": args.clients,
        "requests": len(results),
        "correct": sum(r["ok"] for r in results),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(results) / wall, 3),
        "p50_s": round(percentile(seconds, 0.5), 2),
        "p95_s": round(percentile(seconds, 0.95), 2),
        "retries": sum(r["retries"] for r in results),
        "by_kind": {
            k: {"n": len(v), "p50_s": round(percentile(v, 0.5), 2), "p95_s": round(percentile(v, 0.95), 2)}
            for k, v in sorted(kinds.items())
        },
        "failures": [r for r in results if not r["ok"]][:5],
    }
    print(json.dumps(report))
    sys.exit(0 if report["correct"] == report["requests"] else 1)


if __name__ == "__main__":
    asyncio.run(main())
