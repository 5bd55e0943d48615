"""Named queues (Ziggy's Queues): per-second rate limits and pauses shared by every run on a queue."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from .db import write_transaction
from .errors import NotFoundError, ValidationError
from .models import NamedQueue

_queues = NamedQueue.__table__
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")
MAX_RATE = 10_000.0


@dataclass(frozen=True)
class QueueSettings:
    name: str
    rate_per_second: float  # 0: no limit
    paused: bool

    def to_json(self) -> dict:
        return {"name": self.name, "ratePerSecond": self.rate_per_second, "paused": self.paused}


def check_queue_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name.strip()):
        raise ValidationError("A queue name is 1-100 letters, digits, spaces, '.', '-' or '_', starting with a "
                              "letter or digit.")
    return name.strip()


class NamedQueueStore:
    """The queues as stored; the system queue applies them (see SystemQueue.apply_named_queues)."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def list(self) -> list[QueueSettings]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(_queues.c.name, _queues.c.rate_per_second, _queues.c.paused)
                                .order_by(_queues.c.name)).all()
        return [QueueSettings(r.name, float(r.rate_per_second), bool(r.paused)) for r in rows]

    def get(self, name: str) -> QueueSettings:
        for queue in self.list():
            if queue.name == name:
                return queue
        raise NotFoundError(f"No queue is named {name!r}; create it on the Queues page or with "
                            f"'ziggy-desktop queues set {name} --rate N'.", code="QUEUE_NOT_FOUND")

    def save(self, name: str, rate_per_second: float | None = None, paused: bool | None = None) -> QueueSettings:
        """Create the queue or change the given settings of an existing one."""
        name = check_queue_name(name)
        if rate_per_second is not None:
            if isinstance(rate_per_second, bool) or not isinstance(rate_per_second, (int, float)) \
                    or not 0 <= rate_per_second <= MAX_RATE:
                raise ValidationError(f"ratePerSecond must be a number from 0 (no limit) to {MAX_RATE:g}")
        with write_transaction(self._engine) as conn:
            row = conn.execute(select(_queues.c.rate_per_second, _queues.c.paused)
                               .where(_queues.c.name == name)).first()
            rate = float(rate_per_second if rate_per_second is not None else (row.rate_per_second if row else 0))
            is_paused = bool(paused if paused is not None else (row.paused if row else False))
            if row is None:
                conn.execute(_queues.insert().values(name=name, rate_per_second=rate, paused=is_paused,
                                                     created_at=time.time()))
            else:
                conn.execute(_queues.update().where(_queues.c.name == name)
                             .values(rate_per_second=rate, paused=is_paused))
        return QueueSettings(name, rate, is_paused)

    def delete(self, name: str) -> None:
        with write_transaction(self._engine) as conn:
            if not conn.execute(delete(_queues).where(_queues.c.name == name)).rowcount:
                raise NotFoundError(f"No queue is named {name!r}.", code="QUEUE_NOT_FOUND")


class Gate:
    """Paces the starts of one named queue: at most `rate` a second, none while paused."""

    __slots__ = ("settings", "next_start")

    def __init__(self, settings: QueueSettings):
        self.settings = settings
        self.next_start = 0.0

    def wait_seconds(self, now: float) -> float | None:
        """0 when a run may start now, else how long until one may (None: paused)."""
        if self.settings.paused:
            return None
        return max(0.0, self.next_start - now)

    def take(self, now: float) -> None:
        rate = self.settings.rate_per_second
        if rate > 0:
            self.next_start = max(now, self.next_start) + 1.0 / rate
