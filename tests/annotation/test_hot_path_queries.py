"""The labeling hot path's SQL: a fixed number of statements per request (issue 14), whatever the
labeler's history elsewhere, and a candidate query that never scans the judgment table.

Counted with login sessions, the user and their roles in the shared cache (`cached_db` and
CHORUS_USER_CACHE, as production runs with CHORUS_CACHE_URL set); without a shared cache each
request reads its session and its user from the database: two statements more. Transactions are real here (transactional_db), as in production, so no
savepoints are counted; nor are BEGIN and COMMIT (Django logs them on SQLite only). The count of
a project's open items is made once every few seconds per process (labeling.OPEN_COUNT_SECONDS),
so it is made before counting. The connection's per-request health check sends no statement on
PostgreSQL (config.postgresql polls the socket; Django's `SELECT 1` was one more per request,
uncounted here because it bypasses Django's cursor).
"""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Item, Judgment, Prompt, Reservation
from annotation.selectors.labelers import labeler_group_ids
from annotation.selectors.labeling import labeler_progress
from annotation.selectors.onboarding import consent_current_version
from annotation.services.projects import criterion_create
from annotation.services.queue import _queue
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db(transaction=True)

# Statements per request on PostgreSQL: project or item with the access check, the labeling facts
# and the rubric (1), then the request's own work (the user, roles and labeler groups come from
# the cache).
# Before issue 14: 23, 14, -, 35; after its first pass 10, 9, 10, 17; its second 9, 7, 9, 14.
NEXT = 8  # + labeler lock, current reservation, window, candidates, insert, texts, progress
SUBMIT = 5  # + count (takes the item's lock), reservation taken (DELETE ... RETURNING:
# none means a retry or a conflict), judgment, its ratings
WORKBENCH = 8  # the next item's
SUBMIT_AND_NEXT = 12  # the submit's and the next item's, sharing user, item and project


def _less_on_sqlite():
    """SQLite takes no labeler lock: BEGIN IMMEDIATE holds the whole database."""
    return 0 if connection.features.has_select_for_update else 1


@pytest.fixture(autouse=True)
def _cached_sessions(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.CHORUS_USER_CACHE = True


@pytest.fixture
def setup(project, labeler, as_persona):
    for _ in range(4):
        item_create(project)
    criterion = criterion_create(project=project, name="Helpfulness")
    client = as_persona("labeler")
    client.post(f"/label/{project.pk}/guidelines/read/", {"version": 1})
    labeler_progress(labeler, project)  # counts the open items, kept for a few seconds
    labeler_group_ids(labeler.pk)  # the labeler's groups go to the cache (from the first submit on)
    return client, criterion


def _history_elsewhere(labeler, researcher, n=30):
    """`n` judgments by the labeler in another project."""
    other = ProjectFactory(created_by=researcher, name="Elsewhere")
    for _ in range(n):
        item = item_create(other)
        Judgment.objects.create(
            item=item, labeler=labeler, display_order=[0, 1], pairwise_choice="a"
        )


def _count(call):
    with CaptureQueriesContext(connection) as queries:
        response = call()
    control = ("BEGIN", "COMMIT", "ROLLBACK")
    sqls = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(control)]
    return response, sqls


def _api_round(client, project, criterion):
    response, next_sql = _count(lambda: client.get(f"/api/label/projects/{project.pk}/next/"))
    item = response.json()["item"]["id"]
    body = {
        "client_key": str(uuid.uuid4()), "choice": 2,
        "ratings": [{"criterion": criterion.pk, "response": n, "value": 3} for n in (1, 2)],
    }  # fmt: skip
    url = f"/api/label/items/{item}/judgments/"
    response, submit_sql = _count(lambda: client.post(url, body, content_type="application/json"))
    assert response.status_code == 201, response.content
    return next_sql, submit_sql


@pytest.mark.parametrize("history", [0, 30])
def test_api_next_and_submit(setup, project, labeler, researcher, history):
    client, criterion = setup
    _history_elsewhere(labeler, researcher, history)
    next_sql, submit_sql = _api_round(client, project, criterion)
    assert len(next_sql) == NEXT - _less_on_sqlite(), "\n".join(next_sql)
    assert len(submit_sql) == SUBMIT, "\n".join(submit_sql)


def _form(page, criterion):
    item = re.search(rb'data-item="(\d+)"', page).group(1).decode()
    key = re.search(rb'name="client_key" value="([0-9a-f-]+)"', page).group(1).decode()
    form = {"client_key": key, "choice": "2", "guideline_version": "1"}
    return item, {**form, **{f"rating_{criterion.pk}_{n}": "3" for n in (1, 2)}}


