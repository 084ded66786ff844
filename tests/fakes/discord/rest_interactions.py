"""REST handlers: interaction callbacks, follow-ups and original responses, and webhooks.

``/webhooks/{id}/{token}`` serves two things, as on Discord: interaction follow-ups (the id is
the application id, the token the interaction token) and bot-created incoming webhooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests import payloads as p

from .common import INVALID_FORM_BODY, NO_CONTENT, DiscordError, Incoming, Reply, not_found, route
from .rest_channels import check_message_limits
from .state import EPHEMERAL, LOADING, InteractionRecord
from .voice import refuse_voice_flag

if TYPE_CHECKING:
    from .server import FakeDiscord

# Which callback types each interaction type accepts (receiving-and-responding.mdx).
ALLOWED_CALLBACKS = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")


def _record(fake: FakeDiscord, token: str, interaction_id: str | None = None) -> InteractionRecord:
    rec = fake.world.interactions.get(token)
    if rec is None:
        # Built outside the fake (tests.payloads) and never registered: accept it with any
        # callback type, since its interaction type is unknown here.
        rec = fake.world.interactions[token] = InteractionRecord({"id": interaction_id or "0", "token": token})
    if rec.expired or (interaction_id is not None and rec.id != interaction_id):
        raise DiscordError(*UNKNOWN_INTERACTION)
    return rec


def _interaction_message(fake: FakeDiscord, rec: InteractionRecord, data: dict[str, Any],
                         files: list[tuple[str, str, bytes]], *, flags: int = 0,
                         original: bool = False) -> dict[str, Any]:
    payload = rec.payload
    invoker = payload.get("user") or payload.get("member", {}).get("user")
    extra: dict[str, Any] = {"webhook_id": p.APP_ID, "application_id": p.APP_ID}
    if invoker is not None:  # unknown for payloads the fake never saw; discord.py needs a full user
        extra["interaction_metadata"] = {
            "id": rec.id, "type": payload.get("type", 2), "user": invoker,
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {})}
    if original and payload.get("type") == 2:
        extra["type"] = 20  # CHAT_INPUT_COMMAND
    msg = fake.world.new_message(rec.channel_id, data, files, **extra)
    msg["flags"] |= flags
    return msg


@route("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
async def interaction_callback(fake: FakeDiscord, req: Incoming, interaction_id: str,
                               interaction_token: str) -> Any:
    rec = _record(fake, interaction_token, interaction_id)
    if rec.response is not None:
        raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
    body = req.body()
    kind, data = body.get("type"), body.get("data") or {}
    interaction_type = rec.payload.get("type")
    if interaction_type is not None and kind not in ALLOWED_CALLBACKS.get(interaction_type, set()):
        fake.violation(f"callback type {kind} is not allowed for interaction type {interaction_type}")
        raise DiscordError(400, INVALID_FORM_BODY, f"Invalid callback type {kind}")
    check_message_limits(fake, req, data)
    rec.response = {"type": kind, "data": data}
    ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
    resource: dict[str, Any] = {"type": kind}
    if kind in (4, 5):
        loading = LOADING if kind == 5 else 0
        content = data if kind == 4 else {"flags": data.get("flags")}
        msg = _interaction_message(fake, rec, content, req.files, flags=loading, original=True)
        rec.original_id = msg["id"]
        resource["message"] = msg
        fake.echo("MESSAGE_CREATE", msg)
    elif kind in (6, 7):
        msg = _component_message(fake, rec)
        rec.original_id = msg["id"] if msg else None
        if kind == 7 and msg is not None:
            fake.world.edit_message(msg, data, req.files)
            resource["message"] = msg
            fake.echo("MESSAGE_UPDATE", msg)
    response = {"interaction": {"id": rec.id, "type": interaction_type or 2, "response_message_loading": kind == 5,
                                "response_message_ephemeral": ephemeral}}
    if rec.original_id is not None:
        response["interaction"]["response_message_id"] = rec.original_id
    if req.query.get("with_response") not in ("1", "true", "True"):
        return NO_CONTENT
    return response | {"resource": resource}


def _component_message(fake: FakeDiscord, rec: InteractionRecord) -> dict[str, Any] | None:
    # Deferred updates and updates act on the message the button is on; store it if the payload
    # came from tests.payloads and the fake never saw that message.
    carried = rec.payload.get("message")
    if carried is None:
        return None
    return fake.world.messages.setdefault(str(carried["id"]), carried)


# ---------------------------------------------------------------- follow-ups and @original


def _is_interaction(fake: FakeDiscord, webhook_id: str, token: str) -> bool:
    return webhook_id == p.APP_ID and (token in fake.world.interactions or webhook_id not in fake.world.webhooks)


def _interaction_target(fake: FakeDiscord, token: str, message_id: str) -> dict[str, Any]:
    rec = _record(fake, token)
    target = rec.original_id if message_id == "@original" else message_id
    if target is None or (target != rec.original_id and target not in rec.followup_ids):
        raise not_found("Message", 10008)
    msg = fake.world.messages.get(target)
    if msg is None:
        raise not_found("Message", 10008)
    return msg


@route("POST", "/webhooks/{webhook_id}/{webhook_token}")
async def execute_webhook(fake: FakeDiscord, req: Incoming, webhook_id: str, webhook_token: str) -> Any:
    body = req.body()
    check_message_limits(fake, req, body)
    refuse_voice_flag(fake, body)
    wait = req.query.get("wait") in ("1", "true", "True")
    if _is_interaction(fake, webhook_id, webhook_token):
        rec = _record(fake, webhook_token)
        if rec.response is None:
            raise not_found("Webhook", 10015)  # follow-ups only exist after the interaction is acknowledged
        msg = _interaction_message(fake, rec, body, req.files)
        rec.followup_ids.append(msg["id"])
    else:
        hook = _webhook(fake, webhook_id, webhook_token)
        target = _webhook_target(fake, hook, req.query.get("thread_id"), body.get("thread_name"))
        msg = fake.world.new_message(target, body, req.files, author=fake.world.webhook_author(hook, body),
                                     webhook_id=hook["id"], application_id=p.APP_ID)
    if not msg["flags"] & EPHEMERAL:
        fake.echo("MESSAGE_CREATE", msg)
    return msg if wait else NO_CONTENT


@route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
@route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def get_webhook_message(fake: FakeDiscord, req: Incoming, webhook_id: str, webhook_token: str,
                              message_id: str = "@original") -> Any:
    return _webhook_message(fake, req, webhook_id, webhook_token, message_id)


@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def edit_webhook_message(fake: FakeDiscord, req: Incoming, webhook_id: str, webhook_token: str,
                               message_id: str = "@original") -> Any:
    msg = _webhook_message(fake, req, webhook_id, webhook_token, message_id)
    body = req.body()
    check_message_limits(fake, req, body)
    fake.world.edit_message(msg, body, req.files)
    if not msg["flags"] & EPHEMERAL:
        fake.echo("MESSAGE_UPDATE", msg)
    return msg


@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def delete_webhook_message(fake: FakeDiscord, req: Incoming, webhook_id: str, webhook_token: str,
                                 message_id: str = "@original") -> Any:
    fake.delete_message(_webhook_message(fake, req, webhook_id, webhook_token, message_id))
    return NO_CONTENT


def _webhook_message(fake: FakeDiscord, req: Incoming, webhook_id: str, token: str,
                     message_id: str) -> dict[str, Any]:
    if _is_interaction(fake, webhook_id, token):
        return _interaction_target(fake, token, message_id)
    hook = _webhook(fake, webhook_id, token)
    msg = fake.world.messages.get(message_id)
    if msg is None or msg.get("webhook_id") != hook["id"]:
        raise not_found("Message", 10008)
    thread_id = req.query.get("thread_id")
    if msg["channel_id"] != (thread_id or hook["channel_id"]):
        raise not_found("Message", 10008)  # a thread message needs ?thread_id=, as on Discord
    return msg


# ---------------------------------------------------------------- incoming webhooks


def _webhook(fake: FakeDiscord, webhook_id: str, token: str | None) -> dict[str, Any]:
    for key in (webhook_id, None):
        if key in fake.world.webhook_404_once:
            fake.world.webhook_404_once.discard(key)
            raise not_found("Webhook", 10015)
    hook = fake.world.webhooks.get(webhook_id)
    if hook is None or (token is not None and hook["token"] != token):
        raise not_found("Webhook", 10015)
    return hook


def _webhook_target(fake: FakeDiscord, hook: dict[str, Any], thread_id: str | None,
                    thread_name: str | None) -> str:
    channel = fake.world.channels[hook["channel_id"]]
    if thread_id is not None:
        thread = fake.world.channels.get(thread_id)
        if thread is None or thread.get("parent_id") != hook["channel_id"]:
            raise not_found("Channel", 10003)
        thread["thread_metadata"]["archived"] = False  # posting unarchives, as documented
        return thread_id
    if channel["type"] in (15, 16):
        if not thread_name:
            raise DiscordError(400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id")
        return fake.add_channel(channel["guild_id"], 11, name=thread_name, parent_id=channel["id"])["id"]
    return hook["channel_id"]


@route("GET", "/webhooks/{webhook_id}")
@route("GET", "/webhooks/{webhook_id}/{webhook_token}")
async def get_webhook(fake: FakeDiscord, req: Incoming, webhook_id: str, webhook_token: str | None = None) -> Any:
    hook = _webhook(fake, webhook_id, webhook_token)
    return {k: v for k, v in hook.items() if not (webhook_token and k == "user")}


@route("PATCH", "/webhooks/{webhook_id}")
@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}")
async def modify_webhook(fake: FakeDiscord, req: Incoming, webhook_id: str,
                         webhook_token: str | None = None) -> Any:
    hook = _webhook(fake, webhook_id, webhook_token)
    body = req.body()
    for key in ("name", "avatar"):
        if key in body:
            hook[key] = body[key]
    if "channel_id" in body and webhook_token is None:
        hook["channel_id"] = str(body["channel_id"])
    return hook


@route("DELETE", "/webhooks/{webhook_id}")
@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}")
async def delete_webhook(fake: FakeDiscord, req: Incoming, webhook_id: str,
                         webhook_token: str | None = None) -> Any:
    _webhook(fake, webhook_id, webhook_token)
    fake.world.webhooks.pop(webhook_id, None)
    return Reply(204)
