"""CI must not go green without testing the C kernels: with CI=true a missing
extension (or IQA_NATIVE=0) fails the kernel tests instead of skipping them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBES = [  # one test of each kernel test module
    "tests/test_native.py::test_trimmed_windows",
    "tests/test_native_color.py::test_matlab_rgb2gray_of_uint8_is_uint8",
    "tests/test_native_pyramid.py::test_integer_decimation_is_the_exact_sum_of_four_samples",
]


def _pytest(env: dict) -> subprocess.CompletedProcess:
    env = {**env, "IQA_NATIVE": "0", "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PROBES],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_missing_extension_fails_under_ci_and_is_skipped_otherwise():
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    under_ci = _pytest({**env, "CI": "true"})
    # the autouse fixture fails, so pytest reports the tests as errors: exit status 1, CI red
    assert under_ci.returncode == 1 and f"{len(PROBES)} errors" in under_ci.stdout, under_ci.stdout[-2000:]
    assert "CI=true but the C extension iqa_cli.metrics._native is not built" in under_ci.stdout
    local = _pytest(env)
    assert local.returncode == 0 and f"{len(PROBES)} skipped" in local.stdout, local.stdout[-2000:]
