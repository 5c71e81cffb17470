"""Builds a platform wheel of the package ocrcloud with the native library inside it.

    python3 bindings/python/build_wheel.py LIBRARY OUTPUT_DIR [PLATFORM]

LIBRARY is the library to pack (e.g. target/release/libocrcloud.so; it is stripped of debug
symbols in the wheel). PLATFORM is the wheel's platform tag, linux_x86_64 by default;
scripts/packages.sh passes manylinux_2_17_x86_64, manylinux_2_17_aarch64 and win_amd64. A
manylinux_2_17 (or _2_12, _2_5) tag gets its older alias as well (PEP 600): the wheel is tagged
manylinux_2_17_x86_64.manylinux2014_x86_64, which pip before 20.3 installs too.

The build is setuptools' (pyproject.toml, setup.py) through `python -m build --wheel`, run in a
copy of this folder with the library beside the package's modules under the name its loader looks
for: ocrcloud.dll in a win_* wheel, libocrcloud.so in the others. build and setuptools come from
PyPI, at the versions below, into the venv target/venv-wheel (made on the first run). Writes
OUTPUT_DIR/ocrcloud-<version>-py3-none-<PLATFORM>.whl (the version from pyproject.toml) and
prints its path.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, "target", "venv-wheel")
REQUIREMENTS = ["build==1.6.1", "setuptools==84.2.1"]
# The manylinux tags that have an older name (PEP 600; manylinux1, 2010 and 2014 of PEPs 513,
# 571 and 599), by glibc version.
LEGACY_MANYLINUX = {"2_5": "manylinux1", "2_12": "manylinux2010", "2_17": "manylinux2014"}


def compound_tag(platform):
    """``platform`` with its legacy manylinux alias after it, if it has one."""
    for glibc, legacy in LEGACY_MANYLINUX.items():
        prefix = f"manylinux_{glibc}_"
        if platform.startswith(prefix) and "." not in platform:
            return f"{platform}.{legacy}_{platform[len(prefix):]}"
    return platform


def build_python():
    """The venv's python with build and setuptools at REQUIREMENTS (made when they changed)."""
    python = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin", "python")
    marker = os.path.join(VENV, "requirements.txt")
    wanted = "\n".join(REQUIREMENTS) + "\n"
    try:
        with open(marker) as f:
            if f.read() == wanted and os.path.exists(python):
                return python
    except FileNotFoundError:
        pass
    shutil.rmtree(VENV, ignore_errors=True)
    venv.create(VENV, with_pip=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *REQUIREMENTS], check=True, stdout=sys.stderr)
    with open(marker, "w") as f:
        f.write(wanted)
    return python


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python3 build_wheel.py LIBRARY OUTPUT_DIR [PLATFORM]")
    library, output_dir = sys.argv[1:3]
    platform = compound_tag(sys.argv[3] if len(sys.argv) == 4 else "linux_x86_64")
    library_name = "ocrcloud.dll" if platform.startswith("win") else "libocrcloud.so"
    python = build_python()
    os.makedirs(output_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        # A copy of the sources, so that neither the library nor setuptools' build/ and
        # egg-info/ land in the checkout.
        source = os.path.join(work, "src")
        os.makedirs(os.path.join(source, "ocrcloud"))
        for name in ("pyproject.toml", "setup.py", "README.md"):
            shutil.copy(os.path.join(HERE, name), source)
        for name in os.listdir(os.path.join(HERE, "ocrcloud")):
            if name.endswith(".py") or name == "py.typed":
                shutil.copy(os.path.join(HERE, "ocrcloud", name), os.path.join(source, "ocrcloud"))
        subprocess.run([os.path.join(ROOT, "packaging", "strip-debug.sh"), library,
                        os.path.join(source, "ocrcloud", library_name)], check=True)
        built = os.path.join(work, "dist")
        done = subprocess.run([python, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                               built, f"--config-setting=--build-option=--plat-name={platform}",
                               source], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"build_wheel.py: python -m build failed:\n{done.stdout}")
        wheels = os.listdir(built)
        if len(wheels) != 1 or not wheels[0].endswith(f"-py3-none-{platform}.whl"):
            sys.exit(f"build_wheel.py: the build made {wheels}, not one py3-none-{platform} wheel")
        wheel = os.path.join(output_dir, wheels[0])
        shutil.move(os.path.join(built, wheels[0]), wheel)
    print(wheel)


if __name__ == "__main__":
    main()
