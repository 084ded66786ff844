"""`.charx` containers (Character Card V3): a zip with `card.json` at its root, plus assets.

Only two members are ever read: `card.json` and the main icon. Everything else (expression
sprites, backgrounds, models: a .charx is often tens of MiB) stays compressed and untouched, so
the archive may be large (`MAX_CHARX_BYTES`) and may carry anything in front of the zip (RisuAI
puts a JPEG there; zip readers find the directory from the end).

A zip from a stranger is hostile until proven otherwise: its directory is checked first (a
bounded number of members, no absolute paths or `..` components — nothing is extracted to disk,
but no honest editor writes them), and the two members read must be unencrypted, of a plausible
compression ratio, and are read with a hard cap, because declared sizes are only claims.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
from typing import Any

from bot.characters.cards_json import MAX_CARD_BYTES, CardError

CARD_MEMBER = "card.json"
MAX_CHARX_BYTES = 64 * 1024 * 1024
"""Largest .charx file accepted; only card.json and the main icon inside it are read."""
MAX_RATIO = 100
"""Largest uncompressed/compressed ratio for big members; JSON and images stay far below it."""
_RATIO_FLOOR = 1024 * 1024  # small members may compress extremely well and still be harmless
MAX_MEMBERS = 1000
_DRIVE = re.compile(r"^[A-Za-z]:")
_EMBEDDED_PREFIXES = ("embeded://", "embedded://")  # the spec's spelling, and the usual one


class CharxArchive:
    """A validated .charx archive; members are read on demand with a size cap."""

    def __init__(self, data: bytes) -> None:
        """Open and check the archive, raising CardError for anything unsafe or not a .charx."""
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise CardError("This file is not a valid .charx (zip) archive.") from None
        _check_members(infos)
        self._members = {info.filename: info for info in infos if not info.is_dir()}

    def card_json(self) -> bytes:
        """The bytes of `card.json`, or CardError if the archive has none."""
        info = self._members.get(CARD_MEMBER)
        if info is None:
            raise CardError("This .charx archive has no card.json, so it holds no character.")
        return self._read(info, MAX_CARD_BYTES)

    def main_icon(self, assets: Any) -> bytes | None:
        """The bytes of the card's main icon (V3 `assets`), if it is embedded or a data URL."""
        uri = main_icon_uri(assets)
        if uri is None:
            return None
        if uri.startswith("data:"):
            return _data_url_bytes(uri)
        for prefix in _EMBEDDED_PREFIXES:
            if uri.startswith(prefix):
                info = self._members.get(uri[len(prefix) :])
                return None if info is None else self._read(info, MAX_CARD_BYTES)
        return None  # remote URLs are never fetched; `ccdefault:` has no picture in a zip

    def close(self) -> None:
        """Release the zip handle."""
        self._zip.close()

    def _read(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        if info.flag_bits & 0x1:
            raise CardError("The .charx archive is encrypted; please export it without a password.")
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise CardError("The .charx archive looks like a decompression bomb, so it was rejected.")
        if info.file_size > cap:
            raise CardError(f"{info.filename} in the .charx archive is too large ({_mib(info.file_size)}).")
        try:
            with self._zip.open(info) as member:
                # Never trust the declared size: read at most cap + 1 bytes and compare.
                blob = member.read(cap + 1)
        except Exception:  # zipfile's codecs raise many kinds; for a foreign archive all mean "damaged"
            raise CardError(f"{info.filename} in the .charx archive is damaged.") from None
        if len(blob) > cap or len(blob) != info.file_size:
            raise CardError(f"{info.filename} in the .charx archive is damaged (its size is wrong).")
        return blob


def main_icon_uri(assets: Any) -> str | None:
    """The URI of the V3 main icon: the `icon` named `main`, else the first `icon`."""
    if not isinstance(assets, list):
        return None
    icons = [a for a in assets if isinstance(a, dict) and a.get("type") == "icon" and isinstance(a.get("uri"), str)]
    main = [a for a in icons if a.get("name") == "main"]
    chosen = (main or icons or [None])[0]
    return None if chosen is None else chosen["uri"]


def _check_members(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_MEMBERS:
        raise CardError(f"The .charx archive has {len(infos):,} files; at most {MAX_MEMBERS:,} are accepted.")
    for info in infos:
        if not _safe_name(info.filename):
            raise CardError("The .charx archive contains unsafe file paths, so it was rejected.")


def _safe_name(name: str) -> bool:
    """True for a relative path with no `..`, drive letter, backslash or NUL."""
    if not name or name.startswith("/") or "\\" in name or "\0" in name or _DRIVE.match(name):
        return False
    return ".." not in name.split("/")


def _data_url_bytes(uri: str) -> bytes | None:
    header, _, payload = uri.partition(",")
    if not header.endswith(";base64") or len(payload) > MAX_CARD_BYTES * 2:
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
