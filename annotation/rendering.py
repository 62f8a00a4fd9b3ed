"""Markdown written by researchers and admins (guidelines, consent texts) as safe HTML.

Rendering is a pure function of the text, so the results are kept in a bounded per-process LRU
keyed by a hash of the text: the workbench shows the same prompts, responses and guidelines to
every labeler and re-renders none of them (issue 14: markdown was 8 % of the htmx path's CPU)."""

import hashlib
import threading
from collections import OrderedDict

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

CACHE_SIZE = 2048  # rendered texts kept per process
_rendered: OrderedDict[tuple[bytes, bool], str] = OrderedDict()
_lock = threading.Lock()


def _render(text: str, line_breaks: bool) -> str:
    extensions = ["fenced_code", "tables", "sane_lists"] + (["nl2br"] if line_breaks else [])
    md = markdown.Markdown(extensions=extensions)
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return nh3.clean(md.convert(text))


def render_markdown(text: str, *, line_breaks: bool = False) -> SafeString:
    """Markdown to safe HTML: raw HTML in the text is shown as text, then nh3 sanitises.

    Written documents (guidelines, consent) follow Markdown: a single line break inside a
    paragraph is a space (soft break), so text wrapped in an editor reads as one paragraph.
    `line_breaks=True` keeps every line break (conversation turns and model responses, where a
    newline is meant as one)."""
    key = (hashlib.blake2b(text.encode(), digest_size=16).digest(), line_breaks)
    with _lock:
        html = _rendered.get(key)
        if html is not None:
            _rendered.move_to_end(key)
    if html is None:
        html = _render(text, line_breaks)
        with _lock:
            _rendered[key] = html
            while len(_rendered) > CACHE_SIZE:
                _rendered.popitem(last=False)
    return mark_safe(html)  # noqa: S308 - sanitised by nh3
