"""Avatar addresses that last: Discord's attachment URLs are signed and expire (about a day).

A Discord attachment URL carries its expiry as `ex=<unix seconds in hex>` (with `is` and `hm`);
past it the CDN answers 404 and a character posted through a webhook loses its face. The bot
keeps every custom character's picture itself (`characters.avatar_png`), so when the URL it has
is a Discord attachment URL that has expired or is about to, the picture is put where the bot can
renew its address: a message in the storage channel the operator names (`AVATAR_CHANNEL_ID`),
whose fresh URL Discord gives again whenever the message is fetched (`AvatarHost`, implemented
at the Discord edge in `bot/ui/avatar_host.py`). Links a person gave to other sites are used as
they are. The decisions here are plain functions.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qs, urlsplit

DISCORD_CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net", "cdn.discord.com"})
RENEW_MARGIN = 3 * 3600.0
"""Seconds before its expiry a URL is renewed: a message posted now keeps showing its face a while."""


def signed_expiry(url: str) -> float | None:
    """The unix time a signed Discord attachment URL stops working, or None when it is not one."""
    parts = urlsplit(url)
    if "/attachments/" not in parts.path:
        return None
    values = parse_qs(parts.query).get("ex")
    if not values:
        return None
    try:
        return float(int(values[0], 16))
    except ValueError:
        return None


def is_discord_attachment(url: str) -> bool:
    """A Discord attachment address (signed or from before signing, which no longer works)."""
    parts = urlsplit(url)
    return signed_expiry(url) is not None or (
        (parts.hostname or "") in DISCORD_CDN_HOSTS and "/attachments/" in parts.path)


def needs_renewal(url: str | None, now: float, margin: float = RENEW_MARGIN) -> bool:
    """Should this avatar URL be replaced by a renewed one? Only Discord attachment URLs expire."""
    if not url or not is_discord_attachment(url):
        return False
    expiry = signed_expiry(url)
    return expiry is None or expiry - now <= margin


class AvatarHost(Protocol):
    """Where the bot keeps avatar pictures so that their addresses can be renewed."""

    async def upload(self, png: bytes, filename: str) -> tuple[int, int, str]:
        """Store the picture; (channel id, message id, its URL now)."""

    async def refresh(self, channel_id: int, message_id: int) -> str | None:
        """The picture's URL now, or None when the stored message is gone."""

    async def remove(self, channel_id: int, message_id: int) -> None:
        """Delete a stored picture (its character was deleted); gone already is fine."""
