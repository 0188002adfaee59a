#!/usr/bin/env python3
"""The PyPI `openai` client, unchanged, against Hark's OpenAI-compatible HTTP API (base_url → Hark).

Each command prints one JSON object on stdout:
  speech TEXT --out FILE [--format wav|flac|pcm] [--voice V] [--speed S]  -> {"bytes", "format"}
      (pcm is read with the streaming response API, chunk by chunk)
  transcribe FILE [--format json|text|srt|vtt|verbose_json] [--language L] -> {"result": <text or object>}
  models                                                                   -> {"ids": [...]}
  chat MESSAGES_JSON [--stream] [--max-tokens N] [--temperature T] [--seed S] [--stop S]...
      -> {"text", "finish_reason", "usage"} (+ "roles": the deltas' roles, "pieces": content chunks, when streamed)
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
    c = sub.add_parser("chat")
    c.add_argument("messages", help="the messages as a JSON list of {role, content}")
    c.add_argument("--stream", action="store_true")
    c.add_argument("--max-tokens", type=int)
    c.add_argument("--temperature", type=float)
    c.add_argument("--seed", type=int)
    c.add_argument("--stop", action="append")
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
    elif args.command == "chat":
        extra = {}
        if args.max_tokens is not None:
            extra["max_tokens"] = args.max_tokens
        if args.temperature is not None:
            extra["temperature"] = args.temperature
        if args.seed is not None:
            extra["seed"] = args.seed
        if args.stop:
            extra["stop"] = args.stop if len(args.stop) > 1 else args.stop[0]
        messages = json.loads(args.messages)
        if args.stream:
            stream = client(args).chat.completions.create(
                model="hark", messages=messages, stream=True, stream_options={"include_usage": True}, **extra
            )
            roles, pieces, finish, usage = [], [], None, None
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage.model_dump()
                for choice in chunk.choices:
                    if choice.delta.role:
                        roles.append(choice.delta.role)
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
            print(json.dumps({"text": "".join(pieces), "finish_reason": finish, "usage": usage, "roles": roles, "pieces": pieces}))
        else:
            result = client(args).chat.completions.create(model="hark", messages=messages, **extra)
            choice = result.choices[0]
            print(json.dumps({"text": choice.message.content, "role": choice.message.role,
                              "finish_reason": choice.finish_reason, "usage": result.usage.model_dump(),
                              "object": result.object}))
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
