"""JSON renderer: the document itself, stable and sorted."""

from __future__ import annotations

import json

from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo, Plan
from hoodsync.planner import make_plan
from hoodsync.render import json as json_render


def test_json_is_the_document_sorted_and_indented() -> None:
    d = Definition(Kind.PUSH_TASK, "t", {"name": "T", "ttl": 60}, Location("t.yaml"))
    doc = make_plan([d], {}, account=AccountInfo("a", "u")).to_dict()
    out = json_render.render(doc)
    assert out.endswith("}\n")
    assert json.loads(out) == doc
    assert out == json.dumps(json.loads(out), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert out.splitlines()[1] == '  "account": {'
    assert Plan.from_dict(json.loads(out)).to_dict() == doc
