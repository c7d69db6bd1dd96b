"""What a kubectl command does to a cluster: the audited command table.

Classes, from harmless to dangerous:

* ``local``: never contacts a cluster (help, completion, kubeconfig editing);
  passes straight through.
* ``read``: reads cluster state, changes nothing.
* ``write``: changes cluster state, or gives a way to (a shell in a pod, a proxy).
* ``destructive``: deletes or empties things.

Anything not in the table (plugins, kuberc aliases, commands of a newer kubectl,
an unknown word after a command group such as ``rollout`` or ``config``) is a
write: kubesafe fails closed. Flags then adjust the class: ``--help``,
``--dry-run`` (client, server, or true in any spelling Go's ParseBool accepts),
``--local`` and ``--list`` make a command harmless; ``--force``, ``--prune``,
``--replicas=0`` and ``--raw`` on ``delete`` make it destructive.
"""

from __future__ import annotations

from kubesafe.classification import DESTRUCTIVE, LOCAL, READ, WRITE, Classification
from kubesafe.kubectl.args import (
    COMPLETION_COMMANDS,
    PARSE_BOOL_TRUE,
    Reading,
    command_accepts,
)

# command path -> (class, reason). Keep it sorted by command and readable.
COMMAND_TABLE: dict[str, tuple[str, str]] = {
    "": (LOCAL, "bare kubectl prints its help"),
    "__complete": (LOCAL, "shell completion; must stay instant and never prompt"),
    "__completeNoDesc": (LOCAL, "shell completion; must stay instant and never prompt"),
    "alpha": (LOCAL, "lists alpha commands"),
    "annotate": (WRITE, "changes annotations"),
    "api-resources": (READ, "reads discovery"),
    "api-versions": (READ, "reads discovery"),
    "apply": (WRITE, "creates or updates objects"),
    "apply edit-last-applied": (WRITE, "edits and re-applies the last-applied annotation"),
    "apply set-last-applied": (WRITE, "rewrites the last-applied annotation"),
    "apply view-last-applied": (READ, "shows the last-applied annotation"),
    "attach": (WRITE, "attaches to a running container's input"),
    "auth": (LOCAL, "lists auth subcommands"),
    "auth can-i": (READ, "asks the API whether an action is allowed"),
    "auth reconcile": (WRITE, "creates or updates RBAC objects"),
    "auth whoami": (READ, "asks the API who you are"),
    "autoscale": (WRITE, "creates a HorizontalPodAutoscaler"),
    "certificate": (LOCAL, "lists certificate subcommands"),
    "certificate approve": (WRITE, "approves a certificate signing request"),
    "certificate deny": (WRITE, "denies a certificate signing request"),
    "cluster-info": (READ, "reads service endpoints"),
    "cluster-info dump": (READ, "reads cluster state into local files"),
    "completion": (LOCAL, "prints a shell completion script"),
    "config": (LOCAL, "edits or shows kubeconfig files only"),
    "config current-context": (LOCAL, "shows the kubeconfig"),
    "config delete-cluster": (LOCAL, "edits the kubeconfig"),
    "config delete-context": (LOCAL, "edits the kubeconfig"),
    "config delete-user": (LOCAL, "edits the kubeconfig"),
    "config get-clusters": (LOCAL, "shows the kubeconfig"),
    "config get-contexts": (LOCAL, "shows the kubeconfig"),
    "config get-users": (LOCAL, "shows the kubeconfig"),
    "config rename-context": (LOCAL, "edits the kubeconfig"),
    "config set": (LOCAL, "edits the kubeconfig"),
    "config set-cluster": (LOCAL, "edits the kubeconfig"),
    "config set-context": (LOCAL, "edits the kubeconfig"),
    "config set-credentials": (LOCAL, "edits the kubeconfig"),
    "config unset": (LOCAL, "edits the kubeconfig"),
    "config use-context": (LOCAL, "edits the kubeconfig"),
    "config view": (LOCAL, "shows the kubeconfig"),
    "cordon": (WRITE, "marks a node unschedulable"),
    "cp": (WRITE, "copies files into or out of a container (runs tar in it)"),
    "create": (WRITE, "creates objects"),
    "debug": (WRITE, "creates debugging pods or ephemeral containers"),
    "delete": (DESTRUCTIVE, "deletes objects"),
    "describe": (READ, "reads objects and events"),
    "diff": (READ, "server-side dry run against live objects; persists nothing"),
    "drain": (DESTRUCTIVE, "cordons a node and evicts its pods"),
    "edit": (WRITE, "edits and saves live objects"),
    "events": (READ, "lists events"),
    "exec": (WRITE, "runs a command inside a container"),
    "explain": (READ, "reads API schemas"),
    "expose": (WRITE, "creates a service"),
    "get": (READ, "lists or shows objects"),
    "help": (LOCAL, "prints help"),
    "kuberc": (LOCAL, "edits or shows the kuberc preferences file"),
    "kuberc set": (LOCAL, "edits the kuberc preferences file"),
    "kuberc view": (LOCAL, "shows the kuberc preferences file"),
    "kustomize": (LOCAL, "renders manifests locally"),
    "label": (WRITE, "changes labels"),
    "logs": (READ, "reads container logs"),
    "options": (LOCAL, "prints the global flags"),
    "patch": (WRITE, "patches objects"),
    "plugin": (LOCAL, "lists plugin subcommands"),
    "plugin list": (LOCAL, "lists plugins on PATH"),
    "port-forward": (READ, "forwards a local port to a pod; changes no state"),
    "proxy": (WRITE, "opens a local proxy that relays any API request, writes included"),
    "replace": (WRITE, "replaces objects"),
    "rollout": (LOCAL, "lists rollout subcommands"),
    "rollout history": (READ, "shows rollout history"),
    "rollout pause": (WRITE, "pauses a rollout"),
    "rollout restart": (WRITE, "restarts a workload's pods"),
    "rollout resume": (WRITE, "resumes a rollout"),
    "rollout status": (READ, "watches rollout status"),
    "rollout undo": (WRITE, "rolls back to an earlier revision"),
    "run": (WRITE, "creates a pod"),
    "scale": (WRITE, "changes replica counts"),
    "set": (LOCAL, "lists set subcommands"),
    "taint": (WRITE, "changes node taints"),
    "top": (READ, "reads resource metrics"),
    "top node": (READ, "reads node metrics"),
    "top pod": (READ, "reads pod metrics"),
    "uncordon": (WRITE, "marks a node schedulable"),
    "version": (READ, "reads the server version (local with --client)"),
    "wait": (READ, "watches objects until a condition holds"),
}

