"""Character avatars from an attachment or a link: size-capped, checked to be a real image.

Links are fetched by the bot itself, so `AvatarFetcher` only ever connects to public addresses:

- its resolver (`PublicResolver`) resolves the name once, refuses the answer if any address is not
  public (`is_public`: loopback, private, link-local, multicast, reserved, unspecified, IPv6
  unique-local and site-local, and the IPv4-mapped, -compatible, 6to4 and NAT64 forms of those),
  and hands aiohttp exactly the addresses it checked. aiohttp connects to those (TLS still uses
  the name for SNI and certificates), so a second, different DNS answer ("DNS rebinding") never
  gets a say. Address literals in links are checked the same way before any connection;
- redirects are followed by hand, at most `MAX_REDIRECTS`, each new link checked again (and its
  host resolved by the same resolver);
- the whole fetch has one deadline (`FETCH_SECONDS`) and reads at most `AVATAR_MAX_BYTES`, in
  chunks, so a lying Content-Length can't make the bot download more;
- every network failure gets the same words (`FETCH_FAILED`): an answer must not tell someone
  which internal addresses or ports exist.

Decoding is bounded too: images larger than `MAX_SIDE` pixels a side are refused from their
header, before Pillow decodes anything. `as_png` (check and convert) is CPU work on untrusted
bytes — Pillow walks PNG chunks in Python — so the service runs it in the worker processes.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from PIL import Image, UnidentifiedImageError

from bot.characters import cards_png
from bot.characters.cards_json import CardError
from bot.errors import UserError
from bot.judge import images as judge_images

log = logging.getLogger(__name__)

AVATAR_MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE = cards_png.MAX_AVATAR_SIDE  # pixels; 4096 × 4096 is 16.8 million pixels at most
FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
MAX_REDIRECTS = 3
JUDGE_SIDE = judge_images.MAX_SIDE
FETCH_SECONDS = 20.0  # the whole fetch, redirects included
CONNECT_SECONDS = 5.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

FETCH_FAILED = ("I couldn't fetch that image. Use a public link straight to a PNG, JPEG, GIF or WebP picture, "
                "or attach the picture instead.")
NOT_AN_IMAGE = "That isn't an image I can use as an avatar (PNG, JPEG, GIF or WebP)."

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use prefix (RFC 8215): never public
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_V4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d


def embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, translated, 6to4, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _V4_TRANSLATED or (address in _V4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """True only for a globally routable unicast address the bot may connect to."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        inner = embedded_v4(address)
        if inner is not None:
            return is_public(inner)
        if address not in _GLOBAL_UNICAST_V6 or address in _LOCAL_NAT64 or address.teredo is not None:
            return False
        if address.is_site_local:
            return False
    special = (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
               or address.is_reserved or address.is_unspecified)
    return address.is_global and not special


class Blocked(OSError):
    """The name resolved to an address the bot must not connect to."""


class PublicResolver(AbstractResolver):
    """Resolves with `inner` and returns only what passed the check, so aiohttp connects to the
    very addresses that were checked. Any non-public address in an answer refuses the whole name
    (a name that also points inside is not a public image host)."""

    def __init__(self, inner: AbstractResolver | None = None, *, also_allow: Iterable[Network] = ()) -> None:
        self.inner = inner or ThreadedResolver()
        self.also_allow = tuple(also_allow)

    def allowed(self, address: IPAddress) -> bool:
        return is_public(address) or any(address in network for network in self.also_allow)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        answers = await self.inner.resolve(host, port, family)
        if not answers:
            raise Blocked(f"{host} has no addresses")
        for answer in answers:
            address = ipaddress.ip_address(answer["host"].split("%", 1)[0])
            if not self.allowed(address):
                raise Blocked(f"{host} resolves to {address}, which is not public")
        return answers

    async def close(self) -> None:
        await self.inner.close()


