"""The read-only picture of a flow: blocks and edges on a QGraphicsScene, coloured by a run's block states."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker,
                           QPalette, QPen, QPolygonF, QResizeEvent, QWheelEvent)
from PySide6.QtWidgets import (QApplication, QGraphicsItem, QGraphicsPathItem, QGraphicsScene, QGraphicsView,
                               QLabel, QStyleOptionGraphicsItem, QWidget)

from ..engine import REGISTRY
from .style import status_color

BLOCK_WIDTH = 190.0
BLOCK_HEIGHT = 74.0
PORT_RADIUS = 4.5
LAYER_SPACING = 250.0  # used when the document's positions overlap (flows written by hand or by scripts)
ROW_SPACING = 110.0
MIN_ZOOM, MAX_ZOOM = 0.2, 3.0
FIT_MAX_ZOOM = 1.15  # a small flow is shown near natural size, not blown up to fill the view

# A thin accent strip per block kind helps tell receiver and terminator apart at a glance.
TYPE_ACCENTS = {
    "receiver": "#1f9d8b",
    "terminator": "#7a5cc7",
    "console": "#3b82c4",
    "delay": "#c08a1e",
    "fail": "#c2410c",
}
LIVE_STATES = ("QUEUED", "RUNNING")


def _palette(widget: QWidget | None) -> QPalette:
    return widget.palette() if widget is not None else QApplication.palette()


def _ports(block_type: str, direction: str) -> tuple[str, ...]:
    known = REGISTRY.get(block_type)
    if known is None:
        return ("in",) if direction == "inputs" else ("out",)
    return getattr(known, direction)


def layout_positions(document: dict[str, Any]) -> dict[str, QPointF]:
    """The document's positions, or a layered left-to-right layout when blocks would overlap."""
    blocks = document.get("blocks", [])
    positions = {}
    for block in blocks:
        x, y = (block.get("position") or [0, 0])[:2]
        positions[block["id"]] = QPointF(float(x), float(y))
    rects = [QRectF(p, QPointF(p.x() + BLOCK_WIDTH, p.y() + BLOCK_HEIGHT)) for p in positions.values()]
    overlapping = any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:])
    if not overlapping:
        return positions
    depth = {block["id"]: 0 for block in blocks}
    edges = [(e["from"], e["to"]) for e in document.get("edges", []) if e["from"] in depth and e["to"] in depth]
    for _ in range(len(blocks)):  # longest-path layering; flows are acyclic so this settles
        changed = False
        for src, dst in edges:
            if depth[dst] < depth[src] + 1:
                depth[dst] = depth[src] + 1
                changed = True
        if not changed:
            break
    rows: dict[int, int] = {}
    layered = {}
    for block in blocks:
        layer = depth[block["id"]]
        row = rows.get(layer, 0)
        rows[layer] = row + 1
        layered[block["id"]] = QPointF(80 + layer * LAYER_SPACING, 80 + row * ROW_SPACING)
    return layered


def _edge_key(edge: dict[str, Any]) -> tuple[str, str, str, str]:
    return edge["from"], edge.get("fromPort") or "out", edge["to"], edge.get("toPort") or "in"


class _HoverHighlight:
    """A selectable item that repaints as the pointer enters and leaves it (its paint() reads `_hover`)."""

    _hover = False

    def _make_clickable(self, z_value: float) -> None:
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setZValue(z_value)

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._hover = False
        self.update()
        super().hoverLeaveEvent(event)


