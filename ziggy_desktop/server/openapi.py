"""The OpenAPI 3.1 description of every route, served at /api/ziggy/openapi.json."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_KEY_SECURITY = [{"executionKeyHeader": []}, {"executionKeyQuery": []}, {"bearer": []}]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _id_param(description: str) -> dict[str, Any]:
    return {"name": "executionId", "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200}}


_queue_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                "description": "The queue's name"}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_AUDIT_PARAMETERS = [
    _query("executionId", "Lines of one run", {"type": "string"}),
    _query("flowUuid", "Lines of one flow", {"type": "string"}),
    _query("topic", "Exact topic", {"type": "string"}),
    _query("identifier", "Exact identifier", {"type": "string"}),
    _query("primaryKey", "Exact primary key", {"type": "string"}),
    _query("isError", "Only error lines (true) or only the others (false)", {"type": "boolean"}),
    _query("since", "Written at or after (ISO-8601; UTC when no offset)", {"type": "string", "format": "date-time"}),
    _query("until", "Written before (ISO-8601; UTC when no offset)", {"type": "string", "format": "date-time"}),
    _query("limit", "Lines per page", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
    _query("cursor", "The nextCursor of the previous page (opaque)", {"type": "string"}),
]


def openapi_document(version: str, base_url: str) -> dict[str, Any]:
    launched = {"$ref": "#/components/schemas/Launched"}
    execution_ref = {"$ref": "#/components/schemas/ExecutionRef"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ziggy Desktop local API", "version": version,
                 "description": "Launch flows and follow their runs. Every error body is "
                                "{\"error\": {\"code\", \"message\"}}."},
        "servers": [{"url": base_url}],
        "components": {
            "securitySchemes": {
                "executionKeyHeader": {"type": "apiKey", "in": "header", "name": "execution-key"},
                "executionKeyQuery": {"type": "apiKey", "in": "query", "name": "execution-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "ExecutionRef": {"type": "object", "required": ["executionId", "flowUuid", "flowName",
                                                                "executionEnvironmentMode", "state"],
                                 "properties": {
                                     "executionId": {"type": "string"}, "flowUuid": {"type": "string"},
                                     "flowName": {"type": "string"},
                                     "executionEnvironmentMode": {"enum": ["DEV", "PROD"]},
                                     "state": {"enum": ["QUEUED", "RUNNING", "FINISHED"]},
                                     "terminationStatus": {"enum": ["SUCCESS", "FATAL", "TIMED OUT", "KILLED"]}}},
                "Launched": {"allOf": [{"$ref": "#/components/schemas/ExecutionRef"},
                                       {"type": "object", "required": ["statusUrl"],
                                        "properties": {"statusUrl": {"type": "string", "format": "uri"}}}]},
                "Status": {"type": "object", "additionalProperties": False,
                           "required": ["executionId", "terminationStatus", "ms", "executionEnvironmentMode",
                                        "createdAt", "flowUuid", "flowName"],
                           "properties": {
                               "executionId": {"type": "string"},
                               "terminationStatus": {"enum": ["SUCCESS", "FATAL", "TIMED OUT", "KILLED"]},
                               "ms": {"type": "integer"}, "executionEnvironmentMode": {"enum": ["DEV", "PROD"]},
                               "createdAt": {"type": "string", "format": "date-time"},
                               "flowUuid": {"type": "string"}, "flowName": {"type": "string"}}},
                "AuditLine": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "executionId": {"type": "string"}, "flowUuid": {"type": "string"},
                    "blockId": {"type": "string"}, "topic": {"type": "string"},
                    "identifier": {"type": ["string", "null"]}, "primaryKey": {"type": ["string", "null"]},
                    "secondaryKey": {"type": ["string", "null"]},
                    "data": {"description": "The record, when the block keeps data (null otherwise)"},
                    "isError": {"type": "boolean"}, "createdAt": {"type": "string", "format": "date-time"}}},
                "AuditPage": {"type": "object", "required": ["items", "nextCursor"], "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditLine"}},
                    "nextCursor": {"type": ["string", "null"],
                                   "description": "Pass as cursor for the next page; null on the last page"}}},
                "Pending": {"type": "object", "required": ["executionId", "state"], "properties": {
                    "executionId": {"type": "string"}, "state": {"enum": ["QUEUED", "RUNNING"]},
                    "queuePosition": {"type": ["integer", "null"]}}},
            },
        },
        "paths": {
            "/api": {"post": {
                "summary": "Launch a flow", "operationId": "launchFlow", "security": _KEY_SECURITY,
                "parameters": [
                    {"name": "flowUuid", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "executionEnvironmentMode", "in": "query",
                     "schema": {"enum": ["DEV", "PROD"], "default": "DEV"}},
                    {"name": "executionId", "in": "query", "description": "Your id for this run; a retry with "
                     "the same id, flow and body returns the existing run.",
                     "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                ],
                "requestBody": {"required": False, "description": "Any JSON value, passed to the Receiver.",
                                "content": {"application/json": {"schema": {}}}},
                "responses": {
                    "202": _ok("Accepted and durably queued", launched),
                    "200": _ok("A retry of an execution that already exists", launched),
                    "400": _error("Missing flowUuid, bad mode or executionId, or a body that is not JSON"),
                    "401": _error("Missing, unknown or revoked execution key"),
                    "404": _error("Unknown flow"),
                    "409": _error("executionId already used for another flow, mode or body"),
                    "413": _error("Body larger than ZIGGY_MAX_BODY_BYTES"),
                    "503": _error("System queue full (see Retry-After) or shutting down"),
                }}},
            "/api/ziggy/execution-status/{executionId}": {"get": {
                "summary": "Result of a finished run", "operationId": "executionStatus", "security": _KEY_SECURITY,
                "parameters": [_id_param("The executionId returned by POST /api")],
                "responses": {"200": _ok("Finished", {"$ref": "#/components/schemas/Status"}),
                              "409": _ok("Still queued or running", {"$ref": "#/components/schemas/Pending"}),
                              "401": _error("Missing, unknown or revoked key"), "404": _error("Unknown id")}}},
            "/api/ziggy/executions/{executionId}": {"get": {
                "summary": "Everything recorded about a run", "operationId": "executionDetail",
                "security": _KEY_SECURITY, "parameters": [_id_param("The run's executionId")],
                "responses": {"200": _ok("The run", {"type": "object"}), "401": _error("Bad key"),
                              "404": _error("Unknown id")}}},
            "/api/ziggy/health": {"get": {
                "summary": "Is the server up", "operationId": "health", "security": [],
                "responses": {"200": _ok("Up", {"type": "object"})}}},
            "/api/ziggy/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi", "security": [],
                "responses": {"200": _ok("OpenAPI 3.1", {"type": "object"})}}},
            "/api/ziggy/system-queue-size": {"get": {
                "summary": "How many runs wait and run", "operationId": "systemQueueSize", "security": _KEY_SECURITY,
                "responses": {"200": _ok("Sizes", {"type": "object"}), "401": _error("Bad key")}}},
            "/api/ziggy/system-queue-list": {"get": {
                "summary": "Running and queued runs in order", "operationId": "systemQueueList",
                "security": _KEY_SECURITY,
                "parameters": [{"name": "limit", "in": "query",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}],
                "responses": {"200": _ok("The queue", {"type": "object"}), "401": _error("Bad key")}}},
            "/api/ziggy/queues": {"get": {
                "summary": "Named queues with their rate, pause, waiting and running runs", "operationId": "listQueues",
                "security": _KEY_SECURITY,
                "responses": {"200": _ok("The named queues", {"type": "object"}), "401": _error("Bad key")}}},
            "/api/ziggy/queues/{name}": {
                "get": {"summary": "One named queue", "operationId": "getQueue", "security": _KEY_SECURITY,
                        "parameters": [_queue_param],
                        "responses": {"200": _ok("The queue", {"type": "object"}), "401": _error("Bad key"),
                                      "404": _error("Unknown queue")}},
                "put": {"summary": "Create a named queue or change its rate limit / pause it",
                        "operationId": "saveQueue", "security": _KEY_SECURITY, "parameters": [_queue_param],
                        "requestBody": {"content": {"application/json": {"schema": {
                            "type": "object", "additionalProperties": False,
                            "properties": {"ratePerSecond": {"type": "number", "minimum": 0},
                                           "paused": {"type": "boolean"}}}}}},
                        "responses": {"200": _ok("Saved", {"type": "object"}), "400": _error("Bad settings"),
                                      "401": _error("Bad key")}},
                "delete": {"summary": "Remove a named queue (its waiting runs go on unthrottled)",
                           "operationId": "deleteQueue", "security": _KEY_SECURITY, "parameters": [_queue_param],
                           "responses": {"204": {"description": "Removed"}, "401": _error("Bad key"),
                                         "404": _error("Unknown queue")}}},
            "/api/ziggy/kill-system-queue-item/{executionId}": {"delete": {
                "summary": "Drop a queued run (it ends KILLED)", "operationId": "killQueued",
                "security": _KEY_SECURITY, "parameters": [_id_param("A queued run")],
                "responses": {"200": _ok("Killed", execution_ref), "401": _error("Bad key"),
                              "404": _error("Unknown id"), "409": _error("Running or already finished")}}},
            "/api/ziggy/kill-flow/{executionId}": {"delete": {
                "summary": "Stop a running (or queued) run (it ends KILLED)", "operationId": "killFlow",
                "security": _KEY_SECURITY, "parameters": [_id_param("A running run")],
                "responses": {"200": _ok("Killed", execution_ref),
                              "202": _ok("Asked to stop; still finishing its step", execution_ref),
                              "401": _error("Bad key"), "404": _error("Unknown id"),
                              "409": _error("Already finished")}}},
            "/api/ziggy/audit": {"get": {
                "summary": "Audit lines written by audit blocks, newest first", "operationId": "auditLines",
                "security": _KEY_SECURITY, "parameters": _AUDIT_PARAMETERS,
                "responses": {"200": _ok("One page of lines", {"$ref": "#/components/schemas/AuditPage"}),
                              "400": _error("A bad filter, limit or cursor"), "401": _error("Bad key")}}},
        },
    }
