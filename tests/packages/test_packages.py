"""Every package of `make packages` (target/packages/) holds each platform's library at the path
its loader uses, built for the right machine, and the packages load on this machine (Linux
x86-64) as a user would load them; the arm64 C archive runs under qemu-user.

    python3 tests/packages/test_packages.py EMULATOR_BIN

Run by scripts/test-portable.sh after `make packages`. Needs auditwheel (in the venv of
scripts/portable.sh, target/tools/venv), java with JNA, mono, pkg-config, cmake, gcc,
aarch64-linux-gnu-gcc, x86_64-w64-mingw32-gcc and qemu-aarch64.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import unittest
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGES = os.path.join(ROOT, "target", "packages")
TOOLS = os.path.join(ROOT, "target", "tools", "venv", "bin")
JNA = os.environ.get("JNA_JAR", "/usr/share/java/jna.jar")
SAMPLE_PDF = os.path.join(ROOT, "examples", "sample.pdf")
EMULATOR = None

with open(os.path.join(ROOT, "Cargo.toml"), "rb") as _f:
    VERSION = tomllib.load(_f)["package"]["version"]
MAJOR = VERSION.split(".")[0]


def floor():
    """The glibc floor of packaging/platforms.sh, e.g. "2.17"."""
    with open(os.path.join(ROOT, "packaging", "platforms.sh")) as f:
        return re.search(r"^glibc_floor=(\S+)$", f.read(), re.M).group(1)


MANYLINUX = "manylinux_" + floor().replace(".", "_")
# The older name of the same platform (PEP 600), the only one that pip before 20.3 knows.
LEGACY_MANYLINUX = {"manylinux_2_5": "manylinux1", "manylinux_2_12": "manylinux2010",
                    "manylinux_2_17": "manylinux2014"}.get(MANYLINUX)


def linux_tag(arch):
    """The Linux wheels' platform tag, e.g. manylinux_2_17_x86_64.manylinux2014_x86_64."""
    tag = f"{MANYLINUX}_{arch}"
    return f"{tag}.{LEGACY_MANYLINUX}_{arch}" if LEGACY_MANYLINUX else tag

# The machine each platform's library is built for: (ELF e_machine, or PE machine).
X86_64_ELF, AARCH64_ELF, X86_64_PE = ("ELF", 62), ("ELF", 183), ("PE", 0x8664)


def machine(data):
    """("ELF", e_machine) or ("PE", machine) of a shared library's bytes."""
    if data[:4] == b"\x7fELF":
        assert data[5] == 1, "little-endian ELF"
        return "ELF", int.from_bytes(data[18:20], "little")
    if data[:2] == b"MZ":
        pe = int.from_bytes(data[0x3C:0x40], "little")
        assert data[pe:pe + 4] == b"PE\0\0"
        return "PE", int.from_bytes(data[pe + 4:pe + 6], "little")
    raise AssertionError(f"not a library: {data[:8]!r}")


def run(*command, cwd=None, env=None):
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{command} exited with {done.returncode}:\n{done.stdout}")
    return done.stdout


def load_python_loader():
    """The binding's _library_name without loading a library (the module loads one at import)."""
    with open(os.path.join(ROOT, "bindings", "python", "ocrcloud", "_native.py")) as f:
        source = f.read()
    start = source.index("def _library_name(")
    end = source.index("\ndef ", start + 1)
    scope = {"sys": sys}
    exec(source[start:end], scope)
    return scope["_library_name"]


class Emulator:
    """The emulator on a free loopback port, over HTTPS with a CA of its own."""

    def __enter__(self):
        self.work = tempfile.mkdtemp()
        self.ca = os.path.join(self.work, "ca.pem")
        pid = os.path.join(self.work, "pid")
        # The emulator's stderr goes to a file: on a pipe it would keep the pipe open.
        with open(os.path.join(self.work, "stderr"), "w") as log:
            started = subprocess.run(
                [os.path.join(ROOT, "scripts", "start-emulator.sh"), EMULATOR, pid,
                 "--tls-self-signed", self.ca], stdout=subprocess.PIPE, stderr=log, text=True)
        with open(pid) as f:
            self.pid = int(f.read())
        if started.returncode != 0:
            os.kill(self.pid, 15)
            raise AssertionError(open(os.path.join(self.work, "stderr")).read())
        self.url = started.stdout.strip()
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, 15)
        shutil.rmtree(self.work)


