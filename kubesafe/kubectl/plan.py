"""argv -> target -> classification -> decision: the one code path for the shim and explain.

``kubesafe explain`` prints a Plan; the shim carries it out. Keeping them on
the same function is what makes ``explain`` trustworthy.
"""

from __future__ import annotations

import os

from kubesafe.classification import Classification
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Overrides, Target
from kubesafe.kubectl import args as kubectl_args
from kubesafe.kubectl import kuberc
from kubesafe.kubectl.args import ParsedArgs, Reading
from kubesafe.kubectl.classify import classify, namespaces_reached
from kubesafe.policy import (
    Policy,
    Protection,
    load_policy,
)
from kubesafe.record import Record
from kubesafe.verdict import Case, Verdict, judge
from kubesafe.versions.choose import Choice, choose
from kubesafe.versions.parse import parse_git_version

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping



_CREDENTIAL_FLAGS = ("token", "username", "password", "client-certificate")


class Plan(Record):
    """Everything the shim needs to act, and explain needs to report."""

    __slots__ = (
        "argv",
        "choice",
        "classification",
        "decision",
        "decision_reason",
        "guarded",
        "kubectl_dependent",
        "overridable",
        "parsed",
        "policy",
        "policy_error",
        "protection",
        "resolve_error",
        "targets",
    )

    def __init__(
        self,
        argv: tuple[str, ...],
        parsed: ParsedArgs,
        classification: Classification,
        targets: tuple[Target, ...],
        resolve_error: str | None,
        protection: Protection,
        guarded: Target | None,
        decision: str,
        decision_reason: str,
        overridable: bool,
        policy_error: str | None,
        policy: Policy | None,
        choice: Choice,
        kubectl_dependent: bool = False,
    ) -> None:
        self.argv = argv
        self.parsed = parsed
        self.classification = classification
        # One target per distinct reading of an ambiguous argv; the first is kubectl's.
        self.targets = targets
        # Why the target could not be resolved (the kubeconfig, context or flags are wrong).
        self.resolve_error = resolve_error
        # The protection of the strictest (reading, target) pair, and that target
        # (the one a typed confirmation names).
        self.protection = protection
        self.guarded = guarded
        self.decision = decision
        self.decision_reason = decision_reason
        # True when the decision comes from a protection level, so that a human (or
        # KUBESAFE_CONFIRM) may approve it; False when kubesafe cannot tell the target.
        self.overridable = overridable
        self.policy_error = policy_error
        self.policy = policy
        # Which kubectl runs (from remembered versions only: explain never asks a server).
        self.choice = choice
        # The readings depend on which kubectl runs (kuberc) and that is not settled, so
        # they were all judged; knowing the server's version would narrow them.
        self.kubectl_dependent = kubectl_dependent

    @property
    def kubectl(self) -> str | None:
        return self.choice.path

    @property
    def kubectl_reason(self) -> str:
        return self.choice.reason

    @property
    def target(self) -> Target | None:
        return self.targets[0] if self.targets else None

    @property
    def command(self) -> tuple[str, ...]:
        return self.parsed.primary.command

    @property
    def level(self) -> str:
        return self.protection.level


def overrides_from(reading: Reading) -> Overrides:
    def global_value(name: str) -> str:
        if not reading.plugin and kubectl_args.shadows_global(reading.command, name):
            return ""
        return reading.last(name) or ""

    return Overrides(
        kubeconfig=global_value("kubeconfig"),
        context=global_value("context"),
        cluster=global_value("cluster"),
        user=global_value("user"),
        server=global_value("server"),
        namespace=global_value("namespace"),
        credentials=any(global_value(name) for name in _CREDENTIAL_FLAGS),
        certificate_authority=global_value("certificate-authority"),
        tls_server_name=global_value("tls-server-name"),
        insecure=_true(reading, "insecure-skip-tls-verify"),
    )


def _true(reading: Reading, name: str) -> bool:
    if not reading.plugin and kubectl_args.shadows_global(reading.command, name):
        return False
    value = reading.last(name)
    return value is not None and value in kubectl_args.PARSE_BOOL_TRUE


