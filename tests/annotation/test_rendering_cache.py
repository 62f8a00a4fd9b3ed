"""Rendered markdown is kept per process by the text's hash (rendering.render_markdown): the same
prompt, response or guidelines text is rendered once, with and without line breaks apart, and
the cache stays bounded."""

import uuid

from annotation import rendering


def _counting(monkeypatch):
    calls = []
    real = rendering._render

    def spy(text, line_breaks):
        calls.append((text, line_breaks))
        return real(text, line_breaks)

    monkeypatch.setattr(rendering, "_render", spy)
    return calls


def test_a_text_is_rendered_once(monkeypatch):
    calls = _counting(monkeypatch)
    text = f"**{uuid.uuid4()}**\nsecond line <script>x</script>"
    first = rendering.render_markdown(text, line_breaks=True)
    assert rendering.render_markdown(text, line_breaks=True) == first
    assert "<br" in first and "<script>" not in first and "<strong>" in first
    assert "<br" not in rendering.render_markdown(text)  # rendered apart without line breaks
    assert len(calls) == 2


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(rendering, "CACHE_SIZE", 3)
    calls = _counting(monkeypatch)
    texts = [f"text {uuid.uuid4()}" for _ in range(5)]
    for text in texts:
        rendering.render_markdown(text)
    assert len(rendering._rendered) <= 3
    rendering.render_markdown(texts[0])  # dropped: rendered again
    rendering.render_markdown(texts[-1])  # kept
    assert len(calls) == 6
