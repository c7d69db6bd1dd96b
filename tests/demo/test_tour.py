"""The tour's bookkeeping, with a scripted runner (the e2e tests run it for real)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from kubesafe.demo.terminal import PseudoTerminal, TerminalError, clean
from kubesafe.demo.terminals import TERMINAL_STEPS, TerminalStep
from kubesafe.demo.tour import STEPS, Outcome, Step, kubectl_origin, run_tour

Runner = Callable[[Step, Mapping[str, str]], Outcome]


def _runner(results: dict[str, tuple[int, str]]) -> tuple[list[Step], Runner]:
    seen: list[Step] = []

    def run(step: Step, env: Mapping[str, str]) -> Outcome:
        seen.append(step)
        code, output = results.get(step.args[0], (step.exit_code, step.text))
        return Outcome(step, code, output)

    return seen, run


def _terminals(seen: list[TerminalStep]) -> Callable[[TerminalStep], str]:
    def run(step: TerminalStep) -> str:
        seen.append(step)
        return "\n".join((*step.texts, step.result))

    return run


def test_all_as_expected() -> None:
    lines: list[str] = []
    seen, runner = _runner({})
    typed: list[TerminalStep] = []
    assert run_tour({}, lines.append, runner=runner, terminals=_terminals(typed))
    assert [s.args for s in seen] == [s.args for s in STEPS if isinstance(s, Step)]
    assert typed == list(TERMINAL_STEPS)
    text = "\n".join(lines)
    assert "$ KUBESAFE_CONFIRM=prod kubectl --context prod delete pod web-0" in text
    assert "exit 3: refused by kubesafe, as expected" in text
    assert "A | Type prod to proceed: prod" in text
    assert text.endswith("The tour behaved as expected.")


def test_the_tour_shows_the_banner_the_prompt_and_two_terminals() -> None:
    """What issue 12 found missing: each is a step whose output the tour checks."""
    texts = [text for step in TERMINAL_STEPS for text in step.texts]
    assert "⎈ PROD prod:default (kubesafe demo)" in texts  # the prompt segment
    assert "⎈ dev:default (kubesafe demo)" in texts  # the other terminal's
    assert any(text.startswith("=== kubesafe:") for text in texts)  # the banner
    assert {step.terminal for step in TERMINAL_STEPS} == {"A", "B"}
    assert not any("fetched once" in step.title for step in STEPS)


def test_without_terminals_those_steps_are_skipped_not_failed() -> None:
    lines: list[str] = []
    _, runner = _runner({})
    assert run_tour({}, lines.append, runner=runner)
    assert "\n".join(lines).count("(skipped: this needs bash and pseudo-terminals)") == 3


def test_a_terminal_that_does_not_answer_fails_the_tour() -> None:
    lines: list[str] = []
    _, runner = _runner({})

    def stuck(step: TerminalStep) -> str:
        raise TerminalError("no 'to proceed: ' within 60 s")

    assert not run_tour({}, lines.append, runner=runner, terminals=stuck)
    assert "  UNEXPECTED (no 'to proceed: ' within 60 s)" in lines
    assert lines[-1] == "\n3 step(s) did not behave as expected."


def test_a_terminal_step_checks_what_the_terminal_shows() -> None:
    step = TERMINAL_STEPS[2]
    shown = "\n".join(step.texts)
    assert step.problem(shown, have_kubectl=False) == ""
    assert step.problem(shown, have_kubectl=True) == f"the terminal lacks {step.result!r}"


def test_kubectl_origin_says_where_the_kubectl_came_from(tmp_path: Path) -> None:
    env = {"KUBESAFE_CACHE_DIR": str(tmp_path / "cache")}
    store = tmp_path / "cache" / "kubectl" / "v1.33.9"
    store.mkdir(parents=True)
    (store / "kubectl").write_text("")
    downloaded = kubectl_origin(f"{store / 'kubectl'} (v1.33.9)\n  why: ...", env)
    assert downloaded.startswith("kubesafe downloaded it for this tour")
    users = tmp_path / "users-kubectl"
    users.write_text("")
    (store / "kubectl").unlink()
    (store / "kubectl").symlink_to(users)
    linked = kubectl_origin(f"{store / 'kubectl'} (v1.33.9)", env)
    assert f"downloaded with kubesafe before ({users})" in linked
    system = kubectl_origin("/usr/bin/kubectl (v1.33.1)\n  why: ...; system", env)
    assert system == "That is the kubectl on your PATH, /usr/bin/kubectl: nothing was downloaded."
    assert kubectl_origin("kubectl v1.33.9 (not downloaded yet)", env) == ""


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")
def test_the_pseudo_terminal_is_the_programs_controlling_terminal() -> None:
    """kubesafe asks on /dev/tty: the tour's answer must arrive there."""
    script = 'printf "answer? " >/dev/tty; read a </dev/tty; echo "got [$a]"'
    with PseudoTerminal(["sh", "-c", script], {"PATH": os.defpath}) as terminal:
        terminal.read_until(re.compile(r"answer\? "), 30)
        terminal.type("prod\r")
        shown = terminal.read_until(re.compile(r"got \[.*\]"), 30)
    assert clean(shown, colour=False).strip().splitlines()[-1] == "got [prod]"


def test_an_unexpected_exit_fails_the_tour() -> None:
    lines: list[str] = []
    _, runner = _runner({"explain": (1, "boom")})
    assert not run_tour({}, lines.append, runner=runner)
    assert any("UNEXPECTED (exit 1, expected 0)" in line for line in lines)
    assert lines[-1] == "\n1 step(s) did not behave as expected."


def test_missing_text_fails_the_tour() -> None:
    step = Step("t", ("kubectl", "get", "pods"), text="web-0", decision="allow")
    assert Outcome(step, 0, "No resources found").problem == "the output lacks 'web-0'"
    assert Outcome(step, 0, "web-0  1/1").problem == ""


def test_without_kubectl_the_kubectl_steps_become_explain() -> None:
    lines: list[str] = []
    seen: list[Step] = []

    def runner(step: Step, env: Mapping[str, str]) -> Outcome:
        seen.append(step)
        if step.args == ("kubectl", "version"):
            return Outcome(step, 127, "kubesafe: cannot install kubectl v1.33.9: offline")
        if step.args[0] == "explain":
            return Outcome(step, 0, f"decision:    {'confirm' if 'prod' in step.args else 'allow'}")
        return Outcome(step, step.exit_code, step.text)

    assert run_tour({}, lines.append, runner=runner)
    ran = [" ".join(s.args) for s in seen]
    assert ran[1:3] == ["versions which -- version", "explain -- get pods"]
    # The refusal needs no kubectl: it still runs through the shim.
    assert "kubectl --context prod delete pod web-0" in ran
    assert "explain -- --context prod delete pod web-0" in ran
    assert not any(isinstance(s, Step) and s.env for s in seen)  # no KUBESAFE_CONFIRM
    text = "\n".join(lines)
    assert "No kubectl v1.33.9 could be found or fetched" in text
    assert "UNEXPECTED" not in text
