"""Build of keisei.game._games, the C++ part of the environment (metadata: pyproject.toml).

It compiles keisei's csrc/games.cpp together with cshogi's own C++ sources, vendored
unmodified from the cshogi 1.1.0 sdist in third_party/cshogi, with the flags cshogi's
setup.py uses.

On Linux the extension exports one dynamic symbol, its module init ``PyInit__games``: a
linker version script makes every other symbol local, and ``--exclude-libs,ALL`` does the
same for anything linked in from a static archive. Otherwise a compiler that links
libstdc++ statically without saying so (some GCC builds named by ``CXX`` do) makes the
extension export thousands of libstdc++ symbols, among them GNU_UNIQUE ``std::locale``
facet ids that the dynamic linker shares process-wide: cshogi's own module, on the system
libstdc++, then used the wrong facets and crashed in its first ``istream >> int``
(issue 11). tests/test_build.py guards the export list and both import orders.

Before compiling, the build checks that the C++ compiler (``CXX``, else Python's own) and
``Python.h`` exist, and otherwise stops with one line naming what is missing.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import sysconfig
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup
from setuptools.errors import PlatformError

CSHOGI = Path("third_party/cshogi/src")
# All of cshogi's C++ sources, as in cshogi's own setup.py: cshogi.h, which games.cpp
# includes for __Board and the dlshogi encodings, also refers to the book, search and
# df-pn code, so those must link although keisei does not call them.
SOURCES = [
    "bitboard.cpp",
    "book.cpp",
    "common.cpp",
    "dfpn.cpp",
    "generateMoves.cpp",
    "hand.cpp",
    "init.cpp",
    "move.cpp",
    "mt64bit.cpp",
    "osl_dfpn.cpp",
    "position.cpp",
    "search.cpp",
    "square.cpp",
    "usi.cpp",
]
# The one symbol the extension exports (on Linux): Python's entry point into it.
EXPORTED = "PyInit__games"
LINUX = sys.platform.startswith("linux")


def missing_build_tools(compiler: list[str], include_dir: str) -> str | None:
    """Why the extension cannot be built here, in one line, or None if nothing is missing.

    ``compiler`` is the C++ compiler command setuptools will run (``CXX`` if set, else
    the compiler Python was built with); ``include_dir`` is where ``Python.h`` must be.
    """
    problems = []
    exe = compiler[0] if compiler else ""
    if not exe or shutil.which(exe) is None:
        origin = "named by CXX" if os.environ.get("CXX") else "Python's default; or set CXX"
        problems.append(
            f"C++ compiler '{exe}' not found ({origin}; Debian/Ubuntu: apt install g++)"
        )
    header = Path(include_dir) / "Python.h"
    if not header.is_file():
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        package = f"python{version}-dev"
        problems.append(
            f"Python headers not found, no {header} (Debian/Ubuntu: apt install {package})"
        )
    if not problems:
        return None
    return "keisei: cannot build keisei.game._games: " + "; ".join(problems)


class BuildGames(build_ext):  # type: ignore[misc]
    """pybind11's build_ext, after checking the tools, with the export list on Linux."""

    def build_extensions(self) -> None:
        compiler = getattr(self.compiler, "compiler_so_cxx", None) or self.compiler.compiler_so
        problem = missing_build_tools(list(compiler), sysconfig.get_paths()["include"])
        if problem is not None:
            # setup() prints "error: <message>" and exits with status 1, no traceback.
            raise PlatformError(problem)
        if LINUX:
            script = Path(self.build_temp).resolve() / "games.map"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(f"{{\n  global: {EXPORTED};\n  local: *;\n}};\n", encoding="ascii")
            for ext in self.extensions:
                ext.extra_link_args = [
                    *ext.extra_link_args,
                    "-Wl,--exclude-libs,ALL",
                    f"-Wl,--version-script={script}",
                ]
        super().build_extensions()


x86 = platform.machine().lower() in ("x86_64", "amd64")
games = Pybind11Extension(
    "keisei.game._games",
    sources=["csrc/games.cpp", *(str(CSHOGI / s) for s in SOURCES)],
    include_dirs=[str(CSHOGI)],
    cxx_std=17,
    define_macros=[("HAVE_SSE4", None), ("HAVE_SSE42", None), ("HAVE_AVX2", None)] if x86 else [],
    # -pthread: GameBatch spreads its games over std::threads (env.threads).
    extra_compile_args=["-O3", "-pthread", "-msse4.2", "-mavx2", "-Wno-unused-result"]
    if x86
    else ["-O3", "-pthread"],
    extra_link_args=["-pthread"],
)

if __name__ == "__main__":  # pip's build backend also runs this file as __main__
    # The 15 C++ files compile in parallel, one per core (KEISEI_BUILD_JOBS=N to choose).
    ParallelCompile("KEISEI_BUILD_JOBS", default=0).install()
    setup(ext_modules=[games], cmdclass={"build_ext": BuildGames})