# Whole command families with one class (every subcommand, known or future).
FAMILY_TABLE: dict[str, tuple[str, str]] = {
    "create": (WRITE, "creates objects"),
    "set": (WRITE, "changes fields of live objects"),
    "help": (LOCAL, "prints help"),
    "completion": (LOCAL, "prints a shell completion script"),
}

# kubectl's GetDryRunStrategy: "client", "server", the bare flag ("unchanged",
# recorded as ""), and any ParseBool true (a client dry run, deprecated). "none" and
# ParseBool's false spellings persist; any other value is kubectl's error, but stays
# a write here in case a newer kubectl gives it a meaning.
_DRY_RUN_HARMLESS = PARSE_BOOL_TRUE | {"client", "server", "unchanged"}

# Command groups that only list their subcommands: kubectl rejects any other word
# after them ("unknown command"), and a newer kubectl may make that word a write.
_GROUPS = frozenset(
    {
        ("alpha",),
        ("auth",),
        ("certificate",),
        ("config",),
        ("kuberc",),
        ("plugin",),
        ("rollout",),
        ("set",),
        ("top",),
    }
)
# kubectl 1.35 added the kuberc command; an older kubectl runs a kubectl-kuberc plugin.
KUBERC_COMMAND_SINCE = (1, 35)


def _flag_true(reading: Reading, name: str) -> bool:
    """The flag is set to true, and the command really has it.

    A flag the command lacks makes kubectl fail, so it must not make the
    command look harmless (``exec --dry-run`` is not a dry run).
    """
    value = reading.last(name)
    return value is not None and value in PARSE_BOOL_TRUE and command_accepts(reading.command, name)


