"""Named queues: created over the API, they pace and pause the runs of the flows that select them."""

from __future__ import annotations

from typing import Any

from tests.helpers import ApiClient, assert_error, make_flow


def queued_flow(runtime, queue: str, *blocks: dict[str, Any]) -> str:
    document = make_flow(*blocks)
    document["blocks"][0]["config"]["queue"] = queue
    runtime.services.flows.save(document)
    return document["uuid"]


def launch(client: ApiClient, flow_uuid: str) -> str:
    response = client.launch(flow_uuid, {"n": 1})
    assert response.status == 202, response.body
    return response.json["executionId"]


def test_queue_crud_over_the_api(client):
    saved = client.request("PUT", "/api/ziggy/queues/hubspot", body={"ratePerSecond": 4})
    assert saved.status == 200 and saved.json == {"name": "hubspot", "ratePerSecond": 4.0, "paused": False}
    paused = client.request("PUT", "/api/ziggy/queues/hubspot", body={"paused": True})
    assert paused.json == {"name": "hubspot", "ratePerSecond": 4.0, "paused": True}  # the rate is kept
    listed = client.request("GET", "/api/ziggy/queues").json["queues"]
    assert listed == [{"name": "hubspot", "ratePerSecond": 4.0, "paused": True, "depth": 0, "running": 0}]
    assert client.request("DELETE", "/api/ziggy/queues/hubspot").status == 204
    assert_error(client.request("GET", "/api/ziggy/queues/hubspot"), 404, "QUEUE_NOT_FOUND")
    assert_error(client.request("DELETE", "/api/ziggy/queues/hubspot"), 404, "QUEUE_NOT_FOUND")


def test_bad_queue_settings_say_what_to_send(client):
    assert_error(client.request("PUT", "/api/ziggy/queues/q1", body={"ratePerSecond": -1}), 400)
    assert_error(client.request("PUT", "/api/ziggy/queues/q1", body={"paused": "yes"}), 400)
    assert_error(client.request("PUT", "/api/ziggy/queues/q1", body={"speed": 3}), 400)
    assert_error(client.request("PUT", "/api/ziggy/queues/q1", body=[1]), 400)
    assert_error(client.request("GET", "/api/ziggy/queues", key=None), 401)


def test_a_paused_queue_holds_its_runs_while_others_go_on(runtime, client):
    client.request("PUT", "/api/ziggy/queues/crm", body={"paused": True})
    held_flow = queued_flow(runtime, "crm")
    free_flow = queued_flow(runtime, "")
    held = [launch(client, held_flow) for _ in range(3)]
    free = launch(client, free_flow)  # launched after the held ones, but not on the paused queue
    assert client.wait_finished(free)["terminationStatus"] == "SUCCESS"
    listing = client.request("GET", "/api/ziggy/system-queue-list").json
    assert [item["executionId"] for item in listing["queued"]] == held
    assert listing["namedQueues"] == [{"name": "crm", "ratePerSecond": 0.0, "paused": True, "depth": 3,
                                       "running": 0}]
    assert client.status(held[0]).json["queuePosition"] == 1

    client.request("PUT", "/api/ziggy/queues/crm", body={"paused": False})
    for execution_id in held:
        assert client.wait_finished(execution_id)["terminationStatus"] == "SUCCESS"


def test_a_rate_limited_queue_paces_its_runs(runtime, client):
    client.request("PUT", "/api/ziggy/queues/slow", body={"ratePerSecond": 20})
    flow_uuid = queued_flow(runtime, "slow")
    ids = [launch(client, flow_uuid) for _ in range(6)]
    for execution_id in ids:
        client.wait_finished(execution_id)
    starts = sorted(runtime.services.executions.detail(i).view.started_at for i in ids)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
    # 20 a second: consecutive starts are at least 50 ms apart (a slow machine only widens the gaps).
    assert min(gaps) >= 0.045, gaps


def test_queue_settings_changed_by_another_process_are_picked_up(runtime, client):
    client.request("PUT", "/api/ziggy/queues/crm", body={"paused": True})
    flow_uuid = queued_flow(runtime, "crm")
    execution_id = launch(client, flow_uuid)
    # As the CLI would: straight into the database, not through this server.
    runtime.services.named_queues.save("crm", paused=False)
    assert client.wait_finished(execution_id, timeout=15)["terminationStatus"] == "SUCCESS"


def test_a_receiver_naming_a_missing_queue_runs_and_says_so_in_its_console(runtime, client):
    execution_id = launch(client, queued_flow(runtime, "no-such-queue"))
    assert client.wait_finished(execution_id)["terminationStatus"] == "SUCCESS"
    console = client.request("GET", f"/api/ziggy/executions/{execution_id}").json["console"]
    assert any("'no-such-queue', which does not exist" in line["message"] for line in console)
