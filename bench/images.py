"""Image delivery throughput under Venice's image rate limit, and peak memory per delivered image.

    .venv/bin/python -m bench.images [--scale 20] [--requests 60]

Throughput: the real `ImageService` (queue, quota lease, records, the Venice client's retries and
the service's patience with 429s) against the local fake Venice with a sliding-window rate limit
of 20 generations per minute, Venice's default for images. Time is scaled down (`--scale 20`: a
minute lasts three seconds, a 1.9 s generation 95 ms) and reported back in real-time units, so the
"per minute" column compares directly with the limit. The bot's own work (database, decoding) is
not scaled, so it weighs `scale` times more here than in real life: a higher scale understates
throughput. Delivery is a callable that only counts bytes: Discord is not part of this measurement.

Memory: one request at a time with `tracemalloc` on, for photo-like images of realistic size
(prebuilt, so the fake server's own work is not counted). The peak counts Python allocations
(bytes, base64 text, JSON): Pillow's decoded pixels live outside Python's allocator and are not
in it. "Peak ÷ file" is that peak divided by the size of the file delivered.

Needs ../shared (the fake Venice validates requests against Venice's OpenAPI description).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import logging
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Env, Secret
from bot.images.jobs import Delivery, ImageJob
from bot.images.queue import ImageQueue
from bot.images.service import ImageService
from bot.limits import Limits
from bot.policy import ContentPolicy
from bot.settings import SettingsStore
from bot.store.engine import make_engine, make_sessionmaker
from bot.store.migrate import migrate
from bot.venice.client import VeniceClient
from tests.fakes.venice import FakeVenice

KEY = "bench-venice-key"
LIMIT_PER_MINUTE = 20
GENERATION_SECONDS = 1.9  # Venice's reported total for a lustify-sdxl image
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def photo_like(width: int, height: int, fmt: str) -> bytes:
    """An image that compresses like a photo (a gradient under grain), not like a flat test card."""
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    grain = Image.effect_noise((width, height), 24).convert("RGB")
    out = io.BytesIO()
    Image.blend(base, grain, 0.35).save(out, fmt, **({"quality": 85} if fmt == "WEBP" else {}))
    return out.getvalue()


class RateLimitedVenice:
    """Wraps the fake's generate handler with a sliding-window limit and a generation delay."""

    def __init__(self, fake: FakeVenice, inner: Handler, *, per_minute: int, scale: float) -> None:
        self.window = 60.0 / scale
        self.per_window = per_minute
        self.delay = GENERATION_SECONDS / scale
        self.served: deque[float] = deque()
        self.rejected = 0
        self.inner = inner
        fake.images.generate = self.handle  # type: ignore[method-assign]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        while self.served and self.served[0] <= now - self.window:
            self.served.popleft()
        if len(self.served) >= self.per_window:
            self.rejected += 1
            wait = self.served[0] + self.window - now
            body = {"error": "Rate limit exceeded", "code": "RATE_LIMIT_EXCEEDED"}
            return web.json_response(body, status=429, headers={"Retry-After": f"{max(wait, 0.001):.3f}"})
        self.served.append(now)
        await asyncio.sleep(self.delay)
        return await self.inner(request)


@dataclass
class Rig:
    fake: FakeVenice
    service: ImageService
    venice: VeniceClient
    cleanup: Callable[[], Awaitable[None]]


async def make_rig(fake: FakeVenice, *, queue: ImageQueue, folder: Path) -> Rig:
    await fake.start()
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await migrate(url)
    settings = Env(discord_token=None, venice_api_key=Secret(KEY), database_url=url, venice_base_url=fake.base_url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    config = SettingsStore(sessions, settings)
    await config.set("image_cooldown", 0, scope="global", scope_id=0, guild_id=None, by=0)
    venice = VeniceClient(KEY, fake.base_url)
    service = ImageService(sessions=sessions, venice=venice, settings=config, limits=Limits(sessions, config),
                           policy=ContentPolicy(sessions, venice, settings), queue=queue)

    async def cleanup() -> None:
        await venice.close()
        await engine.dispose()
        await fake.close()

    return Rig(fake, service, venice, cleanup)


def job(i: int) -> ImageJob:
    return ImageJob(kind="imagine", user_id=1000 + i, guild_id=10 + i % 3, channel_id=500 + i % 3,
                    prompt=f"a woman on a balcony at dusk, portrait {i}")


async def count_bytes(delivery: Delivery) -> int:
    return len(delivery.data) and delivery.record_id


@dataclass
class ThroughputRow:
    global_limit: int
    requests: int
    delivered: int
    failed: int
    per_minute: float
    rejected: int
    p50: float
    p95: float

    @property
    def ideal_per_minute(self) -> float:
        """The best a perfect client could do: a full window at once, then one window per 20."""
        windows = (self.requests - 1) // LIMIT_PER_MINUTE
        return self.requests / (windows * 60 + GENERATION_SECONDS) * 60


async def throughput(*, scale: float, requests: int, global_limit: int) -> ThroughputRow:
    with tempfile.TemporaryDirectory() as folder:
        fake = FakeVenice(api_key=KEY)
        # A prebuilt answer: the fake shares this process, and drawing images would be its CPU, not ours.
        limiter = RateLimitedVenice(fake, prebuilt_generate(photo_like(1024, 1024, "WEBP")),
                                    per_minute=LIMIT_PER_MINUTE, scale=scale)
        rig = await make_rig(fake, queue=ImageQueue(global_limit=global_limit, per_guild=global_limit,
                                                    per_user=1, min_update_interval=0), folder=Path(folder))
        try:
            await rig.service.plan(job(0))  # warm the catalogue cache, as a running bot has it
            latencies: list[float] = []

            async def one(i: int) -> bool:
                started = time.monotonic()
                try:
                    await rig.service.run(await rig.service.plan(job(i)), deliver=count_bytes)
                except Exception:
                    return False
                latencies.append((time.monotonic() - started) * scale)
                return True

            began = time.monotonic()
            results = await asyncio.gather(*(one(i) for i in range(requests)))
            elapsed = (time.monotonic() - began) * scale  # in real-time seconds
        finally:
            await rig.cleanup()
    delivered = sum(results)
    quantiles = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else [0.0] * 19
    return ThroughputRow(global_limit, requests, delivered, requests - delivered, delivered / elapsed * 60,
                         limiter.rejected, quantiles[9], quantiles[18])


@dataclass
class MemoryRow:
    case: str
    file_bytes: int
    peak_bytes: int


def prebuilt_generate(image: bytes) -> Handler:
    body = json.dumps({"id": "generate-image-bench", "images": [base64.b64encode(image).decode("ascii")],
                       "timing": {"total": 1893}}).encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    return handle


def prebuilt_upscale(image: bytes) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=image, content_type="image/png")

    return handle


