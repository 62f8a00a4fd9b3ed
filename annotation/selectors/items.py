"""The item browser's reads: a project's items filtered, sorted and paged, for researchers and
admins (the views and the API check the role; every read here is scoped to one project).

Paging is keyset ("after this row"), never OFFSET, so a page costs the same at item 100,000 as
at item 1. The total is counted apart (`item_count`, which the page loads after the table),
only up to `COUNT_CAP` rows. Each filter is a
column of the item (indexed where it sorts) or an EXISTS over one related table, which the
database runs as a semi-join. Text search on PostgreSQL matches words through full-text GIN
indexes (migration 0008); elsewhere it is a substring match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr
from django.utils import timezone

from annotation.models import (
    Adjudication,
    Completion,
    CompletionFlag,
    Item,
    ItemCompletion,
    Judgment,
    JudgmentRank,
    Project,
    Skip,
    Turn,
)
from annotation.selectors.labelers import (
    group_sizes,
    labeler_group_map,
    min_group_size,
    project_pseudonym,
)
from annotation.selectors.reports import report_get

PAGE_SIZE = 50
SOURCES_SECONDS = 300  # how long the source filter's list of models is cached
COUNT_CAP = 10_000
SNIPPET = 180
SORT_LABELS = {
    "oldest": "Oldest first",
    "newest": "Newest first",
    "least_judged": "Fewest judgments",
    "most_judged": "Most judgments",
    "lowest_agreement": "Lowest agreement",
    "highest_agreement": "Highest agreement",
}
# sort name -> (column, descending)
SORTS = {
    "oldest": ("id", False),
    "newest": ("id", True),
    "least_judged": ("human_judgment_count", False),
    "most_judged": ("human_judgment_count", True),
    "lowest_agreement": ("agreement", False),
    "highest_agreement": ("agreement", True),
}


@dataclass(frozen=True)
class ItemFilters:
    """What the browser shows; every field optional (see annotation.forms.ItemFilterForm)."""

    q: str = ""
    judged_min: int | None = None
    judged_max: int | None = None
    overlap: str = ""  # "reached" or "open"
    skipped: bool | None = None
    flagged: bool | None = None
    agreement_min: float | None = None
    agreement_max: float | None = None
    contested: bool | None = None
    source_model: str = ""
    group: str = ""
    labeler: str = ""  # a project pseudonym
    purpose: str = ""
    excluded: bool | None = None
    review: str = ""  # "pending", "done" or "none"
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "oldest"
    after: str = ""  # keyset cursor: "<sort value>|<id>"


@dataclass
class ItemRow:
    id: int
    purpose: str
    gold_best_position: int | None
    judged: int
    wanted: int  # overlap target + extra judgments asked for by a requeue
    agreement: float | None
    excluded: bool
    created_at: datetime
    prompt: str
    review: str | None
    skips: int = 0
    flags: int = 0
    responses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gold_letter(self) -> str:
        return "" if self.gold_best_position is None else chr(ord("A") + self.gold_best_position)

    @property
    def shown_responses(self) -> list[dict[str, Any]]:
        return self.responses[:3]

    @property
    def more_responses(self) -> int:
        return max(0, len(self.responses) - 3)

    @property
    def agreement_percent(self) -> int | None:
        return None if self.agreement is None else round(100 * self.agreement)

    @property
    def agreement_level(self) -> str:
        """low (< 60 %), mid (< 80 %) or high: the badge's colour."""
        value = self.agreement or 0
        return "low" if value < 0.6 else "mid" if value < 0.8 else "high"

    @property
    def created_day(self) -> str:
        return timezone.localdate(self.created_at).isoformat()


@dataclass
class ItemPage:
    rows: list[ItemRow]
    next_cursor: str  # "" on the last page


@dataclass
class ItemCount:
    total: int  # matching items, at most COUNT_CAP
    capped: bool  # more than COUNT_CAP match


