"""PNG containers for character cards: `tEXt` chunks read and written by hand.

Cards hide their JSON, base64-encoded, in a `tEXt` chunk named `ccv3` (V3) or `chara` (V2/V1).
Chunks are walked with `struct` rather than through Pillow's text API so that every length is
checked against the bytes actually present: a truncated or lying chunk is an error, never a large
read. Pillow is used only for the picture itself (checking it, converting it, drawing a
placeholder). CRCs are not checked on import: a wrong CRC does not make the text unreadable, and
refusing such a card would only cost the user their character.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.characters.cards_json import CardError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("ccv3", "chara")
"""Keywords of card text chunks, in the order they are preferred (V3 says `ccv3` wins)."""
_ASSET_PREFIX = "chara-ext-asset_"
MAX_AVATAR_SIDE = 4096
"""Largest avatar width or height decoded; bigger images are refused before Pillow decodes them."""
PLACEHOLDER_SIZE = (512, 512)
_PLACEHOLDER_COLOUR = (54, 57, 63)  # Discord's dark grey, so the square looks intentional
_MAX_CHUNK_LENGTH = 2**31 - 1  # the PNG spec's limit
MAX_CHUNKS = 10_000
"""Most chunks read from one PNG: image editors write a few dozen; 650,000 empty ones took seconds."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One PNG chunk as found in the file; `raw` is its exact bytes, length and CRC included."""

    type: bytes
    data: bytes
    raw: bytes

    def text_keyword(self) -> str | None:
        """The keyword of a tEXt chunk, lower-cased; None for other chunks or a malformed tEXt."""
        if self.type != b"tEXt" or b"\0" not in self.data:
            return None
        return self.data.split(b"\0", 1)[0].decode("latin-1").lower()


def read_chunks(png: bytes) -> list[Chunk]:
    """Split a PNG into chunks up to IEND, raising CardError if it is not a complete PNG."""
    if not png.startswith(PNG_SIGNATURE):
        raise CardError("This file is not a valid PNG image.")
    chunks: list[Chunk] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise CardError(
                f"This PNG is split into more than {MAX_CHUNKS:,} pieces (chunks), far more than any image "
                "editor writes, so it was not read. Re-save the image and try again."
            )
        if pos + 8 > len(png):
            raise CardError("The PNG file is incomplete (it ends in the middle of the image data).")
        length, kind = struct.unpack_from(">I4s", png, pos)
        end = pos + 12 + length
        if length > _MAX_CHUNK_LENGTH or end > len(png):
            raise CardError("The PNG file is incomplete (a chunk is cut off).")
        if not kind.isalpha():
            raise CardError("The PNG file is damaged (an invalid chunk was found).")
        if not chunks and kind != b"IHDR":
            raise CardError("The PNG file is damaged (it does not start with an image header).")
        chunks.append(Chunk(kind, png[pos + 8 : pos + 8 + length], png[pos:end]))
        pos = end
        if kind == b"IEND":
            return chunks


def card_payloads(chunks: list[Chunk]) -> list[tuple[str, str]]:
    """The card texts present, as (keyword, text) pairs in preference order: ccv3 first, then chara."""
    found: dict[str, str] = {}
    for chunk in chunks:
        keyword = chunk.text_keyword()
        if keyword in CARD_KEYWORDS and keyword not in found:
            found[keyword] = chunk.data.split(b"\0", 1)[1].decode("latin-1")
    return [(keyword, found[keyword]) for keyword in CARD_KEYWORDS if keyword in found]


def decode_payload(text: str) -> bytes:
    """Base64-decode a card chunk's text, tolerating whitespace and missing padding."""
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CardError("The card data inside the PNG is damaged (it is not valid base64).") from None


def without_card_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """The chunks minus card texts (`ccv3`, `chara`, `chara-ext-asset_*`), whatever their case."""
    kept = []
    for chunk in chunks:
        keyword = chunk.text_keyword()
        if keyword is not None and (keyword in CARD_KEYWORDS or keyword.startswith(_ASSET_PREFIX)):
            continue
        kept.append(chunk)
    return kept


def assemble(chunks: list[Chunk], texts: Sequence[tuple[str, str]] = ()) -> bytes:
    """Write a PNG from chunks, inserting new tEXt chunks just before IEND."""
    body = [chunk.raw for chunk in chunks if chunk.type != b"IEND"]
    body += [text_chunk(keyword, text) for keyword, text in texts]
    body.append(make_chunk(b"IEND", b""))
    return PNG_SIGNATURE + b"".join(body)


def make_chunk(kind: bytes, data: bytes) -> bytes:
    """One chunk's bytes: length, type, data, CRC over type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text_chunk(keyword: str, text: str) -> bytes:
    """A tEXt chunk; both parts must be Latin-1, which base64 payloads always are."""
    return make_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def avatar_from_card_png(chunks: list[Chunk]) -> bytes | None:
    """The card's picture without its card chunks, or None if Pillow cannot read the image."""
    png = assemble(without_card_chunks(chunks))
    try:
        _verify(png)
    except CardError:
        return None
    return png


def as_png(image: bytes) -> bytes:
    """Return `image` as PNG bytes, converting other formats with Pillow; CardError if unreadable."""
    if image.startswith(PNG_SIGNATURE):
        png = assemble(read_chunks(image))  # drops anything after IEND
        _verify(png)
        return png
    try:
        with _open_checked(image) as picture:
            picture.load()
            if picture.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                picture = picture.convert("RGBA")
            out = io.BytesIO()
            picture.save(out, format="PNG")
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        raise CardError("The avatar image could not be read.") from None
    return out.getvalue()


def placeholder_png() -> bytes:
    """A plain 512×512 square, used when a character has no avatar to carry the card."""
    out = io.BytesIO()
    Image.new("RGB", PLACEHOLDER_SIZE, _PLACEHOLDER_COLOUR).save(out, format="PNG")
    return out.getvalue()


def _verify(png: bytes) -> None:
    """Check a PNG's structure with Pillow without decoding its pixels."""
    picture = _open_checked(png)
    try:
        picture.verify()
    except (OSError, SyntaxError, ValueError):
        raise CardError("The avatar image is damaged.") from None
    finally:
        picture.close()


def _open_checked(image: bytes) -> Image.Image:
    """Open an image lazily and refuse oversized ones before any pixel is decoded."""
    try:
        picture = Image.open(io.BytesIO(image))
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        raise CardError("The avatar image could not be read.") from None
    width, height = picture.size
    if width > MAX_AVATAR_SIDE or height > MAX_AVATAR_SIDE:
        picture.close()
        raise CardError(f"The avatar image is {width}×{height}; at most {MAX_AVATAR_SIDE} pixels a side.")
    return picture
