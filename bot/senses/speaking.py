"""Replies read aloud: which voice a character speaks with, and the clip, within the limits.

`read_aloud` is the 🔊 Listen button's (and "speak every reply"'s) use case: the reply is checked
like every reply control (in this place, its owner or a moderator), the place must allow voice,
the TTS call is admitted by `bot.limits` (kind `tts`, reserved at the model's price for the
characters spoken, booked at what it cost, released after) and the clip is kept a few minutes so
pressing Listen again (or several people pressing it together) costs one synthesis. The text
spoken is the stored reply, which was screened before it was shown; a withheld reply stores
nothing to speak.

A character's voice: its own (`/character voice`, custom characters) else the place's `tts_voice`
with `tts_model`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audio import VoiceClip, preferred_tts_format, speak, speakable
from bot.cache import TTLCache
from bot.characters.service import parse_ref
from bot.chat.service import ChatService
from bot.errors import UserError
from bot.limits import Limits
from bot.settings import SettingsStore
from bot.store import characters as character_rows
from bot.store import users
from bot.venice.client import VeniceClient
from bot.venice.media import tts_cost
from bot.venice.types import ModelInfo
from bot.where import Where

__all__ = ["CLIP_KEPT", "NOTHING_TO_SAY", "PREVIEW_LINE", "VOICE_OFF", "Speaking", "Voice"]

VOICE_OFF = "Voice is turned off here."
NOTHING_TO_SAY = "There's nothing in that reply to read aloud."
UNKNOWN_MODEL = "The voice model `{model}` isn't available on Venice right now; an admin can pick another."
UNKNOWN_VOICE = "`{voice}` isn't one of the voices of `{model}`. Pick one from the list."
PREVIEW_LINE = "Hello — this is how I sound."
CLIP_KEPT = 300.0  # seconds a clip is kept for another Listen of the same words in the same voice
CLIPS_KEPT = 32  # clips in memory at most (≈ 3 kB per second of speech each)


@dataclass(frozen=True, slots=True)
class Voice:
    """A TTS model and one of its voices."""

    model: str
    voice: str


class Speaking:
    """Reads replies aloud for a place, in the character's voice."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], venice: VeniceClient, limits: Limits,
                 settings: SettingsStore, chat: ChatService, clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.venice = venice
        self.limits = limits
        self.settings = settings
        self.chat = chat
        self._clips = TTLCache(CLIP_KEPT, clock, max_entries=CLIPS_KEPT)

    # -- settings and voices ------------------------------------------------------------------------

    async def allowed(self, where: Where) -> bool:
        """Does this place allow voice at all?"""
        return bool(await self.settings.get("voice", guild_id=where.guild_id, channel_id=where.channel_id,
                                            parent_id=where.parent_id))

    async def speaks_every_reply(self, where: Where) -> bool:
        """Should replies here be spoken without anyone pressing Listen (and does this person want it)?"""
        cfg = await self.settings.resolve_all(guild_id=where.guild_id, channel_id=where.channel_id,
                                              parent_id=where.parent_id, keys=["voice", "voice_auto"])
        if not (cfg["voice"].value and cfg["voice_auto"].value):
            return False
        return where.user_id is None or not await users.voice_off(self.sessions, where.user_id)

    async def default_voice(self, where: Where) -> Voice:
        cfg = await self.settings.resolve_all(guild_id=where.guild_id, channel_id=where.channel_id,
                                              parent_id=where.parent_id, keys=["tts_model", "tts_voice"])
        return Voice(str(cfg["tts_model"].value), str(cfg["tts_voice"].value))

    async def voice_of(self, character_ref: str, where: Where) -> Voice:
        """The character's own voice, else the place's default."""
        parsed = parse_ref(character_ref)
        if parsed is not None and parsed[0] == "custom":
            own = await character_rows.voice_of(self.sessions, int(parsed[1]))
            if own is not None:
                return Voice(*own)
        return await self.default_voice(where)

    async def checked_voice(self, voice: Voice) -> ModelInfo:
        """The TTS model's catalogue entry, if it is listed and has this voice (UserError if not)."""
        info = await self.venice.get_model(voice.model, "tts")
        if info is None:
            raise UserError(UNKNOWN_MODEL.format(model=voice.model))
        if info.voices and voice.voice not in info.voices:
            raise UserError(UNKNOWN_VOICE.format(voice=voice.voice, model=voice.model))
        return info

    async def voices(self, model: str) -> tuple[str, ...]:
        return await self.venice.tts_voices(model)

    # -- speaking ---------------------------------------------------------------------------------

    async def read_aloud(self, where: Where, reply_id: int) -> VoiceClip:
        """The reply as a voice clip (UserError, LimitReached, VeniceError say why not)."""
        if not await self.allowed(where):
            raise UserError(VOICE_OFF)
        reply, character_ref = await self.chat.reply_to_hear(where, reply_id)
        if not speakable(reply.content):
            raise UserError(NOTHING_TO_SAY)
        voice = await self.voice_of(character_ref, where)
        return await self.say(where, reply.content, voice)

    async def preview(self, where: Where, voice: Voice) -> VoiceClip:
        """One short fixed line in `voice` (counted like any spoken reply)."""
        if not await self.allowed(where):
            raise UserError(VOICE_OFF)
        return await self.say(where, PREVIEW_LINE, voice)

    async def say(self, where: Where, text: str, voice: Voice) -> VoiceClip:
        """`text` spoken in `voice`; the same words in the same voice within minutes cost once."""
        key = (voice.model, voice.voice, hashlib.sha256(text.encode()).hexdigest())
        return await self._clips.get_or_load(key, lambda: self._synthesize(where, text, voice))

    async def _synthesize(self, where: Where, text: str, voice: Voice) -> VoiceClip:
        assert where.user_id is not None
        info = await self.checked_voice(voice)
        spoken = speakable(text)
        if not spoken:
            raise UserError(NOTHING_TO_SAY)
        estimate = tts_cost(info, len(spoken))
        fmt = preferred_tts_format(info.supported_formats, info.default_format)
        ticket = await self.limits.acquire(
            user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            kind="tts", estimate_usd=estimate.usd if estimate is not None and estimate.usd is not None else None)
        spent = [0.0]
        answered = [False]

        async def synthesize(part: str) -> bytes:
            result = await self.venice.speech(part, model=voice.model, voice=voice.voice, response_format=fmt)
            answered[0] = True
            spent[0] += result.cost.usd if result.cost is not None and result.cost.usd is not None else 0.0
            return result.audio

        try:
            clip = await speak(text, synthesize, response_format=fmt)
        finally:
            try:
                if answered[0]:  # only what Venice answered counts: an outage uses up nothing
                    await self.limits.record(user_id=where.user_id, guild_id=where.guild_id, kind="tts",
                                             cost_usd=spent[0], ticket=ticket)
            finally:
                await self.limits.release(ticket)
        if clip is None:
            raise UserError(NOTHING_TO_SAY)
        return clip
