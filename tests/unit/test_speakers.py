"""Who speaks next in a group scene (`bot.chat.speakers`): plain values and seeded generators."""

from __future__ import annotations

import itertools
import random

import pytest

from bot.characters.model import Character
from bot.chat.speakers import (
    DEFAULT_CHAIN_LIMIT,
    DEFAULT_TALKATIVENESS,
    Order,
    Speaker,
    addressed,
    after_reply,
    answer_user,
    cast_speakers,
    everyone,
    join_problem,
    may_chain,
    natural,
    next_speaker,
    order_of,
    round_robin,
    speaker,
    talkativeness_of,
)
from bot.store.cast import CastView
from bot.store.cast import Member as StoredMember

ALICE = Speaker("custom:1", "Alice Vey", 0)
BOB = Speaker("venice:bob", "Bob", 1)
CAROL = Speaker("builtin:carol", "Carol", 2)
CAST = [ALICE, BOB, CAROL]


def rng(seed: int = 0) -> random.Random:
    return random.Random(seed)


# -- addressing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Bob, pour me one.", "what do you think, bob?", "hey BOB", "@Bob come here", "*looks at Bob*",
])
def test_a_named_character_answers(text: str) -> None:
    assert answer_user(text, CAST, "natural", Order(last_speaker=BOB.ref), rng()) == [BOB.ref]


def test_several_named_answer_in_the_order_named() -> None:
    assert addressed("Carol and Bob, and you too Alice", CAST) == [CAROL.ref, BOB.ref, ALICE.ref]


@pytest.mark.parametrize("text", ["Alice", "Vey", "alice vey", "Miss Vey?"])
def test_first_name_surname_and_full_name_all_address(text: str) -> None:
    assert addressed(text, CAST) == [ALICE.ref]


def test_a_nickname_addresses() -> None:
    ali = Speaker("custom:1", "Alexandra", 0, nickname="Lexi")

    assert addressed("lexi, sit down", [ali, BOB]) == [ali.ref]


@pytest.mark.parametrize("text", ["Bobby is here", "bobsled", "Carolina", "alicevey"])
def test_only_whole_words_address(text: str) -> None:
    assert addressed(text, CAST) == []


@pytest.mark.parametrize("text", ["Lady, please", "the captain said so"])
def test_titles_alone_address_nobody(text: str) -> None:
    lady = Speaker("custom:5", "Lady Captain Morgana", 0)

    assert addressed(text, [lady, BOB]) == []


@pytest.mark.parametrize("text", [
    "I hope you will come tonight", "Will you come?", "you may go", "Hope is all we have.", "hope, yes",
])
def test_names_that_are_ordinary_words_do_not_wake_on_ordinary_use(text: str) -> None:
    will, may, hope = Speaker("c:1", "Will", 0), Speaker("c:2", "May", 1), Speaker("c:3", "Hope", 2)

    assert addressed(text, [will, may, hope]) == []


@pytest.mark.parametrize(("text", "who"), [
    ("I told Will about it", "c:1"), ("Will, come here", "c:1"), ("thanks, May!", "c:2"),
    ("@hope you there?", "c:3"), ("*turns to Hope*", "c:3"), ("Hope? Are you awake", "c:3"),
])
def test_names_that_are_ordinary_words_answer_when_used_as_names(text: str, who: str) -> None:
    will, may, hope = Speaker("c:1", "Will", 0), Speaker("c:2", "May", 1), Speaker("c:3", "Hope", 2)

    assert addressed(text, [will, may, hope]) == [who]


def test_a_word_two_members_share_addresses_neither() -> None:
    jo, jim = Speaker("c:1", "Jo Smith", 0), Speaker("c:2", "Jim Smith", 1)

    assert addressed("Smith, over here", [jo, jim]) == []
    assert addressed("Jim Smith, over here", [jo, jim]) == [jim.ref]


def test_names_without_spaces_between_words_match_inside_text() -> None:
    yuki = Speaker("c:1", "小雪", 0)

    assert addressed("我喜欢小雪的笑容", [yuki, BOB]) == [yuki.ref]


def test_replying_to_a_characters_message_asks_that_character() -> None:
    assert answer_user("go on", CAST, "natural", Order(), rng(), replied_to=CAROL.ref) == [CAROL.ref]


def test_a_name_wins_over_the_message_replied_to() -> None:
    assert answer_user("Bob, your turn", CAST, "natural", Order(), rng(), replied_to=CAROL.ref) == [BOB.ref]


