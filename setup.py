"""Builds libswiftnn with SwiftPM (release) and ships it inside the `swiftnn` package.

`pip install .` copies the library into the wheel; `pip install -e .` builds it in place,
where python/swiftnn/_native.py finds it under .build/release.
"""
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent
LIB = "libswiftnn.so"


def build_swift_library():
    if shutil.which("swift") is None:
        raise SystemExit("swiftnn: the Swift toolchain (`swift`) is not on PATH; install Swift 6.0 "
                         "or later first (see README).")
    # The host's speed flags come from the one script that `make build` uses too.
    flags = subprocess.check_output(["sh", str(ROOT / "scripts" / "swift-build-flags.sh")], text=True).split()
    subprocess.check_call(["swift", "build", "-c", "release", "--product", "swiftnn", *flags], cwd=ROOT)
    return ROOT / ".build" / "release" / LIB


class BuildPyWithSwift(build_py):
    def run(self):
        lib = build_swift_library()
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / "swiftnn"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib, target / LIB)


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self):
        return True


setup(
    cmdclass={"build_py": BuildPyWithSwift},
    distclass=BinaryDistribution,
)
