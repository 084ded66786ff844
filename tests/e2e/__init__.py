"""End-to-end: the real `python -m bot` process against the local fakes.

Shared by the e2e tests and the command-line tests: running `python -m bot ...` as an operator
would, with a clean environment (nothing from the developer's shell or a `.env` leaks in: the
working directory is a temporary one) and every address pointing at 127.0.0.1.

The subprocesses are asyncio ones on purpose: the fakes run in the test's event loop, so a
blocking `subprocess.run` would stop them from answering the very process being tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
# Addresses that refuse connections at once: a misconfigured test fails fast and stays local.
CLOSED_PORT = "http://127.0.0.1:9"


def clean_env(**values: str | None) -> dict[str, str]:
    """A minimal environment plus `values` (None drops a key): no DISCORD_/VENICE_/DATABASE_ from outside."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT") if k in os.environ}
    env |= {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
            # Anything that forgot to point at a fake fails here instead of reaching a real host.
            "DISCORD_API_BASE": f"{CLOSED_PORT}/api/v10", "VENICE_BASE_URL": f"{CLOSED_PORT}/api/v1"}
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@dataclass
class Result:
    """A finished command: exit code and what it printed."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def output(self) -> str:
        return self.out + self.err


async def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60.0) -> Result:  # noqa: ASYNC109
    """`python -m bot ARGS` to completion (killed, and the test failed, after `timeout`)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"python -m bot {' '.join(args)} did not finish in {timeout}s; "
                             f"stderr:\n{err.decode(errors='replace')[-3000:]}") from None
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


@dataclass
class BotProcess:
    """A long-running `python -m bot run`, its output going to files so it can be read at any time."""

    name: str
    env: dict[str, str]
    cwd: Path
    proc: asyncio.subprocess.Process | None = None
    stdout_path: Path = field(init=False)
    stderr_path: Path = field(init=False)
    _files: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stdout_path = self.cwd / f"{self.name}.stdout"
        self.stderr_path = self.cwd / f"{self.name}.stderr"

    async def start(self) -> BotProcess:
        out, err = self.stdout_path.open("wb"), self.stderr_path.open("wb")
        self._files = [out, err]
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env, cwd=self.cwd, stdout=out, stderr=err,
        )
        return self

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_log(self, text: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until stderr (the log) contains `text`; fail with the log if the process dies first."""
        async with asyncio.timeout(timeout):
            while text not in self.stderr:
                if not self.running:
                    raise AssertionError(f"{self.name} exited ({self.returncode}) before logging {text!r}:\n"
                                         f"{self.stderr[-3000:]}")
                await asyncio.sleep(0.05)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    async def stop(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """SIGTERM, as a service manager would; returns the exit code (killed after `timeout`)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                self.close_files()
                raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s:\n{self.stderr[-3000:]}") from None
        self.close_files()
        assert self.proc.returncode is not None
        return self.proc.returncode

    def kill(self) -> None:
        """Last resort for teardown after a failed test."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.close_files()

    def close_files(self) -> None:
        for f in self._files:
            f.close()
        self._files = []


def secrets_in(text: str, secrets: dict[str, str]) -> list[str]:
    """Which of the named secrets (or a recognisable part of them) appear in `text`."""
    found = []
    for name, value in secrets.items():
        # Also look for the token's middle and end: a truncated or split print would still leak it.
        pieces = {value, value[len(value) // 3:], value[: 2 * len(value) // 3]}
        if any(piece in text for piece in pieces if len(piece) >= 12):
            found.append(name)
    return found
