"""A new SQLite file switches to WAL even while another process holds it (two bots starting together)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.store.engine import _use_wal


def test_the_switch_to_wal_waits_for_another_connections_lock(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # the other process, mid-transaction on the new file
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    late = sqlite3.connect(path, timeout=0, isolation_level=None)  # "locked" at once, as SQLite answers it
    _use_wal(late.cursor())
    assert late.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    late.close()
    holder.close()


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    class Broken:
        def execute(self, sql: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _use_wal(Broken())
