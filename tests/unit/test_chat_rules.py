"""Who may press what under a reply, and how a reply settles: plain functions, no Discord."""

from __future__ import annotations

import pytest

from bot.chat import rules
from bot.errors import UserError

OWNER, STRANGER, CHANNEL, OTHER_CHANNEL, GUILD = 7, 8, 500, 501, 11


def access(**overrides: object) -> None:
    values: dict[str, object] = {
        "reply_exists": True, "channel_id": CHANNEL, "guild_id": GUILD, "owner_id": OWNER, "user_id": OWNER,
        "where_channel": CHANNEL, "where_guild": GUILD, "moderator": False,
    }
    rules.check_access(**(values | overrides))  # type: ignore[arg-type]


def test_the_owner_may_use_their_replys_controls() -> None:
    access()


def test_a_stranger_may_not() -> None:
    with pytest.raises(UserError, match="Only the person who asked"):
        access(user_id=STRANGER)


def test_a_moderator_may() -> None:
    access(user_id=STRANGER, moderator=True)


def test_a_reply_nobody_owns_is_anyones() -> None:
    access(owner_id=None, user_id=STRANGER)


def test_a_reply_in_another_channel_does_not_exist_here_even_for_its_owner_or_a_moderator() -> None:
    for user, moderator in ((OWNER, False), (STRANGER, True)):
        with pytest.raises(UserError, match="no longer exists"):
            access(where_channel=OTHER_CHANNEL, user_id=user, moderator=moderator)


def test_a_reply_in_another_server_does_not_exist_here() -> None:
    with pytest.raises(UserError, match="no longer exists"):
        access(where_guild=GUILD + 1)


def test_whose_turn_it_was() -> None:
    assert rules.owner_of(OWNER, STRANGER) == OWNER  # who asked wins over who started
    assert rules.owner_of(None, STRANGER) == STRANGER  # a greeting: who started the conversation
    assert rules.owner_of(None, None) is None


@pytest.mark.parametrize(("archived", "latest", "streaming", "message"), [
    (True, 5, False, "archived"),
    (False, 6, False, "Only the latest reply"),
    (False, 5, True, "still being written"),
])
def test_only_the_latest_idle_reply_of_an_active_conversation_is_regenerated(
    archived: bool, latest: int, streaming: bool, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        rules.check_latest(archived=archived, latest_id=latest, reply_id=5, streaming=streaming)
    rules.check_latest(archived=False, latest_id=5, reply_id=5, streaming=False)


def test_a_conversation_is_deleted_by_its_starter_or_a_moderator() -> None:
    assert rules.may_delete_conversation(OWNER, OWNER, moderator=False)
    assert rules.may_delete_conversation(None, STRANGER, moderator=False)
    assert rules.may_delete_conversation(OWNER, STRANGER, moderator=True)
    assert not rules.may_delete_conversation(OWNER, STRANGER, moderator=False)


def test_an_edit_is_trimmed_and_bounded() -> None:
    assert rules.check_edit("  She smiles.  ") == "She smiles."
    with pytest.raises(UserError, match="can't be empty"):
        rules.check_edit("   ")
    with pytest.raises(UserError, match="4,000"):
        rules.check_edit("z" * 4001)


def test_a_new_reply_settles_into_its_only_swipe() -> None:
    assert rules.settle([""], 0, "Hello.", "complete") == rules.Settled("Hello.", ["Hello."], 0, "complete")


def test_a_regenerate_adds_a_swipe() -> None:
    assert rules.settle(["One.", ""], 1, "Two.", "complete") == rules.Settled("Two.", ["One.", "Two."], 1, "complete")


def test_a_failed_regenerate_drops_its_empty_swipe_and_shows_the_previous_one() -> None:
    assert rules.settle(["One.", ""], 1, "", "failed") == rules.Settled("One.", ["One."], 0, "complete")


def test_a_failed_first_reply_stays_failed() -> None:
    assert rules.settle([""], 0, "", "failed") == rules.Settled("", [""], 0, "failed")


def test_a_cut_reply_keeps_what_arrived() -> None:
    assert rules.settle(["One.", ""], 1, "Half", "cut") == rules.Settled("Half", ["One.", "Half"], 1, "cut")
