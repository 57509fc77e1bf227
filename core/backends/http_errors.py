"""How a request to an HTTP endpoint fails, and when to try it again: the error kinds of the
openai client's errors (stored on sample rows, used by the retry loop and the circuit breaker),
the errors the HTTP backend raises, and the backoff between attempts (Retry-After honoured)."""
from __future__ import annotations

import email.utils
import random
import re
import time

from core.catalog import ModelUnavailableError

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
MAX_RETRY_AFTER_S = 120.0
RETRYABLE = frozenset({"rate_limited", "server_error", "connection", "timeout"})
# how servers say a model has no chat template (transformers, vLLM: "chat template"/"chat_template"; TGI)
NO_CHAT_TEMPLATE = re.compile(r"chat[ _-]?template|template not found", re.IGNORECASE)


class EndpointUnavailableError(ModelUnavailableError):
    """The endpoint failed the warm-up request (or its API key is missing): the model is skipped."""


class HTTPRequestError(RuntimeError):
    """A request that failed for good; `error_kind` and `attempts` go on the sample row."""

    def __init__(self, kind: str, message: str, attempts: int, endpoint: str) -> None:
        super().__init__(message)
        self.error_kind = kind
        self.attempts = attempts
        self.endpoint = endpoint


def error_kind(exc: BaseException) -> str | None:
    """rate_limited | timeout | connection | server_error | bad_request for openai errors, else None."""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a runtime requirement
        return None
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError, its base class
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429:
            return "rate_limited"
        if code == 408:
            return "timeout"
        return "server_error" if code >= 500 else "bad_request"
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        return "server_error"
    return None


def says_no_chat_template(exc: BaseException) -> bool:
    """Whether a server's error (status line and body) says the model has no chat template."""
    return bool(NO_CHAT_TEMPLATE.search(f"{exc} {getattr(exc, 'body', '') or ''}"))


def retry_after_s(headers) -> float | None:  # noqa: ANN001 - a headers mapping
    """Seconds asked for by `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return max(0.0, email.utils.mktime_tz(parsed) - time.time()) if parsed else None


def backoff_s(attempt: int) -> float:
    """Exponential backoff with equal jitter: half of min(cap, base x 2^(n-1)) plus a random half."""
    full = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    return full / 2 + random.uniform(0, full / 2)
