"""The tour's bookkeeping, with a scripted runner (the e2e tests run it for real)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kubesafe.demo.tour import STEPS, Outcome, Step, run_tour

Runner = Callable[[Step, Mapping[str, str]], Outcome]


def _runner(results: dict[str, tuple[int, str]]) -> tuple[list[Step], Runner]:
    seen: list[Step] = []

    def run(step: Step, env: Mapping[str, str]) -> Outcome:
        seen.append(step)
        code, output = results.get(step.args[0], (step.exit_code, step.text))
        return Outcome(step, code, output)

    return seen, run


def test_all_as_expected() -> None:
    lines: list[str] = []
    seen, runner = _runner({})
    assert run_tour({}, lines.append, runner=runner)
    assert [s.args for s in seen] == [s.args for s in STEPS]
    text = "\n".join(lines)
    assert "$ KUBESAFE_CONFIRM=prod kubectl --context prod delete pod web-0" in text
    assert "exit 3: refused by kubesafe, as expected" in text
    assert text.endswith("The tour behaved as expected.")


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
    assert ran[1] == "explain -- get pods"
    # The refusal needs no kubectl: it still runs through the shim.
    assert "kubectl --context prod delete pod web-0" in ran
    assert "explain -- --context prod delete pod web-0" in ran
    assert not any(s.env for s in seen)  # no KUBESAFE_CONFIRM step without kubectl
    text = "\n".join(lines)
    assert "No kubectl v1.33.9 could be found or fetched" in text
    assert "UNEXPECTED" not in text
