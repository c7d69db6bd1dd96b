"""What one API request does: read, write or destructive, and which namespace.

The request path is what the API server acts on, so it is decoded exactly
once, as Go's ``net/url`` does, before anything is read from it
(``pods/x%2Fexec`` is the ``exec`` subresource to the server). Paths the
server would clean or redirect (``//``, ``.``, ``..``) are refused for every
method rather than second-guessed.

Classes follow kubesafe's command table (``kubesafe.kubectl.classify``):

* GET, HEAD and OPTIONS are reads, watches and log streams included;
* the connect subresources take the class of the kubectl command that uses
  them, whatever the method: ``exec``/``attach`` (and so ``cp``) are writes,
  ``portforward`` is a read (on core ``pods`` only: elsewhere a write), ``proxy``
  is a write (it relays any request);
* any other upgrade is a write (an unknown way in);
* a request whose every ``dryRun`` value is ``All`` persists nothing: a read,
  once ``aggregated`` has made sure kube-apiserver itself serves its group
  (``dry_run_api`` names the group version to check; until then it is what it
  would be without the dry run, ``fallback``). Not where the server would not
  honour the query's ``dryRun``: a DELETE with a body (the server then reads
  its DeleteOptions from the body and ignores the query), subresources other
  than those stored like their object (``serviceaccounts/x/token`` ignores
  ``dryRun`` and mints a live token), and ``tokenreviews``;
* the namespace is the path's only when it is a valid namespace name (a DNS
  label); anything else (``shop;x``, ``SHOP``) reaches every namespace;
* the access and identity reviews (``auth can-i``, ``auth whoami``) are
  create-only, never-stored questions: reads. ``subjectaccessreviews`` and
  ``localsubjectaccessreviews`` (asking about another user) are included: they
  disclose permissions, like ``can-i --as``, and change nothing. ``tokenreviews``
  are not: no read path needs them and they test other people's tokens;
* every other POST, PUT and PATCH is a write, DELETE is destructive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from kubesafe.classification import DESTRUCTIVE, READ, WRITE
from kubesafe.guard.aggregated import BUILT_IN_GROUPS
from kubesafe.kubectl.classify import COMMAND_TABLE

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# subresource -> the kubectl command that uses it (its class comes from the table)
_CONNECT_SUBRESOURCES = {
    "exec": "exec",
    "attach": "attach",
    "portforward": "port-forward",
    "proxy": "proxy",
}
# Subresources kube-apiserver stores through their object's storage, which honours
# dryRun (eviction and binding pass it on). Others ignore it: ``token`` mints a real
# token whatever the query says.
_DRY_RUN_SUBRESOURCES = frozenset(
    {
        "status",
        "scale",
        "eviction",
        "binding",
        "finalize",
        "approval",
        "ephemeralcontainers",
        "resize",
    }
)
# Create-only resources that store nothing and do their work whatever dryRun says.
_DRY_RUN_IGNORED = frozenset({"tokenreviews"})
_NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# What an API group (a DNS subdomain, or "" for core) and a version can be: the group
# version goes into the APIService lookup's request line.
_GROUP_NAME = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?")
_VERSION_NAME = _NAMESPACE_NAME  # a DNS label, as for CRD versions
# The old /api/v1/proxy/... and /api/v1/redirect/... forms of the proxy subresource
# (removed from kube-apiserver long ago, but a server or gateway may still serve them).
_LEGACY_PROXIES = frozenset({"proxy", "redirect"})
_REVIEW_GROUPS = frozenset({"authorization.k8s.io", "authentication.k8s.io"})
REVIEW_RESOURCES = frozenset(
    {
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "selfsubjectreviews",
        "subjectaccessreviews",
        "localsubjectaccessreviews",
    }
)


class PathError(Exception):
    """A request path the guard will not interpret; the text is for the client."""


@dataclass(frozen=True)
class Access:
    category: str  # classify.READ, WRITE or DESTRUCTIVE
    reason: str
    # The namespace in the request path; None when the request is cluster-wide
    # or names its namespace elsewhere (then any namespace rule applies).
    namespace: str | None
    # A server-side dry run outside the built-in groups: (group, version), whose
    # APIService must show kube-apiserver serving it before this is a read.
    dry_run_api: tuple[str, str] | None = None
    # The class without the dry run (DELETE: destructive, else a write).
    fallback: str = ""

    @property
    def mutating(self) -> bool:
        return self.category in (WRITE, DESTRUCTIVE)


def decode_path(raw: str) -> list[str]:
    """The path's segments after percent-decoding, as the API server sees them."""
    if "%" in raw:
        _check_escapes(raw)
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise PathError("the request path is not UTF-8") from None
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise PathError("control character in the request path")
    segments = path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is harmless (``/version/``)
    if any(segment in ("", ".", "..") for segment in segments):
        raise PathError("the request path is not in canonical form")
    return segments


