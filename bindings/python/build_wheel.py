"""Builds a platform wheel of the package ocrcloud with the native library inside it.

    python3 bindings/python/build_wheel.py LIBRARY OUTPUT_DIR [PLATFORM]

LIBRARY is the library to pack (e.g. target/release/libocrcloud.so; it is stripped of debug
symbols in the wheel). PLATFORM is the wheel's platform tag, linux_x86_64 by default;
scripts/packages.sh passes manylinux_2_17_x86_64, manylinux_2_17_aarch64 and win_amd64. The
library goes beside the package's modules under the name its loader looks for: ocrcloud.dll in a
win_* wheel, libocrcloud.so in the others. Writes
OUTPUT_DIR/ocrcloud-<version>-py3-none-<PLATFORM>.whl (the version from pyproject.toml) and prints
its path. Standard library only: a wheel is a zip file with a .dist-info folder (PEP 427), so no
build backend is downloaded.
"""
import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def metadata(project, readme, windows):
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project['description']}", f"Requires-Python: {project['requires-python']}",
             f"License: {project['license']['text']}"]
    system = "Microsoft :: Windows" if windows else "POSIX :: Linux"
    lines += [f"Classifier: {classifier}" for classifier in project["classifiers"]
              if not classifier.startswith("Operating System ::")]
    lines.append(f"Classifier: Operating System :: {system}")
    lines += ["Description-Content-Type: text/markdown", "", readme]
    return "\n".join(lines).encode()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python3 build_wheel.py LIBRARY OUTPUT_DIR [PLATFORM]")
    library, output_dir = sys.argv[1:3]
    platform = sys.argv[3] if len(sys.argv) == 4 else "linux_x86_64"
    windows = platform.startswith("win")
    library_name = "ocrcloud.dll" if windows else "libocrcloud.so"
    tag = f"py3-none-{platform}"
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    with open(os.path.join(HERE, project["readme"])) as f:
        readme = f.read()
    name, version = project["name"], project["version"]
    with tempfile.TemporaryDirectory() as work:
        stripped = os.path.join(work, library_name)
        subprocess.run([os.path.join(HERE, "..", "..", "packaging", "strip-debug.sh"), library,
                        stripped], check=True)
        files = {f"{name}/{entry}": os.path.join(HERE, name, entry)
                 for entry in sorted(os.listdir(os.path.join(HERE, name)))
                 if entry.endswith(".py") or entry == "py.typed"}
        files[f"{name}/{library_name}"] = stripped
        info = f"{name}-{version}.dist-info"
        generated = {
            f"{info}/METADATA": metadata(project, readme, windows),
            f"{info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: ocrcloud build_wheel.py\n"
                              f"Root-Is-Purelib: false\nTag: {tag}\n").encode(),
            f"{info}/top_level.txt": f"{name}\n".encode(),
        }
        os.makedirs(output_dir, exist_ok=True)
        wheel = os.path.join(output_dir, f"{name}-{version}-{tag}.whl")
        record = []
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, path in files.items():
                with open(path, "rb") as f:
                    data = f.read()
                info_entry = zipfile.ZipInfo(entry, date_time=(2020, 1, 1, 0, 0, 0))
                info_entry.external_attr = (0o755 if entry.endswith(library_name) else 0o644) << 16
                info_entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info_entry, data)
                record.append(record_line(entry, data))
            for entry, data in generated.items():
                archive.writestr(zipfile.ZipInfo(entry, date_time=(2020, 1, 1, 0, 0, 0)), data)
                record.append(record_line(entry, data))
            record.append(f"{info}/RECORD,,")
            archive.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
                             "\n".join(record) + "\n")
    print(wheel)


if __name__ == "__main__":
    main()
