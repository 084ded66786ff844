"""Avatar links and uploads: http(s) only, public hosts only, size-capped, really an image."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.characters import avatars
from bot.errors import UserError


def png(size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (10, 200, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def image(_: web.Request) -> web.Response:
        return web.Response(body=png(), content_type="image/png")

    async def photo(_: web.Request) -> web.Response:
        return web.Response(body=jpeg(), content_type="application/octet-stream")  # type is read from bytes

    async def text(_: web.Request) -> web.Response:
        return web.Response(text="<html>not an image</html>", content_type="text/html")

    async def huge(_: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # no Content-Length: the cap must hold while reading
        await response.prepare(_)
        for _i in range(20):
            await response.write(b"\0" * 65536)
        return response

    async def hop(_: web.Request) -> web.Response:
        raise web.HTTPFound("/image.png")

    async def missing(_: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    for path, handler in {"/image.png": image, "/photo": photo, "/page": text, "/huge": huge, "/hop": hop,
                          "/missing": missing}.items():
        app.router.add_get(path, handler)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield f"http://127.0.0.1:{test_server.port}"
    await test_server.close()


@pytest.mark.parametrize("url", ["ftp://x/a.png", "javascript:alert(1)", "not a url", "https://"])
def test_only_http_links(url: str) -> None:
    with pytest.raises(UserError, match="http"):
        avatars.check_url(url)


async def test_fetches_images_and_follows_redirects(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        assert await avatars.fetch_image(session, f"{server}/image.png", allow_private=True) == png()
        assert await avatars.fetch_image(session, f"{server}/hop", allow_private=True) == png()
        assert avatars.image_format(await avatars.fetch_image(session, f"{server}/photo", allow_private=True)) == "JPEG"


@pytest.mark.parametrize(("path", "wording"), [
    ("/page", "isn't an image"), ("/huge", "too large"), ("/missing", "answered 404"),
])
async def test_refuses_what_is_not_a_usable_image(server: str, path: str, wording: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(UserError, match=wording):
            await avatars.fetch_image(session, f"{server}{path}", allow_private=True, max_bytes=512 * 1024)


async def test_private_addresses_are_refused_in_production(server: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(UserError, match="private address"):
            await avatars.fetch_image(session, f"{server}/image.png")


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