def _base(reading: Reading) -> tuple[str, str]:
    if reading.plugin:
        return WRITE, f"'{reading.command[0]}' is a plugin or kuberc alias: it can do anything"
    path = " ".join(reading.command)
    if path in COMMAND_TABLE:
        return COMMAND_TABLE[path]
    if reading.command and reading.command[0] in FAMILY_TABLE:
        return FAMILY_TABLE[reading.command[0]]
    return WRITE, f"'{path}' is not in kubesafe's command table: treated as a write"


def _unknown_subcommand(reading: Reading) -> str | None:
    """The word after a command group that names none of its known subcommands."""
    if reading.plugin or reading.command not in _GROUPS or not reading.positionals:
        return None
    return " ".join((*reading.command, reading.positionals[0]))


def _kuberc_plugin(reading: Reading, kubectl_version: tuple[int, int] | None) -> str | None:
    """Why ``kuberc ...`` may run a plugin rather than kubectl's own command."""
    if reading.plugin or reading.command[:1] != ("kuberc",):
        return None
    if kubectl_version is None:
        return (
            "'kuberc' is a plugin name on kubectl older than 1.35 and the kubectl "
            "version is not known: treated as a write"
        )
    if kubectl_version < KUBERC_COMMAND_SINCE:
        shown = ".".join(str(n) for n in kubectl_version)
        return (
            f"kubectl {shown} has no kuberc command: 'kuberc' runs a plugin, which can do anything"
        )
    return None


def _dry_run_ignored(reading: Reading) -> str | None:
    """Why kubectl would ignore --dry-run here (it does for --raw, and for create --edit)."""
    verb = reading.command[:1]
    if verb in (("create",), ("replace",), ("delete",)) and reading.last("raw"):
        return "--raw sends the request as is and ignores --dry-run"
    if reading.command == ("create",) and _flag_true(reading, "edit"):
        return "create --edit ignores --dry-run"
    return None


def classify(reading: Reading, kubectl_version: tuple[int, int] | None = None) -> Classification:
    """Classify one reading of a kubectl argv.

    ``kubectl_version`` (major, minor) is the kubectl that will run, when known:
    some words are commands in one kubectl and plugin names in an older one.
    """
    path = " ".join(reading.command)
    if not reading.plugin and reading.command[:1] and reading.command[0] in COMPLETION_COMMANDS:
        return Classification(LOCAL, COMMAND_TABLE[reading.command[0]][1])
    if reading.command == ("create",) and reading.positionals:
        # kubectl runs a kubectl-create-NAME plugin for an unknown create subcommand,
        # whatever the flags (--help and --dry-run included) say.
        name = reading.positionals[0]
        return Classification(WRITE, f"'create {name}' may be a plugin: it can do anything")
    plugin = _kuberc_plugin(reading, kubectl_version)
    if plugin is not None:
        # Before --help: a plugin gets --help as an argument and does what it likes.
        return Classification(WRITE, plugin)
    if not reading.plugin and _flag_true(reading, "help"):
        return Classification(LOCAL, "--help only prints help")
    unknown = _unknown_subcommand(reading)
    if unknown is not None:
        return Classification(
            WRITE, f"'{unknown}' is not a subcommand kubesafe knows: treated as a write"
        )
    category, reason = _base(reading)
    if reading.plugin or category in (LOCAL, READ):
        if path == "version" and _flag_true(reading, "client"):
            return Classification(LOCAL, "version --client needs no server")
        return Classification(category, reason)

    dry_run = reading.last("dry-run") if command_accepts(reading.command, "dry-run") else None
    ignored = _dry_run_ignored(reading)
    if dry_run is not None and ignored is not None:
        reason = f"{ignored}; {reason}"
    elif dry_run is not None:
        if dry_run in _DRY_RUN_HARMLESS:
            shown = f"--dry-run={dry_run}" if dry_run else "--dry-run"
            return Classification(READ, f"{shown} persists nothing")
        reason = f"--dry-run={dry_run} still persists changes; {reason}"
    if _flag_true(reading, "local"):
        return Classification(READ, "--local only edits the input locally")
    if path in ("label", "annotate") and _flag_true(reading, "list"):
        return Classification(READ, f"{path} --list only shows")

    if path == "replace" and _flag_true(reading, "force"):
        return Classification(DESTRUCTIVE, "replace --force deletes and re-creates objects")
    if path == "apply" and _flag_true(reading, "prune"):
        return Classification(DESTRUCTIVE, "apply --prune deletes objects missing from the input")
    if path == "apply" and _flag_true(reading, "force"):
        return Classification(DESTRUCTIVE, "apply --force deletes and re-creates on conflict")
    if path == "scale" and _zero(reading.last("replicas")):
        return Classification(DESTRUCTIVE, "scale --replicas=0 stops every pod")
    return Classification(category, reason)


