"""/settings show | set | reset | audit: server controls for people with Manage Server.

Settings are scoped (channel > parent channel > server > bot owner > default, see
`bot.settings`); this cog checks who may change what, validates values (numbers against their
range, models and styles against Venice, characters as references), writes, and records every
change in the audit log. Discord hides the group from members without Manage Server
(`default_permissions`), but server admins can hand commands to anyone in Integrations, so the
same rule is checked again on every call. In DMs only the bot's owner may change bot-wide values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import audit_log, policy
from bot.characters.service import BUILTINS, parse_ref
from bot.config import Env
from bot.errors import UserError
from bot.services import Services, services_of
from bot.settings import GLOBAL_SCOPE_ID, REGISTRY, Resolved, Spec, parse_value, spec_for
from bot.store import characters as character_store
from bot.ui.places import where_of_interaction
from bot.venice.errors import NotFoundError, VeniceError

log = logging.getLogger(__name__)

NEED_MANAGE_SERVER = "You need the Manage Server permission to use `/settings` in this server."
OWNER_ONLY = "Only the bot's owner can change bot-wide settings. Server settings are changed in the server."
CANT_CHECK = "I couldn't reach Venice to check that {what}, so nothing was changed. Please try again in a minute."
DETAIL_VALUE_CHARS = 120  # audit detail is 300 characters; admin values are short anyway
SHOWN_CHARS = 100
# Channels that hold conversations, and threads. Not categories; not media channels (type 16 is
# missing from Discord's OpenAPI description, and their posts are threads, which are listed).
PLACE_TYPES = [
    discord.ChannelType.text, discord.ChannelType.news, discord.ChannelType.voice, discord.ChannelType.stage_voice,
    discord.ChannelType.forum, discord.ChannelType.public_thread, discord.ChannelType.private_thread,
    discord.ChannelType.news_thread,
]
Channelish = app_commands.AppCommandChannel | app_commands.AppCommandThread


class PlaceChannel(app_commands.Transformer):
    """A channel option limited to `PLACE_TYPES`, given as Discord resolved it (no cache needed)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return PLACE_TYPES

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> Channelish:
        if not isinstance(value, app_commands.AppCommandChannel | app_commands.AppCommandThread):
            raise app_commands.TransformerError(value, discord.AppCommandOptionType.channel, self)
        return value


ChannelOption = app_commands.Transform[Channelish, PlaceChannel]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a setting is read or written: a channel (with its parent, for threads), or the server."""

    guild_id: int | None
    channel_id: int | None
    parent_id: int | None
    explicit: bool  # the admin named the channel (write to it) rather than just being in it

    @property
    def label(self) -> str:
        if self.guild_id is None:
            return "DMs (bot-wide)"
        return f"<#{self.channel_id}>" if self.channel_id else "this server"


def shown(value: Any) -> str:
    """A setting value as people read it."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)[:SHOWN_CHARS]


def target_of(interaction: discord.Interaction, channel: Channelish | None) -> Target:
    """The channel (and thread parent) a command is about: the one given, else where it was run."""
    guild_id = interaction.guild_id
    if channel is not None:
        if guild_id is None:
            raise UserError("Channel settings belong to a server; run this in the server.")
        if channel.type not in PLACE_TYPES:
            raise UserError("Pick a text, voice or forum channel, or a thread (not a category).")
        parent = channel.parent_id if isinstance(channel, app_commands.AppCommandThread) else None
        return Target(guild_id, channel.id, parent, explicit=True)
    if guild_id is None:
        return Target(None, None, None, explicit=False)
    here = interaction.channel
    parent = here.parent_id if isinstance(here, discord.Thread) else None
    return Target(guild_id, interaction.channel_id, parent, explicit=False)


def is_server_admin(interaction: discord.Interaction) -> bool:
    perms = interaction.permissions
    return interaction.guild_id is not None and bool(perms.manage_guild or perms.administrator)


