"""`pip install ./clients/python` works offline: in a fresh venv, with
pip's default build isolation and no index, the in-tree backend builds the
wheel; the installed package then serves keys from the real stack.

The venv sees Debian's pip through --system-site-packages (ensurepip would
cost seconds of CPU and prove nothing more); any download would go to a
dead proxy and fail."""

import os
import subprocess

from conftest import TOKEN

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, **kw):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_pip_install_offline_into_a_venv_and_use_it(stack, tmp_path):
    venv = tmp_path / "venv"
    run(["/usr/bin/python3", "-m", "venv", "--without-pip",
         "--system-site-packages", str(venv)])
    python = str(venv / "bin" / "python")
    # Nothing may be written into the source tree, nor fetched.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    run([python, "-m", "pip", "install", "--no-index", "--no-cache-dir", PACKAGE],
        env=env, cwd=str(tmp_path))
    out = run([python, "-c",
               "import sys, miniforge; print(miniforge.__file__); "
               "c = miniforge.HttpClient(sys.argv[1], token=sys.argv[2]); "
               "print(c.get_key(timeout=10)); c.close()", stack.url, TOKEN],
              env=env, cwd=str(tmp_path))
    where, key = out.split()
    assert where.startswith(str(venv)), "imported from the venv, not the tree"
    assert len(key) == 7
