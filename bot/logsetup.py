"""Logging as text or JSON, with every known secret redacted from every record.

The filter sits on the root handler, so it sees messages from discord.py, aiohttp and SQLAlchemy as
well as ours, including formatted arguments and exception text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

REDACTED = "[redacted]"
# Shapes of secrets that may reach a log even when we do not know the value: bearer headers and
# Discord bot tokens (three dot-separated base64 parts).
_PATTERNS = (
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?bearer\s+)[^\s'\",}]+"),
    re.compile(r"(?i)(bot\s+)[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}"),
    re.compile(r"()[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}"),
    # Webhook and interaction tokens in URLs, which discord.py logs at DEBUG: whoever holds the
    # persona webhook's token can post into an age-restricted channel under the bot's name.
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.-]{16,}"),
    # The same tokens inside payloads discord.py logs at DEBUG (gateway events, webhook objects).
    re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]+"""),
)


class Redactor:
    """Replaces the given secrets, and secret-shaped strings, with a marker."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text


class RedactingFilter(logging.Filter):
    """Formats the record's message and exception once, redacted, so handlers print only clean text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> Redactor:
    """Configure the root logger once; returns the redactor so other outputs can use it too."""
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redactor))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's HTTP logger prints request bodies at DEBUG; keep it at INFO unless asked.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    # Alembic 1.20 announces each of its plugins at INFO on every run; that noise would bury the
    # one line a failed start-up prints (and says nothing an operator can act on).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return redactor