def browse_groups(project: Project) -> list[str]:
    """Labeler groups a browser may filter on: those with at least the minimum size."""
    sizes = group_sizes(labeler_group_map())
    return sorted(name for name, n in sizes.items() if n >= min_group_size())


def source_models(project: Project) -> list[str]:
    """The response sources of a project's items (for the source filter), cached for a few
    minutes: a DISTINCT over every completion costs more than the page itself at 100k items."""

    def read() -> list[str]:
        return list(
            Completion.objects.filter(prompt__project=project)
            .exclude(source_model="")
            .order_by("source_model")
            .values_list("source_model", flat=True)
            .distinct()[:200]
        )

    return cache.get_or_set(f"chorus:item-sources:{project.pk}", read, SOURCES_SECONDS)


def _text_match(column: str, q: str) -> Q:
    if connection.vendor == "postgresql":
        # the generated column of migration 0008 (the words of `column`), GIN-indexed
        sql = "search_words @@ plainto_tsquery('simple', %s)"
        return Q(RawSQL(sql, [q], output_field=BooleanField()))
    return Q(**{f"{column}__icontains": q})


def _search(q: str) -> Q:
    """Items whose prompt or a response has the words: two uncorrelated id sets (PostgreSQL
    builds each once from its GIN index and hashes it), never a search per item."""
    turns = Turn.objects.filter(_text_match("content", q)).values("prompt_id")
    answers = ItemCompletion.objects.filter(
        completion__in=Completion.objects.filter(_text_match("text", q)).values("pk")
    ).values("item_id")
    return Q(prompt_id__in=turns) | Q(pk__in=answers)


def _judged_by(project: Project, f: ItemFilters) -> Q:
    """Items judged by the filtered labeler (pseudonym) and/or members of the filtered group."""
    query = Q()
    judgments = Judgment.objects.filter(item_id=OuterRef("pk"))
    if f.labeler:
        query &= Q(Exists(judgments.filter(labeler_id__in=_pseudonym_owner(project, f.labeler))))
    if f.group:
        if f.group not in browse_groups(project):
            raise ValidationError({"group": "No such group."})
        members = [uid for uid, names in labeler_group_map().items() if f.group in names]
        query &= Q(Exists(judgments.filter(labeler_id__in=members)))
    return query


def _pseudonym_owner(project: Project, pseudonym: str) -> list[int]:
    """The labeler with this project pseudonym ([] if none): the HMAC of each labeler's id,
    computed here, never read back from the judgments."""
    labelers = get_user_model().objects.filter(groups__name="labeler").values_list("pk", flat=True)
    return [uid for uid in labelers if project_pseudonym(project, uid) == pseudonym][:1]


def _flags(project: Project, f: ItemFilters) -> Q:
    query = Q()
    # uncorrelated id sets (hashed once, then one probe per item); other projects' ids in
    # them never match, and leaving out a join to items keeps the sets cheap
    if f.skipped is not None:
        has = Q(pk__in=Skip.objects.values("item_id"))
        query &= has if f.skipped else ~has
    if f.flagged is not None:
        has = Q(pk__in=CompletionFlag.objects.values("judgment__item_id"))
        query &= has if f.flagged else ~has
    if f.contested is not None:
        ids = contested_item_ids(project)
        query &= Q(pk__in=ids) if f.contested else ~Q(pk__in=ids)
    if f.excluded is not None:
        query &= Q(excluded_from_training=f.excluded)
    return query


