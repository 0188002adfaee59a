#!/usr/bin/env python3
"""A tiny OpenAI-compatible chat server for harkd's tests (standard library only).

POST /v1/chat/completions streams a canned reply as server-sent events, the way llama-server and Ollama do:
`data: {chat.completion.chunk}` lines, a blank line after each, `data: [DONE]` at the end. The request's "model"
picks the behaviour:
  anything else  the reply (--reply) in small pieces, --delay seconds apart
  "fail"         HTTP 500 with a JSON error body
  "slow"         waits 30 s before answering (for client timeouts)
  "stream-error" one piece, then an error object inside the stream
GET /v1/models answers a model list; GET /last-request returns the body of the last chat request, which --record FILE
also writes to FILE (for checking the system prompt and the memory the client sent).

Usage: fake-openai-server.py [--port 0] [--reply TEXT] [--delay 0.02] [--record FILE]; prints "PORT <n>" first.
"""

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_REPLY = (
    "Going forward ten meters sounds like a fine plan. Mind the furniture on the way! "
    "Tell me when you get there."
)


def chunk(content=None, finish=None, role=None):
    delta = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-hark-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "hark-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    last_request = b"{}"

    def log_message(self, format, *args):  # quiet: tests read stdout
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": "hark-test", "object": "model"}]})
        elif self.path == "/last-request":
            self.send_json(200, json.loads(Handler.last_request))
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": "not found"}})
            return
        Handler.last_request = body
        if self.server.record:
            with open(self.server.record, "wb") as f:
                f.write(body)
        request = json.loads(body)
        model = request.get("model", "")
        if model == "fail":
            self.send_json(500, {"error": {"message": "the model failed to load"}})
            return
        if model == "slow":
            time.sleep(30)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def send(obj):
            text = obj if isinstance(obj, str) else json.dumps(obj)
            self.wfile.write(f"data: {text}\n\n".encode())
            self.wfile.flush()

        self.wfile.write(b": keep-alive comment\n\n")
        send(chunk(role="assistant", content=""))
        if model == "stream-error":
            send(chunk(content="Let me think. "))
            send({"error": {"message": "the model crashed"}})
            self.close_connection = True
            return
        reply = self.server.reply
        pieces, i, size = [], 0, 3
        while i < len(reply):  # uneven pieces, as tokens are
            pieces.append(reply[i : i + size])
            i += size
            size = 3 + (size + 2) % 5
        for piece in pieces:
            send(chunk(content=piece))
            time.sleep(self.server.delay)
        send(chunk(finish="stop"))
        send("[DONE]")
        self.close_connection = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--record")
    args = parser.parse_args()
    # The parent may have SIGTERM ignored (test runners do), and children inherit that: handle it explicitly.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.reply = args.reply
    server.delay = args.delay
    server.record = args.record
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
