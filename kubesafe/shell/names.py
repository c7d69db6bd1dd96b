"""Names shared by the shell integration, kept import-free for the prompt's hot path."""

SESSION_VARIABLE = "KUBESAFE_SESSION"
SHELL_KUBECONFIG_VARIABLE = "KUBESAFE_SHELL_KUBECONFIG"
SHELL_VARIABLE = "KUBESAFE_SHELL"
KUBECONFIG_NAME = "kubeconfig"
# current-context of a terminal where `ctx -u` unset it: a name no context has, so
# kubectl refuses to run ("context was not found") instead of falling through to
# the global current context of the files behind this one.
NO_CONTEXT = "kubesafe-no-context"
