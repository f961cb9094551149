"""``python benchmarks/run.py [flags]``: the same as ``python -m benchmarks [flags]``, from any folder
(what ``autograd-gpu bench`` calls, and the runner for its subprocesses)."""
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this folder's modules belong to the package: off the path, and the package loaded from here
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if importlib.util.find_spec("autograd_gpu") is None:  # a checkout that was not pip-installed
    sys.path.append(str(HERE.parent))
_spec = importlib.util.spec_from_file_location("benchmarks", HERE / "__init__.py",
                                               submodule_search_locations=[str(HERE)])
sys.modules["benchmarks"] = _pkg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pkg)

from benchmarks.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
