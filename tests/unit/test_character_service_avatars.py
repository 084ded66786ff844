"""Avatar links and uploads: http(s) only, public addresses only (also after redirects and DNS
rebinding), size-capped, really an image, and errors that reveal nothing about the inside."""

from __future__ import annotations

import io
import ipaddress
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.characters import avatars
from bot.characters.avatars import FETCH_FAILED, AvatarFetcher, is_public
from bot.errors import UserError

LOOPBACK = [ipaddress.ip_network("127.0.0.1/32")]
PUBLIC_STAND_IN = ipaddress.ip_network("127.0.0.2/32")  # plays a public host in these tests


def png(size: int = 8, colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format="JPEG")
    return out.getvalue()


INSIDE = png(colour=(255, 0, 0))  # what an internal service would leak
OUTSIDE = png(colour=(0, 0, 255))


@dataclass
class Site:
    url: str
    port: int
    hits: list[str] = field(default_factory=list)


def app_for(site_hits: list[str], picture: bytes, redirect_to: str | None = None) -> web.Application:
    async def image(request: web.Request) -> web.Response:
        site_hits.append(request.path)
        return web.Response(body=picture, content_type="image/png")

    async def photo(request: web.Request) -> web.Response:
        site_hits.append(request.path)
        return web.Response(body=jpeg(), content_type="application/octet-stream")  # type is read from bytes

    async def text(request: web.Request) -> web.Response:
        site_hits.append(request.path)
        return web.Response(text="<html>not an image</html>", content_type="text/html")

    async def huge(request: web.Request) -> web.StreamResponse:
        site_hits.append(request.path)
        response = web.StreamResponse()  # no Content-Length: the cap must hold while reading
        await response.prepare(request)
        for _i in range(20):
            await response.write(b"\0" * 65536)
        return response

    async def hop(request: web.Request) -> web.Response:
        site_hits.append(request.path)
        raise web.HTTPFound(redirect_to or "/image.png")

    async def missing(request: web.Request) -> web.Response:
        site_hits.append(request.path)
        return web.Response(status=404)

    app = web.Application()
    for path, handler in {"/image.png": image, "/photo": photo, "/page": text, "/huge": huge, "/hop": hop,
                          "/missing": missing}.items():
        app.router.add_get(path, handler)
    return app


@pytest.fixture
async def server() -> AsyncIterator[Site]:
    site = Site("", 0)
    test_server = TestServer(app_for(site.hits, png()), host="127.0.0.1")
    await test_server.start_server()
    site.url, site.port = f"http://127.0.0.1:{test_server.port}", test_server.port
    yield site
    await test_server.close()


@pytest.fixture
async def two_sites() -> AsyncIterator[tuple[Site, Site]]:
    """An "outside" site on 127.0.0.2 and an "inside" one on 127.0.0.1, on the same port, so a
    name that resolves to either reaches a different server with the same URL."""
    inside_hits: list[str] = []
    outside_hits: list[str] = []
    for _attempt in range(20):
        outside = TestServer(app_for(outside_hits, OUTSIDE, redirect_to="http://inside.test/image.png"),
                             host="127.0.0.2")
        await outside.start_server()
        inside = TestServer(app_for(inside_hits, INSIDE), host="127.0.0.1", port=outside.port)
        try:
            await inside.start_server()
        except OSError:  # that port is taken on 127.0.0.1: try another
            await outside.close()
            continue
        break
    else:
        pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")
    port = outside.port
    yield Site(f"http://127.0.0.2:{port}", port, outside_hits), Site(f"http://127.0.0.1:{port}", port, inside_hits)
    await inside.close()
    await outside.close()


