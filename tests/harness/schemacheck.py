"""A validator for the part of JSON Schema (2020-12) that
docs/results.schema.json uses: type, const, enum, properties, required,
additionalProperties, items, minimum, pattern, oneOf and local $ref. A
keyword it does not know is an error, so the schema cannot silently grow
past what the test checks."""

from __future__ import annotations

import re

KNOWN = {"$schema", "$id", "$defs", "title", "description", "default", "type", "const", "enum",
         "properties", "required", "additionalProperties", "items", "minimum", "pattern",
         "oneOf", "$ref"}

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(value, schema: dict, root: dict | None = None, where: str = "$") -> list[str]:
    """Returns the problems of value against schema, one `path: what` each."""
    root = root if root is not None else schema
    unknown = set(schema) - KNOWN
    if unknown:
        return [f"{where}: schema uses unsupported keywords {sorted(unknown)}"]
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return [f"{where}: only local $ref is supported, not {ref}"]
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        return validate(value, target, root, where)
    problems: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [f"{where}: {type(value).__name__} {value!r:.60} is not {'/'.join(types)}"]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not one of {schema['enum']}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        problems.append(f"{where}: {value} < {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        problems.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not validate(value, s, root, where)]
        if len(ok) != 1:
            problems.append(f"{where}: matches {len(ok)} of the oneOf alternatives, not 1")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in value:
                problems.append(f"{where}: missing {k!r}")
        for k, v in value.items():
            if k in props:
                problems += validate(v, props[k], root, f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}: unexpected {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += validate(v, schema["additionalProperties"], root, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            problems += validate(v, schema["items"], root, f"{where}[{i}]")
    return problems
