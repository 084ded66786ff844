"""A real Discord voice message sent through discord.py's own HTTP client to the fake Discord.

The fake checks voice-message uploads as Discord does (one audio attachment, metadata, no text,
never from a webhook) and opens the file with PyAV (OGG/Opus, duration matching the audio).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.http import HTTPClient, Route

from bot.audio import VoiceClip, encode_voice_clip, speak
from bot.ui.voice_message import IS_VOICE_MESSAGE, send_voice_message, voice_message_payload
from bot.venice import VeniceClient
from tests.conftest import DISCORD_TOKEN, VENICE_KEY
from tests.fakes.discord import SPEC_PATH, FakeDiscord
from tests.fakes.venice import FakeVenice
from tests.fakes.venice_media import synthesize

pytestmark = pytest.mark.skipif(not SPEC_PATH.exists(), reason=f"Discord's OpenAPI file is not at {SPEC_PATH}")

LINE = "Mmm, there you are. I was starting to think you'd forgotten me."


@pytest.fixture
async def client(fake_discord: FakeDiscord) -> AsyncIterator[discord.Client]:
    c = discord.Client(intents=discord.Intents.none())
    await c.login(DISCORD_TOKEN)
    yield c
    await c.close()


@pytest.fixture
def place(fake_discord: FakeDiscord) -> tuple[dict[str, Any], dict[str, Any]]:
    """An age-restricted channel and the character's (webhook) message to reply to."""
    guild = fake_discord.add_guild()
    channel = fake_discord.add_channel(guild["id"], "text", nsfw=True)
    hook = fake_discord.world.new_webhook(channel, "Aria")
    said = fake_discord.world.new_message(channel["id"], {"content": LINE}, [],
                                          author=fake_discord.world.webhook_author(hook, {}), webhook_id=hook["id"])
    return channel, said


@pytest.fixture(scope="module")
def clip() -> VoiceClip:
    return encode_voice_clip([synthesize(LINE, "mp3")])


async def test_a_voice_message_is_sent_as_discord_expects(
    client: discord.Client, fake_discord: FakeDiscord, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip
) -> None:
    channel, said = place
    sent = await send_voice_message(client.http, int(channel["id"]), clip, reply_to=int(said["id"]))
    assert fake_discord.violations == []
    request = fake_discord.find("POST", rf"/channels/{channel['id']}/messages")[-1]
    assert request.json == {
        "flags": IS_VOICE_MESSAGE,
        "attachments": [{"id": 0, "filename": "voice-message.ogg", "duration_secs": clip.duration_secs,
                         "waveform": clip.waveform}],
        "allowed_mentions": {"parse": []},
        "message_reference": {"message_id": said["id"], "fail_if_not_exists": False},
    }
    assert request.files == [("files[0]", "voice-message.ogg", clip.data)]
    assert sent["flags"] & IS_VOICE_MESSAGE and sent["content"] == ""
    assert sent["message_reference"]["message_id"] == said["id"]


async def test_discord_py_reads_it_back_as_a_voice_message(
    client: discord.Client, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip
) -> None:
    channel, said = place
    sent = await send_voice_message(client.http, int(channel["id"]), clip, reply_to=int(said["id"]))
    message = await client.get_partial_messageable(int(channel["id"])).fetch_message(int(sent["id"]))
    attachment = message.attachments[0]
    assert message.flags.voice and attachment.is_voice_message()
    assert attachment.duration == clip.duration_secs
    assert attachment.waveform == base64.b64decode(clip.waveform)
    assert await attachment.read() == clip.data


async def test_a_reply_whose_original_was_deleted_still_arrives(
    client: discord.Client, fake_discord: FakeDiscord, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip
) -> None:
    channel, said = place
    fake_discord.delete_message(said)
    sent = await send_voice_message(client.http, int(channel["id"]), clip, reply_to=int(said["id"]))
    assert sent["flags"] & IS_VOICE_MESSAGE and fake_discord.violations == []


async def test_a_clip_over_the_upload_limit_is_never_sent(
    client: discord.Client, fake_discord: FakeDiscord, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip
) -> None:
    channel, _ = place
    with pytest.raises(ValueError, match="upload limit"):
        await send_voice_message(client.http, int(channel["id"]), clip, max_bytes=clip.size - 1)
    assert fake_discord.find("POST", r"/channels/\d+/messages") == []


