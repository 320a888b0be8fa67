"""Write CSV that a spreadsheet cannot execute: values that start like a formula are neutralised."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """Prefix a formula-like text with an apostrophe (OWASP CSV injection advice); the store keeps it as it was."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def write_csv(fh: IO[str], header: list[str], rows: Iterable[Iterable]) -> int:
    writer = csv.writer(fh)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        count += 1
    return count
