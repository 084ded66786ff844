"""Voice and vision through the real `python -m bot run` process (issue #13's end-to-end).

A reply heard as a voice message (🔊 Listen), a voice message answered with its transcript shown,
a picture seen by the model, an edit of a generated picture — and the voice message and the
picture refused in an ordinary channel, with nothing sent to Venice.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from bot.audio import encode_voice_clip
from cogs.chat import VOICE_HIDDEN
from tests.e2e.conftest import E2E, custom_ids, is_reply_with
from tests.fakes.venice_media import synthesize

HELLO = "Hi! I just walked in."
FIRST = "Scarlett looks up from the bar and smiles slowly."
SECOND = "She laughs and takes the flowers."
HEARD = "I brought you some flowers."
VOICE = 1 << 13


def picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (40, 160, 90)).save(out, format="PNG")
    return out.getvalue()


def streamed(e2e: E2E) -> list[dict[str, Any]]:
    return [r.json for r in e2e.venice.requests if r.path == "/chat/completions" and r.json.get("stream")]


async def test_voice_and_pictures_end_to_end(e2e: E2E, people: dict[str, Any]) -> None:
    alice, nsfw, sfw = people["alice"], people["nsfw"], people["sfw"]
    await e2e.start()
    e2e.venice.replies.extend([FIRST, SECOND, "What a lovely garden."])
    await e2e.slash(alice, nsfw, "chat", {"message": HELLO})
    reply = await e2e.wait_message(nsfw["id"], is_reply_with(FIRST), "the character's reply")

    # 🔊 Listen: a real voice message from the bot, replying to the character's message.
    listen = next(c for c in custom_ids(reply) if c.startswith("chat:listen:"))
    await e2e.fake.click(alice, nsfw, reply["id"], listen)
    voiced = await e2e.wait_message(nsfw["id"], lambda m: bool(m["flags"] & VOICE), "the voice message")
    assert voiced["attachments"][0]["duration_secs"] > 0 and voiced["content"] == ""
    assert voiced["message_reference"]["message_id"] == reply["id"]

    # A voice message answering the character's (webhook) message: without the Message Content
    # intent Discord hands the bot no attachment, only the voice flag — so it says where to send it.
    clip = encode_voice_clip([synthesize(HEARD, "mp3")])
    await e2e.fake.send_message(alice, nsfw, reply_to=reply, attachments=[("voice-message.ogg", clip.data)],
                                voice=(clip.duration_secs, clip.waveform))
    await e2e.wait_message(nsfw["id"], lambda m: m["content"] == VOICE_HIDDEN, "where to send voice messages")
    # Replying to the bot's own voice message: heard, shown small, answered.
    e2e.venice.media.transcripts.append(HEARD)
    await e2e.fake.send_message(alice, nsfw, reply_to=voiced, attachments=[("voice-message.ogg", clip.data)],
                                voice=(clip.duration_secs, clip.waveform))
    await e2e.wait_message(nsfw["id"], lambda m: m["content"] == f"-# 🎙️ {HEARD}", "the transcript")
    await e2e.wait_message(nsfw["id"], is_reply_with(SECOND), "the answer to the voice message")
    assert HEARD in str(streamed(e2e)[-1]["messages"])

    # A picture on /chat: judged, then seen by the model.
    await e2e.slash(alice, nsfw, "chat", {"message": "My garden.", "image": ("garden.png", picture())})
    await e2e.wait_message(nsfw["id"], is_reply_with("What a lovely garden."), "the answer to the picture")
    user = next(m["content"] for m in reversed(streamed(e2e)[-1]["messages"]) if m["role"] == "user")
    assert any(part.get("type") == "image_url" for part in user)

    # 🪄 Edit picture on a generated image.
    imagined = await e2e.slash(alice, nsfw, "imagine", {"prompt": "a woman in a red dress on a balcony"})
    image = await e2e.wait_message(nsfw["id"], lambda m: any(c.startswith("img:alter:") for c in custom_ids(m))
                                   and bool(m["attachments"]), "the generated image")
    assert imagined is not None
    alter = next(c for c in custom_ids(image) if c.startswith("img:alter:"))
    record_id = alter.rsplit(":", 1)[1]
    opened = await e2e.fake.click(alice, nsfw, image["id"], alter)
    assert (await opened.response(timeout=10)).json["type"] == 9
    await e2e.fake.submit_modal(alice, nsfw, f"imgalter:{record_id}", {"instruction": "make the dress blue"},
                                message_id=image["id"])
    await e2e.wait_message(nsfw["id"], lambda m: any(e.get("title") == "🪄 Edited picture" for e in m["embeds"]),
                           "the edited picture")
    assert [r.json["prompt"] for r in e2e.venice.requests if r.path == "/image/edit"] == ["make the dress blue"]

    # In an ordinary channel: a voice message and a picture are refused, Venice is not asked.
    before = len(e2e.venice.requests)
    said = e2e.fake.add_message(sfw["id"], "Hello.")
    await e2e.fake.send_message(alice, sfw, reply_to=said, attachments=[("voice-message.ogg", clip.data)],
                                voice=(clip.duration_secs, clip.waveform))
    await e2e.fake.send_message(alice, sfw, "look", mentions_bot=True, attachments=[("photo.png", picture())])
    await e2e.fake.wait_until(lambda: len([m for m in e2e.messages_in(sfw["id"]) if m["author"]["id"] == people[
        "bot_id"] and m["content"]]) >= 3, 10, what="two refusals")
    assert e2e.venice.requests[before:] == []