class BlockItem(_HoverHighlight, QGraphicsItem):
    """One block: a rounded card with name, type, ports, and (during a run) a status badge."""

    def __init__(self, block: dict[str, Any]):
        super().__init__()
        self.block = block
        self.block_id: str = block["id"]
        self.inputs = _ports(block["type"], "inputs")
        self.outputs = _ports(block["type"], "outputs")
        self.status: str | None = None
        self.step: dict[str, Any] | None = None
        self.highlighted = False  # the block a FATAL run failed in
        self._make_clickable(z_value=1)  # blocks above edges
        self._update_tooltip()

    # -- geometry --------------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(-PORT_RADIUS - 2, -13, BLOCK_WIDTH + 2 * PORT_RADIUS + 4, BLOCK_HEIGHT + 16)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, BLOCK_WIDTH, BLOCK_HEIGHT), 10, 10)
        return path

    def _port_point(self, ports: tuple[str, ...], port: str, x: float) -> QPointF:
        index = ports.index(port) if port in ports else 0
        count = max(1, len(ports))
        return QPointF(x, BLOCK_HEIGHT * (index + 1) / (count + 1))

    def input_point(self, port: str) -> QPointF:
        return self.mapToScene(self._port_point(self.inputs, port, 0))

    def output_point(self, port: str) -> QPointF:
        return self.mapToScene(self._port_point(self.outputs, port, BLOCK_WIDTH))

    # -- state -----------------------------------------------------------------------------------

    def set_state(self, status: str | None, step: dict[str, Any] | None, highlighted: bool = False) -> None:
        self.status, self.step, self.highlighted = status, step, highlighted
        self._update_tooltip()
        self.update()

    def _update_tooltip(self) -> None:
        lines = [f"{self.block.get('name') or self.block_id}", f"type: {self.block['type']} · id: {self.block_id}"]
        if self.step:
            lines.append(f"{self.step.get('status')}: {self.step.get('ms', 0)} ms, "
                         f"{self.step.get('recordsIn', 0)} records in, {self.step.get('recordsOut', 0)} out")
            if self.step.get("error"):
                lines.append(f"error: {self.step['error']}")
        elif self.status:
            lines.append(f"run {self.status.lower()}")
        self.setToolTip("\n".join(lines))

    # -- painting --------------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        palette = _palette(widget)
        rect = QRectF(0, 0, BLOCK_WIDTH, BLOCK_HEIGHT)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = status_color(self.status, palette)
        live = self.status in LIVE_STATES

        card = QPainterPath()
        card.addRoundedRect(rect, 10, 10)
        painter.fillPath(card, palette.color(QPalette.ColorRole.Base))
        if self.highlighted and color is not None:
            tint = QColor(color)
            tint.setAlpha(38)
            painter.fillPath(card, tint)

        accent = QColor(TYPE_ACCENTS.get(self.block["type"], palette.color(QPalette.ColorRole.Highlight).name()))
        painter.save()
        painter.setClipPath(card)
        painter.fillRect(QRectF(0, 0, 5, BLOCK_HEIGHT), accent)
        painter.restore()

        if self.isSelected():
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 2.5)
        elif color is not None:
            pen = QPen(color, 3.5 if self.highlighted else 2)
            if live or self.status == "SKIPPED":
                pen.setStyle(Qt.PenStyle.DashLine)
        else:
            border = palette.color(QPalette.ColorRole.Mid) if not self._hover else palette.color(
                QPalette.ColorRole.Highlight)
            pen = QPen(border, 1.3)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 10, 10)

        text_color = palette.color(QPalette.ColorRole.Text)
        muted = QColor(text_color)
        muted.setAlpha(150)
        base_font = QFont(painter.font())
        title_font = QFont(base_font)
        title_font.setBold(True)
        title_font.setPointSizeF(max(8.0, base_font.pointSizeF() * 1.05))
        small_font = QFont(base_font)
        small_font.setPointSizeF(max(7.0, base_font.pointSizeF() * 0.85))
        text_left, text_width = 16.0, BLOCK_WIDTH - 28.0

        painter.setFont(title_font)
        painter.setPen(text_color)
        title = QFontMetricsF(title_font).elidedText(self.block.get("name") or self.block_id,
                                                      Qt.TextElideMode.ElideRight, text_width)
        painter.drawText(QRectF(text_left, 10, text_width, 22), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(small_font)
        painter.setPen(muted)
        subtitle = REGISTRY[self.block["type"]].title if self.block["type"] in REGISTRY else self.block["type"]
        painter.drawText(QRectF(text_left, 31, text_width, 18), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter, subtitle)
        footer = self._footer_text()
        if footer:
            painter.setPen(color if color is not None and self.status != "SKIPPED" else muted)
            footer = QFontMetricsF(small_font).elidedText(footer, Qt.TextElideMode.ElideRight, text_width)
            painter.drawText(QRectF(text_left, 50, text_width, 18), Qt.AlignmentFlag.AlignLeft
                             | Qt.AlignmentFlag.AlignVCenter, footer)

        self._paint_ports(painter, palette)
        if self.status and not live:
            self._paint_badge(painter, palette, small_font, color)

    def _footer_text(self) -> str:
        if self.step is None:
            return ""
        if self.step.get("status") == "SKIPPED":
            return "not run"
        return f"{self.step.get('ms', 0)} ms · {self.step.get('recordsIn', 0)} in → {self.step.get('recordsOut', 0)} out"

    def _paint_ports(self, painter: QPainter, palette: QPalette) -> None:
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1.2))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        for port in self.inputs:
            painter.drawEllipse(self._port_point(self.inputs, port, 0), PORT_RADIUS, PORT_RADIUS)
        painter.setBrush(palette.color(QPalette.ColorRole.Mid))
        for port in self.outputs:
            painter.drawEllipse(self._port_point(self.outputs, port, BLOCK_WIDTH), PORT_RADIUS, PORT_RADIUS)

    def _paint_badge(self, painter: QPainter, palette: QPalette, font: QFont, color: QColor | None) -> None:
        label = self.status or ""
        bold = QFont(font)
        bold.setBold(True)
        metrics = QFontMetricsF(bold)
        width = metrics.horizontalAdvance(label) + 14
        badge = QRectF(BLOCK_WIDTH - width - 10, -10, width, 19)
        painter.setPen(QPen(color or palette.color(QPalette.ColorRole.Mid), 1.2))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(badge, 9.5, 9.5)
        painter.setFont(bold)
        painter.setPen(color or palette.color(QPalette.ColorRole.Text))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)


