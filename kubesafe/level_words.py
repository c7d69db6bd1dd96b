"""Policy levels in plain words, for notices, listings and explain.

``confirm`` and ``typed`` are the policy file's vocabulary; someone switching
to a protected context wants to know what will happen: "writes ask y/N,
deletes need 'prod' typed".
"""

from __future__ import annotations

# What happens to the commands of one class (a plural subject: "writes", "deletes").
_PHRASES = {
    "none": "go ahead unasked",
    "confirm": "ask y/N",
    "typed": "need {name} typed",
    "block": "are refused",
}


def level_words(level: str, name: str = "") -> str:
    """``ask y/N``, ``need 'prod' typed``...; ``name`` is what must be typed, if known."""
    return _PHRASES[level].format(name=f"'{name}'" if name else "the context name")


def levels_words(write: str, destructive: str, name: str = "") -> str:
    """``writes ask y/N, deletes need 'prod' typed`` (one clause when both are alike)."""
    if write == destructive:
        return f"writes and deletes {level_words(write, name)}"
    return f"writes {level_words(write, name)}, deletes {level_words(destructive, name)}"
