import uuid
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from annotation.services.projects import criterion_create
from tests.factories import item_create

pytestmark = pytest.mark.django_db

def _show(name, ctx):
    print("\n==", name, len(ctx.captured_queries))
    for x in ctx.captured_queries:
        print("  ", x["sql"][:150])

def test_probe(as_persona, project, labeler):
    for _ in range(5):
        item_create(project)
    criterion_create(project=project, name="Helpfulness")
    c = as_persona("labeler")
    with CaptureQueriesContext(connection) as n:
        body = c.get(f"/api/label/projects/{project.pk}/next/").json()
    item = body["item"]["id"]
    with CaptureQueriesContext(connection) as s:
        r = c.post(f"/api/label/items/{item}/judgments/", {"client_key": str(uuid.uuid4()), "choice": 2}, content_type="application/json")
    assert r.status_code == 201
    _show("next", n); _show("submit", s)
    c.post(f"/label/{project.pk}/guidelines/read/", {"version": 1})
    with CaptureQueriesContext(connection) as w:
        r = c.get(f"/label/{project.pk}/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    _show("workbench", w)
    item = r.content.decode().split('data-item="')[1].split('"')[0]
    key = r.content.decode().split('name="client_key" value="')[1].split('"')[0]
    with CaptureQueriesContext(connection) as w:
        r = c.post(f"/label/{project.pk}/items/{item}/judgment/", {"client_key": key, "choice": "2", "guideline_version": "1"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200, r.content[:500]
    _show("submit-and-next", w)
