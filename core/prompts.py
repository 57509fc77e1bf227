"""Prompt sets: parse and validate JSONL/CSV files, list bundled and imported sets.

A rejected file stores nothing; its error lists every problem with its line.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from core import config
from core.schemas import PromptItem, PromptSet

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_ERRORS = 50


@dataclass(frozen=True)
class LineError:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class PromptSetError(ValueError):
    """A prompt-set file or name was rejected; `errors` lists each problem with its line."""

    def __init__(self, source: str, errors: list[LineError]) -> None:
        self.source = source
        self.errors = errors
        shown = "\n".join(f"  - {e}" for e in errors[:MAX_ERRORS])
        more = f"\n  ... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        super().__init__(f"{source}: rejected ({len(errors)} problem{'s' * (len(errors) != 1)}):\n{shown}{more}")


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or "") or name in (".", ".."):
        raise PromptSetError(
            "name",
            [LineError(None, f"invalid prompt-set name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (a label, not a path)")],
        )
    return name


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "item"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "field required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PromptSetError(
            source, [LineError(line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8")]
        ) from None
    return text


def _raw_records(text: str, fmt: str, source: str) -> list[tuple[int, dict | str]]:
    """(line number, record or error message) for each non-empty record."""
    out: list[tuple[int, dict | str]] = []
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                out.append((n, f"invalid JSON ({exc.msg} at column {exc.colno})"))
                continue
            out.append((n, rec if isinstance(rec, dict) else "expected a JSON object"))
        return out
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        return out
    try:
        for rec in reader:
            if None in rec:
                out.append((reader.line_num, "more cells than header columns"))
                continue
            clean = {k.strip(): (v if v != "" else None) for k, v in rec.items() if k}
            if all(v is None for v in clean.values()):
                continue
            out.append((reader.line_num, clean))
    except csv.Error as exc:
        out.append((reader.line_num, f"malformed CSV: {exc}"))
    return out


def parse_bytes(
    data: bytes,
    *,
    source: str,
    name: str,
    description: str = "",
    fmt: str | None = None,
    max_bytes: int = config.MAX_PROMPT_FILE_MB * 1024 * 1024,
    max_items: int = config.MAX_PROMPT_ITEMS,
    origin: str = "imported",
) -> PromptSet:
    """Validate a whole file; raise PromptSetError listing every problem, or return the set."""
    validate_name(name)
    if len(data) > max_bytes:
        raise PromptSetError(
            source, [LineError(None, f"file is {len(data) / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit")]
        )
    fmt = fmt or ("csv" if source.lower().endswith(".csv") else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise PromptSetError(source, [LineError(None, f"unsupported format {fmt!r}: use .jsonl or .csv")])
    text = _decode(data, source)
    records = _raw_records(text, fmt, source)
    if not records:
        raise PromptSetError(source, [LineError(None, "file is empty: no prompt items found")])
    if len(records) > max_items:
        raise PromptSetError(source, [LineError(None, f"{len(records)} items, above the limit of {max_items}")])
    errors: list[LineError] = []
    items: list[PromptItem] = []
    seen: dict[str, int] = {}
    for line, rec in records:
        if isinstance(rec, str):
            errors.append(LineError(line, rec))
            continue
        try:
            item = PromptItem.model_validate(rec)
        except ValidationError as exc:
            errors.append(LineError(line, _pydantic_message(exc)))
            continue
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            errors.append(LineError(line, f"scorers: {exc}"))
            continue
        if item.id in seen:
            errors.append(LineError(line, f"duplicate id {item.id!r} (first seen on line {seen[item.id]})"))
            continue
        seen[item.id] = line
        items.append(item)
    if errors:
        raise PromptSetError(source, errors)
    return PromptSet(name=name, description=description, items=tuple(items), source=origin)


def parse_file(path: str | Path, *, name: str | None = None, description: str = "", origin: str = "imported") -> PromptSet:
    path = Path(path)
    if not path.is_file():
        raise PromptSetError(str(path), [LineError(None, "file not found")])
    size = path.stat().st_size
    limit = config.MAX_PROMPT_FILE_MB * 1024 * 1024
    if size > limit:
        raise PromptSetError(str(path), [LineError(None, f"file is {size / 1e6:.1f} MB, above the {limit / 1e6:.0f} MB limit")])
    return parse_bytes(path.read_bytes(), source=path.name, name=name or path.stem, description=description, origin=origin)


# ---------------------------------------------------------------------------- catalog of sets


def bundled_sets(folder: Path = config.PROMPT_SETS_DIR) -> dict[str, PromptSet]:
    sets: dict[str, PromptSet] = {}
    for path in sorted([*folder.glob("*.jsonl"), *folder.glob("*.csv")]):
        meta_path = path.with_suffix(".yaml")
        meta = yaml.safe_load(meta_path.read_text()) if meta_path.exists() else {}
        name = meta.get("name", path.stem)
        sets[name] = parse_file(path, name=name, description=meta.get("description", ""), origin="bundled")
    return sets


def all_sets(store=None) -> dict[str, PromptSet]:  # noqa: ANN001 - core.store.Store
    sets = bundled_sets()
    if store is not None:
        for ps in store.imported_prompt_sets():
            sets.setdefault(ps.name, ps)
    return sets


def get_set(name: str, store=None) -> PromptSet:  # noqa: ANN001
    sets = all_sets(store)
    if name not in sets:
        raise KeyError(f"unknown prompt set {name!r}; available: {', '.join(sorted(sets)) or 'none'}")
    return sets[name]


def import_set(store, path: str | Path, name: str, description: str = "") -> PromptSet:  # noqa: ANN001
    """Validate a file and store it; a bundled set's name cannot be taken."""
    validate_name(name)
    if name in bundled_sets():
        raise PromptSetError(str(path), [LineError(None, f"{name!r} is a bundled prompt set; choose another name")])
    ps = parse_file(path, name=name, description=description)
    store.save_prompt_set(ps)
    return ps


def import_bytes(store, data: bytes, *, filename: str, name: str, description: str = "") -> PromptSet:  # noqa: ANN001
    validate_name(name)
    if name in bundled_sets():
        raise PromptSetError(filename, [LineError(None, f"{name!r} is a bundled prompt set; choose another name")])
    ps = parse_bytes(data, source=filename, name=name, description=description)
    store.save_prompt_set(ps)
    return ps
