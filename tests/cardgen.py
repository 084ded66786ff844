"""Build character cards for tests, straight from the specs and independent of the parser.

- V2: https://github.com/malfoyslastname/character-card-spec-v2/blob/main/spec_v2.md
- V3: https://github.com/kwaroran/character-card-spec-v3/blob/main/SPEC_V3.md

Everything here is written by hand with `struct`, `zlib`, `base64` and `zipfile` (no Pillow, no
code from `bot.characters`), so a bug in the parser cannot hide behind the same bug in the fixture.
The low-level pieces (`chunk`, `png_from_chunks`) are public so tests can build broken files too.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

V1_DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "personality": "",
    "scenario": "",
    "first_mes": "",
    "mes_example": "",
}
# Fields every V2 `data` object has (spec_v2.md, "New fields").
V2_DEFAULTS: dict[str, Any] = {
    **V1_DEFAULTS,
    "creator_notes": "",
    "system_prompt": "",
    "post_history_instructions": "",
    "alternate_greetings": [],
    "tags": [],
    "creator": "",
    "character_version": "",
    "extensions": {},
}
# V3 adds group_only_greetings as required (SPEC_V3.md, CharacterCardV3).
V3_DEFAULTS: dict[str, Any] = {**V2_DEFAULTS, "group_only_greetings": []}


def lore_entry(keys: list[str], content: str, **fields: Any) -> dict[str, Any]:
    """A character_book entry with the required fields (keys, content, extensions, enabled, order)."""
    return {"keys": keys, "content": content, "extensions": {}, "enabled": True, "insertion_order": 100, **fields}


def character_book(entries: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A character_book object: `extensions` and `entries` are required, the rest optional."""
    return {"extensions": {}, "entries": entries, **fields}


def v1_card(**fields: Any) -> dict[str, Any]:
    """A bare V1 card: the six fields at the top level."""
    return {**V1_DEFAULTS, **fields}


def v2_card(*, top: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    """A V2 card (`spec: chara_card_v2`); `top` adds top-level keys next to spec/data."""
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {**V2_DEFAULTS, **data}, **(top or {})}


def v3_card(*, top: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    """A V3 card (`spec: chara_card_v3`, `spec_version: 3.0`)."""
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": {**V3_DEFAULTS, **data}, **(top or {})}


def card_json(card: dict[str, Any]) -> bytes:
    """The card as a UTF-8 JSON file."""
    return json.dumps(card, ensure_ascii=False).encode("utf-8")


def b64(card: dict[str, Any]) -> str:
    """A card as chunk text: UTF-8 JSON, then base64 (both specs)."""
    return base64.b64encode(card_json(card)).decode("ascii")


def chunk(kind: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    """One PNG chunk: big-endian length, type, data, CRC-32 of type+data (overridable to break it)."""
    value = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", value)


def text_chunk(keyword: str, text: str) -> bytes:
    """A tEXt chunk: Latin-1 keyword, NUL, Latin-1 text."""
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def image_chunks(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 90)) -> list[bytes]:
    """IHDR and IDAT of a solid 8-bit RGB image (filter type 0 on each row)."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    row = b"\x00" + bytes(rgb) * width
    return [ihdr, chunk(b"IDAT", zlib.compress(row * height))]


def png_from_chunks(chunks: list[bytes], *, iend: bool = True) -> bytes:
    """Signature + chunks (+ IEND)."""
    return PNG_SIGNATURE + b"".join(chunks) + (chunk(b"IEND", b"") if iend else b"")


def card_png(texts: dict[str, str], *, width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG carrying the given tEXt chunks (keyword -> text), after the image data."""
    return png_from_chunks([*image_chunks(width, height), *(text_chunk(k, v) for k, v in texts.items())])


def v2_png(card: dict[str, Any]) -> bytes:
    """A V2 PNG card: one `chara` chunk."""
    return card_png({"chara": b64(card)})


def v3_png(card: dict[str, Any], *, v2_backfill: dict[str, Any] | None = None) -> bytes:
    """A V3 PNG card: `ccv3`, plus an optional V2 `chara` backfill as the V3 spec allows."""
    texts = {"ccv3": b64(card)}
    if v2_backfill is not None:
        texts["chara"] = b64(v2_backfill)
    return card_png(texts)


def charx(card: dict[str, Any] | None, assets: dict[str, bytes] | None = None) -> bytes:
    """A .charx zip: `card.json` at the root (unless None) plus files at their paths (deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if card is not None:
            zf.writestr("card.json", card_json(card))
        for path, blob in (assets or {}).items():
            zf.writestr(path, blob)
    return out.getvalue()


def raw_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A zip with exactly these member names, even unsafe ones ("../x", "/etc/x"), stored as given."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, blob)
    return out.getvalue()


def png_text_chunks(png: bytes) -> dict[str, str]:
    """All tEXt chunks of a PNG (keyword -> text), read independently of the parser under test."""
    assert png.startswith(PNG_SIGNATURE)
    pos, found = len(PNG_SIGNATURE), {}
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        data = png[pos + 8 : pos + 8 + length]
        crc = struct.unpack_from(">I", png, pos + 8 + length)[0]
        assert crc == zlib.crc32(kind + data), f"bad CRC in {kind!r}"
        if kind == b"tEXt":
            keyword, text = data.split(b"\0", 1)
            assert keyword.decode("latin-1") not in found, f"duplicate {keyword!r} chunk"
            found[keyword.decode("latin-1")] = text.decode("latin-1")
        pos += 12 + length
        if kind == b"IEND":
            break
    return found


def decode_b64_json(text: str) -> Any:
    """Inverse of `b64`."""
    return json.loads(base64.b64decode(text).decode("utf-8"))
