"""Big fleets: kubesafe vs kubectl on kubeconfigs of 200, 1,000 and 10,000 contexts.

Usage: .venv/bin/python benchmarks/fleet.py [--repeats N] [--sizes 200 1000 10000]

On a kubeconfig generated as kubectl writes it (benchmarks/kubeconfig_write.py
``generate``: each cluster with a 1.2 kB CA, 14.6 MB at 10,000 contexts), kubectl 1.33
pinned, side by side in one run, medians over the repeats:

1. the first ``kubesafe explain -- get pods`` after the file changed vs
   ``kubectl config view --minify`` (budget: ratio <= 0.5), and the peak RSS of both
   (budget: below kubectl's); also the same explain as the integration's ``kubesafe`` shell
   function runs it (the fast launcher ``kubesafe init`` writes, no site-packages scan, no
   pip script), and the first ``kubectl get pods`` through the shim's fast launcher, handing
   over to ``/bin/true``: kubesafe's own part of a kubectl call;
2. the warm ``kubesafe explain`` at each size vs the same at 200 contexts (budget: the
   same, ratio <= 1.2 for the noise);
3. ``kubesafe ctx NAME --global`` vs ``kubectl config use-context NAME``, each call a
   real switch (budget at 1,000 and 10,000: ratio <= 0.25), also in an integrated
   terminal (the terminal's own kubeconfig first, its guard planned for the protected
   contexts), where the switch also keeps the terminal's file in step;
4. how long bash's prompt blocks on the first prompt after a change (the render then
   finishes in the background) vs an empty function (budget: +50 ms).

Once, at 200 contexts: ``kubesafe ns`` listing 20,000 cached namespaces (budget: +50 ms
over ``/bin/true``), and the shim's warm path ``kubectl version --client`` through the
fast launcher that ``kubesafe init`` writes and through pip's ``kubesafe`` script vs
kubectl itself (budget: +20 ms), with the split: the bare interpreter (``python -S``),
the site scan, the imports of the shim's modules; the rest is kubesafe's own work.
``--quick`` (tests/test_benchmarks.py): 200 contexts only, numbers not worth quoting.
"""

from __future__ import annotations

import argparse
import marshal
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.kubeconfig_write import generate  # noqa: E402
from benchmarks.report import (  # noqa: E402
    BenchmarkError,
    Row,
    added_at_most,
    markdown_table,
    ratio_at_most,
    row,
    run_main,
)
from kubesafe.shell.names import SESSION_VARIABLE  # noqa: E402
from tests.support.kubectl_binaries import kubectl_binary  # noqa: E402

BIN = Path(sys.executable).parent
KUBESAFE = str(BIN / "kubesafe")
SIZES = (200, 1000, 10_000)
NAMESPACES = 20_000
# Seconds of quiet before warm calls: the parsed-file cache trusts no younger file.
SETTLE = 2.2
WARM_LABEL = "warm kubesafe explain -- get pods"

PROMPT_LOOP = """
{init}
KUBESAFE_PROMPT_WAIT=600 __kubesafe_refresh
noop() {{ :; }}
for ((r = 0; r < {repeats}; r++)); do
  cp {other} {config}; cp {config} {other}.next; mv {other}.next {other}
  a=${{EPOCHREALTIME/./}}; noop; b=${{EPOCHREALTIME/./}}
  printf 'noop %s\\n' $((b - a))
  a=${{EPOCHREALTIME/./}}; __kubesafe_refresh; b=${{EPOCHREALTIME/./}}
  printf 'refresh %s %s\\n' $((b - a)) "${{__kubesafe_fd:+pending}}"
  KUBESAFE_PROMPT_WAIT=600 __kubesafe_refresh  # let the render finish before the next change
done
"""


