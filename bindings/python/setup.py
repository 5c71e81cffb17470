"""The wheel's build with setuptools, the metadata in pyproject.toml. build_wheel.py is the driver:
it puts one platform's library into a copy of this folder and runs `python -m build --wheel` with
`--plat-name` (the wheel's platform tag, compound ones such as
`manylinux_2_17_x86_64.manylinux2014_x86_64` included).

With a library inside the package (``ocrcloud/libocrcloud.so`` or ``ocrcloud/ocrcloud.dll``) the
wheel is a platform wheel for any Python 3, ``py3-none-PLATFORM``; without one (``pip install
bindings/python``) it is the pure ``py3-none-any`` package, which then finds the library as its
docstring says.
"""
import os

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
# The library that a wheel may carry, and the operating system it names in the classifiers.
LIBRARIES = {"libocrcloud.so": "POSIX :: Linux", "ocrcloud.dll": "Microsoft :: Windows"}
CLASSIFIERS = ["Programming Language :: Python :: 3", "Typing :: Typed"]


def carried_library():
    """The name of the library inside the package folder, or None."""
    found = [name for name in LIBRARIES if os.path.exists(os.path.join(HERE, "ocrcloud", name))]
    if len(found) > 1:
        raise SystemExit(f"more than one library in ocrcloud/: {found}")
    return found[0] if found else None


class NativeDistribution(Distribution):
    """A distribution with a native library: installed into platlib, at the wheel's root
    (Root-Is-Purelib: false), like one with an extension module."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """bdist_wheel for ctypes: the library makes the wheel a platform wheel, but it works with
    any Python 3 (no extension module), so the tag is py3-none-PLATFORM. The platform given as
    --plat-name is kept as it is (bdist_wheel would turn the dots of a compound tag into
    underscores)."""

    def get_tag(self):
        if self.root_is_pure:
            return super().get_tag()
        if self.plat_name_supplied and self.plat_name:
            return "py3", "none", self.plat_name
        return "py3", "none", super().get_tag()[2]


library = carried_library()
setup(
    classifiers=CLASSIFIERS + [f"Operating System :: {LIBRARIES[library or 'libocrcloud.so']}"],
    cmdclass={"bdist_wheel": PlatformWheel},
    distclass=NativeDistribution if library else Distribution,
)
