"""Checks REST requests against Discord's own OpenAPI description (``../shared/discord/openapi.json``).

OpenAPI 3.1 schemas are JSON Schema 2020-12, so request bodies are validated with ``jsonschema``;
``$ref``s into ``#/components`` resolve because the whole document is registered as one resource.

Allowances (where the spec is stricter than what Discord accepts and discord.py sends) are applied
as patches to the loaded spec, so they work the same inside ``anyOf``/``oneOf`` branches. Each one
is listed in :data:`ALLOWANCES` with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .common import template_regex

# ../shared/ sits beside the project (DESIGN.md §9); the variable lets someone's clone elsewhere point at it.
SPEC_PATH = Path(os.environ.get("DISCORD_OPENAPI_PATH")
                 or Path(__file__).resolve().parents[4] / "shared" / "discord" / "openapi.json")
_SPEC_URI = "urn:discord-openapi"
_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Allowance:
    """One deliberate loosening of the spec: where, how, and why."""

    pointer: str
    reason: str
    patch: Callable[[dict[str, Any]], None]


def _snowflake_accepts_integers(schema: dict[str, Any]) -> None:
    original = {k: schema.pop(k) for k in list(schema)}
    schema["anyOf"] = [original, {"type": "integer", "minimum": 0}]


ALLOWANCES: list[Allowance] = [
    Allowance(
        "/components/schemas/SnowflakeType",
        "Discord accepts snowflakes as JSON integers as well as strings; discord.py sends integers "
        "(attachment ids 0..n that pair with files[n], message_reference.message_id, role ids).",
        _snowflake_accepts_integers,
    ),
]


class Problem(NamedTuple):
    """A mismatch with the spec; ``kind`` is ``route``, ``query``, ``path`` or ``body``."""

    kind: str
    message: str


def _pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _resolve_pointer(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for token in pointer.lstrip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


@cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The spec with :data:`ALLOWANCES` applied (cached: it is 2 MB of JSON)."""
    spec = json.loads(path.read_text())
    for allowance in ALLOWANCES:
        allowance.patch(_resolve_pointer(spec, allowance.pointer))
    return spec


@cache
def checker_for(path: Path = SPEC_PATH) -> OpenAPIChecker:
    """One shared checker per spec file: its compiled validators are reused by every fake."""
    return OpenAPIChecker(load_spec(path))


class OpenAPIChecker:
    """Finds the spec operation for a request and lists what is wrong with the request."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._registry = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
        templates = sorted(spec["paths"], key=lambda t: -sum(1 for s in t.split("/") if s and "{" not in s))
        self._paths = [(t, template_regex(t)) for t in templates]
        self._validators: dict[str, Draft202012Validator] = {}

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The spec path template that ``path`` belongs to, with its path parameters."""
        for template, regex in self._paths:
            found = regex.fullmatch(path)
            if found:
                return template, found.groupdict()
        return None

    def check(self, method: str, path: str, query: dict[str, str], body: Any,
              content_type: str) -> tuple[str | None, list[Problem]]:
        """``(template, problems)``; ``template`` is None for a path the spec does not know."""
        found = self.match(path)
        if found is None:
            return None, [Problem("route", f"{method} {path}: no such route in openapi.json")]
        template, params = found
        item = self.spec["paths"][template]
        operation = item.get(method.lower())
        if operation is None:
            allowed = [m.upper() for m in _METHODS if m in item]
            return template, [Problem("route", f"{method} {template}: not in openapi.json (has {allowed})")]
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        problems = self._check_parameters(method, template, parameters, params, query)
        problems += self._check_body(method, template, operation, body, content_type)
        return template, problems

    def _check_parameters(self, method: str, template: str, parameters: list[dict[str, Any]],
                          path_params: dict[str, str], query: dict[str, str]) -> list[Problem]:
        problems = []
        declared_query = {p["name"] for p in parameters if p.get("in") == "query"}
        for name in sorted(set(query) - declared_query):
            problems.append(Problem("query", f"{method} {template}: query parameter {name!r} is not in openapi.json"))
        for p in parameters:
            if p.get("in") != "path" or p["name"] not in path_params:
                continue
            pointer = self._pointer_of(p.get("schema", {}))
            if pointer is None:
                continue
            error = best_match(self._validator(pointer).iter_errors(path_params[p["name"]]))
            if error is not None:
                problems.append(Problem("path", f"{method} {template}: path parameter {p['name']}: {error.message}"))
        return problems

    def _pointer_of(self, schema: dict[str, Any]) -> str | None:
        # Path parameter schemas are either a $ref (e.g. SnowflakeType) or a plain string type.
        ref = schema.get("$ref")
        return ref[1:] if isinstance(ref, str) and ref.startswith("#") else None

    def _check_body(self, method: str, template: str, operation: dict[str, Any], body: Any,
                    content_type: str) -> list[Problem]:
        request_body = operation.get("requestBody")
        if request_body is None:
            if body not in (None, {}, b"", ""):
                return [Problem("body", f"{method} {template}: sends a body but openapi.json defines none")]
            return []
        if body is None:
            required = request_body.get("required")
            return [Problem("body", f"{method} {template}: requestBody is required")] if required else []
        content = request_body["content"]
        media = content_type if content_type in content else "application/json"
        if media not in content:
            return [Problem("body", f"{method} {template}: content type {content_type!r} not in {sorted(content)}")]
        pointer = (f"/paths/{_pointer_escape(template)}/{method.lower()}/requestBody/content/"
                   f"{_pointer_escape(media)}/schema")
        errors = list(self._validator(pointer).iter_errors(body))
        if not errors:
            return []
        return [Problem("body", f"{method} {template}: {_describe(e)}") for e in _leaf_errors(errors)]

    def _validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator({"$ref": f"{_SPEC_URI}#{pointer}"}, registry=self._registry)
            self._validators[pointer] = validator
        return validator


def _leaf_errors(errors: list[Any]) -> list[Any]:
    # One message per distinct failing location; anyOf/oneOf failures are reduced to the most
    # relevant branch so the message names the actual field instead of "not valid under any".
    best = best_match(errors)
    return [best] if best is not None else errors


def _describe(error: Any) -> str:
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where}: {error.message[:300]}"
