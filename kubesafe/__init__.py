"""kubesafe: run kubectl against the cluster you meant, with the kubectl that matches it."""

__version__ = "0.1.0.dev0"
