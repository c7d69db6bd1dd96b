"""What a protected kubectl write will do, shown before the question is asked.

Computed with reads and server-side dry runs only, within a time budget:

* the command's own selection (names, ``-f``/``-k`` manifests, ``-l``, ``--all``, ``-A``)
  is read by ``kubectl get`` with the same flags, so it is expanded exactly as
  kubectl expands it (in LIST pages of 500);
* every other read (owner-reference cascades, namespace contents, volumes, discovery)
  goes through ``kubectl proxy`` on a private Unix socket that rejects every method
  but GET, and is a LIST with a limit, counted by ``remainingItemCount``;
* changes (``apply``, ``patch``, ``scale``, ``label``, ``drain`` ...) are the user's own
  command with ``--dry-run=server`` added, which kubesafe's classifier must call a
  read before it runs.

Nothing here writes; anything that cannot be worked out says "preview unavailable".
Slow path only: this runs when a human is about to be asked.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from kubesafe.kubectl import table
from kubesafe.kubectl.args import Reading, parse, shadows_global
from kubesafe.kubectl.blast import (
    NAMESPACE_CONTENTS,
    Blast,
    bound_volumes,
    dependents,
    field_changes,
    ref,
    uid,
)
from kubesafe.kubectl.classify import classify

LIST_LIMIT = 500
SELECTION_CHUNK = 500
NAMES_SHOWN = 8
FIELDS_SHOWN = 8
MAX_NAMESPACES = 5
# One proxied answer larger than this is not read (a LIST page of 500 is far smaller).
MAX_BODY = 64 << 20

# Global flags that decide the target and credentials; passed on to every read.
_TARGET_FLAGS = tuple(
    name
    for name in table.GLOBAL_FLAGS
    if name
    not in {"help", "kuberc", "log-flush-frequency", "profile", "profile-output", "v", "vmodule"}
    and name != "warnings-as-errors"
)
_REPEATED_FLAGS = frozenset({"as-group"})
_SELECTION_FLAGS = ("filename", "kustomize", "recursive", "selector", "field-selector")
# Kinds that can be removed with an owner by the garbage collector, and their LIST paths.
# Not only what built-in controllers own: operators (and Helm-less tooling) hang
# workloads, services, secrets and config maps off their objects, and the garbage
# collector removes those, and what they own, with them.
_DEPENDENT_PATHS = (
    ("api/v1", "pods"),
    ("apis/apps/v1", "replicasets"),
    ("apis/apps/v1", "controllerrevisions"),
    ("apis/batch/v1", "jobs"),
    ("api/v1", "persistentvolumeclaims"),
    ("apis/apps/v1", "deployments"),
    ("apis/apps/v1", "statefulsets"),
    ("apis/apps/v1", "daemonsets"),
    ("apis/batch/v1", "cronjobs"),
    ("api/v1", "services"),
    ("api/v1", "secrets"),
    ("api/v1", "configmaps"),
)
_CONTENT_PATHS = {
    "Pod": ("api/v1", "pods"),
    "Deployment": ("apis/apps/v1", "deployments"),
    "StatefulSet": ("apis/apps/v1", "statefulsets"),
    "DaemonSet": ("apis/apps/v1", "daemonsets"),
    "ReplicaSet": ("apis/apps/v1", "replicasets"),
    "Job": ("apis/batch/v1", "jobs"),
    "CronJob": ("apis/batch/v1", "cronjobs"),
    "Service": ("api/v1", "services"),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims"),
    "Secret": ("api/v1", "secrets"),
    "ConfigMap": ("api/v1", "configmaps"),
}
_DRY_RUN_COMMANDS = frozenset(
    {
        "apply",
        "replace",
        "patch",
        "label",
        "annotate",
        "taint",
        "autoscale",
        "create",
        "run",
        "expose",
        "rollout undo",
    }
)


class Unavailable(Exception):
    """The preview cannot be computed; the message says why, in a few words."""


@dataclass
class Preview:
    """What the terminal shows, what the audit log records, what escalation looks at."""

    lines: list[str] = field(default_factory=list)
    blast: Blast | None = None
    unavailable: str | None = None

    @property
    def text(self) -> str:
        if self.unavailable is not None:
            return f"Preview unavailable: {self.unavailable}\n"
        return "".join(
            f"{line}\n" for line in ["Preview (reads and server dry runs only):", *self.lines]
        )

    def summary(self) -> dict[str, Any]:
        if self.unavailable is not None:
            return {"unavailable": self.unavailable}
        if self.blast is None:
            return {"lines": len(self.lines)}
        return {
            "objects": self.blast.objects,
            "kinds": self.blast.kinds(),
            "namespaces": self.blast.namespaces,
            "volumes": len(self.blast.volumes),
            "truncated": self.blast.truncated,
        }


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Unavailable(f"no answer within {self.seconds:g} s")
        return left


def _die_with_parent() -> None:
    """Linux: the proxy gets SIGTERM when kubesafe dies, even by SIGKILL or a closed
    terminal's SIGHUP, instead of serving the user's credentials on until reboot."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _ReadOnlyAPI:
    """``kubectl proxy`` on a private Unix socket that refuses every method but GET."""

    def __init__(self, kubectl: str, flags: list[str], env: Mapping[str, str]) -> None:
        self.directory = tempfile.mkdtemp(prefix="kubesafe-preview-")
        self.socket_path = os.path.join(self.directory, "api.sock")
        self.process = subprocess.Popen(
            [
                kubectl,
                *flags,
                "proxy",
                f"--unix-socket={self.socket_path}",
                "--reject-methods=^(POST|PUT|PATCH|DELETE|CONNECT)$",
                # Keep a server URL path (Rancher-style /k8s/clusters/ID) on every request.
                "--append-server-path",
            ],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    def wait_ready(self, budget: _Budget) -> None:
        while not os.path.exists(self.socket_path):
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode()
                first = error.strip().splitlines()[0] if error.strip() else "kubectl proxy exited"
                raise Unavailable(first.removeprefix("error: "))
            budget.remaining()
            time.sleep(0.005)

    def get(self, path: str, budget: _Budget) -> dict[str, Any] | None:
        """The JSON object at ``path``; None for 404."""
        where = path.split("?")[0]
        connection = http.client.HTTPConnection("localhost", timeout=budget.remaining())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(budget.remaining())
        try:
            sock.connect(self.socket_path)
            connection.sock = sock
            connection.request("GET", path, headers={"Accept": "application/json"})
            response = connection.getresponse()
            body = _read_body(response, sock, budget, where)
        except TimeoutError:
            raise Unavailable(f"no answer within {budget.seconds:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(f"cannot read from the API server: {exc!r}") from None
        finally:
            connection.close()
        if response.status == 404:
            return None
        if response.status != 200:
            raise Unavailable(f"GET {where} answered {response.status}")
        try:
            document = json.loads(body)
        except ValueError:
            raise Unavailable(f"GET {where} did not answer JSON") from None
        if not isinstance(document, dict):
            raise Unavailable(f"GET {where} did not answer a JSON object")
        return document

    def list(self, path: str, budget: _Budget, query: str = "") -> tuple[list[Any], int]:
        """The first page of a LIST (at most LIST_LIMIT items) and how many more there are."""
        separator = "&" if query else ""
        document = self.get(f"/{path}?limit={LIST_LIMIT}{separator}{query}", budget)
        if document is None:
            return [], 0
        items = document.get("items") or []
        metadata = document.get("metadata") or {}
        remaining = metadata.get("remainingItemCount", 0) if isinstance(metadata, dict) else None
        if (
            not isinstance(items, list)
            or not all(isinstance(item, dict) for item in items)
            or not isinstance(remaining, int)
            or isinstance(remaining, bool)
        ):
            raise Unavailable(f"GET /{path} did not answer a list of objects")
        if metadata.get("continue") and not remaining:
            remaining = 1  # more exist, the server did not say how many
        return list(items), max(remaining, 0)

    def resource(self, api_version: str, kind: str, budget: _Budget) -> tuple[str, bool] | None:
        """(LIST path prefix, namespaced) for a kind, from discovery."""
        if api_version not in self._resources:
            base = "api/v1" if api_version == "v1" else f"apis/{api_version}"
            document = self.get(f"/{base}", budget) or {}
            self._resources[api_version] = {
                str(entry.get("kind")): (
                    f"{base}/{entry.get('name')}",
                    bool(entry.get("namespaced")),
                )
                for entry in document.get("resources") or []
                if "/" not in str(entry.get("name", ""))
            }
        return self._resources[api_version].get(kind)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _read_body(
    response: http.client.HTTPResponse, sock: socket.socket, budget: _Budget, where: str
) -> bytes:
    """The whole body, within the budget and MAX_BODY: a server that trickles an endless
    answer is cut off at the deadline, not when it stops sending."""
    chunks: list[bytes] = []
    size = 0
    while True:
        sock.settimeout(budget.remaining())
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY:
            raise Unavailable(f"GET {where} answered more than {MAX_BODY >> 20} MiB")
        chunks.append(chunk)


class _Context:
    def __init__(
        self,
        reading: Reading,
        argv: tuple[str, ...],
        kubectl: str,
        env: Mapping[str, str],
        namespace: str,
        budget: _Budget,
    ) -> None:
        self.reading = reading
        self.argv = argv
        self.kubectl = kubectl
        # kubesafe already applied kuberc to argv; kubectl must not apply it twice.
        self.env = {**env, "KUBECTL_KUBERC": "false"}
        self.namespace = namespace
        self.budget = budget
        self._api: _ReadOnlyAPI | None = None

    def target_flags(self) -> list[str]:
        flags: list[str] = []
        for name in _TARGET_FLAGS:
            if shadows_global(self.reading.command, name):
                continue
            # --as-group is kubectl's one repeatable global flag: every value counts.
            values = self.reading.flags.get(name, [])
            for value in values if name in _REPEATED_FLAGS else values[-1:]:
                flags.append(_flag((), name, value))
        return flags

    def api(self) -> _ReadOnlyAPI:
        if self._api is None:
            self._api = _ReadOnlyAPI(self.kubectl, self.target_flags(), self.env)
        self._api.wait_ready(self.budget)
        return self._api

    def start_api(self) -> None:
        if self._api is None:
            self._api = _ReadOnlyAPI(self.kubectl, self.target_flags(), self.env)

    def kubectl_run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.kubectl, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.budget.remaining(),
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"no answer within {self.budget.seconds:g} s") from None
        except OSError as exc:
            raise Unavailable(f"cannot run {self.kubectl}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


def preview(
    reading: Reading,
    argv: tuple[str, ...],
    kubectl: str,
    env: Mapping[str, str],
    namespace: str,
    timeout: float,
) -> Preview:
    """The preview of one kubectl write (``reading`` is ``argv``'s, after kuberc)."""
    command = " ".join(reading.command)
    context = _Context(reading, argv, kubectl, env, namespace, _Budget(timeout))
    try:
        if "--" in argv:
            raise Unavailable("the command line holds a bare --")
        if _reads_stdin(reading.flags.get("filename", [])):
            raise Unavailable("the manifest comes from stdin, which belongs to kubectl")
        if command == "delete":
            return _delete(context)
        if command == "scale":
            return _scale(context)
        if command == "drain":
            return _drain(context)
        if command in ("cordon", "uncordon"):
            return _cordon(context)
        if command in ("rollout restart", "rollout pause", "rollout resume"):
            return _rollout(context)
        if command == "taint":
            return _taint(context)
        if command in _DRY_RUN_COMMANDS or command.startswith(("set ", "create ")):
            return _dry_run_changes(context)
        if command == "edit":
            raise Unavailable("kubectl edit shows the change in your editor")
        raise Unavailable(f"kubectl {command or reading.positionals[:1]} has no dry run")
    except Unavailable as exc:
        return Preview(unavailable=str(exc))
    finally:
        context.close()


def _flag(command: tuple[str, ...], name: str, value: str) -> str:
    """``--name=value``; a boolean given bare (``-R``) is recorded without a value and
    stays bare. An empty value (``--namespace=``) keeps its ``=``: bare, it would take
    the next word (``get``) as its value."""
    local = table.COMMANDS.get(" ".join(command), ({}, {}))[0]
    boolean = local.get(name, table.GLOBAL_FLAGS.get(name)) is False
    return f"--{name}" if boolean and not value else f"--{name}={value}"


_STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


def _reads_stdin(filenames: list[str]) -> bool:
    """Whether kubectl reads a manifest from stdin: ``-f`` is a pflag string slice, so
    ``-f a.yaml,-`` names stdin too (the preview's kubectl would read /dev/null there)."""
    return any(
        part.strip().strip('"') in _STDIN_NAMES for value in filenames for part in value.split(",")
    )


def _items(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("items"), list):
        return [item for item in document["items"] if isinstance(item, dict)]
    return [document] if document.get("kind") else []


def _kubectl_json(context: _Context, args: list[str]) -> list[dict[str, Any]]:
    documents = _kubectl_documents(context, args)
    if len(documents) > 1:
        raise Unavailable("kubectl printed more than one JSON document")
    return _items(documents[0]) if documents else []


def _kubectl_documents(context: _Context, args: list[str]) -> list[Any]:
    """Every JSON document kubectl prints, in order."""
    result = context.kubectl_run(args)
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()
        raise Unavailable(
            "kubectl says: " + (message[-1].removeprefix("error: ") if message else "it failed")
        )
    decoder = json.JSONDecoder()
    text = result.stdout
    documents: list[Any] = []
    position = 0
    try:
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                return documents
            document, position = decoder.raw_decode(text, position)
            documents.append(document)
    except ValueError:
        raise Unavailable("kubectl did not print JSON") from None


def _selection(context: _Context, *, require: bool = True) -> list[dict[str, Any]]:
    """The objects the command names or selects, read by ``kubectl get`` with its flags."""
    reading = context.reading
    args = [*context.target_flags(), "get", *reading.positionals]
    for name in _SELECTION_FLAGS:
        for value in reading.flags.get(name, []):
            args.append(_flag(("get",), name, value))
    if reading.has("all-namespaces") and reading.last("all-namespaces") != "false":
        args.append("--all-namespaces")
    if reading.has("ignore-not-found"):
        args.append("--ignore-not-found")
    chosen = (
        bool(reading.positionals and "/" in reading.positionals[0]) or len(reading.positionals) > 1
    )
    chosen = chosen or any(reading.has(name) for name in (*_SELECTION_FLAGS, "all"))
    if require and not chosen:
        raise Unavailable("no objects named or selected (kubectl will refuse it)")
    return _kubectl_json(context, [*args, "-o", "json", f"--chunk-size={SELECTION_CHUNK}"])


def _wide(reading: Reading) -> bool:
    return any(
        reading.has(name) and reading.last(name) != "false"
        for name in ("all", "all-namespaces", "selector", "field-selector")
    )


def _delete(context: _Context) -> Preview:
    reading = context.reading
    if reading.has("raw"):
        raise Unavailable("kubectl delete --raw names a path, not objects")
    context.start_api()  # kubectl proxy starts while kubectl get reads the selection
    direct = _selection(context)
    blast = Blast(direct=direct, wide=_wide(reading))
    api = context.api()
    budget = context.budget
    cascade = reading.last("cascade") not in ("orphan", "false")
    namespaces = sorted({str((o.get("metadata") or {}).get("namespace") or "") for o in direct})
    owners = [o for o in direct if o.get("kind") != "Namespace"]
    if cascade and owners:
        namespaced = [ns for ns in namespaces if ns]
        if len(namespaced) > MAX_NAMESPACES:
            blast.truncated = True
        candidates: list[Any] = []
        paths = [
            (f"{base}/namespaces/{quote(namespace)}/{plural}", _kind_of(plural))
            for namespace in namespaced[:MAX_NAMESPACES]
            for base, plural in _DEPENDENT_PATHS
        ]
        pages = _parallel(api, budget, [path for path, _ in paths])
        for (_, kind), (items, more) in zip(paths, pages, strict=True):
            # A LIST's items carry no kind; the path says what they are.
            candidates.extend({**item, "kind": item.get("kind") or kind} for item in items)
            blast.truncated = blast.truncated or more > 0
        direct_uids = {uid(o) for o in direct}
        blast.cascade = [o for o in dependents(owners, candidates) if uid(o) not in direct_uids]
    claims = [o for o in (*direct, *blast.cascade) if o.get("kind") == "PersistentVolumeClaim"]
    for namespace_object in (o for o in direct if o.get("kind") == "Namespace"):
        name = str((namespace_object.get("metadata") or {}).get("name"))
        counts: dict[str, int] = {}
        pages = _parallel(
            api,
            budget,
            [
                f"{_CONTENT_PATHS[kind][0]}/namespaces/{quote(name)}/{_CONTENT_PATHS[kind][1]}"
                for kind in NAMESPACE_CONTENTS
            ],
        )
        for kind, (items, more) in zip(NAMESPACE_CONTENTS, pages, strict=True):
            if items or more:
                counts[kind] = len(items) + more
            blast.truncated = blast.truncated or (more > 0 and kind == "PersistentVolumeClaim")
            if kind == "PersistentVolumeClaim":
                claims.extend({**item, "kind": "PersistentVolumeClaim"} for item in items)
        blast.namespace_contents[name] = counts
    volumes: list[dict[str, Any]] = []
    if claims:
        pvs = _claimed_volumes(api, budget, claims)
        volumes = bound_volumes(claims, pvs)
        blast.cascade.extend({**v, "kind": "PersistentVolume"} for v in volumes)
    return Preview(_delete_lines(blast, cascade, volumes), blast)


MAX_VOLUME_READS = 50


def _claimed_volumes(
    api: _ReadOnlyAPI, budget: _Budget, claims: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The PersistentVolumes the claims are bound to (``spec.volumeName``), read by name:
    the first LIST page of a cluster's volumes may not hold them."""
    names = sorted(
        {
            str(volume)
            for claim in claims
            if isinstance(claim.get("spec"), dict) and (volume := claim["spec"].get("volumeName"))
        }
    )
    if len(names) > MAX_VOLUME_READS:
        pvs, more = api.list("api/v1/persistentvolumes", budget)
        if more:
            raise Unavailable(f"more than {LIST_LIMIT} PersistentVolumes to match claims against")
        return pvs
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=8)
    try:
        found = pool.map(
            lambda name: api.get(f"/api/v1/persistentvolumes/{quote(name)}", budget), names
        )
        return [volume for volume in found if volume is not None]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _parallel(api: _ReadOnlyAPI, budget: _Budget, paths: list[str]) -> list[tuple[list[Any], int]]:
    """LIST pages of several paths at once (each an HTTP round trip through the proxy)."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=8)
    try:
        return list(pool.map(lambda path: api.list(path, budget), paths))
    finally:
        # Ctrl+C or an error: do not wait here for the other reads; closing the proxy
        # (preview's finally) ends them.
        pool.shutdown(wait=False, cancel_futures=True)


def _kind_of(plural: str) -> str:
    return {
        "pods": "Pod",
        "replicasets": "ReplicaSet",
        "controllerrevisions": "ControllerRevision",
        "jobs": "Job",
        "persistentvolumeclaims": "PersistentVolumeClaim",
        "deployments": "Deployment",
        "statefulsets": "StatefulSet",
        "daemonsets": "DaemonSet",
        "cronjobs": "CronJob",
        "services": "Service",
        "secrets": "Secret",
        "configmaps": "ConfigMap",
    }.get(plural, plural)


def _grouped(objects: list[Any]) -> list[str]:
    by_kind: dict[str, list[str]] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        name = (
            f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
        )
        by_kind.setdefault(str(obj.get("kind", "?")), []).append(str(name))
    lines = []
    for kind, names in sorted(by_kind.items()):
        shown = ", ".join(names[:NAMES_SHOWN])
        more = f", … and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
        lines.append(f"    {kind} ({len(names)}): {shown}{more}")
    return lines


def _delete_lines(blast: Blast, cascade: bool, volumes: list[dict[str, Any]]) -> list[str]:
    plus = "+" if blast.truncated else ""
    if not blast.direct:
        return ["  deletes nothing: no object matches"]
    lines = [f"  deletes {len(blast.direct)} object(s):", *_grouped(blast.direct)]
    removed = [o for o in blast.cascade if o.get("kind") != "PersistentVolume"]
    if removed:
        lines += [
            f"  and with them, by owner references, {len(removed)}{plus}:",
            *_grouped(removed),
        ]
    elif not cascade:
        lines.append("  dependents are orphaned (--cascade=orphan), not deleted")
    for namespace, counts in sorted(blast.namespace_contents.items()):
        held = ", ".join(f"{count} {kind}" for kind, count in counts.items()) or "nothing"
        lines.append(f"  namespace {namespace} holds: {held}")
    for volume in blast.volumes:
        if not volume.startswith("PersistentVolume/"):
            lines.append(f"  ! volume: {volume}")
    for pv in volumes:
        lines.append(
            f"  ! PersistentVolume {ref(pv).split('/', 1)[1]} has reclaim policy Delete: "
            "its data goes with the claim"
        )
    lines.append(f"  total: {blast.objects}{plus} object(s)")
    return lines


def _scale(context: _Context) -> Preview:
    objects = _selection(context)
    wanted = context.reading.last("replicas") or "?"
    lines = [
        f"  {ref(o)}: replicas {(o.get('spec') or {}).get('replicas', '?')} -> {wanted}"
        for o in objects
    ]
    return Preview(lines or ["  scales nothing: no object matches"], Blast(direct=objects))


def _rollout(context: _Context) -> Preview:
    """``rollout restart|pause|resume`` have no dry run: show the workloads and their size."""
    verb = context.reading.command[1]
    objects = _selection(context, require=False)
    lines = [
        f"  {verb}s {ref(o)} ({(o.get('spec') or {}).get('replicas', 'all')} replicas)"
        for o in objects
    ]
    return Preview(lines or [f"  {verb}s nothing: no object matches"], Blast(direct=objects))


def _with_dry_run(context: _Context, extra: list[str]) -> list[str]:
    """The user's command with ``--dry-run=server`` added, if every reading of it is a read.

    A flag kubesafe does not know may take a value in this kubectl: ``--new-flag``
    last on the line would then swallow the appended ``--dry-run=server`` and the
    "dry run" would write. Every reading must be a read, not just the likeliest.
    """
    args = [*context.argv, "--dry-run=server", *extra]
    parsed = parse(args)
    if parsed.ambiguous or not parsed.exhaustive:
        unknown = " ".join(parsed.uncertain_flags)
        raise Unavailable(f"a flag kubesafe does not know ({unknown}) could swallow --dry-run")
    if context.reading.error is not None:
        # "-n" last on the line would take --dry-run=server as its value.
        raise Unavailable(f"kubectl will refuse this command line ({context.reading.error})")
    reading = parsed.primary
    if classify(reading).mutating:
        raise Unavailable(f"kubectl {' '.join(reading.command)} has no server dry run")
    return args


def _drain(context: _Context) -> Preview:
    result = context.kubectl_run(_with_dry_run(context, []))
    pods = [
        line.split()[2]
        for line in result.stdout.splitlines() + result.stderr.splitlines()
        if line.startswith("evicting pod ")
    ]
    nodes = [
        line.split()[0]
        for line in result.stdout.splitlines()
        if " cordoned" in line or " already cordoned" in line
    ]
    lines = [f"  cordons {', '.join(nodes) or 'no node'}"]
    lines.append(f"  evicts {len(pods)} pod(s)" + (":" if pods else ""))
    lines += [f"    {pod}" for pod in pods[:NAMES_SHOWN]]
    if len(pods) > NAMES_SHOWN:
        lines.append(f"    … and {len(pods) - NAMES_SHOWN} more")
    problems = [line for line in result.stderr.splitlines() if line.startswith("error")]
    if problems:
        lines.append(f"  drain would stop: {problems[0].removeprefix('error: ')}")
    evicted = [{"kind": "Pod", "metadata": {"name": pod}} for pod in pods]
    return Preview(lines, Blast(direct=evicted))


def _cordon(context: _Context) -> Preview:
    result = context.kubectl_run(_with_dry_run(context, []))
    if result.returncode != 0:
        raise Unavailable("kubectl says: " + (result.stderr.strip().splitlines() or ["failed"])[-1])
    # "node/NAME cordoned (server dry run)"
    nodes = [
        line.split()[0].split("/", 1)[-1]
        for line in result.stdout.splitlines()
        if line.startswith("node/")
    ]
    api = context.api()
    lines = []
    for node in nodes:
        selector = quote(f"spec.nodeName={node}")
        pods, more = api.list("api/v1/pods", context.budget, f"fieldSelector={selector}")
        lines.append(f"  node {node}: {len(pods) + more} pod(s) run there and keep running")
    verb = context.reading.command[0]
    return Preview([f"  {verb}s {len(nodes)} node(s)", *lines], Blast(direct=[]))


def _taint(context: _Context) -> Preview:
    """The taint diff, plus the pods a NoExecute taint evicts from the nodes it lands on."""
    changes = _dry_run_changes(context)
    if not any(word.endswith(":NoExecute") for word in context.reading.positionals):
        return changes
    api = context.api()
    nodes = [o for o in (changes.blast.direct if changes.blast else []) if o.get("kind") == "Node"]
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name"))
        selector = quote(f"spec.nodeName={name}")
        pods, more = api.list("api/v1/pods", context.budget, f"fieldSelector={selector}")
        changes.lines.append(
            f"  node {name}: NoExecute evicts those of its {len(pods) + more} pod(s) "
            "that do not tolerate the taint"
        )
    return changes


def _dry_run_changes(context: _Context) -> Preview:
    context.start_api()
    documents = _kubectl_documents(context, _with_dry_run(context, ["-o", "json"]))
    # apply prints what it applied (one object or a List) first, then each object its
    # --prune deletes, one document apiece.
    results = _items(documents[0]) if documents else []
    pruned = [obj for document in documents[1:] for obj in _items(document)]
    if pruned and not _pruning(context.reading):
        raise Unavailable("kubectl printed more than one JSON document")
    api = context.api()
    lines: list[str] = []
    changed: list[dict[str, Any]] = []
    for result in results:
        meta = result.get("metadata") or {}
        where = api.resource(
            str(result.get("apiVersion", "")), str(result.get("kind", "")), context.budget
        )
        live = None
        if where is not None and meta.get("name"):
            base, namespaced = where
            if namespaced and meta.get("namespace"):
                prefix, _, plural = base.rpartition("/")
                namespace, name = quote(meta["namespace"]), quote(meta["name"])
                path = f"/{prefix}/namespaces/{namespace}/{plural}/{name}"
            else:
                path = f"/{base}/{quote(meta['name'])}"
            live = api.get(path, context.budget)
        if live is None:
            lines.append(f"  creates {ref(result)}")
            changed.append(result)
            continue
        changes = [
            change
            for change in field_changes(live, result)
            if "last-applied-configuration" not in change[0]
        ]
        if not changes:
            lines.append(f"  {ref(result)}: unchanged")
            continue
        changed.append(result)
        lines.append(f"  changes {ref(result)}:")
        for path, old, new in changes[:FIELDS_SHOWN]:
            lines.append(f"    {path}: {_short(old)} -> {_short(new)}")
        if len(changes) > FIELDS_SHOWN:
            lines.append(f"    … and {len(changes) - FIELDS_SHOWN} more field(s)")
    if pruned:
        lines += [f"  prunes (deletes) {len(pruned)} object(s):", *_grouped(pruned)]
    blast = Blast(direct=[*changed, *pruned])
    for obj in pruned:
        if obj.get("kind") == "Namespace":
            # Its contents go with it; they are not counted here.
            blast.namespace_contents[str((obj.get("metadata") or {}).get("name"))] = {}
    return Preview(lines or ["  changes nothing"], blast)


def _pruning(reading: Reading) -> bool:
    return (
        reading.command == ("apply",)
        and reading.has("prune")
        and (reading.last("prune") != "false")
    )


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."
