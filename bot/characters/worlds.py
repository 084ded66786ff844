"""Standalone lorebooks ("world info") in every format SillyTavern imports, and export back.

All of them become the same `Lorebook` a card's `character_book` becomes, so the scanner and the
store see one model:

- SillyTavern's world JSON (`{"entries": {"<uid>": {uid, key, keysecondary, order, position, …}}}`),
  which is also the TavernAI format it grew from and what KoboldAI United exports; its flat
  fields map onto the card entry's `extensions` exactly as SillyTavern's own exporter does
  (`convertWorldInfoToCharacterBook` in src/endpoints/characters.js), and back
  (`convertCharacterBook` in world-info.js);
- a V3 `lorebook_v3` file, or a bare `character_book` object, or a character card (its book);
- the older list form (KoboldAI's world info and AI Dungeon exports: `key`/`keys` as a comma
  list, `content`/`entry`);
- NovelAI (`lorebookVersion`), Agnai (`kind: "memory"`) and RisuAI (`type: "risu"`) books,
  converted as SillyTavern's `convertNovelLorebook`, `convertAgnaiMemoryBook` and
  `convertRisuLorebook` do.

Parsing is pure and synchronous (call it from a worker thread for large files) and bounded by the
card limits (`MAX_CARD_BYTES`, `MAX_LORE_ENTRIES`, `MAX_LORE_KEYS`). Every refusal is a
`CardError` whose message names the problem for the book's author.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.characters.cards import parse_card
from bot.characters.cards_json import (
    MAX_CARD_BYTES,
    MAX_LORE_ENTRIES,
    MAX_LORE_KEYS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    CardError,
    lorebook_to_object,
    read_character_book,
)
from bot.characters.model import Lorebook, LoreEntry

# World-entry field -> character_book entry `extensions` key (convertWorldInfoToCharacterBook).
WORLD_TO_EXTENSION = {
    "position": "position",
    "excludeRecursion": "exclude_recursion",
    "displayIndex": "display_index",
    "probability": "probability",
    "useProbability": "useProbability",
    "depth": "depth",
    "selectiveLogic": "selectiveLogic",
    "group": "group",
    "groupOverride": "group_override",
    "groupWeight": "group_weight",
    "preventRecursion": "prevent_recursion",
    "delayUntilRecursion": "delay_until_recursion",
    "scanDepth": "scan_depth",
    "matchWholeWords": "match_whole_words",
    "useGroupScoring": "use_group_scoring",
    "caseSensitive": "case_sensitive",
    "automationId": "automation_id",
    "role": "role",
    "vectorized": "vectorized",
    "sticky": "sticky",
    "cooldown": "cooldown",
    "delay": "delay",
    "matchPersonaDescription": "match_persona_description",
    "matchCharacterDescription": "match_character_description",
    "matchCharacterPersonality": "match_character_personality",
    "matchCharacterDepthPrompt": "match_character_depth_prompt",
    "matchScenario": "match_scenario",
    "matchCreatorNotes": "match_creator_notes",
    "triggers": "triggers",
    "ignoreBudget": "ignore_budget",
}
_EXTENSION_TO_WORLD = {value: key for key, value in WORLD_TO_EXTENSION.items()}
_CORE = ("uid", "key", "keysecondary", "comment", "content", "constant", "selective", "order", "disable")


def parse_lorebook(data: bytes, filename: str = "") -> Lorebook:
    """Read a lorebook file (JSON in any format above, or a character card) into a Lorebook."""
    if not data:
        raise CardError("The file is empty.")
    if len(data) > MAX_CARD_BYTES:
        raise CardError(f"The file is {len(data) / 2**20:.1f} MiB; lorebooks can be at most 8 MiB.")
    name = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] if filename else ""
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        character = parse_card(data, filename)
        if character.lorebook is None:
            raise CardError(f"The character card of {character.name} has no lorebook in it.")
        return character.lorebook
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CardError("The lorebook's text is not valid UTF-8, so it can't be read.") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise CardError(f"The lorebook is not valid JSON ({str(exc).splitlines()[0][:120]}).") from None
    except RecursionError:
        raise CardError("The lorebook is nested too deeply to read.") from None
    return lorebook_from_object(obj, name=name)


def lorebook_from_object(obj: Any, *, name: str = "") -> Lorebook:
    """Map a decoded lorebook object (any supported format) onto a Lorebook."""
    if isinstance(obj, list):
        return _bounded(_from_list(obj, name))
    if not isinstance(obj, dict):
        raise CardError("This JSON is not a lorebook: expected an object with `entries`.")
    if obj.get("spec") == "lorebook_v3" and isinstance(obj.get("data"), dict):
        return _named(read_character_book(obj["data"]), name)
    data = obj.get("data")
    if isinstance(data, dict) and isinstance(data.get("character_book"), dict):
        return _named(read_character_book(data["character_book"]), name)  # a character card
    if isinstance(obj.get("character_book"), dict):
        return _named(read_character_book(obj["character_book"]), name)
    if obj.get("kind") == "memory" and isinstance(obj.get("entries"), list):
        return _bounded(_from_agnai(obj, name))
    if obj.get("type") == "risu" and isinstance(data, list):
        return _bounded(_from_risu(obj, name))
    if "lorebookVersion" in obj and isinstance(obj.get("entries"), list):
        return _bounded(_from_novel(obj, name))
    entries = obj.get("entries")
    if isinstance(entries, dict):
        return _bounded(_from_world(obj, name))
    if isinstance(entries, list):
        if all(isinstance(e, dict) and ("keys" in e or "content" in e) for e in entries[:5]):
            return _named(read_character_book(obj), name)
        return _bounded(_from_list(entries, name))
    raise CardError("This JSON is not a lorebook: it has no `entries`.")


def world_to_object(book: Lorebook) -> dict[str, Any]:
    """The book as SillyTavern's world JSON (`convertCharacterBook`), ready to import there."""
    entries: dict[str, Any] = {}
    for index, entry in enumerate(book.entries):
        uid = entry.id if entry.id is not None else index
        ext = dict(entry.extensions)
        flat: dict[str, Any] = {
            "uid": uid,
            "key": list(entry.keys),
            "keysecondary": list(entry.secondary_keys),
            "comment": entry.comment,
            "content": entry.content,
            "constant": entry.constant,
            "selective": entry.selective,
            "order": entry.insertion_order,
            "position": ext.pop("position", 0 if entry.position == "before_char" else 1),
            "disable": not entry.enabled,
        }
        for key, value in list(ext.items()):
            if key in _EXTENSION_TO_WORLD:
                flat[_EXTENSION_TO_WORLD[key]] = value
                del ext[key]
        extra = copy.deepcopy(entry.extra)
        if ext or "extensions" in extra:
            flat["extensions"] = {**extra.pop("extensions", {}), **ext}
        for key, value in extra.items():
            flat.setdefault(key, value)
        entries[str(uid)] = flat
    out: dict[str, Any] = {"entries": entries}
    for key, value in book.extra.items():
        out.setdefault(key, copy.deepcopy(value))
    return out


