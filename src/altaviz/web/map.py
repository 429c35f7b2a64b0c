"""The fleet map: the lower 48 states from the packaged U.S. Census outline (us-atlas's
``states-10m.json``, TopoJSON) drawn as SVG in an Albers equal-area projection, with the
stations placed by the same projection and each basin drawn as the hull of its stations.

Everything is computed on the server and once (the outline is cached): the page needs no map
library and no tile server, so it works on a site with no network.

>>> x, y = project(-96.0, 23.0)
>>> round(x, 6), round(y, 6)
(0.0, 0.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Albers equal-area conic for the contiguous United States (USGS): standard parallels 29.5°N
# and 45.5°N, origin 23°N 96°W.
_PHI1, _PHI2, _PHI0, _LAMBDA0 = (math.radians(a) for a in (29.5, 45.5, 23.0, -96.0))
_N = (math.sin(_PHI1) + math.sin(_PHI2)) / 2
_C = math.cos(_PHI1) ** 2 + 2 * _N * math.sin(_PHI1)
_RHO0 = math.sqrt(_C - 2 * _N * math.sin(_PHI0)) / _N
# States and territories off the lower 48 (FIPS codes): no station of a gas-basin fleet is
# there, and drawing them would shrink the map.
_OFF_MAP = {"02", "15", "60", "66", "69", "72", "78"}
WIDTH = 960.0


def project(longitude: float, latitude: float) -> tuple[float, float]:
    """Albers coordinates (unit sphere, y up) of a point."""
    rho = math.sqrt(_C - 2 * _N * math.sin(math.radians(latitude))) / _N
    theta = _N * (math.radians(longitude) - _LAMBDA0)
    return rho * math.sin(theta), _RHO0 - rho * math.cos(theta)


@dataclass(frozen=True)
class Outline:
    """The states as one SVG path, in a ``WIDTH`` x ``height`` box, and the box's frame."""

    path: str
    height: float
    x0: float
    y1: float
    scale: float

    def place(self, longitude: float, latitude: float) -> tuple[float, float]:
        """A point's position on the drawn map (SVG coordinates, y down)."""
        x, y = project(longitude, latitude)
        return round((x - self.x0) * self.scale, 1), round((self.y1 - y) * self.scale, 1)


@cache
def outline() -> Outline:
    """The lower 48 states, projected and fitted to the map's width (computed once)."""
    topo = json.loads(resources.files("altaviz.web").joinpath("geo/states-10m.json").read_text())
    arcs = _decode_arcs(topo)
    rings: list[list[tuple[float, float]]] = []
    for state in topo["objects"]["states"]["geometries"]:
        if state.get("id") in _OFF_MAP:
            continue
        polygons = state["arcs"] if state["type"] == "MultiPolygon" else [state["arcs"]]
        for polygon in polygons:
            rings += [_ring(ring, arcs) for ring in polygon]
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    scale = WIDTH / (x1 - x0)
    path = "".join(
        _svg_ring(((x - x0) * scale, (y1 - y) * scale) for x, y in ring) for ring in rings
    )
    return Outline(path, round((y1 - y0) * scale, 1), x0, y1, scale)


def hull(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull of ``points`` (Andrew's monotone chain), counter-clockwise.

    >>> hull([(0, 0), (2, 0), (1, 1), (2, 2), (0, 2)])
    [(0, 0), (2, 0), (2, 2), (0, 2)]
    """
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def svg_polygon(points: Iterable[tuple[float, float]]) -> str:
    """``points`` as the value of an SVG ``points`` attribute."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """TopoJSON's quantised, delta-encoded arcs as longitude/latitude points."""
    (kx, ky), (dx, dy) = topo["transform"]["scale"], topo["transform"]["translate"]
    decoded = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for qx, qy in arc:
            x, y = x + qx, y + qy
            points.append((x * kx + dx, y * ky + dy))
        decoded.append(points)
    return decoded


def _ring(indices: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """One closed ring, projected: its arcs joined (a negative index is arc ~i reversed)."""
    points: list[tuple[float, float]] = []
    for i in indices:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        points += arc[1:] if points else arc  # consecutive arcs share their joining point
    return [project(lon, lat) for lon, lat in points]


def _svg_ring(points: Iterable[tuple[float, float]]) -> str:
    drawn = [f"{x:.1f},{y:.1f}" for x, y in points]
    return "M" + "L".join(drawn) + "Z" if drawn else ""
