"""SillyTavern character cards (V1, V2, V3) as PNG, JSON or .charx: import and export.

`parse_card` turns an uploaded file into a `Character`; `export_card_json` and `export_card_png`
write one back as a V3 card (the PNG also carries a V2 rendition for older readers). Anything wrong
with a file raises `CardError`, whose message can be shown to the user as it is.

The work is split by concern: `cards_json` maps the card object, `cards_png` reads and writes PNG
chunks, `charx` opens zips safely. This module picks the container and ties them together.
"""

from __future__ import annotations

import base64
import json

from bot.characters import cards_png
from bot.characters.cards_json import (
    MAX_CARD_BYTES,
    MAX_LORE_ENTRIES,
    MAX_TEXT_CHARS,
    SPEC_V2,
    SPEC_V3,
    TOP_LEVEL_KEY,
    CardError,
    card_to_object,
    load_card_json,
)
from bot.characters.charx import MAX_CHARX_BYTES, CharxArchive
from bot.characters.model import Character

__all__ = [
    "MAX_CARD_BYTES",
    "MAX_LORE_ENTRIES",
    "MAX_TEXT_CHARS",
    "TOP_LEVEL_KEY",
    "CardError",
    "export_card_json",
    "export_card_png",
    "parse_card",
    "parse_card_with_avatar",
]

_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"  # end of central directory: last 22 bytes plus a comment of up to 64 KiB
_BOM = b"\xef\xbb\xbf"


def parse_card(data: bytes, filename: str = "") -> Character:
    """Read a character card (PNG, JSON or .charx) into a Character; CardError if it can't be read."""
    character, _ = _parse(data, filename, want_avatar=False)
    return character


def parse_card_with_avatar(data: bytes, filename: str = "") -> tuple[Character, bytes | None]:
    """Like `parse_card`, also returning the card's picture as PNG bytes when it has one.

    For a PNG card that is the PNG itself without its card chunks; for a .charx the main icon
    (converted to PNG). An unreadable picture gives None rather than failing the import.
    """
    return _parse(data, filename, want_avatar=True)


def export_card_json(character: Character) -> bytes:
    """The character as a V3 card in UTF-8 JSON (`spec: "chara_card_v3"`)."""
    obj = card_to_object(character, spec=SPEC_V3)
    return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")


def export_card_png(character: Character, avatar_png: bytes | None = None) -> bytes:
    """The character as a PNG card: `ccv3` (V3) and `chara` (V2) tEXt chunks in the avatar.

    Any card chunks already in the avatar are replaced. Without an avatar a plain 512×512 square
    carries the card; a non-PNG avatar is converted. CardError if the avatar can't be read.
    """
    png = cards_png.as_png(avatar_png) if avatar_png else cards_png.placeholder_png()
    chunks = cards_png.without_card_chunks(cards_png.read_chunks(png))
    texts = [("chara", _b64_json(card_to_object(character, spec=SPEC_V2)))]
    texts.append(("ccv3", _b64_json(card_to_object(character, spec=SPEC_V3))))
    return cards_png.assemble(chunks, texts)


def _parse(data: bytes, filename: str, *, want_avatar: bool) -> tuple[Character, bytes | None]:
    if not data:
        raise CardError("The file is empty.")
    if len(data) > MAX_CHARX_BYTES:
        raise CardError(f"The file is {_mib(len(data))}; character cards can be at most {_mib(MAX_CHARX_BYTES)}.")
    kind = _container(data, filename)
    if kind != "charx" and len(data) > MAX_CARD_BYTES:
        raise CardError(
            f"The file is {_mib(len(data))}; PNG and JSON character cards can be at most {_mib(MAX_CARD_BYTES)}."
        )
    if kind == "png":
        return _parse_png(data, want_avatar=want_avatar)
    if kind == "charx":
        return _parse_charx(data, want_avatar=want_avatar)
    return load_card_json(data), None


def _container(data: bytes, filename: str) -> str:
    """Which container the bytes are: by content first, the file name only to explain failures.

    A .charx may carry anything in front of its zip (RisuAI writes a JPEG there), so a zip is
    also recognised by its end-of-directory record.
    """
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data.startswith(cards_png.PNG_SIGNATURE):
        return "png"
    if data.startswith(_ZIP_MAGIC) or _ZIP_END in data[-(22 + 65_535) :]:
        return "charx"
    if extension == "png":
        raise CardError("This file is not a valid PNG image.")
    if extension in ("charx", "zip"):
        raise CardError("This file is not a valid .charx (zip) archive.")
    if extension == "json" or data.removeprefix(_BOM).lstrip().startswith((b"{", b"[")):
        return "json"
    raise CardError("Unsupported file type: send a character card as PNG, JSON or .charx.")


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size % 2**20 else f"{size // 2**20} MiB"


def _parse_png(data: bytes, *, want_avatar: bool) -> tuple[Character, bytes | None]:
    chunks = cards_png.read_chunks(data)
    payloads = cards_png.card_payloads(chunks)
    if not payloads:
        raise CardError("This PNG has no character card data in it (no `ccv3` or `chara` text chunk).")
    errors: list[CardError] = []
    # V3 prefers `ccv3`; if it is damaged, the V2 `chara` written alongside it is the same card.
    for _keyword, text in payloads:
        try:
            character = load_card_json(cards_png.decode_payload(text))
        except CardError as error:
            errors.append(error)
            continue
        avatar = cards_png.avatar_from_card_png(chunks) if want_avatar else None
        return character, avatar
    raise errors[0]


def _parse_charx(data: bytes, *, want_avatar: bool) -> tuple[Character, bytes | None]:
    archive = CharxArchive(data)
    try:
        character = load_card_json(archive.card_json())
        if not want_avatar:
            return character, None
        try:
            icon = archive.main_icon(character.card_extra.get("assets"))
            return character, cards_png.as_png(icon) if icon else None
        except CardError:
            return character, None  # a broken picture should not cost the user the character
    finally:
        archive.close()


def _b64_json(obj: object) -> str:
    raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")
