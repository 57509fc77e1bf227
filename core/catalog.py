"""The model catalog: bundled entries from data/models.yaml plus user entries in the store.

Everything here works without torch: parameter counts come from safetensors headers,
model versions from a content hash of the weights and config.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from core import config
from core.devices import DTYPE_BYTES
from core.schemas import ModelSpec

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
HEADROOM = 1.25  # estimated footprint = weights x 1.25 (activations, KV cache, allocator slack)
SAFETENSORS_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class ModelUnavailableError(RuntimeError):
    """The model's files could not be found; the message names what was tried."""


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class ModelInfo:
    spec: ModelSpec
    available: bool
    path: Path | None
    params: int | None
    weights_mb: float | None
    estimated_mb: float | None  # at the dtype the model would load in on CPU (float32)
    version: str | None
    problem: str | None


def bundled_specs(path: Path = config.CATALOG_FILE) -> list[ModelSpec]:
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    return [ModelSpec(bundled=True, **entry) for entry in (data or {}).get("models", [])]


def all_specs(store=None) -> dict[str, ModelSpec]:  # noqa: ANN001 - core.store.Store
    specs = {s.name: s for s in bundled_specs()}
    if store is not None:
        for s in store.user_models():
            specs.setdefault(s.name, s)
    return specs


def get_spec(name: str, store=None) -> ModelSpec:  # noqa: ANN001
    specs = all_specs(store)
    if name not in specs:
        raise CatalogError(f"unknown model {name!r}; known models: {', '.join(sorted(specs))}. Add one with `python -m core models add NAME SOURCE`")
    return specs[name]