def number_choices(spec: Spec, current: str, env: Env) -> list[app_commands.Choice[str]]:
    """For numbers: what was typed (when valid), then the default with the allowed range."""
    choices = []
    typed = current.strip()
    try:
        parse_value(spec, typed)
        choices.append(app_commands.Choice(name=typed[:100], value=typed[:100]))
    except UserError:
        pass
    default = f"{spec.default_for(env):g}"
    if default != typed:
        label = f"{default} (default) — allowed {spec.minimum:g} to {spec.maximum:g}; {spec.description}"
        choices.append(app_commands.Choice(name=label[:100], value=default))
    return choices


def render_show(resolved: dict[str, Resolved], target: Target) -> discord.Embed:
    lines = []
    for key, spec in REGISTRY.items():
        got = resolved[key]
        reach = " · bot-wide" if spec.scope == "global" else "" if spec.channel else " · whole server only"
        lines.append(f"`{key}` **{discord.utils.escape_markdown(shown(got.value))}** — {got.source}{reach}")
    embed = discord.Embed(title=f"Settings for {target.label}", description="\n".join(lines)[:4000])
    embed.set_footer(text="A channel's value beats the server's; a thread follows its channel. "
                          "Change with /settings set, undo with /settings reset.")
    return embed


def render_audit(entries: list[audit_log.AuditEntry], title: str) -> discord.Embed:
    lines: list[str] = []
    used = 0
    for e in entries:
        who = f"<@{e.user_id}>" if e.user_id else "someone"
        where = f"<#{e.channel_id}>" if e.channel_id else ("server-wide" if e.guild_id else "DM")
        detail = f" · {discord.utils.escape_markdown(e.detail[:80])}" if e.detail else ""
        rule = f" `{e.rule}`" if e.rule else ""
        line = f"{discord.utils.format_dt(e.created_at, 'f')} **{e.kind}**{rule} · {who} · {where}{detail}"
        if used + len(line) > 3900:
            break
        lines.append(line)
        used += len(line) + 1
    embed = discord.Embed(title=title, description="\n".join(lines) or "Nothing recorded.")
    embed.set_footer(text=f"Newest first. Events are kept {audit_log.RETENTION.days} days; "
                          "refused text is never stored.")
    return embed


