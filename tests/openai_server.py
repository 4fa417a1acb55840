"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: scripted replies, errors and delays.

Tests give it a `responder(path, body) -> Reply`; it records every request it answered.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server sends back: a JSON body (or raw text), a status, headers and a delay first."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: str | None = None


def chat_reply(content: str, prompt_tokens: int = 10, completion_tokens: int = 5, model: str = "fake") -> Reply:
    """A well-formed chat.completions response whose message is `content`."""
    return Reply({
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def completion_reply(text: str, model: str = "fake") -> Reply:
    """A well-formed completions response whose text is `text`."""
    return Reply({
        "id": "cmpl-test", "object": "text_completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    })


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog of 5 drops connections when 64 clients connect at once.
    request_queue_size = 256
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a run stopped by a fatal error cancels its calls in flight) is not a server bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAI:
    """Serve until `close()`; `url` is the `/v1` base URL, `requests` the (path, body, headers) seen."""

    def __init__(self, responder: Callable[[str, dict[str, Any]], Reply] | None = None) -> None:
        self.responder = responder or (lambda path, body: chat_reply("ok"))
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A reply is written as two segments (headers, then body). With Nagle's algorithm on, the body
            # waits for the client's delayed ACK of the headers: 40 ms added to every keep-alive request,
            # which real servers (uvicorn, vllm, nginx set TCP_NODELAY) do not add.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                data = (reply.raw if reply.raw is not None else json.dumps(reply.body)).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(Reply({"object": "list", "data": [{"id": "fake", "object": "model"}]}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append((self.path, body, dict(self.headers)))
                self._send(server.responder(self.path, body))

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
