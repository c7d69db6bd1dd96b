"""``kubesafe demo --script``: the tour, run for real and printed as a transcript.

Most steps run this very kubesafe in a child process with the sandbox's
environment, the way the shell integration would (``kubectl ...`` is
``python -m kubesafe kubectl ...``). Those children get no controlling terminal
(a new session, stdin from /dev/null), so protected writes are refused exactly
as in CI, whether or not the demo itself was started from a terminal. The
terminal steps (``kubesafe.demo.terminals``) run bash in pseudo-terminals, to
show the per-terminal context, the prompt segment and the confirmation banner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kubesafe.demo.objects import DEMO_VERSION
from kubesafe.demo.terminal import TerminalError, clean
from kubesafe.demo.terminals import TERMINAL_STEPS, DemoTerminals, TerminalStep

STEP_TIMEOUT = 300.0  # the first step may download kubectl (about 50 MB)
EXIT_REFUSED = 3
EXIT_NO_KUBECTL = 127


@dataclass(frozen=True)
class Step:
    title: str
    args: tuple[str, ...]  # kubesafe's arguments: ("kubectl", "get", "pods"), ("explain", ...)
    exit_code: int = 0
    text: str = ""  # must appear in the output
    env: Mapping[str, str] = field(default_factory=dict)
    # The decision `kubesafe explain` shows, used instead of running kubectl when none is there.
    decision: str = ""

    @property
    def runs_kubectl(self) -> bool:
        return bool(self.decision)

    def shown(self) -> str:
        assignments = [f"{name}={value}" for name, value in self.env.items()]
        words = self.args if self.args[0] == "kubectl" else ("kubesafe", *self.args)
        return " ".join([*assignments, *words])

    def explained(self) -> Step:
        return Step(
            f"{self.title} (no kubectl: kubesafe explain shows the decision instead)",
            ("explain", "--", *self.args[1:]),
            text=f"decision:    {self.decision}",
        )


STEPS: tuple[Step | TerminalStep, ...] = (
    Step(
        "kubesafe asks the dev cluster for its version and runs a kubectl of the same minor",
        ("kubectl", "version"),
        text=f"Server Version: {DEMO_VERSION}",
        decision="allow",
    ),
    Step(
        "Which kubectl that was, and why",
        ("versions", "which", "--", "version"),
        text="why: ",
    ),
    Step("Reads pass straight through", ("kubectl", "get", "pods"), text="web-0", decision="allow"),
    Step(
        "dev is not protected: a delete just runs",
        ("kubectl", "delete", "pod", "web-1"),
        text='pod "web-1" deleted',
        decision="allow",
    ),
    Step(
        "staging is protected lightly: writes pass, only deletes ask",
        ("kubectl", "--context", "staging", "scale", "deployment", "web", "--replicas=3"),
        text="scaled",
        decision="allow",
    ),
    Step(
        "The same delete on prod: kubesafe wants a human, and this tour has no terminal",
        ("kubectl", "--context", "prod", "delete", "pod", "web-0"),
        exit_code=EXIT_REFUSED,
        text="refusing",
    ),
    *TERMINAL_STEPS,
    Step(
        "A deliberate approval, for scripts and CI: name the context you mean",
        ("kubectl", "--context", "prod", "delete", "pod", "web-0"),
        text='pod "web-0" deleted',
        env={"KUBESAFE_CONFIRM": "prod"},
        decision="confirm",
    ),
    Step(
        "explain: what a command would do, without running anything",
        ("explain", "--", "--context", "prod", "delete", "namespace", "shop"),
        text="decision:    confirm",
    ),
)


@dataclass
class Outcome:
    step: Step
    exit_code: int
    output: str

    @property
    def problem(self) -> str:
        """Why the step did not go as the tour expects; "" when it did."""
        if self.exit_code != self.step.exit_code:
            return f"exit {self.exit_code}, expected {self.step.exit_code}"
        if self.step.text not in self.output:
            return f"the output lacks {self.step.text!r}"
        return ""


def run_step(step: Step, env: Mapping[str, str]) -> Outcome:
    command = [sys.executable, "-m", "kubesafe", *step.args]
    try:
        result = subprocess.run(
            command,
            env={**env, **step.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=STEP_TIMEOUT,
            check=False,
            start_new_session=os.name != "nt",
        )
    except subprocess.TimeoutExpired:
        return Outcome(step, -1, f"(no answer within {STEP_TIMEOUT:.0f} s)")
    return Outcome(step, result.returncode, result.stdout)


def _indent(text: str) -> str:
    lines = text.rstrip("\n").splitlines() or ["(no output)"]
    return "\n".join(f"    {line}" for line in lines)


NO_KUBECTL_NOTE = (
    "No kubectl {version} could be found or fetched (offline?). kubesafe decides before\n"
    "kubectl runs, so the tour goes on: each step that would run kubectl shows kubesafe's\n"
    "decision with `kubesafe explain` instead. To see it all run, connect to the internet,\n"
    "set KUBESAFE_MIRROR to a dl.k8s.io mirror, or put a kubectl {minor} on PATH."
)


def kubectl_origin(which_output: str, env: Mapping[str, str]) -> str:
    """Where the kubectl that ``versions which`` names came from, in plain words."""
    lines = which_output.splitlines()
    path = lines[0].split(" (")[0] if lines else ""
    if not os.path.isabs(path):
        return ""
    store = os.path.join(env.get("KUBESAFE_CACHE_DIR", ""), "kubectl") + os.sep
    if not os.path.abspath(path).startswith(store):
        return f"That is the kubectl on your PATH, {path}: nothing was downloaded."
    if os.path.islink(path):
        return (
            f"That is the kubectl you downloaded with kubesafe before "
            f"({os.path.realpath(path)}), linked into the sandbox: nothing was downloaded."
        )
    return (
        "kubesafe downloaded it for this tour, verified it against the published digest "
        "and cached it in the sandbox (removed at the end)."
    )


TerminalRunner = Callable[[TerminalStep], str]


def _indent_terminal(name: str, text: str) -> str:
    lines = text.rstrip("\n").splitlines() or [""]
    return "\n".join(f"  {name} | {line}".rstrip() for line in lines)


def run_tour(
    env: Mapping[str, str],
    echo: Callable[[str], None],
    steps: tuple[Step | TerminalStep, ...] = STEPS,
    runner: Callable[[Step, Mapping[str, str]], Outcome] = run_step,
    terminals: TerminalRunner | None = None,
) -> bool:
    """Run and print every step; True when each behaved as the tour expects.

    Without ``terminals`` (no bash, no pseudo-terminals) the terminal steps are skipped.
    """
    have_kubectl = True
    problems = 0
    for number, planned in enumerate(steps, 1):
        if isinstance(planned, TerminalStep):
            echo(f"\n[{number}/{len(steps)}] {planned.title}")
            if terminals is None:
                echo("  (skipped: this needs bash and pseudo-terminals)")
                continue
            try:
                shown = terminals(planned)
            except TerminalError as exc:
                problems += 1
                echo(f"  UNEXPECTED ({exc})")
                continue
            echo(_indent_terminal(planned.terminal, shown))
            problem = planned.problem(clean(shown, colour=False), have_kubectl)
            if problem:
                problems += 1
                echo(f"  UNEXPECTED ({problem})")
            else:
                echo("  as expected")
            continue
        step = planned if have_kubectl or not planned.runs_kubectl else planned.explained()
        echo(f"\n[{number}/{len(steps)}] {step.title}")
        echo(f"  $ {step.shown()}")
        outcome = runner(step, env)
        echo(_indent(outcome.output))
        if number == 1 and step.runs_kubectl and outcome.exit_code == EXIT_NO_KUBECTL:
            have_kubectl = False
            minor = ".".join(DEMO_VERSION.removeprefix("v").split(".")[:2])
            echo(f"  exit {outcome.exit_code}: no kubectl")
            echo("\n" + NO_KUBECTL_NOTE.format(version=DEMO_VERSION, minor=minor))
            continue
        if step.args[:2] == ("versions", "which") and have_kubectl:
            origin = kubectl_origin(outcome.output, env)
            if origin:
                echo(f"  {origin}")
        if outcome.problem:
            problems += 1
            echo(f"  exit {outcome.exit_code}: UNEXPECTED ({outcome.problem})")
        elif outcome.exit_code == EXIT_REFUSED:
            echo(f"  exit {outcome.exit_code}: refused by kubesafe, as expected")
        else:
            echo(f"  exit {outcome.exit_code}: as expected")
    if problems:
        echo(f"\n{problems} step(s) did not behave as expected.")
    else:
        echo("\nThe tour behaved as expected.")
    return problems == 0


__all__ = ["STEPS", "DemoTerminals", "Outcome", "Step", "TerminalStep", "run_tour"]