def make_plan(
    argv: list[str] | tuple[str, ...],
    env: Mapping[str, str] | None = None,
    index: FileIndex | None = None,
    parsed: ParsedArgs | None = None,
) -> Plan:
    """Everything about a kubectl call, from remembered facts only (no network).

    ``parsed``: ``kubectl_args.parse(argv)`` when the caller already has it (the shim
    parses once for its local fast path and hands the reading on).
    """
    environment = os.environ if env is None else env
    files = index if index is not None else FileIndex()
    raw = parsed if parsed is not None else kubectl_args.parse(argv)
    parsed, resolve_error = _with_kuberc(argv, raw, environment, files)
    verdict, choice = _decided(parsed, resolve_error, environment, files)
    # kuberc gave readings that depend on which kubectl runs
    dependent = parsed.ambiguous and parsed.readings != raw.readings
    minor = _settled_minor(choice, environment, files) if dependent else None
    if minor is not None:
        # Settle on what the kubectl that runs reads, if that choice holds up: the
        # kubectl picked for the target its own reading gives is of the same minor.
        narrowed, narrowed_error = _with_kuberc(argv, raw, environment, files, minor)
        second, second_choice = _decided(
            narrowed, narrowed_error, environment, files, verdict.targets[:1], choice
        )
        if _settled_minor(second_choice, environment, files) == minor:
            parsed, verdict, choice, dependent = narrowed, second, second_choice, False
    version = _known_version(choice)
    if version is not None and any(_version_dependent(r) for r in parsed.readings):
        # The kubectl that will run is known now: classify again for that kubectl.
        verdict = _judge_readings(parsed, verdict.resolve_error, version, environment, files)
    policy = verdict.policy
    if policy is None and not environment.get("KUBESAFE_KUBECTL"):
        policy = load_policy(environment, files)
    targets = verdict.targets
    if index is None:
        files.save()
    return Plan(
        argv=tuple(argv),
        parsed=parsed,
        classification=verdict.classification,
        targets=targets,
        resolve_error=verdict.resolve_error,
        protection=verdict.protection,
        guarded=verdict.guarded,
        decision=verdict.decision,
        decision_reason=verdict.decision_reason,
        overridable=verdict.overridable,
        policy_error=policy.error if policy else None,
        policy=policy,
        choice=choice,
        kubectl_dependent=dependent,
    )


def _judge_readings(
    parsed: ParsedArgs,
    resolve_error: str | None,
    kubectl_version: tuple[int, int] | None,
    env: Mapping[str, str],
    files: FileIndex,
) -> Verdict:
    cases = []
    for reading in parsed.readings:
        reading_class = classify(reading, kubectl_version)
        reach = _reach(reading, read_manifests=reading_class.mutating)
        cases.append(Case(overrides_from(reading), reading_class, reach))
    return judge(
        cases,
        resolve_error,
        exhaustive=parsed.exhaustive,
        uncertain_flags=parsed.uncertain_flags,
        env=env,
        index=files,
    )


def _settled_minor(choice: Choice, env: Mapping[str, str], files: FileIndex) -> int | None:
    """``kubectl_minor``, also for ``KUBESAFE_KUBECTL`` (asked once per binary)."""
    minor = kubectl_minor(choice)
    if minor is None and choice.path is not None and env.get("KUBESAFE_KUBECTL"):
        from kubesafe.versions.store import binary_version

        found = binary_version(choice.path, files)
        minor = found.minor if found is not None and found.major == 1 else None
    return minor


