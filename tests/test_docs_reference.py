"""docs/configuration.md names every environment variable, policy key and state file.

The lists come from the package's source, so a new variable, key or file that is
not documented fails here instead of drifting silently.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kubesafe import policy_file

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kubesafe"
PAGE = ROOT / "docs" / "configuration.md"

# A whole string literal that names a variable of these families.
VARIABLE_LITERAL = re.compile(r"(KUBESAFE|KUBECTX|KUBE|XDG|HELM)[A-Z_]*[A-Z]|NO_COLOR")
# kubesafe's own variables also appear inside longer strings (shell scripts, messages).
KUBESAFE_VARIABLE = re.compile(r"\b(KUBESAFE_[A-Z_]*[A-Z])\b")
# Names read with env.get("X"), environ["X"], os.getenv("X") and the like.
LOOKUP = re.compile(r"""(?:environ|env|getenv)(?:\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]*)["']""")
# Files in kubesafe's own directories: os.path.join(paths.state_dir(), "audit.jsonl").
OWN_FILE = re.compile(
    r"""paths\.(?:ensure_private_dir\()?(?:cache|state|config)_dir\(\)\)?,\s*f?["']([^"'{]+)"""
)


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _string_constants(source: Path) -> list[str]:
    """String literals, and keyword names (``env.update(KUBESAFE_DEMO=root)``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.keyword) and node.arg:
            found.append(node.arg)
    return found


def environment_variables() -> set[str]:
    found: set[str] = set()
    for source in _sources():
        for text in _string_constants(source):
            if VARIABLE_LITERAL.fullmatch(text):
                found.add(text)
            found.update(KUBESAFE_VARIABLE.findall(text))
        found.update(LOOKUP.findall(source.read_text(encoding="utf-8")))
    return found


def own_files() -> set[str]:
    found: set[str] = set()
    for source in _sources():
        found.update(OWN_FILE.findall(source.read_text(encoding="utf-8")))
    return found


def _documented(name: str) -> bool:
    return f"`{name}" in PAGE.read_text(encoding="utf-8")


def test_the_scan_finds_what_it_should() -> None:
    variables = environment_variables()
    expected = {"KUBESAFE_CONFIRM", "KUBESAFE_PROMPT", "KUBESAFE_DEMO", "KUBECONFIG", "NO_COLOR"}
    assert expected | {"HOME", "POD_NAMESPACE"} <= variables
    assert "KUBECTL_NAME" not in variables  # a Python constant, not a variable
    assert {"audit.jsonl", "switch.json", "bin", "server-versions.marshal"} <= own_files()


def test_every_environment_variable_is_documented() -> None:
    missing = sorted(name for name in environment_variables() if not _documented(name))
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_every_policy_key_and_value_is_documented() -> None:
    names = (
        policy_file.TOP_KEYS
        | policy_file.RULE_KEYS
        | policy_file.KUBECTL_KEYS
        | set(policy_file.CLASS_KEYS)
        | set(policy_file.LEVELS)
        | set(policy_file.SELECTIONS)
    )
    missing = sorted(name for name in names if not _documented(name))
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_every_file_in_kubesafes_directories_is_documented() -> None:
    text = PAGE.read_text(encoding="utf-8")
    missing = sorted(name for name in own_files() if f"/{name}" not in text)
    assert not missing, f"not in docs/configuration.md: {missing}"
