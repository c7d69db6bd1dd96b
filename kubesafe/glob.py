"""Shell-style globbing (``*``, ``?``, ``[seq]``, ``[!seq]``) like ``fnmatch.fnmatchcase``.

fnmatch compiles every pattern through ``re``; importing both costs more than
the whole match on the hot path. A test checks this against fnmatch.
"""

from __future__ import annotations


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 1
    return i if i < len(pattern) else -1


def _class_matches(body: str, char: str) -> bool:
    negate = body.startswith("!")
    if negate:
        body = body[1:]
    matched = False
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low <= char <= high:
                matched = True
            i += 3
        else:
            if body[i] == char:
                matched = True
            i += 1
    return matched != negate


def glob_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` (case-sensitive, ``/`` not special)."""
    p = t = 0
    star_p = star_t = -1
    while t < len(text):
        if p < len(pattern):
            char = pattern[p]
            if char == "*":
                star_p, star_t = p, t
                p += 1
                continue
            if char == "?":
                p += 1
                t += 1
                continue
            if char == "[":
                end = _class_end(pattern, p)
                if end != -1:
                    if _class_matches(pattern[p + 1 : end], text[t]):
                        p = end + 1
                        t += 1
                        continue
                elif text[t] == "[":
                    p += 1
                    t += 1
                    continue
            elif char == text[t]:
                p += 1
                t += 1
                continue
        if star_p == -1:
            return False
        p = star_p + 1
        star_t += 1
        t = star_t
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