async def test_reply_heard_from_venice_tts_reaches_discord(
    client: discord.Client, fake_discord: FakeDiscord, place: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    channel, said = place
    async with FakeVenice(api_key=VENICE_KEY) as venice, VeniceClient(VENICE_KEY, venice.base_url) as v:

        async def synthesize_part(text: str) -> bytes:
            return (await v.speech(text, voice="af_sky", response_format="opus")).audio

        spoken = await speak(f"*She smiles.* {LINE} ((OOC: gtg))", synthesize_part, response_format="opus")
        assert venice.violations == []
    assert spoken is not None
    await send_voice_message(client.http, int(channel["id"]), spoken, reply_to=int(said["id"]))
    assert fake_discord.violations == []


# -- what the fake Discord refuses, as Discord does ------------------------------------------------


async def _raw(http: HTTPClient, route: Route, payload: dict[str, Any],
               files: list[tuple[bytes, str]]) -> Any:
    """A multipart message with `files` as (bytes, content type), for requests the bot never makes."""
    held = [discord.File(io.BytesIO(data), filename="voice-message.ogg") for data, _ in files]
    form: list[dict[str, Any]] = [{"name": "payload_json", "value": json.dumps(payload)}]
    form += [{"name": f"files[{i}]", "value": f.fp, "filename": f.filename, "content_type": kind}
             for i, (f, (_, kind)) in enumerate(zip(held, files, strict=True))]
    return await http.request(route, files=held, form=form)


def _payload(clip: VoiceClip, **change: Any) -> dict[str, Any]:
    payload = voice_message_payload(clip)
    payload["attachments"][0].update(change.pop("attachment", {}))
    return payload | change


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"content": "hello"}, 50159),
        ({"embeds": [{"description": "x"}]}, 50159),
        ({"attachment": {"waveform": base64.b64encode(bytes(300)).decode()}}, 50161),
        ({"attachment": {"waveform": None}}, 50161),
        ({"attachment": {"duration_secs": None}}, 50161),
        ({"attachment": {"duration_secs": 60.0}}, 50161),
    ],
)
async def test_the_fake_refuses_a_malformed_voice_message(
    client: discord.Client, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip,
    change: dict[str, Any], code: int,
) -> None:
    channel, _ = place
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=int(channel["id"]))
    with pytest.raises(discord.HTTPException) as refused:
        await _raw(client.http, route, _payload(clip, **change), [(clip.data, "audio/ogg")])
    assert refused.value.code == code


@pytest.mark.parametrize(
    "files",
    [
        "two files",
        "not audio",
        "mp3 in an ogg's clothing",
    ],
)
async def test_the_fake_refuses_anything_but_one_ogg_opus_file(
    client: discord.Client, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip, files: str
) -> None:
    channel, _ = place
    uploads = {
        "two files": [(clip.data, "audio/ogg"), (clip.data, "audio/ogg")],
        "not audio": [(clip.data, "image/png")],
        "mp3 in an ogg's clothing": [(synthesize(LINE, "mp3"), "audio/ogg")],
    }[files]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=int(channel["id"]))
    with pytest.raises(discord.HTTPException) as refused:
        await _raw(client.http, route, voice_message_payload(clip), uploads)
    assert refused.value.code == 50160


async def test_webhooks_cannot_send_voice_messages(
    client: discord.Client, fake_discord: FakeDiscord, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip
) -> None:
    channel, _ = place
    hook = fake_discord.world.new_webhook(channel, "Aria")
    route = Route("POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=hook["id"], webhook_token=hook["token"])
    with pytest.raises(discord.HTTPException) as refused:
        await _raw(client.http, route, voice_message_payload(clip), [(clip.data, "audio/ogg")])
    assert refused.value.code == 50035
    assert any("webhooks cannot send voice messages" in v for v in fake_discord.violations)


async def test_a_voice_message_cannot_be_edited(
    client: discord.Client, place: tuple[dict[str, Any], dict[str, Any]], clip: VoiceClip
) -> None:
    channel, _ = place
    sent = await send_voice_message(client.http, int(channel["id"]), clip)
    with pytest.raises(discord.HTTPException) as refused:
        message = client.get_partial_messageable(int(channel["id"])).get_partial_message(int(sent["id"]))
        await message.edit(content="changed my mind")
    assert refused.value.code == 50162
