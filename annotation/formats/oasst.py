"""OpenAssistant message trees (`*.trees.jsonl` of oasst1/oasst2).

Each line is a tree, in either export layout: the tree wrapper `{"message_tree_id": ...,
"prompt": {"message_id", "text", "role": "prompter", "replies": [{"text", "role":
"assistant", "rank": 0, "replies": [...]}, ...]}}`, or the root message itself, one per line
(`{"message_id", "text", "role": "prompter", "replies": [...], ...}`, the `ExportMessageNode`
of oasst_data; its tree id is `message_tree_id` when given, else its `message_id`). Field names
in errors follow the layout: `prompt.replies[0].rank` or `replies[0].rank`.
Every node whose assistant replies carry consensus ranks (at least two ranked) becomes a
K-way ranking item: the prompt is the conversation from the root to that node, the
completions are the ranked replies in rank order, and the consensus ranking is kept as an
external judgment. When more replies are ranked than the project's K, the K best are kept.
Prompter replies to assistant messages continue the walk (multi-turn conversations).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from annotation.formats.base import (
    ImportFileError,
    ParsedCompletion,
    ParsedItem,
    ParsedJudgment,
    ParsedTurn,
    parse_json_line,
    require,
)

SOURCE = "oasst"
_ROLES = {"prompter": "user", "assistant": "assistant"}


def parse(lines: Iterable[tuple[int, str]], *, max_k: int = 9) -> Iterator[ParsedItem]:
    for number, line in lines:
        row = parse_json_line(number, line)
        if "prompt" not in row and ("role" in row or "message_id" in row):  # a root message
            tree_id = str(row.get("message_tree_id") or row.get("message_id", ""))
            yield from _walk(row, [], number, "", tree_id, max_k)
            continue
        root = require(row, "prompt", dict, number)
        tree_id = str(row.get("message_tree_id", ""))
        yield from _walk(root, [], number, "prompt", tree_id, max_k)


def _at(where: str, key: str) -> str:
    """A field's path: `prompt.replies[0].rank` in the wrapper layout, `replies[0].rank` in
    the root-message one."""
    return f"{where}.{key}" if where else key


def _node(node: dict[str, Any], number: int, where: str) -> ParsedTurn:
    prefix = f"{where}." if where else ""
    role = require(node, "role", str, number, prefix)
    if role not in _ROLES:
        raise ImportFileError(
            f"role must be prompter or assistant, got {role!r}",
            line=number,
            field=_at(where, "role"),
        )
    return ParsedTurn(_ROLES[role], require(node, "text", str, number, prefix))


def _walk(
    node: dict[str, Any],
    history: list[ParsedTurn],
    number: int,
    where: str,
    tree_id: str,
    max_k: int,
) -> Iterator[ParsedItem]:
    turn = _node(node, number, where)
    conversation = [*history, turn]
    replies = node.get("replies", [])
    if not isinstance(replies, list):
        raise ImportFileError("expected a list", line=number, field=_at(where, "replies"))
    ranked = []
    for index, reply in enumerate(replies):
        if not isinstance(reply, dict):
            raise ImportFileError(
                "expected an object", line=number, field=_at(where, f"replies[{index}]")
            )
        rank = reply.get("rank")
        if rank is not None and (not isinstance(rank, int) or isinstance(rank, bool) or rank < 0):
            raise ImportFileError(
                "expected a non-negative integer",
                line=number,
                field=_at(where, f"replies[{index}].rank"),
            )
        if turn.role == "user" and rank is not None:
            ranked.append((rank, index, reply))
    if len(ranked) >= 2:
        ranked.sort(key=lambda entry: (entry[0], entry[1]))
        kept = ranked[:max_k]
        texts = [_node(reply, number, _at(where, f"replies[{i}]")).content for _, i, reply in kept]
        ranks = _dense_ranks([rank for rank, _, _ in kept])
        yield ParsedItem(
            line=number,
            prompt=tuple(conversation),
            completions=tuple(ParsedCompletion(text, source_model="oasst-human") for text in texts),
            external_id=f"{tree_id}:{node.get('message_id', '')}",
            judgments=(ParsedJudgment(SOURCE, ranks=tuple(ranks)),),
        )
    for index, reply in enumerate(replies):
        yield from _walk(
            reply, conversation, number, _at(where, f"replies[{index}]"), tree_id, max_k
        )


def _dense_ranks(values: list[int]) -> list[int]:
    """Consensus ranks (0-based, maybe with gaps or ties) -> 1-based ranks, ties kept."""
    order = sorted(set(values))
    return [order.index(value) + 1 for value in values]
