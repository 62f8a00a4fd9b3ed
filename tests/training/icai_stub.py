"""A stand-in for the LLM of Inverse Constitutional AI (training/ml/icai.py): a stdlib chat server
(OpenAI-compatible /v1/chat/completions) that reads the v1 prompt files' markers.

- Asked to propose (no [Principle] block), it proposes principles derived from the pair's text:
  "concise" when the chosen response is the shorter, "detailed" when it is the longer, "formal"
  or "casual" when the chosen one is the more formal or casual, each in two wordings (near-
  duplicates for the merge step), plus a vague "helpful" one every pair gets.
- Asked to judge, it follows the principle's text: "concise"/"shorter" picks the shorter
  response, "detailed"/"longer" the longer, "formal" the one with fewer casual words, "casual"
  the one with more; any other principle gets "A" whatever the responses (pure position bias,
  which asking in both orders must cancel).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CASUAL = re.compile(r"\b(hey|gonna|yeah|lol|cool|stuff|kinda)\b|!", re.IGNORECASE)


def _block(prompt: str, name: str) -> str:
    match = re.search(rf"\[{name}\]\n(.*?)\n\[End of {name}\]", prompt, re.DOTALL | re.IGNORECASE)
    return match.group(1) if match else ""


def propose(prompt: str) -> str:
    chosen, rejected = _block(prompt, "Chosen response"), _block(prompt, "Rejected response")
    out = []
    if len(chosen) < len(rejected):
        out += ["Select the response that is more concise.", "Prefer the response that is concise."]
    elif len(chosen) > len(rejected):
        out += ["Select the response that is more detailed.", "Prefer the longer, detailed answer."]
    casual_chosen, casual_rejected = len(CASUAL.findall(chosen)), len(CASUAL.findall(rejected))
    if casual_chosen < casual_rejected:
        out.append("Select the response written in a more formal tone.")
    elif casual_chosen > casual_rejected:
        out.append("Select the response written in a more casual tone.")
    out.append("Select the response that is more helpful.")
    return "Here are my principles:\n" + json.dumps(out)


def judge(prompt: str) -> str:
    principle = _block(prompt, "Principle").lower()
    a, b = _block(prompt, "Response A"), _block(prompt, "Response B")
    if "concise" in principle or "shorter" in principle:
        pick = a if len(a) < len(b) else b if len(b) < len(a) else None
    elif "detailed" in principle or "longer" in principle:
        pick = a if len(a) > len(b) else b if len(b) > len(a) else None
    elif "formal" in principle or "casual" in principle:
        ca, cb = len(CASUAL.findall(a)), len(CASUAL.findall(b))
        if ca == cb:
            pick = None
        else:
            more_casual = a if ca > cb else b
            pick = more_casual if "casual" in principle else (b if more_casual is a else a)
    else:
        return "A"
    return "N" if pick is None else ("A" if pick is a else "B")


def answer(prompt: str) -> str:
    return judge(prompt) if "[Principle]" in prompt else propose(prompt)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "body": body, "headers": dict(self.headers)}
        )
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        text = answer(body["messages"][-1]["content"])
        choices = [
            {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
            for i in range(body.get("n", 1))
        ]
        payload = json.dumps({"choices": choices}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def icai_stub(host: str = "127.0.0.1") -> Iterator[ThreadingHTTPServer]:
    """The stand-in server, recording every request (path, body, headers)."""
    server = ThreadingHTTPServer((host, 0), _Handler)
    server.requests = []  # type: ignore[attr-defined]
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


# --- planted judgments: two groups preferring describable, different properties -------------

TOPICS = "tea rain bread clocks maps glass salt bees ink rivers moss kites".split()


def planted_rows(n_per_group: int = 12) -> list[dict[str, Any]]:
    """Preference rows (training/ml/data.py) of group "brief" (prefers the concise reply) and
    "thorough" (prefers the detailed one), on the same prompts and replies."""
    rows = []
    for i in range(n_per_group):
        topic = TOPICS[i % len(TOPICS)]
        prompt = [{"role": "user", "content": f"Tell me about {topic} ({i})."}]
        short = f"{topic.capitalize()} is well known."
        long = (
            f"{topic.capitalize()} has a long history: people have studied it for centuries, "
            f"and there are many kinds of {topic}, each with its own uses and stories."
        )
        for group, chosen, rejected in (("brief", short, long), ("thorough", long, short)):
            rows.append(
                {"prompt": prompt, "chosen": chosen, "rejected": rejected, "groups": [group]}
            )
    return rows
