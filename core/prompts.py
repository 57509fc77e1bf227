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
from core.rubrics import RubricError, check_judge_params
from core.schemas import PromptItem, PromptSet

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_ERRORS = 50
MAX_JSON_DEPTH = 64  # an item is flat; a scorer's params (a JSON schema) nest a few levels


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
        if err["type"] in ("value_error", "assertion_error") and "error" in err.get("ctx", {}):
            msg = str(err["ctx"]["error"])  # the validator's own words, without pydantic's "Value error," prefix
        elif err["type"] == "missing":
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


def _depth(obj: object) -> int:
    """Nesting depth of parsed JSON (iterative: a deep value cannot exhaust the stack)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


TOO_DEEP = f"JSON nested more than {MAX_JSON_DEPTH} levels deep: an item is one flat object (id, prompt, reference, ...)"


def _jsonl_records(text: str) -> list[tuple[int, dict | str]]:
    out: list[tuple[int, dict | str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((n, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except RecursionError:
            out.append((n, TOO_DEEP))
            continue
        if not isinstance(rec, dict):
            out.append((n, "expected a JSON object"))
        else:
            out.append((n, TOO_DEEP if _depth(rec) > MAX_JSON_DEPTH else rec))
    return out


def _csv_problem(exc: csv.Error, start: int, last: int) -> str:
    msg = str(exc)
    if "unexpected end of data" in msg or "EOF" in msg:
        return (f"unterminated quote: the quoted cell that starts on this line never closes, so lines {start}-{last} "
                "would be read as one cell; close the quote, or write a quote inside a quoted cell as \"\"")
    if "expected after" in msg:
        return ("malformed CSV: a quoted cell must end at a comma or at the end of the line "
                f"({msg}); write a quote inside a quoted cell as \"\"")
    return f"malformed CSV: {msg}"


def _csv_records(text: str) -> list[tuple[int, dict | str]]:
    """Strict CSV: a quote left open is an error naming its line, not a cell that swallows the rest."""
    out: list[tuple[int, dict | str]] = []
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    last = text.count("\n") + (not text.endswith("\n"))
    try:
        if reader.fieldnames is None:
            return out
    except csv.Error as exc:
        return [(1, _csv_problem(exc, 1, last))]
    rows = iter(reader)
    while True:
        start = reader.line_num + 1
        try:
            rec = next(rows)
        except StopIteration:
            return out
        except csv.Error as exc:
            out.append((start, _csv_problem(exc, start, last)))
            return out
        if None in rec:
            out.append((reader.line_num, "more cells than header columns"))
            continue
        clean = {k.strip(): (v if v != "" else None) for k, v in rec.items() if k}
        if any(v is not None for v in clean.values()):
            out.append((reader.line_num, clean))


def _judge_problem(item: PromptItem) -> str | None:
    """What is wrong with the item's judge scorers (rubric, placeholders, params), or None."""
    for spec in item.scorers:
        if spec.name == "judge":
            try:
                check_judge_params(spec.params)
            except RubricError as exc:
                return f"scorers: {exc}"
    return None


def _raw_records(text: str, fmt: str) -> list[tuple[int, dict | str]]:
    """(line number, record or error message) for each non-empty record."""
    return _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)


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
    records = _raw_records(text, fmt)
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
        except RecursionError:  # a CSV scorers cell of deeply nested JSON
            errors.append(LineError(line, TOO_DEEP))
            continue
        if item.id in seen:
            errors.append(LineError(line, f"duplicate id {item.id!r} (first seen on line {seen[item.id]})"))
            continue
        if problem := _judge_problem(item):
            errors.append(LineError(line, problem))
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


class PromptSetExistsError(PromptSetError):
    """An imported set of this name holds other content: replacing it needs the user's yes."""

    def __init__(self, source: str, name: str, current: str, new: str) -> None:
        self.name, self.current, self.new = name, current, new
        super().__init__(source, [LineError(None, (
            f"an imported prompt set named {name!r} exists (version {current}); this file is version {new}. "
            f"Replace it to make {new} current (runs made with {current} keep it), or choose another name"))])


def _store_set(store, ps: PromptSet, source: str, replace: bool) -> PromptSet:  # noqa: ANN001
    current = store.current_prompt_set_hash(ps.name)
    if current not in (None, ps.content_hash) and not replace:
        raise PromptSetExistsError(source, ps.name, current, ps.content_hash)
    store.save_prompt_set(ps)
    return ps


def _check_name(name: str, source: str) -> None:
    validate_name(name)
    if name in bundled_sets():
        raise PromptSetError(source, [LineError(None, f"{name!r} is a bundled prompt set; choose another name")])


def import_set(store, path: str | Path, name: str, description: str = "", *, replace: bool = False) -> PromptSet:  # noqa: ANN001
    """Validate a file and store it as the current version of `name`; a bundled set's name cannot be
    taken, and another version under the name is replaced only with replace=True."""
    _check_name(name, str(path))
    return _store_set(store, parse_file(path, name=name, description=description), str(path), replace)


def import_bytes(store, data: bytes, *, filename: str, name: str, description: str = "",  # noqa: ANN001
                 replace: bool = False) -> PromptSet:
    _check_name(name, filename)
    return _store_set(store, parse_bytes(data, source=filename, name=name, description=description), filename, replace)


def run_set(store, run) -> PromptSet | None:  # noqa: ANN001 - core.store.Store, core.store.RunRow
    """The prompt set exactly as a run used it (its own version, first `limit` items), or None when no
    copy of that version is left. The name's current version does not matter: it may have been replaced."""
    for ps in store.stored_prompt_sets(run.prompt_set, run.manifest.get("prompt_set_version")):
        if (used := ps.limited(run.spec.limit)).content_hash == run.prompt_set_hash:
            return used
    try:  # a run from before versions were kept: the set as it is now, if still the same
        used = get_set(run.prompt_set, store).limited(run.spec.limit)
    except KeyError:
        return None
    return used if used.content_hash == run.prompt_set_hash else None
