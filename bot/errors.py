"""Errors whose message is written for the Discord user who caused them."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix or should know; `str(error)` is shown to them, ephemerally."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LimitReached(UserError):
    """A cooldown, quota or concurrency limit; says which limit and when it resets."""


class Refused(UserError):
    """The content policy refused the input. The message says why, never repeats the content."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class CheckUnavailable(Refused):
    """The content check could not be done (the judge timed out or failed): refused, fail closed,
    without blaming anyone. Its rule is "judge_unavailable"."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "judge_unavailable")
