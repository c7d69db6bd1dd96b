"""Surgical edits of block-style YAML text, checked against the event stream.

libyaml's event stream gives every node's position (in code points), so a
value can be replaced, a ``key: value`` line inserted or removed, or a list
item cut out without touching any other byte: comments, key order, quoting
and unknown fields stay as they are. Every edit also states how the event
stream must change; ``verify`` parses the new text and compares the two
streams, so an edit that changed anything else is caught before it is
written. Layouts this module does not handle (flow style, anchors, aliases,
merge keys, duplicate keys) raise ``Unsupported`` instead of guessing.
"""

from __future__ import annotations

from typing import Any

import yaml

from kubesafe.kubeconfig import quoting


class Unsupported(Exception):
    """The text is valid YAML, but not a layout that can be edited in place."""


class Node:
    """A node of the document with its text span and event range."""

    __slots__ = ("end", "first", "flow", "in_flow", "items", "kind", "last", "start", "value")

    def __init__(self, kind: str, start: int, first: int) -> None:
        self.kind = kind  # "scalar", "map" or "seq"
        self.start = start
        self.end = start
        self.first = first  # index of its first event
        self.last = first + 1  # index after its last event
        self.value = ""
        self.flow = False  # a {...} or [...] collection
        self.in_flow = False  # inside one
        # map: [key, value, key, value, ...]; seq: [item, ...]
        self.items: list[Node] = []


class Document:
    """Parsed text: the event stream and the root node (None for an empty stream)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.events = parse_events(text)
        self.root = _build(self.events)
        self.newline = "\r\n" if "\r\n" in text[: text.find("\n") + 1] else "\n"


class Edit:
    """Text replacements plus the matching change of the event stream."""

    def __init__(self) -> None:
        self.text: list[tuple[int, int, str]] = []
        # (first, last, expected): old events [first, last) become ``expected``,
        # each a ("str", value), ("seq-start",) or ("seq-end",) marker.
        self.events: list[tuple[int, int, list[tuple[str, ...]]]] = []

    def apply(self, text: str) -> str:
        result = text
        ordered = sorted(self.text, key=lambda edit: (edit[0], edit[1]), reverse=True)
        for (_, end, _), (next_start, _, _) in zip(ordered[1:], ordered[:-1], strict=True):
            if end > next_start:
                raise Unsupported("overlapping edits")
        for start, end, replacement in ordered:
            result = result[:start] + replacement + result[end:]
        return result


def parse_events(text: str) -> list[Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return list(yaml.parse(text, Loader=loader))


def _build(events: list[Any]) -> Node | None:
    """The node tree, with only the top level and ``contexts`` built in full.

    Other top-level values (clusters, users: most of a big file) become one
    node each whose ``end`` is where their text ends, which is all the edits
    need to know about them.
    """
    stack: list[Node] = []
    root: Node | None = None
    documents = 0
    skipped_flow: list[bool] = []  # flow styles of the open collections of a skipped subtree
    skipped_end = 0
    for index, event in enumerate(events):
        kind = type(event)
        if getattr(event, "anchor", None) is not None:
            raise Unsupported(f"line {event.start_mark.line + 1}: anchors and aliases")
        if kind is yaml.ScalarEvent:
            if skipped_flow:
                skipped_end = _end(event)
                continue
            node = Node("scalar", _start(event), index)
            node.end = _end(event)
            node.value = event.value
            node.in_flow = bool(stack) and (stack[-1].flow or stack[-1].in_flow)
            if stack:
                stack[-1].items.append(node)
            else:
                root = node
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if skipped_flow:
                skipped_flow.append(bool(event.flow_style))
                continue
            node = Node("map" if kind is yaml.MappingStartEvent else "seq", _start(event), index)
            node.flow = bool(event.flow_style)
            node.in_flow = bool(stack) and (stack[-1].flow or stack[-1].in_flow)
            if stack:
                stack[-1].items.append(node)
            else:
                root = node
            if not _built(stack):
                skipped_flow.append(node.flow)
                skipped_end = node.start
            stack.append(node)
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            if skipped_flow:
                if skipped_flow.pop():
                    skipped_end = _end(event)
                if skipped_flow:
                    continue
                done = stack.pop()
                done.end = skipped_end
            else:
                done = stack.pop()
                done.end = _end(event)
            done.last = index + 1
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise Unsupported("more than one YAML document")
    return root


def _built(stack: list[Node]) -> bool:
    """Whether the children of a collection opening under ``stack`` are needed."""
    if len(stack) != 1:
        return True  # the root, or inside contexts
    siblings = stack[0].items
    key = siblings[-2] if stack[0].kind == "map" and len(siblings) >= 2 else None
    return key is not None and key.kind == "scalar" and key.value == "contexts"


def _start(event: Any) -> int:
    return int(event.start_mark.index)


def _end(event: Any) -> int:
    return int(event.end_mark.index)


def pairs(mapping: Node) -> list[tuple[Node, Node]]:
    return list(zip(mapping.items[0::2], mapping.items[1::2], strict=True))


def lookup(mapping: Node, key: str) -> tuple[Node, Node] | None:
    """The (key, value) pair for ``key``; Unsupported if it is there twice."""
    found: tuple[Node, Node] | None = None
    for key_node, value in pairs(mapping):
        if key_node.kind == "scalar" and key_node.value == "<<":
            raise Unsupported("merge keys (<<)")
        if key_node.kind == "scalar" and key_node.value == key:
            if found is not None:
                raise Unsupported(f'the key "{key}" appears twice')
            found = (key_node, value)
    return found


def expect(node: Node | None, what: str, kind: str) -> Node:
    if node is None or node.kind != kind:
        raise Unsupported(f"{what} is not {'a mapping' if kind == 'map' else 'a list'}")
    return node


def _block(node: Node, what: str) -> None:
    if node.flow or node.in_flow:
        raise Unsupported(f"{what} is written in YAML flow style ({{...}} or [...])")


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _after_line(text: str, index: int) -> int:
    """The start of the line after the one ``index`` is on (at a line start: itself)."""
    if index > 0 and text[index - 1] == "\n":
        return index
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _content_end(node: Node) -> int:
    """Where the node's own text ends (block collections end at their last child)."""
    while node.kind != "scalar" and not node.flow and node.items:
        node = node.items[-1]
    return node.end


