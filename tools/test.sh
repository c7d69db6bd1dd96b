#!/usr/bin/env bash
# The test suite from a fresh checkout, by itself: the README's test command, and what .ci/run
# runs. Installs the Debian packages the tests drive when they are missing (apt-get, with sudo
# when not root), creates .venv, installs kubesafe with its test extras and runs pytest.
#
#   tools/test.sh [PYTEST ARGS...]     e.g. tools/test.sh -x tests/test_policy.py
#   tools/test.sh --packages-only      install the Debian packages, nothing else
set -euo pipefail
cd "${0%/*}/.."

# package:probe pairs; a probe is a command on PATH, an absolute path, or "py:MODULE" for a
# module of Debian's own python3 (the README's "Try it" test runs on it).
REQUIRED=(
  zsh:zsh fish:fish tmux:tmux fzf:fzf kubectx:kubectx strace:strace bats:bats
  bash-completion:/usr/share/bash-completion/bash_completion
  chromium:chromium
  python3-venv:py:ensurepip python3-pip:py:pip
)

missing=()
for pair in "${REQUIRED[@]}"; do
  package=${pair%%:*} probe=${pair#*:}
  case $probe in
    py:*) [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import ${probe#py:}" 2>/dev/null \
            || missing+=("$package") ;;
    /*) [[ -e $probe ]] || missing+=("$package") ;;
    *) command -v "$probe" >/dev/null || missing+=("$package") ;;
  esac
done

if ((${#missing[@]})); then
  if ((EUID == 0)); then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "tools/test.sh: the tests need these Debian packages: ${missing[*]}." >&2
    echo "Not root and no sudo: install them as root (apt-get install ${missing[*]}), then rerun." >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "tools/test.sh: the tests need ${missing[*]} (Debian package names); no apt-get here." >&2
    echo "Install them with this system's package manager, then rerun." >&2
    exit 1
  fi
  echo "== installing Debian packages: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

if [[ ${1:-} == --packages-only ]]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
exec .venv/bin/python -m pytest "$@"
