"""Logging that carries request ids and never personal data."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

_configured = False


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from hub.core.requestctx import request_id

        record.request_id = request_id() or "-"
        return True


def configure_logging(level: str = "INFO") -> None:
    """Log one line per event to stderr with the request id, once per process."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # The development server logs each request line: without its secrets, like gunicorn.
    logging.getLogger("werkzeug").addFilter(RequestLineFilter())
    # Libraries that narrate every step at INFO would drown the hub's own lines.
    for noisy in ("weasyprint", "fontTools", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True


#: Paths whose last segment is a secret (a one-time invitation token): logged without it.
_SECRET_PATHS = re.compile(r"^(/invitation/)[^/?#\s]+")
#: Request headers never logged, whatever the access log format asks for.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class RequestLineFilter(logging.Filter):
    """Take query strings and secret path segments out of a logged request line."""

    _LINE = re.compile(r'"([A-Z]+) ([^ "?]*)(\?[^ "]*)? (HTTP/[0-9.]+)"')

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._LINE.sub(
            lambda m: f'"{m.group(1)} {redact_path(m.group(2))} {m.group(4)}"', message
        )
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_path(path: str) -> str:
    """A request path fit for a log: a secret segment becomes ``[redacted]``."""
    return _SECRET_PATHS.sub(r"\1[redacted]", path or "")


class AccessLogger(GunicornLogger):  # type: ignore[misc]
    """Gunicorn's access log without secrets: no query strings, tokens or credentials.

    The format (``hub serve``) already logs only the path; this makes sure no format can
    write a token from an invitation link, a callback's code or state, or a bearer token.
    """

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = redact_path(environ.get("PATH_INFO", ""))
        atoms["U"] = path
        atoms["q"] = "-"
        atoms["r"] = (
            f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        )
        atoms["f"] = "-"  # a referer may carry another page's query string
        for name in _SECRET_HEADERS:
            if f"{{{name}}}i" in atoms:
                atoms[f"{{{name}}}i"] = "[redacted]"
        return atoms
