"""Redaction: a secret never reaches the log output, whatever path it takes."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logsetup import RedactingFilter, Redactor, setup_logging

KEY = "vk-live-abcdefghijklmnop"
TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.GfakeX.abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def captured() -> io.StringIO:
    buffer = io.StringIO()
    setup_logging("DEBUG", "text", [KEY, TOKEN])
    root = logging.getLogger()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactingFilter(Redactor([KEY, TOKEN])))
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)


def test_message_args_and_exceptions_are_redacted(captured: io.StringIO) -> None:
    log = logging.getLogger("anything")
    log.info("key is %s", KEY)
    log.warning(f"token {TOKEN} in an f-string")
    try:
        raise RuntimeError(f"failed with Authorization: Bearer {KEY}")
    except RuntimeError:
        log.exception("boom")
    out = captured.getvalue()
    assert KEY not in out and TOKEN not in out
    assert out.count("[redacted]") >= 3


def test_secret_shapes_are_redacted_even_when_unknown() -> None:
    redact = Redactor([])
    assert "sekret123" not in redact('{"authorization": "Bearer sekret123"}')
    other = "OTk5OTk5OTk5OTk5OTk5OTk5.Gabcde.zyxwvutsrqponmlkjihgfedcba98765"
    assert other not in redact(f"Bot {other}")


def test_json_format_is_one_object_per_line() -> None:
    import json

    buffer = io.StringIO()
    setup_logging("INFO", "json", [KEY])
    handler = logging.getLogger().handlers[0]
    handler.stream = buffer  # type: ignore[attr-defined]
    logging.getLogger("x").info("hello %s", KEY)
    line = buffer.getvalue().strip().splitlines()[-1]
    data = json.loads(line)
    assert data["message"] == "hello [redacted]" and data["level"] == "INFO"
