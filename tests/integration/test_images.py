"""/imagine, /selfie and /seed through the real command tree, on the fake Discord and fake Venice."""

from __future__ import annotations

import pytest

from bot.client import LustifyBot
from bot.images.compose import MINOR_NEGATIVE_TERMS
from bot.images.seeds import character_seed
from bot.images.sizes import ImageConstraints, size_for
from bot.store import images as store
from bot.venice.errors import error_from_response
from tests.fakes.discord import FakeDiscord
from tests.fakes.venice import FakeVenice, Fault
from tests.fakes.venice_faults import DEFAULT_BODIES
from tests.integration.conftest_images import (  # noqa: F401 - fixtures
    GENERATE,
    ImageWorld,
    custom_ids,
    ephemeral_texts,
    image_message,
    world_fixture,
)
from tests.payloads import new_id

PROMPT = "a woman reading on a balcony at dusk"


def fields(message: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


async def test_imagine_defers_then_posts_the_image_with_its_parameters_and_buttons(world: ImageWorld) -> None:
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})

    assert (await handle.response()).json["type"] == 5  # deferred first: "thinking…"
    message = image_message(handle)
    [sent] = world.generated()
    record = (await world.records())[0]
    info = fields(message)
    assert info["Seed"] == f"`{sent['seed']}`"  # copyable: a code span
    assert "lustify-sdxl" in info["Model"] and info["Size"] == "1024×1024" and info["Style"] == "none"
    assert info["Time"].endswith(" s")
    assert info["Prompt sent"].startswith(PROMPT)
    assert message["attachments"][0]["filename"] == f"lustify-{record.id}.webp"
    assert custom_ids(message) == [f"img:{a}:{record.id}" for a in ("reroll", "edit", "alter", "upscale", "lock",
                                                                               "delete")]
    assert (record.status, record.kind, record.discord_message_id) == ("done", "imagine", int(message["id"]))
    assert (record.seed, record.prompt, record.user_prompt) == (sent["seed"], sent["prompt"], PROMPT)
    assert sent["safe_mode"] is False and sent["steps"] == 20 and sent["model"] == "lustify-sdxl"
    assert world.venice.violations == [] and world.discord.violations == []


async def test_the_prompt_sent_puts_the_users_words_first_and_the_negative_always_carries_minor_terms(
    world: ImageWorld,
) -> None:
    place = world.place()
    await world.slash(place, "imagine", {"prompt": PROMPT, "negative": "blurry, extra fingers"})
    [sent] = world.generated()
    assert sent["prompt"].startswith(PROMPT)
    assert sent["negative_prompt"].startswith(MINOR_NEGATIVE_TERMS)
    assert "extra fingers" in sent["negative_prompt"]


async def test_a_negative_without_user_terms_still_carries_the_minor_terms(world: ImageWorld) -> None:
    place = world.place()
    await world.slash(place, "imagine", {"prompt": PROMPT})
    assert world.generated()[0]["negative_prompt"].startswith(MINOR_NEGATIVE_TERMS)


async def test_style_aspect_and_model_are_applied_within_the_models_constraints(world: ImageWorld) -> None:
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT, "style": "anime", "aspect": "16:9",
                                                  "model": "venice-sd35"})
    [sent] = world.generated()
    assert sent["style_preset"] == "Anime"  # Venice's exact spelling
    expected = size_for("16:9", ImageConstraints(divisor=16, steps_default=25, steps_max=30))
    assert (sent["width"], sent["height"]) == expected
    assert sent["width"] % 16 == 0 and sent["height"] % 16 == 0 and max(expected) <= 1280
    assert sent["steps"] == 25
    assert fields(image_message(handle))["Style"] == "Anime"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"prompt": PROMPT, "style": "Vaporwave Deluxe"}, "no style called"),
        ({"prompt": PROMPT, "model": "dall-e-9"}, "don't know an image model"),
        ({"prompt": PROMPT, "seed": 1_000_000_000}, "out of range"),
        ({"prompt": PROMPT, "seed": -1_000_000_000}, "out of range"),
        ({"prompt": "   "}, "can't be empty"),
        ({"prompt": PROMPT, "aspect": "7:5"}, "Unknown aspect"),
    ],
)
async def test_requests_that_break_a_constraint_are_refused_privately_without_a_generate_call(
    world: ImageWorld, options: dict, expected: str
) -> None:
    place = world.place()
    handle = await world.slash(place, "imagine", options)
    assert any(expected in text for text in ephemeral_texts(handle)), handle.requests
    assert world.generated() == []
    assert await world.records() == []
    assert handle.original is None or not handle.original["attachments"]