class Packages(unittest.TestCase):
    def test_the_folder_holds_every_package_and_nothing_else(self):
        expected = sorted([
            f"ocrcloud-{VERSION}-py3-none-{linux_tag('x86_64')}.whl",
            f"ocrcloud-{VERSION}-py3-none-{linux_tag('aarch64')}.whl",
            f"ocrcloud-{VERSION}-py3-none-win_amd64.whl",
            f"ocrcloud-{VERSION}.jar",
            f"Ocrcloud.{VERSION}.nupkg",
            f"ocrcloud-{VERSION}-linux-x86_64.tar.gz",
            f"ocrcloud-{VERSION}-linux-aarch64.tar.gz",
            f"ocrcloud-{VERSION}-windows-x86_64.zip",
        ])
        self.assertEqual(sorted(os.listdir(PACKAGES)), expected)


class Wheels(unittest.TestCase):
    WHEELS = [(linux_tag("x86_64"), "linux", X86_64_ELF),
              (linux_tag("aarch64"), "linux", AARCH64_ELF),
              ("win_amd64", "win32", X86_64_PE)]

    def wheel(self, tag):
        return os.path.join(PACKAGES, f"ocrcloud-{VERSION}-py3-none-{tag}.whl")

    def test_each_wheel_holds_its_library_where_the_loader_looks(self):
        library_name = load_python_loader()
        for tag, platform, expected_machine in self.WHEELS:
            with self.subTest(tag), zipfile.ZipFile(self.wheel(tag)) as wheel:
                libraries = [n for n in wheel.namelist() if n.endswith((".so", ".dll"))]
                self.assertEqual(libraries, [f"ocrcloud/{library_name(platform)}"])
                self.assertEqual(machine(wheel.read(libraries[0])), expected_machine)
                info = wheel.read(f"ocrcloud-{VERSION}.dist-info/WHEEL").decode()
                # One line per platform of a compound tag (a.b).
                tags = [line for line in info.splitlines() if line.startswith("Tag: ")]
                self.assertEqual(tags, [f"Tag: py3-none-{plat}" for plat in tag.split(".")])
                self.assertIn("Root-Is-Purelib: false\n", info)

    def test_each_wheels_description_names_the_library_it_carries(self):
        # The description (METADATA, shown on the package index) is the same in every wheel: it
        # must name each wheel's library file and platform, not only Linux x86-64's.
        library_name = load_python_loader()
        names = {linux_tag("x86_64"): "x86-64", linux_tag("aarch64"): "arm64",
                 "win_amd64": "Windows x64"}
        for tag, platform, _ in self.WHEELS:
            with self.subTest(tag), zipfile.ZipFile(self.wheel(tag)) as wheel:
                description = wheel.read(f"ocrcloud-{VERSION}.dist-info/METADATA").decode()
                self.assertIn(f"`{library_name(platform)}`", description)
                self.assertIn(names[tag], description)

    def test_auditwheel_grants_the_linux_wheels_their_tag(self):
        # auditwheel reads the ELF files: the libraries need nothing outside the manylinux
        # policy (only libc, libm, libgcc_s, ...) and no glibc symbol newer than the floor.
        for arch in ("x86_64", "aarch64"):
            with self.subTest(arch):
                shown = run(os.path.join(TOOLS, "auditwheel"), "show",
                            self.wheel(linux_tag(arch)))
                granted = re.search(r'consistent with\s+the following platform tag:\s+"(\S+)"', shown)
                self.assertIsNotNone(granted, shown)
                self.assertEqual(granted.group(1), f"{MANYLINUX}_{arch}", shown)

    def test_the_x86_64_wheel_installs_with_pip_and_runs_the_sample(self):
        # pip installs it only if its tag suits this machine; the sample then uses the library
        # from inside the installed package, with no environment variable.
        clean = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        with tempfile.TemporaryDirectory() as folder, Emulator() as emulator:
            run(sys.executable, "-m", "venv", "venv", cwd=folder, env=clean)
            python = os.path.join(folder, "venv", "bin", "python")
            run(python, "-m", "pip", "install", "--quiet", "--no-index",
                self.wheel(linux_tag("x86_64")), cwd=folder, env=clean)
            loaded = run(python, "-c", "import ocrcloud; print(ocrcloud._library_path())",
                         cwd=folder, env=clean).strip()
            self.assertTrue(loaded.startswith(os.path.join(folder, "venv", "lib")), loaded)
            self.assertTrue(loaded.endswith("site-packages/ocrcloud/libocrcloud.so"), loaded)
            output = run(python, os.path.join(ROOT, "bindings", "python", "examples", "sample.py"),
                         emulator.url, SAMPLE_PDF, "out-python", cwd=folder,
                         env=dict(clean, SSL_CERT_FILE=emulator.ca))
            self.assertIn("Hello from ocrcloud!", output)

    def test_pip_before_20_3_installs_the_linux_wheel(self):
        # pip 20.2 knows manylinux2014 but not manylinux_2_17 (PEP 600 came with pip 20.3): a
        # wheel tagged manylinux_2_17 alone is "not a supported wheel on this platform" there.
        clean = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        with tempfile.TemporaryDirectory() as folder:
            run(sys.executable, "-m", "venv", "venv", cwd=folder, env=clean)
            python = os.path.join(folder, "venv", "bin", "python")
            run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "pip==20.2.4", cwd=folder)  # from the package index: the machine's settings
            self.assertIn("pip 20.2.4 ", run(python, "-m", "pip", "--version", cwd=folder))
            run(python, "-m", "pip", "install", "--quiet", "--no-index",
                self.wheel(linux_tag("x86_64")), cwd=folder, env=clean)
            loaded = run(python, "-c", "import ocrcloud; print(ocrcloud._library_path())",
                         cwd=folder, env=clean).strip()
            self.assertTrue(loaded.endswith("site-packages/ocrcloud/libocrcloud.so"), loaded)


