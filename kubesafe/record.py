"""A minimal value record for hot-path types.

``dataclasses`` and ``typing.NamedTuple`` each cost several milliseconds of
imports (inspect, re, typing) on every kubectl call; these records cost none.
Subclasses list their fields in ``__slots__`` and assign them in ``__init__``.
"""

from __future__ import annotations


class Record:
    __slots__: tuple[str, ...] = ()

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Record)
            and type(other) is type(self)
            and self.values() == other.values()
        )

    def __hash__(self) -> int:
        return hash(self.values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
