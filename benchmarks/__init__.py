"""kubesafe benchmarks: each module runs on its own, run_all.py runs them all in one table."""
