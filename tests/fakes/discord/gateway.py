"""The fake gateway: a websocket at ``/gateway`` that speaks enough of Discord's protocol for discord.py.

HELLO on connect; IDENTIFY gets READY (guilds unavailable) and then one GUILD_CREATE per guild of
that shard; heartbeats get ACKs; RESUME replays what a session missed; REQUEST_GUILD_MEMBERS gets
one chunk. Events are queued per connection and written in order by one writer task, so a
``fake.add_channel(...)`` followed by ``await fake.slash(...)`` reaches the bot in that order.

discord.py asks for ``compress=zlib-stream`` (zstd only when the ``zstandard`` package is
installed): frames are then zlib-compressed with one compressor per connection and flushed with
``Z_SYNC_FLUSH``, like Discord. Any other value gets plain text frames, which discord.py also reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from tests import payloads as p

if TYPE_CHECKING:
    from .server import FakeDiscord

INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15


class Connection:
    """One websocket; frames go through a queue so they are written in the order they were made."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self.compressor = zlib.compressobj() if compress else None
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.session: Session | None = None
        self.writer = asyncio.create_task(self._write(), name="fake-discord-gateway-writer")

    def send(self, frame: dict[str, Any]) -> None:
        self.queue.put_nowait(frame)

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                if frame is None:
                    return
                text = json.dumps(frame)
                if self.compressor is None:
                    await self.ws.send_str(text)
                else:
                    data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                pass  # the client went away; frames stay in the session history for a RESUME
            finally:
                self.queue.task_done()

    async def close(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await self.ws.close(code=code)
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer


@dataclass
class Session:
    """A gateway session (what IDENTIFY creates and RESUME continues)."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None
    ready: bool = False

    def dispatch(self, event: str, data: Any) -> None:
        self.seq += 1
        frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.history.append(frame)
        if self.connection is not None:
            self.connection.send(frame)

    def wants(self, guild_id: str | None) -> bool:
        """Whether an event of this guild (or of no guild: shard 0) belongs to this shard."""
        if guild_id is None:
            return self.shard_id == 0
        return (int(guild_id) >> 22) % self.shard_count == self.shard_id


class Gateway:
    """All gateway connections and sessions of one fake Discord."""

    def __init__(self, fake: FakeDiscord, *, shard_count: int = 1, heartbeat_interval_ms: int = 41250) -> None:
        self.fake = fake
        self.shard_count = shard_count
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identifies: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.connect_queries: list[dict[str, str]] = []
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def ready_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.ready and s.connection is not None]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The ``/gateway`` websocket endpoint."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connect_queries.append(dict(request.query))
        if request.query.get("encoding", "json") != "json" or request.query.get("v", "10") != "10":
            self.fake.violation(f"gateway: unsupported query {dict(request.query)} (want v=10&encoding=json)")
            await ws.close(code=4012)
            return ws
        conn = Connection(ws, compress=request.query.get("compress") == "zlib-stream")
        self.connections.add(conn)
        conn.send({"op": 10, "s": None, "t": None,
                   "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-discord"]}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    self.fake.violation("gateway: client sent a binary frame")
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if ws.close_code in (1000, 1001):
                    # A clean close by the client ends the session, as on Discord (no RESUME after it).
                    self.sessions.pop(session.id, None)
            await conn.close()
            self.fake.notify()
        return ws

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            conn.send({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            self._resume(conn, data)
        elif op in (3, 4, 8):
            self.received.append(frame)
            if op == 8:
                self._request_members(conn, data)
        else:
            self.fake.violation(f"gateway: unknown opcode {op}")
            await conn.ws.close(code=4001)

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if self.fake.token is not None and data.get("token") != self.fake.token:
            await conn.ws.close(code=4004)  # Authentication failed
            return
        shard_id, shard_count = data.get("shard") or [0, 1]
        if shard_count != self.shard_count:
            await conn.ws.close(code=4010)  # Invalid shard
            return
        session = Session(id=f"fake-session-{p.new_id()}", shard_id=shard_id, shard_count=shard_count,
                          intents=int(data.get("intents", 0)), connection=conn)
        conn.session = session
        self.sessions[session.id] = session
        guilds = [g for g in self.fake.world.guilds if session.wants(g)]
        session.dispatch("READY", {
            "v": 10, "user": self.fake.world.bot, "guilds": [{"id": g, "unavailable": True} for g in guilds],
            "session_id": session.id, "session_type": "normal", "resume_gateway_url": self.fake.gateway_url,
            "shard": [shard_id, shard_count], "private_channels": [], "relationships": [], "presences": [],
            "guild_join_requests": [], "geo_ordered_rtc_regions": [], "user_settings": {},
            "application": {"id": p.APP_ID, "flags": self.fake.world.application["flags"]},
            "_trace": ["fake-discord"],
        })
        all_members = bool(session.intents & INTENT_GUILD_PRESENCES)
        for guild_id in guilds:
            session.dispatch("GUILD_CREATE", self.fake.world.guild_create(guild_id, all_members=all_members))
        session.ready = True
        self.fake.notify()

    def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None:
            conn.send({"op": 9, "s": None, "t": None, "d": False})  # not resumable: identify again
            return
        old = session.connection
        session.connection = conn
        conn.session = session
        if old is not None and old is not conn:
            old.session = None
            task = asyncio.create_task(old.close(code=4000))
            self._closing.add(task)  # keep a reference until the old socket is closed
            task.add_done_callback(self._closing.discard)
        missed = int(data.get("seq") or 0)
        for frame in session.history:
            if frame["s"] > missed:
                conn.send(frame)
        session.dispatch("RESUMED", {"_trace": ["fake-discord"]})
        self.fake.notify()

    def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        guild_ids = data.get("guild_id")
        for guild_id in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            members = list(self.fake.world.members.get(str(guild_id), {}).values())
            chunk = {"guild_id": str(guild_id), "members": members, "chunk_index": 0, "chunk_count": 1,
                     "not_found": [], "nonce": data.get("nonce")}
            conn.session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------ pushing events

    def dispatch(self, event: str, data: dict[str, Any], guild_id: str | None = None) -> int:
        """Queue an event for every ready session of the right shard; returns how many got it."""
        guild_id = guild_id or data.get("guild_id")
        sent = 0
        for session in list(self.sessions.values()):
            if not session.ready or not session.wants(guild_id):
                continue
            shaped = self._for_intents(session, event, data, guild_id)
            if shaped is not None:
                session.dispatch(event, shaped)
                sent += 1
        return sent

    def _for_intents(self, session: Session, event: str, data: dict[str, Any],
                     guild_id: str | None) -> dict[str, Any] | None:
        # Discord filters message events by intent and blanks content without MESSAGE_CONTENT,
        # except in DMs, messages that mention the bot, replies to it and the bot's own messages.
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            return data
        needed = INTENT_GUILD_MESSAGES if guild_id else INTENT_DIRECT_MESSAGES
        if not session.intents & needed:
            return None
        if guild_id is None or session.intents & INTENT_MESSAGE_CONTENT:
            return data
        author = data.get("author", {}).get("id")
        mentioned = any(u.get("id") == p.BOT_ID for u in data.get("mentions", []))
        replied = (data.get("referenced_message") or {}).get("author", {}).get("id") == p.BOT_ID
        if author == p.BOT_ID or mentioned or replied:
            return data
        return data | {"content": "", "embeds": [], "attachments": [], "components": []}

    async def flush(self) -> None:
        """Wait until every queued frame has been written to its websocket."""
        await asyncio.gather(*(c.queue.join() for c in list(self.connections)))

    async def reconnect(self) -> None:
        """Send RECONNECT (op 7) to every client: discord.py reconnects and RESUMEs."""
        for conn in list(self.connections):
            conn.send({"op": 7, "s": None, "t": None, "d": None})
        await self.flush()

    async def drop(self, code: int = 4000) -> None:
        """Close every websocket as a network failure would (the sessions stay resumable)."""
        for conn in list(self.connections):
            await conn.ws.close(code=code)

    async def close(self) -> None:
        for conn in list(self.connections):
            await conn.close()
