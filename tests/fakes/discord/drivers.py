"""High-level drivers: act as a Discord user (slash command, button, modal, message) via the gateway.

Each driver builds a correct payload with ``tests.payloads`` from the fake's world (channel
object, guild member, context, permissions, synced command ids and option types), registers the
interaction so its token works, and dispatches it to the connected bot. The ``*_payload`` twins
only build, for in-process tests that feed the bot directly (``tests.harness.invoke``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tests import payloads as p
from tests.places import PlaceSetup

from .common import Recorded
from .state import InteractionRecord, World

if TYPE_CHECKING:
    from .gateway import Gateway

Predicate = Callable[[dict[str, Any]], bool]


class InteractionHandle:
    """One interaction sent to the bot; waits for and exposes what the bot answered."""

    def __init__(self, fake: Drivers, payload: dict[str, Any]) -> None:
        self.fake = fake
        self.payload = payload

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def record(self) -> InteractionRecord:
        return self.fake.world.interactions[self.token]

    @property
    def requests(self) -> list[Recorded]:
        """Every request the bot made with this interaction's token."""
        return [r for r in self.fake.requests if f"/{self.token}" in r.path]

    async def response(self, timeout: float = 5.0) -> Recorded:  # noqa: ASYNC109
        """The interaction callback (``.json["type"]``: 4 message, 5 defer, 6/7 update, 8 choices, 9 modal)."""
        path = rf"/interactions/{self.id}/{re.escape(self.token)}/callback"
        return (await self.fake.wait_for("POST", path, timeout=timeout))[0]

    async def followups(self, count: int = 1, timeout: float = 5.0) -> list[Recorded]:  # noqa: ASYNC109
        """The first ``count`` follow-up messages (``POST /webhooks/{app}/{token}``)."""
        path = rf"/webhooks/{p.APP_ID}/{re.escape(self.token)}"
        return (await self.fake.wait_for("POST", path, count=count, timeout=timeout))[:count]

    async def edits(self, count: int = 1, timeout: float = 5.0) -> list[Recorded]:  # noqa: ASYNC109
        """The first ``count`` edits of the original response."""
        path = rf"/webhooks/{p.APP_ID}/{re.escape(self.token)}/messages/@original"
        return (await self.fake.wait_for("PATCH", path, count=count, timeout=timeout))[:count]

    async def choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Autocomplete: the choices the bot offered."""
        return (await self.response(timeout)).json["data"]["choices"]

    @property
    def original(self) -> dict[str, Any] | None:
        """The original response message as it is now (after edits), if there is one."""
        msg_id = self.record.original_id
        return self.fake.world.messages.get(msg_id) if msg_id else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Original response and follow-ups, current state, oldest first."""
        ids = [self.record.original_id, *self.record.followup_ids]
        return [self.fake.world.messages[i] for i in ids if i and i in self.fake.world.messages]

    async def wait_message(self, predicate: Predicate | None = None, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until one of this interaction's messages satisfies ``predicate`` (any message if None)."""
        check = predicate or (lambda _m: True)
        await self.fake.wait_until(lambda: any(check(m) for m in self.messages), timeout,
                                   what=f"a message of interaction {self.id}")
        return next(m for m in self.messages if check(m))


class Drivers:
    """Mixin for :class:`FakeDiscord`: build and dispatch user actions."""

    world: World
    gateway: Gateway
    requests: list[Recorded]

    async def wait_for(self, method: str, path_regex: str, count: int = 1,
                       timeout: float = 5.0) -> list[Recorded]:  # noqa: ASYNC109
        raise NotImplementedError  # provided by FakeDiscord

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:  # noqa: ASYNC109
        raise NotImplementedError  # provided by FakeDiscord

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: str | None = None) -> int:
        raise NotImplementedError  # provided by FakeDiscord

    def add_place(self, place: Any) -> PlaceSetup:
        raise NotImplementedError  # provided by WorldBuilders

    # ------------------------------------------------------------ where and who

    def _where(self, user: Any, channel: Any) -> dict[str, Any]:
        """Interaction keyword arguments for ``user`` acting in ``channel`` (dict, id or PlaceSetup)."""
        if isinstance(channel, PlaceSetup):
            if channel.guild:
                known = channel.guild_id in self.world.guilds
            else:
                known = channel.channel_id in self.world.channels
            if not known:
                self.add_place(channel)
            kwargs = channel.interaction_kwargs()
            if user is not None:
                kwargs["user"] = self.world.user(user)
            world_channel = self.world.channels.get(channel.channel_id or "")
            kwargs["app_permissions"] = str(self.world.bot_permissions(world_channel))
            return kwargs
        invoker = self.world.user(user)
        ch = self.world.channels[str(channel["id"] if isinstance(channel, Mapping) else channel)]
        kwargs = {"user": invoker, "channel": copy.deepcopy(ch),
                  "app_permissions": str(self.world.bot_permissions(ch))}
        if ch["type"] in (1, 3):
            kwargs["context"] = 1 if self.world.private_kind.get(ch["id"]) == "bot_dm" else 2
        else:
            kwargs["guild_id"] = ch["guild_id"]
            kwargs["context"] = 0
            members = self.world.members[ch["guild_id"]]
            if invoker["id"] not in members:
                members[invoker["id"]] = p.member(invoker)
            kwargs["roles"] = members[invoker["id"]]["roles"]
        return kwargs

    def _register(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.world.interactions[payload["token"]] = InteractionRecord(payload)
        if "message" in payload:
            self.world.messages.setdefault(payload["message"]["id"], payload["message"])
        return payload

    # ------------------------------------------------------------ options

    def _options(self, name: str, options: Any, subcommand: str | None, group: str | None,
                 where: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        """Leaf options, ``resolved`` data, and command fields (id, guild_id) from the synced command."""
        cmd = self.world.find_command(name, where.get("guild_id"))
        defs = (cmd or {}).get("options") or []
        for level in (group, subcommand):
            if level is not None:
                defs = next((o.get("options") or [] for o in defs if o["name"] == level), [])
        types = {o["name"]: o["type"] for o in defs}
        resolved: dict[str, Any] = {}
        leaf = []
        if options is not None and not isinstance(options, Mapping):
            leaf = list(options)
        for key, value in (options or {}).items() if isinstance(options, Mapping) else ():
            kind = types.get(key) or _infer_type(value)
            leaf.append(p.option(key, self._resolve(kind, value, resolved, where), type=kind))
        fields = {"command_id": cmd["id"]} if cmd else {}
        if cmd and cmd.get("guild_id"):
            fields["command_guild_id"] = cmd["guild_id"]
        return leaf, resolved, fields

    def _resolve(self, kind: int, value: Any, resolved: dict[str, Any], where: dict[str, Any]) -> Any:
        channel_id = (where.get("channel") or {}).get("id", "0")
        if kind == 11:  # attachment: (filename, bytes) or bytes; the bytes are served by the fake
            filename, data = value if isinstance(value, tuple) else ("upload.bin", value)
            att = self.world.add_attachment(channel_id, filename, data)
            resolved.setdefault("attachments", {})[att["id"]] = att
            return att["id"]
        if kind == 6:  # user (and member, in a guild)
            u = self.world.user(value)
            resolved.setdefault("users", {})[u["id"]] = u
            if where.get("guild_id"):
                member = self.world.members[where["guild_id"]].get(u["id"]) or p.member(u)
                data = {k: v for k, v in member.items() if k != "user"} | {"permissions": p.MEMBER_PERMISSIONS}
                resolved.setdefault("members", {})[u["id"]] = data
            return u["id"]
        if kind == 7:  # channel
            ch = self.world.channels[str(value["id"] if isinstance(value, Mapping) else value)]
            partial = {k: ch.get(k) for k in ("id", "name", "type", "parent_id", "nsfw", "guild_id")}
            resolved.setdefault("channels", {})[ch["id"]] = partial | {"permissions": p.MEMBER_PERMISSIONS}
            return ch["id"]
        return value

    # ------------------------------------------------------------ payload builders

    def slash_payload(self, user: Any, channel: Any, name: str, options: Any = None, *,
                      subcommand: str | None = None, group: str | None = None,
                      locale: str = "en-US") -> dict[str, Any]:
        """A registered slash-command payload; ``name`` may be ``"group sub"`` or ``"cmd sub"``."""
        name, group, subcommand = _split_name(name, group, subcommand)
        where = self._where(user, channel)
        leaf, resolved, fields = self._options(name, options, subcommand, group, where)
        payload = p.slash_interaction(name=name, options=leaf, subcommand=subcommand, group=group,
                                      resolved=resolved or None, locale=locale, **fields, **where)
        return self._register(payload)

    def autocomplete_payload(self, user: Any, channel: Any, name: str, focused: str, value: str = "", *,
                             options: Mapping[str, Any] | None = None, subcommand: str | None = None,
                             group: str | None = None) -> dict[str, Any]:
        """A registered autocomplete payload: the user typed ``value`` into option ``focused``."""
        name, group, subcommand = _split_name(name, group, subcommand)
        where = self._where(user, channel)
        leaf, _, fields = self._options(name, options, subcommand, group, where)
        payload = p.autocomplete_interaction(name=name, focused=focused, value=value, options=leaf,
                                             subcommand=subcommand, group=group,
                                             command_id=fields.get("command_id"), **where)
        return self._register(payload)

    def click_payload(self, user: Any, channel: Any, message_id: Any, custom_id: str, *,
                      component_type: int = 2, values: list[str] | None = None) -> dict[str, Any]:
        """A registered component payload for a button (or select, with ``values``) on a stored message."""
        where = self._where(user, channel)
        msg = copy.deepcopy(self.world.messages[str(message_id)])
        payload = p.component_interaction(custom_id, message=msg, component_type=component_type,
                                          values=values, **where)
        return self._register(payload)

    def modal_payload(self, user: Any, channel: Any, custom_id: str, values: Mapping[str, str], *,
                      message_id: Any = None) -> dict[str, Any]:
        """A registered modal submit; mirrors the layout (labels or rows) of the modal the bot sent."""
        where = self._where(user, channel)
        message = copy.deepcopy(self.world.messages[str(message_id)]) if message_id else None
        components = _submitted_components(self._sent_modal(custom_id), values)
        payload = p.modal_interaction(custom_id, values=values, components=components, message=message, **where)
        return self._register(payload)

    def _sent_modal(self, custom_id: str) -> dict[str, Any] | None:
        for rec in reversed(list(self.world.interactions.values())):
            data = (rec.response or {}).get("data") or {}
            if rec.response_type == 9 and data.get("custom_id") == custom_id:
                return data
        return None

    # ------------------------------------------------------------ drivers (through the gateway)

    async def _deliver(self, payload: dict[str, Any]) -> InteractionHandle:
        if not await self.dispatch("INTERACTION_CREATE", payload, guild_id=payload.get("guild_id")):
            raise RuntimeError("no bot is connected to the fake gateway (in-process: use tests.harness.invoke)")
        return InteractionHandle(self, payload)

    def handle(self, payload: dict[str, Any]) -> InteractionHandle:
        """A handle for a payload delivered some other way (``tests.harness.invoke``)."""
        if payload["token"] not in self.world.interactions:
            self._register(payload)
        return InteractionHandle(self, payload)

    async def slash(self, user: Any, channel: Any, name: str, options: Any = None, **kwargs: Any
                    ) -> InteractionHandle:
        """Run a slash command as ``user`` in ``channel``; see :meth:`slash_payload`."""
        return await self._deliver(self.slash_payload(user, channel, name, options, **kwargs))

    async def autocomplete(self, user: Any, channel: Any, name: str, focused: str, value: str = "",
                           **kwargs: Any) -> InteractionHandle:
        """Type into an autocompleted option; ``await handle.choices()`` gives the answer."""
        return await self._deliver(self.autocomplete_payload(user, channel, name, focused, value, **kwargs))

    async def click(self, user: Any, channel: Any, message_id: Any, custom_id: str,
                    **kwargs: Any) -> InteractionHandle:
        """Press a button (or pick from a select with ``component_type=3, values=[...]``)."""
        return await self._deliver(self.click_payload(user, channel, message_id, custom_id, **kwargs))

    async def submit_modal(self, user: Any, channel: Any, custom_id: str, values: Mapping[str, str],
                           **kwargs: Any) -> InteractionHandle:
        """Submit the modal ``custom_id`` with text input ``values`` by their custom ids."""
        return await self._deliver(self.modal_payload(user, channel, custom_id, values, **kwargs))

    async def send_message(self, user: Any, channel: Any, content: str = "", *, mentions_bot: bool = False,
                           reply_to: Any = None, attachments: list[tuple[str, bytes]] | None = None,
                           voice: tuple[float, str] | None = None) -> dict[str, Any]:
        """Post a message as ``user`` (MESSAGE_CREATE); ``reply_to`` is a message or its id.

        ``voice`` (duration in seconds, base64 waveform) makes it a voice message, as Discord's
        clients send one: flag IS_VOICE_MESSAGE and those two fields on its one audio attachment.
        """
        u = self.world.user(user)
        if isinstance(channel, PlaceSetup):
            self._where(u, channel)
            channel = channel.channel_id
        ch = self.world.channels[str(channel["id"] if isinstance(channel, Mapping) else channel)]
        guild_id = ch.get("guild_id") if ch["type"] not in (1, 3) else None
        reply = None
        if reply_to is not None:
            reply = self.world.messages[str(reply_to["id"] if isinstance(reply_to, Mapping) else reply_to)]
        files = [self.world.add_attachment(ch["id"], name, data) for name, data in attachments or []]
        flags = 0
        if voice is not None:
            files[0].update(duration_secs=voice[0], waveform=voice[1])
            flags = 1 << 13
        msg = p.message_create(channel_id=ch["id"], author=u, content=content, guild_id=guild_id,
                               mentions_bot=mentions_bot, reply_to=copy.deepcopy(reply), attachments=files,
                               flags=flags)
        self.world.messages[msg["id"]] = msg
        ch["last_message_id"] = msg["id"]
        if not await self.dispatch("MESSAGE_CREATE", copy.deepcopy(msg), guild_id=guild_id):
            raise RuntimeError("no bot is connected to the fake gateway (in-process: use tests.harness)")
        return msg


def _split_name(name: str, group: str | None, subcommand: str | None) -> tuple[str, str | None, str | None]:
    parts = name.split()
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], group, parts[1]
    return name, group, subcommand


def _infer_type(value: Any) -> int:
    if isinstance(value, bytes | tuple):
        return 11
    return p.option("x", value)["type"]


def _submitted_components(sent: dict[str, Any] | None, values: Mapping[str, str]) -> list[dict[str, Any]] | None:
    # discord.py 2.7 modals may wrap inputs in labels (type 18) or action rows (type 1); a submit
    # mirrors the sent layout, leaving out the non-input parts.
    if sent is None:
        return None
    out = []
    for comp in sent.get("components", []):
        if comp["type"] == 18 and comp["component"].get("custom_id") in values:
            inner = comp["component"]
            out.append({"type": 18, "id": comp.get("id", 0), "component": {
                "type": inner["type"], "id": inner.get("id", 0), "custom_id": inner["custom_id"],
                "value": values[inner["custom_id"]]}})
        elif comp["type"] == 1:
            row = [{"type": c["type"], "custom_id": c["custom_id"], "value": values[c["custom_id"]]}
                   for c in comp.get("components", []) if c.get("custom_id") in values]
            if row:
                out.append({"type": 1, "components": row})
    return out