async def test_an_offline_model_is_named_and_not_called(world: ImageWorld) -> None:
    world.venice.offline.add("lustify-v8")
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": PROMPT, "model": "lustify-v8"})
    assert any("offline" in t for t in ephemeral_texts(handle))
    assert world.generated() == []


async def test_a_prompt_longer_than_the_model_allows_is_trimmed_and_says_so(world: ImageWorld) -> None:
    place = world.place()
    long_prompt = "a woman in a red dress standing in the rain, " * 60  # ~2,700 characters
    handle = await world.slash(place, "imagine", {"prompt": long_prompt[:4000]})
    [sent] = world.generated()
    assert len(sent["prompt"]) <= 1500
    assert sent["prompt"].startswith("a woman in a red dress")
    assert "Shortened to fit" in fields(image_message(handle))["Prompt sent"]


async def test_a_refused_prompt_makes_no_venice_call_and_is_audited(world: ImageWorld) -> None:
    place = world.place()
    before = len(world.venice.requests)
    handle = await world.slash(place, "imagine", {"prompt": "a 15 year old girl on a beach"})
    assert len(world.venice.requests) == before  # not even the catalogue
    texts = ephemeral_texts(handle)
    assert texts and "under 18" in texts[0] and "15" not in texts[0]
    assert [(a.kind, a.rule) for a in await world.audits()] == [("refusal", "minor_age")]
    assert await world.records() == []


async def test_a_negative_prompt_steering_away_from_adults_is_refused(world: ImageWorld) -> None:
    place = world.place()
    handle = await world.slash(place, "imagine", {"prompt": "a woman", "negative": "adult, mature body"})
    assert any("adults" in t for t in ephemeral_texts(handle))
    assert world.generated() == []


async def test_minor_terms_typed_into_the_negative_prompt_are_not_a_refusal(world: ImageWorld) -> None:
    place = world.place()
    await world.slash(place, "imagine", {"prompt": PROMPT, "negative": "child, teen, blurry"})
    assert len(world.generated()) == 1


@pytest.mark.parametrize("flag", ["contains_minor", "content_violation", "adult_violation"])
async def test_a_venice_safety_flag_posts_nothing_is_audited_and_not_retried(world: ImageWorld, flag: str) -> None:
    place = world.place()
    world.venice.inject(GENERATE, Fault.of(flag))
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    message = handle.original
    assert message is not None and message["attachments"] == [] and message["embeds"] == []
    assert "not posted" in message["content"]
    assert len(world.generated()) == 1
    [audit] = await world.audits("venice_flag")
    assert audit.rule.startswith("x-venice-") and audit.user_id == int(place.user["id"])
    assert (await world.records())[0].status == "failed"


@pytest.mark.parametrize("status", [400, 401, 402, 403, 500, 504])
async def test_venice_errors_edit_the_placeholder_with_their_wording_and_mark_the_record_failed(
    world: ImageWorld, status: int
) -> None:
    place = world.place()
    world.venice.inject(GENERATE, Fault.http(status, times=5))
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    wording = error_from_response(status, DEFAULT_BODIES[status], model="lustify-sdxl").user_message
    assert handle.original["content"] == f"⚠️ {wording}"
    assert [r.status for r in await world.records()] == ["failed"]


async def test_images_turned_off_in_the_channel_say_so_and_call_nothing(world: ImageWorld) -> None:
    place = world.place()
    await world.bot.services.settings.set(
        "images", False, scope="channel", scope_id=int(place.channel_id), guild_id=int(place.guild_id), by=1
    )
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    assert "Images are turned off in this channel." in ephemeral_texts(handle)
    assert world.generated() == []


