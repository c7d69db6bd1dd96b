"""Which kubectl runs for a target: pinned, remembered, discovered, or fallen back on.

The hot path reads two small caches (server versions, binaries) and makes no
request. Only when a server's remembered version is missing or older than
``kubectl.version-ttl`` does the shim, after the safety decision, ask the
server (``discover=True``), bounded by ``kubectl.discovery-timeout``.
"""

from __future__ import annotations

from kubesafe.kubeconfig.cache import FileIndex
from kubesafe.kubectl.locate import NO_KUBECTL, LocateError, pinned_kubectl
from kubesafe.record import Record
from kubesafe.versions import server_cache, store
from kubesafe.versions.parse import parse_git_version
from kubesafe.versions.select import Selection, select

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubesafe.kubeconfig.resolve import Target

DEFAULT_TIMEOUT = 3.0
DISCOVERY_VARIABLE = "KUBESAFE_DISCOVERY"


class Choice(Record):
    __slots__ = (
        "download",
        "path",
        "pinned",
        "reason",
        "server_version",
        "stale",
        "version",
        "warning",
    )

    def __init__(
        self,
        path: str | None,
        version: str,
        download: str | None,
        reason: str,
        server_version: str | None = None,
        stale: bool = False,
        warning: str | None = None,
        pinned: bool = False,
    ) -> None:
        self.path = path
        self.version = version
        # Release to download before running ("v1.31.4", or "1.31" to resolve), or None.
        self.download = download
        self.reason = reason
        # The server's gitVersion as known (remembered or just discovered).
        self.server_version = server_version
        # The remembered server version is missing or expired: discovery would help.
        self.stale = stale
        # One line for the user when discovery failed and a fallback was used.
        self.warning = warning
        # The configuration pins the version: asking the server cannot change it.
        self.pinned = pinned


def _discover(
    target: Target, settings: Mapping[str, object], versions: server_cache.ServerVersions
) -> str | None:
    from kubesafe.versions.discovery import DiscoveryError, fetch_server_version
    from kubesafe.versions.parse import parse_version_payload

    timeout = settings.get("discovery-timeout", DEFAULT_TIMEOUT)
    try:
        payload = fetch_server_version(
            kubeconfig_files=list(target.kubeconfig),
            context=target.context,
            cluster=target.cluster,
            user=target.user,
            server=target.server,
            timeout=float(timeout),  # type: ignore[arg-type]
        )
    except DiscoveryError:
        versions.record_failure(target.server)
        return None
    parsed = parse_version_payload(payload)
    git_version = str(payload.get("gitVersion") or (parsed.tag if parsed else ""))
    if parsed is None:
        versions.record_failure(target.server)
        return None
    versions.record(target.server, git_version)
    return git_version


def choose(
    target: Target | None,
    settings: Mapping[str, object],
    env: Mapping[str, str],
    index: FileIndex,
    *,
    discover: bool = False,
    versions: server_cache.ServerVersions | None = None,
) -> Choice:
    """Pick the kubectl; with ``discover`` it may ask the server (slow path)."""
    try:
        pinned = pinned_kubectl(env)
    except LocateError as exc:
        return Choice(None, "", None, str(exc))
    if pinned:
        return Choice(pinned, "", None, "pinned by KUBESAFE_KUBECTL")
    cache = versions if versions is not None else server_cache.ServerVersions()
    server_version: str | None = None
    stale = False
    warning = None
    last_used = None
    if target is not None:
        ttl = float(settings.get("version-ttl", server_cache.DEFAULT_TTL))  # type: ignore[arg-type]
        server_version = cache.known(target.server)
        last_used = cache.last_used(target.server)
        stale = not cache.fresh(target.server, ttl)
        if stale and discover and not env.get(DISCOVERY_VARIABLE):
            discovered = _discover(target, settings, cache)
            stale = False
            if discovered is None:
                warning = f"cannot ask {target.server} for its version; using a fallback kubectl"
            server_version = discovered or server_version
    parsed = parse_git_version(server_version) if server_version else None
    candidates = store.cached()
    if target is None:
        selection = _without_cluster(env)
    else:
        selection = select(
            parsed, candidates, dict(settings), context=target.context, last_used=last_used
        )
        if selection.path is None:
            # Only now look at (and, once per binary, run) the system's kubectls.
            candidates += store.system(env, index)
            selection = select(
                parsed, candidates, dict(settings), context=target.context, last_used=last_used
            )
    if discover and target is not None and parsed is not None and selection.version:
        # Remembered as the fallback for when this server cannot be asked. Only a choice
        # made from the server's real version counts (explain and fallbacks never do).
        cache.record_use(target.server, selection.version)
    if selection.path is None and selection.download is None:
        selection = Selection(None, "", None, f"{selection.reason}: {NO_KUBECTL}")
    if versions is None:
        cache.save()
    choice = _choice(selection, server_version, stale, warning)
    choice.pinned = target is not None and _pinned_by_settings(settings, target.context)
    return choice


def _pinned_by_settings(settings: Mapping[str, object], context: str) -> bool:
    contexts = settings.get("contexts")
    return (isinstance(contexts, dict) and context in contexts) or bool(settings.get("version"))


def _without_cluster(env: Mapping[str, str]) -> Selection:
    """No cluster involved, or none resolvable (kubectl will say why)."""
    found = store.any_kubectl(env)
    if found is None:
        return Selection(None, "", None, "no kubectl at all")
    return Selection(found[0], "", None, found[1])


def _choice(
    selection: Selection, server_version: str | None, stale: bool, warning: str | None
) -> Choice:
    return Choice(
        selection.path,
        selection.version,
        selection.download,
        selection.reason,
        server_version,
        stale,
        warning,
    )


def mirror(settings: Mapping[str, object], env: Mapping[str, str]) -> str:
    return env.get("KUBESAFE_MIRROR") or str(settings.get("mirror") or "https://dl.k8s.io")
