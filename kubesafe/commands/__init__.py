"""One module per kubesafe command; ``kubesafe.cli`` only parses and dispatches."""
