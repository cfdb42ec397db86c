"""CUDA: batched scoring and the losses on a GPU against the CPU (run by
bench/gpu_check.sh on a machine with one; skipped elsewhere). The metric
by metric comparison on the spec pairs is test_metrics_misc.py's
test_cpu_cuda_agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def _prepared(n: int, h: int, w: int):
    from iqa_cli.io import PreparedPair

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for k in range(n):
        base = 128 + 90 * np.sin(xx / (7.0 + k) + np.arange(3)[:, None, None]) * np.cos(yy / 11.0)
        a = np.clip(np.rint(base + rng.normal(0, 6, (3, h, w))), 0, 255).astype(np.uint8)
        b = np.clip(np.rint(a + rng.normal(0, 10, a.shape)), 0, 255).astype(np.uint8)
        out.append(PreparedPair(reference=a, distorted=b, data_range=255.0))
    return out


def test_batched_uint8_pairs_on_cuda_match_the_cpu():
    """A same-size batch on the GPU (as `iqa batch --device cuda` scores it) gives
    each pair the CPU's numbers: float32 on the GPU, float64 C kernels on the CPU."""
    from iqa_cli.results import Settings
    from iqa_cli.scoring import score_stack

    preps = _prepared(3, 300, 341)
    settings = Settings()
    gpu = score_stack(preps, settings, torch.device("cuda"), integer=True)
    cpu = [score_stack([p], settings, torch.device("cpu"), integer=True)[0] for p in preps]
    for g, c in zip(gpu, cpu):
        for name in ("ssim", "ms_ssim", "psnr"):
            assert abs(g.values[name] - c.values[name]) <= 1e-6, name
        assert abs(g.values["mse"] - c.values["mse"]) <= 1e-9 * c.values["mse"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_losses_on_cuda_keep_the_input_dtype_and_give_the_cpu_gradient(dtype):
    from iqa_cli import MixLoss, MSSSIMLoss, SSIMLoss, TVLoss

    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 180, 190, generator=g, dtype=torch.float64)
    y = (x + 0.1 * torch.rand(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    for make in (SSIMLoss, MSSSIMLoss, MixLoss, TVLoss):
        grads, values = [], []
        for dev in ("cpu", "cuda"):
            xx = x.to(dev, dtype).requires_grad_(True)
            loss = make()
            v = loss(xx) if make is TVLoss else loss(xx, y.to(dev, dtype))
            assert v.dtype == dtype and v.device.type == dev
            v.backward()
            values.append(float(v.detach()))
            grads.append(xx.grad.double().cpu())
        scale = float(grads[0].abs().max())
        if dtype == torch.float64:
            assert abs(values[0] - values[1]) <= 1e-6 and float((grads[0] - grads[1]).abs().max()) <= 1e-6
        else:
            assert abs(values[0] - values[1]) <= 2e-5 and float((grads[0] - grads[1]).abs().max()) <= 1e-4 * scale
