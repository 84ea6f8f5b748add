"""Build of keisei.game._games, the C++ part of the environment (metadata: pyproject.toml).

It compiles keisei's csrc/games.cpp together with cshogi's own C++ sources, vendored
unmodified from the cshogi 1.1.0 sdist in third_party/cshogi, with the flags cshogi's
setup.py uses.
"""

import platform
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

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

x86 = platform.machine().lower() in ("x86_64", "amd64")
games = Pybind11Extension(
    "keisei.game._games",
    sources=["csrc/games.cpp", *(str(CSHOGI / s) for s in SOURCES)],
    include_dirs=[str(CSHOGI)],
    cxx_std=17,
    define_macros=[("HAVE_SSE4", None), ("HAVE_SSE42", None), ("HAVE_AVX2", None)] if x86 else [],
    extra_compile_args=["-O3", "-msse4.2", "-mavx2", "-Wno-unused-result"] if x86 else ["-O3"],
)

setup(ext_modules=[games])
