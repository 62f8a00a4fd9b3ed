"""Markdown written by researchers and admins (guidelines, consent texts) as safe HTML."""

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe


def render_markdown(text: str, *, line_breaks: bool = False) -> SafeString:
    """Markdown to safe HTML: raw HTML in the text is shown as text, then nh3 sanitises.

    Written documents (guidelines, consent) follow Markdown: a single line break inside a
    paragraph is a space (soft break), so text wrapped in an editor reads as one paragraph.
    `line_breaks=True` keeps every line break (conversation turns and model responses, where a
    newline is meant as one)."""
    extensions = ["fenced_code", "tables", "sane_lists"] + (["nl2br"] if line_breaks else [])
    md = markdown.Markdown(extensions=extensions)
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return mark_safe(nh3.clean(md.convert(text)))  # noqa: S308 - sanitised by nh3
