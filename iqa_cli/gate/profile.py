"""The check profile: what ``iqa check`` and the pytest plugin's
``iqa_image.check`` share, so that both give the same verdict on the same pair
with no options: the default gates, the metrics computed for context, the
settings whose default differs from the table's, and the gate's own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..settings import Setting

#: with the profile's noise tolerance (2 levels): the mean, the worst 16x16 block, and
#: PSNR for global shifts that structure alone forgives (+8 levels: SSIM 0.998, PSNR 30 dB)
DEFAULT_GATES: tuple[str, ...] = ("ssim<0.99", "ssim_min<0.95", "psnr<40dB")
#: metrics always computed for context when no metric list is given
CONTEXT_METRICS: tuple[str, ...] = ("ssim", "psnr")


@dataclass(frozen=True)
class Profile:
    gates: tuple[str, ...]
    context_metrics: tuple[str, ...]
    #: setting name -> its default under this profile (beats the table's default)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def metrics(self, named: Iterable[str] | None, gate_metrics: Iterable[str]) -> tuple[str, ...]:
        """The metrics of a check: the ones named (else the context metrics), then every gate's."""
        base = tuple(named) if named else self.context_metrics
        return tuple(dict.fromkeys([*base, *gate_metrics]))

    def default(self, decl: Setting) -> Any:
        return self.defaults.get(decl.name, decl.default)


#: ±2 levels of dither, anti-aliasing and GPU noise are no change at all under a check
CHECK = Profile(gates=DEFAULT_GATES, context_metrics=CONTEXT_METRICS, defaults={"tolerance": 2.0})

#: the gate's own settings (the config's fail_if and allow_new keys, check's flags)
GATE: dict[str, Setting] = {s.name: s for s in (
    Setting("fail_if", "strings", (), metavar='"METRIC OP VALUE"', multiple=True,
            help='Fail a pair when this holds (repeatable), e.g. "ssim<0.99", "diff_pixels>0". '
            "Default: the gates named above."),
    Setting("allow_new", "bool", False, help="Outputs without a baseline pass even when CI=true."),
)}
