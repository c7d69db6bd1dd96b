"""Ask a cluster which Kubernetes version it runs (``GET /version``).

This is the slow path: it only runs when the remembered version of a server is
missing or stale, and it imports the official ``kubernetes`` client (about two
seconds on a cold start) lazily, inside :func:`fetch_server_version`.

How the request is made:

* kubesafe has already resolved the target (``--context``/``--cluster``/``--user``/
  ``--server`` and the kubeconfig files, client-go style), so this module does not
  choose a context.  It merges the given kubeconfig files itself (clusters and users,
  the first file that defines a name wins, as in client-go), makes relative file
  references absolute against the directory of the file that defined the entry
  (``certificate-authority``, ``client-certificate``, ``client-key``, ``tokenFile``,
  and an exec ``command`` containing a path separator), and hands the client ONE
  in-memory kubeconfig whose only context, ``kubesafe-discovery``, names the target's
  cluster and user.  The client's own multi-file handling is not used, and it is
  told never to write anything back (``persist_config=False``).
* Whatever credentials the user entry provides are sent: tokens, token files, client
  certificates, exec credential plugins (``aws eks get-token``, ``gke-gcloud-auth-
  plugin``, ``kubelogin``...), which the client runs while loading the config.  As in
  client-go, and unlike the Python client on its own, only to an https server: for
  ``http://`` the user entry is dropped (no token in clear text, no plugin run).
* Connecting and each read are bounded by ``timeout``, and there are no retries.  An
  exec plugin's own run time is not bounded (the client offers no way to).
* Nothing is printed: urllib3 warnings (``InsecureRequestWarning``) and the log
  records of the client and urllib3 are swallowed.  An exec plugin gets the terminal
  (stdin, stderr) only when stdout is one, as with kubectl, so that it can prompt.
* Certificate data embedded in the kubeconfig (``*-data``) has to be written to
  files for urllib3; they go to a private temporary directory that is removed as soon
  as the request is over (the client would otherwise leave them until the process
  exits, which never happens for a shim that replaces itself with kubectl).

Environment:

``KUBESAFE_DISCOVERY``
    Set to ``1`` in ``os.environ`` for the duration of :func:`fetch_server_version`
    (the previous value is restored afterwards), so it is inherited by exec credential
    plugins.  A plugin whose command is ``kubectl``, i.e. kubesafe's shim, sees it and
    must not start a discovery of its own (see :func:`in_discovery`), which would
    recurse.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs an import; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

__all__ = [
    "DISCOVERY_VARIABLE",
    "SYNTHETIC_CONTEXT",
    "DiscoveryError",
    "build_discovery_config",
    "fetch_server_version",
    "in_discovery",
]

DISCOVERY_VARIABLE = "KUBESAFE_DISCOVERY"
SYNTHETIC_CONTEXT = "kubesafe-discovery"

#: Relative file references client-go resolves against the defining file's directory.
_CLUSTER_FILE_KEYS = ("certificate-authority",)
_USER_FILE_KEYS = ("client-certificate", "client-key", "tokenFile")


class DiscoveryError(Exception):
    """The server's version could not be learned; ``str()`` is one line for the user.

    ``reason`` is one of ``"unreachable"``, ``"timeout"``, ``"unauthorized"``,
    ``"forbidden"``, ``"tls"``, ``"bad-response"``, ``"config"`` (kubeconfig problems)
    and ``"unavailable"`` (the kubernetes client cannot be imported).
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = " ".join(message.split())
        super().__init__(self.message)


def in_discovery(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs inside a discovery (as an exec credential plugin, or
    anything else started by one): then kubesafe must not start another."""
    return bool((os.environ if env is None else env).get(DISCOVERY_VARIABLE))


# ======================================================================================
# The in-memory kubeconfig
# ======================================================================================


def _read_kubeconfig(path: str) -> dict[str, Any] | None:
    """A kubeconfig file's document; None when it does not exist or is empty (client-go
    skips missing files in KUBECONFIG, and the caller has already vetted the list)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as stream:
            doc = yaml.safe_load(stream)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DiscoveryError("config", f"cannot read kubeconfig {path}: {_short(exc)}") from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise DiscoveryError("config", f"kubeconfig {path} is not a mapping")
    return doc


