"""``kubesafe doctor``: checks of the whole setup, each with the exact fix."""