def _decided(
    parsed: ParsedArgs,
    resolve_error: str | None,
    env: Mapping[str, str],
    files: FileIndex,
    known_target: tuple[Target, ...] = (),
    known_choice: Choice | None = None,
) -> tuple[Verdict, Choice]:
    """The verdict on these readings, and the kubectl that would run for its target.

    ``known_choice`` is the choice already made for ``known_target``: choosing
    again for the same target would give the same kubectl.
    """
    verdict = _judge_readings(parsed, resolve_error, None, env, files)
    policy = verdict.policy
    if policy is None and not env.get("KUBESAFE_KUBECTL"):
        policy = load_policy(env, files)
    settings = policy.kubectl if policy is not None else {}
    targets = verdict.targets
    if known_choice is not None and targets[:1] == known_target:
        return verdict, known_choice
    return verdict, choose(targets[0] if targets else None, settings, env, files)


def _version_dependent(reading: Reading) -> bool:
    """Whether the reading's class depends on the kubectl version (``kuberc``)."""
    return not reading.plugin and reading.command[:1] == ("kuberc",)


def _known_version(choice: Choice) -> tuple[int, int] | None:
    """(major, minor) of the kubectl the shim will run, when it is certain.

    A stale choice is made again after the decision (the server is asked), and
    may then pick another kubectl: its version does not count.
    """
    if choice.stale or not choice.version or (choice.path is None and choice.download is None):
        return None
    parsed = parse_git_version(choice.version)
    return None if parsed is None else (parsed[0], parsed[1])


def _reach(reading: Reading, *, read_manifests: bool) -> Callable[[str], tuple[str, ...] | None]:
    def reached(namespace: str) -> tuple[str, ...] | None:
        return namespaces_reached(reading, namespace, read_manifests=read_manifests)

    return reached


def _with_kuberc(
    argv: list[str] | tuple[str, ...],
    raw: ParsedArgs,
    env: Mapping[str, str],
    files: FileIndex,
    minor: int | None = None,
) -> tuple[ParsedArgs, str | None]:
    """Every reading of argv as kubectl 1.<minor> runs it once kuberc applies.

    With ``minor`` None (the kubectl that runs is not known) the readings of
    every kubectl are kept, with and without kuberc: a kuberc default can just
    as well point at a safer target as at a more dangerous one. ``raw`` is argv's own
    reading (the shim parsed it once); only expansions are parsed again.
    """
    families = kuberc.FAMILIES if minor is None else (minor,)
    variants: list[ParsedArgs] = []
    unchanged = minor is None  # 1.31-1.32 read no kuberc
    try:
        effective = kuberc.effective_argvs(argv, env, files, families)
    except kuberc.KubercError as exc:
        return raw, f"{exc}; its aliases and defaults may change any command"
    seen: list[list[str]] = []
    for expanded in effective:
        if expanded is None:
            unchanged = True
        elif expanded not in seen:
            seen.append(expanded)
            variants.append(kubectl_args.parse(expanded))
    if not variants:
        return raw, None
    if unchanged:
        variants.append(raw)
    return _combined(argv, variants), None


def _combined(argv: list[str] | tuple[str, ...], variants: list[ParsedArgs]) -> ParsedArgs:
    if len(variants) == 1:
        return variants[0]
    readings: list[Reading] = []
    uncertain: list[str] = []
    for parsed in variants:
        readings += [reading for reading in parsed.readings if reading not in readings]
        uncertain += [flag for flag in parsed.uncertain_flags if flag not in uncertain]
    return ParsedArgs(
        tuple(argv),
        tuple(readings),
        tuple(uncertain),
        exhaustive=all(parsed.exhaustive for parsed in variants),
    )


def kubectl_minor(choice: Choice) -> int | None:
    """The minor version of the kubectl a plan will run, when it is settled.

    Not settled: a binary of unknown version (``KUBESAFE_KUBECTL``), or a
    remembered server version so old that the shim asks the server again (and
    may pick another kubectl).
    """
    if (choice.stale and not choice.pinned) or (choice.path is None and choice.download is None):
        return None
    from kubesafe.versions.parse import parse_git_version, parse_user_version

    tag = choice.version or choice.download or ""
    found = parse_git_version(tag)
    if found is None and tag:
        try:
            found = parse_user_version(tag)[0]
        except ValueError:
            found = None
    return found.minor if found is not None and found.major == 1 else None