def _absolute(value: object, base: str) -> object:
    if isinstance(value, str) and value and not os.path.isabs(value):
        return os.path.normpath(os.path.join(base, value))
    return value


def _resolve_cluster(entry: dict[str, Any], base: str) -> dict[str, Any]:
    resolved = dict(entry)
    for key in _CLUSTER_FILE_KEYS:
        if key in resolved:
            resolved[key] = _absolute(resolved[key], base)
    return resolved


def _resolve_user(entry: dict[str, Any], base: str) -> dict[str, Any]:
    resolved = dict(entry)
    for key in _USER_FILE_KEYS:
        if key in resolved:
            resolved[key] = _absolute(resolved[key], base)
    plugin = resolved.get("exec")
    if isinstance(plugin, dict):
        command = plugin.get("command")
        # A bare name ("aws") is looked up on PATH; only paths are made absolute.
        if isinstance(command, str) and ("/" in command or os.sep in command):
            resolved["exec"] = {**plugin, "command": _absolute(command, base)}
    return resolved


def _read_token_file(entry: dict[str, Any]) -> dict[str, Any]:
    """Replace ``tokenFile`` by the ``token`` it holds, stripped of surrounding white space
    as client-go does (the Python client would send a trailing newline and fail).  The
    file wins over a ``token`` given too, as it does in client-go's transport."""
    path = entry.get("tokenFile")
    if not isinstance(path, str) or not path:
        return entry
    resolved = {key: value for key, value in entry.items() if key != "tokenFile"}
    try:
        with open(path, encoding="utf-8") as stream:
            token = stream.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        if entry.get("token"):
            return resolved
        raise DiscoveryError("config", f"cannot read tokenFile {path}: {_short(exc)}") from None
    if token:
        resolved["token"] = token
    return resolved


def _merged_entries(
    docs: list[tuple[str, dict[str, Any]]], section: str, inner: str
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """``(name, entry, directory of the defining file)``, first definition of a name only."""
    seen: set[str] = set()
    for path, doc in docs:
        items = doc.get(section)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            name = item.get("name")
            entry = item.get(inner)
            if not isinstance(name, str) or name in seen:
                continue
            seen.add(name)
            base = os.path.dirname(os.path.abspath(path))
            yield name, entry if isinstance(entry, dict) else {}, base


def _server_url(cluster_entry: dict[str, Any]) -> str:
    """The cluster's server URL with a lower-case scheme; one without a scheme gets
    ``https://`` when TLS is configured (CA or insecure-skip-tls-verify), else
    ``http://``, as client-go's ``DefaultServerURL`` does."""
    url = str(cluster_entry["server"]).strip()
    scheme, sep, rest = url.partition("://")
    if sep:
        return f"{scheme.lower()}://{rest}"
    tls = any(
        cluster_entry.get(key)
        for key in (
            "certificate-authority",
            "certificate-authority-data",
            "insecure-skip-tls-verify",
        )
    )
    return f"{'https' if tls else 'http'}://{url}"


def build_discovery_config(
    kubeconfig_files: list[str], *, context: str, cluster: str, user: str, server: str
) -> dict[str, Any]:
    """The single in-memory kubeconfig used for discovery (see the module docstring).

    Its only context is :data:`SYNTHETIC_CONTEXT`; ``server``, when not empty, replaces
    the cluster's server URL (``--server``).  The user entry is left out when the
    server is not https, as client-go ignores credentials then.  Raises
    :class:`DiscoveryError` (``config``) when there is no server to ask.
    """
    docs = [(path, doc) for path in kubeconfig_files if (doc := _read_kubeconfig(path))]
    clusters = {
        name: _resolve_cluster(entry, base)
        for name, entry, base in _merged_entries(docs, "clusters", "cluster")
    }
    users = {
        name: _resolve_user(entry, base)
        for name, entry, base in _merged_entries(docs, "users", "user")
    }
    cluster_entry = dict(clusters.get(cluster, {})) if cluster else {}
    if server:
        cluster_entry["server"] = server
    if not isinstance(cluster_entry.get("server"), str) or not cluster_entry["server"]:
        where = f" (context {context!r})" if context else ""
        if cluster and cluster not in clusters:
            problem = f"cluster {cluster!r}{where} is not in the kubeconfig"
        else:
            problem = f"no server for cluster {cluster!r}{where}"
        raise DiscoveryError("config", problem)
    cluster_entry["server"] = _server_url(cluster_entry)
    # Only what the synthetic context needs: other entries, however broken, cannot matter.
    context_entry: dict[str, Any] = {"cluster": SYNTHETIC_CONTEXT}
    user_entries = []
    # Like client-go, which reads a user's credentials only for an https server: a token
    # must not travel in clear text just because kubesafe asked for the version.
    if user and user in users and cluster_entry["server"].startswith("https://"):
        context_entry["user"] = user
        user_entries.append({"name": user, "user": _read_token_file(users[user])})
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": SYNTHETIC_CONTEXT, "cluster": cluster_entry}],
        "users": user_entries,
        "contexts": [{"name": SYNTHETIC_CONTEXT, "context": context_entry}],
        "current-context": SYNTHETIC_CONTEXT,
    }


