"""Open3D, imported without its Plotly/Dash web helpers until one of them is called.

`import open3d` imports `open3d.visualization.draw_plotly`, which imports Dash and Plotly at once: about
a third of Open3D's import time, spent by every synthetic camera, renderer and Open3D viewer for helpers
(`draw_plotly`, `draw_plotly_server`, `get_plotly_fig`) nothing here calls. `load()` imports Open3D with
that one module stood in for by a module whose functions import the real one on their first call (and
any other name asked of it imports the real one at once), so a caller of those helpers still gets them.
The figures: docs/design-notes.md, "open3d_import.py".
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from types import ModuleType

_NAME = "open3d.visualization.draw_plotly"
_DEFERRED = ("get_plotly_fig", "draw_plotly", "draw_plotly_server")     # what open3d.visualization imports from it
_lock = threading.Lock()


def _real() -> ModuleType:
    """The real `draw_plotly` module, imported now (once), in place of the stand-in."""
    with _lock:
        module = sys.modules.get(_NAME)
        if module is not None and not getattr(module, "_handpose_live_stand_in", False):
            return module
        import open3d.visualization as parent

        spec = importlib.machinery.PathFinder.find_spec(_NAME, parent.__path__)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot find {_NAME}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(_NAME, None)
            raise
        parent.draw_plotly = module       # type: ignore[attr-defined]
        return module


def _deferred(name: str):
    def call(*args, **kwargs):
        return getattr(_real(), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    return call


class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname != _NAME:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        module._handpose_live_stand_in = True
        for name in _DEFERRED:
            setattr(module, name, _deferred(name))
        module.__getattr__ = _other


def _other(name: str):
    """Any other name asked of the stand-in: the real module's, imported now (the import system's own
    questions, such as `__path__`, get no such answer: it is a plain module)."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_real(), name)


def load() -> ModuleType:
    """The `open3d` module (imported with the stand-in if it was not imported yet)."""
    if "open3d" in sys.modules:
        return sys.modules["open3d"]
    finder = _StandIn()
    sys.meta_path.insert(0, finder)
    try:
        import open3d
    finally:
        sys.meta_path.remove(finder)
    return open3d
