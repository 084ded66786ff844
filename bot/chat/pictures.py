""""Picture this": Venice describes a chat scene as an image prompt, screened like any image prompt.

The description is an image prompt Venice wrote: both stages of the content screen read it as one
(`context="image"`: always judged, with the scene's context), without a strike (nobody here wrote
it). A refusal is audited and says the scene can't be drawn; a judge that could not answer says
so ("try again"), fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.characters.model import Character
from bot.chat.prompt import Turn, build_scene_prompt_request
from bot.chat.scenes import Scene
from bot.chat.screening import ChatScreen
from bot.errors import CheckUnavailable, Refused, UserError
from bot.judge import JudgeContext
from bot.limits import Limits
from bot.store.conversations import TurnRow
from bot.venice.client import VeniceClient
from bot.where import Where

PICTURES_OFF = "Pictures are turned off in this channel."
SCENE_REFUSED = "I can't draw this scene: its description broke the content policy. Try again as the story moves on."
SCENE_EMPTY = "I couldn't describe this scene; please try again."
SCENE_UNCHECKED = "I couldn't check this scene's description right now, so it wasn't drawn. Please try again."


@dataclass(frozen=True, slots=True)
class ScenePicture:
    """What "picture this" draws: Venice's description of the scene, and who is in it."""

    prompt: str
    character: Character
    character_ref: str


async def describe(*, venice: VeniceClient, limits: Limits, screen: ChatScreen, scene: Scene,
                   rows: list[TurnRow], where: Where, background: JudgeContext | None = None) -> str:
    """The scene as one image prompt (a Venice call, booked to the presser). A description the
    screen refuses (both stages, as an image prompt, with `background`) is audited without a
    strike (Venice wrote it) and raises UserError."""
    turns = [Turn(t.role, t.content, t.author_name, t.id) for t in rows]  # type: ignore[arg-type]
    request = build_scene_prompt_request(scene.character, turns, where.user_name)
    result = await venice.chat(request, model=scene.model, max_tokens=200)
    assert where.user_id is not None
    await limits.record(
        user_id=where.user_id, guild_id=where.guild_id, kind="scene",
        prompt_tokens=result.usage.prompt_tokens if result.usage else 0,
        completion_tokens=result.usage.completion_tokens if result.usage else 0,
        cost_usd=(result.cost.usd or 0.0) if result.cost else 0.0,
    )
    prompt = result.text.strip()
    if not prompt:
        raise UserError(SCENE_EMPTY)
    try:
        await screen.policy.check(prompt, where.anonymous("chat scene"), context="image", background=background,
                                  strike=False)
    except CheckUnavailable:
        raise UserError(SCENE_UNCHECKED) from None
    except Refused:
        raise UserError(SCENE_REFUSED) from None
    return prompt
