"""Flow documents: validation errors name the field or block; the store imports, replaces, exports."""

import copy
import json
from importlib.resources import files

import pytest

from ziggy_desktop.errors import NotFoundError, ValidationError
from ziggy_desktop.flows import validate_flow

from .helpers import make_flow


def sample() -> dict:
    return json.loads((files("ziggy_desktop.resources") / "flows" / "hello-world.json").read_text())


def test_sample_flow_is_valid_and_defaults_are_filled():
    flow = make_flow({"type": "console"})
    del flow["settings"]
    normalised = validate_flow(flow)
    assert normalised["settings"] == {"timeoutSeconds": 300, "historyLevel": "ERRORED_WITH_DATA",
                                             "retentionHours": 24}
    assert normalised["blocks"][1]["config"] == {"message": "", "includeData": False}
    assert validate_flow(sample())["name"] == "Hello world"


def _broken(change) -> dict:
    flow = copy.deepcopy(sample())
    change(flow)
    return flow


@pytest.mark.parametrize("change,expected", [
    (lambda f: f.update(ziggyFlow=2), "ziggyFlow"),
    (lambda f: f.update(uuid="nope"), "uuid"),
    (lambda f: f.update(name=""), "name"),
    (lambda f: f["blocks"][1].update(type="teleport"), "block 'console'"),
    (lambda f: f["blocks"][1].update(type="teleport"), "teleport"),
    (lambda f: f["blocks"][1]["config"].update(colour="red"), "colour"),
    (lambda f: f["blocks"][1]["config"].update(includeData="yes"), "config.includeData"),
    (lambda f: f["blocks"].append({"id": "r2", "type": "receiver"}), "exactly one receiver"),
    (lambda f: f["blocks"].pop(1), "edges[0]: there is no block with id 'console'"),
    (lambda f: f["blocks"].append(dict(f["blocks"][0])), "unique"),
    (lambda f: f["edges"].append({"from": "end", "to": "console"}), "has no output port"),
    (lambda f: f["edges"].append({"from": "console", "to": "ghost"}), "ghost"),
    (lambda f: f["settings"].update(timeoutSeconds=0), "settings.timeoutSeconds"),
    (lambda f: f["settings"].update(historyLevel="SOME"), "settings.historyLevel"),
])
def test_errors_name_what_is_wrong(change, expected):
    with pytest.raises(ValidationError) as caught:
        validate_flow(_broken(change))
    assert expected in caught.value.message


def test_delay_requires_ms_and_cycles_are_refused():
    with pytest.raises(ValidationError, match=r"block 'b0'.*config.ms is required"):
        validate_flow(make_flow({"type": "delay"}))
    flow = make_flow({"type": "console", "id": "a"}, {"type": "console", "id": "b"})
    flow["edges"].append({"from": "b", "to": "a"})
    with pytest.raises(ValidationError, match="cycle"):
        validate_flow(flow)


def test_invalid_json_text():
    with pytest.raises(ValidationError, match="not valid JSON"):
        validate_flow("{oops")


def test_store_round_trip_replace_and_delete(services):
    summary, created = services.flows.save(sample())
    assert created and summary.version == 1
    exported = json.loads(services.flows.export(summary.uuid))
    assert exported == validate_flow(sample())
    changed = sample()
    changed["name"] = "Hello again"
    summary2, created2 = services.flows.save(changed)
    assert not created2 and summary2.version == 2
    assert [f.name for f in services.flows.list()] == ["Hello again"]
    services.flows.delete(summary.uuid)
    assert services.flows.list() == []
    with pytest.raises(NotFoundError):
        services.flows.export(summary.uuid)
