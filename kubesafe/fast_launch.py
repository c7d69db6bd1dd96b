"""The links directory's ``kubectl`` and ``helm``: a Python started without the site scan.

A normal interpreter start imports ``site``, which reads every ``.pth`` file of
site-packages (and a virtualenv's configuration) before the first line of kubesafe
runs: about 4 ms here on each kubectl call and TAB. The shim's hot path needs only
the standard library and kubesafe itself, so ``kubesafe init`` writes a tiny script
that runs this interpreter with ``-S`` and puts only kubesafe's own directory on
``sys.path`` (:func:`launcher_script`). The first import that nothing then finds (YAML
on a cold cache, httpx for a download, click) turns site-packages on, exactly as a
normal start would have set them up, and is retried (:class:`SiteOnDemand`).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType


class SiteOnDemand:
    """The last finder on ``sys.meta_path``: the first import it sees runs ``site.main()``."""

    @classmethod
    def find_spec(
        cls,
        name: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if cls in sys.meta_path:
            sys.meta_path.remove(cls)
        import site

        site.main()  # the virtualenv, site-packages and their .pth files, as at a normal start
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(name, path, target)


def launch() -> int:
    """What the fast launcher runs: kubesafe's entry point, site-packages on demand."""
    if "site" not in sys.modules:
        sys.meta_path.append(SiteOnDemand)
    from kubesafe.entry import main

    return main()


def package_root() -> str:
    """The directory that holds the ``kubesafe`` package (a checkout or site-packages)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def launcher_script(interpreter: str, root: str) -> str:
    """The fast launcher's text; locate.py knows it as kubesafe by ``kubesafe.fast_launch``."""
    return (
        f"#!{interpreter} -S\n"
        "# kubesafe's fast launcher, written by `kubesafe init`: no site-packages scan at start\n"
        "# (kubesafe/fast_launch.py); the entry point is kubesafe.entry, as in pip's script.\n"
        "import sys\n"
        f"sys.path.insert(0, {root!r})\n"
        "from kubesafe.fast_launch import launch\n"
        "sys.exit(launch())\n"
    )


def usable(interpreter: str, root: str) -> bool:
    """A shebang line takes no spaces or newlines, and the package must be where we say."""
    plain = all(not c.isspace() for c in interpreter) and len(interpreter) < 120
    return (
        os.name != "nt"
        and plain
        and os.path.isabs(interpreter)
        and os.access(interpreter, os.X_OK)
        and os.path.isfile(os.path.join(root, "kubesafe", "entry.py"))
    )