def _own_line(text: str, start: int, what: str) -> int:
    begin = _line_start(text, start)
    if text[begin:start].strip(" "):
        raise Unsupported(f"{what} does not start its own line")
    return begin


def _colon_after(text: str, key: Node) -> int:
    index = key.end
    while index < len(text) and text[index] == " ":
        index += 1
    if index >= len(text) or text[index] != ":":
        raise Unsupported(f'the key "{key.value}" is not followed by ":"')
    return index


def set_value(doc: Document, edit: Edit, key: Node, value: Node, new: str) -> None:
    """Replace a scalar value (an empty one too) with the string ``new``."""
    if value.kind != "scalar":
        raise Unsupported(f'the value of "{key.value}" is not a single value')
    quoted = quoting.scalar_text(new, value.in_flow)
    if value.start == value.end:
        at = _colon_after(doc.text, key) + 1
        edit.text.append((at, at, " " + quoted))
    else:
        edit.text.append((value.start, value.end, quoted))
    edit.events.append((value.first, value.last, [("str", new)]))


def remove_pair(doc: Document, edit: Edit, mapping: Node, key: Node, value: Node) -> None:
    """Delete the lines of one ``key: value`` pair of a block mapping."""
    if mapping.flow:
        _remove_flow_pair(edit, mapping, key, value)
        return
    _block(mapping, f'the mapping holding "{key.value}"')
    if len(mapping.items) < 4:
        raise Unsupported(f'"{key.value}" is the only key of its mapping')
    text = doc.text
    start = _own_line(text, key.start, f'the key "{key.value}"')
    end = _after_line(text, _content_end(value))
    if end == len(text) and not text.endswith("\n") and start > 0:
        start -= len(doc.newline) if text[:start].endswith(doc.newline) else 1
    edit.text.append((start, end, ""))
    edit.events.append((key.first, value.last, []))


def insert_pair(doc: Document, edit: Edit, mapping: Node, key: str, new: str) -> None:
    """Add ``key: new`` to a mapping (block: before the first key sorting after it)."""
    if mapping.flow:
        _insert_flow_pair(doc, edit, mapping, key, new)
        return
    _block(mapping, f'the mapping to hold "{key}"')
    text = doc.text
    entries = pairs(mapping)
    first_key = entries[0][0]
    indent = " " * (first_key.start - _line_start(text, first_key.start))
    line = f"{indent}{quoting.scalar_text(key)}: {quoting.scalar_text(new)}"
    expected: list[tuple[str, ...]] = [("str", key), ("str", new)]
    for key_node, _ in entries:
        if key_node.kind == "scalar" and key_node.value > key:
            at = _line_start(text, key_node.start)
            if text[at : key_node.start].strip(" "):
                break  # e.g. the first key of a list item, after "- "
            edit.text.append((at, at, line + doc.newline))
            edit.events.append((key_node.first, key_node.first, expected))
            return
    last = entries[-1][1]
    at = _after_line(text, _content_end(last))
    if at == len(text) and text and not text.endswith("\n"):
        edit.text.append((at, at, doc.newline + line))
    else:
        edit.text.append((at, at, line + doc.newline))
    edit.events.append((last.last, last.last, expected))


