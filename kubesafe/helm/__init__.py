"""kubesafe for helm: the same protection for ``helm`` as for ``kubectl``."""