@pytest.mark.parametrize("history", [0, 30])
def test_htmx_workbench_and_submit_and_next(setup, project, labeler, researcher, history):
    client, criterion = setup
    _history_elsewhere(labeler, researcher, history)
    url = f"/label/{project.pk}/"
    client.get(f"/label/{project.pk}/guidelines/")  # their HTML goes to the cache
    consent_current_version()  # so does the current consent version (none: onboarding off)
    response, page_sql = _count(lambda: client.get(url, HTTP_HX_REQUEST="true"))
    assert response.status_code == 200
    assert len(page_sql) == WORKBENCH - _less_on_sqlite(), "\n".join(page_sql)
    item, form = _form(response.content, criterion)
    submit = f"/label/{project.pk}/items/{item}/judgment/"
    response, submit_sql = _count(lambda: client.post(submit, form, HTTP_HX_REQUEST="true"))
    assert response.status_code == 200, response.content[:500]
    assert b'data-item="' in response.content  # the next item came with the answer
    assert len(submit_sql) == SUBMIT_AND_NEXT - _less_on_sqlite(), "\n".join(submit_sql)


def test_a_retry_is_replayed_without_writing(setup, project):
    """A retry finds no reservation to take (DELETE ... RETURNING gives nothing) after counting:
    the count and the take are rolled back, and the stored judgment is answered."""
    client, criterion = setup
    item = client.get(f"/api/label/projects/{project.pk}/next/").json()["item"]["id"]
    body = {"client_key": str(uuid.uuid4()), "choice": 2}
    url = f"/api/label/items/{item}/judgments/"
    assert client.post(url, body, content_type="application/json").status_code == 201
    response, sqls = _count(lambda: client.post(url, body, content_type="application/json"))
    assert response.status_code == 200
    assert response.json()["client_key"] == body["client_key"]
    assert not [s for s in sqls if s.split()[0] == "INSERT"]
    assert Judgment.objects.count() == 1
    assert Item.objects.get(pk=item).human_judgment_count == 1  # the retry's +1 rolled back
    assert not Reservation.objects.filter(item_id=item).exists()


def _bulk_items(project, n):
    """`n` bare items (no texts: the candidate query does not read them)."""
    prompts = Prompt.objects.bulk_create(Prompt(project=project) for _ in range(n))
    return Item.objects.bulk_create(Item(project=project, prompt=p) for p in prompts)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_candidate_query_probes_the_item_labeler_index(project, labeler, other_labeler, researcher):
    """With a long history in another project, the window walks the project's items by the
    (project, purpose, count, id) index and probes the judgments of each item (by an index on
    the item: its own, or the (item, labeler) unique one): it never scans the judgment table,
    nor reads the labeler's judgments elsewhere."""
    other = ProjectFactory(created_by=researcher, name="Elsewhere")
    elsewhere = _bulk_items(other, 3000)
    Judgment.objects.bulk_create(
        Judgment(item=i, labeler=who, display_order=[0, 1], pairwise_choice="a")
        for i in elsewhere
        for who in (labeler, other_labeler)
    )
    _bulk_items(project, 2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        sql, params = _queue(project, labeler, "regular", timezone.now(), [], "skip")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on annotation_judgment" not in plan, plan
    assert "labeler_id_" not in plan, plan  # the labeler's index: their whole history
    assert re.search(r"Index (Only )?Scan using \S+ on annotation_judgment j", plan), plan
    assert "Index Cond: (item_id = i.id)" in plan, plan
    # an index led by the project in the queue's order: (project, purpose, count, id) or the
    # item browser's (project, count, id); the planner picks either since requeued items made
    # the count bound a per-row comparison (count < target + extra_overlap)
    assert re.search(
        r"Index Scan using (annotation__project_\S+|item_browse_judged) on annotation_item i", plan
    ), plan


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_progress_reads_only_the_labelers_judgments_in_the_project(
    project, labeler, other_labeler, researcher
):
    """labeler_progress finds the labeler's judgments by the (project, labeler, created_at) index
    (Judgment.project, issue 14): a long history in another project is never read."""
    other = ProjectFactory(created_by=researcher, name="Elsewhere")
    elsewhere = _bulk_items(other, 3000)
    Judgment.objects.bulk_create(
        Judgment(item=i, labeler=who, display_order=[0, 1], pairwise_choice="a")
        for i in elsewhere
        for who in (labeler, other_labeler)
    )
    assert set(Judgment.objects.values_list("project", flat=True)) == {other.pk}  # filled in
    here = _bulk_items(project, 300)  # judged by the other labeler, 20 by this one
    Judgment.objects.bulk_create(
        Judgment(item=i, labeler=who, display_order=[0, 1], pairwise_choice="a")
        for n, i in enumerate(here)
        for who in ((other_labeler, labeler) if n < 20 else (other_labeler,))
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        labeler_progress(labeler, project)
    (sql,) = [q["sql"] for q in queries.captured_queries if "AVG(" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on annotation_judgment" not in plan, plan
    assert "labeler_id_" not in plan, plan  # the labeler's index: their whole history
    assert plan.count("on judgment_labeler_project") == 3, plan
    assert "Seq Scan on annotation_item" not in plan, plan  # every project's items
    assert labeler_progress(labeler, project).remaining == 300 - 20
