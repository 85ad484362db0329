"""Safe YAML with positions: a file's text read into nodes that know their line and column,
for the routine loader and the settings (DESIGN section 4).

PyYAML's own composer follows aliases, recurses once per level of nesting and makes a node of
any tag, so the events of libyaml's parser (PyYAML's CSafeLoader when built) are composed
here instead: only the standard tags of plain data, no aliases (an alias bomb costs nothing),
and the depth and the number of values are bounded while reading. Every node keeps its
1-based line and column, so a problem found later, by the JSON Schema or a plain check,
points at FILE:LINE:COL. Nothing here builds an object from the file: values are str, int,
float, bool or None.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

MAX_ERRORS = 100  # reported per file; junk would otherwise give thousands
MAX_NUMBER_CHARS = 32  # a number written with more characters is refused unread

#: Characters YAML does not allow in a file (also what marks binary junk).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_YAML_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map")
)
_STR = _YAML_TAG + "str"
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = SafeConstructor()


@dataclass(frozen=True)
class Rules:
    """What one kind of file may be: its name in messages and its bounds."""

    noun: str  # "a routine file", "a settings file"
    plural: str  # "routine files"
    max_bytes: int
    max_depth: int
    depth_hint: str  # why that depth is enough: "a routine needs 5"
    max_values: int = 10_000  # scalars, lists and mappings in one file


class Stop(Exception):
    """Raised after a problem that makes reading any further pointless."""


class Problems:
    """The problems found in one file, each at a line and column. After MAX_ERRORS the
    next one becomes "more than ... problems; stopping" and reading stops."""

    def __init__(self) -> None:
        self.found: list[tuple[int, int, str]] = []
        self.stopped: tuple[int, int, str] | None = None

    def add(self, line: int, col: int, message: str) -> None:
        if len(self.found) >= MAX_ERRORS:
            self.stopped = (line, col, f"more than {MAX_ERRORS} problems; stopping")
            raise Stop
        self.found.append((line, col, message))

    def at(self, node: Node, message: str) -> None:
        self.add(node.line, node.col, message)

    def in_order(self) -> list[tuple[int, int, str]]:
        ordered = sorted(self.found, key=lambda p: (p[0], p[1]))
        return ordered + ([self.stopped] if self.stopped else [])


class Node:
    """A YAML value with its 1-based position. Scalars share empty `items` and `pairs`,
    so a file of many small values allocates little."""

    __slots__ = ("bad", "col", "items", "kind", "line", "pairs", "path", "text", "value")

    def __init__(self, kind: str, line: int, col: int, value: Any = None, text: str = "") -> None:
        self.kind = kind  # "scalar", "seq" or "map"
        self.line = line
        self.col = col
        self.value = value  # a scalar's value: str, int, float, bool or None
        self.text = text  # a scalar as written
        scalar = kind == "scalar"
        # a list's items; a mapping's keys and values, until paired up
        self.items: list[Node] = _NO_ITEMS if scalar else []
        # a mapping's entries by the key as written: (key node, value node)
        self.pairs: dict[str, tuple[Node, Node]] = _NO_PAIRS if scalar else {}
        self.bad = False  # already reported (a refused tag, an alias, a wrong value ...)
        self.path: tuple[Any, ...] = ()  # keys and list indexes from the root, set by data()

    def data(self, path: tuple[Any, ...] = ()) -> Any:
        """The plain value (dicts keyed by the keys as written); sets each node's path."""
        self.path = path
        if self.kind == "seq":
            return [item.data((*path, i)) for i, item in enumerate(self.items)]
        if self.kind == "map":
            return {k: v.data((*path, k)) for k, (_key, v) in self.pairs.items()}
        return self.value

    def find(self, path: tuple[Any, ...]) -> Node | None:
        """The node at `path` (keys and list indexes); None when it is not there, or is (or
        is inside) a value already said to be wrong."""
        node: Node | None = self
        for step in path:
            if node is None or node.bad:
                return None
            if isinstance(step, int):
                node = node.items[step] if step < len(node.items) else None
            else:
                node = node.pairs[step][1] if step in node.pairs else None
        return None if node is None or node.bad else node

    def get(self, *keys: str) -> Node | None:
        """The value node at these keys of nested mappings, or None."""
        node: Node | None = self
        for key in keys:
            node = node.pairs[key][1] if node is not None and key in node.pairs else None
        return node

    def key(self, name: str) -> Node:
        """The key node of the entry `name` (which must exist)."""
        return self.pairs[name][0]


