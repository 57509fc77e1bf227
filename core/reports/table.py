"""A report table: headers, rows of formatted text, a title and a note (core.reports.model and its
sections build them; every renderer draws them)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    note: str = ""
    numeric: tuple[bool, ...] = ()  # right-aligned columns

    def __post_init__(self) -> None:
        if not self.numeric:
            object.__setattr__(self, "numeric", tuple(False for _ in self.columns))
