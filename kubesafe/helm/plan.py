"""helm argv -> target -> classification -> decision, shared by the helm shim and explain.

helm loads kubeconfig files with client-go's rules, exactly like kubectl, and
overrides them with its own flags and environment variables (a flag, even an
empty one, beats the variable):

* ``--kube-context`` / ``HELM_KUBECONTEXT``: the context;
* ``--kubeconfig``: one explicit file (``KUBECONFIG`` otherwise, as for kubectl);
* ``-n/--namespace`` / ``HELM_NAMESPACE``: the namespace;
* ``--kube-apiserver`` / ``HELM_KUBEAPISERVER``: the server URL;
* ``--kube-token`` / ``HELM_KUBETOKEN``: credentials (no in-cluster fallback).

helm has no ``--cluster``/``--user`` flags. The decision itself is
``kubesafe.verdict.judge``, the same code that decides for kubectl.
"""

from __future__ import annotations

import os

from kubesafe.helm.args import HelmArgs, HelmReading, parse
from kubesafe.helm.classify import classify, release_and_chart
from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubeconfig.resolve import Overrides, Target, resolve_merged
from kubesafe.record import Record
from kubesafe.verdict import Case, judge

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from kubesafe.classification import Classification
    from kubesafe.kubeconfig.resolve import Merged
    from kubesafe.policy import Policy, Protection

# helm flag -> (environment variable, kubesafe override field)
_TARGET_FLAGS = (
    ("kube-context", "HELM_KUBECONTEXT"),
    ("kubeconfig", ""),
    ("namespace", "HELM_NAMESPACE"),
    ("kube-apiserver", "HELM_KUBEAPISERVER"),
    ("kube-token", "HELM_KUBETOKEN"),
    ("kube-ca-file", "HELM_KUBECAFILE"),
    ("kube-tls-server-name", "HELM_KUBETLS_SERVER_NAME"),
    ("kube-insecure-skip-tls-verify", "HELM_KUBEINSECURE_SKIP_TLS_VERIFY"),
)
_TRUE = frozenset({"", "\0", "1", "t", "T", "true", "TRUE", "True"})  # Go's ParseBool; bare


class HelmPlan(Record):
    """Everything the helm shim needs to act, and ``explain --helm`` to report."""

    __slots__ = (
        "argv",
        "chart",
        "classification",
        "decision",
        "decision_reason",
        "guarded",
        "helm",
        "helm_reason",
        "overridable",
        "parsed",
        "policy",
        "policy_error",
        "protection",
        "release",
        "resolve_error",
        "targets",
    )

    def __init__(
        self,
        argv: tuple[str, ...],
        parsed: HelmArgs,
        classification: Classification,
        targets: tuple[Target, ...],
        resolve_error: str | None,
        protection: Protection,
        guarded: Target | None,
        decision: str,
        decision_reason: str,
        overridable: bool,
        policy: Policy | None,
        release: str | None,
        chart: str | None,
        helm: str | None,
        helm_reason: str,
    ) -> None:
        self.argv = argv
        self.parsed = parsed
        self.classification = classification
        self.targets = targets
        self.resolve_error = resolve_error
        self.protection = protection
        self.guarded = guarded
        self.decision = decision
        self.decision_reason = decision_reason
        self.overridable = overridable
        self.policy = policy
        self.policy_error = policy.error if policy is not None else None
        self.release = release
        self.chart = chart
        # The real helm to exec (None: not found; helm_reason says why).
        self.helm = helm
        self.helm_reason = helm_reason

    @property
    def target(self) -> Target | None:
        return self.targets[0] if self.targets else None

    @property
    def command(self) -> tuple[str, ...]:
        return self.parsed.primary.command

    @property
    def level(self) -> str:
        return self.protection.level


def _setting(reading: HelmReading, flag: str, variable: str, env: Mapping[str, str]) -> str:
    value = reading.globals.get(flag)
    if value is not None:
        return value
    return env.get(variable, "") if variable else ""


def overrides_from(reading: HelmReading, env: Mapping[str, str]) -> Overrides:
    values = {flag: _setting(reading, flag, variable, env) for flag, variable in _TARGET_FLAGS}
    return Overrides(
        kubeconfig=values["kubeconfig"],
        context=values["kube-context"],
        server=values["kube-apiserver"],
        namespace=values["namespace"],
        credentials=bool(values["kube-token"]),
        certificate_authority=values["kube-ca-file"],
        tls_server_name=values["kube-tls-server-name"],
        insecure=_is_true(reading, values["kube-insecure-skip-tls-verify"]),
    )


def _is_true(reading: HelmReading, value: str) -> bool:
    if "kube-insecure-skip-tls-verify" in reading.globals:
        return value in _TRUE
    return value in _TRUE - {"", "\0"}  # an empty variable is unset


def _source(reading: HelmReading, flag: str, variable: str) -> str:
    return f"--{flag}" if flag in reading.globals else variable


def _resolver(
    reading: HelmReading, env: Mapping[str, str]
) -> Callable[[Merged, Overrides], Target]:
    """resolve_merged, with sources named the way a helm user set them."""

    def resolve(merged: Merged, overrides: Overrides) -> Target:
        target = resolve_merged(merged, overrides, env)
        if target.server_source == "--server":
            target.server_source = _source(reading, "kube-apiserver", "HELM_KUBEAPISERVER")
        if target.namespace_source == "--namespace":
            target.namespace_source = _source(reading, "namespace", "HELM_NAMESPACE")
        return target

    return resolve


def _any_namespace(namespace: str) -> tuple[str, ...] | None:
    # A chart may put objects in any namespace (and cluster-wide): fail closed.
    return None


def _reading_namespace(namespace: str) -> tuple[str, ...] | None:
    return (namespace,)


def make_helm_plan(
    argv: list[str] | tuple[str, ...],
    env: Mapping[str, str] | None = None,
    index: FileIndex | None = None,
) -> HelmPlan:
    """Everything about a helm call, from local files only (no network)."""
    environment = os.environ if env is None else env
    files = index if index is not None else FileIndex()
    parsed = parse(argv)
    cases: list[Case] = []
    for reading in parsed.readings:
        classification = classify(reading)
        reach = _any_namespace if classification.mutating else _reading_namespace
        overrides = overrides_from(reading, environment)
        cases.append(Case(overrides, classification, reach, _resolver(reading, environment)))
    verdict = judge(
        cases,
        None,
        exhaustive=parsed.exhaustive,
        uncertain_flags=parsed.uncertain_flags,
        env=environment,
        index=files,
    )
    if index is None:
        files.save()
    from kubesafe.helm.locate import locate_helm

    helm, helm_reason = locate_helm(environment)
    release, chart = release_and_chart(parsed.primary)
    return HelmPlan(
        argv=tuple(argv),
        parsed=parsed,
        classification=verdict.classification,
        targets=verdict.targets,
        resolve_error=verdict.resolve_error,
        protection=verdict.protection,
        guarded=verdict.guarded,
        decision=verdict.decision,
        decision_reason=verdict.decision_reason,
        overridable=verdict.overridable,
        policy=verdict.policy,
        release=release,
        chart=chart,
        helm=helm,
        helm_reason=helm_reason,
    )
