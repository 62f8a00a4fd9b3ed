"""Shared set-up for the workbench's browser tests: a project with guidelines and a rubric, items
with a multi-turn conversation, and helpers that read the workbench's state."""

import re

from playwright.sync_api import expect

from annotation.models import Turn
from tests.factories import ProjectFactory, item_create

GUIDELINES = """# Guidelines

Prefer the response that is **helpful**, **honest** and **harmless**.

1. Read the whole conversation first.
2. Judge the *last* reply only.
3. A wrong answer is worse than an honest "I don't know".

Use `tie` only when you truly cannot choose.
"""
ANSWER_A = """Use a list comprehension:

```python
squares = [n * n for n in range(10) if n % 2 == 0]
print(squares)  # [0, 4, 16, 36, 64]
```

It is shorter than a `for` loop and just as readable. <script>alert("x")</script>"""
ANSWER_B = "You could write a loop:\n\n- make an empty list\n- append `n*n` for each even `n`\n\nThat works too."
CONVERSATION = [
    ("user", "How do I get the squares of the even numbers below 10 in Python?"),
    ("assistant", "Do you want them in a list, or printed one per line?"),
    ("user", "In a list, please. **Short** code if possible."),
]
LONG = "\n\n".join(f"Paragraph {i}: " + "a long and careful explanation " * 12 for i in range(12))


def conversation_item(project, texts, turns=CONVERSATION):
    item = item_create(
        project, texts=texts, models_=["secret-model-1", "secret-model-2", "m3", "m4"][: len(texts)]
    )
    Turn.objects.filter(prompt=item.prompt).delete()
    for position, (role, content) in enumerate(turns):
        Turn.objects.create(prompt=item.prompt, position=position, role=role, content=content)
    return item


def labeling_project(researcher, **kwargs):
    kwargs.setdefault(
        "criteria", [{"name": "Helpfulness", "description": "Does it solve the user's problem?"}]
    )
    return ProjectFactory(created_by=researcher, guidelines=GUIDELINES, **kwargs)


def start_labeling(page, live_server, project):
    page.goto(f"{live_server.url}/label/{project.pk}/")
    page.get_by_role("button", name=re.compile("I have read")).click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")
    workbench_ready(page)


def workbench_ready(page):
    """Wait until htmx has processed the swapped-in workbench (its form posts through htmx and
    the page's handlers see its events): a key pressed before that submits the form natively."""
    page.wait_for_function(
        "() => { const f = document.querySelector('#workbench form[hx-post]');"
        " return !f || (f['htmx-internal-data'] !== undefined"
        " && !document.querySelector('.htmx-settling, .htmx-swapping, .htmx-request')); }"
    )


def shown_item_id(page):
    return int(page.locator("#workbench").get_attribute("data-item"))


def wait_past(page, item_id, timeout=None):
    page.wait_for_function(
        "old => { const w = document.getElementById('workbench'); return w && w.dataset.item !== old; }",
        arg=str(item_id),
        timeout=timeout,
    )


def canonical(order, seen):
    return seen if order[0] == 0 else 9 - seen


def pending_count(page):
    return page.evaluate(
        "Object.keys(JSON.parse(localStorage.getItem('chorus:pending') || '{}')).length"
    )
