"""Tests for `bot.safety`: the case table, the refusal wording, normalisation and the API edges."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import pytest

from bot import safety
from bot.safety import ALLOW, MAX_CHARS, RULES, Verdict, explain, screen, screen_many
from bot.safety.normalize import join_spaced, normalize, variants
from tests.unit.safety_cases import (
    IMAGE_MUST_ALLOW,
    IMAGE_MUST_REFUSE,
    KNOWN_LIMITS,
    MUST_ALLOW,
    MUST_REFUSE,
    Case,
)


def _ids(cases: list[Case]) -> list[str]:
    # One readable, unique id per case: the note plus the position (notes repeat).
    return [f"{i:03d}-{re.sub(r'[^a-z0-9]+', '_', note.lower()).strip('_')[:40]}" for i, (*_, note) in enumerate(cases)]


def _failure(text: str, for_image: bool) -> str:
    return f"{text!r}: explain() = {explain(text, for_image=for_image)!r}"


# --- the case table ------------------------------------------------------------------------


def test_table_size() -> None:
    """The issue's bar: at least 200 must-refuse and 200 must-allow cases (the table keeps 220+)."""
    assert len(MUST_REFUSE) >= 220
    assert len(MUST_ALLOW) >= 220
    texts = [t for t, _, _ in MUST_REFUSE + MUST_ALLOW]
    assert len(texts) == len(set(texts)), "duplicate cases"


@pytest.mark.parametrize(("text", "rule", "note"), MUST_REFUSE, ids=_ids(MUST_REFUSE))
def test_must_refuse(text: str, rule: str, note: str) -> None:
    verdict = screen(text)
    assert not verdict.allowed, _failure(text, False)
    assert verdict.rule == rule, _failure(text, False)


@pytest.mark.parametrize(("text", "rule", "note"), MUST_ALLOW, ids=_ids(MUST_ALLOW))
def test_must_allow(text: str, rule: None, note: str) -> None:
    assert screen(text) == ALLOW, _failure(text, False)


@pytest.mark.parametrize(("text", "rule", "note"), IMAGE_MUST_REFUSE, ids=_ids(IMAGE_MUST_REFUSE))
def test_image_must_refuse(text: str, rule: str, note: str) -> None:
    verdict = screen(text, for_image=True)
    assert not verdict.allowed, _failure(text, True)
    assert verdict.rule == rule, _failure(text, True)


@pytest.mark.parametrize(("text", "rule", "note"), IMAGE_MUST_ALLOW, ids=_ids(IMAGE_MUST_ALLOW))
def test_image_must_allow(text: str, rule: None, note: str) -> None:
    assert screen(text, for_image=True) == ALLOW, _failure(text, True)


def test_false_refusal_and_miss_rates(capsys: pytest.CaptureFixture[str]) -> None:
    """Rates over the whole table; the numbers are printed (run with -s, or see bench/)."""
    allow = [(t, False) for t, _, _ in MUST_ALLOW] + [(t, True) for t, _, _ in IMAGE_MUST_ALLOW]
    refuse = [(t, False) for t, _, _ in MUST_REFUSE] + [(t, True) for t, _, _ in IMAGE_MUST_REFUSE]
    false_refusals = [t for t, img in allow if not screen(t, for_image=img).allowed]
    misses = [t for t, img in refuse if screen(t, for_image=img).allowed]
    with capsys.disabled():
        print(
            f"\nsafety table: false-refusal rate {len(false_refusals)}/{len(allow)} "
            f"= {len(false_refusals) / len(allow):.2%}; miss rate {len(misses)}/{len(refuse)} "
            f"= {len(misses) / len(refuse):.2%}"
        )
    assert false_refusals == []
    assert misses == []


@pytest.mark.parametrize(("text", "rule", "note"), KNOWN_LIMITS, ids=_ids(KNOWN_LIMITS))
def test_known_limits_are_still_limits(text: str, rule: str, note: str) -> None:
    """A fixed limit belongs in MUST_ALLOW; this fails to say so."""
    assert screen(text).rule == rule, f"{text!r} is now allowed: move it to MUST_ALLOW"


def test_chat_text_never_triggers_the_image_only_rule() -> None:
    for text, _, _ in MUST_REFUSE:
        assert screen(text).rule != "real_person_image"


@pytest.mark.parametrize(
    "text",
    [t for t, rule, _ in IMAGE_MUST_REFUSE if rule == "real_person_image"],
)
def test_real_people_are_allowed_in_chat(text: str) -> None:
    """The real-person rule is for images; naming a celebrity in a story is not refused."""
    assert screen(text).rule != "real_person_image"


# --- refusal wording -------------------------------------------------------------------------

# Words the fixed reasons are built from; a case's own words may appear in a reason only if
# they are among these (e.g. "sexual", "school").
_REASON_WORDS = {w for rule in RULES.values() for w in re.findall(r"[a-z]+", rule.reason.lower())} | {
    w for prefix in safety.CONTEXTS.values() for w in re.findall(r"[a-z]+", prefix.lower())
}


