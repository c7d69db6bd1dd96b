"""What `kubectl` means in the user's real bash, zsh and fish, read from their rc files."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from kubesafe.doctor import shell_checks
from kubesafe.doctor.check import FAIL, OK, WARN
from kubesafe.doctor.shell_probe import Entry, ProbeError, probe
from tests.support.kubectl_binaries import kubectl_binary

SHELLS = ["bash", "zsh", "fish"]
KUBESAFE = Path(sys.executable).parent / "kubesafe"

FUNCTION = {
    "bash": 'kubectl() { command kubesafe kubectl "$@"; }\n',
    "zsh": 'kubectl() { command kubesafe kubectl "$@"; }\n',
    "fish": "function kubectl\n    command kubesafe kubectl $argv\nend\n",
}


def _need(shell: str) -> str:
    found = shutil.which(shell)
    if found is None:
        pytest.fail(f"{shell} is not installed; .ci/run installs Debian's {shell}")
    return found


def _rc(home: Path, shell: str) -> Path:
    return {
        "bash": home / ".bashrc",
        "zsh": home / ".zshrc",
        "fish": home / ".config" / "fish" / "config.fish",
    }[shell]


def _world(tmp_path: Path, shell: str, rc: str, *, kubesafe_first: bool = False) -> dict[str, str]:
    """HOME with the rc file; PATH with the shell, kubesafe and the real kubectl only."""
    home = tmp_path / "home"
    rc_path = _rc(home, shell)
    rc_path.parent.mkdir(parents=True, exist_ok=True)
    rc_path.write_text(rc)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / shell).symlink_to(_need(shell))
    (bin_dir / "kubesafe").symlink_to(KUBESAFE)
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (real_dir / "kubectl").symlink_to(kubectl_binary(33))
    dirs = [str(bin_dir), str(real_dir)]
    if kubesafe_first:
        shim_dir = tmp_path / "shim"
        shim_dir.mkdir()
        (shim_dir / "kubectl").symlink_to(KUBESAFE)
        dirs.insert(0, str(shim_dir))
    return {"HOME": str(home), "PATH": os.pathsep.join(dirs), "SHELL": f"/bin/{shell}"}


@pytest.mark.parametrize("shell", SHELLS)
def test_function_routes_kubectl_but_k_alias_bypasses(tmp_path: Path, shell: str) -> None:
    real = kubectl_binary(33)
    rc = FUNCTION[shell] + f"alias k={real}\nalias kk=kubectl\n"
    env = _world(tmp_path, shell, rc)
    report = probe(shell, env)
    assert report.entries[0].kind == "function"
    assert [e.text for e in report.entries[1:]] == [str(tmp_path / "real" / "kubectl")]
    check = shell_checks.kubectl_command(report, env)
    assert check.status == OK and "runs kubesafe kubectl" in check.summary
    aliases = shell_checks.aliases(report, env)
    assert aliases.status == FAIL
    assert aliases.summary.endswith(": k")  # kk goes through the function
    assert aliases.fix[0] == "alias k=kubectl"
    assert str(_rc(Path(env["HOME"]), shell)) in aliases.fix[1]


@pytest.mark.parametrize("shell", SHELLS)
def test_without_integration_kubectl_is_the_real_binary(tmp_path: Path, shell: str) -> None:
    env = _world(tmp_path, shell, "")
    report = probe(shell, env)
    check = shell_checks.kubectl_command(report, env)
    assert check.status == FAIL
    assert "the real kubectl, not kubesafe" in check.summary
    init = (
        "status is-interactive; and kubesafe init fish | source"
        if shell == "fish"
        else f'eval "$(kubesafe init {shell})"'
    )
    rc = _rc(Path(env["HOME"]), shell)
    assert check.fix[0] == f"echo '{init}' >> {rc}"


@pytest.mark.parametrize("shell", SHELLS)
def test_kubesafe_first_on_path_counts_as_kubesafe(tmp_path: Path, shell: str) -> None:
    env = _world(tmp_path, shell, "alias kw='watch kubectl get pods'\n", kubesafe_first=True)
    report = probe(shell, env)
    assert shell_checks.kubectl_command(report, env).status == OK
    assert shell_checks.kubectl_path(env, shell).status == OK
    assert shell_checks.aliases(report, env).status == OK


def test_wrapped_kubectl_alias_bypasses_when_path_has_the_real_one(tmp_path: Path) -> None:
    rc = FUNCTION["bash"] + "alias kw='watch kubectl get pods'\nalias kc='command kubectl'\n"
    env = _world(tmp_path, "bash", rc)
    check = shell_checks.aliases(probe("bash", env), env)
    assert check.status == FAIL
    # bash lists aliases sorted by name
    assert check.fix[:2] == ("alias kc=kubectl", "alias kw='watch kubesafe kubectl get pods'")


def test_other_kubectl_function_is_a_bypass(tmp_path: Path) -> None:
    env = _world(tmp_path, "bash", 'kubectl() { command kubectl --v=0 "$@"; }\n')
    check = shell_checks.kubectl_command(probe("bash", env), env)
    assert check.status == FAIL and "does not run kubesafe" in check.summary
    assert check.fix[0].startswith("remove the other kubectl function from ")


def test_readme_alias_counts_as_kubesafe(tmp_path: Path) -> None:
    env = _world(tmp_path, "bash", "alias kubectl='kubesafe kubectl'\n")
    report = probe("bash", env)
    assert report.entries[0] == Entry("alias", "kubesafe kubectl")
    assert shell_checks.kubectl_command(report, env).status == OK


def test_alias_that_points_at_the_real_binary_by_name_is_caught(tmp_path: Path) -> None:
    env = _world(tmp_path, "bash", FUNCTION["bash"] + "alias kubectl=/usr/local/bin/kubectl\n")
    check = shell_checks.kubectl_command(probe("bash", env), env)
    assert check.status == FAIL
    assert check.fix[0].startswith("remove the other kubectl alias")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_loaded_or_not(tmp_path: Path, shell: str) -> None:
    line = {
        "bash": "source <(kubectl completion bash)\n",
        "zsh": "autoload -Uz compinit && compinit -u\nsource <(kubectl completion zsh)\n",
    }[shell]
    env = _world(tmp_path / "with", shell, FUNCTION[shell] + line)
    loaded = shell_checks.shell_completion(probe(shell, env), env)
    assert loaded.status == OK, loaded
    assert "kubectl" in loaded.detail[0]
    env = _world(tmp_path / "without", shell, FUNCTION[shell])
    missing = shell_checks.shell_completion(probe(shell, env), env)
    assert missing.status == WARN
    assert f"kubectl completion {shell})' >> " in missing.fix[0]


def test_fish_completion_comes_with_fish_or_not(tmp_path: Path) -> None:
    env = _world(tmp_path / "with", "fish", FUNCTION["fish"])
    report = probe("fish", env)
    # Debian's fish ships a kubectl completion; the doctor must see it.
    assert report.completion, "fish's own kubectl completion was not detected"
    assert shell_checks.shell_completion(report, env).status == OK
    env = _world(tmp_path / "without", "fish", FUNCTION["fish"] + "set fish_complete_path\n")
    missing = shell_checks.shell_completion(probe("fish", env), env)
    assert missing.status == WARN
    assert missing.fix[0].startswith("echo 'kubectl completion fish | source' >> ")


def test_rc_output_does_not_confuse_the_parser(tmp_path: Path) -> None:
    rc = "echo 'kubectl is /bin/evil'\necho '@@kubesafe-doctor@@'\n" + FUNCTION["bash"]
    env = _world(tmp_path, "bash", rc)
    report = probe("bash", env)
    assert report.entries[0].kind == "function" and len(report.entries) == 2


def test_hanging_rc_file_times_out(tmp_path: Path) -> None:
    env = _world(tmp_path, "bash", "read -t 30 x </dev/zero || sleep 30\n")
    with pytest.raises(ProbeError, match="did not answer within 1s"):
        probe("bash", env, timeout=1)


def test_rc_file_that_exits_is_reported(tmp_path: Path) -> None:
    env = _world(tmp_path, "bash", "exit 3\n")
    with pytest.raises(ProbeError, match="stopped before answering"):
        probe("bash", env)


def test_judge_follows_a_flags_only_alias() -> None:
    through, what = shell_checks.judge(
        (
            Entry("alias", "kubectl --context dev"),
            Entry("function", '"${__kubesafe_launcher[@]}" kubectl "$@"'),
        )
    )
    assert through and "then a shell function" in what


def test_integration_loaded_or_not(tmp_path: Path) -> None:
    own = tmp_path / "terminal"
    own.write_text("current-context: dev\n")
    base = {"KUBESAFE_SHELL": "zsh", "KUBESAFE_SHELL_KUBECONFIG": str(own), "HOME": "/h"}
    loaded = dict(base, KUBECONFIG=f"{own}{os.pathsep}/h/.kube/config")
    assert shell_checks.integration(loaded, "zsh").status == OK
    for env, why in [
        ({"HOME": "/h"}, "KUBESAFE_SHELL is not set"),
        (dict(base, KUBECONFIG="/h/.kube/config"), "does not start with"),
        (dict(loaded, KUBESAFE_SHELL_KUBECONFIG=str(tmp_path / "gone")), "does not start with"),
    ]:
        check = shell_checks.integration(env, "zsh")
        assert check.status == FAIL and why in check.detail[0]
        assert check.fix[0] == "echo 'eval \"$(kubesafe init zsh)\"' >> /h/.zshrc"
    gone = str(tmp_path / "gone")
    env = dict(base, KUBESAFE_SHELL_KUBECONFIG=gone, KUBECONFIG=gone)
    assert "does not exist" in shell_checks.integration(env, "zsh").detail[0]


def test_path_lists_every_kubectl_and_warns_about_the_real_first(tmp_path: Path) -> None:
    env = _world(tmp_path, "bash", "", kubesafe_first=False)
    check = shell_checks.kubectl_path(env, "bash")
    assert check.status == WARN and "bypass kubesafe" in check.summary
    assert check.detail[0] == f"{tmp_path / 'real' / 'kubectl'}: real kubectl"
    assert check.fix[0].startswith("echo 'eval \"$(kubesafe init bash)\"' >> ")


@pytest.mark.parametrize("shell", SHELLS)
def test_the_real_init_script_counts_as_kubesafe(tmp_path: Path, shell: str) -> None:
    """Contract with `kubesafe init`: its kubectl function is recognised in every shell."""
    line = (
        "status is-interactive; and kubesafe init fish | source"
        if shell == "fish"
        else f'eval "$(kubesafe init {shell})"'
    )
    env = _world(tmp_path, shell, line + "\n")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    report = probe(shell, env)
    check = shell_checks.kubectl_command(report, env)
    assert check.status == OK, check
    assert report.entries[0].kind == "function"


# (shell, rc lines, status, words the summary or reason must hold)
PROMPT_CASES = [
    ("bash", "PS1='\\u@\\h:\\w\\$ '\nPS1='$KUBESAFE_PROMPT'\"$PS1\"\n", WARN, "runs into"),
    ("bash", "PS1='\\s-\\v\\$ '\nPS1='$KUBESAFE_PROMPT'\"$PS1\"\n", WARN, "runs into"),
    ("bash", "PS1='\\u@\\h:\\w\\$ '\nPS1='${KUBESAFE_PROMPT}'\"$PS1\"\n", OK, "shows the"),
    ("bash", "PS1='\\u@\\h:\\w\\$ '\n", OK, "does not show"),
    ("bash", "PS1='$(kubesafe_prompt)\\u \\$ '\n", WARN, "is the integration loaded"),
    ("zsh", "PROMPT='$KUBESAFE_PROMPT'\"$PROMPT\"\n", WARN, "prompt_subst is off"),
    ("zsh", "setopt prompt_subst; PROMPT='${KUBESAFE_PROMPT}'\"$PROMPT\"\n", OK, "shows the"),
    ("zsh", "setopt prompt_subst; PROMPT='$KUBESAFE_PROMPTx'\n", WARN, "runs into"),
    ("fish", "function fish_prompt; kubesafe_prompt; printf '> '; end\n", WARN, "loaded"),
]


@pytest.mark.parametrize(("shell", "rc", "status", "words"), PROMPT_CASES)
def test_prompt_that_mentions_the_segment_must_show_it(
    tmp_path: Path, shell: str, rc: str, status: str, words: str
) -> None:
    env = _world(tmp_path, shell, rc)
    check = shell_checks.prompt_segment(probe(shell, env), env)
    assert check.status == status, check
    assert words in " ".join((check.summary, *check.detail)), check
    if status == WARN:
        assert str(_rc(Path(env["HOME"]), shell)) in check.fix[-1]
    if "runs into" in words:
        assert check.fix[-1].endswith(
            "PS1='${KUBESAFE_PROMPT}'\"$PS1\""
            if shell == "bash"
            else "PROMPT='${KUBESAFE_PROMPT}'\"$PROMPT\""
        )


@pytest.mark.parametrize("shell", SHELLS)
def test_documented_prompt_with_the_real_init_shows_the_segment(tmp_path: Path, shell: str) -> None:
    prompt = {
        "bash": "PS1='\\u@\\h:\\w\\$ '\nPS1='${KUBESAFE_PROMPT}'\"$PS1\"",
        "zsh": "setopt prompt_subst; PROMPT='${KUBESAFE_PROMPT}'\"$PROMPT\"",
        "fish": "function fish_prompt; kubesafe_prompt; printf '> '; end",
    }[shell]
    init = (
        "status is-interactive; and kubesafe init fish | source"
        if shell == "fish"
        else f'eval "$(kubesafe init {shell})"'
    )
    env = _world(tmp_path, shell, f"{init}\n{prompt}\n")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    check = shell_checks.prompt_segment(probe(shell, env), env)
    assert check.status == OK and "shows the kubesafe segment" in check.summary, check
