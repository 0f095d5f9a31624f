"""Virtualenvs that match the runtimes AWS runs this project's code in (dev and test tool; never shipped).

    python -m devtools.runtime_venvs build NAME [NAME ...]     (make runtimes)
    python -m devtools.runtime_venvs path NAME                 prints the venv's python

Each runtime is one requirements file, ``runtimes/<name>/requirements.txt``, whose header names the Python it
needs (``# python: 3.11``) and, optionally, a second file of packages installed with ``--no-deps``
(``runtimes/<name>/no-deps.txt``) and a post-install hook (``runtimes/<name>/post_install.py``, run with the
venv's Python and the venv's path as its argument). A venv lives in ``.venvs/<name>`` and is rebuilt only when
one of those files or the interpreter changes (a stamp holds their hash), so a CI run builds each once.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = ROOT / "runtimes"
VENVS = ROOT / ".venvs"
STAMP = ".runtime-stamp"
PIP = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input")
PIP_VERSION = "pip==26.3"


class RuntimeVenvError(RuntimeError):
    """A runtime venv could not be built; the message says what to install or change."""


@dataclass(frozen=True)
class Runtime:
    name: str
    python: str                      # "3.11"
    requirements: Path
    no_deps: Path | None
    post_install: Path | None

    @property
    def venv(self) -> Path:
        return VENVS / self.name

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python_exe(self) -> Path:
        return self.bin / "python"

    def fingerprint(self, interpreter: str) -> str:
        h = hashlib.sha256(interpreter.encode())
        for path in (self.requirements, self.no_deps, self.post_install, *self.included()):
            if path is not None:
                h.update(path.name.encode() + b"\0" + path.read_bytes())
        return h.hexdigest()

    def included(self) -> list[Path]:
        """Files the requirements name with ``-r`` / ``-c`` (relative to it, as pip reads them): part of the stamp."""
        lines = (ln.split() for ln in self.requirements.read_text().splitlines())
        return [(self.requirements.parent / p[1]).resolve() for p in lines if len(p) == 2 and p[0] in ("-r", "-c")]


def runtime(name: str) -> Runtime:
    folder = RUNTIMES / name
    requirements = folder / "requirements.txt"
    if not requirements.is_file():
        known = sorted(p.name for p in RUNTIMES.iterdir() if (p / "requirements.txt").is_file())
        raise RuntimeVenvError(f"no runtime '{name}' (no {requirements.relative_to(ROOT)}); known: {known}")
    python = None
    for line in requirements.read_text().splitlines():
        if line.startswith("# python:"):
            python = line.split(":", 1)[1].strip()
            break
    if not python:
        raise RuntimeVenvError(f"{requirements.relative_to(ROOT)} must name its Python in a '# python: 3.X' line")
    no_deps = folder / "no-deps.txt"
    hook = folder / "post_install.py"
    return Runtime(name, python, requirements, no_deps if no_deps.is_file() else None,
                   hook if hook.is_file() else None)


def find_python(version: str) -> str:
    """A working interpreter of ``version`` (e.g. "3.11"): PATH, pyenv, or the usual places."""
    want = tuple(int(p) for p in version.split("."))
    probe = f"import sys; assert sys.version_info[:2] == {want!r}; print(sys.executable)"
    candidates = [f"python{version}"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted((str(p) for p in pyenv_root.glob(f"versions/{version}*/bin/python{version}")), reverse=True)
    candidates += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    for candidate in candidates:
        exe = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if not exe:
            continue
        done = subprocess.run([exe, "-c", probe], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.strip()
    raise RuntimeVenvError(
        f"Python {version} is needed for this runtime and none was found: install it "
        f"(`pyenv install {version}`, or your distribution's python{version} and python{version}-venv) "
        f"or put python{version} on PATH")


def build(name: str, *, force: bool = False) -> Runtime:
    """Create or reuse ``.venvs/<name>``; returns the runtime (its ``python_exe`` is ready to run)."""
    rt = runtime(name)
    interpreter = find_python(rt.python)
    fingerprint = rt.fingerprint(interpreter)
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f".{name}.lock", "w") as lock:      # two test sessions never build the same venv at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(rt, interpreter, fingerprint, force)


def _build_locked(rt: Runtime, interpreter: str, fingerprint: str, force: bool) -> Runtime:
    stamp = rt.venv / STAMP
    if not force and stamp.is_file() and stamp.read_text() == fingerprint and rt.python_exe.is_file():
        return rt
    if rt.venv.exists():
        shutil.rmtree(rt.venv)
    print(f"building {rt.venv.relative_to(ROOT)} (Python {rt.python}) from {rt.requirements.relative_to(ROOT)}",
          file=sys.stderr, flush=True)
    _run([interpreter, "-m", "venv", str(rt.venv)])
    _run([str(rt.python_exe), *PIP, PIP_VERSION])
    _run([str(rt.python_exe), *PIP, "-r", str(rt.requirements)])
    if rt.no_deps is not None:
        _run([str(rt.python_exe), *PIP, "--no-deps", "-r", str(rt.no_deps)])
    if rt.post_install is not None:
        _run([str(rt.python_exe), str(rt.post_install), str(rt.venv)])
    stamp.write_text(fingerprint)
    return rt


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeVenvError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout[-4000:]}"
                               f"{done.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="virtualenvs of the AWS runtimes (runtimes/<name>/)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="create or reuse .venvs/<name>")
    b.add_argument("names", nargs="*", help="default: every runtime under runtimes/")
    b.add_argument("--force", action="store_true")
    p = sub.add_parser("path", help="print the venv's python")
    p.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "path":
            print(runtime(args.name).python_exe)
            return 0
        names = args.names or sorted(p.name for p in RUNTIMES.iterdir() if (p / "requirements.txt").is_file())
        for name in names:
            rt = build(name, force=args.force)
            print(rt.python_exe)
    except RuntimeVenvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
