"""What `serve` writes to its log while flows call other systems: never a key carried in a URL."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.test_cli import Cli, cli, start_serve  # noqa: F401 - fixtures

SECRET = "sk_live_do_not_log_me"


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def test_rest_calls_with_a_key_in_the_url_are_not_logged_at_info(cli: Cli, start_serve, tmp_path: Path):  # noqa: F811
    api = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        flow = {"ziggyFlow": 1, "uuid": "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "name": "Key in URL",
                "blocks": [{"id": "receiver", "type": "receiver", "config": {"testData": [{"id": 1}]}},
                           {"id": "call", "type": "rest", "config": {
                               "url": f"http://127.0.0.1:{api.server_port}/items/{{{{ id }}}}?api_key={SECRET}"}},
                           {"id": "end", "type": "terminator"}],
                "edges": [{"from": "receiver", "to": "call"}, {"from": "call", "to": "end"}]}
        path = tmp_path / "flow.json"
        path.write_text(json.dumps(flow), encoding="utf-8")
        server = start_serve(cli)
        flow_uuid = cli.import_flow(path)
        key = cli.ok("keys", "create", "--name", "logs").stdout.strip()
        client = server.client(key)
        launched = client.launch(flow_uuid, [{"id": 7}])
        assert client.wait_finished(launched.json["executionId"])["terminationStatus"] == "SUCCESS"
        server.stop()
        assert SECRET not in server.output()
        assert "/items/7" not in server.output()
    finally:
        api.shutdown()
