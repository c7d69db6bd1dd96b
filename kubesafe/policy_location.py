"""Where the policy file is when the usual place has none.

The usual place follows ``XDG_CONFIG_HOME`` and ``HOME``, which Makefiles and
scripts move to isolate other tools (helm reads ``XDG_CONFIG_HOME`` too): a
``XDG_CONFIG_HOME=$PWD/.config kubectl delete ...`` would find no policy and
silently lose every rule. So when the usual place holds no rules, kubesafe
looks where it knows a policy to be, in this order:

1. ``KUBESAFE_POLICY_PIN``: the policy path ``kubesafe init`` saw when the
   terminal started (inherited by everything started from that shell);
2. ``<state dir>/policy-location``: the last policy file loaded with rules
   (the state dir does not follow ``XDG_CONFIG_HOME``);
3. the default path under the home directory of the password database, which
   does not follow ``HOME`` (only without a pin: the pin is what the
   integration knew, this is a guess for processes started outside it).

An explicit ``KUBESAFE_CONFIG`` is authoritative: none of this applies.
"""

from __future__ import annotations

import os
import sys

from kubesafe import paths

TYPE_CHECKING = False  # typing costs an import on the hot path; mypy treats this as True
if TYPE_CHECKING:
    from collections.abc import Mapping

PIN_VARIABLE = "KUBESAFE_POLICY_PIN"
RECORD_NAME = "policy-location"


def configured_path(env: Mapping[str, str]) -> str:
    """``$KUBESAFE_CONFIG``, else ``<config dir>/config.yaml``: where the lookup starts."""
    explicit = env.get("KUBESAFE_CONFIG", "")
    return explicit if explicit else os.path.join(paths.config_dir(), "config.yaml")


def is_explicit(env: Mapping[str, str]) -> bool:
    return bool(env.get("KUBESAFE_CONFIG", ""))


def record_path() -> str:
    return os.path.join(paths.state_dir(), RECORD_NAME)


def remembered() -> str:
    """The policy path last loaded with rules ("" when none is recorded or it is untrusted)."""
    content = paths.read_private(record_path())
    if not content:
        return ""
    try:
        text = content.decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""
    return text if os.path.isabs(text) else ""


def remember(path: str) -> None:
    """Record ``path`` as the last policy with rules; failures only cost the fallback."""
    absolute = os.path.abspath(path)
    if remembered() != absolute:
        paths.write_private(record_path(), absolute.encode("utf-8") + b"\n")


def account_policy_path() -> str:
    """The default policy path under the password database's home directory ("" if none)."""
    home = paths.account_home()
    if not home:
        return ""
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", paths.APP, "config.yaml")
    return os.path.join(home, ".config", paths.APP, "config.yaml")


def fallbacks(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(path, why) to try, in order, when the configured path holds no rules."""
    if is_explicit(env):
        return []
    candidates: list[tuple[str, str]] = []
    pin = env.get(PIN_VARIABLE, "")
    if pin:
        candidates.append((pin, f"pinned by the shell integration ({PIN_VARIABLE})"))
    last = remembered()
    if last:
        candidates.append((last, f"the last policy with rules ({record_path()})"))
    if not pin:
        account = account_policy_path()
        if account:
            candidates.append((account, "the default under your home in the password database"))
    configured = os.path.abspath(configured_path(env))
    seen = {configured}
    unique: list[tuple[str, str]] = []
    for path, why in candidates:
        absolute = os.path.abspath(path)
        if absolute not in seen:
            seen.add(absolute)
            unique.append((absolute, why))
    return unique