async def test_the_cooldown_between_images_is_shown_privately(world: ImageWorld) -> None:
    place = world.place()
    await world.bot.services.settings.set("image_cooldown", 60, scope="guild", scope_id=int(place.guild_id),
                                        guild_id=int(place.guild_id), by=1)
    await world.slash(place, "imagine", {"prompt": PROMPT})
    second = await world.slash(place, "imagine", {"prompt": PROMPT})
    assert any("Cooldown" in t for t in ephemeral_texts(second))
    assert len(world.generated()) == 1


async def test_an_image_over_the_upload_limit_is_re_encoded_to_fit(world: ImageWorld) -> None:
    place = world.place()
    payload = world.discord.slash_payload(place.user, place, "imagine", {"prompt": PROMPT})
    payload["attachment_size_limit"] = 1500
    from tests.harness import invoke

    await invoke(world.bot, payload)
    message = image_message(world.discord.handle(payload))
    assert message["attachments"][0]["size"] <= 1500


async def test_a_429_from_venice_is_waited_out_visibly(world: ImageWorld) -> None:
    place = world.place()
    world.venice.inject(GENERATE, Fault.rate_limited(0.05, times=2))
    handle = await world.slash(place, "imagine", {"prompt": PROMPT})
    image_message(handle)
    edits = [r.json.get("content") for r in handle.requests if r.method == "PATCH"]
    assert any(e and "Venice is busy" in e for e in edits)
    assert len(world.generated()) == 3


# -- seeds ---------------------------------------------------------------------------------


async def test_a_locked_channel_seed_is_used_and_shown_unless_the_command_names_one(world: ImageWorld) -> None:
    place = world.place()
    await world.slash(place, "seed set", {"seed": 4242})
    locked = await world.slash(place, "imagine", {"prompt": PROMPT})
    named = await world.slash(place, "imagine", {"prompt": PROMPT, "seed": 7})
    first, second = world.generated()
    assert (first["seed"], second["seed"]) == (4242, 7)
    assert fields(image_message(locked))["Seed"] == "`4242` (channel lock)"
    assert fields(image_message(named))["Seed"] == "`7` (given)"


async def test_a_thread_inherits_its_parents_locked_seed(world: ImageWorld) -> None:
    thread = world.place("thread_parent_cached")
    parent_id = int(world.discord.world.channels[thread.channel_id]["parent_id"])
    from bot.store import channels

    await channels.set_seed(world.sessions, parent_id, int(thread.guild_id), 999, locked=True)
    await world.slash(thread, "imagine", {"prompt": PROMPT})
    assert world.generated()[0]["seed"] == 999


async def test_seed_random_unlocks_and_seed_show_tells(world: ImageWorld) -> None:
    place = world.place()
    await world.slash(place, "seed set", {"seed": 31337})
    shown = await world.slash(place, "seed show")
    assert "`31337`" in ephemeral_texts(shown)[0] and "locked" in ephemeral_texts(shown)[0]
    await world.slash(place, "seed random")
    await world.slash(place, "imagine", {"prompt": PROMPT})
    assert world.generated()[0]["seed"] != 31337
    shown = await world.slash(place, "seed show")
    assert "random" in ephemeral_texts(shown)[0]


async def test_seed_lock_locks_the_latest_images_seed(world: ImageWorld) -> None:
    place = world.place()
    first = await world.slash(place, "seed lock")
    assert any("no image in this channel" in t for t in ephemeral_texts(first))
    await world.slash(place, "imagine", {"prompt": PROMPT})
    seed = world.generated()[0]["seed"]
    await world.slash(place, "seed lock")
    await world.slash(place, "imagine", {"prompt": "another prompt"})
    assert world.generated()[1]["seed"] == seed


async def test_an_out_of_range_seed_cannot_be_locked(world: ImageWorld) -> None:
    place = world.place()
    handle = await world.slash(place, "seed set", {"seed": 10**12})
    assert any("out of range" in t for t in ephemeral_texts(handle))


# -- selfie --------------------------------------------------------------------------------


