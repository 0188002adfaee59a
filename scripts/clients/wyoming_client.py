#!/usr/bin/env python3
"""A real Wyoming client (PyPI `wyoming` 1.10.2) against Hark's Wyoming server, for the SpeechServers tests.

Each command prints one JSON object on stdout:
  describe                       -> {"info": <info event data>}
  transcribe FILE [--channels N] -> {"text", "language"}       (FILE: a WAV; sent in its own rate/width, N channels)
  synthesize TEXT --out WAV [--voice NAME] [--speaker S] [--stream]
                                 -> {"rate", "width", "channels", "samples", "chunks"}  (--stream: synthesize-start/-chunk/-stop)
  bad KIND                       -> {"events": [...], "closed": bool}  (KIND: notjson, oversized, unknown, truncated, badlength)
"""

import argparse
import asyncio
import json
import sys
import wave

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)


def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(1)


async def describe(host, port):
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Describe().event())
        event = await client.read_event()
        if event is None or not Info.is_type(event.type):
            fail(f"expected info, got {event}")
        info = Info.from_event(event)  # parses with the library's own dataclasses
        print(json.dumps({"info": event.data, "tts_voices": [v.name for p in info.tts for v in p.voices]}))


def upmix(frames, width, channels):
    """Interleaved copies of each sample, to send the same audio as `channels` channels."""
    if channels == 1:
        return frames
    out = bytearray()
    for i in range(0, len(frames), width):
        out += frames[i : i + width] * channels
    return bytes(out)


async def transcribe(host, port, path, channels, language):
    with wave.open(path, "rb") as w:
        rate, width, source_channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        frames = w.readframes(w.getnframes())
    if source_channels != 1:
        fail("the test clip must be mono")
    audio = upmix(frames, width, channels)
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Transcribe(language=language).event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
        step = 1024 * width * channels
        for i in range(0, len(audio), step):
            chunk = AudioChunk(rate=rate, width=width, channels=channels, audio=audio[i : i + step])
            await client.write_event(chunk.event())
        await client.write_event(AudioStop().event())
        event = await client.read_event()
        if event is None:
            fail("connection closed before the transcript")
        if Error.is_type(event.type):
            fail(f"server error: {Error.from_event(event).text}")
        if not Transcript.is_type(event.type):
            fail(f"expected transcript, got {event.type}")
        transcript = Transcript.from_event(event)
        print(json.dumps({"text": transcript.text, "language": transcript.language}))


async def synthesize(host, port, text, out, voice, speaker, stream):
    async with AsyncTcpClient(host, port) as client:
        synth_voice = SynthesizeVoice(name=voice, speaker=speaker) if (voice or speaker) else None
        if stream:
            await client.write_event(SynthesizeStart(voice=synth_voice).event())
            words = text.split(" ")
            for i in range(0, len(words), 3):
                await client.write_event(SynthesizeChunk(text=" ".join(words[i : i + 3]) + " ").event())
            await client.write_event(Synthesize(text=text, voice=synth_voice).event())  # ignored while streaming
            await client.write_event(SynthesizeStop().event())
        else:
            await client.write_event(Synthesize(text=text, voice=synth_voice).event())
        audio = bytearray()
        rate = width = channels = None
        chunks = 0
        starts = 0
        while True:
            event = await client.read_event()
            if event is None:
                fail("connection closed during synthesis")
            if Error.is_type(event.type):
                fail(f"server error: {Error.from_event(event).text}")
            if AudioStart.is_type(event.type):
                start = AudioStart.from_event(event)
                rate, width, channels = start.rate, start.width, start.channels
                starts += 1
            elif AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                audio += chunk.audio
                chunks += 1
            elif AudioStop.is_type(event.type):
                if not stream:
                    break
            elif SynthesizeStopped.is_type(event.type):
                break
    with wave.open(out, "wb") as w:
        w.setframerate(rate)
        w.setsampwidth(width)
        w.setnchannels(channels)
        w.writeframes(bytes(audio))
    print(
        json.dumps(
            {
                "rate": rate,
                "width": width,
                "channels": channels,
                "samples": len(audio) // (width * channels),
                "chunks": chunks,
                "audio_starts": starts,
            }
        )
    )


BAD = {
    "notjson": b"this is not json\n",
    "oversized": b'{"type": "audio-chunk", "payload_length": 2000000000}\n',
    "unknown": b'{"type": "make-coffee"}\n',
    "truncated": b'{"type": "synthesize", "data_length": 100}\n{"text": "cut',
    "badlength": b'{"type": "synthesize", "data_length": -5}\n',
}


async def bad(host, port, kind):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(BAD[kind])
    await writer.drain()
    if kind == "truncated":
        writer.write_eof()
    events = []
    closed = False
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            if not line:
                closed = True
                break
            header = json.loads(line)
            data = header.get("data") or {}
            if header.get("data_length"):
                data.update(json.loads(await reader.readexactly(header["data_length"])))
            if header.get("payload_length"):
                await reader.readexactly(header["payload_length"])
            events.append({"type": header["type"], "data": data})
    except asyncio.TimeoutError:
        closed = False
    writer.close()
    print(json.dumps({"events": events, "closed": closed}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("describe")
    t = sub.add_parser("transcribe")
    t.add_argument("file")
    t.add_argument("--channels", type=int, default=1)
    t.add_argument("--language")
    s = sub.add_parser("synthesize")
    s.add_argument("text")
    s.add_argument("--out", required=True)
    s.add_argument("--voice")
    s.add_argument("--speaker")
    s.add_argument("--stream", action="store_true")
    b = sub.add_parser("bad")
    b.add_argument("kind", choices=sorted(BAD))
    args = parser.parse_args()
    if args.command == "describe":
        asyncio.run(describe(args.host, args.port))
    elif args.command == "transcribe":
        asyncio.run(transcribe(args.host, args.port, args.file, args.channels, args.language))
    elif args.command == "synthesize":
        asyncio.run(synthesize(args.host, args.port, args.text, args.out, args.voice, args.speaker, args.stream))
    else:
        asyncio.run(bad(args.host, args.port, args.kind))


if __name__ == "__main__":
    main()
