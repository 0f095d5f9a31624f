"""The offline MWAA bundle's wheels: what requirements.txt needs beyond MWAA's image, as wheels for its platform.

MWAA environments in private subnets cannot reach the constraints URL or the package index. MWAA's documented way
(best-practices-dependencies, "Python wheels"): the wheels at the root of plugins.zip (unpacked to
``/usr/local/airflow/plugins``) and a requirements.txt with ``--find-links /usr/local/airflow/plugins`` and
``--no-index``, its ``--constraint`` a file in the DAG folder instead of the URL.

Which wheels: pip resolves requirements.txt for the workers' platform under MWAA's constraints with MWAA 3.3.1's
image (runtimes/mwaa/image.txt, the image's bill of materials) as further constraints, so every package the image has
resolves to the image's version (``pip install --dry-run --report``, nothing is installed); a requirement the image
already has at that version is left out of the resolution (it is satisfied on the worker as it stands). Every
distribution of the resolution the image does not have is downloaded (``pip download --no-deps``). A requirement
that would change the version of a package the image has fails the resolution: the offline bundle adds what the
image lacks, it does not upgrade the image. Needs the package index once, at build time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "runtimes" / "mwaa" / "image.txt"
CONSTRAINTS = ROOT / "constraints" / "airflow-3.3.1-constraints-3.12.txt"
ESSENTIAL = ROOT / "constraints" / "mwaa-3.3.1-essential-constraints.txt"
MWAA_HOME = "/usr/local/airflow"
PLUGINS_FOLDER = f"{MWAA_HOME}/plugins"
DAGS_FOLDER = f"{MWAA_HOME}/dags"
CONSTRAINTS_NAME = "constraints-3.12.txt"     # the constraints file the offline requirements.txt names, in dags/
PYTHON_VERSION = "3.12"                        # MWAA 3.3.1
# MWAA's image is Amazon Linux 2023 (glibc 2.34): wheels for manylinux 2.34 and older (pip takes exactly the platform
# tags it is given, so each is named)
ARCH = "x86_64"
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input")


class WheelsError(RuntimeError):
    """The wheels could not be resolved or downloaded; the message says what pip said."""


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def image_packages(path: Path = IMAGE) -> dict[str, str]:
    """``{normalized name: version}`` of what MWAA's image has installed."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[norm(name.split("[")[0])] = version.strip()
    return out


def requirement_lines(requirements: Path) -> list[str]:
    """The requirements of a requirements file, without its options (``--constraint ...``) and comments."""
    lines = (ln.split("#", 1)[0].strip() for ln in requirements.read_text().splitlines())
    return [ln for ln in lines if ln and not ln.startswith("-")]


def _in_image(requirement: str, image: dict[str, str]) -> bool:
    """``name==version`` (extras aside) that the image has installed at that version."""
    name, _, version = requirement.partition("==")
    return bool(version) and "[" not in name and image.get(norm(name.strip())) == version.strip()


def _target(arch: str) -> list[str]:
    platforms = [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{arch}")]
    return ["--only-binary=:all:", *platforms, "--python-version", PYTHON_VERSION, "--implementation", "cp"]


def _pip(args: list[str]) -> None:
    done = subprocess.run([*PIP, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise WheelsError(f"`pip {' '.join(args[:3])} ...` failed ({done.returncode}):\n{done.stderr[-4000:]}")


def needed(requirements: Path, arch: str = ARCH) -> dict[str, str]:
    """``{name: version}`` requirements.txt installs on MWAA beyond its image (resolved for Linux on ``arch``)."""
    image = image_packages()
    wanted = [ln for ln in requirement_lines(requirements) if not _in_image(ln, image)]
    if not wanted:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        reqs, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        reqs.write_text("\n".join(wanted) + "\n")
        _pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), *_target(arch),
              "-c", str(CONSTRAINTS), "-c", str(ESSENTIAL), "-c", str(IMAGE), "-r", str(reqs)])
        resolved = [i["metadata"] for i in json.loads(report.read_text())["install"]]
    return {m["name"]: m["version"] for m in resolved if norm(m["name"]) not in image}


def download(pins: dict[str, str], dest: Path, arch: str = ARCH) -> list[Path]:
    """The wheels of ``pins`` for Linux on ``arch`` into ``dest``; returns them (sorted)."""
    dest.mkdir(parents=True, exist_ok=True)
    if pins:
        _pip(["download", "--quiet", "--no-deps", "--dest", str(dest), *_target(arch),
              *(f"{name}=={version}" for name, version in sorted(pins.items()))])
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != len(pins):
        raise WheelsError(f"expected {len(pins)} wheels in {dest}, found {len(wheels)}: {[w.name for w in wheels]}")
    return wheels


def offline_requirements(requirements: Path, wheels: list[Path]) -> str:
    """requirements.txt for an MWAA environment without internet: the same requirements, installed from the
    wheels in plugins.zip, under the constraints file the DAG folder carries."""
    shipped = ", ".join(w.name.split("-", 2)[0] + "==" + w.name.split("-", 2)[1] for w in wheels)
    return "\n".join([
        "# Offline install (make package OFFLINE=1): MWAA installs these from the wheels at the root of plugins.zip",
        f"# ({PLUGINS_FOLDER}), with no package index and no constraints URL; the constraints are MWAA 3.3.1's,",
        f"# shipped in the DAG folder. Wheels: {shipped or 'none'}.",
        f"--find-links {PLUGINS_FOLDER}",
        "--no-index",
        f'--constraint "{DAGS_FOLDER}/{CONSTRAINTS_NAME}"',
        *requirement_lines(requirements),
    ]) + "\n"