def looks_like_hf_id(source: str) -> bool:
    return bool(re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", source)) and not Path(source).exists()


def make_spec(name: str, source: str, revision: str | None = None, dtype: str = "auto", device: str = "auto", notes: str = "") -> ModelSpec:
    if not NAME_RE.match(name):
        raise CatalogError(f"invalid model name {name!r}: use letters, digits, '.', '_', ':' or '-'")
    if looks_like_hf_id(source):
        return ModelSpec(name=name, source=source, kind="hf", revision=revision, dtype=dtype, device=device, notes=notes)
    path = Path(source).expanduser().resolve()
    if not (path / "config.json").is_file():
        raise CatalogError(f"{source!r} is neither a model directory with config.json nor a Hugging Face id like 'org/name'")
    return ModelSpec(name=name, source=str(path), kind="local", revision=revision, dtype=dtype, device=device, notes=notes)


ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization", "cookie")


def make_http_spec(
    name: str,
    base_url: str,
    served_model: str,
    *,
    endpoint: str = "chat",
    api_key_env: str | None = None,
    extra_headers: dict[str, str] | None = None,
    request_timeout_s: float = 60.0,
    max_concurrency: int = 1,
    max_retries: int = 3,
    price_basis: dict | None = None,
    tokenizer: str | None = None,
    notes: str = "",
) -> ModelSpec:
    """A validated catalog entry for an OpenAI-compatible endpoint. Secrets are refused: they belong in
    the environment variable that `api_key_env` names, never in the entry."""
    from urllib.parse import urlsplit

    if not NAME_RE.match(name):
        raise CatalogError(f"invalid model name {name!r}: use letters, digits, '.', '_', ':' or '-'")
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CatalogError(f"invalid base URL {base_url!r}: use http(s)://host[:port]/v1")
    if parts.username or parts.password or parts.query:
        raise CatalogError("the base URL must not carry credentials or a query string; put the API key in an "
                           "environment variable and pass its name with --api-key-env")
    if not served_model:
        raise CatalogError("an HTTP model needs --served-model (the model name the server expects)")
    if endpoint not in ("chat", "completions"):
        raise CatalogError(f"endpoint must be 'chat' or 'completions', not {endpoint!r}")
    if api_key_env is not None and not ENV_VAR_RE.match(api_key_env):
        raise CatalogError(f"--api-key-env takes the NAME of an environment variable (like OPENAI_API_KEY), not a key; got {len(api_key_env)} characters that are not a variable name")
    headers = dict(extra_headers or {})
    for key in headers:
        if key.lower() in SECRET_HEADERS:
            raise CatalogError(f"header {key!r} would store a secret in the catalog; pass the key through --api-key-env instead")
    if request_timeout_s <= 0:
        raise CatalogError("the request timeout must be positive")
    if max_concurrency < 1 or max_retries < 0:
        raise CatalogError("max concurrency must be at least 1 and retries at least 0")
    basis = dict(price_basis or {})
    if basis and basis.get("kind") not in ("tokens", "hourly"):
        raise CatalogError("price basis kind must be 'tokens' (cloud per-token prices) or 'hourly' (self-hosted GPU)")
    return ModelSpec(
        name=name, source=base_url, kind="http", base_url=base_url, served_model=served_model, endpoint=endpoint,
        api_key_env=api_key_env, extra_headers=headers, request_timeout_s=float(request_timeout_s),
        max_concurrency=int(max_concurrency), max_retries=int(max_retries), price_basis=basis, tokenizer=tokenizer,
        notes=notes,
    )


def parse_headers(text: str) -> dict[str, str]:
    """Extra HTTP headers from lines of `Name: value` (or `Name=value`); blank lines are ignored."""
    headers = {}
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        sep = ":" if ":" in line else "=" if "=" in line else None
        key, _, value = line.partition(sep) if sep else (line, "", "")
        if not sep or not key.strip() or not re.match(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", key.strip()):
            raise CatalogError(f"header line {n}: write it as 'Name: value'")
        headers[key.strip()] = value.strip()
    return headers


def price_basis(usd_per_hour: float | None = None, price_model: str | None = None) -> dict:
    """The price basis of an HTTP entry: an hourly price (self-hosted GPU) or a cloud model's per-token prices."""
    if usd_per_hour and price_model:
        raise CatalogError("give either an hourly price or a cloud price model, not both")
    if usd_per_hour:
        return {"kind": "hourly", "usd_per_hour": float(usd_per_hour)}
    return {"kind": "tokens", "model": price_model.strip()} if price_model and price_model.strip() else {}


def add_model(store, spec: ModelSpec) -> ModelSpec:  # noqa: ANN001
    if spec.name in {s.name for s in bundled_specs()}:
        raise CatalogError(f"{spec.name!r} is a bundled model; choose another name")
    store.add_model(spec)
    return spec


def resolve_path(spec: ModelSpec) -> Path:
    """The local directory holding the model's files, or ModelUnavailableError naming what was tried."""
    if spec.kind == "http":
        raise ModelUnavailableError(f"{spec.name!r} is served over HTTP; it has no local files")
    if spec.kind == "local":
        path = Path(spec.source)
        if not path.is_absolute():
            path = config.ROOT / path
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"model {spec.name!r}: no config.json in local directory {path}")
        return path
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(spec.source, revision=spec.revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - any hub error means "not here offline"
        rev = spec.revision or "main (unpinned)"
        raise ModelUnavailableError(
            f"model {spec.name!r}: Hugging Face id {spec.source!r} at revision {rev} is not in the local cache "
            f"({os.environ.get('HF_HOME', '~/.cache/huggingface')}) and the hub cannot be reached offline. "
            f"Download it on a connected machine (`hf download {spec.source}`) or add a local directory instead."
        ) from None
    return Path(local)


def _safetensors_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.safetensors"))


def _header(file: Path) -> dict:
    with file.open("rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        return json.loads(fh.read(n))


@lru_cache(maxsize=128)
def _weights_stats(path_str: str, mtime: float) -> tuple[int, int]:
    params = nbytes = 0
    for file in _safetensors_files(Path(path_str)):
        for key, meta in _header(file).items():
            if key == "__metadata__":
                continue
            count = 1
            for d in meta["shape"]:
                count *= d
            params += count
            nbytes += count * SAFETENSORS_DTYPE_BYTES.get(meta["dtype"], 4)
    return params, nbytes


@lru_cache(maxsize=128)
def _content_hash(path_str: str, mtime: float) -> str:
    h = hashlib.sha256()
    path = Path(path_str)
    for file in [path / "config.json", *_safetensors_files(path)]:
        if file.exists():
            h.update(file.name.encode())
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return "sha256:" + h.hexdigest()[:16]


def _mtime(path: Path) -> float:
    return max((f.stat().st_mtime for f in [path / "config.json", *_safetensors_files(path)] if f.exists()), default=0.0)


def model_version(spec: ModelSpec) -> str:
    """Revision for hub models; a content hash of weights + config for local directories."""
    if spec.kind == "http":
        return f"http:{spec.served_model or spec.name}"
    if spec.kind == "hf" and spec.revision:
        return f"rev:{spec.revision}"
    path = resolve_path(spec)
    return _content_hash(str(path), _mtime(path))


def weights_stats(spec: ModelSpec) -> tuple[int, int]:
    """(parameter count, bytes on disk) from safetensors headers, without loading."""
    path = resolve_path(spec)
    return _weights_stats(str(path), _mtime(path))


def estimate_bytes(spec: ModelSpec, dtype: str) -> int:
    """Footprint estimate before loading: parameters x dtype bytes x headroom."""
    params, _ = weights_stats(spec)
    return int(params * DTYPE_BYTES.get(dtype, 4) * HEADROOM)


def describe(spec: ModelSpec) -> ModelInfo:
    if spec.kind == "http":
        return ModelInfo(spec, True, None, None, None, None, model_version(spec), None)
    try:
        path = resolve_path(spec)
        params, nbytes = weights_stats(spec)
        return ModelInfo(
            spec=spec,
            available=True,
            path=path,
            params=params,
            weights_mb=nbytes / 2**20,
            estimated_mb=estimate_bytes(spec, "float32") / 2**20,
            version=model_version(spec),
            problem=None,
        )
    except ModelUnavailableError as exc:
        return ModelInfo(spec, False, None, None, None, None, None, str(exc))
