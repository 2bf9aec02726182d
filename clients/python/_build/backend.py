"""A PEP 517 build backend for miniforge, standard library only, so that
`pip install ./clients/python` works offline (pip's build isolation would
otherwise download setuptools). It builds a pure-Python wheel of the
package directory `miniforge/` and an sdist of this tree; the name and
version come from pyproject.toml's [project] table.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SDIST_FILES = ("pyproject.toml", "README.md")
_SDIST_DIRS = ("miniforge", "_build")


def _project():
    """name, version, description of [project] (Python < 3.11 has no
    tomllib: then the three plain `key = "value"` lines are read)."""
    with open(os.path.join(_ROOT, "pyproject.toml"), "rb") as f:
        text = f.read()
    try:
        import tomllib
    except ImportError:
        table = text.decode().split("[project]", 1)[1]
        fields = dict(re.findall(r'^(\w+) = "([^"]*)"$', table, re.M))
    else:
        fields = tomllib.loads(text.decode())["project"]
    return fields["name"], fields["version"], fields.get("description", "")


def _sources(directory):
    """Relative paths of the .py files under directory, sorted."""
    found = []
    for root, dirs, files in os.walk(os.path.join(_ROOT, directory)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                found.append(os.path.relpath(os.path.join(root, name), _ROOT))
    return found


def _metadata():
    name, version, summary = _project()
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: {summary}\nRequires-Python: >=3.9\n").encode()


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"{path},sha256={digest.decode()},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, _ = _project()
    dist_info = f"{name}-{version}.dist-info"
    files = [(p, open(os.path.join(_ROOT, p), "rb").read())
             for p in _sources("miniforge")]
    files.append((f"{dist_info}/METADATA", _metadata()))
    files.append((f"{dist_info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: miniforge-backend\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n").encode()))
    record = [_record_line(p, d) for p, d in files]
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            z.writestr(path, data)
    return wheel


def build_sdist(sdist_directory, config_settings=None):
    name, version, _ = _project()
    base = f"{name}-{version}"
    paths = [p for p in _SDIST_FILES if os.path.exists(os.path.join(_ROOT, p))]
    for d in _SDIST_DIRS:
        paths += _sources(d)
    sdist = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, sdist), "w:gz",
                      format=tarfile.PAX_FORMAT) as tar:
        for p in paths:
            tar.add(os.path.join(_ROOT, p), arcname=f"{base}/{p}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return sdist
