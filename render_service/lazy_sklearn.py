"""Import build123d without loading scikit-learn until a program needs it.

build123d imports scikit-learn at start-up for one class, ``DBSCAN``, which only
``detect_primitives`` (rebuilding faces from an STL mesh) calls. That import adds ~40 MB of
memory and ~650 modules to the zygote, and every worker's fork and exit walk the zygote's memory:
~3 ms more per job, for a function model programs rarely use. While build123d loads, a stand-in
``sklearn.cluster`` gives it a ``DBSCAN`` that imports the real class on first call; afterwards the
stand-ins leave ``sys.modules``, so any later ``import sklearn`` finds the real package.
"""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager

_NAMES = ("sklearn", "sklearn.cluster")


def DBSCAN(*args, **kwargs):  # noqa: N802 - stands in for sklearn.cluster.DBSCAN
    """Build a real ``sklearn.cluster.DBSCAN`` (importing scikit-learn the first time)."""
    from sklearn.cluster import DBSCAN as real

    return real(*args, **kwargs)


@contextmanager
def deferred_sklearn():
    """Within this block ``from sklearn.cluster import DBSCAN`` gets the lazy stand-in above."""
    if any(name in sys.modules for name in _NAMES):
        yield  # already loaded (or stubbed): nothing to save
        return
    package, cluster = types.ModuleType("sklearn"), types.ModuleType("sklearn.cluster")
    cluster.DBSCAN = DBSCAN
    package.cluster = cluster
    sys.modules.update({"sklearn": package, "sklearn.cluster": cluster})
    try:
        yield
    finally:
        for name in _NAMES:
            if sys.modules.get(name) in (package, cluster):
                del sys.modules[name]
