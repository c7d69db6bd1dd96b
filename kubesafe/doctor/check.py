"""The result of one doctor check."""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
WARN = "warn"
FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One finding: ``fix`` holds commands or lines to add, one per entry."""

    name: str
    status: str
    summary: str
    subject: str = ""
    detail: tuple[str, ...] = ()
    fix: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "subject": self.subject,
            "status": self.status,
            "summary": self.summary,
            "detail": list(self.detail),
            "fix": list(self.fix),
        }