class Jar(unittest.TestCase):
    JAR = os.path.join(PACKAGES, f"ocrcloud-{VERSION}.jar")
    # What JNA's own Platform.getNativeLibraryResourcePrefix(osType, arch, name) answers for each
    # platform (package-private in JNA 5, hence the reflection).
    CHECK = """
import com.sun.jna.Platform;
import java.lang.reflect.Method;
public class Check {
    public static void main(String[] args) throws Exception {
        Method prefix = Platform.class.getDeclaredMethod("getNativeLibraryResourcePrefix",
            int.class, String.class, String.class);
        prefix.setAccessible(true);
        System.out.println(prefix.invoke(null, Platform.LINUX, "amd64", "Linux"));
        System.out.println(prefix.invoke(null, Platform.LINUX, "aarch64", "Linux"));
        System.out.println(prefix.invoke(null, Platform.WINDOWS, "amd64", "Windows 11"));
        System.out.println(cloud.ocr.ocrcloud.OcrClient.libraryVersion());
    }
}
"""

    def test_the_jar_holds_each_library_under_jnas_prefix_and_loads_here(self):
        with tempfile.TemporaryDirectory() as folder:
            source = os.path.join(folder, "Check.java")
            with open(source, "w") as f:
                f.write(self.CHECK)
            # No jna.library.path and no LD_LIBRARY_PATH: JNA takes the library out of the jar.
            env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
            lines = run("java", "-cp", f"{self.JAR}:{JNA}", source, cwd=folder, env=env).split()
        prefixes, version = lines[:3], lines[3]
        self.assertEqual(prefixes, ["linux-x86-64", "linux-aarch64", "win32-x86-64"])
        self.assertEqual(version, VERSION)
        with zipfile.ZipFile(self.JAR) as jar:
            libraries = sorted(n for n in jar.namelist() if n.endswith((".so", ".dll")))
            self.assertEqual(libraries, ["linux-aarch64/libocrcloud.so",
                                         "linux-x86-64/libocrcloud.so",
                                         "win32-x86-64/ocrcloud.dll"])
            self.assertEqual(machine(jar.read("linux-x86-64/libocrcloud.so")), X86_64_ELF)
            self.assertEqual(machine(jar.read("linux-aarch64/libocrcloud.so")), AARCH64_ELF)
            self.assertEqual(machine(jar.read("win32-x86-64/ocrcloud.dll")), X86_64_PE)