def run_timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(milliseconds from start to exit, peak RSS in MiB) of one run of ``command``."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    error = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        text = error.decode(errors="replace").strip()[-300:]
        raise BenchmarkError(f"{' '.join(command[:4])} failed ({child.returncode}): {text}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


def alternate(repeats: int, runs: dict[str, Callable[[int], float]]) -> dict[str, list[float]]:
    """Each run once per round, in turn, so that machine noise hits all of them."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(repeats):
        for name, run in runs.items():
            samples[name].append(run(i))
    return samples


def make_world(directory: Path, contexts: int) -> dict[str, str]:
    home = directory / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".config" / "kubesafe").mkdir(parents=True)
    (home / ".config" / "kubesafe" / "config.yaml").write_text("rules:\n  - context: ctx-1*\n")
    (home / ".kube" / "config").write_text(generate(contexts))
    kubectl = kubectl_binary(33)
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(directory / "cache"),
        "XDG_STATE_HOME": str(directory / "state"),
        "KUBECONFIG": str(home / ".kube" / "config"),
        "KUBESAFE_KUBECTL": str(kubectl),
        "PATH": f"{BIN}:{kubectl.parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }


def _touch(path: str, i: int) -> None:
    """A real change: a different size, so no cache can take it for the old file."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" if i % 2 else "\n\n")


def size_rows(contexts: int, repeats: int, warm_200: list[float] | None) -> list[Row]:
    name = f"fleet, {contexts:,} contexts"
    kubectl = str(kubectl_binary(33))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = make_world(Path(tmp), contexts)
        config = env["KUBECONFIG"]
        rss: dict[str, list[float]] = {"ours": [], "kubectl": []}

        def first(i: int) -> float:
            _touch(config, i)
            elapsed, peak = run_timed([KUBESAFE, "explain", "--", "get", "pods"], env)
            rss["ours"].append(peak)
            return elapsed

        def minify(i: int) -> float:
            elapsed, peak = run_timed([kubectl, "config", "view", "--minify"], env)
            rss["kubectl"].append(peak)
            return elapsed

        subprocess.run([KUBESAFE, "init", "bash"], env=env, check=True, capture_output=True)
        state = Path(env["XDG_STATE_HOME"]) / "kubesafe"
        launcher = str(state / "bin" / "kubectl")
        # What the integration's `kubesafe` shell function runs (kubesafe/shell/scripts.py).
        own_launcher = str(state / "launch" / "kubesafe")

        def first_launched(i: int) -> float:
            _touch(config, i)
            return run_timed([own_launcher, "explain", "--", "get", "pods"], env)[0]

        # kubesafe's own part of a kubectl call: the kubectl it hands over to does nothing.
        shim_env = {**env, "KUBESAFE_KUBECTL": "/bin/true"}

        def first_shim(i: int) -> float:
            _touch(config, i)
            return run_timed([launcher, "get", "pods"], shim_env)[0]

        # Only the kubeconfig changes between calls: the policy file and the kubectl binary
        # are as old as on a real machine (a file younger than 2 s is never cached).
        time.sleep(SETTLE)
        run_timed([KUBESAFE, "explain", "--", "get", "pods"], env)
        runs: dict[str, Callable[[int], float]] = {
            "first": first,
            "minify": minify,
            "shim": first_shim,
            "launched": first_launched,
        }
        cold = alternate(repeats, runs)
        first_label = "first kubesafe explain -- get pods after a change"
        rows.append(
            row(
                name,
                first_label,
                "kubectl config view --minify",
                cold["minify"],
                cold["first"],
                "ms",
                ratio_at_most(0.5),
            )
        )
        rows.append(
            row(
                name,
                "the same in an integrated shell (kubesafe's fast launcher)",
                "kubectl config view --minify",
                cold["minify"],
                cold["launched"],
                "ms",
                ratio_at_most(0.5),
            )
        )
        rows.append(
            row(
                name,
                "first kubectl get pods after a change (the shim, then /bin/true)",
                "kubectl config view --minify",
                cold["minify"],
                cold["shim"],
                "ms",
                ratio_at_most(0.5),
            )
        )
        rows.append(
            row(
                name,
                "peak RSS of that first explain",
                "kubectl config view --minify",
                rss["kubectl"],
                rss["ours"],
                "MiB",
                ratio_at_most(1.0),
            )
        )
        time.sleep(SETTLE)
        run_timed([KUBESAFE, "explain", "--", "get", "pods"], env)  # fills the parsed-file cache
        warm_runs = {
            "warm": lambda i: run_timed([KUBESAFE, "explain", "--", "get", "pods"], env)[0]
        }
        warm = alternate(repeats, warm_runs)["warm"]
        rows.append(
            row(
                name,
                WARM_LABEL,
                "the same at 200 contexts",
                warm_200 or warm,
                warm,
                "ms",
                ratio_at_most(1.2) if warm_200 else None,
            )
        )

        def ours(i: int) -> float:
            return run_timed([KUBESAFE, "ctx", f"ctx-{1 + i % 2}", "--global"], env)[0]

        def theirs(i: int) -> float:
            return run_timed([kubectl, "config", "use-context", f"ctx-{3 + i % 2}"], env)[0]

        switches = alternate(repeats, {"ours": ours, "kubectl": theirs})
        budget = ratio_at_most(0.25) if contexts >= 1000 else None
        rows.append(
            row(
                name,
                "kubesafe ctx NAME --global",
                "kubectl config use-context NAME",
                switches["kubectl"],
                switches["ours"],
                "ms",
                budget,
            )
        )
        terminal = integrated_terminal(env)

        def ours_in_terminal(i: int) -> float:
            return run_timed([KUBESAFE, "ctx", f"ctx-{5 + i % 2}", "--global"], terminal)[0]

        def theirs_again(i: int) -> float:
            return run_timed([kubectl, "config", "use-context", f"ctx-{7 + i % 2}"], env)[0]

        switches = alternate(repeats, {"ours": ours_in_terminal, "kubectl": theirs_again})
        rows.append(
            row(
                name,
                "kubesafe ctx NAME --global in an integrated terminal",
                "kubectl config use-context NAME",
                switches["kubectl"],
                switches["ours"],
                "ms",
                budget,
            )
        )
        noop, blocked, pending = prompt_blocking(env, Path(tmp), repeats)
        print(f"  {name}: {pending} of {repeats} prompts showed the marker", file=sys.stderr)
        rows.append(
            row(
                name,
                "bash: first prompt after a change",
                "bash: empty function",
                noop,
                blocked,
                "ms",
                added_at_most(50, "ms"),
            )
        )
    return rows


