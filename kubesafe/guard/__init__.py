"""The per-terminal API guard: every client's writes to protected contexts stop here.

Modules, one job each: ``http1`` (message heads and framing), ``access``
(what a request does), ``gate`` (the policy decision), ``lifts`` (open
lifts), ``status`` (Kubernetes Status answers), ``relay`` (streaming and
tunnels), ``upstream`` (kubectl proxy per context), ``tls`` and ``layout``
(the terminal's CA, certificate, token and files), ``server`` (the HTTPS
front), ``app`` (assembly), ``client_config`` (kubeconfig entries that point
at the guard), ``keeper`` (holds the port, restarts a guard that died). See
docs/guard.md.
"""