def _zero(value: str | None) -> bool:
    if value is None:
        return False
    try:
        return int(value.strip(), 0) == 0
    except ValueError:
        return False


# Built-in namespaced resource types (plural, singular, short names). Any other
# type (cluster-scoped ones, custom resources kubesafe cannot look up) counts as
# reaching every namespace as far as namespace-scoped rules are concerned.
NAMESPACED = frozenset(
    {
        "pod",
        "pods",
        "po",
        "service",
        "services",
        "svc",
        "deployment",
        "deployments",
        "deploy",
        "replicaset",
        "replicasets",
        "rs",
        "statefulset",
        "statefulsets",
        "sts",
        "daemonset",
        "daemonsets",
        "ds",
        "job",
        "jobs",
        "cronjob",
        "cronjobs",
        "cj",
        "configmap",
        "configmaps",
        "cm",
        "secret",
        "secrets",
        "serviceaccount",
        "serviceaccounts",
        "sa",
        "persistentvolumeclaim",
        "persistentvolumeclaims",
        "pvc",
        "ingress",
        "ingresses",
        "ing",
        "networkpolicy",
        "networkpolicies",
        "netpol",
        "role",
        "roles",
        "rolebinding",
        "rolebindings",
        "event",
        "events",
        "ev",
        "endpoints",
        "ep",
        "endpointslice",
        "endpointslices",
        "limitrange",
        "limitranges",
        "limits",
        "resourcequota",
        "resourcequotas",
        "quota",
        "horizontalpodautoscaler",
        "horizontalpodautoscalers",
        "hpa",
        "poddisruptionbudget",
        "poddisruptionbudgets",
        "pdb",
        "lease",
        "leases",
        "controllerrevision",
        "controllerrevisions",
        "podtemplate",
        "podtemplates",
        "replicationcontroller",
        "replicationcontrollers",
        "rc",
    }
)
NAMESPACE_TYPES = frozenset({"namespace", "namespaces", "ns"})
_POD_TYPES = frozenset({"pod", "pods", "po"})


# The API groups built into kube-apiserver that hold namespaced types. A type
# qualified with any other group (``roles.iam.example.com``) is a custom resource,
# which may be cluster-scoped: it stays unknown.
_BUILTIN_GROUPS = frozenset(
    {
        "apps",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "storage.k8s.io",
    }
)


def _api_version(word: str) -> bool:
    """v1, v2, v1beta1, v1alpha3..."""
    if not word.startswith("v"):
        return False
    digits = word[1:].replace("alpha", ".", 1).replace("beta", ".", 1)
    return all(part.isdigit() for part in digits.split(".")) and digits[:1].isdigit()


def _resource_type(word: str) -> str:
    """``deploy``, ``deployments.apps``, ``deployments.v1.apps``, ``pods.v1.`` -> the
    bare type; a type of another group keeps its group, so that no table knows it."""
    qualified = word.split("/", 1)[0].lower()
    name, _, group = qualified.partition(".")
    if not group or group in _BUILTIN_GROUPS:
        return name
    version, _, rest = group.partition(".")
    if _api_version(version) and (rest in _BUILTIN_GROUPS or not rest):
        return name
    return qualified


