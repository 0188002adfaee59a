#!/usr/bin/env python3
"""The PyPI `openai` client, unchanged, against Hark's OpenAI-compatible HTTP API (base_url → Hark).

Each command prints one JSON object on stdout:
  speech TEXT --out FILE [--format wav|flac|pcm] [--voice V] [--speed S]  -> {"bytes", "format"}
      (pcm is read with the streaming response API, chunk by chunk)
  transcribe FILE [--format json|text|srt|vtt|verbose_json] [--language L] -> {"result": <text or object>}
  models                                                                   -> {"ids": [...]}
  error-auth                                                               -> {"status", "error"}  (wrong key)
"""

import argparse
import json
import sys

import openai


def client(args, key=None):
    return openai.OpenAI(
        base_url=f"http://{args.host}:{args.port}/v1", api_key=key or args.api_key or "none", max_retries=0, timeout=300
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("speech")
    s.add_argument("text")
    s.add_argument("--out", required=True)
    s.add_argument("--format", default="wav")
    s.add_argument("--voice", default="alloy")
    s.add_argument("--speed", type=float)
    t = sub.add_parser("transcribe")
    t.add_argument("file")
    t.add_argument("--format", default="json")
    t.add_argument("--language")
    sub.add_parser("models")
    sub.add_parser("error-auth")
    args = parser.parse_args()

    if args.command == "speech":
        extra = {"speed": args.speed} if args.speed else {}
        with client(args).audio.speech.with_streaming_response.create(
            model="tts-1", voice=args.voice, input=args.text, response_format=args.format, **extra
        ) as response:
            pieces = 0
            with open(args.out, "wb") as f:
                for piece in response.iter_bytes(4096):
                    f.write(piece)
                    pieces += 1
            print(json.dumps({"format": args.format, "pieces": pieces, "content_type": response.headers.get("content-type")}))
    elif args.command == "transcribe":
        extra = {"language": args.language} if args.language else {}
        with open(args.file, "rb") as f:
            result = client(args).audio.transcriptions.create(
                model="whisper-1", file=f, response_format=args.format, **extra
            )
        if isinstance(result, str):
            print(json.dumps({"result": result}))
        else:
            print(json.dumps({"result": result.model_dump()}))
    elif args.command == "models":
        print(json.dumps({"ids": [m.id for m in client(args).models.list()]}))
    elif args.command == "error-auth":
        try:
            client(args, key="wrong-key").models.list()
            print(json.dumps({"status": 200}))
        except openai.APIStatusError as e:
            print(json.dumps({"status": e.status_code, "error": e.body}))
    else:
        sys.exit(2)


if __name__ == "__main__":
    main()