class Nupkg(unittest.TestCase):
    NUPKG = os.path.join(PACKAGES, f"Ocrcloud.{VERSION}.nupkg")
    LIBRARIES = {"runtimes/linux-x64/native/libocrcloud.so": X86_64_ELF,
                 "runtimes/linux-arm64/native/libocrcloud.so": AARCH64_ELF,
                 "runtimes/win-x64/native/ocrcloud.dll": X86_64_PE}
    CHECK = "class Check { static void Main() { " \
            "System.Console.WriteLine(Ocrcloud.OcrClient.LibraryVersion); } }"

    def test_the_package_holds_each_runtimes_library(self):
        with zipfile.ZipFile(self.NUPKG) as package:
            libraries = {n for n in package.namelist()
                         if n.startswith("runtimes/") and not n.endswith("/")}
            self.assertEqual(libraries, set(self.LIBRARIES))
            for name, expected in self.LIBRARIES.items():
                self.assertEqual(machine(package.read(name)), expected, name)
            config = package.read("lib/net8.0/Ocrcloud.dll.config").decode()
        # mono's dllmap names each library for its platform.
        for cpu, os_name, path in [("x86-64", "linux", "runtimes/linux-x64/native/libocrcloud.so"),
                                   ("armv8", "linux", "runtimes/linux-arm64/native/libocrcloud.so"),
                                   ("x86-64", "windows", "runtimes/win-x64/native/ocrcloud.dll")]:
            self.assertIn(f'os="{os_name}" cpu="{cpu}" target="{path}"', config)

    def test_dllimport_resolves_from_the_package_layout_on_mono(self):
        # The application's folder as NuGet lays it out: the assembly, its config and all of
        # runtimes/; no LD_LIBRARY_PATH.
        with tempfile.TemporaryDirectory() as folder:
            app = os.path.join(folder, "app")
            with zipfile.ZipFile(self.NUPKG) as package:
                package.extractall(os.path.join(folder, "package"))
            shutil.copytree(os.path.join(folder, "package", "runtimes"),
                            os.path.join(app, "runtimes"))
            for name in ("Ocrcloud.dll", "Ocrcloud.dll.config"):
                shutil.copy(os.path.join(folder, "package", "lib", "net8.0", name), app)
            with open(os.path.join(folder, "Check.cs"), "w") as f:
                f.write(self.CHECK)
            run("mcs", "-r:" + os.path.join(app, "Ocrcloud.dll"),
                "-out:" + os.path.join(app, "Check.exe"), os.path.join(folder, "Check.cs"))
            env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
            version = run("mono", os.path.join(app, "Check.exe"), cwd=folder, env=env).strip()
        self.assertEqual(version, VERSION)


