"""Get a kubectl release into kubesafe's store (the shim's and ``versions install``'s path)."""

from __future__ import annotations

from kubesafe.versions import server_cache, store

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

    from kubesafe.kubeconfig.resolve import Target

DEFAULT_MIRROR = "https://dl.k8s.io"
DOWNLOAD_TIMEOUT = 30.0


class FetchError(Exception):
    """The release could not be installed; the message says what to do."""


def mirror(settings: Mapping[str, object], env: Mapping[str, str]) -> str:
    return (env.get("KUBESAFE_MIRROR") or str(settings.get("mirror") or DEFAULT_MIRROR)).rstrip("/")


def install_error(spec: str, problem: str, *, network: bool = False) -> str:
    """One line: what failed, then each hint once (download errors carry their own)."""
    problem = problem.strip().rstrip(".")
    label = problem.split(":", 1)[0]
    # "kubectl 1.31: ..." or "kubectl v1.31.4: ...": the release is named once.
    if label.startswith("kubectl ") and " " not in label.removeprefix("kubectl "):
        message = f"cannot install {problem}"
    else:
        message = f"cannot install kubectl {spec}: {problem}"
    if network and "KUBESAFE_MIRROR" not in message:
        message += "; set KUBESAFE_MIRROR to a reachable mirror"
    return f"{message}; or set KUBESAFE_KUBECTL to a kubectl you already have"


def fetch(
    spec: str,
    settings: Mapping[str, object],
    env: Mapping[str, str],
    target: Target | None = None,
    *,
    progress: bool | None = None,
) -> str:
    """Install release ``spec`` ("v1.31.4", "1.31.4" or a minor "1.31"); return the binary."""
    import httpx

    from kubesafe.versions.download import DownloadError, install, platform_pair, resolve_version

    base = mirror(settings, env)
    try:
        with httpx.Client(follow_redirects=True, timeout=DOWNLOAD_TIMEOUT) as client:
            version = resolve_version(spec, base, client)
        goos, goarch = platform_pair()
        path = install(
            version,
            store_dir=store.store_dir(),
            base_url=base,
            goos=goos,
            goarch=goarch,
            timeout=DOWNLOAD_TIMEOUT,
            progress=progress,
        )
    except (DownloadError, httpx.HTTPError, ValueError) as exc:
        raise FetchError(
            install_error(spec, str(exc), network=isinstance(exc, httpx.HTTPError))
        ) from None
    if target is not None:
        versions = server_cache.ServerVersions()
        versions.record_use(target.server, version)
        versions.save()
    return path