class Admin(commands.Cog):
    """Server settings and the audit log."""

    settings = app_commands.default_permissions(manage_guild=True)(
        app_commands.Group(name="settings", description="Server settings for this bot (Manage Server)", nsfw=True)
    )

    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services

    async def cog_load(self) -> None:
        await self._purge()
        self.retention.start()

    async def cog_unload(self) -> None:
        self.retention.cancel()

    async def _purge(self) -> None:
        try:
            # Every process wakes hourly; one of them (the claim) purges, once a day.
            if not await self.services.process.claim("audit-retention", timedelta(hours=23)):
                return
            removed = await audit_log.purge_expired(self.services.sessions)
        except Exception:
            # A failed purge must not keep the bot from starting; the next day's run retries.
            log.exception("audit: purging old events failed")
            return
        if removed:
            log.info("audit: purged %d events older than %d days", removed, audit_log.RETENTION.days)

    @tasks.loop(hours=1)
    async def retention(self) -> None:
        if self.retention.current_loop == 0:
            return  # cog_load has just purged
        await self._purge()

    # -- who may do what --------------------------------------------------------------------------

    async def _is_owner(self, user: discord.abc.User) -> bool:
        if user.id in self.services.env.owner_ids:
            return True
        try:
            return await self.bot.is_owner(user)  # type: ignore[arg-type]
        except discord.HTTPException:
            return False

    async def _scope_for_change(self, interaction: discord.Interaction, spec: Spec, target: Target) -> tuple[str, int]:
        """The (scope, scope id) this person may write for `spec` at `target`, or UserError saying why not."""
        if spec.scope == "global" or target.guild_id is None:
            if target.explicit and spec.scope == "global":
                raise UserError(f"`{spec.key}` is bot-wide; it can't be set per channel.")
            if not await self._is_owner(interaction.user):
                raise UserError(
                    f"`{spec.key}` is a bot-wide setting that only the bot's owner can change."
                    if target.guild_id is not None else OWNER_ONLY
                )
            return "global", GLOBAL_SCOPE_ID
        if not is_server_admin(interaction):
            raise UserError(NEED_MANAGE_SERVER)
        if target.explicit:
            if not spec.channel:
                raise UserError(f"`{spec.key}` is set for the whole server, not per channel.")
            return "channel", int(target.channel_id or 0)
        return "guild", target.guild_id

    # -- validation against the outside world ------------------------------------------------------

    async def _validated(self, interaction: discord.Interaction, key: str, value: Any) -> Any:
        """Check models, styles and characters exist; returns the canonical spelling."""
        if key in ("text_model", "image_model"):
            return await self._model(key.split("_")[0], value)
        if key == "tts_model":
            return await self._model("tts", value)
        if key == "vision_model":
            return await self._vision_model(value)
        if key == "tts_voice":
            return await self._voice(interaction, value)
        if key == "image_style":
            return await self._style(value)
        if key == "character":
            return await self._character(interaction, value)
        return value

    async def _model(self, kind: str, value: str) -> str:
        try:
            models = await self.services.venice.list_models(kind)
        except VeniceError:
            raise UserError(CANT_CHECK.format(what="model")) from None
        by_id = {m.id.lower(): m for m in models}
        found = by_id.get(value.lower())
        if found is None:
            examples = ", ".join(f"`{m.id}`" for m in models if not m.offline)
            raise UserError(f"Venice has no {kind} model called `{value[:60]}`. Some that do exist: "
                            f"{examples[:600] or 'none right now'}.")
        if found.offline:
            raise UserError(f"`{found.id}` is offline at Venice right now; pick another model.")
        return found.id

    async def _vision_model(self, value: str) -> str:
        model_id = await self._model("text", value)
        info = await self.services.venice.get_model(model_id, "text")
        if info is None or not info.supports_vision:
            seeing = ", ".join(f"`{m.id}`" for m in (await self.services.venice.vision_models())[:8])
            raise UserError(f"`{model_id}` can't see pictures. Models that can: {seeing or 'none right now'}.")
        return model_id

    async def _voice(self, interaction: discord.Interaction, value: str) -> str:
        """A voice of the TTS model in force where the voice is being set."""
        speaking = self.services.speaking
        model = (await speaking.default_voice(where_of_interaction(interaction, "settings"))).model
        try:
            voices = await speaking.voices(model)
        except VeniceError:
            raise UserError(CANT_CHECK.format(what="voice")) from None
        by_name = {v.lower(): v for v in voices}
        if value.lower() not in by_name:
            raise UserError(f"`{model}` has no voice called `{value[:60]}`. Some it has: "
                            f"{', '.join(f'`{v}`' for v in voices[:12]) or 'none right now'}.")
        return by_name[value.lower()]

    async def _style(self, value: str) -> str:
        try:
            styles = await self.services.venice.image_styles()
        except VeniceError:
            raise UserError(CANT_CHECK.format(what="style")) from None
        by_name = {s.lower(): s for s in styles}
        if value.lower() not in by_name:
            raise UserError(f"Venice has no style called `{value[:60]}`. Some that do: "
                            f"{', '.join(f'`{s}`' for s in styles[:10])}.")
        return by_name[value.lower()]

    async def _character(self, interaction: discord.Interaction, value: str) -> str:
        parsed = parse_ref(value)
        if parsed is None:
            raise UserError("`character` takes a character reference like `builtin:scarlett`, `venice:<name>` "
                            "or `custom:<number>`; pick one from the suggestions.")
        kind, key = parsed
        if kind == "builtin" and key not in BUILTINS:
            raise UserError(f"There is no built-in character `{key[:60]}`. Built-in: "
                            f"{', '.join(f'`builtin:{k}`' for k in BUILTINS)}.")
        if kind == "custom":
            row = await character_store.get(self.services.sessions, int(key))
            if row is None or not character_store.may_use(row, user_id=interaction.user.id,
                                                          guild_id=interaction.guild_id):
                raise UserError("That custom character doesn't exist or isn't shared in this server.")
        if kind == "venice":
            try:
                await self.services.venice.get_character(key)
            except NotFoundError:
                raise UserError(f"Venice has no character `{key[:60]}`.") from None
            except VeniceError:
                raise UserError(CANT_CHECK.format(what="character")) from None
        return f"{kind}:{key}"

    # -- autocomplete ------------------------------------------------------------------------------

    async def key_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        needle = current.lower().strip()
        return [
            app_commands.Choice(name=f"{key} — {spec.description}"[:100], value=key)
            for key, spec in REGISTRY.items()
            if needle in key or needle in spec.description.lower()
        ][:25]

    async def value_autocomplete(self, interaction: discord.Interaction, current: str
                                 ) -> list[app_commands.Choice[str]]:
        spec = REGISTRY.get(str(getattr(interaction.namespace, "key", "") or ""))
        if spec is None or (interaction.guild_id is not None and not is_server_admin(interaction)):
            return []
        if spec.kind in (int, float):
            return number_choices(spec, current, self.services.env)
        try:
            options = await self._value_options(interaction, spec)
        except VeniceError:
            return []
        needle = current.lower().strip()
        return [app_commands.Choice(name=label[:100], value=value[:100])
                for value, label in options if needle in label.lower()][:25]

    async def _value_options(self, interaction: discord.Interaction, spec: Spec) -> list[tuple[str, str]]:
        if spec.kind is bool:
            return [("on", "on"), ("off", "off")]
        if spec.choices:
            return [(c, c) for c in spec.choices]
        if spec.key in ("text_model", "image_model"):
            models = await self.services.venice.list_models(spec.key.split("_")[0])
            return [(m.id, m.id if m.name == m.id else f"{m.id} ({m.name})") for m in models if not m.offline]
        if spec.key == "tts_model":
            return [(m.id, f"{m.id} ({len(m.voices)} voices)") for m in await self.services.venice.tts_models()]
        if spec.key == "vision_model":
            return [(m.id, m.id if m.name == m.id else f"{m.id} ({m.name})")
                    for m in await self.services.venice.vision_models()]
        if spec.key == "tts_voice":
            model = (await self.services.speaking.default_voice(where_of_interaction(interaction, "settings"))).model
            return [(v, v) for v in await self.services.speaking.voices(model)]
        if spec.key == "image_style":
            return [(s, s) for s in await self.services.venice.image_styles()]
        if spec.key == "character":
            custom = await character_store.usable(self.services.sessions, user_id=interaction.user.id,
                                                  guild_id=interaction.guild_id)
            return [(f"builtin:{k}", f"{c.name} (built-in)") for k, c in BUILTINS.items()] + [
                (c.ref, f"{c.name} (custom)") for c in custom
            ]
        return []

    # -- commands ----------------------------------------------------------------------------------

    @settings.command(name="show", description="Every setting here, and where its value comes from")
    @app_commands.describe(channel="Show another channel or thread (default: this one)")
    async def show(self, interaction: discord.Interaction, channel: ChannelOption | None = None) -> None:
        # Manage Server in a server; anyone in a DM, where only bot-wide values show.
        if interaction.guild_id is not None and not is_server_admin(interaction):
            raise UserError(NEED_MANAGE_SERVER)
        target = target_of(interaction, channel)
        resolved = await self.services.settings.resolve_all(
            guild_id=target.guild_id, channel_id=target.channel_id, parent_id=target.parent_id
        )
        await interaction.response.send_message(embed=render_show(resolved, target), ephemeral=True)

    @settings.command(name="set", description="Change a setting for the server, or for one channel")
    @app_commands.describe(key="Which setting", value="The new value (on/off, a number, a model…)",
                           channel="Only for this channel or thread (default: the whole server)")
    @app_commands.autocomplete(key=key_autocomplete, value=value_autocomplete)
    async def set_(self, interaction: discord.Interaction, key: str, value: app_commands.Range[str, 1, 200],
                   channel: ChannelOption | None = None) -> None:
        spec = spec_for(key)
        target = target_of(interaction, channel)
        scope, scope_id = await self._scope_for_change(interaction, spec, target)
        parsed = await self._validated(interaction, key, parse_value(spec, value))
        await self.services.settings.set(key, parsed, scope=scope, scope_id=scope_id,
                                       guild_id=target.guild_id, by=interaction.user.id)
        where = self._where_label(scope, target)
        await self._audit(interaction, scope, target, key, f"set to {shown(parsed)[:DETAIL_VALUE_CHARS]} ({where})")
        await interaction.response.send_message(f"`{key}` is now **{shown(parsed)}** {where}.", ephemeral=True)

    @settings.command(name="reset", description="Remove an override, so the next level up applies again")
    @app_commands.describe(key="Which setting", channel="Reset this channel's override (default: the server's)")
    @app_commands.autocomplete(key=key_autocomplete)
    async def reset(self, interaction: discord.Interaction, key: str, channel: ChannelOption | None = None) -> None:
        spec = spec_for(key)
        target = target_of(interaction, channel)
        scope, scope_id = await self._scope_for_change(interaction, spec, target)
        await self.services.settings.set(key, None, scope=scope, scope_id=scope_id,
                                       guild_id=target.guild_id, by=interaction.user.id)
        where = self._where_label(scope, target)
        await self._audit(interaction, scope, target, key, f"reset ({where})")
        now = (await self.services.settings.resolve_all(
            guild_id=target.guild_id, channel_id=target.channel_id, parent_id=target.parent_id, keys=[key]
        ))[key]
        await interaction.response.send_message(
            f"`{key}` is no longer set {where}; it is now **{shown(now.value)}** (from {now.source}).", ephemeral=True
        )

    @settings.command(name="audit", description="Recent refusals, blocks and setting changes in this server")
    @app_commands.describe(user="Only events about this person", kind="Only this kind of event")
    @app_commands.choices(kind=[app_commands.Choice(name=k, value=k) for k in audit_log.KINDS])
    async def audit(self, interaction: discord.Interaction, user: discord.User | None = None,
                    kind: app_commands.Choice[str] | None = None) -> None:
        if interaction.guild_id is None:
            if not await self._is_owner(interaction.user):
                raise UserError(OWNER_ONLY)
        elif not is_server_admin(interaction):
            raise UserError(NEED_MANAGE_SERVER)
        entries = await audit_log.recent(self.services.sessions, guild_id=interaction.guild_id,
                                         user_id=user.id if user else None, kind=kind.value if kind else None)
        title = "Audit log" + (f" · {kind.value}" if kind else "") + (f" · {user.name}" if user else "")
        await interaction.response.send_message(embed=render_audit(entries, title), ephemeral=True,
                                                allowed_mentions=discord.AllowedMentions.none())

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _where_label(scope: str, target: Target) -> str:
        if scope == "global":
            return "bot-wide"
        if scope == "channel":
            return f"in <#{target.channel_id}>"
        return "for the whole server"

    async def _audit(self, interaction: discord.Interaction, scope: str, target: Target, key: str, detail: str) -> None:
        channel_id = target.channel_id if scope == "channel" else None
        where = policy.Where(user_id=interaction.user.id, guild_id=target.guild_id if scope != "global" else None,
                             channel_id=channel_id, entry="settings")
        await policy.audit(self.services.sessions, where, kind="admin", rule=key, detail=detail)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Admin(bot, services_of(bot)))
