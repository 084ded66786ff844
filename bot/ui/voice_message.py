"""Send a real Discord voice message (the playable bubble with a waveform) from the bot account.

discord.py 2.7.1 cannot: `send()` has no way to set the flag or the attachment's waveform
(discord.py issue #10165). So the request is built the way discord.py builds a message with a
file and sent through the bot's own HTTP client (its rate limiting, retries and token):

- `POST /channels/{channel_id}/messages`, multipart: `payload_json` and `files[0]`;
- `payload_json`: `flags: 8192` (IS_VOICE_MESSAGE), `attachments: [{"id": 0, "filename":
  "voice-message.ogg", "duration_secs": <float>, "waveform": <base64, ≤ 256 bytes>}]`,
  `allowed_mentions: {"parse": []}`, and a `message_reference` to the character's message;
  no `content`, no `embeds`, no `components` (Discord refuses a voice message with any: 50159);
- `files[0]`: the OGG/Opus bytes with content type `audio/ogg`.

Webhooks cannot send voice messages (execute-webhook accepts only SUPPRESS_EMBEDS,
SUPPRESS_NOTIFICATIONS and IS_COMPONENTS_V2 as flags), which is why the clip comes from the bot
as a reply to the character's (webhook) message rather than as the character.
"""

from __future__ import annotations

import io
import json
from typing import Any

import discord
from discord.http import HTTPClient, Route

from bot.audio import VoiceClip

__all__ = ["IS_VOICE_MESSAGE", "MAX_VOICE_BYTES", "send_voice_message", "voice_message_payload"]

IS_VOICE_MESSAGE = 1 << 13
# Discord's upload limit for a server without boosts (and for bots in DMs).
MAX_VOICE_BYTES = 10 * 1024 * 1024


def voice_message_payload(clip: VoiceClip, *, reply_to: int | None = None) -> dict[str, Any]:
    """The `payload_json` of a voice message replying to `reply_to` (if given)."""
    payload: dict[str, Any] = {
        "flags": IS_VOICE_MESSAGE,
        "attachments": [
            {
                "id": 0,
                "filename": clip.filename,
                "duration_secs": clip.duration_secs,
                "waveform": clip.waveform,
            }
        ],
        "allowed_mentions": {"parse": []},
    }
    if reply_to is not None:
        # A deleted original should not cost the listener the clip: send it unthreaded then.
        payload["message_reference"] = {"message_id": str(reply_to), "fail_if_not_exists": False}
    return payload


async def send_voice_message(
    http: HTTPClient, channel_id: int, clip: VoiceClip, *, reply_to: int | None = None,
    max_bytes: int = MAX_VOICE_BYTES,
) -> dict[str, Any]:
    """Post `clip` as a voice message in `channel_id`; returns Discord's message object.

    `max_bytes` is the place's upload limit (`interaction.filesize_limit` where one is known);
    a larger clip raises ValueError before anything is sent. Discord's refusals surface as
    `discord.HTTPException` like any other send.
    """
    if clip.size > max_bytes:
        raise ValueError(f"voice clip is {clip.size} bytes, over the {max_bytes}-byte upload limit")
    file = discord.File(io.BytesIO(clip.data), filename=clip.filename)
    form = [
        {"name": "payload_json", "value": json.dumps(voice_message_payload(clip, reply_to=reply_to))},
        {"name": "files[0]", "value": file.fp, "filename": clip.filename, "content_type": clip.content_type},
    ]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    # `files` lets discord.py rewind the bytes before each retry of the same form.
    return await http.request(route, files=[file], form=form)
