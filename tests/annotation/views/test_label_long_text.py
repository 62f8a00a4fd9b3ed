"""Very long texts: the workbench shows the first CHORUS_LABEL_TEXT_CHARS characters and a link
that loads the whole text, for the reserved item only."""

import re

import pytest
from django.urls import reverse

from annotation.models import Reservation, Turn
from annotation.services.queue import reservation_next
from tests.annotation.views.test_label import _read_guidelines
from tests.factories import item_create

pytestmark = pytest.mark.django_db
LONG = "word " * 40_000  # 200,000 characters


def _links(html):
    return re.findall(r'hx-get="([^"]+/text/)"', html)


def test_a_long_response_is_cut_with_a_link_to_all_of_it(as_persona, project, labeler, settings):
    settings.CHORUS_LABEL_TEXT_CHARS = 1000
    item = item_create(project, texts=(LONG, "Short reply"))
    Turn.objects.filter(prompt__items=item).update(content="question " * 1000)
    client = as_persona("labeler")
    _read_guidelines(client, project)
    html = client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    assert len(html) < 60_000, len(html)
    assert "Short reply" in html and "Showing the first 1000 characters" in html
    links = _links(html)
    assert len(links) == 2  # the long turn and the long response
    order = Reservation.objects.get(labeler=labeler).display_order
    number = order.index(0) + 1  # the long completion's display number
    response_link = reverse("annotation:label_text", args=[project.pk, item.pk, "response", number])
    turn_link = reverse("annotation:label_text", args=[project.pk, item.pk, "turn", 1])
    assert sorted(links) == sorted([response_link, turn_link])
    full = client.get(response_link)
    assert full.status_code == 200 and full.content.decode().count("word") == 40_000
    assert client.get(turn_link).content.decode().count("question") == 1000


def test_short_texts_have_no_link(as_persona, project, settings):
    settings.CHORUS_LABEL_TEXT_CHARS = 1000
    item_create(project)
    client = as_persona("labeler")
    _read_guidelines(client, project)
    html = client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    assert "Reply A" in html and not _links(html)


@pytest.mark.parametrize(
    "persona", ["other_labeler", "researcher", "admin_user", "outsider", "anonymous"]
)
def test_only_the_labeler_holding_the_reservation_reads_the_text(
    as_persona, project, labeler, persona
):
    item = item_create(project, texts=(LONG, "Short reply"))
    reservation_next(labeler=labeler, project=project)
    url = reverse("annotation:label_text", args=[project.pk, item.pk, "response", 1])
    assert as_persona("labeler").get(url).status_code == 200
    assert as_persona(persona).get(url).status_code in (302, 404)


def test_expired_reservation_unknown_parts_and_numbers_are_404(as_persona, project, labeler):
    item = item_create(project, texts=(LONG, "Short reply"))
    reservation_next(labeler=labeler, project=project)
    client = as_persona("labeler")
    for part, number in (("response", 3), ("response", 0), ("turn", 2), ("model", 1)):
        url = reverse("annotation:label_text", args=[project.pk, item.pk, part, number])
        assert client.get(url).status_code == 404
    Reservation.objects.update(expires_at="2000-01-01T00:00:00Z")
    url = reverse("annotation:label_text", args=[project.pk, item.pk, "response", 1])
    assert client.get(url).status_code == 404