_NO_ITEMS: list[Node] = []  # shared by all scalars; never changed
_NO_PAIRS: dict[str, tuple[Node, Node]] = {}


def describe(node: Node) -> str:
    """What was found, for "expected X, got Y"."""
    if node.kind != "scalar":
        return "a list" if node.kind == "seq" else "a mapping"
    value = node.value
    if value is None:
        return "nothing" if node.text in ("", "~", "null", "Null", "NULL") else node.text
    if isinstance(value, bool):
        return f"{node.text} (a true/false value)"
    if isinstance(value, int | float):
        return node.text
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def size(n: int) -> str:
    return f"{n // 1_000_000} MB" if n >= 1_000_000 else f"{n // 1000} KB"


def too_big(rules: Rules) -> str:
    return f"the file is larger than {size(rules.max_bytes)}; {rules.noun} is much smaller"


class Unreadable(Exception):
    """A file that cannot be read at all; the message says why."""

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def read_file(path: str, rules: Rules) -> bytes:
    """The bytes of the file at `path` (at most one more than its rules allow)."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise Unreadable(f"this is a folder, not {rules.noun}")
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("this is not a regular file")
        if info.st_size > rules.max_bytes:
            raise Unreadable(too_big(rules))
        with open(path, "rb") as handle:
            return handle.read(rules.max_bytes + 1)
    except FileNotFoundError:
        raise Unreadable("no such file", missing=True) from None
    except PermissionError:
        raise Unreadable("permission denied: cannot read this file") from None
    except IsADirectoryError:
        raise Unreadable(f"this is a folder, not {rules.noun}") from None
    except OSError as exc:
        raise Unreadable(f"cannot read this file: {exc.strerror or exc}") from None
    except ValueError as exc:  # such as a NUL character in the path
        raise Unreadable(f"cannot read this file: {exc}") from None


def read(data: str | bytes, problems: Problems, rules: Rules) -> Node | None:
    """The first document of `data` as nodes; None when it holds no value at all.
    Problems are added to `problems`; Stop is raised when nothing more can be read."""
    root = _Composer(decode(data, problems, rules), problems, rules).run()
    if root is None or (root.kind == "scalar" and root.value is None and not root.text):
        return None
    return root


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of the character at `index`."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode(data: str | bytes, problems: Problems, rules: Rules) -> str:
    """The text of `data` (UTF-8, with or without a byte order mark), refusing what is not
    plain text."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            line, col = _position(data, exc.start)
            problems.add(line, col, f"the text holds U+{ord(data[exc.start]):04X}, "
                         "not valid Unicode")
            raise Stop from None
    else:
        raw = bytes(data)
    if len(raw) > rules.max_bytes:
        problems.add(1, 1, too_big(rules))
        raise Stop
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        line, col = _position(raw[start : exc.start].decode("utf-8"), exc.start - start)
        problems.add(line, col, f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} "
                     "cannot be read); save it as UTF-8")
        raise Stop from None
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, col = _position(text, bad.start())
        problems.add(line, col, f"the file holds the control character "
                     f"U+{ord(bad.group()):04X}; {rules.noun} is plain text")
        raise Stop
    return text


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


