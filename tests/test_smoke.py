"""A first end-to-end check: import the sample flow, launch it over HTTP, read its status."""

import json
from importlib.resources import files

from .helpers import ApiClient


def test_hello_world_over_http(runtime, client: ApiClient):
    document = json.loads((files("ziggy_desktop.resources") / "flows" / "hello-world.json").read_text())
    runtime.services.flows.save(document)
    response = client.launch(document["uuid"], {"name": "Ada"})
    assert response.status == 202, response.body
    status = client.wait_finished(response.json["executionId"])
    assert status["terminationStatus"] == "SUCCESS"
    assert set(status) == {"executionId", "terminationStatus", "ms", "executionEnvironmentMode", "createdAt",
                           "flowUuid", "flowName"}