@pytest.mark.parametrize(
    ("text", "for_image"),
    [(t, False) for t, _, _ in MUST_REFUSE] + [(t, True) for t, _, _ in IMAGE_MUST_REFUSE],
)
def test_reason_never_repeats_the_content(text: str, for_image: bool) -> None:
    verdict = screen(text, for_image=for_image)
    assert verdict.reason == RULES[verdict.rule].reason  # fixed per rule, never formatted with input
    reason_words = set(re.findall(r"[a-z]+", verdict.reason.lower()))
    distinctive = {w for w in re.findall(r"[a-z]+", normalize(text)) if len(w) >= 4} - _REASON_WORDS
    assert not distinctive & reason_words
    # No number from the text either, except the policy's own "18".
    assert set(re.findall(r"\d+", verdict.reason)) <= {"18", "20", "000"}
    # The words that triggered the rule are not echoed either (unless they are policy words).
    matched = set(re.findall(r"[a-z]+", (explain(text, for_image=for_image) or ("", ""))[1]))
    assert not (matched - _REASON_WORDS) & reason_words


@pytest.mark.parametrize("context", sorted(safety.CONTEXTS))
def test_context_changes_only_the_wording(context: str) -> None:
    verdict = screen("loli hentai", context=context)
    assert verdict.rule == "minor_term"
    assert verdict.reason.endswith(RULES["minor_term"].reason)
    assert verdict.reason.startswith(safety.CONTEXTS[context])


def test_image_context_implies_image_rules() -> None:
    assert screen("Taylor Swift naked", context="image").rule == "real_person_image"
    assert screen("Taylor Swift naked").allowed


# --- rules are documented ------------------------------------------------------------------


def test_every_rule_is_documented() -> None:
    used = {screen(t).rule for t, _, _ in MUST_REFUSE}
    used |= {screen(t, for_image=True).rule for t, _, _ in IMAGE_MUST_REFUSE}
    used |= {screen("x" * (MAX_CHARS + 1)).rule}
    assert used == set(RULES)
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert len(rule.description) > 40
        assert rule.reason.endswith(".")
    # Each rule function in bot.safety.rules carries its documentation.
    from bot.safety import rules

    for name in ("minor_age", "minor_term", "school_sexual", "real_person_image"):
        assert getattr(rules, name).__doc__


def test_minor_rules_match_the_policy_module() -> None:
    """bot.policy counts strikes for these ids; they must exist here."""
    policy = pytest.importorskip("bot.policy")
    assert set(policy.MINOR_RULES) <= set(RULES)


# --- API edges -------------------------------------------------------------------------------


def test_verdict_is_frozen() -> None:
    verdict = screen("hello")
    assert verdict is ALLOW or verdict == Verdict(True, "", "")
    with pytest.raises(FrozenInstanceError):
        verdict.allowed = False  # type: ignore[misc]


def test_too_long_is_refused_and_bounded() -> None:
    assert screen("a" * MAX_CHARS).allowed
    verdict = screen("a" * (MAX_CHARS + 1))
    assert (verdict.allowed, verdict.rule) == (False, "too_long")


def test_type_and_context_are_checked() -> None:
    with pytest.raises(TypeError):
        screen(b"loli")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context"):
        screen("hello", context="dm")


def test_screen_many_first_refusal_wins() -> None:
    assert screen_many(["A sultry 30-year-old witch.", "She loves candlelit sex."]) == ALLOW
    assert screen_many(["", "Age: 15", "loli"]).rule == "minor_age"
    assert screen_many(["Name: Vera", "", "shota"]).rule == "minor_term"
    assert screen_many([]) == ALLOW


def test_screen_many_reads_fields_together() -> None:
    """A minor-coded word in one field and sexual words in the next describe one character."""
    fields = ["Description: a shy kid from the village.", "Scenario: she undresses for you."]
    assert all(screen(f).allowed for f in fields)
    assert screen_many(fields).rule == "minor_term"


def test_screen_many_limits() -> None:
    assert screen_many(["a" * (MAX_CHARS + 1)]).rule == "too_long"
    assert screen_many(["a" * MAX_CHARS] * 6).rule == "too_long"
    assert screen_many(["a" * MAX_CHARS] * 5) == ALLOW
    assert screen_many(["x"], context="character").reason == ""


def test_screen_many_wording_defaults_to_character() -> None:
    assert screen_many(["loli"]).reason.startswith(safety.CONTEXTS["character"])


def test_negative_prompt_terms() -> None:
    terms = [t.strip() for t in safety.IMAGE_NEGATIVE_MINOR_TERMS.split(",")]
    for needed in ("child", "minor", "teen", "underage", "loli", "childlike", "young-looking", "school uniform"):
        assert needed in terms
    assert all(terms)