def integrated_terminal(env: dict[str, str]) -> dict[str, str]:
    """``env`` as the shell integration leaves it: the terminal's own kubeconfig first.

    The terminal belongs to this benchmark's process; its guard (for the protected
    ``ctx-1*`` contexts) is planned, as ``kubesafe init`` plans it, but never started.
    """
    code = (
        "import os, sys\n"
        "from kubesafe.shell import session\n"
        "directory, kubeconfig = session.start_session(int(sys.argv[1]), os.environ)\n"
        "print(directory); print(kubeconfig)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(os.getpid())], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise BenchmarkError(f"cannot start a terminal session: {done.stderr.strip()[-300:]}")
    directory, kubeconfig = done.stdout.split()
    return {**env, "KUBECONFIG": kubeconfig, SESSION_VARIABLE: directory}


def prompt_blocking(
    env: dict[str, str], directory: Path, repeats: int
) -> tuple[list[float], list[float], int]:
    """Milliseconds bash's ``__kubesafe_refresh`` blocks right after the kubeconfig changed."""
    bash = shutil.which("bash")
    if bash is None:
        raise BenchmarkError("bash is not installed")
    config = env["KUBECONFIG"]
    other = directory / "other-config"
    text = Path(config).read_text()
    other.write_text(text.replace("namespace: team-0\n", "namespace: moved\n", 1))
    script = PROMPT_LOOP.format(
        init=f'eval "$({KUBESAFE} init bash)"',
        repeats=repeats,
        other=str(other),
        config=config,
    )
    done = subprocess.run([bash, "-c", script], env=env, capture_output=True, text=True)
    if done.returncode:
        raise BenchmarkError(f"bash prompt loop failed: {done.stderr.strip()[-300:]}")
    noop: list[float] = []
    blocked: list[float] = []
    pending = 0
    for line in done.stdout.splitlines():
        words = line.split()
        if words[0] == "noop":
            noop.append(int(words[1]) / 1000)
        elif words[0] == "refresh":
            blocked.append(int(words[1]) / 1000)
            pending += len(words) > 2
    return noop, blocked, pending


def namespace_rows(repeats: int) -> list[Row]:
    """``kubesafe ns`` listing 20,000 namespaces from its cache (200 contexts)."""
    sys.path.insert(0, str(ROOT))
    from kubesafe import namespaces, paths

    with tempfile.TemporaryDirectory() as tmp:
        env = make_world(Path(tmp), 200)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            target = namespaces._target("ctx-0", env)
            names = sorted(f"team-{i:05d}" for i in range(NAMESPACES))
            payload = {"key": namespaces._key(target), "time": 0.0, "namespaces": names}
            cache = namespaces._cache_file(target)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        time.sleep(SETTLE)

        def listing(i: int) -> float:
            # Fresh, so that no background refresh (there is no cluster) is started.
            payload["time"] = time.time()
            paths.write_private(cache, marshal.dumps(payload))
            return run_timed([KUBESAFE, "ns"], env)[0]

        samples = alternate(
            repeats, {"true": lambda i: run_timed(["/bin/true"], env)[0], "ns": listing}
        )
    return [
        row(
            "fleet",
            f"kubesafe ns, {NAMESPACES:,} cached namespaces",
            "/bin/true",
            samples["true"],
            samples["ns"],
            "ms",
            added_at_most(50, "ms"),
        )
    ]


def shim_rows(repeats: int) -> list[Row]:
    """The warm ``version --client`` through kubesafe vs kubectl, and where the time goes."""
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        env = make_world(Path(tmp), 200)
        subprocess.run([KUBESAFE, "init", "bash"], env=env, check=True, capture_output=True)
        links = Path(env["XDG_STATE_HOME"]) / "kubesafe" / "bin"
        kubectl = env["KUBESAFE_KUBECTL"]
        time.sleep(SETTLE)
        for command in ([str(links / "kubectl"), "get", "pods"], [KUBESAFE, "explain", "--"]):
            subprocess.run(command, env=env, capture_output=True)  # warm every cache
        imports = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            "import kubesafe.fast_launch, kubesafe.entry, kubesafe.kubectl.shim"
        )
        runs: dict[str, list[str]] = {
            "kubectl": [kubectl, "version", "--client"],
            "fast": [str(links / "kubectl"), "version", "--client"],
            "script": [KUBESAFE, "kubectl", "version", "--client"],
            "true": ["/bin/true"],
            "bare": [python, "-S", "-c", "pass"],
            "site": [python, "-c", "pass"],
            "imports": [python, "-S", "-c", imports],
        }

        def timer(command: list[str]) -> Callable[[int], float]:
            return lambda i: run_timed(command, env)[0]

        samples = alternate(repeats, {name: timer(command) for name, command in runs.items()})
    kubectl_label = "kubectl version --client (1.33, pinned)"
    return [
        row(
            "fleet, shim",
            "kubectl version --client via the fast launcher",
            kubectl_label,
            samples["kubectl"],
            samples["fast"],
            "ms",
            added_at_most(20, "ms"),
        ),
        row(
            "fleet, shim",
            "kubesafe kubectl version --client (pip's script)",
            kubectl_label,
            samples["kubectl"],
            samples["script"],
            "ms",
            added_at_most(20, "ms"),
        ),
        row(
            "fleet, shim",
            "bare interpreter: python -S -c pass",
            "/bin/true",
            samples["true"],
            samples["bare"],
            "ms",
        ),
        row(
            "fleet, shim",
            "the site scan: python -c pass",
            "python -S -c pass",
            samples["bare"],
            samples["site"],
            "ms",
        ),
        row(
            "fleet, shim",
            "imports: python -S, the shim's modules",
            "python -S -c pass",
            samples["bare"],
            samples["imports"],
            "ms",
        ),
    ]


def measure(repeats: int = 3, quick: bool = False, sizes: tuple[int, ...] = SIZES) -> list[Row]:
    sizes = (200,) if quick else sizes
    rows: list[Row] = []
    warm_200: list[float] | None = None
    for contexts in sizes:
        found = size_rows(contexts, repeats, warm_200)
        if contexts == 200:
            warm = next(r for r in found if r.label == WARM_LABEL)
            warm_200 = list(warm.measured_samples)
        rows += found
    rows += namespace_rows(max(repeats, 5))
    rows += shim_rows(max(repeats, 15))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args()
    print(markdown_table(measure(args.repeats, sizes=tuple(args.sizes))))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
