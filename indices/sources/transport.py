"""HTTP plumbing shared by the network sources: timeouts, error classification, safe messages.

One ``send`` is one attempt. Connection failures and timeouts become ``TransientSourceError`` (the
caller's retry loop decides whether to try again); the HTTP status is left to the caller, because
what a status means depends on the protocol (Bitcoin Core answers JSON-RPC errors with HTTP 500).
Credentials never appear in messages: URLs are shown without their user-info part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

from indices.sources.base import SourceError, TransientSourceError, one_line

_BODY_SNIPPET_CHARS = 120
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")  # greedy: passwords may hold "@"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for the TCP connection and then for each read from the server."""

    connect_seconds: float = 5.0
    read_seconds: float = 30.0

    def as_requests(self) -> tuple[float, float]:
        return (self.connect_seconds, self.read_seconds)


def redact_url(url: str) -> str:
    """``url`` without any ``user:password@`` part (also when the scheme is missing)."""
    return _USERINFO.sub(r"\1", url)


def is_transient_status(status: int) -> bool:
    """HTTP statuses worth retrying: too many requests and server-side failures."""
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(response: requests.Response) -> float | None:
    """The Retry-After header in seconds, when given as a number (dates are ignored)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def body_snippet(response: requests.Response) -> str:
    text = one_line(response.text, _BODY_SNIPPET_CHARS) if response.content else ""
    return text or "(empty body)"


class HttpTransport:
    """A ``requests`` session bound to one base URL and one timeout setting."""

    def __init__(self, base_url: str, *, timeouts: Timeouts = Timeouts(),
                 session: requests.Session | None = None):
        if not base_url.startswith(("http://", "https://")):  # a configuration error the CLI shows as is
            raise SourceError(f"source URL must start with http:// or https://, got {redact_url(base_url)!r}")
        self.base_url = base_url.rstrip("/")
        self.display_url = redact_url(self.base_url)
        self.timeouts = timeouts
        self._session = session or requests.Session()

    def send(self, method: str, path: str = "", **kwargs) -> requests.Response:
        """One HTTP exchange; raises ``TransientSourceError`` when no response came back."""
        url = self.base_url + path
        shown = self.display_url + path
        try:
            return self._session.request(method, url, timeout=self.timeouts.as_requests(), **kwargs)
        except requests.Timeout as exc:
            kind = "connecting" if isinstance(exc, requests.ConnectTimeout) else "waiting for a reply"
            limit = (self.timeouts.connect_seconds if isinstance(exc, requests.ConnectTimeout)
                     else self.timeouts.read_seconds)
            raise TransientSourceError(f"{method} {shown}: timed out after {limit:g} s {kind}") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientSourceError(f"{method} {shown}: connection failed ({_reason(exc)})") from None
        except requests.RequestException as exc:
            raise SourceError(f"{method} {shown}: {_reason(exc)}") from None

    def close(self) -> None:
        self._session.close()


def _reason(exc: Exception) -> str:
    """The useful words of a requests/urllib3 exception, without the URL and pool details it repeats."""
    inner = exc.args[0] if exc.args else None
    cause = getattr(inner, "reason", None) or inner or exc  # urllib3's MaxRetryError keeps the cause
    text = str(cause)
    if type(cause).__name__ == "NameResolutionError" or "resolve" in text or "Name or service" in text:
        return "cannot resolve the host name"
    marker = "Failed to establish a new connection: "
    if marker in text:
        return one_line(text.split(marker, 1)[1].strip("'\")(, "), 160)
    if "RemoteDisconnected" in text or "Connection aborted" in text or "Connection broken" in text:
        return "the server closed the connection"
    return one_line(f"{type(cause).__name__}: {text}" if text else type(cause).__name__, 160)