def export_world_json(book: Lorebook) -> bytes:
    """The book as a SillyTavern world JSON file (UTF-8, indented as SillyTavern writes it)."""
    return json.dumps(world_to_object(book), ensure_ascii=False, indent=4).encode("utf-8")


def exportread_character_book(book: Lorebook) -> dict[str, Any]:
    """The book as a card's `character_book` object."""
    return lorebook_to_object(book)


# --- formats ---------------------------------------------------------------------------------------


def _from_world(obj: dict[str, Any], name: str) -> Lorebook:
    raw = obj["entries"]
    _count(len(raw))
    entries = [_world_entry(value, key) for key, value in raw.items()]
    extra = {k: v for k, v in obj.items() if k != "entries"}
    book_name = obj.get("name") if isinstance(obj.get("name"), str) else name
    return Lorebook(entries=entries, name=_text(book_name, MAX_NAME_CHARS, "name"), extra=extra)


def _world_entry(value: Any, uid_key: str) -> LoreEntry:
    if not isinstance(value, dict):
        raise CardError(f"Lorebook entry {uid_key[:20]} is not in the expected format.")
    label = f"entry {uid_key[:20]}"
    extensions: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, field in value.items():
        if key in WORLD_TO_EXTENSION:
            extensions[WORLD_TO_EXTENSION[key]] = field
        elif key not in _CORE:
            extra[key] = field
    position = value.get("position", 0)
    uid = value.get("uid", uid_key)
    if isinstance(uid, str) and uid.isdigit():
        uid = int(uid)
    return LoreEntry(
        keys=_keys(value.get("key"), label),
        content=_text(value.get("content"), MAX_TEXT_CHARS, f"{label} content"),
        enabled=not value.get("disable", False),
        insertion_order=_int(value.get("order"), 100),
        selective=bool(value.get("selective", False)),
        secondary_keys=_keys(value.get("keysecondary"), label),
        constant=bool(value.get("constant", False)),
        position="before_char" if position == 0 else "after_char",
        comment=_text(value.get("comment"), MAX_TEXT_CHARS, f"{label} comment"),
        id=uid if isinstance(uid, int | str) and not isinstance(uid, bool) else None,
        extensions=extensions,
        extra=extra,
    )


