"""``kubesafe explain --preview``: the plan, plus what the write would touch, without asking."""

from __future__ import annotations

import json
import os

from kubesafe.commands.explain import plan_to_json, render_text
from kubesafe.kubectl.plan import Plan


def explain_preview(plan: Plan, as_json: bool) -> str:
    """The explain output with the preview the shim would show and the level it asks for."""
    from kubesafe.kubectl.shim import blast_preview

    shown = None
    if plan.classification.mutating and plan.resolve_error is None:
        shown = blast_preview(plan, dict(os.environ))
    if as_json:
        result = plan_to_json(plan)
        result["preview"] = shown.summary if shown is not None else None
        result["preview_text"] = shown.text if shown is not None else None
        result["level_after_preview"] = (shown.level if shown is not None else None) or plan.level
        result["escalation"] = list(shown.reasons) if shown is not None else []
        result["preview_objects"] = list(shown.objects) if shown is not None else []
        return json.dumps(result, indent=2, sort_keys=True)
    text = render_text(plan)
    if shown is None:
        return f"{text}\npreview: none (not a write, or the target is unknown)"
    extra = [shown.text.rstrip("\n")]
    if shown.level is not None and shown.level != plan.level:
        extra.append(f"level after preview: {shown.level}")
        extra += [f"  because it {why}" for why in shown.reasons]
    return "\n".join([text, *extra])
