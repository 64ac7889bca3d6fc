"""Builds the `cascade` Python package: CMake builds the extension (target _cascade, the same
library objects the CLI links) and the package files; setuptools installs them.

    python3 -m pip install --no-build-isolation .      # offline, Debian's setuptools

Environment:
  CASCADE_CMAKE_BUILD_DIR  an existing CMake build tree to build the module in (e.g.
                           build/release: only the extension is compiled, the rest is reused);
                           default: build/python-pip in the checkout (ccache makes rebuilds quick)
  CASCADE_BUILD_JOBS       parallel compile jobs (default: every core)
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    m = re.search(r"project\(cascade VERSION ([0-9.]+)", text)
    if not m:
        sys.exit("setup.py: no project version in CMakeLists.txt")
    return m.group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(os.environ.get("CASCADE_CMAKE_BUILD_DIR", ROOT / "build" / "python-pip")).resolve()
        jobs = os.environ.get("CASCADE_BUILD_JOBS", str(os.cpu_count() or 1))
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.check_call([
                "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                "-DCASCADE_BUILD_TESTS=OFF", "-DCASCADE_BUILD_BENCH=OFF", "-DCASCADE_BUILD_PYTHON=ON",
                f"-DPython_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_cascade", "-j", jobs])
        built = sorted((build_dir / "python" / "cascade").glob("_cascade*.so"))
        if not built:
            sys.exit(f"setup.py: the build left no _cascade*.so in {build_dir}/python/cascade")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[-1], target)


class BuildPyWithConfigs(build_py):
    """Adds the repository's configs/ to the package: build_bundle composes them."""

    def run(self):
        super().run()
        dest = Path(self.build_lib) / "cascade" / "configs"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(ROOT / "configs", dest)


setup(
    version=project_version(),
    packages=["cascade"],
    package_dir={"": "python"},
    package_data={"cascade": ["*.pyi", "py.typed"]},
    ext_modules=[CMakeExtension("cascade._cascade")],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithConfigs},
    zip_safe=False,
)
