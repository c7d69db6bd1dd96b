"""Build the wheel and sdist, install each into an empty environment, and smoke-test it.

Usage: python tools/package_smoke.py [--keep DIR]

1. ``python -m build`` (in a throw-away virtual environment) makes ``dist/*.whl`` and
   ``dist/*.tar.gz``;
2. the wheel is installed with pip into a new virtual environment, the sdist with pipx
   (``PIPX_HOME``/``PIPX_BIN_DIR`` inside the temporary directory);
3. each installed ``kubesafe`` runs ``--version``, ``explain`` and ``demo --script``,
   with ``HOME`` and the XDG directories pointing into the temporary directory and
   no kubeconfig, so nothing of the user's is read.

Exit status 0 when every step passed. CI runs this after the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}")
    return done.stdout


def venv(path: Path) -> Path:
    run([sys.executable, "-m", "venv", str(path)])
    python = path / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    return python


def smoke(kubesafe: Path, home: Path) -> None:
    from kubesafe import __version__

    env = {
        "PATH": f"{kubesafe.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "LANG": "C.UTF-8",
    }
    version = run([str(kubesafe), "--version"], env)
    if __version__ not in version:
        raise SystemExit(f"--version printed {version!r}, expected {__version__}")
    explained = run([str(kubesafe), "explain", "--", "delete", "pod", "web-0"], env)
    if "destructive" not in explained:
        raise SystemExit(f"explain did not classify the delete:\n{explained}")
    tour = run([str(kubesafe), "demo", "--script"], env)
    if "prod" not in tour:
        raise SystemExit(f"demo --script did not tour prod:\n{tour}")
    print(f"ok: {kubesafe}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build into DIR and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubesafe-package-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        dist = work / "dist"
        shutil.rmtree(dist, ignore_errors=True)
        builder = venv(work / "build-env")
        run([str(builder), "-m", "pip", "install", "-q", "build", "pipx"])
        run([str(builder), "-m", "build", "--outdir", str(dist), str(ROOT)])
        wheels = sorted(dist.glob("*.whl"))
        sdists = sorted(dist.glob("*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            raise SystemExit(f"expected one wheel and one sdist, got {wheels + sdists}")

        installed = venv(work / "pip-env")
        run([str(installed), "-m", "pip", "install", "-q", str(wheels[0])])
        smoke(installed.parent / "kubesafe", work / "home-pip")

        pipx_env = {
            **os.environ,
            "PIPX_HOME": str(work / "pipx"),
            "PIPX_BIN_DIR": str(work / "pipx-bin"),
            "PIPX_MAN_DIR": str(work / "pipx-man"),
        }
        run([str(builder), "-m", "pipx", "install", str(sdists[0])], pipx_env)
        smoke(work / "pipx-bin" / "kubesafe", work / "home-pipx")
    print("package smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
