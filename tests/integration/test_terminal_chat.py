"""`python -m bot chat`: the operator's terminal chat, as a real subprocess against the fake Venice."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tests.cardgen import card_json, character_book, lore_entry, v2_card
from tests.conftest import VENICE_KEY

ROOT = Path(__file__).resolve().parents[2]


async def run_chat(args: list[str], stdin: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


def clean_env(tmp_path: Path, venice_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
        "VENICE_API_KEY": VENICE_KEY, "VENICE_BASE_URL": venice_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
    }


async def test_a_card_can_be_tried_in_the_terminal_with_its_lorebook(tmp_path: Path, fake_venice: Any) -> None:
    card = v2_card(
        name="Mara", description="{{char}} is a 30-year-old pirate captain.", first_mes="Ahoy, {{user}}.",
        character_book=character_book([lore_entry(["kraken"], "The kraken sleeps under the Black Reef.")]),
    )
    path = tmp_path / "mara.json"
    path.write_bytes(card_json(card))
    fake_venice.replies.extend(["Aye, the kraken.", "Fair winds."])
    code, out, err = await run_chat(["--character", str(path)], "Tell me about the kraken\nBye\n:quit\n",
                                    clean_env(tmp_path, fake_venice.base_url), tmp_path)
    assert code == 0, err
    assert "Mara: Ahoy, You." in out and "Aye, the kraken." in out and "Fair winds." in out
    first, second = [r.json for r in fake_venice.requests_to("/chat/completions") if r.json.get("stream")]
    system = first["messages"][0]["content"]
    assert "pirate captain" in system and "Black Reef" in system
    assert any("Aye, the kraken." in m["content"] for m in second["messages"])
    assert VENICE_KEY not in out + err
    assert fake_venice.violations == []


async def test_a_refused_key_is_one_clear_line(tmp_path: Path, fake_venice: Any) -> None:
    env = clean_env(tmp_path, fake_venice.base_url) | {"VENICE_API_KEY": "vk-wrong-key-0123456789"}
    code, out, err = await run_chat(["--character", "no-such-slug"], ":quit\n", env, tmp_path)
    assert code == 1
    assert "vk-wrong-key-0123456789" not in out + err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]  # log lines come first on stderr
    assert line.startswith("lustify:") and "key" in line
