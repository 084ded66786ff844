"""Character cards: V1/V2/V3 as PNG, JSON and .charx, imported, exported and imported again.

The cards are built by `tests/cardgen.py` from the specs, not by the code under test.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.characters.cards import (
    MAX_CARD_BYTES,
    TOP_LEVEL_KEY,
    CardError,
    export_card_json,
    export_card_png,
    parse_card,
    parse_card_with_avatar,
)
from bot.characters.model import Character, LoreEntry
from tests import cardgen

BOOK = cardgen.character_book(
    [
        cardgen.lore_entry(
            ["tavern", "inn"],
            "The Gilded Goose is a rowdy tavern.",
            insertion_order=5,
            case_sensitive=True,
            selective=True,
            secondary_keys=["ale"],
            priority=40,
            position="after_char",
            name="Tavern",
            comment="main location",
            id=7,
            extensions={"position": 1, "depth": 4, "probability": 100},
        ),
        cardgen.lore_entry(["x"], "Always here.", constant=True, enabled=False, id="uuid-1"),
    ],
    name="Mira's world",
    description="places",
    scan_depth=4,
    token_budget=300,
    recursive_scanning=True,
    extensions={"world": "mira"},
)
EXTENSIONS = {
    "depth_prompt": {"prompt": "stay in character", "depth": 4},
    "someapp/voice": ["alto", 2],
    "lustify": {"appearance": "tall, silver hair", "theme": "dark"},
}
FIELDS: dict[str, Any] = {
    "name": "Mira",
    "description": "{{char}} is a sellsword.",
    "personality": "blunt",
    "scenario": "{{user}} hires {{char}}.",
    "first_mes": "*Mira looks up.* What?",
    "mes_example": "<START>\n{{char}}: Pay first.",
    "creator_notes": "Try the tavern.",
    "system_prompt": "{{original}} Write as Mira.",
    "post_history_instructions": "Stay terse.",
    "alternate_greetings": ["Hm?", "You again."],
    "tags": ["fantasy", "mercenary"],
    "creator": "anon",
    "character_version": "1.2",
    "extensions": EXTENSIONS,
    "character_book": BOOK,
}
ST_TOP = {"fav": False, "talkativeness": "0.5", "create_date": "2024-1-1", "name": "Mira", "first_mes": "x"}
V3_ONLY: dict[str, Any] = {
    "nickname": "Mi",
    "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
    "creator_notes_multilingual": {"en": "Try the tavern.", "de": "Probier die Taverne."},
    "source": ["https://example.org/mira"],
    "group_only_greetings": ["Hello, all of you."],
    "creation_date": 1700000000,
    "modification_date": 1700000500,
}
V2 = cardgen.v2_card(top=ST_TOP, **FIELDS, x_unknown={"kept": True})
V3 = cardgen.v3_card(top={"x_top": 1}, **FIELDS, **V3_ONLY)


def assert_same_character(got: Character, want: Character) -> None:
    for field in fields(Character):
        assert getattr(got, field.name) == getattr(want, field.name), field.name


# --- import --------------------------------------------------------------------------------------


def test_v2_png_card_maps_every_field() -> None:
    char = parse_card(cardgen.v2_png(V2), "mira.png")
    for key in ("name", "description", "scenario", "first_mes", "mes_example", "system_prompt"):
        assert getattr(char, key) == FIELDS[key]
    assert char.alternate_greetings == ["Hm?", "You again."]
    assert (char.tags, char.creator, char.character_version) == (["fantasy", "mercenary"], "anon", "1.2")
    assert char.creator_notes == "Try the tavern."
    assert char.post_history_instructions == "Stay terse."
    assert char.source == "custom"


def test_lorebook_entries_keep_every_spec_field() -> None:
    book = parse_card(cardgen.card_json(V3)).lorebook
    assert book is not None
    assert (book.name, book.description, book.scan_depth, book.token_budget) == ("Mira's world", "places", 4, 300)
    assert book.recursive_scanning is True and book.extensions == {"world": "mira"}
    assert book.entries[0] == LoreEntry(
        keys=["tavern", "inn"],
        content="The Gilded Goose is a rowdy tavern.",
        insertion_order=5,
        case_sensitive=True,
        selective=True,
        secondary_keys=["ale"],
        priority=40,
        position="after_char",
        name="Tavern",
        comment="main location",
        id=7,
        extensions={"position": 1, "depth": 4, "probability": 100},
    )
    assert book.entries[1].constant and not book.entries[1].enabled and book.entries[1].id == "uuid-1"


def test_use_regex_is_read_from_v3_entries() -> None:
    card = cardgen.v3_card(
        name="R", character_book=cardgen.character_book([cardgen.lore_entry(["/a+/"], "c", use_regex=True)])
    )
    assert parse_card(cardgen.card_json(card)).lorebook.entries[0].use_regex is True  # type: ignore[union-attr]


def test_appearance_comes_from_our_extension_and_other_extensions_stay_untouched() -> None:
    char = parse_card(cardgen.v2_png(V2))
    assert char.appearance == "tall, silver hair"
    assert char.extensions == {
        "depth_prompt": {"prompt": "stay in character", "depth": 4},
        "someapp/voice": ["alto", 2],
        "lustify": {"theme": "dark"},
    }


def test_card_without_our_extension_has_no_appearance() -> None:
    assert parse_card(cardgen.card_json(cardgen.v2_card(name="A"))).appearance == ""


def test_unknown_and_v3_only_fields_go_to_card_extra() -> None:
    char = parse_card(cardgen.card_json(V3))
    assert {k: char.card_extra[k] for k in V3_ONLY} == V3_ONLY
    assert char.card_extra[TOP_LEVEL_KEY] == {"x_top": 1}


def test_v2_top_level_extras_are_kept_but_v1_copies_are_not() -> None:
    char = parse_card(cardgen.v2_png(V2))
    assert char.card_extra == {
        "x_unknown": {"kept": True},
        TOP_LEVEL_KEY: {"fav": False, "talkativeness": "0.5", "create_date": "2024-1-1"},
    }


def test_bare_v1_json_card() -> None:
    char = parse_card(cardgen.card_json(cardgen.v1_card(name="Old", description="d", first_mes="hi")), "old.json")
    assert (char.name, char.description, char.first_mes, char.lorebook) == ("Old", "d", "hi", None)


def test_v1_card_in_a_png_chara_chunk() -> None:
    png = cardgen.card_png({"chara": cardgen.b64(cardgen.v1_card(name="Old", personality="grumpy"))})
    assert parse_card(png).personality == "grumpy"


def test_ccv3_chunk_is_preferred_over_chara() -> None:
    png = cardgen.v3_png(cardgen.v3_card(name="Three"), v2_backfill=cardgen.v2_card(name="Two"))
    assert parse_card(png).name == "Three"


def test_damaged_ccv3_falls_back_to_chara() -> None:
    png = cardgen.card_png({"ccv3": "%%%", "chara": cardgen.b64(cardgen.v2_card(name="Two"))})
    assert parse_card(png).name == "Two"


def test_chunk_keywords_are_case_insensitive() -> None:
    assert parse_card(cardgen.card_png({"Chara": cardgen.b64(cardgen.v2_card(name="C"))})).name == "C"


def test_png_card_avatar_is_the_picture_without_card_chunks() -> None:
    char, avatar = parse_card_with_avatar(cardgen.v3_png(V3, v2_backfill=V2), "m.png")
    assert char.name == "Mira" and avatar is not None
    assert cardgen.png_text_chunks(avatar) == {}
    assert Image.open(io.BytesIO(avatar)).size == (2, 2)


def test_json_card_has_no_avatar() -> None:
    assert parse_card_with_avatar(cardgen.card_json(V3))[1] is None


def test_charx_card_with_embedded_main_icon() -> None:
    icon = cardgen.card_png({}, width=3, height=4)
    card = cardgen.v3_card(
        name="Zip",
        assets=[
            {"type": "background", "uri": "embeded://assets/background/images/bg.png", "name": "main", "ext": "png"},
            {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"},
        ],
    )
    data = cardgen.charx(card, {"assets/icon/images/main.png": icon, "assets/background/images/bg.png": b"x"})
    char, avatar = parse_card_with_avatar(data, "zip.charx")
    assert char.name == "Zip"
    assert avatar is not None and Image.open(io.BytesIO(avatar)).size == (3, 4)


def test_charx_icon_in_another_format_is_converted_to_png() -> None:
    webp = io.BytesIO()
    Image.new("RGB", (5, 5), (1, 2, 3)).save(webp, format="WEBP")
    card = cardgen.v3_card(
        name="W", assets=[{"type": "icon", "uri": "embeded://i.webp", "name": "main", "ext": "webp"}]
    )
    _, avatar = parse_card_with_avatar(cardgen.charx(card, {"i.webp": webp.getvalue()}))
    assert avatar is not None and avatar.startswith(cardgen.PNG_SIGNATURE)


def test_charx_with_unreadable_icon_still_imports_the_character() -> None:
    card = cardgen.v3_card(name="W", assets=[{"type": "icon", "uri": "embeded://i.png", "name": "main", "ext": "png"}])
    assert parse_card_with_avatar(cardgen.charx(card, {"i.png": b"not an image"})) == (
        parse_card(cardgen.card_json(card)),
        None,
    )


def test_png_with_wrong_crc_is_still_read() -> None:
    text = b"chara\0" + cardgen.b64(cardgen.v2_card(name="Crc")).encode()
    png = cardgen.png_from_chunks([*cardgen.image_chunks(), cardgen.chunk(b"tEXt", text, crc=0)])
    assert parse_card(png).name == "Crc"


# --- export and round trips ---------------------------------------------------------------------

INPUTS = {
    "v2 png": lambda: cardgen.v2_png(V2),
    "v2 json": lambda: cardgen.card_json(V2),
    "v3 png": lambda: cardgen.v3_png(V3, v2_backfill=V2),
    "v3 json": lambda: cardgen.card_json(V3),
    "v3 charx": lambda: cardgen.charx(V3),
}


@pytest.mark.parametrize("source", INPUTS)
@pytest.mark.parametrize("export", ["json", "png"])
def test_import_export_import_gives_the_same_character(source: str, export: str) -> None:
    first = parse_card(INPUTS[source]())
    exported = export_card_json(first) if export == "json" else export_card_png(first, None)
    assert_same_character(parse_card(exported), first)


def test_v2_rendition_in_exported_png_is_the_same_character() -> None:
    first = parse_card(cardgen.card_json(V3))
    texts = cardgen.png_text_chunks(export_card_png(first))
    assert_same_character(parse_card(cardgen.card_png({"chara": texts["chara"]})), first)


def test_exported_json_is_a_v3_card_with_everything_merged_back() -> None:
    out = json.loads(export_card_json(parse_card(cardgen.card_json(V3))))
    assert (out["spec"], out["spec_version"], out["x_top"]) == ("chara_card_v3", "3.0", 1)
    data = out["data"]
    for key in ("name", "description", "personality", "scenario", "first_mes", "mes_example", "tags"):
        assert data[key] == FIELDS[key]
    assert data["extensions"] == EXTENSIONS
    for key, value in V3_ONLY.items():
        assert data[key] == value
    assert data["character_book"]["entries"][0]["secondary_keys"] == ["ale"]
    assert data["character_book"]["entries"][0]["use_regex"] is False
    assert data["character_book"]["scan_depth"] == 4


def test_exported_v3_from_a_v2_card_has_the_required_group_only_greetings() -> None:
    out = json.loads(export_card_json(parse_card(cardgen.card_json(cardgen.v2_card(name="A")))))
    assert out["data"]["group_only_greetings"] == []
    assert "character_book" not in out["data"]


def test_exported_png_has_ccv3_and_a_v2_chara_chunk() -> None:
    texts = cardgen.png_text_chunks(export_card_png(parse_card(cardgen.card_json(V3))))
    assert set(texts) == {"ccv3", "chara"}
    v3, v2 = cardgen.decode_b64_json(texts["ccv3"]), cardgen.decode_b64_json(texts["chara"])
    assert (v3["spec"], v3["spec_version"]) == ("chara_card_v3", "3.0")
    assert (v2["spec"], v2["spec_version"]) == ("chara_card_v2", "2.0")
    assert v2["name"] == v2["data"]["name"] == "Mira"  # V1 readers look at the top level
    assert v2["data"]["character_book"] == v3["data"]["character_book"]


def test_export_replaces_card_chunks_already_in_the_avatar() -> None:
    avatar = cardgen.v3_png(cardgen.v3_card(name="Old"), v2_backfill=cardgen.v2_card(name="Old"))
    png = export_card_png(Character(name="New"), avatar)
    texts = cardgen.png_text_chunks(png)  # also asserts there are no duplicate chunks
    assert cardgen.decode_b64_json(texts["ccv3"])["data"]["name"] == "New"
    assert parse_card(png).name == "New"


def test_export_without_avatar_uses_a_512_placeholder() -> None:
    png = export_card_png(Character(name="Plain"))
    assert Image.open(io.BytesIO(png)).size == (512, 512)


def test_export_converts_a_jpeg_avatar_to_png() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 6), (9, 9, 9)).save(jpeg, format="JPEG")
    png = export_card_png(Character(name="J"), jpeg.getvalue())
    assert png.startswith(cardgen.PNG_SIGNATURE) and Image.open(io.BytesIO(png)).size == (8, 6)


def test_export_refuses_an_unreadable_avatar() -> None:
    with pytest.raises(CardError, match="avatar"):
        export_card_png(Character(name="J"), b"\x00garbage")


def test_appearance_is_exported_in_our_extension() -> None:
    out = json.loads(export_card_json(Character(name="A", appearance="short, freckles")))
    assert out["data"]["extensions"] == {"lustify": {"appearance": "short, freckles"}}
    assert json.loads(export_card_json(Character(name="A")))["data"]["extensions"] == {}


def test_modelled_fields_win_over_stale_copies_in_card_extra() -> None:
    char = Character(name="New", card_extra={"name": "Stale", "nickname": "N"})
    data = json.loads(export_card_json(char))["data"]
    assert (data["name"], data["nickname"]) == ("New", "N")


# --- bad input: always CardError with a message a user can act on -------------------------------


def _patch_zip(data: bytes, member_signature: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite a field in every local (PK\\3\\4) or central (PK\\1\\2) header of a zip."""
    out = bytearray(data)
    start = out.find(member_signature)
    while start != -1:
        out[start + offset : start + offset + len(value)] = value
        start = out.find(member_signature, start + 4)
    return bytes(out)


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


