"""helm's bearer token flag never reaches the audit log."""

from __future__ import annotations

from kubesafe.approval import redact


def test_kube_token_values_are_redacted() -> None:
    argv = ("--kube-context", "prod", "uninstall", "x", "--kube-token", "s1", "--kube-token=s2")
    assert redact(argv) == [
        "--kube-context",
        "prod",
        "uninstall",
        "x",
        "--kube-token",
        "REDACTED",
        "--kube-token=REDACTED",
    ]


def test_plugin_arguments_after_dashdash_are_redacted_too() -> None:
    # helm hands --kube-token to a plugin even after "--", so it is a token there as well.
    assert "s3" not in redact(("myplugin", "--", "--kube-token", "s3"))
