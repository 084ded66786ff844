"""The rolling summary: turns that no longer fit the prompt are folded into it, not forgotten.

Venice writes the summary, and it is shown (`/conversation memory`, exports) and fed back to the
model, so it passes the output check before it is stored: one the screen withholds is not kept
(the previous summary stays, and the same turns are folded again later).
"""

from __future__ import annotations

import logging

from bot.chat.prompt import Turn, build_summary_request
from bot.chat.scenes import Scene
from bot.chat.screening import ChatScreen
from bot.limits import Limits
from bot.policy import Background
from bot.store.conversations import WINDOW_ROWS, Conversations, TurnRow
from bot.venice.client import VeniceClient
from bot.venice.errors import VeniceError
from bot.where import Where

log = logging.getLogger(__name__)

FOLD_BATCH = 40  # turns folded into the summary per Venice call


async def fold_summary(*, venice: VeniceClient, limits: Limits, conversations: Conversations, scene: Scene,
                       turns: list[TurnRow], dropped: int, where: Where, screen: ChatScreen,
                       background: Background = None) -> None:
    """Fold turns that no longer reach the model into the rolling summary (a Venice call).

    `turns` is the window the prompt was built from (plus the new words) and `dropped` how many
    of its oldest turns did not fit. Everything not yet summarised that is older than the first
    kept turn is folded, oldest first and at most FOLD_BATCH turns per call, so a long backlog
    (older than the loaded window) is caught up over a few turns instead of being silently
    forgotten.
    """
    if not turns or (not dropped and len(turns) - 1 < WINDOW_ROWS):
        return  # everything not yet summarised fits the prompt: nothing to fold (no query)
    first_kept = turns[dropped].id if dropped < len(turns) else turns[-1].id + 1
    old = await conversations.unsummarised(scene.conversation, before_id=first_kept, limit=FOLD_BATCH)
    if not old:
        return
    messages = build_summary_request(
        scene.conversation.summary or "", [Turn(t.role, t.content, t.author_name, t.id) for t in old],  # type: ignore[arg-type]
        scene.character.name, where.user_name,
    )
    try:
        result = await venice.chat(messages, model=scene.model, max_tokens=600)
    except VeniceError as exc:
        log.warning("summary of conversation %s failed: %s", scene.conversation.id, exc)
        return
    summary = result.text.strip()
    if summary and not (await screen.check_output(summary, where.at("chat summary"), background=background)).allowed:
        log.info("summary of conversation %s withheld by the content screen; not kept", scene.conversation.id)
        summary = ""
    if summary:
        await conversations.set_summary(scene.conversation.id, summary, old[-1].id)
        scene.conversation.summary = summary
        scene.conversation.summary_upto = old[-1].id
    assert where.user_id is not None
    await limits.record(
        user_id=where.user_id, guild_id=where.guild_id, kind="summary",
        prompt_tokens=result.usage.prompt_tokens if result.usage else 0,
        completion_tokens=result.usage.completion_tokens if result.usage else 0,
        cost_usd=(result.cost.usd or 0.0) if result.cost else 0.0,
    )
