"""Which avatar URLs expire and when they are renewed (bot.characters.avatar_urls)."""

from __future__ import annotations

from bot.characters.avatar_urls import RENEW_MARGIN, is_discord_attachment, needs_renewal, signed_expiry

SIGNED = "https://cdn.discordapp.com/attachments/1/2/ivy.png?ex=6a000000&is=69feae80&hm=abc&"


def test_signed_expiry_is_the_ex_parameter() -> None:
    assert signed_expiry(SIGNED) == float(0x6A000000)
    assert signed_expiry("https://cdn.discordapp.com/attachments/1/2/ivy.png?ex=zz") is None
    assert signed_expiry("https://example.com/pic.png?ex=6a000000") is None  # not an attachment path


def test_only_discord_attachment_urls_are_renewed() -> None:
    expiry = float(0x6A000000)
    assert not needs_renewal(SIGNED, expiry - RENEW_MARGIN - 1)
    assert needs_renewal(SIGNED, expiry - RENEW_MARGIN + 1)
    assert needs_renewal(SIGNED, expiry + 1)
    unsigned = "https://cdn.discordapp.com/attachments/1/2/old.png"
    assert is_discord_attachment(unsigned) and needs_renewal(unsigned, 0)  # unsigned links no longer work
    assert not needs_renewal("https://files.example.org/attachments/ivy.png", 1e12)
    assert not needs_renewal("https://cdn.discordapp.com/avatars/1/abc.png", 1e12)  # user avatars do not expire
    assert not needs_renewal(None, 0) and not needs_renewal("", 0)