class EdgeItem(_HoverHighlight, QGraphicsPathItem):
    """A curved connection from an output port to an input port; clicking it selects it."""

    def __init__(self, index: int, edge: dict[str, Any], source: BlockItem, target: BlockItem):
        super().__init__()
        self.index = index
        self.edge = edge
        self.source = source
        self.target = target
        self.label: str | None = None
        self.active = False  # data crossed it in the followed run
        self._make_clickable(z_value=0)
        self._base_tooltip = (f"{source.block.get('name') or source.block_id}.{edge.get('fromPort', 'out')} → "
                              f"{target.block.get('name') or target.block_id}.{edge.get('toPort', 'in')}\n"
                              f"Click to see the data that crossed this edge")
        self.setToolTip(self._base_tooltip)
        self._build_path()

    def _build_path(self) -> None:
        start = self.source.output_point(self.edge.get("fromPort", "out"))
        port = self.target.input_point(self.edge.get("toPort", "in"))
        end = QPointF(port.x() - PORT_RADIUS, port.y())  # the tip touches the port dot, not hidden under it
        end_line = QPointF(end.x() - 8, end.y())  # the arrowhead covers the last pixels
        bend = max(50.0, abs(end_line.x() - start.x()) / 2)
        path = QPainterPath(start)
        path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end_line.x() - bend, end_line.y()), end_line)
        self._end = end
        self.prepareGeometryChange()
        self.setPath(path)

    def set_run_state(self, records: int | None, active: bool) -> None:
        """Show how many records crossed (Ziggy's edge bubble); the word is dropped where blocks sit close."""
        self.prepareGeometryChange()
        self.active = active
        if records is None:
            self.label = None
        else:
            full = f"{records} record{'' if records == 1 else 's'}"
            room = self.path().pointAtPercent(1).x() - self.path().pointAtPercent(0).x()
            fits = QFontMetricsF(self._label_font()).horizontalAdvance(full) + 14 + 2 * PORT_RADIUS + 16 <= room
            self.label = full if fits else str(records)
        self.setToolTip(self._base_tooltip + (f"\n{records} record{'' if records == 1 else 's'} crossed in the "
                                              f"followed run" if records is not None else ""))
        self.update()

    def _label_rect(self) -> QRectF:
        if not self.label:
            return QRectF()
        metrics = QFontMetricsF(self._label_font())
        width = metrics.horizontalAdvance(self.label) + 14
        middle = self.path().pointAtPercent(0.5)
        return QRectF(middle.x() - width / 2, middle.y() - 10, width, 20)

    @staticmethod
    def _label_font() -> QFont:
        font = QFont(QApplication.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        return font

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(14)  # a generous hit area: thin curves are hard to click
        shape = stroker.createStroke(self.path())
        if self.label:
            shape.addRect(self._label_rect())
        return shape

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        rect = self.path().boundingRect().adjusted(-10, -10, 10, 10)
        rect = rect.united(QRectF(self._end.x() - 14, self._end.y() - 8, 16, 16))
        if self.label:
            rect = rect.united(self._label_rect().adjusted(-2, -2, 2, 2))
        return rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        palette = _palette(widget)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.isSelected() or self._hover:
            color = palette.color(QPalette.ColorRole.Highlight)
            width = 3.0 if self.isSelected() else 2.4
        else:
            color = QColor(palette.color(QPalette.ColorRole.Text))
            color.setAlpha(190 if self.active else 110)
            width = 2.0 if self.active else 1.6
        painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())

        tip = self._end
        angle = math.atan2(tip.y() - self.path().currentPosition().y(), tip.x() - self.path().currentPosition().x())
        size = 9.0
        left = QPointF(tip.x() - size * math.cos(angle - 0.45), tip.y() - size * math.sin(angle - 0.45))
        right = QPointF(tip.x() - size * math.cos(angle + 0.45), tip.y() - size * math.sin(angle + 0.45))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(QPolygonF([tip, left, right]))

        if self.label:
            rect = self._label_rect()
            painter.setPen(QPen(color, 1.2))
            painter.setBrush(palette.color(QPalette.ColorRole.Base))
            painter.drawRoundedRect(rect, 10, 10)
            painter.setFont(self._label_font())
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.label)