class ScriptedDNS(AbstractResolver):
    """Answers each name from a script; the last answer repeats. Counts the lookups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        script = self.answers[host]
        address = script.pop(0) if len(script) > 1 else script[0]
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


@pytest.fixture
async def fetcher() -> AsyncIterator[AvatarFetcher]:
    found = AvatarFetcher(also_allow=LOOPBACK, max_bytes=512 * 1024)
    yield found
    await found.close()


# -- which addresses are public -------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.8.8", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "255.255.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1", "192.0.2.1", "198.18.0.1",
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "::ffff:0:127.0.0.1", "2002:7f00:1::1",
    "2002:a00:1::1", "64:ff9b::127.0.0.1", "64:ff9b::10.1.2.3", "64:ff9b:1::8.8.8.8", "2001::1",
    "::ffff:224.0.0.1",
])
def test_inside_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
])
def test_public_addresses_and_their_ipv6_forms_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


# -- links --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://x/a.png", "javascript:alert(1)", "not a url", "https://"])
def test_only_http_links(url: str) -> None:
    with pytest.raises(UserError, match="http"):
        avatars.check_url(url)


async def test_fetches_images_and_follows_redirects(server: Site, fetcher: AvatarFetcher) -> None:
    assert await fetcher.fetch(f"{server.url}/image.png") == png()
    assert await fetcher.fetch(f"{server.url}/hop") == png()
    assert avatars.image_format(await fetcher.fetch(f"{server.url}/photo")) == "JPEG"


async def test_a_page_is_not_an_image_and_a_big_download_stops_at_the_cap(server: Site,
                                                                           fetcher: AvatarFetcher) -> None:
    with pytest.raises(UserError, match="isn't an image"):
        avatars.as_png(await fetcher.fetch(f"{server.url}/page"))
    with pytest.raises(UserError, match="too large"):
        await fetcher.fetch(f"{server.url}/huge")


async def test_inside_addresses_are_refused_without_connecting(server: Site) -> None:
    production = AvatarFetcher()
    try:
        for url in (f"{server.url}/image.png", f"http://localhost:{server.port}/image.png",
                    f"http://[::ffff:127.0.0.1]:{server.port}/image.png"):
            with pytest.raises(UserError) as refused:
                await production.fetch(url)
            assert refused.value.user_message == FETCH_FAILED
    finally:
        await production.close()
    assert server.hits == []


async def test_errors_read_the_same_whether_or_not_something_answers(server: Site, fetcher: AvatarFetcher) -> None:
    """An open port, a closed port, a 404 and a refused address must be indistinguishable."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    production = AvatarFetcher()
    messages = set()
    try:
        for who, url in ((fetcher, f"{server.url}/missing"), (fetcher, f"http://127.0.0.1:{closed_port}/x.png"),
                         (production, f"{server.url}/image.png"),
                         (production, f"http://127.0.0.1:{closed_port}/x.png")):
            with pytest.raises(UserError) as refused:
                await who.fetch(url)
            messages.add(refused.value.user_message)
    finally:
        await production.close()
    assert messages == {FETCH_FAILED}


async def test_dns_rebinding_connects_to_the_address_that_was_checked(two_sites: tuple[Site, Site]) -> None:
    outside, inside = two_sites
    dns = ScriptedDNS({"rebind.test": ["127.0.0.2", "127.0.0.1"]})  # public first, then the inside
    fetcher = AvatarFetcher(also_allow=[PUBLIC_STAND_IN], resolver=dns)
    try:
        assert await fetcher.fetch(f"http://rebind.test:{outside.port}/image.png") == OUTSIDE
    finally:
        await fetcher.close()
    assert dns.asked == ["rebind.test"]  # resolved once: the checked answer is the one connected to
    assert inside.hits == [] and outside.hits == ["/image.png"]


async def test_a_name_that_resolves_inside_is_refused(two_sites: tuple[Site, Site]) -> None:
    _outside, inside = two_sites
    dns = ScriptedDNS({"inside.test": ["127.0.0.1"]})
    fetcher = AvatarFetcher(also_allow=[PUBLIC_STAND_IN], resolver=dns)
    try:
        with pytest.raises(UserError) as refused:
            await fetcher.fetch(f"http://inside.test:{inside.port}/image.png")
        assert refused.value.user_message == FETCH_FAILED
    finally:
        await fetcher.close()
    assert inside.hits == []


async def test_every_redirect_is_checked_again(two_sites: tuple[Site, Site]) -> None:
    outside, inside = two_sites
    # The outside site redirects to http://inside.test/image.png; give that name the inside address.
    dns = ScriptedDNS({"outside.test": ["127.0.0.2"], "inside.test": ["127.0.0.1"]})
    fetcher = AvatarFetcher(also_allow=[PUBLIC_STAND_IN], resolver=dns)
    try:
        with pytest.raises(UserError) as refused:
            await fetcher.fetch(f"http://outside.test:{outside.port}/hop")
        assert refused.value.user_message == FETCH_FAILED
    finally:
        await fetcher.close()
    assert outside.hits == ["/hop"] and inside.hits == []


# -- images -------------------------------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header (no pixels worth decoding)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_too_many_pixels_are_refused_from_the_header() -> None:
    with pytest.raises(UserError, match="at most 4096×4096 pixels"):
        avatars.image_format(png_header_only(5_000, 5_000))
    with pytest.raises(UserError, match="isn't an image"):  # past Pillow's own decompression-bomb limit
        avatars.image_format(png_header_only(20_000, 20_000))


async def test_attachment_size_is_checked_before_downloading() -> None:
    async def read() -> bytes:
        raise AssertionError("downloaded a file that was too large")

    big = SimpleNamespace(size=avatars.AVATAR_MAX_BYTES + 1, content_type="image/png", read=read)
    with pytest.raises(UserError, match="too large"):
        await avatars.attachment_image(big)
    text = SimpleNamespace(size=10, content_type="text/plain", read=read)
    with pytest.raises(UserError, match="must be an image"):
        await avatars.attachment_image(text)


def test_as_png_converts() -> None:
    assert avatars.as_png(jpeg()).startswith(b"\x89PNG")