# ======================================================================================
# Quiet: no warnings, no log output
# ======================================================================================


class _Quiet:
    """Swallow warnings and every log record reaching the root logger for a while,
    keeping the messages (the client reports exec plugin failures only as log errors)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __enter__(self) -> _Quiet:
        import logging
        import warnings

        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        messages = self.messages

        class _Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.levelno >= logging.ERROR:
                    try:
                        messages.append(record.getMessage())
                    except Exception:
                        messages.append(str(record.msg))

        root = logging.getLogger()
        self._root = root
        self._handlers = root.handlers[:]
        self._level = root.level
        root.handlers = [_Keep()]
        if root.level > logging.ERROR or root.level == logging.NOTSET:
            root.setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._root.handlers = self._handlers
        self._root.setLevel(self._level)
        self._warnings.__exit__(None, None, None)


class _DiscoveryEnvironment:
    """``KUBESAFE_DISCOVERY=1`` in ``os.environ`` while discovering."""

    def __enter__(self) -> None:
        self._previous = os.environ.get(DISCOVERY_VARIABLE)
        os.environ[DISCOVERY_VARIABLE] = "1"

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is None:
            os.environ.pop(DISCOVERY_VARIABLE, None)
        else:
            os.environ[DISCOVERY_VARIABLE] = self._previous


# ======================================================================================
# The request
# ======================================================================================


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the errors it wraps (urllib3's ``reason``) and its causes."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        pending += [
            reason if isinstance(reason, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _classify(exc: BaseException, timeout: float, server: str, plugin: list[str]) -> DiscoveryError:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3 import exceptions as u3

    plugin_note = f"; exec credential plugin failed: {plugin[0]}" if plugin else ""
    for current in _chain(exc):
        if isinstance(current, ApiException):
            status = current.status or 0
            if status == 401:
                return DiscoveryError(
                    "unauthorized",
                    f"unauthorized: {server} refused the credentials (HTTP 401)" + plugin_note,
                )
            if status == 403:
                return DiscoveryError(
                    "forbidden",
                    f"forbidden: {server} does not let this user read /version"
                    f" (HTTP 403){plugin_note}",
                )
            if status == 0 and str(current.reason or "").startswith("SSLError"):
                detail = str(current.reason).split("\n", 1)[-1]
                return DiscoveryError("tls", f"TLS problem talking to {server}: {detail}")
            if status:
                return DiscoveryError(
                    "bad-response", f"bad response from {server}: HTTP {status} {current.reason}"
                )
        # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first.
        if isinstance(current, u3.NameResolutionError):
            return DiscoveryError(
                "unreachable", f"unreachable: cannot resolve the host of {server}"
            )
        if isinstance(current, (u3.NewConnectionError, ConnectionError)):
            return DiscoveryError("unreachable", f"unreachable: cannot connect to {server}")
        if isinstance(current, u3.ConnectTimeoutError):
            return DiscoveryError("timeout", f"timeout: no connection to {server} in {timeout:g}s")
        if isinstance(current, (u3.ReadTimeoutError, TimeoutError)):
            return DiscoveryError("timeout", f"timeout: {server} did not answer in {timeout:g}s")
        if isinstance(current, u3.SSLError):
            return DiscoveryError("tls", f"TLS problem talking to {server}: {_short(current)}")
        if isinstance(current, u3.ProxyError):
            return DiscoveryError("unreachable", f"unreachable: {server} (proxy error)")
        if isinstance(current, u3.ProtocolError):
            return DiscoveryError("bad-response", f"bad response from {server}: {_short(current)}")
        if isinstance(current, ConfigException):
            return DiscoveryError("config", f"kubeconfig problem: {_short(current)}")
        if isinstance(current, (u3.LocationValueError, ValueError)):
            return DiscoveryError("config", f"kubeconfig problem: {_short(current)}")
    return DiscoveryError(
        "unreachable", f"cannot ask {server}: {type(exc).__name__}: {_short(exc)}"
    )


def _request(config: dict[str, Any], timeout: float, temp_dir: str) -> bytes:
    from kubernetes.client.api.version_api import VersionApi
    from kubernetes.client.api_client import ApiClient
    from kubernetes.client.configuration import Configuration
    from kubernetes.config import kube_config

    from kubesafe import __version__

    load_kube_config_from_dict: Any = kube_config.load_kube_config_from_dict  # untyped

    # type.__call__: older clients give Configuration a metaclass returning a default copy.
    configuration = type.__call__(Configuration)
    load_kube_config_from_dict(
        config,
        context=SYNTHETIC_CONTEXT,
        client_configuration=configuration,
        persist_config=False,
        temp_file_path=temp_dir,
    )
    configuration.retries = 0
    with ApiClient(configuration) as api_client:
        api_client.user_agent = f"kubesafe/{__version__} (version discovery)"
        # Unparsed (the raw urllib3 response): the typed VersionInfo model would drop
        # fields it does not know and choke on vendors' omissions.
        response: Any = VersionApi(api_client).get_code(
            _preload_content=False, _request_timeout=(timeout, timeout)
        )
        try:
            return bytes(response.data)
        finally:
            response.release_conn()


def _forget_temp_files(temp_dir: str) -> None:
    """Drop the client's memory of the files it wrote into ``temp_dir`` (it reuses them
    by content and would otherwise try to delete them again at exit)."""
    import shutil

    shutil.rmtree(temp_dir, ignore_errors=True)
    try:
        from kubernetes.config import kube_config

        remembered = kube_config._temp_files
        prefix = temp_dir + os.sep
        for key, name in list(remembered.items()):
            if isinstance(name, str) and name.startswith(prefix):
                del remembered[key]
    except Exception:
        pass


def fetch_server_version(
    *,
    kubeconfig_files: list[str],
    context: str,
    cluster: str,
    user: str,
    server: str,
    timeout: float = 3.0,
) -> dict[str, Any]:
    """The ``GET /version`` document of the target's server (``gitVersion``, ``major``,
    ``minor``...), asked with the user's credentials.

    ``context``, ``cluster`` and ``user`` are the names kubesafe resolved (overrides
    applied); ``server``, when not empty, replaces the cluster's URL.  Raises
    :class:`DiscoveryError` with a one-line message; never prints anything.
    """
    import json
    import tempfile

    timeout = max(float(timeout), 0.05)
    config = build_discovery_config(
        kubeconfig_files, context=context, cluster=cluster, user=user, server=server
    )
    url = str(config["clusters"][0]["cluster"]["server"])
    temp_dir = tempfile.mkdtemp(prefix="kubesafe-discovery-")
    quiet = _Quiet()
    body = b""
    error: DiscoveryError | None = None
    try:
        with quiet, _DiscoveryEnvironment():
            try:
                body = _request(config, timeout, temp_dir)
            except ImportError as exc:
                error = DiscoveryError(
                    "unavailable", f"the kubernetes Python client cannot be loaded: {_short(exc)}"
                )
            except Exception as exc:
                plugin = [m for m in quiet.messages if m.startswith("exec")]
                error = _classify(exc, timeout, url, plugin)
            # Leaving the except clause drops the traceback and with it any socket that
            # urllib3 left for the garbage collector: its ResourceWarning is swallowed here
            # rather than later, and the DiscoveryError carries no __context__.
    finally:
        _forget_temp_files(temp_dir)
    if error is not None:
        raise error
    try:
        payload = json.loads(body)
    except ValueError:
        raise DiscoveryError(
            "bad-response", f"bad response from {url}: /version is not JSON"
        ) from None
    if not isinstance(payload, dict):
        raise DiscoveryError("bad-response", f"bad response from {url}: /version is not an object")
    return payload