def test_pathological_input_finishes() -> None:
    """Inputs shaped to make regexes backtrack must still be screened (no timing asserted)."""
    for text in (
        "l." * 9_000,
        "1" * 19_000,
        "a " * 9_000,
        "15 " * 6_000,
        "- " * 9_000 + "loli",
        "she's " * 3_000,
        "kid " * 4_000 + "sex",
    ):
        screen(text[:MAX_CHARS])
        screen(text[:MAX_CHARS], for_image=True)
    assert screen("l o " * 4_000 + "l o l i").rule == "minor_term"
    assert screen("x l o l i").rule == "minor_term"  # a stray letter joins into the run


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＬＯＬＩ", "loli"),  # fullwidth
        ("𝐥𝐨𝐥𝐢", "loli"),  # mathematical bold
        ("ⓛⓞⓛⓘ", "loli"),  # circled
        ("🅻🅾🅻🅸", "loli"),  # negative squared
        ("🇱🇴🇱🇮", "loli"),  # regional indicators
        ("lо\u200bli", "loli"),  # Cyrillic о + zero-width space
        ("l\u0336o\u0336", "lo"),  # combining strike-through
        ("ʟᴏʟɪ", "loli"),  # small capitals
        ("ѕhοtа", "shota"),  # Cyrillic ѕ, Greek ο, Cyrillic а
        ("Café", "cafe"),  # accents folded
        ("a\u3164b", "ab"),  # Hangul filler
        ("a \t\n b", "a b"),  # whitespace runs
        ("15\u2010year\u2010old", "15-year-old"),  # Unicode hyphen
        ("she’s", "she's"),  # curly apostrophe
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("l o l i", "loli"),
        ("k.i.d", "kid"),
        ("c-h-i-l-d", "child"),
        ("l_o_l_i", "loli"),
        ("c.p", "cp"),
        ("i a", "i a"),  # two lone letters with a space are ordinary
        ("lol i was", "lol i was"),  # a word beside a letter is not a run
        ("1 5 y o", "15yo"),
        ("a k i d", "akid a kid"),  # a leading article is also kept apart
    ],
)
def test_join_spaced(raw: str, expected: str) -> None:
    assert join_spaced(raw) == expected


def test_leetspeak_variants() -> None:
    _, forms = variants("l0l1 and 1o1i, $h0ta, k!d, |o|i")
    joined = " ".join(forms)
    for word in ("loli", "shota", "kid"):
        assert word in joined
    # Bare numbers stay numbers: leetspeak applies only inside words.
    digits, forms = variants("4 kids, room 15")
    assert all("room 15" in f for f in forms)
    assert digits == ("4 kids, room 15",)


def test_ascii_fast_path_matches_unicode_path() -> None:
    text = "She's 15, Loli; K.I.D!"
    assert normalize(text) == normalize(text + "\u200b")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: "\u200b".join(s),  # zero-width between every character
        lambda s: s.upper(),
        lambda s: s.translate(str.maketrans("aeopcx", "аеорсх")),  # Cyrillic look-alikes
        lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),  # fullwidth
    ],
    ids=["zero_width", "upper", "cyrillic", "fullwidth"],
)
def test_character_level_obfuscation_never_changes_the_verdict(mutate) -> None:  # type: ignore[no-untyped-def]
    """Obfuscation that normalisation fully undoes must not change any verdict in the table."""
    for text, _, _ in MUST_REFUSE + MUST_ALLOW:
        assert screen(mutate(text)).rule == screen(text).rule, text


def test_age_windows_find_what_a_full_scan_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Age patterns run only around numbers and age words (for speed); that must never hide a match."""
    from bot.safety import ages

    cases = MUST_REFUSE + MUST_ALLOW
    windowed = [explain(t) for t, _, _ in cases]
    monkeypatch.setattr(ages, "_windows", lambda text: [(0, len(text))])
    assert [explain(t) for t, _, _ in cases] == windowed


def test_explain_names_the_rule_and_the_words() -> None:
    assert explain("she's 15") == ("minor_age", "she's 15")
    assert explain("hello there") is None
    assert explain("x" * (MAX_CHARS + 1)) == ("too_long", "")
    assert explain("Taylor Swift naked", for_image=True) == ("real_person_image", "taylor swift")


def test_spaced_runs_are_searched_without_word_boundaries() -> None:
    from bot.safety.normalize import spaced_runs

    assert "xloli" in spaced_runs("x l o l i")
    assert "loli" in spaced_runs("l 0 l 1")  # every leet reading of the run
    assert spaced_runs("a b") == []  # too short to hide a term
    # "between" spaced out must not read as "tween": only terms that are never inside an
    # ordinary word are searched inside runs.
    assert screen("it's b e t w e e n us, come to bed naked").allowed
    assert screen("t o r p e d o, then sex").allowed