class FlowGraphView(QGraphicsView):
    """Shows one flow; the owner feeds it a run's steps. Read-only: nothing can be moved or edited."""

    edgeSelected = Signal(int)  # index into the document's edges
    blockSelected = Signal(str)  # block id
    selectionCleared = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setMinimumSize(240, 160)
        self.document: dict[str, Any] | None = None
        self.blocks: dict[str, BlockItem] = {}
        self.edges: list[EdgeItem] = []
        self.run_state: str | None = None
        self.live_steps = False  # a live run's block states are shown (it has reported progress)
        self._user_zoomed = False
        self.scene().selectionChanged.connect(self._on_selection_changed)

        self.banner = QLabel(self)  # a child of the view, not the scene: it stays put while panning
        self.banner.setObjectName("graphBanner")
        self.banner.hide()
        self.banner.move(12, 10)

    # -- content ---------------------------------------------------------------------------------

    def set_flow(self, document: dict[str, Any]) -> None:
        self.scene().blockSignals(True)
        self.scene().clear()
        self.scene().blockSignals(False)
        self.document = document
        self.blocks, self.edges = {}, []
        positions = layout_positions(document)
        for block in document.get("blocks", []):
            item = BlockItem(block)
            item.setPos(positions[block["id"]])
            self.scene().addItem(item)
            self.blocks[block["id"]] = item
        for index, edge in enumerate(document.get("edges", [])):
            source, target = self.blocks.get(edge["from"]), self.blocks.get(edge["to"])
            if source is None or target is None:
                continue
            item = EdgeItem(index, edge, source, target)
            self.scene().addItem(item)
            self.edges.append(item)
        # Room for the status badges above the top row and for the edge bubbles.
        self.scene().setSceneRect(self.scene().itemsBoundingRect().adjusted(-30, -30, 30, 30))
        self.set_run(None, [])
        self._user_zoomed = False
        self.fit_to_view()

    def set_run(self, state: str | None, steps: list[dict[str, Any]], failed_block: str | None = None,
                edges: list[dict[str, Any]] | None = None) -> None:
        """state: QUEUED/RUNNING (a live run), a termination status, or None (no run).

        A live run with steps (its progress reports) shows each block's state so far; before the first
        report the whole graph shows the run's state. `edges` are the run's per-edge counts, when kept.
        """
        self.run_state = state
        by_block = {step.get("blockId"): step for step in steps}
        live = state in LIVE_STATES
        self.live_steps = live and bool(steps)
        for block_id, item in self.blocks.items():
            step = by_block.get(block_id)
            if live and not steps:
                item.set_state(state, None)
            elif live:
                reached = step is not None and step.get("status") != "SKIPPED"
                item.set_state(step.get("status") if reached else None, step if reached else None)
            elif step is not None:
                item.set_state(step.get("status"), step, highlighted=block_id == failed_block)
            else:
                item.set_state(None, None)
        recorded = {_edge_key(edge): edge for edge in edges or []}
        outgoing: dict[str, int] = {}
        for edge in self.edges:
            outgoing[edge.source.block_id] = outgoing.get(edge.source.block_id, 0) + 1
        for edge in self.edges:
            counted = recorded.get(_edge_key(edge.edge))  # live runs report per-edge counts too
            step = by_block.get(edge.source.block_id)
            if counted is not None:
                edge.set_run_state(counted.get("records", 0), bool(counted.get("batches")))
            elif step is not None and not live and step.get("status") == "SUCCESS":
                edge.set_run_state(step.get("recordsOut", 0), True)
            elif step is not None and live and step.get("status") == "RUNNING" \
                    and outgoing[edge.source.block_id] == 1:
                # Live counts are per block: exact for an edge only when it is the block's one way out.
                records = step.get("recordsOut", 0)
                edge.set_run_state(records, records > 0)
            else:
                edge.set_run_state(None, False)
        self._update_banner()

    def _update_banner(self) -> None:
        state = self.run_state
        if state not in LIVE_STATES:
            self.banner.hide()
            return
        color = status_color(state, self.palette()).name()
        text = ("● RUNNING · block states update as it goes" if state == "RUNNING" and self.live_steps
                else "● RUNNING" if state == "RUNNING"
                else "● QUEUED · waiting for a free slot in the system queue")
        self.banner.setText(text)
        self.banner.setStyleSheet(f"QLabel#graphBanner {{ color: {color}; background: palette(base); "
                                  f"border: 1px solid {color}; border-radius: 11px; padding: 3px 12px; "
                                  f"font-weight: bold; }}")
        self.banner.adjustSize()
        self.banner.show()
        self.banner.raise_()

    # -- queries used by the page and the tests --------------------------------------------------

    def block_status(self, block_id: str) -> str | None:
        item = self.blocks.get(block_id)
        return None if item is None else item.status

    def highlighted_blocks(self) -> list[str]:
        return [block_id for block_id, item in self.blocks.items() if item.highlighted]

    def edge_index(self, from_block: str, to_block: str) -> int | None:
        for edge in self.edges:
            if edge.edge["from"] == from_block and edge.edge["to"] == to_block:
                return edge.index
        return None

    def select_edge(self, index: int) -> None:
        self.scene().clearSelection()
        for edge in self.edges:
            if edge.index == index:
                edge.setSelected(True)
                self.ensureVisible(edge, 40, 40)

    def select_block(self, block_id: str) -> None:
        self.scene().clearSelection()
        item = self.blocks.get(block_id)
        if item is not None:
            item.setSelected(True)
            self.ensureVisible(item, 40, 40)

    def _on_selection_changed(self) -> None:
        selected = self.scene().selectedItems()
        if not selected:
            self.selectionCleared.emit()
            return
        item = selected[0]
        if isinstance(item, EdgeItem):
            self.edgeSelected.emit(item.index)
        elif isinstance(item, BlockItem):
            self.blockSelected.emit(item.block_id)

    # -- zoom and painting -----------------------------------------------------------------------

    def fit_to_view(self) -> None:
        if not self.blocks:
            return
        rect = self.sceneRect()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > FIT_MAX_ZOOM:
            self.resetTransform()
            self.scale(FIT_MAX_ZOOM, FIT_MAX_ZOOM)
        self.centerOn(rect.center())
        self._user_zoomed = False

    def zoom_by(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_ZOOM / current, min(MAX_ZOOM / current, factor))
        self.scale(factor, factor)
        self._user_zoomed = True

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.zoom_by(1.15 ** steps)
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if not self._user_zoomed:
            self.fit_to_view()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt override
        palette = self.palette()
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
        if self.transform().m11() < 0.5:
            return  # a dot grid at low zoom is noise and costs thousands of points
        dot = QColor(palette.color(QPalette.ColorRole.Text))
        dot.setAlpha(40)
        painter.setPen(QPen(dot, 1.6))
        spacing = 24
        left = math.floor(rect.left() / spacing) * spacing
        top = math.floor(rect.top() / spacing) * spacing
        points = [QPointF(x, y) for x in range(int(left), int(rect.right()) + 1, spacing)
                  for y in range(int(top), int(rect.bottom()) + 1, spacing)]
        painter.drawPoints(QPolygonF(points))