def test_a_reply_to_someone_no_longer_in_the_scene_is_ignored() -> None:
    assert addressed("go on", CAST, replied_to="custom:99") == []


# -- modes ----------------------------------------------------------------------------------------


def test_round_robin_goes_round_the_cast_in_order() -> None:
    order, spoken = Order(), []
    members = list(CAST)
    for _ in range(5):
        (ref,) = answer_user("and then?", members, "round_robin", order, rng())
        spoken.append(ref)
        members, order = after_reply(members, order, ref, answers_user=True)

    assert spoken == [ALICE.ref, BOB.ref, CAROL.ref, ALICE.ref, BOB.ref]


def test_round_robin_continues_after_a_removed_member() -> None:
    assert round_robin([ALICE, CAROL], last_position=BOB.position) == CAROL.ref
    assert round_robin([ALICE, BOB], last_position=CAROL.position) == ALICE.ref


def test_everyone_answers_once_in_cast_order() -> None:
    assert answer_user("hello all", CAST, "everyone", Order(last_speaker=CAROL.ref), rng()) == [
        ALICE.ref, BOB.ref, CAROL.ref,
    ]


def test_in_everyone_mode_the_last_speaker_goes_last() -> None:
    assert everyone(CAST, last_speaker=ALICE.ref) == [BOB.ref, CAROL.ref, ALICE.ref]


def test_in_everyone_mode_naming_someone_asks_only_them() -> None:
    assert answer_user("Carol?", CAST, "everyone", Order(), rng()) == [CAROL.ref]


def test_natural_never_picks_the_last_speaker_when_others_can_talk() -> None:
    picks = {natural(CAST, rng(seed), banned=BOB.ref) for seed in range(200)}

    assert picks == {ALICE.ref, CAROL.ref}


def test_natural_lets_a_lone_character_speak_again() -> None:
    assert natural([BOB], rng(), banned=BOB.ref) == BOB.ref


def test_natural_follows_talkativeness() -> None:
    shy, chatty = Speaker("c:1", "Shy", 0, talkativeness=0.1), Speaker("c:2", "Chatty", 1, talkativeness=0.9)
    picks = [natural([shy, chatty, BOB], rng(seed), banned=BOB.ref) for seed in range(1000)]

    assert picks.count(chatty.ref) > 3 * picks.count(shy.ref)


def test_a_character_with_talkativeness_zero_speaks_only_when_named() -> None:
    mute = Speaker("c:1", "Mute", 0, talkativeness=0.0, silence=50)

    assert {natural([mute, BOB, CAROL], rng(seed), banned=BOB.ref) for seed in range(200)} == {CAROL.ref}
    assert addressed("Mute, say something", [mute, BOB]) == [mute.ref]


def test_a_long_silent_character_speaks_next() -> None:
    quiet = Speaker("c:1", "Quiet", 0, talkativeness=0.05, silence=4)

    assert {natural([quiet, BOB, CAROL], rng(seed), banned=BOB.ref) for seed in range(50)} == {quiet.ref}


def test_the_same_seed_gives_the_same_choices() -> None:
    def run(seed: int) -> list[str]:
        r = rng(seed)
        return [natural(CAST, r, banned=None) for _ in range(20)]

    assert run(7) == run(7)


# -- chains ---------------------------------------------------------------------------------------


def test_next_picks_someone_else_in_natural_mode() -> None:
    for seed in range(100):
        assert next_speaker(CAST, "natural", Order(last_speaker=CAROL.ref), rng(seed)) in {ALICE.ref, BOB.ref}


def test_next_answers_a_character_the_last_reply_named() -> None:
    order = Order(last_speaker=CAROL.ref, last_position=CAROL.position)

    assert next_speaker(CAST, "natural", order, rng(), last_reply="*Carol winks at Bob.*") == BOB.ref


def test_next_takes_the_rotation_in_round_robin_and_everyone() -> None:
    order = Order(last_speaker=ALICE.ref, last_position=ALICE.position)

    assert next_speaker(CAST, "round_robin", order, rng()) == BOB.ref
    assert next_speaker(CAST, "everyone", order, rng()) == BOB.ref


