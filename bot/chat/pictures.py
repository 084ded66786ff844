""""Picture this": Venice describes a chat scene as an image prompt, screened like any image prompt."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import policy, safety
from bot.characters.model import Character
from bot.chat.prompt import Turn, build_scene_prompt_request
from bot.chat.scenes import Scene
from bot.errors import UserError
from bot.limits import Limits
from bot.store.conversations import TurnRow
from bot.venice.client import VeniceClient
from bot.where import Where

PICTURES_OFF = "Pictures are turned off in this channel."
SCENE_REFUSED = "I can't draw this scene: its description broke the content policy. Try again as the story moves on."
SCENE_EMPTY = "I couldn't describe this scene; please try again."


@dataclass(frozen=True, slots=True)
class ScenePicture:
    """What "picture this" draws: Venice's description of the scene, and who is in it."""

    prompt: str
    character: Character
    character_ref: str
    cast: tuple[tuple[Character, str], ...] = ()  # a group scene: every member (character, ref), cast order


async def describe(*, venice: VeniceClient, limits: Limits, sessions: async_sessionmaker[AsyncSession], scene: Scene,
                   rows: list[TurnRow], where: Where) -> str:
    """The scene as one image prompt (a Venice call, booked to the presser). A description the
    image screen refuses is audited without a strike (Venice wrote it) and raises UserError."""
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
    verdict = safety.screen(prompt, for_image=True)
    if not verdict.allowed:
        await policy.audit(sessions, where.anonymous("chat scene"), kind="refusal", rule=verdict.rule,
                           detail="chat scene (written by Venice)")
        raise UserError(SCENE_REFUSED)
    return prompt