def _from_list(items: list[Any], name: str) -> Lorebook:
    """KoboldAI / AI Dungeon: a list of entries with comma-separated keys."""
    _count(len(items))
    entries = []
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise CardError(f"Lorebook entry {number + 1} is not in the expected format.")
        label = f"entry {number + 1}"
        keys = item.get("key", item.get("keys"))
        content = item.get("content", item.get("entry"))
        extra = {k: v for k, v in item.items() if k not in ("key", "keys", "keysecondary", "content", "entry",
                                                              "comment", "selective", "constant", "uid")}
        entries.append(LoreEntry(
            keys=_keys(keys, label),
            content=_text(content, MAX_TEXT_CHARS, f"{label} content"),
            secondary_keys=_keys(item.get("keysecondary"), label),
            selective=bool(item.get("selective", False)),
            constant=bool(item.get("constant", False)),
            comment=_text(item.get("comment"), MAX_TEXT_CHARS, f"{label} comment"),
            id=item["uid"] if isinstance(item.get("uid"), int) and not isinstance(item.get("uid"), bool) else number,
            position="before_char",
            extensions={"position": 0},
            extra=extra,
        ))
    return Lorebook(entries=entries, name=name)


def _from_agnai(obj: dict[str, Any], name: str) -> Lorebook:
    """convertAgnaiMemoryBook."""
    _count(len(obj["entries"]))
    entries = []
    for index, item in enumerate(obj["entries"]):
        item = item if isinstance(item, dict) else {}
        entries.append(LoreEntry(
            keys=_keys(item.get("keywords"), f"entry {index + 1}"),
            content=_text(item.get("entry"), MAX_TEXT_CHARS, "content"),
            comment=_text(item.get("name"), MAX_TEXT_CHARS, "name"), insertion_order=_int(item.get("weight"), 100),
            enabled=item.get("enabled", True) is not False, id=index, position="before_char",
            extensions={"position": 0},
        ))
    return Lorebook(entries=entries, name=_text(obj.get("name"), MAX_NAME_CHARS, "name") or name)


def _from_risu(obj: dict[str, Any], name: str) -> Lorebook:
    """convertRisuLorebook."""
    _count(len(obj["data"]))
    entries = []
    for index, item in enumerate(obj["data"]):
        item = item if isinstance(item, dict) else {}
        percent = item.get("activationPercent")
        entries.append(LoreEntry(
            keys=_keys(item.get("key"), f"entry {index + 1}"),
            secondary_keys=_keys(item.get("secondkey"), f"entry {index + 1}"),
            content=_text(item.get("content"), MAX_TEXT_CHARS, "content"),
            comment=_text(item.get("comment"), MAX_TEXT_CHARS, "comment"),
            constant=bool(item.get("alwaysActive")), selective=bool(item.get("selective")),
            insertion_order=_int(item.get("insertorder"), 100), id=index, position="before_char",
            extensions={"position": 0, "probability": percent if isinstance(percent, int | float) else 100},
        ))
    return Lorebook(entries=entries, name=name)


def _from_novel(obj: dict[str, Any], name: str) -> Lorebook:
    """convertNovelLorebook."""
    _count(len(obj["entries"]))
    entries = []
    for index, item in enumerate(obj["entries"]):
        item = item if isinstance(item, dict) else {}
        config = item.get("contextConfig") if isinstance(item.get("contextConfig"), dict) else {}
        entries.append(LoreEntry(
            keys=_keys(item.get("keys"), f"entry {index + 1}"),
            content=_text(item.get("text"), MAX_TEXT_CHARS, "content"),
            comment=_text(item.get("displayName"), MAX_TEXT_CHARS, "name"),
            enabled=item.get("enabled", True) is not False, insertion_order=_int(config.get("budgetPriority"), 0),
            id=index, position="before_char", extensions={"position": 0},
        ))
    return Lorebook(entries=entries, name=name)


# --- helpers ---------------------------------------------------------------------------------------


def _named(book: Lorebook, name: str) -> Lorebook:
    if not book.name and name:
        book.name = name
    return book


def _bounded(book: Lorebook) -> Lorebook:
    keys = sum(len(e.keys) + len(e.secondary_keys) for e in book.entries)
    if keys > MAX_LORE_KEYS:
        raise CardError(f"The lorebook has {keys:,} keys in all; at most {MAX_LORE_KEYS:,} are supported.")
    return book


def _count(count: int) -> None:
    if count > MAX_LORE_ENTRIES:
        raise CardError(f"The lorebook has {count:,} entries; at most {MAX_LORE_ENTRIES:,} are supported.")


def _keys(value: Any, label: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise CardError(f"The keys of lorebook {label} should be a list of words.")
    if len(value) > 200:
        raise CardError(f"Lorebook {label} has {len(value)} keys; at most 200 are supported per entry.")
    return [_text(item, MAX_TEXT_CHARS, f"{label} key") for item in value if item is not None]


def _text(value: Any, limit: int, label: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CardError(f"The lorebook's {label} should be text.")
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise CardError(f"The lorebook's {label} is {len(text):,} characters; the limit is {limit:,}.")
    return text


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default