def _columns(project: Project, f: ItemFilters) -> Q:
    query = Q()
    if f.judged_min is not None:
        query &= Q(human_judgment_count__gte=f.judged_min)
    if f.judged_max is not None:
        query &= Q(human_judgment_count__lte=f.judged_max)
    wanted = Value(project.overlap_target) + F("extra_overlap")
    if f.overlap == "reached":
        query &= Q(human_judgment_count__gte=wanted)
    elif f.overlap == "open":
        query &= Q(human_judgment_count__lt=wanted)
    if f.agreement_min is not None:
        query &= Q(agreement__gte=f.agreement_min)
    if f.agreement_max is not None:
        query &= Q(agreement__lte=f.agreement_max)
    if f.purpose:
        query &= Q(purpose=f.purpose)
    if f.review == "none":
        query &= Q(adjudication__isnull=True)
    elif f.review:
        query &= Q(adjudication__status=f.review)
    if f.date_from:
        query &= Q(created_at__gte=_day_start(f.date_from))
    if f.date_to:
        query &= Q(created_at__lt=_day_start(f.date_to) + timezone.timedelta(days=1))
    return query


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def item_filter(project: Project, f: ItemFilters) -> QuerySet[Item]:
    """The project's items matching `f` (unsorted); ValidationError names a bad filter."""
    items = Item.objects.filter(project=project).filter(_columns(project, f), _flags(project, f))
    if f.q.strip():
        items = items.filter(_search(f.q.strip()))
    if f.source_model:
        sourced = Completion.objects.filter(source_model=f.source_model).values("pk")
        items = items.filter(
            pk__in=ItemCompletion.objects.filter(completion__in=sourced).values("item_id")
        )
    return items.filter(_judged_by(project, f))


def contested_item_ids(project: Project) -> list[int]:
    """Items the cached agreement report lists as contested between groups (significant or
    among the most divergent)."""
    report = report_get(project)
    payload = (report.payload or {}) if report else {}
    return [int(r["item_id"]) for r in (payload.get("contested") or {}).get("items", [])]


# --- sorting and keyset paging --------------------------------------------------------------


def _cursor_parse(sort: str, after: str) -> tuple[Any, int] | None:
    if not after:
        return None
    value, _, pk = after.rpartition("|")
    try:
        number = None if value == "" else float(value) if sort.endswith("agreement") else int(value)
        return number, int(pk)
    except ValueError:
        raise ValidationError({"after": "Not a cursor of this list."}) from None


def _after(column: str, descending: bool, value: Any, pk: int) -> Q:
    """Rows after (value, pk) in ORDER BY column, id (both DESC when descending; NULLs last)."""
    later_pk = Q(pk__lt=pk) if descending else Q(pk__gt=pk)
    if column == "id":
        return later_pk
    if value is None:
        return Q(**{f"{column}__isnull": True}) & later_pk
    beyond = f"{column}__lt" if descending else f"{column}__gt"
    return (
        Q(**{beyond: value}) | (Q(**{column: value}) & later_pk) | Q(**{f"{column}__isnull": True})
    )


def _ordered(items: QuerySet[Item], f: ItemFilters) -> QuerySet[Item]:
    """Sorted, ties by id in the same direction: a (project, column, id) index is then read
    forwards or backwards (agreement, nullable, sorts its unknowns last either way)."""
    if f.sort not in SORTS:
        raise ValidationError({"sort": f"One of {', '.join(SORTS)}."})
    column, descending = SORTS[f.sort]
    cursor = _cursor_parse(f.sort, f.after)
    if cursor is not None:
        items = items.filter(_after(column, descending, *cursor))
    if column == "agreement":
        key = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
        return items.order_by(key, "-pk" if descending else "pk")
    return items.order_by(*(f"-{c}" if descending else c for c in (column, "pk")))


def _cursor_of(row: ItemRow, sort: str) -> str:
    column, _ = SORTS[sort]
    value = {"id": row.id, "human_judgment_count": row.judged, "agreement": row.agreement}[column]
    return f"{'' if value is None else value}|{row.id}"


def item_count(project: Project, f: ItemFilters) -> ItemCount:
    """How many items match, counted up to COUNT_CAP (more is reported as capped)."""
    total = item_filter(project, f).order_by().values("pk")[: COUNT_CAP + 1].count()
    return ItemCount(total=min(total, COUNT_CAP), capped=total > COUNT_CAP)


