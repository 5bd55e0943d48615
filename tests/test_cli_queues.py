"""`ziggy-desktop queues`: named queues from the command line."""

import json

from tests.test_cli import cli  # noqa: F401 - the fixture


def test_queues_set_list_pause_delete(cli):  # noqa: F811
    cli.ok("queues", "set", "hubspot", "--rate", "10")
    cli.ok("queues", "set", "hubspot", "--pause")
    listed = json.loads(cli.ok("queues", "list", "--json").stdout)
    assert listed == [{"name": "hubspot", "ratePerSecond": 10.0, "paused": True}]
    assert cli.ok("queues", "list").stdout.split() == ["hubspot", "10/s", "paused"]
    cli.ok("queues", "set", "hubspot", "--resume")
    assert json.loads(cli.ok("queues", "list", "--json").stdout)[0]["paused"] is False
    cli.ok("queues", "delete", "hubspot")
    assert json.loads(cli.ok("queues", "list", "--json").stdout) == []


def test_queue_mistakes_say_what_to_do(cli):  # noqa: F811
    missing = cli("queues", "delete", "nope")
    assert missing.returncode == 2 and "No queue is named 'nope'" in missing.stderr
    bad = cli("queues", "set", "q", "--rate", "-3")
    assert bad.returncode == 2 and "ratePerSecond must be a number from 0" in bad.stderr