def remove_item(doc: Document, edit: Edit, key: Node, sequence: Node, item: Node) -> None:
    """Cut one item out of a block list; the last one leaves ``key: []``."""
    _block(sequence, f'the list "{key.value}"')
    text = doc.text
    dash = item.start - 1
    while dash >= 0 and text[dash] == " ":
        dash -= 1
    if dash < 0 or text[dash] != "-":
        raise Unsupported("a list item does not start with '- '")
    start = _own_line(text, dash, "a list item")
    end = _after_line(text, _content_end(item))
    if len(sequence.items) == 1:
        at = _colon_after(text, key) + 1
        edit.text.append((at, at, " []"))
        edit.events.append((sequence.first, sequence.last, [("seq-start",), ("seq-end",)]))
    else:
        edit.events.append((item.first, item.last, []))
    if end == len(text) and not text.endswith("\n") and start > 0:
        start -= len(doc.newline) if text[:start].endswith(doc.newline) else 1
    edit.text.append((start, end, ""))


def _remove_flow_pair(edit: Edit, mapping: Node, key: Node, value: Node) -> None:
    entries = pairs(mapping)
    at = next(i for i, (k, _) in enumerate(entries) if k is key)
    if at + 1 < len(entries):
        start, end = key.start, entries[at + 1][0].start  # "key: value, " up to the next key
    elif at > 0:
        start, end = _content_end(entries[at - 1][1]), _content_end(value)  # ", key: value"
    else:
        start, end = key.start, _content_end(value)
    edit.text.append((start, end, ""))
    edit.events.append((key.first, value.last, []))


def _insert_flow_pair(doc: Document, edit: Edit, mapping: Node, key: str, new: str) -> None:
    close = mapping.end - 1
    if doc.text[close] != "}":
        raise Unsupported("a flow mapping does not end with '}'")
    pair = f"{quoting.scalar_text(key, True)}: {quoting.scalar_text(new, True)}"
    if mapping.items:
        last = mapping.items[-1]
        at = _content_end(last)
        edit.text.append((at, at, ", " + pair))
    else:
        at, last_event = close, mapping.first + 1
        edit.text.append((at, at, pair))
        edit.events.append((last_event, last_event, [("str", key), ("str", new)]))
        return
    edit.events.append((last.last, last.last, [("str", key), ("str", new)]))


def _same(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if type(old) is yaml.ScalarEvent:
        return bool(
            old.value == new.value
            and old.style == new.style
            and old.tag == new.tag
            and old.implicit == new.implicit
            and old.anchor == new.anchor
        )
    if type(old) is yaml.MappingStartEvent or type(old) is yaml.SequenceStartEvent:
        return bool(
            old.flow_style == new.flow_style
            and old.tag == new.tag
            and old.implicit == new.implicit
            and old.anchor == new.anchor
        )
    return True


def _matches(marker: tuple[str, ...], event: Any) -> bool:
    if marker[0] == "str":
        return (
            isinstance(event, yaml.ScalarEvent)
            and event.anchor is None
            and event.tag in (None, "tag:yaml.org,2002:str")
            and event.value == marker[1]
        )
    if marker[0] == "seq-start":
        return isinstance(event, yaml.SequenceStartEvent) and event.anchor is None
    return isinstance(event, yaml.SequenceEndEvent)


def verify(old: Document, edit: Edit, new_text: str) -> str | None:
    """None when ``new_text`` parses to the old stream with exactly the edit; else why not."""
    try:
        new_events = parse_events(new_text)
    except yaml.YAMLError as exc:
        return f"the edited text is not valid YAML ({str(exc).splitlines()[0]})"
    old_events = old.events
    expected_length = len(old_events) + sum(
        len(markers) - (last - first) for first, last, markers in edit.events
    )
    if expected_length != len(new_events):
        return "the edit changed the document's structure"
    position = 0  # in old_events
    shift = 0  # new index minus old index
    for first, last, markers in sorted(edit.events, key=lambda change: change[0]):
        for index in range(position, first):
            if not _same(old_events[index], new_events[index + shift]):
                return _changed(new_events[index + shift])
        for offset, marker in enumerate(markers):
            event = new_events[first + shift + offset]
            if not _matches(marker, event):
                return f"line {event.start_mark.line + 1}: the edited value came out wrong"
        shift += len(markers) - (last - first)
        position = last
    for index in range(position, len(old_events)):
        if not _same(old_events[index], new_events[index + shift]):
            return _changed(new_events[index + shift])
    return None


def _changed(event: Any) -> str:
    return f"line {event.start_mark.line + 1}: the edit changed something else"
