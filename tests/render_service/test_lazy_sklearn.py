"""scikit-learn stays out of the zygote (render_service.lazy_sklearn) and still works when called."""

from __future__ import annotations

import subprocess
import sys

from render_helpers import CORPUS, REPO, answer

CUBE = (CORPUS / "parts" / "01_cube.py").read_text(encoding="utf-8")

# Run as the job itself (pre-check off): build123d's DBSCAN, called as detect_primitives calls it.
CLUSTER_IN_A_JOB = CUBE + """
import sys
print("loaded before:", "sklearn" in sys.modules)
import build123d.brep_from_stl as stl
labels = stl.DBSCAN(eps=0.5, min_samples=2).fit([[0, 0], [0, 0.1], [5, 5], [5, 5.1]]).labels_
print("clusters:", sorted(set(int(x) for x in labels)))
"""


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_importing_the_runner_loads_build123d_but_not_sklearn():
    out = run_python(
        "import sys\nfrom render_service import runner\n"
        "print('build123d' in sys.modules, any(m.split('.')[0] == 'sklearn' for m in sys.modules))"
    )
    assert out.split() == ["True", "False"]


def test_build123d_dbscan_is_the_real_one_on_first_call_and_sklearn_imports_normally_after():
    out = run_python(
        "import sys\nfrom render_service import runner\nimport build123d.brep_from_stl as stl\n"
        "d = stl.DBSCAN(eps=0.5, min_samples=2)\n"
        "print(type(d).__module__, d.fit([[0, 0], [0, 0.1], [5, 5], [5, 5.1]]).labels_.tolist())\n"
        "import sklearn.svm\nprint(sklearn.__file__ is not None, sklearn.svm.SVC.__name__)"
    )
    first, second = out.splitlines()
    assert first == "sklearn.cluster._dbscan [0, 0, 1, 1]"
    assert second == "True SVC"


def test_a_job_gets_scikit_learn_on_demand_inside_the_sandbox(service_nocheck):
    with service_nocheck.client() as c:
        r = c.post("/render", json={"code": CLUSTER_IN_A_JOB, "formats": ["stl"]})
    assert r.status_code == 200, r.text
    log = answer(r)["log"]
    assert "loaded before: False" in log  # the worker inherited a zygote without it
    assert "clusters: [0, 1]" in log
