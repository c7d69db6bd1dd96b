"""Ask harder when a protected write is big: the ``blast-radius:`` policy section.

A y/N that names the context is the question people learn to answer without
reading. When a write deletes a namespace, touches volumes, selects by ``--all``,
``-A`` or a selector, or reaches many objects, the level is raised (never
lowered) to what the policy says, by default a typed name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesafe.kubectl.args import Reading
from kubesafe.kubectl.blast import Blast
from kubesafe.policy import BLOCK, NONE, TYPED, level_rank

DEFAULTS: dict[str, Any] = {
    "namespace-delete": TYPED,
    "volumes": TYPED,
    "wide-selection": TYPED,
    "objects-over": 20,
    "objects-level": TYPED,
    "timeout": 2.0,
}

NAMESPACE_TYPES = frozenset({"ns", "namespace", "namespaces"})
VOLUME_TYPES = frozenset(
    {
        "pvc",
        "persistentvolumeclaim",
        "persistentvolumeclaims",
        "pv",
        "persistentvolume",
        "persistentvolumes",
    }
)
_WIDE_FLAGS = ("all", "all-namespaces", "selector", "field-selector")


def settings(blast_radius: Mapping[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **blast_radius}


def _types(reading: Reading) -> set[str]:
    """Resource type words of the command line, lower-cased, group suffix dropped."""
    words: set[str] = set()
    for word in reading.positionals:
        for part in word.split(","):
            kind = part.split("/", 1)[0] if "/" in part else part
            words.add(kind.split(".", 1)[0].lower())
    return words


def is_wide(reading: Reading) -> bool:
    return any(reading.has(flag) and reading.last(flag) not in ("false",) for flag in _WIDE_FLAGS)


def _restarts_every(reading: Reading) -> bool:
    """``rollout restart deployment`` with no name restarts all of them, like ``--all``."""
    words = reading.positionals
    return reading.command == ("rollout", "restart") and (
        len(words) == 1 and "/" not in words[0] and not reading.has("filename")
    )


def escalate(
    level: str, reading: Reading, blast: Blast | None, policy_settings: Mapping[str, Any]
) -> tuple[str, tuple[str, ...]]:
    """(the raised level, why), from the command line and, when there is one, the preview."""
    if level in (NONE, BLOCK):
        return level, ()
    rules = settings(policy_settings)
    reasons: list[str] = []
    raised = level

    def raise_to(key: str, why: str, to: str | None = None) -> None:
        nonlocal raised
        target = to or str(rules[key])
        if target != NONE and level_rank(target) > level_rank(raised):
            raised = target
        if target != NONE and level_rank(target) > level_rank(level):
            reasons.append(f"{why} (blast-radius {key}: {target})")

    # apply --prune deletes what its selection holds and its manifests do not.
    pruning = reading.command == ("apply",) and reading.last("prune") not in (None, "false")
    deleting = reading.command == ("delete",) or pruning
    types = _types(reading) if deleting else set()
    namespaces = blast.namespaces if blast is not None else []
    if deleting and (types & NAMESPACE_TYPES or namespaces):
        named = ", ".join(namespaces) if namespaces else "a namespace"
        raise_to("namespace-delete", f"deletes {named} and everything in it")
    if deleting and blast is None and (reading.has("filename") or reading.has("kustomize")):
        # kubectl reads the manifests, kubesafe could not: a Namespace or a PVC in them
        # is as likely as in a name on the command line, and no preview says otherwise.
        raise_to(
            "namespace-delete",
            "deletes what its manifests name, and no preview rules out a namespace or a volume",
        )
    volumes = blast.volumes if blast is not None else []
    if (deleting and types & VOLUME_TYPES) or volumes:
        raise_to("volumes", "reaches persistent volumes" + (f": {volumes[0]}" if volumes else ""))
    if is_wide(reading) or (blast is not None and blast.wide):
        raise_to("wide-selection", "selects by --all, -A or a selector, not by name")
    elif _restarts_every(reading):
        raise_to(
            "wide-selection",
            f"restarts every {reading.positionals[0]} in the namespace (no name given)",
        )
    if blast is not None and blast.objects > int(rules["objects-over"]):
        raise_to(
            "objects-over",
            f"reaches {blast.objects}{'+' if blast.truncated else ''} objects, more than "
            f"{rules['objects-over']}",
            str(rules["objects-level"]),
        )
    return raised, tuple(reasons)
