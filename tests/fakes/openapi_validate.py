"""Validate HTTP requests (and responses) against an OpenAPI 3.0 description with jsonschema.

OpenAPI 3.0 schemas are almost JSON Schema; this module bridges the gaps before validating:
- the YAML is read with YAML 1.2 rules (`off` stays a string, dates stay strings, `16:9` is not
  a base-60 number), because that is how the JavaScript tooling that wrote it reads it;
- `nullable: true` becomes a `"null"` type (a bare `{nullable: true}` branch inside anyOf/oneOf
  means "or null"; elsewhere it means "anything, including null");
- boolean `exclusiveMinimum`/`exclusiveMaximum` (draft 4 style) become numbers;
- `$ref` is resolved through a `referencing` registry holding the whole document.
`additionalProperties: false` is enforced as written, so unknown fields are reported.

Usage: `OpenAPIValidator.from_file(path).validate_request("POST", "/chat/completions", body)`
returns a list of human-readable problems (empty when valid).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "SHARED_DIR",
    "VENICE_SWAGGER",
    "OpenAPIValidator",
    "convert_schema",
    "load_yaml",
]

# ../shared sits beside the repository (DESIGN §9); LUSTIFY_SHARED overrides for other layouts.
SHARED_DIR = Path(os.environ.get("LUSTIFY_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
VENICE_SWAGGER = SHARED_DIR / "venice" / "swagger.yaml"

_ROOT = "urn:openapi-document"
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars instead of YAML 1.1's."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag
        not in {
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:timestamp",
        }
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+|\.[0-9]+[eE][-+]?[0-9]+)$"),
    list("-+0123456789."),
)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


_Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def load_yaml(path: str | Path) -> Any:
    """Read a YAML (or JSON) file with YAML 1.2 scalar rules."""
    text = Path(path).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_Yaml12Loader)


def convert_schema(node: Any, *, in_combinator: bool = False) -> Any:
    """Copy an OpenAPI 3.0 schema tree as JSON Schema 2020-12 (see the module docstring)."""
    if isinstance(node, list):
        return [convert_schema(item, in_combinator=in_combinator) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"anyOf", "oneOf"} and isinstance(value, list):
            out[key] = [convert_schema(item, in_combinator=True) for item in value]
        elif key in {"properties", "patternProperties", "definitions", "$defs"} and isinstance(value, dict):
            # A map of names to schemas: the names themselves are never keywords.
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in {"example", "examples", "default", "enum", "const"}:
            out[key] = value  # data, not schema: copied untouched
        else:
            out[key] = convert_schema(value)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool) and out.pop(bound) and limit in out:
            out[bound] = out.pop(limit)
    if out.pop("nullable", None) is True:
        out = _nullable(out, in_combinator)
    return out


def _nullable(schema: dict[str, Any], in_combinator: bool) -> dict[str, Any]:
    if "$ref" in schema:
        ref = {"$ref": schema.pop("$ref")}
        return {**schema, "anyOf": [ref, {"type": "null"}]}
    kind = schema.get("type")
    if kind is None:
        if in_combinator and not ({"properties", "items", "enum", "anyOf", "oneOf", "allOf"} & schema.keys()):
            return {**schema, "type": "null"}
        return schema
    schema["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _pointer(*parts: str) -> str:
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    return quote("/" + "/".join(escaped), safe="/~")


def _format_error(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    message = error.message if len(error.message) < 300 else error.message[:300] + "…"
    return f"{where}: {message}"


class OpenAPIValidator:
    """Request/response validation for one OpenAPI 3.0 document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = convert_schema(dict(document))
        resource = Resource(contents=self.document, specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_ROOT, resource)
        self._templates = [(t, self._template_regex(t)) for t in self.document.get("paths", {})]
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> OpenAPIValidator:
        """Load and convert a description once per process (it is large)."""
        return _from_file(Path(path).resolve())

    @staticmethod
    def _template_regex(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}/]+\})", template)
        body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{body}$")

    def match(self, method: str, path: str) -> str | None:
        """The path template (e.g. `/characters/{slug}`) for a concrete path, if `method` exists there."""
        candidates = [t for t, rx in self._templates if rx.match(path)]
        # Prefer literal templates over templated ones (/characters/x vs /characters/{slug}).
        candidates.sort(key=lambda t: t.count("{"))
        for template in candidates:
            if method.lower() in self.document["paths"][template]:
                return template
        return None

    def _validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator({"$ref": f"{_ROOT}#{pointer}"}, registry=self._registry)
        return self._validators[pointer]

    def _check(self, pointer: str, instance: Any) -> list[str]:
        errors = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_format_error(e) for e in errors]

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validate_request(
        self, method: str, path: str, body: Any, *, content_type: str = "application/json"
    ) -> list[str]:
        """Problems with a request body for `method path` (path relative to the server URL)."""
        template = self.match(method, path)
        if template is None:
            return [f"{method.upper()} {path} is not in the OpenAPI description"]
        operation = self.document["paths"][template][method.lower()]
        request_body = self._resolve(operation.get("requestBody"))
        if request_body is None:
            return [] if body is None else [f"{method.upper()} {template} takes no request body"]
        if body is None:
            return ["request body is required"] if request_body.get("required") else []
        media = content_type.split(";")[0].strip()
        if media not in request_body.get("content", {}):
            return [f"content type {media} is not accepted by {method.upper()} {template}"]
        return self._check(_pointer("paths", template, method.lower(), "requestBody", "content", media, "schema"), body)

    def validate_query(self, method: str, path: str, query: Iterable[tuple[str, str]]) -> list[str]:
        """Problems with query parameters given as (name, value) pairs (repeats allowed)."""
        template = self.match(method, path)
        if template is None:
            return [f"{method.upper()} {path} is not in the OpenAPI description"]
        params = self._query_params(template, method.lower())
        given: dict[str, list[str]] = {}
        for name, value in query:
            given.setdefault(name, []).append(value)
        problems = [f"unknown query parameter {name!r}" for name in given if name not in params]
        for name, (param, pointer) in params.items():
            if name not in given:
                if param.get("required"):
                    problems.append(f"query parameter {name!r} is required")
                continue
            schema = self._resolve(param.get("schema", {}))
            value, problem = _coerce(schema, given[name])
            if problem:
                problems.append(f"query {name}: {problem}")
                continue
            problems.extend(f"query {name}: {e.removeprefix('<root>: ')}" for e in self._check(pointer, value))
        return problems

    def _query_params(self, template: str, method: str) -> dict[str, tuple[Mapping[str, Any], str]]:
        """Declared query parameters (path-level then operation-level) with their schema pointers."""
        found: dict[str, tuple[Mapping[str, Any], str]] = {}
        path_item = self.document["paths"][template]
        for where, params in (
            ((), path_item.get("parameters", [])),
            ((method,), path_item[method].get("parameters", [])),
        ):
            for index, param in enumerate(params):
                if isinstance(param.get("$ref"), str):
                    ref = param["$ref"].removeprefix("#")
                    pointer = quote(ref + "/schema", safe="/~")
                else:
                    pointer = _pointer("paths", template, *where, "parameters", str(index), "schema")
                resolved = self._resolve(param)
                if resolved.get("in") == "query":
                    found[resolved["name"]] = (resolved, pointer)
        return found

    def validate_response(
        self, method: str, path: str, status: int, body: Any, *, content_type: str = "application/json"
    ) -> list[str]:
        """Problems with a JSON response body, checked against the documented status (or default)."""
        template = self.match(method, path)
        if template is None:
            return [f"{method.upper()} {path} is not in the OpenAPI description"]
        responses = self.document["paths"][template][method.lower()].get("responses", {})
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            return [f"status {status} is not documented for {method.upper()} {template}"]
        media = content_type.split(";")[0].strip()
        content = self._resolve(responses[key]).get("content", {})
        if media not in content:
            return [f"content type {media} is not documented for {status} {method.upper()} {template}"]
        if isinstance(body, bytes | str):
            try:
                body = json.loads(body)
            except ValueError:
                return ["response body is not JSON"]
        return self._check(
            _pointer("paths", template, method.lower(), "responses", key, "content", media, "schema"), body
        )


def _coerce(schema: Mapping[str, Any], values: list[str]) -> tuple[Any, str | None]:
    """Turn query strings into the JSON value the parameter schema describes."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds:
        items = [part for v in values for part in v.split(",")]
        item_schema = schema.get("items", {})
        converted = []
        for item in items:
            value, problem = _coerce(item_schema, [item])
            if problem:
                return None, problem
            converted.append(value)
        return converted, None
    if len(values) != 1:
        return None, f"given {len(values)} times"
    raw = values[0]
    if "integer" in kinds:
        return (int(raw), None) if re.fullmatch(r"[-+]?\d+", raw) else (None, f"{raw!r} is not an integer")
    if "number" in kinds:
        try:
            return float(raw), None
        except ValueError:
            return None, f"{raw!r} is not a number"
    if "boolean" in kinds:
        return (raw == "true", None) if raw in {"true", "false"} else (None, f"{raw!r} is not true/false")
    return raw, None


@functools.cache
def _from_file(path: Path) -> OpenAPIValidator:
    return OpenAPIValidator(load_yaml(path))
