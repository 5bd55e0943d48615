"""What the GUI is given by the composition root: the core services and the API's address."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..services import Services
from ..vault import Vault, key_file_path


@dataclass
class UiContext:
    services: Services
    api_url: str | None  # e.g. http://localhost:3000; None when the API could not start
    api_error: str | None  # why the API is not running (e.g. the port is in use)
    shutdown: Callable[[], None]  # stops the queue, the server and the database, in that order
    _vault: Vault | None = field(default=None, repr=False)

    @property
    def settings(self):
        return self.services.settings

    @property
    def vault(self) -> Vault:
        """The services' vault; one of our own over the same database and key file if they have none."""
        shared = getattr(self.services, "vault", None)
        if shared is not None:
            return shared
        if self._vault is None:
            self._vault = Vault(self.services.engine, key_file_path(self.settings.data_dir))
        return self._vault