BAD_INPUTS: dict[str, tuple[bytes, str, str]] = {
    # name: (data, filename, expected message fragment)
    "empty file": (b"", "a.png", "empty"),
    "not a png but named .png": (b"GIF89a....", "a.png", "not a valid PNG"),
    "png cut inside a chunk": (cardgen.v2_png(V2)[:-40], "a.png", "incomplete"),
    "png without IEND": (cardgen.png_from_chunks(cardgen.image_chunks(), iend=False), "a.png", "incomplete"),
    "png not starting with IHDR": (cardgen.png_from_chunks([cardgen.text_chunk("chara", "e30=")]), "", "damaged"),
    "png without card data": (cardgen.card_png({"Comment": "hello"}), "a.png", "no character card data"),
    "chunk text not base64": (cardgen.card_png({"chara": "not*base64!"}), "a.png", "base64"),
    "chunk json not utf-8": (cardgen.card_png({"chara": "/w=="}), "a.png", "UTF-8"),
    "chunk is not json": (cardgen.card_png({"chara": "aGVsbG8="}), "", "not valid JSON"),
    "json not utf-8": (b'{"name": "\xff\xfe"}', "a.json", "UTF-8"),
    "invalid json": (b'{"name": ', "a.json", "not valid JSON"),
    "json with NaN": (b'{"name": "a", "description": NaN}', "a.json", "not valid JSON"),
    "json nested too deeply": (b'{"name": "a", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "", "nested"),
    "json list": (b"[1, 2]", "a.json", "not a character card"),
    "json unrelated object": (_json({"model": "gpt", "messages": []}), "a.json", "not a character card"),
    "lorebook file": (_json({"spec": "lorebook_v3", "data": {"entries": []}}), "", "import it as a lorebook"),
    "sillytavern world file": (_json({"entries": {"0": {"key": ["k"]}}}), "", "import it as a lorebook"),
    "png of endless empty chunks": (
        cardgen.png_from_chunks(cardgen.image_chunks() + [cardgen.chunk(b"tEXt", b"")] * 650_000), "", "pieces",
    ),
    "v2 without data": (_json({"spec": "chara_card_v2", "spec_version": "2.0"}), "", "no `data`"),
    "v2 without name": (_json({"spec": "chara_card_v2", "data": {"description": "d"}}), "", "no character name"),
    "v2 with blank name": (cardgen.card_json(cardgen.v2_card(name="  ")), "", "no character name"),
    "v1 without name": (_json({"description": "d", "first_mes": "hi"}), "", "no character name"),
    "text field is an object": (
        cardgen.card_json(cardgen.v2_card(name="a", description={"x": 1})),
        "",
        "should be text",
    ),
    "greetings not a list": (cardgen.card_json(cardgen.v2_card(name="a", alternate_greetings={"a": 1})), "", "list"),
    "text field too long": (cardgen.card_json(cardgen.v2_card(name="a", description="x" * 50_001)), "", "50,000"),
    "too many lore entries": (
        cardgen.card_json(
            cardgen.v2_card(name="a", character_book=cardgen.character_book([cardgen.lore_entry(["k"], "c")] * 5_001))
        ),
        "",
        "at most 5,000",
    ),
    "lore entry not an object": (
        cardgen.card_json(cardgen.v2_card(name="a", character_book=cardgen.character_book(["oops"]))),
        "",
        "entry 1",
    ),
    "lorebook not an object": (cardgen.card_json(cardgen.v2_card(name="a", character_book=[1])), "", "lorebook"),
    "unsupported file type": (b"GIF89a\x01\x00", "a.gif", "Unsupported file type"),
    "charx that is not a zip": (b"definitely not a zip", "a.charx", "not a valid .charx"),
    "zip magic then garbage": (b"PK\x03\x04" + b"\x00" * 50, "a.charx", "not a valid .charx"),
    "charx without card.json": (cardgen.charx(None, {"other.json": b"{}"}), "a.charx", "no card.json"),
    "charx with ../ path": (cardgen.raw_zip([("card.json", _json(V3)), ("../evil", b"x")]), "", "unsafe"),
    "charx with nested ../ path": (cardgen.raw_zip([("card.json", _json(V3)), ("a/../../b", b"x")]), "", "unsafe"),
    "charx with absolute path": (cardgen.raw_zip([("card.json", _json(V3)), ("/etc/passwd", b"x")]), "", "unsafe"),
    "charx with drive path": (cardgen.raw_zip([("card.json", _json(V3)), ("C:/x", b"x")]), "", "unsafe"),
    "charx with backslash path": (cardgen.raw_zip([("card.json", _json(V3)), ("..\\x", b"x")]), "", "unsafe"),
    "charx card.json is a bomb": (
        cardgen.raw_zip([("card.json", b"{" + b" " * (4 * 2**20) + b"}")]), "a.charx", "decompression bomb",
    ),
    "charx lying about sizes": (
        _patch_zip(_patch_zip(cardgen.charx(V3), b"PK\x03\x04", 22, b"\x05\0\0\0"), b"PK\x01\x02", 24, b"\x05\0\0\0"),
        "",
        "damaged",
    ),
    "charx encrypted": (_patch_zip(cardgen.charx(V3), b"PK\x01\x02", 8, b"\x01"), "", "encrypted"),
    "charx card.json not a card": (cardgen.raw_zip([("card.json", b'{"hello": 1}')]), "", "not a character card"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_refused_with_a_clear_message(case: str) -> None:
    data, filename, fragment = BAD_INPUTS[case]
    with pytest.raises(CardError, match=fragment):
        parse_card(data, filename)
    with pytest.raises(CardError, match=fragment):
        parse_card_with_avatar(data, filename)


def test_file_over_the_size_limit_is_refused_before_parsing() -> None:
    data = cardgen.v2_png(V2) + b"\0" * MAX_CARD_BYTES
    with pytest.raises(CardError, match="at most 8 MiB"):
        parse_card(data, "big.png")


def test_card_error_is_a_value_error_with_a_short_message() -> None:
    with pytest.raises(ValueError) as caught:
        parse_card(b"{}", "a.json")
    assert len(str(caught.value)) < 200 and "\n" not in str(caught.value)


# --- cards SillyTavern opens (importFromJson / readFromV2 / importFromCharX in its characters.js) ----

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    "card",
    [
        {"spec": "chara_card_v9", "data": {"name": "a"}},
        {**cardgen.v2_card(name="a"), "spec_version": "3.0"},
        {**cardgen.v3_card(name="a"), "spec_version": "2.0"},
        {**cardgen.v3_card(name="a"), "spec_version": "4.0"},
        {**cardgen.v3_card(name="a"), "spec_version": "three"},
        {"spec": "tavern_ai", "name": "a", "description": "d"},
    ],
    ids=["unknown spec", "v2 saying 3.0", "v3 saying 2.0", "v3 saying 4.0", "garbage version", "tavern_ai"],
)
def test_cards_with_any_spec_or_version_are_read_as_sillytavern_reads_them(card: dict[str, Any]) -> None:
    assert parse_card(_json(card), "a.json").name == "a"


def test_tavernai_v1_card_without_spec() -> None:
    char = parse_card(_json({"name": "Kim", "description": "d", "first_mes": "hi", "mes_example": "e",
                             "scenario": "s", "personality": "p", "talkativeness": 0.5}), "a.json")
    assert (char.name, char.first_mes, char.personality) == ("Kim", "hi", "p")
    assert char.card_extra[TOP_LEVEL_KEY] == {"talkativeness": 0.5}


def test_pygmalion_json_is_mapped_onto_the_card_fields() -> None:
    obj = {"char_name": "Kim", "char_persona": "a sailor", "char_greeting": "Ahoy!", "world_scenario": "a ship",
           "example_dialogue": "<START>\nKim: Ahoy", "creator_notes": "n"}
    char = parse_card(_json(obj), "kim.json")
    assert (char.name, char.description, char.first_mes, char.scenario, char.mes_example) == (
        "Kim", "a sailor", "Ahoy!", "a ship", "<START>\nKim: Ahoy")


def test_charx_with_a_jpeg_in_front_of_the_zip_is_read() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 4_000 + b"\xff\xd9"
    assert parse_card(jpeg + cardgen.charx(V3), "risu.charx").name == V3["data"]["name"]


def test_charx_over_8_mib_reads_only_the_card_and_its_icon() -> None:
    # A large asset that would be refused as a decompression bomb if it were ever read.
    bomb = b"\0" * (12 * 2**20)
    noise = random.Random(1).randbytes(9 * 2**20)  # incompressible: the file itself is over 8 MiB
    data = cardgen.charx(V3, {"assets/bomb.bin": bomb, "assets/big.bin": noise})
    assert len(data) > MAX_CARD_BYTES
    assert parse_card(data, "big.charx").name == V3["data"]["name"]


def test_charx_with_many_big_assets_still_imports() -> None:
    data = cardgen.raw_zip([("card.json", _json(V3))] + [(f"p{i}.bin", b"\0" * 2**20) for i in range(40)])
    assert parse_card(data, "a.charx").name == V3["data"]["name"]


def test_a_regex_key_over_200_characters_does_not_refuse_the_card() -> None:
    key = "/(" + "|".join(f"alias{i}" for i in range(50)) + ")/i"
    card = cardgen.v2_card(name="a", character_book=cardgen.character_book([cardgen.lore_entry([key], "c")]))
    assert parse_card(cardgen.card_json(card)).lorebook.entries[0].keys == [key]  # type: ignore[union-attr]


def test_a_missing_entry_position_goes_after_the_character_as_in_sillytavern() -> None:
    entry = {"keys": ["k"], "content": "c", "enabled": True, "insertion_order": 1, "extensions": {}}
    card = cardgen.v2_card(name="a", character_book={"entries": [entry], "extensions": {}})
    assert parse_card(cardgen.card_json(card)).lorebook.entries[0].position == "after_char"  # type: ignore[union-attr]


def test_sillytaverns_bundled_seraphina_card() -> None:
    char = parse_card((DATA / "default_Seraphina.png").read_bytes(), "default_Seraphina.png")
    assert char.name == "Seraphina" and char.extensions["world"] == "Eldoria"
    book = char.lorebook
    assert book is not None and len(book.entries) == 4
    assert book.entries[0].extensions == {"position": 0, "probability": None, "useProbability": False}
