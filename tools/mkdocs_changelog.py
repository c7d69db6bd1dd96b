"""mkdocs hook: publish the repository's CHANGELOG.md as the site's ``changelog.md``.

CHANGELOG.md sits outside ``docs_dir``; copying it would let the two drift, and a
plugin would be one more dependency. The hook adds it as a generated page.
"""

from __future__ import annotations

import os

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "changelog.md"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    root = os.path.dirname(os.path.abspath(config.config_file_path))
    with open(os.path.join(root, "CHANGELOG.md"), encoding="utf-8") as handle:
        content = handle.read()
    files.append(File.generated(config, PAGE, content=content))
    return files
