"""Security markings and intelligence grading, read from the data files beside this module."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).parent


class MarkingError(ValueError):
    """A classification, caveat or grading that Tessera does not recognise."""


@cache
def _markings() -> dict:
    return yaml.safe_load((HERE / "markings.yml").read_text())


@cache
def grading_schemes() -> dict:
    return yaml.safe_load((HERE / "grading.yml").read_text())


@cache
def originator_only_pattern() -> str | None:
    """A regex for gradings whose handling code keeps a value inside its own agency ("B24"), or None."""
    alternatives = []
    for parts in grading_schemes().values():
        codes = [str(c) for c in parts.get("originator_only", ())]
        if codes:
            sources, intel = "".join(map(str, parts["source"])), "".join(map(str, parts["intelligence"]))
            alternatives.append(f"[{re.escape(sources)}][{re.escape(intel)}]({'|'.join(map(re.escape, codes))})")
    return r"^\s*(" + "|".join(alternatives) + r")\s*$" if alternatives else None


def originator_only(grading: str | None) -> bool:
    """Whether a stored grading's handling code keeps the value inside the agency that holds it."""
    pattern = originator_only_pattern()
    return bool(grading and pattern and re.match(pattern, str(grading).upper()))


def classifications() -> list[str]:
    return list(_markings()["classifications"])


def classification_rank(name: str) -> int:
    """Position of a classification in the ladder (OFFICIAL = 0)."""
    return classifications().index(normalise_classification(name))


def normalise_classification(text: str) -> str:
    """Canonical spelling of a classification ("top secret" -> "TOP-SECRET")."""
    value = re.sub(r"\s+", " ", str(text).strip().upper())
    value = _markings()["aliases"].get(value, value)
    if value not in _markings()["classifications"]:
        raise MarkingError(f"unknown classification {text!r}; expected one of {', '.join(classifications())}")
    return value


def caveat_admits(caveat: str) -> list[str] | None:
    """Nationalities an EYES ONLY caveat admits, or None for a caveat that restricts no one."""
    key = re.sub(r"\s+", " ", caveat.strip().upper())
    known = _markings()["caveats"]
    if key in known:
        return list(known[key])
    match = re.fullmatch(r"([A-Z]{2,3}(?:/[A-Z]{2,3})*) EYES ONLY", key)
    if match:
        return ["GB" if c == "UK" else c for c in match.group(1).split("/")]
    return None


@dataclass(frozen=True)
class Grading:
    """An intelligence grading: source, intelligence and handling codes in one scheme."""

    source: str
    intelligence: str
    handling: str | None = None
    scheme: str = "3x5x2"

    @classmethod
    def parse(cls, code: str | None, handling: str | None = None) -> Grading | None:
        """Read "1A", "1AP", "1A P", "B2" or "B24" (5x5x5); None for no grading."""
        if code is None or not str(code).strip():
            return None
        text = re.sub(r"[\s/\-x]", "", str(code).upper())
        schemes = grading_schemes()
        for scheme, parts in schemes.items():
            src, intel, hand = parts["source"], parts["intelligence"], parts["handling"]
            if len(text) >= 2 and text[0] in src and text[1] in intel:
                rest = text[2:] or (handling.upper() if handling else None)
                if rest is not None and rest not in hand:
                    continue
                return cls(text[0], text[1], rest, scheme)
        raise MarkingError(f"unreadable grading {code!r}: expected 3x5x2 like 1A or 2BP, or 5x5x5 like B24")

    @property
    def code(self) -> str:
        return f"{self.source}{self.intelligence}"

    def describe(self) -> str:
        parts = grading_schemes()[self.scheme]
        text = f"{parts['source'][self.source]}; {parts['intelligence'][self.intelligence]}"
        if self.handling:
            text += f"; {parts['handling'][self.handling]}"
        return text

    def __str__(self) -> str:
        return self.code + (self.handling or "")


@dataclass(frozen=True)
class Marking:
    """Classification, national caveat and release-to list of a value."""

    classification: str = "OFFICIAL"
    caveat: str | None = None
    release_to: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def make(cls, classification: str | None = None, caveat: str | None = None,
             release_to: str | list[str] | tuple[str, ...] | None = None) -> Marking:
        if isinstance(release_to, str):
            release_to = [r for r in re.split(r"[,\s]+", release_to) if r]
        caveat = caveat.strip() if caveat and caveat.strip() else None
        return cls(normalise_classification(classification or "OFFICIAL"), caveat,
                   tuple(sorted({r.strip().upper() for r in release_to or ()})))

    @property
    def release_text(self) -> str | None:
        return ",".join(self.release_to) or None

    def __str__(self) -> str:
        text = self.classification
        if self.caveat:
            text += f" – {self.caveat}"
        if self.release_to:
            text += f" – REL TO {'/'.join(self.release_to)}"
        return text


def highest(markings: list[Marking]) -> Marking:
    """The marking that covers all the given ones (for banners and exports)."""
    if not markings:
        return Marking()
    top = max(markings, key=lambda m: classification_rank(m.classification))
    caveats = sorted({m.caveat for m in markings if m.caveat})
    return Marking(top.classification, " / ".join(caveats) or None, ())
