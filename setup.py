"""Build configuration beyond pyproject.toml: the optional C extension.

``iqa_cli.metrics._native`` holds the float64 CPU kernels of SSIM, MS-SSIM
and the mixed loss. It is optional: without a C compiler the build skips it
and iqa falls back to its torch kernels (same numbers, slower).
"""

import sys

from setuptools import Extension, setup

# -fno-wrapv undoes the -fwrapv of Python's own CFLAGS (loop indices optimised as
# in any C build: ~5% on the SSIM kernel)
args = [] if sys.platform == "win32" else ["-O3", "-fno-wrapv", "-ffp-contract=fast", "-Wno-psabi"]

setup(
    ext_modules=[
        Extension(
            "iqa_cli.metrics._native",
            sources=["iqa_cli/metrics/_native.c"],
            extra_compile_args=args,
            optional=True,
        )
    ]
)
