"""PERMA preference annotations: parsing "Domain-Attribute-Value, ..." and per-question gold with currency."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["PermaPreference", "gold_preferences", "parse_preferences"]

_SEPARATOR = re.compile(r"[;,]\s+")


class PermaPreference(NamedTuple):
    """One parsed ``Domain-Attribute-Value`` preference."""

    domain: str
    attribute: str
    value: str

    @property
    def text(self) -> str:
        """The preference in the dataset's own notation."""
        return f"{self.domain}-{self.attribute}-{self.value}"


def parse_preferences(
    text: str,
    domains: set[str],
    attributes: dict[str, set[str]] | None = None,
    single: set[tuple[str, str]] | None = None,
) -> list[PermaPreference]:
    """Split a ``preferences`` annotation into `PermaPreference` items.

    Entries are separated by ", " or "; ", but values may be lists too ("Reading Format-physical, ebook"):
    a piece that does not start with a known domain followed by "-" is another value of the previous
    attribute, or, when ``single`` is given and names that attribute as single-valued, the rest of its
    value. Attribute names are matched against ``attributes[domain]`` (longest first) so hyphens inside
    them survive; otherwise the attribute ends at the first "-".
    """
    items: list[list[str]] = []
    by_length = sorted(domains, key=len, reverse=True)
    for piece in (p.strip() for p in _SEPARATOR.split(text)):
        if not piece:
            continue
        domain = next((d for d in by_length if piece.startswith(d + "-")), None)
        if domain is None and items:
            prev = items[-1]
            if single is not None and (prev[0], prev[1]) not in single:
                items.append([prev[0], prev[1], piece])  # another value of a list-valued attribute
            else:
                prev[2] += ", " + piece
            continue
        if domain is None:
            parts = piece.split("-", 2)
            if len(parts) < 3:
                continue
            items.append(parts)
            continue
        rest = piece[len(domain) + 1 :]
        known = sorted((attributes or {}).get(domain, ()), key=len, reverse=True)
        attr = next((a for a in known if rest.startswith(a + "-")), None)
        if attr is None:
            attr, _, value = rest.partition("-")
        else:
            value = rest[len(attr) + 1 :]
        items.append([domain, attr.strip(), value.strip()])
    return [PermaPreference(d, a, v) for d, a, v in items if v]


def gold_preferences(
    sessions: Sequence[dict[str, Any]], domains: set[str], single: set[tuple[str, str]]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Gold preferences about ``domains`` stated in ``sessions``, with currency for single-valued attributes.

    Args:
        sessions: Replayed sessions in order, each a mapping with a ``"prefs"`` list of `PermaPreference`.
        domains: The question's relevant domains; preferences about other domains are ignored.
        single: (domain, attribute) pairs that hold one value: only the values stated in the latest
            session naming them are kept, and each earlier, different value becomes an (old, new) pair.

    Returns:
        The deduplicated gold preference texts, and the (old, new) pairs.
    """
    seen: dict[str, None] = {}
    current: dict[tuple[str, str], dict[str, None]] = {}  # values stated in the latest session naming the key
    older: dict[tuple[str, str], dict[str, None]] = {}
    for sess in sessions:
        stated: dict[tuple[str, str], dict[str, None]] = {}
        for pref in sess["prefs"]:
            if pref.domain not in domains:
                continue
            key = (pref.domain, pref.attribute)
            if key in single:
                stated.setdefault(key, {})[pref.text] = None
            else:
                seen.setdefault(pref.text, None)
        for key, values in stated.items():
            older.setdefault(key, {}).update(current.get(key, {}))
            current[key] = values
    updated: list[tuple[str, str]] = []
    for key, values in current.items():
        seen.update(values)
        updated.extend((old, new) for old in older.get(key, {}) if old not in values for new in values)
    return list(seen), updated
