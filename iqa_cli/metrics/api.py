"""The public metric functions with a ``protocol`` and ``crop_border``:
``ssim(x, y, L, protocol="basicsr", crop_border=4)`` gives BasicSR's number,
the default gives Wang's (the functions of :mod:`.ssim`, :mod:`.ms_ssim` and
:mod:`.pixel`, with every keyword they take). The losses stay on Wang's
definitions."""

from __future__ import annotations

import functools

from .protocols import DEFAULT_PROTOCOL

_NOTE = """

    Protocol (``iqa protocols`` lists them): ``protocol="wang"`` (default) is
    the function above; another name computes that community's definition
    (e.g. ``"basicsr"``, ``"pyiqa"``, ``"skimage"``, ``"tf"``), with
    ``color="rgb"|"y"|"gray"`` its colour conversion, after removing
    ``crop_border`` pixels from each side of both images.
"""


def _with_protocol(name: str, module: str):
    import importlib

    original = getattr(importlib.import_module(module, __package__), name)
    # resolved once here: per call, the import machinery cost ~10 µs of a small image's ~100 µs
    ms_ssim_and_ssim = importlib.import_module(".ms_ssim", __package__).ms_ssim_and_ssim if name == "ms_ssim" else None

    def wrapper(x, y, *args, protocol: str = DEFAULT_PROTOCOL, crop_border: int = 0, color: str = "rgb",
                **kw):
        if protocol == DEFAULT_PROTOCOL and color == "rgb":
            if crop_border:
                from .protocols import crop_border as crop

                x, y = crop(x, crop_border), crop(y, crop_border)
            if ms_ssim_and_ssim is not None:  # its NaN warning names the caller's line, one frame further up
                return ms_ssim_and_ssim(x, y, *args, stacklevel=3, **kw)[0]
            return original(x, y, *args, **kw)
        from . import protocols

        data_range = args[0] if args else kw.pop("data_range", None)
        if kw:
            raise TypeError(f"{name}(protocol={protocol!r}): keywords {sorted(kw)} are Wang-path options")
        if data_range is None:
            raise TypeError(f"{name}(protocol={protocol!r}) needs data_range")
        return getattr(protocols, f"protocol_{name}")(x, y, data_range, protocol=protocol, color=color,
                                                      crop_border=crop_border)

    functools.update_wrapper(wrapper, original)
    wrapper.__doc__ = (original.__doc__ or "") + _NOTE
    return wrapper


def __getattr__(attr: str):
    modules = {"ssim": ".ssim", "ms_ssim": ".ms_ssim", "psnr": ".pixel", "mse": ".pixel"}
    if attr in modules:
        fn = _with_protocol(attr, modules[attr])
        globals()[attr] = fn
        return fn
    raise AttributeError(attr)
