"""Voice messages in: checked, measured, transcribed by Venice, within the person's limits.

The transcript is what the person said: the caller hands it to the chat turn as their words,
where it is screened like anything typed (`ChatService.take_turn`). Nothing here shows it.

Order, cheapest first: the place's `voice` setting; the attachment's declared size, type and
length (no download); the download; a full decode off the event loop that stops at the length
limit (`bot.audio.probe_audio`: a file lying about its length costs no more than the limit, and
something that is not audio is refused before Venice sees it); the quota (kind `asr`, reserved at
the model's price for the measured seconds); Venice; what it cost is booked.
"""

from __future__ import annotations

import logging
import re

from bot.audio import AudioInfo, VoiceLimits, VoiceRefused, check_declared, probe_audio
from bot.errors import UserError
from bot.limits import Limits
from bot.offload import Offload
from bot.settings import SettingsStore
from bot.venice.client import VeniceClient
from bot.venice.media import DEFAULT_ASR_MODEL, asr_cost
from bot.where import Where

from .uploads import Upload

__all__ = ["NOTHING_HEARD", "TOO_MUCH_SAID", "VOICE_OFF", "Hearing", "clean_transcript"]

log = logging.getLogger(__name__)

VOICE_OFF = "Voice is turned off here, so I can't listen to voice messages. Type to me instead."
NOTHING_HEARD = "I couldn't make out any words in that voice message — try recording it again, or type it."
TOO_MUCH_SAID = "That voice message has more words than I can take in one go — keep it shorter, or type it."
UNREADABLE_DOWNLOAD = "I couldn't download that voice message from Discord — try sending it again."
_WORDLIKE = re.compile(r"\w", re.UNICODE)
_SPACES = re.compile(r"\s+")


def clean_transcript(text: str, *, limit: int) -> str:
    """What Venice heard as one line of words; refuses nothing-but-noise and overlong results."""
    cleaned = _SPACES.sub(" ", text).strip()
    if not _WORDLIKE.search(cleaned):
        raise UserError(NOTHING_HEARD)  # "", "...", "♪" : no words to answer
    if len(cleaned) > limit:
        raise UserError(TOO_MUCH_SAID)
    return cleaned


class Hearing:
    """Transcribes voice messages people send the bot."""

    def __init__(self, *, venice: VeniceClient, limits: Limits, settings: SettingsStore, offload: Offload,
                 model: str = DEFAULT_ASR_MODEL, bounds: VoiceLimits | None = None, max_chars: int = 4000) -> None:
        self.venice = venice
        self.limits = limits
        self.settings = settings
        self.offload = offload
        self.model = model
        self.bounds = bounds or VoiceLimits()
        self.max_chars = max_chars

    async def transcribe(self, where: Where, upload: Upload) -> str:
        """The words in `upload` (a voice message); UserError (or LimitReached) says why not."""
        assert where.user_id is not None
        if not await self.settings.get("voice", guild_id=where.guild_id, channel_id=where.channel_id,
                                       parent_id=where.parent_id):
            raise UserError(VOICE_OFF)
        try:
            check_declared(size=upload.size, content_type=upload.content_type, duration_secs=upload.duration_secs,
                           limits=self.bounds)
        except VoiceRefused as refused:
            log.info("voice message from user %s refused before download: %s", where.user_id, refused.reason)
            raise UserError(refused.user_message) from None
        try:
            data = await upload.read()
        except Exception as exc:  # Discord's CDN: a vanished or failing attachment
            log.info("voice message from user %s could not be downloaded: %s", where.user_id, type(exc).__name__)
            raise UserError(UNREADABLE_DOWNLOAD) from None
        info = await self._measure(where, data)
        model = await self.venice.get_model(self.model, "asr")
        estimate = asr_cost(model, info.duration_secs)
        ticket = await self.limits.acquire(
            user_id=where.user_id, guild_id=where.guild_id, channel_id=where.channel_id, parent_id=where.parent_id,
            kind="asr", estimate_usd=estimate.usd if estimate is not None and estimate.usd is not None else None)
        try:
            heard = await self.venice.transcribe(
                data, model=self.model, filename=upload.filename or "voice-message.ogg", content_type="audio/ogg",
                duration_secs=info.duration_secs)
            cost = heard.cost.usd if heard.cost is not None and heard.cost.usd is not None else 0.0
            await self.limits.record(user_id=where.user_id, guild_id=where.guild_id, kind="asr",
                                     cost_usd=cost, ticket=ticket)
        finally:
            await self.limits.release(ticket)
        return clean_transcript(heard.text, limit=self.max_chars)

    async def _measure(self, where: Where, data: bytes) -> AudioInfo:
        try:
            return await self.offload.in_thread(probe_audio, data, limits=self.bounds, owner=where.user_id)
        except VoiceRefused as refused:
            log.info("voice message from user %s refused: %s", where.user_id, refused.reason)
            raise UserError(refused.user_message) from None