def namespaces_reached(
    reading: Reading, namespace: str, *, read_manifests: bool = True
) -> tuple[str, ...] | None:
    """The namespaces a command can change, or None when it may reach any of them.

    ``namespace`` is the resolved one (flag, context or default). ``-A``, node
    commands (``debug node/...`` included), ``--raw``, ``proxy``, ``certificate``,
    ``apply --prune``, non-namespaced or unknown resource types and plugins reach
    everything. So do manifests (``-f``, ``-k``), unless ``read_manifests`` and
    every object is read from local files and is of a built-in namespaced kind
    (see ``kubesafe.kubectl.manifests``): kubectl's ``-n`` does not move the others.
    """
    if reading.plugin or " ".join(reading.command) not in COMMAND_TABLE:
        return None
    if _flag_true(reading, "all-namespaces") or reading.last("raw"):
        return None
    if reading.command and reading.command[0] in _EVERYWHERE_COMMANDS:
        return None
    if reading.command == ("apply",) and (_flag_true(reading, "prune") or reading.has("applyset")):
        # --prune deletes what is missing from the input, Namespaces included.
        return None
    if reading.command == ("debug",) and not _debugs_pods(reading.positionals):
        return None
    if reading.has("kustomize"):
        return None  # kustomize builds the objects: kubesafe does not run it
    if reading.command == ("create",) and _flag_true(reading, "edit"):
        return None  # what is created is what the editor leaves, not what the files say
    if reading.has("filename"):
        return _manifest_namespaces(reading, namespace, read_manifests)
    if reading.command[:1] == ("create",) and reading.command[1:2] == ("namespace",):
        return tuple(reading.positionals[:1]) or None
    if reading.command[:1] == ("create",) and reading.command[1:2] in _CLUSTER_WIDE_CREATES:
        return None
    if reading.command[:1] == ("cp",):
        # kubectl cp NAMESPACE/POD:PATH names its namespace inside the argument.
        reached = {namespace}
        for word in reading.positionals:
            location, colon, _ = word.partition(":")
            if colon and "/" in location:
                reached.add(location.split("/", 1)[0])
        return tuple(sorted(reached))
    return _resource_namespaces(list(reading.positionals), reading.command, namespace)


def _debugs_pods(positionals: tuple[str, ...]) -> bool:
    """``kubectl debug NAME`` and ``debug pod/NAME`` debug pods; ``node/NAME`` a node."""
    for word in positionals:
        kind, slash, _ = word.partition("/")
        if slash and kind.lower() not in _POD_TYPES:
            return False
    return True


def _manifest_namespaces(
    reading: Reading, namespace: str, read_manifests: bool
) -> tuple[str, ...] | None:
    if not read_manifests:
        return None
    from kubesafe.kubectl.manifests import manifest_namespaces

    found = manifest_namespaces(
        reading.flags["filename"],
        recursive=_flag_true(reading, "recursive"),
        namespace=namespace,
    )
    # kubectl refuses resource arguments beside -f; should one slip through, count it too.
    # Words with "=" or a trailing "-" are label, annotation or env changes, not resources.
    resources = [w for w in reading.positionals if "=" not in w and not w.endswith("-")]
    if found is None or not resources:
        return found
    also = _resource_namespaces(resources, reading.command, namespace)
    return None if also is None else tuple(sorted({*found, *also}))


def _resource_namespaces(
    positionals: list[str], command: tuple[str, ...], namespace: str
) -> tuple[str, ...] | None:
    if not positionals or command[0] not in _RESOURCE_COMMANDS:
        return (namespace,)
    first_types = [_resource_type(t) for t in positionals[0].split(",")]
    if "/" not in positionals[0]:
        reached: set[str] = set()
        for kind in first_types:
            if kind in NAMESPACE_TYPES:
                reached.update(positionals[1:])
            elif kind in NAMESPACED:
                reached.add(namespace)
            else:
                return None
        return tuple(sorted(reached)) or None
    reached = set()
    for word in positionals:
        kind, slash, name = word.partition("/")
        if not slash:
            continue
        if _resource_type(kind) in NAMESPACE_TYPES:
            reached.add(name)
        elif _resource_type(kind) in NAMESPACED:
            reached.add(namespace)
        else:
            return None
    return tuple(sorted(reached)) if reached else (namespace,)


_CLUSTER_WIDE_CREATES = frozenset({("clusterrole",), ("clusterrolebinding",), ("priorityclass",)})
_EVERYWHERE_COMMANDS = frozenset({"drain", "cordon", "uncordon", "taint", "proxy", "certificate"})
# Commands whose first positional words are resource types (TYPE NAME or TYPE/NAME).
_RESOURCE_COMMANDS = frozenset(
    {
        "delete",
        "label",
        "annotate",
        "patch",
        "edit",
        "scale",
        "get",
        "describe",
        "rollout",
        "set",
        "autoscale",
        "expose",
        "wait",
        "replace",
        "apply",
    }
)
