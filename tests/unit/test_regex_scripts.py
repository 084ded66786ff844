"""A card's regex_scripts, as SillyTavern's Regex extension applies them (extensions/regex/engine.js)."""

from __future__ import annotations

from typing import Any

from bot.characters.regex_scripts import Placement, apply, display_text, prompt_text, scripts_of, stored_text

STATE = "Hi.<state>hp=3\nmood=warm</state>"


def script(**fields: Any) -> dict[str, Any]:
    base = {"scriptName": "s", "findRegex": "", "replaceString": "", "trimStrings": [], "placement": [2],
            "disabled": False, "markdownOnly": False, "promptOnly": False, "runOnEdit": True,
            "substituteRegex": 0, "minDepth": None, "maxDepth": None}
    return {**base, **fields}


def scripts(*items: dict[str, Any]) -> list[Any]:
    return scripts_of({"regex_scripts": list(items)})


HIDE = script(findRegex=r"/<state>[\s\S]*?<\/state>/g", markdownOnly=True)


def test_a_display_only_script_hides_a_state_block_from_the_reader() -> None:
    assert display_text(STATE, scripts(HIDE)) == "Hi."


def test_a_display_only_script_leaves_the_stored_text_and_the_prompt_alone() -> None:
    assert stored_text(STATE, scripts(HIDE)) == STATE
    assert prompt_text(STATE, scripts(HIDE), depth=0) == STATE


def test_a_prompt_only_script_changes_only_what_the_model_sees() -> None:
    only = scripts(script(findRegex="/mood=\\w+/", replaceString="", promptOnly=True))
    assert prompt_text(STATE, only, depth=0) == "Hi.<state>hp=3\n</state>"
    assert display_text(STATE, only) == STATE == stored_text(STATE, only)


def test_a_plain_script_changes_the_reply_before_it_is_stored() -> None:
    plain = scripts(script(findRegex="/Hi\\./", replaceString="Hello."))
    assert stored_text(STATE, plain).startswith("Hello.")
    assert display_text("Hi.", plain) == "Hi."  # already applied when stored: not run again for display


def test_without_the_g_flag_only_the_first_match_is_replaced() -> None:
    assert apply("a a a", scripts(script(findRegex="/a/", replaceString="b")), Placement.AI_OUTPUT) == "b a a"
    assert apply("a a a", scripts(script(findRegex="/a/g", replaceString="b")), Placement.AI_OUTPUT) == "b b b"


def test_groups_match_macro_and_trim_strings() -> None:
    s = scripts(script(findRegex=r"/\[(\w+)\]/g", replaceString="<{{match}}|$1|$2>", trimStrings=["x"]))
    assert apply("[axb]", s, Placement.AI_OUTPUT) == "<[ab]|ab|>"


def test_a_pattern_without_slashes_is_used_as_it_is() -> None:
    assert apply("a.b", scripts(script(findRegex="a.b", replaceString="ok")), Placement.AI_OUTPUT) == "ok"


def test_placement_decides_which_messages_a_script_touches() -> None:
    s = scripts(script(findRegex="/x/g", replaceString="y", placement=[1]))
    assert prompt_text("x", s, depth=0, user=True) == "y"
    assert prompt_text("x", s, depth=0) == "x"


def test_min_and_max_depth_limit_a_script_to_some_messages() -> None:
    s = scripts(script(findRegex="/x/g", replaceString="y", promptOnly=True, minDepth=1, maxDepth=2))
    assert [prompt_text("x", s, depth=d) for d in range(4)] == ["x", "y", "y", "x"]


def test_disabled_and_malformed_scripts_do_nothing() -> None:
    s = scripts(script(findRegex="/x/", replaceString="y", disabled=True), {"findRegex": 3}, "junk")  # type: ignore[arg-type]
    assert apply("x", s, Placement.AI_OUTPUT) == "x"


def test_a_script_re2_cannot_run_is_skipped() -> None:
    assert apply("ab", scripts(script(findRegex="/a(?=b)/", replaceString="z")), Placement.AI_OUTPUT) == "ab"


def test_substitute_regex_expands_macros_in_the_pattern() -> None:
    s = scripts(script(findRegex="/{{char}}/g", replaceString="she", substituteRegex=1))
    assert apply("Mira waves", s, Placement.AI_OUTPUT, macros=lambda t: t.replace("{{char}}", "Mira")) == "she waves"


def test_output_is_bounded() -> None:
    s = scripts(script(findRegex="/(?:)/g", replaceString="x" * 1000))
    assert len(apply("a" * 10_000, s, Placement.AI_OUTPUT)) < 300_000
