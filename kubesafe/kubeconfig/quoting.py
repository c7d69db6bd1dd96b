"""Names and namespaces as YAML scalars, written without importing PyYAML.

A context switch writes one ``current-context:`` line; PyYAML's import alone
costs more than the edit of a 1.4 MB kubeconfig. A plain scalar that starts
with a letter or ``_`` can only resolve to a boolean or a null under the
go-yaml-like loader (``parse._loader``: YAML 1.1's implicit resolvers for those
first characters, plus ``y``/``n``), so those words are quoted and everything
else matching ``_PLAIN`` stays plain. tests/kubeconfig/test_quoting.py checks
that against the loader's resolvers.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./@+-]*(?::[A-Za-z0-9_./@+-]+)*")
_ESCAPED = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
# The plain words the loader reads as booleans or null rather than as strings.
_BOOLEANS = "yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF y Y n N"
NOT_STRINGS = frozenset([*_BOOLEANS.split(" "), "null", "Null", "NULL"])


def scalar_text(value: str, flow: bool = False) -> str:
    """``value`` as a YAML scalar that every YAML 1.1 reader takes as that string."""
    plain = _PLAIN.fullmatch(value) and not (flow and ":" in value)
    if plain and value not in NOT_STRINGS:
        return value
    out = ['"']
    for char in value:
        code = ord(char)
        if char in _ESCAPED:
            out.append(_ESCAPED[char])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("a name or namespace is not valid Unicode")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
