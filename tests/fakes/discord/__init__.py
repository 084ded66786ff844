"""A fake Discord (REST + gateway) on 127.0.0.1 for tests; see :class:`FakeDiscord`.

The package keeps the import path ``tests.fakes.discord`` that docs/architecture.md names.
"""

from .common import DiscordError, Recorded
from .drivers import InteractionHandle
from .openapi import ALLOWANCES, SPEC_PATH
from .ratelimit import Rule
from .server import FakeDiscord
from .state import InteractionRecord

__all__ = ["ALLOWANCES", "SPEC_PATH", "DiscordError", "FakeDiscord", "InteractionHandle",
           "InteractionRecord", "Recorded", "Rule"]
