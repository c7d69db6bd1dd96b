"""A minimal value record for hot-path types.

``dataclasses`` and ``typing.NamedTuple`` each cost several milliseconds of
imports (inspect, re, typing) on every kubectl call; these records cost none.
Subclasses list their fields in ``__slots__`` and assign them in ``__init__``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from typing import TypeVar

    R = TypeVar("R", bound="Record")


class Record:
    __slots__: tuple[str, ...] = ()

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    @classmethod
    def from_values(cls: type[R], values: tuple[object, ...]) -> R:
        """The record whose ``values()`` are ``values`` (for records kept in marshal files)."""
        record = cls.__new__(cls)
        for name, value in zip(cls.__slots__, values, strict=True):
            setattr(record, name, value)
        return record

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
