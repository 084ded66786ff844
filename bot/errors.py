"""Errors whose message is written for the Discord user who caused them."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix or should know; `user_message` is shown to them, ephemerally.

    `user_message` is the one attribute for user wording: `VeniceError` has the same one.
    """

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class LimitReached(UserError):
    """A cooldown, quota or concurrency limit; says which limit and when it resets."""


class Refused(UserError):
    """The content policy refused the input. The message says why, never repeats the content."""

    def __init__(self, user_message: str, rule: str) -> None:
        super().__init__(user_message)
        self.rule = rule


class CheckUnavailable(Refused):
    """The content check could not be done (the judge timed out or failed): refused, fail closed,
    without blaming anyone. Its rule is "judge_unavailable"."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "judge_unavailable")
