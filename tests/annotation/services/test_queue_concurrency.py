"""Concurrent labelers never get an item beyond its overlap target (SQLite and PostgreSQL).

Each thread has its own database connection, like gunicorn workers. On PostgreSQL the queue
locks candidate rows with SELECT ... FOR UPDATE SKIP LOCKED; on SQLite BEGIN IMMEDIATE
serialises the writers.
"""

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection

from annotation.models import Item, Judgment, Reservation, Skip
from annotation.services.judgments import judgment_submit, skip_create
from annotation.services.labelers import user_create
from annotation.services.queue import reservation_next
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db(transaction=True)


def _run_threads(labelers, work):
    barrier = threading.Barrier(len(labelers))
    errors = []

    def run(labeler):
        try:
            barrier.wait(timeout=30)
            work(labeler)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(labeler,)) for labeler in labelers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def _setup(n_labelers, n_items, overlap):
    project = ProjectFactory(overlap_target=overlap)
    items = [item_create(project) for _ in range(n_items)]
    labelers = [
        user_create(username=f"c{i}", password="pw-123456789", role="labeler")
        for i in range(n_labelers)
    ]
    return project, items, labelers


def test_simultaneous_reservations_stop_at_the_overlap_target():
    project, items, labelers = _setup(n_labelers=16, n_items=2, overlap=3)
    granted = []

    def reserve(labeler):
        reservation = reservation_next(labeler=labeler, project=project)
        if reservation is not None:
            granted.append(reservation.item_id)

    _run_threads(labelers, reserve)
    assert Counter(granted) == {items[0].pk: 3, items[1].pk: 3}
    assert Reservation.objects.count() == 6


def test_many_labelers_fill_every_item_exactly():
    project, items, labelers = _setup(n_labelers=12, n_items=10, overlap=3)

    def label_until_done(labeler):
        while (reservation := reservation_next(labeler=labeler, project=project)) is not None:
            item = Item.objects.select_related("project").get(pk=reservation.item_id)
            judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=3)

    _run_threads(labelers, label_until_done)
    per_item = Counter(Judgment.objects.values_list("item_id", flat=True))
    assert per_item == {item.pk: 3 for item in items}
    assert set(Item.objects.values_list("human_judgment_count", flat=True)) == {3}
    pairs = list(Judgment.objects.values_list("item_id", "labeler_id"))
    assert len(pairs) == len(set(pairs)) == 30


def test_retries_of_one_submission_store_it_once():
    project, (item,), (labeler,) = _setup(n_labelers=1, n_items=1, overlap=3)
    reservation_next(labeler=labeler, project=project)
    key = uuid.uuid4()
    results = []

    def submit(_):
        fresh = Item.objects.select_related("project").get(pk=item.pk)
        results.append(judgment_submit(labeler=labeler, item=fresh, client_key=key, choice=5))

    _run_threads([labeler] * 6, submit)
    assert Judgment.objects.count() == 1
    assert sum(r.created for r in results) == 1 and {r.judgment.pk for r in results} == {
        Judgment.objects.get().pk
    }
    item.refresh_from_db()
    assert item.human_judgment_count == 1


def test_retries_of_one_skip_store_it_once():
    project, (item,), (labeler,) = _setup(n_labelers=1, n_items=1, overlap=3)
    reservation_next(labeler=labeler, project=project)
    skips = []

    def skip(_):
        skips.append(
            skip_create(labeler=labeler, item=Item.objects.get(pk=item.pk), reason="broken")
        )

    _run_threads([labeler] * 6, skip)
    assert Skip.objects.count() == 1 and {s.pk for s in skips} == {Skip.objects.get().pk}
