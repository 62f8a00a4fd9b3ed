"""Prompt-writing pages: access per role, writing and reviewing through the forms."""

import pytest

from annotation.models import WrittenPrompt
from annotation.services.written import written_prompt_create
from tests.access import LABELER_PAGE, PERSONAS, RESEARCH_PAGE, RESEARCH_POST
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

# Everyone with a role may open the writing page (staff read it; only labelers write).
WRITE_PAGE = {**LABELER_PAGE, "researcher": 200, "admin_user": 200}


@pytest.fixture
def writing(db):
    return ProjectFactory(kind="prompt_writing")


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages(as_persona, writing, labeler, persona):
    written = written_prompt_create(project=writing, author=labeler, kind="plain", text="Hello")
    client = as_persona(persona)
    assert client.get(f"/projects/{writing.pk}/write/").status_code == WRITE_PAGE[persona]
    assert client.get(f"/projects/{writing.pk}/written/").status_code == RESEARCH_PAGE[persona]
    review = f"/projects/{writing.pk}/written/{written.pk}/review/"
    assert client.post(review, {"accept": "1"}).status_code == RESEARCH_POST[persona]


def test_labeler_writes_and_sees_only_their_own(as_persona, writing, other_labeler):
    written_prompt_create(project=writing, author=other_labeler, kind="plain", text="SECRET-OTHER")
    client = as_persona("labeler")
    response = client.post(
        f"/projects/{writing.pk}/write/",
        {"kind": "use_case", "text": "Plan a trip", "tags": "travel, plans"},
    )
    assert response.status_code == 302
    mine = WrittenPrompt.objects.get(text="Plan a trip")
    assert mine.kind == "use_case" and mine.tags == ["plans", "travel"]
    page = client.get(f"/projects/{writing.pk}/write/").content.decode()
    assert "Plan a trip" in page and "SECRET-OTHER" not in page
    bad = client.post(f"/projects/{writing.pk}/write/", {"kind": "poem", "text": "x"})
    assert bad.status_code == 400 and "poem" in bad.content.decode()


def test_review_rejects_without_note_with_400(as_persona, writing, labeler):
    written = written_prompt_create(project=writing, author=labeler, kind="plain", text="Hello")
    response = as_persona("researcher").post(
        f"/projects/{writing.pk}/written/{written.pk}/review/", {"accept": "0"}
    )
    assert response.status_code == 400 and b"note" in response.content


def test_writing_page_404_for_other_kinds(as_persona):
    pairwise = ProjectFactory()
    assert as_persona("labeler").get(f"/projects/{pairwise.pk}/write/").status_code == 404