def item_page(project: Project, f: ItemFilters, *, size: int = PAGE_SIZE) -> ItemPage:
    """One page of the browser: rows and the cursor of the next page."""
    matching = item_filter(project, f)
    first_turn = Turn.objects.filter(prompt_id=OuterRef("prompt_id")).order_by("position")
    review = Adjudication.objects.filter(item_id=OuterRef("pk")).values("status")[:1]
    rows = [
        ItemRow(
            id=r["pk"],
            purpose=r["purpose"],
            gold_best_position=r["gold_best_position"],
            judged=r["human_judgment_count"],
            wanted=project.overlap_target + r["extra_overlap"],
            agreement=r["agreement"],
            excluded=r["excluded_from_training"],
            created_at=r["created_at"],
            prompt=r["snippet"] or "",
            review=r["review"],
        )
        for r in _ordered(matching, f)
        .annotate(
            snippet=Subquery(first_turn.annotate(s=Substr("content", 1, SNIPPET)).values("s")[:1]),
            review=Subquery(review),
        )
        .values(
            "pk", "purpose", "gold_best_position", "human_judgment_count", "extra_overlap",
            "agreement", "excluded_from_training", "created_at", "snippet", "review",
        )[: size + 1]
    ]  # fmt: skip
    more = len(rows) > size
    rows = rows[:size]
    _details(rows)
    return ItemPage(rows=rows, next_cursor=_cursor_of(rows[-1], f.sort) if more else "")


def _details(rows: list[ItemRow]) -> None:
    """Response snippets, skips and flags of a page's rows: three queries for the page."""
    by_id = {row.id: row for row in rows}
    slots = (
        ItemCompletion.objects.filter(item_id__in=by_id)
        .annotate(snippet=Substr("completion__text", 1, SNIPPET))
        .order_by("item_id", "position")
        .values_list("item_id", "position", "snippet", "completion__source_model")
    )
    for item_id, position, snippet, source in slots:
        by_id[item_id].responses.append(
            {"letter": chr(ord("A") + position), "text": snippet, "source": source}
        )
    skips = Skip.objects.filter(item_id__in=by_id).values("item_id").annotate(n=Count("pk"))
    for r in skips.order_by():
        by_id[r["item_id"]].skips = r["n"]
    flags = (
        CompletionFlag.objects.filter(judgment__item_id__in=by_id)
        .values("judgment__item_id")
        .annotate(n=Count("pk"))
    )
    for r in flags.order_by():
        by_id[r["judgment__item_id"]].flags = r["n"]


# --- votes, for the stored per-item agreement ---------------------------------------------


def item_votes(project: Project, item_ids: list[int] | None = None) -> dict[int, list[int]]:
    """item id -> the labelers' votes on it (pairwise: A, B, tie, both bad as 0..3; ranking:
    the best position, or K when several share rank 1); imported judgments left out."""
    from annotation.selectors.reports import VOTE_SQL

    judgments = Judgment.objects.filter(item__project=project, labeler__isnull=False)
    if item_ids is not None:
        judgments = judgments.filter(item_id__in=item_ids)
    votes: dict[int, list[int]] = {}
    if project.kind == "pairwise":
        for item_id, vote in judgments.annotate(vote=VOTE_SQL).values_list("item_id", "vote"):
            if vote >= 0:
                votes.setdefault(item_id, []).append(vote)
        return votes
    if project.kind == "ranking":
        best: dict[int, tuple[int, list[int]]] = {}
        for judgment_id, item_id, position in JudgmentRank.objects.filter(
            judgment__in=judgments, rank=1
        ).values_list("judgment_id", "judgment__item_id", "position"):
            best.setdefault(judgment_id, (item_id, []))[1].append(position)
        k = project.ranking_size
        for item_id, positions in best.values():
            votes.setdefault(item_id, []).append(positions[0] if len(positions) == 1 else k)
    return votes
