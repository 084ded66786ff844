"""Character card JSON (V1, V2, V3) to and from `Character`, following the published specs.

Specs: V2 (malfoyslastname/character-card-spec-v2, spec_v2.md) and V3 (kwaroran/character-card-spec-v3,
SPEC_V3.md). This module only knows the JSON object; the containers (PNG chunks, .charx zips) live in
`cards_png.py` and `charx.py`, and `cards.py` ties them together.

Both specs say unknown data must survive an import/export cycle, so everything `Character` does not
model is kept in `Character.card_extra`: data-level keys as they are (V3 `assets`, `nickname`, …) and
top-level keys under `TOP_LEVEL_KEY`. `extensions` is kept as read, except that our own
`extensions["lustify"]["appearance"]` is lifted into `Character.appearance`, so that an edit in
Discord has one place to live; export puts it back.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.characters.model import Character, Lorebook, LoreEntry


class CardError(ValueError):
    """A card could not be read. `str(error)` is a short message meant for the user."""


MAX_CARD_BYTES = 8 * 1024 * 1024
"""Largest card file accepted, in any container."""
MAX_TEXT_CHARS = 50_000
"""Longest text field (description, first message, one lore entry, …)."""
MAX_NAME_CHARS = 200
MAX_LORE_ENTRIES = 5_000
MAX_LORE_KEYS = 50_000
"""Keys in all the entries of one lorebook, primary and secondary."""
MAX_LIST_ITEMS = 200
"""Most greetings, tags, or keys of one lore entry."""

SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"
TOP_LEVEL_KEY = "_top_level"
"""`card_extra` key holding unknown top-level keys of the card object (e.g. SillyTavern's `fav`)."""

V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# Pygmalion / Gradio "notepad" JSON, which SillyTavern imports (`importFromJson`, characters.js).
PYGMALION_FIELDS = {
    "char_name": "name",
    "char_persona": "description",
    "char_greeting": "first_mes",
    "world_scenario": "scenario",
    "example_dialogue": "mes_example",
}
_TEXT_FIELDS = (
    *V1_FIELDS,
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
_LIST_FIELDS = ("alternate_greetings", "tags")
_KNOWN_DATA_KEYS = frozenset({*_TEXT_FIELDS, *_LIST_FIELDS, "character_book", "extensions"})
_OUR_EXTENSION = "lustify"


def load_card_json(raw: bytes) -> Character:
    """Parse card JSON bytes (UTF-8, optional BOM) into a Character, or raise CardError."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CardError("The card's text is not valid UTF-8, so it can't be read.") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise CardError(f"The card data is not valid JSON ({_short(exc)}).") from None
    except RecursionError:
        raise CardError("The card data is nested too deeply to read.") from None
    return card_from_object(obj)


def card_from_object(obj: Any) -> Character:
    """Map a decoded card object onto a Character, or raise CardError.

    Every shape SillyTavern opens is read (`importFromJson`/`readFromV2` in its characters.js):
    V2 and V3 cards (the `data` section wins; `spec` and `spec_version` are not checked, as
    SillyTavern does not), TavernAI/V1 cards (the fields at the top level, with or without a
    `spec` such as `tavern_ai`) and Pygmalion/Gradio JSON (`char_name`, `char_persona`, …).
    """
    if not isinstance(obj, dict):
        raise CardError("This JSON is not a character card (expected an object with the card fields).")
    spec = obj.get("spec")
    if spec == "lorebook_v3" or (spec is None and "entries" in obj and not any(k in obj for k in V1_FIELDS)):
        raise CardError("This file is a lorebook, not a character card: import it as a lorebook instead.")
    data = obj.get("data")
    if isinstance(data, dict) and (spec is not None or "name" in data):
        # V2/V3 writers (SillyTavern) repeat the V1 fields at the top level for old readers; they are
        # copies of `data`, regenerated on export, so they are not kept twice.
        skip = {"spec", "spec_version", "data", *V1_FIELDS}
        top_extra = {k: v for k, v in obj.items() if k not in skip}
        return _character(data, top_extra)
    if "char_name" in obj:
        mapped = {field: obj.get(key) for key, field in PYGMALION_FIELDS.items() if key in obj}
        top_extra = {k: v for k, v in obj.items() if k not in PYGMALION_FIELDS}
        return _character(mapped, top_extra)
    if any(key in obj for key in V1_FIELDS):
        # V1 / TavernAI: the card fields are the top level itself.
        top_extra = {k: v for k, v in obj.items() if k not in V1_FIELDS}
        return _character(obj, top_extra)
    if spec is not None:
        raise CardError("The card has no `data` section and no character fields, so there is no character in it.")
    raise CardError(
        "This JSON is not a character card: it has no `spec`, no `data` section and none of the "
        "character fields (name, description, first_mes)."
    )


def card_to_object(char: Character, *, spec: str = SPEC_V3) -> dict[str, Any]:
    """Build a V3 (default) or V2 card object from a Character, merging `card_extra` back in.

    The V2 rendition carries the same data, plus the V1 fields at the top level as SillyTavern
    writes them, so that readers of any version find the character.
    """
    extensions = copy.deepcopy(char.extensions)
    if char.appearance:
        ours = extensions.get(_OUR_EXTENSION)
        if not isinstance(ours, dict):
            ours = extensions[_OUR_EXTENSION] = {}
        ours["appearance"] = char.appearance
    data: dict[str, Any] = {
        "name": char.name,
        "description": char.description,
        "personality": char.personality,
        "scenario": char.scenario,
        "first_mes": char.first_mes,
        "mes_example": char.mes_example,
        "creator_notes": char.creator_notes,
        "system_prompt": char.system_prompt,
        "post_history_instructions": char.post_history_instructions,
        "alternate_greetings": list(char.alternate_greetings),
        "tags": list(char.tags),
        "creator": char.creator,
        "character_version": char.character_version,
        "extensions": extensions,
    }
    if char.lorebook is not None:
        data["character_book"] = lorebook_to_object(char.lorebook)
    extra = copy.deepcopy(char.card_extra)
    top = extra.pop(TOP_LEVEL_KEY, {})
    for key, value in extra.items():
        data.setdefault(key, value)  # modelled fields win over a stale copy
    if spec == SPEC_V3:
        data.setdefault("group_only_greetings", [])  # required by V3
        head: dict[str, Any] = {"spec": SPEC_V3, "spec_version": "3.0", "data": data}
    else:
        head = {"spec": SPEC_V2, "spec_version": "2.0", "data": data}
        head.update({key: data[key] for key in V1_FIELDS})
    if isinstance(top, dict):
        for key, value in top.items():
            head.setdefault(key, value)
    return head


def lorebook_to_object(book: Lorebook) -> dict[str, Any]:
    """The spec's `character_book` object for a Lorebook."""
    out: dict[str, Any] = {"name": book.name, "description": book.description}
    if book.scan_depth is not None:
        out["scan_depth"] = book.scan_depth
    if book.token_budget is not None:
        out["token_budget"] = book.token_budget
    out["recursive_scanning"] = book.recursive_scanning
    out["extensions"] = copy.deepcopy(book.extensions)
    out["entries"] = [_entry_to_object(entry) for entry in book.entries]
    return out


def _entry_to_object(entry: LoreEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "keys": list(entry.keys),
        "content": entry.content,
        "extensions": copy.deepcopy(entry.extensions),
        "enabled": entry.enabled,
        "insertion_order": entry.insertion_order,
        "case_sensitive": entry.case_sensitive,
        "use_regex": entry.use_regex,
        "constant": entry.constant,
        "name": entry.name,
        "priority": entry.priority,
        "comment": entry.comment,
        "selective": entry.selective,
        "secondary_keys": list(entry.secondary_keys),
        "position": entry.position,
    }
    if entry.id is not None:
        out["id"] = entry.id
    return out


# --- reading -------------------------------------------------------------------------------------


def _character(data: dict[str, Any], top_extra: dict[str, Any]) -> Character:
    texts = {key: _text(data, key, MAX_NAME_CHARS if key == "name" else MAX_TEXT_CHARS) for key in _TEXT_FIELDS}
    name = texts.pop("name").strip()
    if not name:
        raise CardError("The card has no character name.")
    extensions = data.get("extensions")
    extensions = extensions if isinstance(extensions, dict) else {}
    extra = {k: v for k, v in data.items() if k not in _KNOWN_DATA_KEYS}
    if extra.get("group_only_greetings") == []:
        del extra["group_only_greetings"]  # V3 requires it even when empty; export writes it back
    if top_extra:
        extra[TOP_LEVEL_KEY] = top_extra
    return Character(
        name=name,
        **texts,
        alternate_greetings=_text_list(data, "alternate_greetings", MAX_TEXT_CHARS),
        tags=_text_list(data, "tags", MAX_NAME_CHARS),
        appearance=_take_appearance(extensions),
        lorebook=_lorebook(data.get("character_book")),
        extensions=extensions,
        card_extra=extra,
        source="custom",
    )


def _take_appearance(extensions: dict[str, Any]) -> str:
    """Move our own appearance note out of `extensions` (mutates the freshly parsed dict)."""
    ours = extensions.get(_OUR_EXTENSION)
    if not isinstance(ours, dict) or "appearance" not in ours:
        return ""
    value = ours.pop("appearance")
    if not ours:
        del extensions[_OUR_EXTENSION]
    return value[:MAX_TEXT_CHARS] if isinstance(value, str) else ""


def read_character_book(obj: Any) -> Lorebook:
    """A `character_book` object (in a card, or a V3 `lorebook_v3` file's `data`) as a Lorebook."""
    book = _lorebook(obj)
    if book is None:
        raise CardError("This lorebook is empty: it has no entries.")
    return book


def _lorebook(obj: Any) -> Lorebook | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise CardError("The card's lorebook (character_book) is not in the expected format.")
    entries = obj.get("entries", [])
    if not isinstance(entries, list):
        raise CardError("The card's lorebook entries are not a list.")
    if len(entries) > MAX_LORE_ENTRIES:
        raise CardError(f"The lorebook has {len(entries):,} entries; at most {MAX_LORE_ENTRIES:,} are supported.")
    extensions = obj.get("extensions")
    parsed = [_entry(entry, number) for number, entry in enumerate(entries, start=1)]
    keys = sum(len(e.keys) + len(e.secondary_keys) for e in parsed)
    if keys > MAX_LORE_KEYS:
        raise CardError(f"The lorebook has {keys:,} keys in all; at most {MAX_LORE_KEYS:,} are supported.")
    return Lorebook(
        entries=parsed,
        name=_text(obj, "name", MAX_NAME_CHARS, "lorebook name"),
        description=_text(obj, "description", MAX_TEXT_CHARS, "lorebook description"),
        scan_depth=_int_or_none(obj.get("scan_depth")),
        token_budget=_int_or_none(obj.get("token_budget")),
        recursive_scanning=obj.get("recursive_scanning") is True,
        extensions=extensions if isinstance(extensions, dict) else {},
    )


def _entry(obj: Any, number: int) -> LoreEntry:
    if not isinstance(obj, dict):
        raise CardError(f"Lorebook entry {number} is not in the expected format.")
    label = f"lorebook entry {number}"
    extensions = obj.get("extensions")
    entry_id = obj.get("id")
    if isinstance(entry_id, float) and entry_id.is_integer():
        entry_id = int(entry_id)
    return LoreEntry(
        # Keys may be long regexes; the scanner skips overlong ones rather than refusing the card.
        keys=_text_list(obj, "keys", MAX_TEXT_CHARS, label),
        content=_text(obj, "content", MAX_TEXT_CHARS, f"{label} content"),
        enabled=obj.get("enabled", True) is not False,
        insertion_order=_int(obj.get("insertion_order"), 100),
        case_sensitive=obj.get("case_sensitive") is True,
        selective=obj.get("selective") is True,
        secondary_keys=_text_list(obj, "secondary_keys", MAX_TEXT_CHARS, label),
        constant=obj.get("constant") is True,
        priority=_int(obj.get("priority"), 10),
        # convertCharacterBook: anything but "before_char" (a missing position too) goes after.
        position="before_char" if obj.get("position") == "before_char" else "after_char",
        name=_text(obj, "name", MAX_NAME_CHARS, f"{label} name"),
        comment=_text(obj, "comment", MAX_TEXT_CHARS, f"{label} comment"),
        id=entry_id if isinstance(entry_id, int | str) and not isinstance(entry_id, bool) else None,
        use_regex=obj.get("use_regex") is True,
        extensions=extensions if isinstance(extensions, dict) else {},
    )


def _text(obj: dict[str, Any], key: str, limit: int, label: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CardError(f"The card's {label or key} should be text.")
    value = value if isinstance(value, str) else str(value)
    if len(value) > limit:
        raise CardError(f"The card's {label or key} is {len(value):,} characters; the limit is {limit:,}.")
    return value


def _text_list(obj: dict[str, Any], key: str, item_limit: int, label: str = "") -> list[str]:
    value = obj.get(key)
    where = f"{label} {key}".strip()
    if value is None:
        return []
    if isinstance(value, str):
        # Some editors write keys/tags as one comma-separated string.
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise CardError(f"The card's {where} should be a list of texts.")
    if len(value) > MAX_LIST_ITEMS:
        raise CardError(f"The card's {where} has {len(value)} items; the limit is {MAX_LIST_ITEMS}.")
    items = [_text({"v": item}, "v", item_limit, where) for item in value if item is not None]
    return items


def _int(value: Any, default: int) -> int:
    number = _int_or_none(value)
    return default if number is None else number


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would make our own exports invalid.
    raise ValueError(f"{name} is not allowed in JSON")


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:120]
