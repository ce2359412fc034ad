"""Logging that carries request ids and never personal data."""

from __future__ import annotations

import logging
import sys

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
    # Libraries that narrate every step at INFO would drown the hub's own lines.
    for noisy in ("weasyprint", "fontTools", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _configured = True
