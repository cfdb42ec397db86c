"""Scoring adapters: each metric of the registry as a function of one
:class:`~.job.ScoreJob` (a stack of pairs with its settings, an optional
ignore mask and a cache the metrics of one family share). The registry names
them (``scorer="adapters:score_ssim"``); the metric modules below stay pure
functions of tensors.
"""

from __future__ import annotations

import torch

from .local import diff_mask, ssim_below, ssim_min
from .mix import mix_loss
from .ms_ssim import min_side, ms_ssim_and_ssim
from .pixel import mse, psnr_from_mse
from .tv import total_variation

Tensor = torch.Tensor


# --------------------------------------------------------------------------- ms_ssim

def ssim_and_map(job) -> tuple[Tensor, Tensor | None]:
    """Mean SSIM per image and, when a local metric or a report needs it, the
    SSIM map (N, C, h, w); computed once per job."""
    if "ssim_and_map" not in job.cache and job.ignore is not None:
        from .masked import masked_ssim

        ds = job.settings.downsample
        value, used, smap = masked_ssim(job.x, job.y, job.data_range, job.ignore, downsample=ds, return_map=True)
        job.cache["ssim_and_map"], job.cache["windows"] = (value, smap), (used, smap[0, 0].numel())
    if "ssim_and_map" not in job.cache:
        from .ssim import ssim

        need_map = job.keep_map or bool(job.wanted & {"ssim_min", "ssim_below"})
        ds = job.settings.downsample
        if need_map:
            job.cache["ssim_and_map"] = ssim(job.x, job.y, job.data_range, downsample=ds, return_map=True)
        else:  # no map kept: less memory on large images
            job.cache["ssim_and_map"] = (ssim(job.x, job.y, job.data_range, downsample=ds), None)
    return job.cache["ssim_and_map"]


def score_ms_ssim(job) -> dict[str, Tensor]:
    if "ms_ssim_value" in job.cache:
        return {"ms_ssim": job.cache["ms_ssim_value"]}
    if job.ignore is not None:
        from .masked import masked_ms_ssim_and_ssim

        value, first_scale, _ = masked_ms_ssim_and_ssim(job.x, job.y, job.data_range, job.ignore, warn=False)
    else:
        value, first_scale = ms_ssim_and_ssim(job.x, job.y, job.data_range, warn=False)
    if job.settings.downsample == "none":  # MS-SSIM's first scale is this SSIM, bit for bit
        job.cache["ssim"] = first_scale
    return {"ms_ssim": value}


def score_ssim(job) -> dict[str, Tensor]:
    if "ssim" not in job.cache and "ms_ssim" in job.wanted and job.settings.downsample == "none" \
            and min(job.x.shape[-2:]) >= min_side() and job.ignore is None \
            and not (job.keep_map or job.wanted & {"ssim_min", "ssim_below"}):
        job.cache["ms_ssim_value"] = score_ms_ssim(job)["ms_ssim"]  # one pass gives both
    if "ssim" in job.cache:
        return {"ssim": job.cache["ssim"]}
    return {"ssim": ssim_and_map(job)[0]}


# --------------------------------------------------------------------------- pixel

def _mse_of(job) -> Tensor:
    if "mse" not in job.cache:
        if job.ignore is not None:
            from .masked import masked_mse

            job.cache["mse"] = masked_mse(job.x, job.y, job.ignore)
        else:
            job.cache["mse"] = torch.zeros(job.n, dtype=torch.float64) if job.identical else mse(job.x, job.y)
    return job.cache["mse"]


def score_mse(job) -> dict[str, Tensor]:
    return {"mse": _mse_of(job)}


def score_psnr(job) -> dict[str, Tensor]:
    return {"psnr": psnr_from_mse(_mse_of(job), job.data_range)}


# --------------------------------------------------------------------------- tv

def score_tv(job) -> dict[str, Tensor]:
    """TV of both images scaled to [0, 1] (``tv_reference``, ``tv_distorted``)."""
    red = job.settings.tv_reduction
    if job.ignore is not None:
        from .masked import masked_tv

        return {"tv_reference": masked_tv(job.x, job.ignore, "l1", red, data_range=job.data_range),
                "tv_distorted": masked_tv(job.y, job.ignore, "l1", red, data_range=job.data_range)}
    tv_x = total_variation(job.x, "l1", red, data_range=job.data_range)
    tv_y = tv_x if job.identical else total_variation(job.y, "l1", red, data_range=job.data_range)
    return {"tv_reference": tv_x, "tv_distorted": tv_y}


# --------------------------------------------------------------------------- mix

def score_mix(job) -> dict[str, Tensor]:
    st = job.settings
    if job.ignore is not None:  # a training loss over whole images: no masked definition
        raise ValueError("not defined with an ignore mask")
    return {"mix": mix_loss(job.x, job.y, job.data_range, st.mix_alpha, st.mix_variant)}


# --------------------------------------------------------------------------- local

def changed(job) -> Tensor:
    """The (N, H, W) changed-pixel mask of a job, computed once (image units,
    after alpha handling, before the colour conversion)."""
    if "diff_mask" not in job.cache:
        x0 = job.x0
        if job.identical:
            job.cache["diff_mask"] = torch.zeros((x0.shape[0],) + tuple(x0.shape[2:]), dtype=torch.bool)
        elif job.ignore is not None:
            from .masked import masked_diff_mask

            job.cache["diff_mask"] = masked_diff_mask(x0, job.y0, job.ignore, job.settings.pixel_tol)
        else:
            job.cache["diff_mask"] = diff_mask(x0, job.y0, job.settings.pixel_tol)
    return job.cache["diff_mask"]


def score_diff_pixels(job) -> dict[str, Tensor]:
    return {"diff_pixels": changed(job).sum(dim=(1, 2))}


def score_diff_ratio(job) -> dict[str, Tensor]:
    mask = changed(job)
    pixels = float(mask.shape[-2] * mask.shape[-1])
    if job.ignore is not None:  # the ratio of the pixels that are compared
        pixels -= float(job.ignore.sum())
        if pixels <= 0:
            raise ValueError("every pixel is masked")
    return {"diff_ratio": mask.sum(dim=(1, 2)).to(torch.float64) / pixels}


def score_ssim_min(job) -> dict[str, Tensor]:
    smap = ssim_and_map(job)[1]
    if job.ignore is not None:
        from .masked import masked_ssim_min

        return {"ssim_min": masked_ssim_min(smap, None, job.settings.block)}
    return {"ssim_min": ssim_min(smap, job.settings.block)}


def score_ssim_below(job) -> dict[str, Tensor]:
    smap = ssim_and_map(job)[1]
    if job.ignore is not None:
        from .masked import masked_ssim_below

        return {"ssim_below": masked_ssim_below(smap, None, job.settings.below)}
    return {"ssim_below": ssim_below(smap, job.settings.below)}