def _check_escapes(raw: str) -> None:
    hexdigits = "0123456789abcdefABCDEF"
    index = raw.find("%")
    while index != -1:
        pair = raw[index + 1 : index + 3]
        if len(pair) != 2 or any(c not in hexdigits for c in pair):
            raise PathError("invalid percent-escape in the request path")
        index = raw.find("%", index + 3)


@dataclass(frozen=True)
class _Parts:
    group: str
    version: str
    namespace: str | None
    resource: str
    subresource: str


def _resource_parts(segments: list[str]) -> _Parts | None:
    """API group, namespace, resource and subresource of a resource path."""
    if segments[:1] == ["api"] and len(segments) >= 2:
        group, version, rest = "", segments[1], segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 3:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        return None
    namespace = None
    if rest[:1] == ["namespaces"] and len(rest) >= 2:
        # /namespaces/NS is the namespace object itself; its changes reach NS too.
        # A name no namespace can have is not trusted to mean one (None: every namespace).
        namespace = rest[1] if _NAMESPACE_NAME.fullmatch(rest[1]) else None
        if len(rest) == 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")):
            subresource = rest[2] if len(rest) == 3 else ""
            return _Parts(group, version, namespace, "namespaces", subresource)
        rest = rest[2:]
    resource = rest[0] if rest else ""
    subresource = rest[2] if len(rest) >= 3 else ""
    return _Parts(group, version, namespace, resource, subresource)


def _is_review(parts: _Parts) -> bool:
    return (
        parts.group in _REVIEW_GROUPS
        and parts.resource in REVIEW_RESOURCES
        and not parts.subresource
    )


def _dry_run(query: str) -> bool:
    values = parse_qs(query, keep_blank_values=True).get("dryRun") or []
    return bool(values) and all(value == "All" for value in values)


def _dry_run_honoured(method: str, parts: _Parts, has_body: bool) -> bool:
    """Would the API server act on the query's dryRun for this request?"""
    if not (_GROUP_NAME.fullmatch(parts.group) and _VERSION_NAME.fullmatch(parts.version)):
        return False  # no such group version; nothing to ask its APIService about
    if method == "DELETE" and has_body:
        return False  # DeleteOptions come from the body then, the query is not read
    if parts.subresource and parts.subresource not in _DRY_RUN_SUBRESOURCES:
        return False
    return parts.resource not in _DRY_RUN_IGNORED


def classify_request(
    method: str, raw_path: str, query: str, upgrade: str | None, *, has_body: bool = False
) -> Access:
    """Raises PathError for paths the guard refuses to interpret.

    ``has_body``: the request carries a body (chunked, or a non-zero length).
    """
    segments = decode_path(raw_path)
    parts = _resource_parts(segments)
    namespace = parts.namespace if parts else None
    if parts is not None and parts.subresource in _CONNECT_SUBRESOURCES:
        command = _CONNECT_SUBRESOURCES[parts.subresource]
        if command == "port-forward" and (parts.group, parts.resource) != ("", "pods"):
            # kubectl port-forward only ever uses pods/x/portforward; the same name
            # elsewhere (an aggregated API's subresource) is an unknown way in.
            return Access(WRITE, f"{parts.resource}/portforward outside core pods", namespace)
        category, why = COMMAND_TABLE[command]
        return Access(category, f"{parts.resource}/{parts.subresource}: {why}", namespace)
    if parts is not None and not parts.group and parts.resource in _LEGACY_PROXIES:
        category, why = COMMAND_TABLE["proxy"]
        return Access(category, f"/api/{parts.version}/{parts.resource}: {why}", namespace)
    if upgrade is not None:
        return Access(WRITE, f"an upgrade to {upgrade} outside the known subresources", namespace)
    if method in _READ_METHODS:
        return Access(READ, f"{method} reads", namespace)
    if parts is not None and _is_review(parts) and method == "POST":
        return Access(READ, f"{parts.resource} ask a question and store nothing", namespace)
    if parts is not None and _dry_run(query) and _dry_run_honoured(method, parts, has_body):
        fallback = DESTRUCTIVE if method == "DELETE" else WRITE
        check = None if parts.group in BUILT_IN_GROUPS else (parts.group, parts.version)
        return Access(READ, "dryRun=All persists nothing", namespace, check, fallback)
    if method == "DELETE":
        return Access(DESTRUCTIVE, "DELETE deletes", namespace)
    return Access(WRITE, f"{method} changes cluster state", namespace)
