"""Secrets out of what is shown or stored: MLflow params, report manifests, displayed URIs.

    redact({"api_key": "sk-...", "extra_headers": {"X-Key": "v"}})   # values "<redacted>"
    strip_userinfo("https://user:pw@host/path")                         # "https://***@host/path"
"""
from __future__ import annotations

import re
from typing import Any

_SECRET_KEY = re.compile(
    r"(^|[_\-.])(api_?key|access_?key|secret_?key|private_?key|token|secret|password|passwd|authorization|auth|cookie"
    r"|credentials?)$", re.I)
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact(obj: Any) -> Any:
    """A copy without secrets: header values, secret-named keys (not `*_env` names), URL credentials."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "extra_headers" and isinstance(v, dict):
                out[k] = {h: "<redacted>" for h in v}
            elif isinstance(k, str) and _SECRET_KEY.search(k) and isinstance(v, str) and v:
                out[k] = "<redacted>"
            else:
                out[k] = redact(v)
        return out
    if isinstance(obj, list | tuple):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return strip_userinfo(obj)
    return obj


def strip_userinfo(text: str) -> str:
    """A URL's credentials (user:password@) replaced by ***@."""
    return _USERINFO.sub("***@", text)
