"""The block contract's code side: one Block instance per block per run, fed batch by batch."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .context import RunContext
from .registry import ConfigField

Emitted = Iterable[tuple[str, Any]]  # (output port, data) pairs, in order


class Block:
    """Base class of every block implementation.

    The engine makes one instance per run and pushes data through the graph depth first: each
    (port, data) that process() yields is delivered downstream before process() is resumed, so a
    source that yields batch after batch streams and never holds the whole data set.

    - process(port, data): called for each batch arriving on an input port (the receiver, with no
      inputs, is called once with port "" and None). Yield (output port, data) pairs.
    - finish(): called once every upstream block has finished; yield what was held back
      (a partial chunk, a collected list).
    - close(): always called at the end of the run, also after a failure or a kill.

    Raise BlockError for failures the user can fix (the message is shown); call ctx.check() between
    records or batches so a kill or the timeout stops the block promptly.
    """

    def __init__(self, ctx: RunContext, config: Mapping[str, Any], node: Any):
        self.ctx = ctx
        self.config = config
        self.node = node  # runner.CompiledBlock: id, name, block_type
        self.prepared = node.prepared  # what prepare() returned for this flow version

    @classmethod
    def prepare(cls, config: Mapping[str, Any], where: str) -> Any:
        """Check the config beyond its field schema and pre-compile it (expressions, schemas).

        Runs when a flow is validated and when it is compiled, once per flow version; raise
        ValidationError naming `where`. The result is `self.prepared` in every run.
        """
        return None

    def process(self, port: str, data: Any) -> Emitted:
        raise NotImplementedError

    def finish(self) -> Emitted:
        return ()

    def close(self) -> None:
        pass


class PassThrough(Block):
    """A block that transforms each batch into one output; subclasses implement transform()."""

    output_port = "out"

    def process(self, port: str, data: Any) -> Emitted:
        result = self.transform(data)
        if result is not None:
            yield self.output_port, result

    def transform(self, data: Any) -> Any:
        raise NotImplementedError


# Source blocks add these to their config: they decide how much is read per batch and how many
# batches a run reads at most (Ziggy's batchSize and maxIterations).
def source_fields(default_batch_size: int = 1000) -> tuple[ConfigField, ...]:
    return (
        ConfigField("batchSize", "integer", "Records per batch sent downstream (0: everything in one batch).",
                    default=default_batch_size, minimum=0, maximum=1_000_000),
        ConfigField("maxIterations", "integer", "Stop after this many batches (0: read everything).",
                    default=0, minimum=0),
    )
