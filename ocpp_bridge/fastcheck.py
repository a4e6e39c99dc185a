"""OCPP's JSON schemas compiled into plain Python checks.

The `ocpp` library validates every message with jsonschema's generic walker, ~0.2 ms for
a MeterValues: at 2,000 messages a second that alone is 40% of a core. OCPP's schemas use
a small part of Draft 4, so each one compiles into a few nested closures that answer
"valid?" an order of magnitude faster. The check is exact or stricter, never looser; a
payload it refuses goes to the library's validator, which names the CALLERROR. A schema
using anything outside that part (multipleOf, say) is not compiled at all.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

import ocpp

Check = Callable[[Any], bool]
IGNORED = {"$schema", "$id", "title", "description", "comment", "javaType", "format", "default"}
# jsonschema (draft 4) ignores additionalItems without a tuple "items", and keywords of
# another type's vocabulary (additionalProperties on a string).
TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


class Unsupported(Exception):
    """The schema uses something this compiler does not know: use the library."""


def _compile(node: dict[str, Any], root: dict[str, Any]) -> Check:
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/definitions/") or len(node) > 1:
            raise Unsupported(ref)
        name = ref.removeprefix("#/definitions/")
        return _compile(root["definitions"][name], root)
    checks: list[Check] = []
    kind = node.get("type")
    if kind is not None:
        if kind not in TYPES:
            raise Unsupported(kind)
        checks.append(TYPES[kind])
    for key, value in node.items():
        if key in IGNORED or key in {"type", "definitions"}:
            continue
        checks.append(_keyword(key, value, node, root))
    checks = [c for c in checks if c is not _ANY]

    def check(v: Any) -> bool:
        return all(c(v) for c in checks)

    return check


def _ANY(v: Any) -> bool:
    return True


def _keyword(key: str, value: Any, node: dict[str, Any], root: dict[str, Any]) -> Check:
    kind = node.get("type")
    if key == "enum":
        allowed = frozenset(value)
        return lambda v: v in allowed if isinstance(v, str | int) else v in value
    if key == "maxLength":
        return lambda v: not isinstance(v, str) or len(v) <= value
    if key == "minimum":
        return lambda v: not TYPES["number"](v) or v >= value
    if key == "maximum":
        return lambda v: not TYPES["number"](v) or v <= value
    if key == "minItems":
        return lambda v: not isinstance(v, list) or len(v) >= value
    if key == "maxItems":
        return lambda v: not isinstance(v, list) or len(v) <= value
    if key == "additionalItems":
        return _ANY  # only meaningful with a tuple of items, which OCPP never uses
    if key == "items":
        item = _compile(value, root)
        return lambda v: not isinstance(v, list) or all(item(x) for x in v)
    if key == "required":
        needed = tuple(value)
        return lambda v: not isinstance(v, dict) or all(k in v for k in needed)
    if key == "properties":
        props = {name: _compile(sub, root) for name, sub in value.items()}
        return lambda v: (
            not isinstance(v, dict) or all(props[k](x) for k, x in v.items() if k in props)
        )
    if key == "additionalProperties":
        if value is True or (kind is not None and kind != "object"):
            return _ANY
        if value is not False:
            raise Unsupported("additionalProperties schema")
        known = frozenset(node.get("properties", {}))
        return lambda v: not isinstance(v, dict) or known.issuperset(v)
    raise Unsupported(key)


@functools.cache
def schema_check(version: str, action: str, response: bool = False) -> Check | None:
    """The compiled check of a message's schema, or None when it does not compile."""
    folder = "v" + version.replace(".", "")
    # 1.6 names requests after the action alone; 2.0.1 adds "Request".
    suffix = "Response" if response else ("" if version == "1.6" else "Request")
    path = os.path.join(os.path.dirname(ocpp.__file__), folder, "schemas", f"{action}{suffix}.json")
    try:
        with open(path, encoding="utf-8-sig") as f:
            schema = json.load(f)
        return _compile(schema, schema)
    except (OSError, Unsupported):
        return None
