"""What a command does to a cluster, in four categories shared by kubectl and helm.

``local`` touches no cluster, ``read`` only reads, ``write`` changes something,
``destructive`` deletes or empties. Each program's command table (``kubectl/classify.py``,
``helm/classify.py``) says which; ``strictest`` picks among several readings.
"""

from __future__ import annotations

from kubesafe.record import Record

LOCAL = "local"


READ = "read"


WRITE = "write"


DESTRUCTIVE = "destructive"


_SEVERITY = {LOCAL: 0, READ: 1, WRITE: 2, DESTRUCTIVE: 3}


class Classification(Record):
    __slots__ = ("category", "reason")

    def __init__(self, category: str, reason: str) -> None:
        self.category = category
        self.reason = reason

    @property
    def mutating(self) -> bool:
        return _SEVERITY[self.category] >= _SEVERITY[WRITE]

    @property
    def destructive(self) -> bool:
        return self.category == DESTRUCTIVE


def strictest(classifications: list[Classification]) -> Classification:
    return max(classifications, key=lambda c: _SEVERITY[c.category])
