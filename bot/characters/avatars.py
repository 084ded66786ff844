"""Character avatars from an attachment or a link: size-capped, checked to be a real image.

Links are fetched by the bot itself, so they are limited to public http(s) addresses (no
loopback, private or link-local hosts, also after redirects) and to `AVATAR_MAX_BYTES`, read in
chunks so a lying Content-Length can't make the bot download more. Pillow then has to recognise
the bytes as PNG, JPEG, GIF or WebP; anything else is refused with a message saying what works.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from PIL import Image, UnidentifiedImageError

from bot.characters import cards_png
from bot.characters.cards_json import CardError
from bot.errors import UserError

AVATAR_MAX_BYTES = 8 * 1024 * 1024
FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
MAX_REDIRECTS = 3
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=5)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def check_url(url: str) -> str:
    """The URL if it is a plausible http(s) link, else UserError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError("The avatar link must be a full http:// or https:// address of an image.")
    if len(url) > 1000:
        raise UserError("That avatar link is too long (1,000 characters at most).")
    return url


async def _check_public(host: str, port: int) -> None:
    """Refuse hosts that resolve to addresses inside the bot's own network."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UserError("I couldn't find the server in that avatar link.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UserError("That avatar link points to a private address; use a public image link.")


def image_format(data: bytes) -> str:
    """The image format Pillow recognises, or UserError with what is accepted."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            kind = picture.format or ""
            picture.verify()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        kind = ""
    if kind not in FORMATS:
        raise UserError("That isn't an image I can use as an avatar (PNG, JPEG, GIF or WebP).")
    return kind


def as_png(data: bytes) -> bytes:
    """The avatar as PNG bytes (what card export embeds the card into)."""
    image_format(data)
    try:
        return cards_png.as_png(data)
    except CardError as exc:
        raise UserError(f"I couldn't use that image: {exc}") from None


def _too_big() -> UserError:
    return UserError(f"That image is too large; avatars can be at most {AVATAR_MAX_BYTES // 2**20} MiB.")


async def fetch_image(
    session: aiohttp.ClientSession, url: str, *, allow_private: bool = False, max_bytes: int = AVATAR_MAX_BYTES
) -> bytes:
    """Download an avatar link (following up to three redirects), checked and size-capped."""
    current = check_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if not allow_private:
            await _check_public(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        try:
            async with session.get(current, allow_redirects=False, timeout=FETCH_TIMEOUT) as response:
                if response.status in _REDIRECTS and response.headers.get("Location"):
                    current = check_url(urljoin(current, response.headers["Location"]))
                    continue
                if response.status != 200:
                    raise UserError(f"I couldn't download that image (the site answered {response.status}).")
                if (response.content_length or 0) > max_bytes:
                    raise _too_big()
                data = await _read_capped(response, max_bytes)
        except (aiohttp.ClientError, TimeoutError):
            raise UserError("I couldn't download that image; check the link and try again.") from None
        image_format(data)
        return data
    raise UserError("That avatar link redirects too many times.")


async def _read_capped(response: Any, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise _too_big()
        chunks.append(chunk)
    return b"".join(chunks)


async def attachment_image(attachment: Any, *, max_bytes: int = AVATAR_MAX_BYTES) -> bytes:
    """An uploaded avatar: size checked from the attachment before downloading it."""
    if attachment.size > max_bytes:
        raise _too_big()
    content_type = (attachment.content_type or "").split(";")[0]
    if content_type and not content_type.startswith("image/"):
        raise UserError("The avatar attachment must be an image (PNG, JPEG, GIF or WebP).")
    data: bytes = await attachment.read()
    image_format(data)
    return data


def session_of(bot: Any) -> aiohttp.ClientSession | None:
    """discord.py's own aiohttp session, reused for avatar downloads (it is private in 2.7)."""
    session = getattr(getattr(bot, "http", None), "_HTTPClient__session", None)
    if isinstance(session, aiohttp.ClientSession) and not session.closed:
        return session
    return None
