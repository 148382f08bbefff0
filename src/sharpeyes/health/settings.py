"""Settings of the health (运维) domain: ``[health]`` in the node's TOML file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class VqdThresholds(BaseModel):
    """Where each video-quality score turns into a fault (scores: see ``health.vqd``)."""

    dark_luma_max: float = Field(45.0, description="mean luma below this: black / very dark")
    bright_luma_min: float = Field(215.0, description="mean luma above this: over-bright")
    low_contrast_std_max: float = Field(14.0, description="luma standard deviation below this")
    blur_sharpness_min: float = Field(
        40.0, description="variance of the Laplacian (gradient energy) below this: defocused"
    )
    color_cast_max: float = Field(1.6, description="colour-cast factor K above this")
    noise_max: float = Field(9.0, description="estimated noise sigma (luma levels) above this")
    occlusion_area_max: float = Field(
        0.4, description="share of the picture covered by one uniform region above this"
    )
    freeze_diff_max: float = Field(
        1.5, description="mean absolute difference between sampled frames below this: frozen"
    )
    scene_similarity_min: float = Field(
        0.55, description="correlation with the channel's baseline below this: camera moved"
    )
    ptz_change_min: float = Field(
        3.0, description="mean absolute difference after a PTZ move below this: PTZ ignored"
    )


class AlarmSettings(BaseModel):
    """Platform alarm sources and notification defaults."""

    clock_drift_max_s: float = 10.0
    # 录像缺失: every check_s (0: off) look at the last window_s of scheduled recording;
    # min_s unrecorded seconds or more raise a recording_gap alarm.
    recording_gap_check_s: float = Field(300.0, ge=0)
    recording_gap_window_s: float = Field(600.0, gt=0)
    recording_gap_min_s: float = Field(60.0, ge=0)
    flap_window_s: float = 600.0
    flap_max_changes: int = 4
    webhook_timeout_s: float = 5.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "sharpeyes@localhost"


RegionLevel = Literal["province", "city", "county", "town", "village"]
# Civil-code digits of a region of each level (GB/T 2260 + township/village codes).
LEVEL_NAMES: dict[int, RegionLevel] = {
    2: "province",
    4: "city",
    6: "county",
    9: "town",
    12: "village",
}


class HealthSettings(BaseModel):
    timezone: str = Field("Asia/Shanghai", description="days of the rates are local days here")
    vqd: VqdThresholds = VqdThresholds()
    vqd_recheck_delay_s: float = Field(30.0, description="abnormal points are looked at again")
    patrol_concurrency: int = Field(4, ge=1, description="probes in flight per patrol")
    patrol_spacing_s: float = Field(0.2, ge=0, description="least time between probe starts")
    alarms: AlarmSettings = AlarmSettings()
    clock_check_on_register: bool = Field(
        False, description="ask each device that comes online for DeviceStatus and check its clock"
    )
    # Work-order SLA by alarm level (hours to close).
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"general": 72.0, "important": 24.0, "urgent": 4.0}
    )
    # Assessment weights (sum need not be 1: scores are normalised) and targets (%).
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "online": 0.25,
            "image": 0.2,
            "intact": 0.2,
            "recording": 0.1,
            "repair": 0.1,
            "ledger_complete": 0.1,
            "on_map": 0.05,
        }
    )
    targets: dict[str, float] = Field(
        default_factory=lambda: {
            "online": 70.0,
            "image": 50.0,
            "intact": 95.0,
            "recording": 90.0,
            "repair": 90.0,
            "ledger_complete": 90.0,
            "on_map": 90.0,
        }
    )
    # Per region level (province 2, city 4, county 6, town 9, village 12 digits): KPIs
    # given here replace the general weights/targets when ranking regions of that level,
    # e.g. ``[health.level_targets.town] online = 80``. Organisations use the general ones.
    level_weights: dict[RegionLevel, dict[str, float]] = Field(default_factory=dict)
    level_targets: dict[RegionLevel, dict[str, float]] = Field(default_factory=dict)

    def weights_for(self, level: int | None) -> tuple[dict[str, float], dict[str, float]]:
        """Weights and targets for regions of ``level`` digits (None: organisations)."""
        name = LEVEL_NAMES.get(level) if level is not None else None
        if name is None:
            return dict(self.weights), dict(self.targets)
        return (
            {**self.weights, **self.level_weights.get(name, {})},
            {**self.targets, **self.level_targets.get(name, {})},
        )
