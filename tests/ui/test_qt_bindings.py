"""Guards against Qt binding bugs the app cannot work around (a refcount error crashes the process)."""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(object)


def test_emitting_a_signal_does_not_leak_away_a_reference_to_true(qapp):
    emitter = _Emitter()
    received = []
    emitter.changed.connect(received.append)
    before = sys.getrefcount(True)
    for number in range(5000):
        emitter.changed.emit(number)
    # PySide6 6.12.0 returned True from emit() without a reference: after enough emits Python
    # aborts with "bool_dealloc: deallocating True or False".
    assert sys.getrefcount(True) >= before
    assert len(received) == 5000
