"""The flow the benchmarks run: receiver -> terminator, the smallest real run."""

from __future__ import annotations

from typing import Any


def receiver_terminator(flow_uuid: str) -> dict[str, Any]:
    return {"ziggyFlow": 1, "uuid": flow_uuid, "name": "Bench receiver->terminator", "tags": ["bench"],
            "settings": {"timeoutSeconds": 60},
            "blocks": [{"id": "receiver", "type": "receiver", "config": {"testData": None}},
                       {"id": "end", "type": "terminator"}],
            "edges": [{"from": "receiver", "to": "end"}]}
