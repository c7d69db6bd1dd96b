"""``kubesafe demo``: a throw-away sandbox with a stand-in cluster, to try kubesafe safely."""