class CArchives(unittest.TestCase):
    def extract_linux(self, arch, folder):
        with tarfile.open(os.path.join(PACKAGES, f"ocrcloud-{VERSION}-linux-{arch}.tar.gz")) as tar:
            tar.extractall(folder, filter="tar")
        return os.path.join(folder, f"ocrcloud-{VERSION}-linux-{arch}")

    def check_linux_tree(self, tree, expected_machine, readelf):
        lib = os.path.join(tree, "lib")
        self.assertEqual(os.readlink(os.path.join(lib, "libocrcloud.so")), f"libocrcloud.so.{MAJOR}")
        self.assertEqual(os.readlink(os.path.join(lib, f"libocrcloud.so.{MAJOR}")),
                         f"libocrcloud.so.{VERSION}")
        real = os.path.join(lib, f"libocrcloud.so.{VERSION}")
        with open(real, "rb") as f:
            self.assertEqual(machine(f.read(64)), expected_machine)
        self.assertIn(f"Library soname: [libocrcloud.so.{MAJOR}]", run(readelf, "-d", real))
        for name in ("include/ocrcloud.h", "include/ocrcloud.hpp", "lib/libocrcloud.a",
                     "bin/ocrcloud", "lib/pkgconfig/ocrcloud.pc",
                     "lib/cmake/ocrcloud/ocrcloudConfig.cmake",
                     "lib/cmake/ocrcloud/ocrcloudConfigVersion.cmake"):
            self.assertTrue(os.path.isfile(os.path.join(tree, name)), name)

    def pkg_config(self, tree):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(tree, "lib", "pkgconfig"))
        return run("pkg-config", "--cflags", "--libs", "ocrcloud", env=env).split()

    def run_demo(self, command, emulator, out):
        output = run(*command, emulator.url, SAMPLE_PDF, out, emulator.ca)
        self.assertIn("Hello from ocrcloud!", output)
        self.assertEqual(sorted(name.rsplit(".", 1)[1] for name in os.listdir(out)), ["pdf", "txt"])

    def test_the_x86_64_archive_builds_the_demo_with_pkg_config_and_cmake(self):
        with tempfile.TemporaryDirectory() as folder, Emulator() as emulator:
            tree = self.extract_linux("x86_64", folder)
            self.check_linux_tree(tree, X86_64_ELF, "readelf")
            # Moved after packing: the .pc and CMake files find the tree from their own place.
            moved = os.path.join(folder, "moved")
            shutil.move(tree, moved)
            demo = os.path.join(folder, "demo")
            run("gcc", os.path.join(ROOT, "examples", "demo.c"), "-o", demo,
                *self.pkg_config(moved), "-Wl,-rpath," + os.path.join(moved, "lib"))
            self.assertIn(f"libocrcloud.so.{MAJOR}", run("readelf", "-d", demo))
            self.run_demo([demo], emulator, os.path.join(folder, "out-pkg-config"))
            build = os.path.join(folder, "cmake")
            run("cmake", "-S", os.path.join(ROOT, "tests", "cmake"), "-B", build,
                f"-DCMAKE_PREFIX_PATH={moved}", f"-DOCRCLOUD_WANTED_VERSION={VERSION}")
            run("cmake", "--build", build)
            self.run_demo([os.path.join(build, "demo")], emulator, os.path.join(folder, "out-cmake"))

    def test_the_arm64_archive_builds_the_demo_that_runs_under_qemu(self):
        with tempfile.TemporaryDirectory() as folder, Emulator() as emulator:
            tree = self.extract_linux("aarch64", folder)
            self.check_linux_tree(tree, AARCH64_ELF, "aarch64-linux-gnu-readelf")
            demo = os.path.join(folder, "demo")
            run("aarch64-linux-gnu-gcc", os.path.join(ROOT, "examples", "demo.c"), "-o", demo,
                *self.pkg_config(tree), "-Wl,-rpath," + os.path.join(tree, "lib"))
            self.run_demo(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", demo], emulator,
                          os.path.join(folder, "out"))

    def test_the_windows_archive_links_the_demo_through_its_import_library(self):
        with tempfile.TemporaryDirectory() as folder:
            with zipfile.ZipFile(os.path.join(PACKAGES, f"ocrcloud-{VERSION}-windows-x86_64.zip")) as z:
                z.extractall(folder)
            tree = os.path.join(folder, f"ocrcloud-{VERSION}-windows-x86_64")
            for name in ("bin/ocrcloud.dll", "bin/ocrcloud.exe", "lib/libocrcloud.dll.a",
                         "include/ocrcloud.h", "include/ocrcloud.hpp", "lib/pkgconfig/ocrcloud.pc",
                         "lib/cmake/ocrcloud/ocrcloudConfig.cmake",
                         "lib/cmake/ocrcloud/ocrcloudConfigVersion.cmake"):
                self.assertTrue(os.path.isfile(os.path.join(tree, name)), name)
            with open(os.path.join(tree, "bin", "ocrcloud.dll"), "rb") as f:
                self.assertEqual(machine(f.read(4096)), X86_64_PE)
            # The import library names the DLL: a program linked through it with the flags of
            # the .pc file imports ocr_version from ocrcloud.dll (the Wine tests run the DLL).
            source = os.path.join(folder, "version.c")
            with open(source, "w") as f:
                f.write('#include "ocrcloud.h"\n#include <stdio.h>\n'
                        'int main(void) { puts(ocr_version()); return 0; }\n')
            program = os.path.join(folder, "version.exe")
            run("x86_64-w64-mingw32-gcc", "-Wall", "-Werror", source, "-o", program,
                *self.pkg_config(tree))
            imports = run("x86_64-w64-mingw32-objdump", "-p", program)
            self.assertRegex(imports, r"DLL Name: ocrcloud\.dll\n(.*\n)*?.*\bocr_version\b")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python3 tests/packages/test_packages.py EMULATOR_BIN [unittest args]")
    EMULATOR = os.path.abspath(sys.argv.pop(1))
    if not os.path.isfile(JNA):
        sys.exit(f"test_packages.py: no jna.jar at {JNA}: install Debian's libjna-java or set JNA_JAR")
    unittest.main(verbosity=2)
