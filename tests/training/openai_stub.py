"""A stand-in for an inference server outside the project (vLLM and the like): a stdlib
http.server speaking the OpenAI-compatible /v1/completions and /v1/chat/completions, streamed
(server-sent events) when a request asks for `"stream": true`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "body": body, "headers": dict(self.headers)}
        )
        redirect, fail = self.server.redirect_to, self.server.fail_with  # type: ignore[attr-defined]
        if redirect:  # a hostile or misconfigured server sends the client elsewhere
            self.send_response(302)
            self.send_header("Location", redirect + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fail:  # an error page that echoes something it should not
            payload = fail.encode()
            self.send_response(500, "Leaky " + fail)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            self.send_error(404)
            return
        chat = self.path.endswith("chat/completions")
        asked = body["messages"][-1]["content"] if chat else body["prompt"]
        if body.get("stream"):
            self._stream(asked, chat)
            return
        choices = []
        for i in range(body.get("n", 1)):
            text = f"reply {i} to {asked.strip()[-20:]}" + (" longer" * i)
            choices.append(
                {
                    "index": i,
                    "finish_reason": "stop",
                    **(
                        {"message": {"role": "assistant", "content": text}}
                        if chat
                        else {"text": text}
                    ),
                }
            )
        payload = json.dumps(
            {"choices": choices, "usage": {"completion_tokens": 5 * len(choices)}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, asked: str, chat: bool) -> None:
        """Server-sent events as vLLM sends them: one chunk per word, then `data: [DONE]`.
        `stream_words` words, `stream_delay` seconds apart; `break_after` words: the connection
        drops there (no [DONE])."""
        server: Any = self.server
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = [f"reply to {asked.strip()[-20:]}:"] + [
            f"word{i}" for i in range(server.stream_words)
        ]
        for i, word in enumerate(words):
            if server.break_after is not None and i >= server.break_after:
                return  # the server dies mid-reply
            text = word if i == 0 else " " + word
            choice = (
                {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
            )
            self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())
            self.wfile.flush()
            time.sleep(server.stream_delay)
        final = {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())

    def do_GET(self) -> None:  # noqa: N802 - where a followed 302 would arrive
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "body": None, "headers": dict(self.headers)}
        )
        self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def openai_stub(
    host: str = "127.0.0.1",
    *,
    redirect_to: str = "",
    fail_with: str = "",
    stream_words: int = 12,
    stream_delay: float = 0.02,
    break_after: int | None = None,
) -> Iterator[ThreadingHTTPServer]:
    """A stub server recording every request (path, body, headers). `redirect_to`: answer every
    request with a 302 to that origin; `fail_with`: answer 500 with that text as reason and body.
    Requests with `"stream": true` get server-sent events (`_Handler._stream`)."""
    server: Any = ThreadingHTTPServer((host, 0), _Handler)
    server.requests = []
    server.redirect_to, server.fail_with = redirect_to, fail_with
    server.stream_words, server.stream_delay, server.break_after = (
        stream_words,
        stream_delay,
        break_after,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def stub_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/v1"