async def test_selfie_draws_the_channel_character_with_the_same_seed_every_time(world: ImageWorld) -> None:
    place = world.place()
    first = await world.slash(place, "selfie")
    await world.slash(place, "selfie", {"scene": "at the bar, winking"})
    one, two = world.generated()
    assert one["seed"] == two["seed"] == character_seed("builtin:scarlett")  # the built-in default
    assert "auburn hair" in one["prompt"] and "Scarlett" not in one["prompt"]
    assert two["prompt"].startswith("portrait selfie of") and "at the bar, winking" in two["prompt"]
    assert fields(image_message(first))["Seed"].endswith("(character)")
    records = await world.records()
    assert [r.kind for r in records] == ["selfie", "selfie"] and records[0].character_ref


async def test_selfie_of_a_custom_character_uses_its_locked_seed_and_appearance(world: ImageWorld) -> None:
    from sqlalchemy import update

    from bot.characters.model import Character
    from bot.store import channels
    from bot.store import characters as character_store
    from bot.store.models import CharacterRow

    place = world.place()
    vera = Character(name="Vera", description="{{char}} is a 34-year-old pilot.",
                     appearance="34-year-old woman, silver bob, grey eyes, flight jacket")
    vera_id = await character_store.create(world.sessions, vera, owner_id=int(place.user["id"]),
                                           guild_id=int(place.guild_id), shared=True)
    async with world.sessions.begin() as session:
        await session.execute(update(CharacterRow).where(CharacterRow.id == vera_id).values(seed=123456))
    await channels.set_character(world.sessions, int(place.channel_id), int(place.guild_id), f"custom:{vera_id}")

    await world.slash(place, "selfie")
    await world.slash(place, "selfie", {"scene": "in the cockpit"})
    one, two = world.generated()
    assert one["seed"] == two["seed"] == 123456
    assert "silver bob" in one["prompt"] and "silver bob" in two["prompt"] and "Vera" not in two["prompt"]
    assert {r.character_ref for r in await world.records()} == {f"custom:{vera_id}"}


async def test_a_refused_selfie_scene_makes_no_venice_call(world: ImageWorld) -> None:
    place = world.place()
    before = len(world.venice.requests)
    handle = await world.slash(place, "selfie", {"scene": "in her high school classroom, undressing"})
    assert ephemeral_texts(handle) and len(world.venice.requests) == before


# -- autocomplete --------------------------------------------------------------------------


async def test_style_and_model_autocomplete_answer_from_the_cached_catalogue(world: ImageWorld) -> None:
    place = world.place()
    from tests.harness import invoke

    payload = world.discord.autocomplete_payload(place.user, place, "imagine", "style", "an")
    await invoke(world.bot, payload)
    styles = [c["value"] for c in await world.discord.handle(payload).choices()]
    assert "Anime" in styles and all("an" in s.lower() for s in styles) and len(styles) <= 25

    payload = world.discord.autocomplete_payload(place.user, place, "imagine", "model", "lust")
    await invoke(world.bot, payload)
    models = [c["value"] for c in await world.discord.handle(payload).choices()]
    assert "lustify-sdxl" in models and all("lust" in m for m in models)


async def test_every_record_keeps_its_lineage(world: ImageWorld) -> None:
    place = world.place()
    await world.slash(place, "imagine", {"prompt": PROMPT})
    [record] = await world.records()
    chain = await store.lineage(world.sessions, record.id)
    assert [r.id for r in chain] == [record.id]
    assert await store.get(world.sessions, int(new_id())) is None


async def test_the_production_bot_with_every_cog_serves_imagine(
    bot: LustifyBot, fake_discord: FakeDiscord, fake_venice: FakeVenice
) -> None:
    from tests.harness import invoke, prime_place

    assert bot.services is not None
    await bot.tree.sync()  # the command shapes are checked against Discord's OpenAPI description
    names = {c.name for c in bot.tree.get_commands()}
    assert {"imagine", "selfie", "seed"} <= names
    assert all(c.nsfw for c in bot.tree.get_commands() if c.name in ("imagine", "selfie", "seed"))
    place = fake_discord.add_place("nsfw_text")
    prime_place(bot, place)
    payload = fake_discord.slash_payload(place.user, place, "imagine", {"prompt": PROMPT})
    await invoke(bot, payload)
    assert image_message(fake_discord.handle(payload))
    assert fake_venice.violations == [] and fake_discord.violations == []