def check_url(url: str) -> str:
    """The URL if it is a plausible http(s) link, else UserError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError("The avatar link must be a full http:// or https:// address of an image.")
    if len(url) > 1000:
        raise UserError("That avatar link is too long (1,000 characters at most).")
    return url


def _redirect(current: str, location: str) -> str:
    try:
        return check_url(urljoin(current, location))
    except UserError:
        raise UserError(FETCH_FAILED) from None


def _too_big() -> UserError:
    return UserError(f"That image is too large; avatars can be at most {AVATAR_MAX_BYTES // 2**20} MiB.")


class AvatarFetcher:
    """Downloads avatar links over its own connection pool, which only reaches public addresses.

    `also_allow` adds networks the fetcher may reach anyway; only tests pass it (their servers
    listen on 127.0.0.1). `resolver` replaces the system resolver, also for tests.
    """

    def __init__(self, *, also_allow: Iterable[Network] = (), resolver: AbstractResolver | None = None,
                 max_bytes: int = AVATAR_MAX_BYTES) -> None:
        self.also_allow = tuple(also_allow)
        self._inner = resolver
        self.max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = PublicResolver(self._inner, also_allow=self.also_allow)
            connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=16)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False,  # no proxy from the environment: it would resolve for us
                timeout=aiohttp.ClientTimeout(total=FETCH_SECONDS, sock_connect=CONNECT_SECONDS),
                headers={"User-Agent": "lustify.bot avatar fetcher"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str) -> bytes:
        """The bytes behind an avatar link (redirects followed and checked), or UserError."""
        current = check_url(url)
        try:
            async with asyncio.timeout(FETCH_SECONDS):
                for _ in range(MAX_REDIRECTS + 1):
                    self._check_literal(current)
                    async with self._open().get(current, allow_redirects=False) as response:
                        location = response.headers.get("Location")
                        if response.status in _REDIRECTS and location:
                            current = _redirect(current, location)
                            continue
                        if response.status != 200:
                            log.info("avatars: %s answered %d", urlsplit(current).hostname, response.status)
                            raise UserError(FETCH_FAILED)
                        if (response.content_length or 0) > self.max_bytes:
                            raise _too_big()
                        return await _read_capped(response, self.max_bytes)
                log.info("avatars: too many redirects from %s", urlsplit(url).hostname)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            # Blocked addresses, refused connections, timeouts and bad answers read alike.
            log.info("avatars: could not fetch from %s: %s", urlsplit(current).hostname, type(exc).__name__)
        raise UserError(FETCH_FAILED)

    def _check_literal(self, url: str) -> None:
        """aiohttp connects to an address written in the link without asking the resolver."""
        host = urlsplit(url).hostname or ""
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return
        if not (is_public(address) or any(address in network for network in self.also_allow)):
            raise Blocked(f"{address} is not public")


async def _read_capped(response: Any, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise _too_big()
        chunks.append(chunk)
    return b"".join(chunks)


def image_format(data: bytes) -> str:
    """The image format Pillow recognises from the header, or UserError with what is accepted.

    The size comes from the header too, so an image too big to decode safely is refused before
    anything is decoded (and Pillow's own decompression-bomb limit stays in force behind it).
    """
    try:
        with Image.open(io.BytesIO(data)) as picture:
            kind = picture.format or ""
            width, height = picture.size
            if width > MAX_SIDE or height > MAX_SIDE:
                raise UserError(f"That image is {width}×{height}; avatars can be at most "
                                f"{MAX_SIDE}×{MAX_SIDE} pixels.")
            picture.verify()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        kind = ""
    if kind not in FORMATS:
        raise UserError(NOT_AN_IMAGE)
    return kind


def as_png(data: bytes) -> bytes:
    """The avatar checked and as PNG bytes (what card export embeds the card into). Pure CPU work:
    run it in a worker process."""
    image_format(data)
    try:
        return cards_png.as_png(data)
    except CardError as exc:
        raise UserError(f"I couldn't use that image: {exc}") from None


def judge_copy(png: bytes) -> bytes:
    """A copy of a checked avatar (PNG bytes) small enough for the vision judge: its first frame,
    at most `bot.judge.images.MAX_SIDE` pixels a side. Pure CPU work: run it in a worker process,
    so the judge's own preparation on the event loop stays cheap."""
    with Image.open(io.BytesIO(png)) as picture:
        picture.seek(0)
        frame = picture.convert("RGBA")
    frame.thumbnail((JUDGE_SIDE, JUDGE_SIDE))
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


def prepared(data: bytes) -> tuple[bytes, bytes]:
    """(`as_png(data)`, its `judge_copy`), in one trip to a worker process."""
    png = as_png(data)
    return png, judge_copy(png)


async def attachment_image(attachment: Any, *, max_bytes: int = AVATAR_MAX_BYTES) -> bytes:
    """An uploaded avatar's bytes: size and type checked from the attachment before downloading."""
    if attachment.size > max_bytes:
        raise _too_big()
    content_type = (attachment.content_type or "").split(";")[0]
    if content_type and not content_type.startswith("image/"):
        raise UserError("The avatar attachment must be an image (PNG, JPEG, GIF or WebP).")
    data: bytes = await attachment.read()
    if len(data) > max_bytes:
        raise _too_big()
    return data
