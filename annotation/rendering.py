"""Markdown written by researchers and admins (guidelines, consent texts) as safe HTML."""

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe


def render_markdown(text: str) -> SafeString:
    """Markdown to safe HTML: raw HTML in the text is shown as text, then nh3 sanitises."""
    md = markdown.Markdown(extensions=["fenced_code", "tables", "sane_lists", "nl2br"])
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return mark_safe(nh3.clean(md.convert(text)))  # noqa: S308 - sanitised by nh3
