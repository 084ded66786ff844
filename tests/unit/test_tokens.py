"""Token estimates: sane for every kind of text, cheap, and corrected by Venice's counts."""

from __future__ import annotations

import pickle
import time

import pytest

from bot.chat.tokens import (
    MESSAGE_OVERHEAD,
    RATIO_MAX,
    RATIO_MIN,
    REPLY_PRIMING,
    TokenCalibrator,
    estimate,
    estimate_messages,
)

ROLEPLAY = (
    '*Scarlett leans across the bar, resting her chin on one hand.* "You look like you had a long day. '
    "Tell me about it, and I'll decide whether it earns you the good whiskey or the cheap stuff.\""
)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("", 0, 0),
        ("a", 1, 1),
        ("Hello", 1, 3),
        ("I am a cat", 3, 6),  # short words: about a token each
        ("internationalization", 2, 6),
        ("hello world this is a normal English sentence.", 9, 15),
        (ROLEPLAY, 40, 70),
        ("你好世界，今天天气很好", 9, 20),  # CJK: about a token per character
        ("😀😀😀", 3, 12),  # emoji fall back to byte tokens
        ("Привет, как дела?", 6, 14),
        ("café crème brûlée", 4, 10),
    ],
)
def test_estimate_is_within_sane_bounds(text: str, low: int, high: int) -> None:
    assert low <= estimate(text) <= high


def test_english_prose_is_about_chars_over_3_6() -> None:
    text = ROLEPLAY * 20
    assert len(text) / 4.5 <= estimate(text) <= len(text) / 3.0


def test_cjk_and_emoji_cost_more_per_character_than_latin() -> None:
    assert estimate("你" * 100) > estimate("a " * 50) * 2
    assert estimate("😀" * 50) > estimate("你" * 50)


def test_estimate_grows_with_text() -> None:
    assert estimate(ROLEPLAY * 2) >= estimate(ROLEPLAY) * 2 - 1


def test_estimate_messages_adds_overhead_per_message() -> None:
    messages = [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hi"}]
    expected = REPLY_PRIMING + 2 * MESSAGE_OVERHEAD + estimate("Be nice.") + estimate("Hi")
    assert estimate_messages(messages) == expected
    assert estimate_messages([]) == 0


def test_estimate_messages_counts_name_and_text_parts() -> None:
    named = [{"role": "user", "content": "Hi", "name": "Alex"}]
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hi there"}, {"type": "image_url"}]}]
    assert estimate_messages(named) > estimate_messages([{"role": "user", "content": "Hi"}])
    assert estimate_messages(parts) == REPLY_PRIMING + MESSAGE_OVERHEAD + estimate("Hi there")


def test_estimate_is_cheap_enough_for_100k_messages() -> None:
    messages = [f"{ROLEPLAY} #{i}" for i in range(100_000)]
    start = time.perf_counter()
    total = sum(estimate(m) for m in messages)
    assert total > 0
    assert time.perf_counter() - start < 2.0  # measured well under 0.2 s; generous for slow CI


def test_calibrator_converges_to_the_true_ratio() -> None:
    calibrator = TokenCalibrator()
    for estimated in (1000, 1200, 900, 1500, 800, 1100, 1300, 1000, 950, 1050) * 3:
        calibrator.observe(estimated, round(estimated * 1.3))
    assert calibrator.ratio == pytest.approx(1.3, abs=0.01)
    assert calibrator.adjust(1000) == pytest.approx(1300, abs=10)


def test_calibrator_smooths_one_outlier() -> None:
    calibrator = TokenCalibrator(ratio=1.2, samples=10)
    calibrator.observe(1000, 2400)
    assert 1.2 < calibrator.ratio < 1.6


@pytest.mark.parametrize(("estimated", "actual", "expected"), [(100, 10, RATIO_MIN), (100, 10_000, RATIO_MAX)])
def test_calibrator_ratio_is_clamped(estimated: int, actual: int, expected: float) -> None:
    calibrator = TokenCalibrator()
    for _ in range(20):
        calibrator.observe(estimated, actual)
    assert calibrator.ratio == expected


@pytest.mark.parametrize(("estimated", "actual"), [(0, 100), (100, 0), (-5, 10)])
def test_calibrator_ignores_nonsense(estimated: int, actual: int) -> None:
    calibrator = TokenCalibrator()
    calibrator.observe(estimated, actual)
    assert calibrator.ratio == 1.0
    assert calibrator.samples == 0


def test_adjust_and_unadjust_round_to_the_safe_side() -> None:
    for ratio in (0.5, 0.77, 1.0, 1.1, 1.37, 2.5):
        calibrator = TokenCalibrator(ratio=ratio)
        for tokens in (1, 7, 100, 4095, 32_000, 131_072):
            assert calibrator.adjust(calibrator.unadjust(tokens)) <= tokens
        assert calibrator.adjust(1000) >= 1000 * ratio


def test_calibrator_state_pickles() -> None:
    calibrator = TokenCalibrator()
    calibrator.observe(1000, 1250)
    restored = pickle.loads(pickle.dumps(calibrator))
    assert restored == calibrator
    assert TokenCalibrator(ratio=restored.ratio).adjust(400) == calibrator.adjust(400)