def test_characters_answering_each_other_stop_at_the_cap() -> None:
    order, members, chain = Order(last_speaker=ALICE.ref, last_position=0), list(CAST), []
    while (ref := next_speaker(members, "natural", order, rng(len(chain)))) is not None:
        chain.append(ref)
        order = Order(order.last_speaker, order.last_position, order.chained + 1)  # claimed
        members, order = after_reply(members, order, ref, answers_user=False)

    assert len(chain) == DEFAULT_CHAIN_LIMIT
    assert not may_chain(order.chained)


def test_a_user_message_lifts_the_cap() -> None:
    order = Order(last_speaker=BOB.ref, chained=DEFAULT_CHAIN_LIMIT)
    _members, order = after_reply(CAST, order, ALICE.ref, answers_user=True)

    assert order.chained == 0 and may_chain(order.chained)


# -- properties over many seeds --------------------------------------------------------------------


@pytest.mark.parametrize("talk", [(0.5, 0.5, 0.5), (0.1, 0.5, 0.9), (0.2, 0.2, 1.0), (1.0, 1.0, 1.0)])
def test_ten_messages_in_natural_mode_let_everyone_speak_and_nobody_twice_in_a_row(talk: tuple[float, ...]) -> None:
    for seed in range(400):
        r = rng(seed)
        members = [Speaker(f"c:{i}", name, i, talkativeness=t) for i, (name, t) in
                   enumerate(zip(("Ann", "Ben", "Cat"), talk, strict=True))]
        order, spoken = Order(), []
        for _ in range(10):
            for ref in answer_user("and what happens next?", members, "natural", order, r):
                spoken.append(ref)
                members, order = after_reply(members, order, ref, answers_user=True)

        assert set(spoken) == {"c:0", "c:1", "c:2"}, (seed, spoken)
        assert all(a != b for a, b in itertools.pairwise(spoken)), (seed, spoken)


def test_a_lone_character_answers_every_message() -> None:
    order, members = Order(), [BOB]
    for seed in range(10):
        assert answer_user("hm?", members, "natural", order, rng(seed)) == [BOB.ref]
        members, order = after_reply(members, order, BOB.ref, answers_user=True)


# -- cards and joining ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [
    ("0.8", 0.8), (0.3, 0.3), ("7", 1.0), (-1, 0.0), ("loud", DEFAULT_TALKATIVENESS), (None, DEFAULT_TALKATIVENESS),
    ("nan", DEFAULT_TALKATIVENESS),
])
def test_talkativeness_comes_from_the_card_within_bounds(raw: object, value: float) -> None:
    extensions = {} if raw is None else {"talkativeness": raw}

    assert talkativeness_of(Character(name="X", extensions=extensions)) == value


def test_a_speaker_carries_the_cards_nickname_and_talkativeness() -> None:
    card = Character(name="Alexandra", extensions={"talkativeness": "0.9"}, card_extra={"nickname": "Lexi"})

    member = speaker(card, ref="custom:3", position=2, silence=1)

    assert (member.nickname, member.talkativeness, member.position, member.silence) == ("Lexi", 0.9, 2, 1)


@pytest.mark.parametrize(("ref", "name", "problem"), [
    ("venice:bob", "Bob", "already in this scene"),
    ("custom:9", "carol", "already a **carol**"),
    ("x:" + "y" * 120, "Long", "too long"),
])
def test_who_cannot_join(ref: str, name: str, problem: str) -> None:
    found = join_problem(CAST, ref=ref, name=name, max_cast=5)

    assert found is not None and problem in found


def test_a_full_cast_takes_nobody_else() -> None:
    found = join_problem(CAST, ref="custom:9", name="Dana", max_cast=3)

    assert found is not None and "already has 3 characters" in found


def test_a_new_character_may_join() -> None:
    assert join_problem(CAST, ref="custom:9", name="Dana", max_cast=5) is None


def test_the_stored_cast_becomes_speakers_without_the_characters_that_are_gone() -> None:
    view = CastView(conversation_id=1, mode="natural", last_speaker="c:2", last_position=4, replies=9, chained=1,
                    members=(StoredMember("c:1", "Ann", 0, 3, None), StoredMember("c:gone", "Old", 2, 0, None),
                             StoredMember("c:2", "Ben", 4, 0, 7)))
    cards = {"c:1": Character(name="Ann", extensions={"talkativeness": "0.2"}), "c:2": Character(name="Ben")}

    assert cast_speakers(view, cards) == [Speaker("c:1", "Ann", 0, 0.2, "", 3), Speaker("c:2", "Ben", 4)]
    assert order_of(view) == Order(last_speaker="c:2", last_position=4, chained=1)