class _Composer:
    """Parser events into located nodes, refusing what plain data does not need."""

    def __init__(self, text: str, problems: Problems, rules: Rules) -> None:
        self.text = text
        self.problems = problems
        self.rules = rules
        self.stack: list[Node] = []
        self.root: Node | None = None
        self.values = 0

    def run(self, loader: Any = _LOADER) -> Node | None:
        parser = loader(self.text)
        said = len(self.problems.found)
        try:
            self.events(parser)
        except yaml.MarkedYAMLError as exc:
            if "maximum nesting depth" in str(exc.problem) and loader is not yaml.SafeLoader:
                # libyaml's scanner runs ahead to its own limit of 1000 levels; PyYAML's own
                # parser does not, so the depth is said where it passes the file's limit
                del self.problems.found[said:]
                self.stack, self.root, self.values = [], None, 0
                return self.run(yaml.SafeLoader)
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}"
            if exc.context and exc.problem and exc.context_mark:
                message += f" ({exc.context} at line {exc.context_mark.line + 1})"
            self.problems.add(line, col, message)
            raise Stop from None
        except yaml.YAMLError as exc:
            self.problems.add(1, 1, f"invalid YAML: {exc}")
            raise Stop from None
        finally:
            parser.dispose()
        return self.root

    def events(self, parser: Any) -> None:
        documents = 0
        while parser.check_event():
            event: Any = parser.get_event()
            line, col = event.start_mark.line + 1, event.start_mark.column + 1
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    self.problems.add(line, col, f"{self.rules.noun} holds one YAML document; "
                                      "remove the second")
                    return
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                done = self.stack.pop()
                if done.kind == "map":
                    self.pair_up(done)
                if not self.stack:
                    self.root = done
            elif isinstance(event, yaml.NodeEvent):
                self.node(event, line, col)

    def node(self, event: Any, line: int, col: int) -> None:
        self.values += 1
        if self.values > self.rules.max_values:
            self.problems.add(line, col, f"the file holds more than {self.rules.max_values} "
                              f"values; {self.rules.noun} is much smaller")
            raise Stop
        if isinstance(event, yaml.AliasEvent):
            self.problems.add(line, col, f"aliases (*name) are not allowed in {self.rules.plural}")
            node = Node("scalar", line, col, text="*alias")
            node.bad = True
        elif isinstance(event, yaml.ScalarEvent):
            node = self.scalar(event, line, col)
        else:
            node = self.collection(event, line, col)
        if self.stack:
            self.stack[-1].items.append(node)
        if node.kind != "scalar":
            self.stack.append(node)
        elif not self.stack:
            self.root = node

    def refuse(self, node: Node, message: str) -> Node:
        self.problems.at(node, message)
        node.bad = True
        return node

    def collection(self, event: Any, line: int, col: int) -> Node:
        kind = "seq" if isinstance(event, yaml.SequenceStartEvent) else "map"
        node = Node(kind, line, col)
        tag: str | None = event.tag
        if len(self.stack) >= self.rules.max_depth:
            self.problems.add(line, col, f"nesting is deeper than {self.rules.max_depth} "
                              f"levels; {self.rules.depth_hint}")
            raise Stop
        if tag is not None and tag != "!" and tag not in _ALLOWED_TAGS:
            return self.refuse(node, f"tag {_short_tag(tag)} is not allowed in {self.rules.plural}")
        if tag in _ALLOWED_TAGS and tag != f"{_YAML_TAG}{kind}":
            what = "a list" if kind == "seq" else "a mapping"
            return self.refuse(node, f"{what} cannot be {_short_tag(tag)}")
        return node

    def scalar(self, event: Any, line: int, col: int) -> Node:
        value: str = event.value
        tag: str | None = event.tag
        node = Node("scalar", line, col, value=value, text=value)
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(ScalarNode, value, event.implicit)
        elif tag not in _ALLOWED_TAGS:
            return self.refuse(node, f"tag {_short_tag(tag)} is not allowed in {self.rules.plural}")
        elif tag != _STR and _RESOLVER.resolve(ScalarNode, value, (True, False)) != tag:
            return self.refuse(node, f"{value!r} is not a valid {_short_tag(tag)}")
        kind = tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else "str"
        if kind in ("int", "float") and len(value) > MAX_NUMBER_CHARS:
            node.value, node.text = None, value[:MAX_NUMBER_CHARS] + "..."
            return self.refuse(node, f"the number {value[:20]}... has too many digits")
        if kind == "int" and value.isdigit() and (value == "0" or value[0] != "0"):
            node.value = int(value)  # the common case, without YAML 1.1's octal and base 60
        elif kind in ("int", "float", "bool"):
            construct = getattr(_CONSTRUCTOR, f"construct_yaml_{kind}")
            node.value = construct(ScalarNode(tag, value))
        elif kind == "null":
            node.value = None
        return node

    def pair_up(self, node: Node) -> None:
        items = node.items
        for key, value in zip(items[::2], items[1::2], strict=True):
            if key.kind != "scalar":
                what = "a list" if key.kind == "seq" else "a mapping"
                self.problems.at(key, f"a key must be a plain name, not {what}")
            elif key.text in node.pairs:
                first = node.pairs[key.text][0]
                self.problems.at(key, f"duplicate key {key.text!r} (first at line {first.line})")
            else:
                node.pairs[key.text] = (key, value)
        node.items = []