async def memory(case: str, *, size: tuple[int, int], upscale: bool, limit: int) -> MemoryRow:
    width, height = size
    source = photo_like(width, height, "WEBP")
    upscaled = photo_like(width * 2, height * 2, "PNG") if upscale else b""
    with tempfile.TemporaryDirectory() as folder:
        fake = FakeVenice(api_key=KEY)
        fake.images.generate = prebuilt_generate(source)  # type: ignore[method-assign]
        fake.images.upscale = prebuilt_upscale(upscaled)  # type: ignore[method-assign]
        rig = await make_rig(fake, queue=ImageQueue(min_update_interval=0), folder=Path(folder))
        delivered: list[int] = []

        async def deliver(delivery: Delivery) -> int:
            delivered.append(len(delivery.data))
            return 1

        async def fetch() -> bytes:
            return source

        try:
            base = await rig.service.run(await rig.service.plan(job(0)), deliver=deliver)  # warm-up
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            if upscale:
                await rig.service.upscale(
                    record_id=base.record_id, user_id=2, guild_id=10, channel_id=500, parent_channel_id=None,
                    fetch=fetch, source_size=size, deliver=deliver, filesize_limit=limit,
                )
            else:
                await rig.service.run(await rig.service.plan(job(1)), deliver=deliver, filesize_limit=limit)
            peak = tracemalloc.get_traced_memory()[1] - before
            tracemalloc.stop()
        finally:
            await rig.cleanup()
    return MemoryRow(case, delivered[-1], peak)


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.2f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


async def main(scale: float, requests: int) -> None:
    print(f"Image throughput: fake Venice allows {LIMIT_PER_MINUTE}/min, {GENERATION_SECONDS} s per image, "
          f"{requests} concurrent requests, time scaled ×{scale:g}")
    print(f"{'queue limit':>11} | {'delivered':>9} | {'failed':>6} | {'per minute':>10} | {'of ideal':>8} | "
          f"{'429s':>5} | {'p50 wait':>8} | {'p95 wait':>8}")
    for global_limit in (1, 2, 4, 8):
        row = await throughput(scale=scale, requests=requests, global_limit=global_limit)
        print(f"{row.global_limit:>11} | {row.delivered:>9} | {row.failed:>6} | {row.per_minute:>10.1f} | "
              f"{row.per_minute / row.ideal_per_minute:>8.0%} | {row.rejected:>5} | {row.p50:>7.0f}s | "
              f"{row.p95:>7.0f}s")
    print("(the window lets a burst of 20 through at once, so the ideal over a short run is above 20/min)")
    print()
    print("Peak Python memory per delivered image (tracemalloc; Pillow's pixel buffers not included)")
    print(f"{'case':<44} | {'file':>10} | {'peak':>10} | {'peak ÷ file':>11}")
    cases = [
        ("generate 1024×1024 webp, fits", (1024, 1024), False, 10 * 1024 * 1024),
        ("generate 1024×1024 webp, re-encoded to 128 KiB", (1024, 1024), False, 128 * 1024),
        ("upscale ×2 → 2048×2048 png, fits 10 MiB", (1024, 1024), True, 10 * 1024 * 1024),
        ("upscale ×2 → 2048×2048 png, re-encoded to 1 MiB", (1024, 1024), True, 1024 * 1024),
    ]
    for case, size, upscale, limit in cases:
        row = await memory(case, size=size, upscale=upscale, limit=limit)
        print(f"{row.case:<44} | {mib(row.file_bytes):>10} | {mib(row.peak_bytes):>10} | "
              f"{row.peak_bytes / row.file_bytes:>10.1f}×")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)  # the client logs every 429 it waits out
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=20.0, help="how many times faster than real time")
    parser.add_argument("--requests", type=int, default=60, help="concurrent requests per throughput run")
    args = parser.parse_args()
    asyncio.run(main(args.scale, args.requests))
