"""What the GUI is given by the composition root: the core services and the API's address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..services import Services


@dataclass
class UiContext:
    services: Services
    api_url: str | None  # e.g. http://localhost:3000; None when the API could not start
    api_error: str | None  # why the API is not running (e.g. the port is in use)
    shutdown: Callable[[], None]  # stops the queue, the server and the database, in that order

    @property
    def settings(self):
        return self.services.settings
