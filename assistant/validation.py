"""A document checked against its JSON Schema, every problem said at its YAML node.

The library is jsonschema (maintained, implements draft 2020-12, the draft of
`routine.schema.json`): its `iter_errors` yields every error with the path of the value in
the document, which reporting every problem at once as FILE:LINE:COL needs. fastjsonschema
is faster but stops at the first error, and a routine validates in milliseconds either way.

An error is said as "LABEL: expected WHAT, got FOUND", WHAT read from the schema (a whole
number from 1 to 20, a duration from 0s to 1h, one of ...); an unknown key with "did you
mean"; a missing key by name. A format's `Checker` subclass says what differs.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from jsonschema import Draft202012Validator, ValidationError, validators

from assistant.routine import parse_duration
from assistant.yamlfile import Node, Problems, describe


def _is_number(_checker: Any, value: Any) -> bool:
    """A number, but not a boolean and not NaN (which no range would refuse)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _any_of(validator: Any, branches: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """anyOf, where a duration written as text (such as 2h) keeps to the range of the number
    branch beside it too: the one rule of these formats that a pattern cannot say."""
    errors = list(Draft202012Validator.VALIDATORS["anyOf"](validator, branches, instance, schema))
    number = next((b for b in branches if b.get("type") == "number"), None)
    if not errors and number and isinstance(instance, str):
        with contextlib.suppress(ValueError):  # not a duration: another branch took it
            if not number["minimum"] <= parse_duration(instance) <= number["maximum"]:
                errors.append(ValidationError(f"{instance!r} is out of range"))
    yield from errors


_Validator: Any = validators.extend(
    Draft202012Validator,
    {"anyOf": _any_of},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("number", _is_number),
)


def format_seconds(seconds: float) -> str:
    """A duration as written in a routine file: "45s", "1m30s", "4h", "0.3s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = (f"{hours:g}h" if hours else "") + (f"{minutes:g}m" if minutes else "")
    return out + (f"{secs:g}s" if secs or not out else "")


def did_you_mean(key: str, allowed: Sequence[str]) -> str | None:
    """The allowed key closest to a misspelt one, if one is close."""
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return close[0] if close else None


class Checker:
    """A JSON Schema and the words its errors are said in."""

    #: What a list or mapping must be, by the last name of its label ("cues[]": an item).
    shapes: ClassVar[Mapping[str, str]] = {}
    #: What a mapping's entries are called in "expected at most N ...", by its label's name.
    entries: ClassVar[Mapping[str, str]] = {}

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.validator = _Validator(schema)

    def label(self, path: tuple[Any, ...]) -> str:
        """A value's name in messages: "voice.rate", "cues[2].at" (the root is a mapping)."""
        return "".join(f"[{s + 1}]" if isinstance(s, int) else f".{s}" for s in path)[1:]

    def unknown(self, label: str, key: str, allowed: Sequence[str]) -> str:
        where = f"{label}: " if label else ""
        shown = key if len(key) <= 40 else key[:37] + "..."
        close = did_you_mean(key, allowed)
        if close:
            return f"{where}unknown key {shown!r}; did you mean {close!r}?"
        return f"{where}unknown key {shown!r}; allowed keys: {', '.join(allowed)}"

    def pattern(self, label: str, node: Node, schema: dict[str, Any]) -> list[str]:
        """Why a text does not match its pattern (a format may know better)."""
        return [self.expected_got(label, node, schema)]

    def expected(self, schema: dict[str, Any], label: str) -> str:
        """What a value of `schema` is, in words."""
        schema = self.resolve(schema)
        branches = [self.resolve(b) for b in schema.get("anyOf", ())]
        if any(b.get("type") == "object" for b in branches):  # a value, or a mapping of them
            return self.expected(next(b for b in branches if b.get("type") != "object"), "")
        name = re.sub(r"\[\d+\]$", "[]", label.rsplit(".", 1)[-1])
        if name in self.shapes:
            return self.shapes[name]
        if branches:
            lo, hi = self.bounds(schema)
            return (f"a duration from {format_seconds(lo)} to {format_seconds(hi)} "
                    "(such as 45s, 2m or 1m30s)")
        if "enum" in schema:
            return "one of " + ", ".join(map(str, schema["enum"]))
        kind: str = schema.get("type", "")
        kind = kind[0] if isinstance(kind, list) else kind  # ["string", "number"]: text
        if kind in ("integer", "number"):
            lo, hi = self.bounds(schema)
            return f"a {'whole ' if kind == 'integer' else ''}number from {lo:g} to {hi:g}"
        return {"string": "text", "object": "a mapping", "array": "a list"}.get(kind, "a value")

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """`schema`, or what its local "$ref" ("#/$defs/name") points at."""
        if "$ref" not in schema:
            return schema
        return functools.reduce(dict.__getitem__, schema["$ref"][2:].split("/"), self.schema)

    def bounds(self, schema: dict[str, Any]) -> tuple[float, float]:
        """The range of a number, or of a duration's number branch."""
        schema = self.resolve(schema)
        for branch in map(self.resolve, schema.get("anyOf", ())):
            if "minimum" in branch or "anyOf" in branch:
                return self.bounds(branch)
        return schema["minimum"], schema["maximum"]

    def expected_got(self, label: str, node: Node, schema: dict[str, Any]) -> str:
        what = self.expected(schema, label)
        hint = "; put it in quotes" if what == "text" and node.value is not None else ""
        return f"{label}: expected {what}, got {describe(node)}{hint}"

    def check(self, root: Node, problems: Problems) -> None:
        """Every error of the schema goes to `problems`; the values found wrong are marked
        `bad` (as those refused while reading are), so that nothing reads or says them again."""
        wrong: list[Node] = []
        said = [(node.line, node.col, message)
                for error in self.validator.iter_errors(root.data())
                for node, message in self.say(error, root, wrong)]
        for node in wrong:
            node.bad = True
        for line, col, message in sorted(dict.fromkeys(said), key=lambda p: p[:2]):
            problems.add(line, col, message)

    def say(
        self, error: ValidationError, root: Node, wrong: list[Node]
    ) -> Iterator[tuple[Node, str]]:
        """Where and how to say one error of the schema."""
        path = tuple(error.absolute_path)
        node = root.find(path)
        if node is None or error.validator == "oneOf":
            return  # refused while reading, or "one of these keys" (the format says it)
        label, kind, value = self.label(path), error.validator, error.instance
        branch = next((i for i, b in enumerate(error.validator_value)
                       if self.resolve(b).get("type") == "object"), None) \
            if kind == "anyOf" and isinstance(value, dict) else None
        if branch is not None:  # a mapping where one may be: the errors of that branch
            for sub in error.context or ():
                if sub.relative_schema_path[0] == branch:
                    yield from self.say(sub, root, wrong)
        elif "propertyNames" in error.relative_schema_path:
            what = self.expected(error.schema, label + "{}")  # a shape for the format's keys
            yield node.key(value), f"{label}: expected {what}, got {describe(node.key(value))}"
        elif kind == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            yield from ((node.key(k), self.unknown(label, k, allowed))
                        for k in value if k not in allowed)
        elif kind == "required":
            yield from ((node, f"{label}{': ' if label else ''}missing required key {k!r}")
                        for k in error.validator_value if k not in value)
        else:
            wrong.append(node)
            yield from ((node, message) for message in self.message(error, label, node))

    def message(self, error: ValidationError, label: str, node: Node) -> list[str]:
        """The words for an error about one value."""
        kind, limit, value = error.validator, error.validator_value, error.instance
        if kind == "pattern":
            return self.pattern(label, node, error.schema)
        if kind == "maxLength":
            return [f"{label}: expected text of at most {limit} characters, got {len(value)}"]
        if kind in ("maxItems", "maxProperties"):
            noun = self.entries.get(label.rsplit(".", 1)[-1], label)
            return [f"{label}: expected at most {limit} {noun}, got {len(value)}"]
        if kind in ("minItems", "minProperties"):
            empty = "an empty list" if isinstance(value, list) else "an empty mapping"
            return [f"{label}: expected {self.expected(error.schema, label)}, got {empty}"]
        return [self.expected_got(label, node, error.schema)]
