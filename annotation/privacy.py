"""The minimum-group-size rule: the one home of what researchers may see of labeler groups.

A group with fewer labelers than the minimum (CHORUS_MIN_GROUP_SIZE, 5 by default) could
identify its members (a 2-member "Region Africa" group singles out one labeler), so in every
output a researcher sees (the report, raw and TRL exports, the groups API, run pages and the
run API's counts, final metrics and curves, the run's zip, evaluations) such a group appears at
most as a count of hidden groups: never its name, size, rows or figures.

Pure (no Django): callers pass the minimum, read from settings in one place
(`annotation.selectors.labelers.min_group_size`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def small_groups(sizes: Mapping[str, int], minimum: int) -> set[str]:
    """Names of the groups with fewer than `minimum` labelers (`sizes`: name -> labelers; leave
    out buckets that are not groups, such as training's "no group")."""
    return {name for name, size in sizes.items() if size < minimum}


def shown_groups(sizes: Mapping[str, int], minimum: int) -> dict[str, int]:
    """The groups a researcher may see, with their sizes, sorted by name."""
    hidden = small_groups(sizes, minimum)
    return {name: size for name, size in sorted(sizes.items()) if name not in hidden}


def without(names: Iterable[str], hidden: set[str]) -> list[str]:
    """`names` less the hidden ones, in their order."""
    return [name for name in names if name not in hidden]


def mentions(text: str, hidden: set[str]) -> bool:
    """Whether a metric name such as `eval/accuracy/<group>` names a hidden group (as one
    `/`-separated part)."""
    return any(part in hidden for part in text.split("/"))


def redact(value: Any, hidden: set[str]) -> Any:
    """`value` (JSON types) with every mention of a hidden group removed, recursively: dict
    keys that name one (`Tiny`, `eval/accuracy/Tiny`), and list items or values equal to one.
    For stored results whose shape varies (final metrics, dataset counts, run files)."""
    if not hidden:
        return value
    if isinstance(value, dict):
        return {
            k: redact(v, hidden)
            for k, v in value.items()
            if not mentions(str(k), hidden) and not (isinstance(v, str) and v in hidden)
        }
    if isinstance(value, list):
        return [redact(v, hidden) for v in value if not (isinstance(v, str) and v in hidden)]
    return value
