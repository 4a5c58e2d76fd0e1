"""Schedule types beside the schedulers (A1111 1.9's "Schedule type", ComfyUI's scheduler): the σ lists diffusers
gives for each, the table checked against diffusers' own constructors, the old combined names still read, A1111's
infotext written and read back, the command line's names, and the new TCD and flow LCM schedulers built."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.schedule_types import (
    CLASS_SCHEDULES,
    SCHEDULE_TYPES,
    from_a1111,
    schedules_of,
    split_name,
)
from ddpm_studio.engine.jobs.scheduler_table import FLOW_SCHEDULERS, SCHEDULERS
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.output.metadata import a1111_parameters
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.sampling.schedulers import build_scheduler

SD_CONFIG = {"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "num_train_timesteps": 1000, "steps_offset": 1, "set_alpha_to_one": False, "skip_prk_steps": True,
             "timestep_spacing": "leading"}  # SD 1.5's scheduler config
FLOW_CONFIG = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}


def _sigmas(scheduler, steps: int = 8) -> np.ndarray:
    scheduler.set_timesteps(steps)
    return np.asarray(scheduler.sigmas if hasattr(scheduler, "sigmas") else scheduler.timesteps, dtype=np.float64)


def test_the_table_says_what_each_diffusers_class_takes():
    import diffusers

    for class_name, takes in CLASS_SCHEDULES.items():
        parameters = inspect.signature(getattr(diffusers, class_name).__init__).parameters
        for key in takes:
            assert set(SCHEDULE_TYPES[key].overrides) & set(parameters), (class_name, key)
        for key in ("karras", "exponential", "beta"):
            flag = next(iter(set(SCHEDULE_TYPES[key].overrides) - {"timestep_spacing"}))
            assert (key in takes) == (flag in parameters), (class_name, key)
    every = {spec.class_name for spec in [*SCHEDULERS.values(), *FLOW_SCHEDULERS.values()]}
    assert every <= set(CLASS_SCHEDULES)


@pytest.mark.parametrize("kind, direct", [
    ("karras", {"use_karras_sigmas": True}),
    ("exponential", {"timestep_spacing": "linspace", "use_exponential_sigmas": True}),
    ("beta", {"timestep_spacing": "linspace", "use_beta_sigmas": True}),
    ("sgm_uniform", {"timestep_spacing": "trailing"}),
    ("uniform", {"timestep_spacing": "linspace"}),
])
def test_each_schedule_type_gives_the_sigmas_diffusers_gives(kind, direct):
    from diffusers import EulerDiscreteScheduler

    ours = _sigmas(build_scheduler("euler", SD_CONFIG, kind))
    config = {k: v for k, v in SD_CONFIG.items() if not k.startswith("_")}
    theirs = _sigmas(EulerDiscreteScheduler.from_config({**config, **direct}))
    automatic = _sigmas(build_scheduler("euler", SD_CONFIG))
    assert np.allclose(ours, theirs) and not np.allclose(ours, automatic)


def test_karras_differs_from_uniform_and_the_old_combined_name_is_dpm_2m_with_karras():
    uniform = _sigmas(build_scheduler("dpm++2m", SD_CONFIG, "uniform"))
    karras = _sigmas(build_scheduler("dpm++2m", SD_CONFIG, "karras"))
    assert not np.allclose(uniform, karras) and karras[0] == pytest.approx(uniform[0], rel=1e-3)  # same σ_max
    assert np.allclose(_sigmas(build_scheduler("dpm++2m-karras", SD_CONFIG)), karras)
    assert build_scheduler("dpm++2m-karras", SD_CONFIG).config.use_karras_sigmas


def test_a_type_the_scheduler_does_not_take_is_refused_by_the_job_and_the_build():
    with pytest.raises(JobError, match="Euler a scheduler takes no Karras"):
        Text2ImageJob(model="m", prompt="x", scheduler="euler-a", schedule="karras")
    with pytest.raises(JobError, match="Unknown schedule type 'polyexponential'"):
        Text2ImageJob(model="m", prompt="x", schedule="polyexponential")
    with pytest.raises(ModelError, match="LCM scheduler takes no SGM Uniform"):
        build_scheduler("lcm", SD_CONFIG, "sgm_uniform")
    with pytest.raises(ModelError, match="flow-matching model takes no Karras schedule; leave it on Automatic"):
        build_scheduler("unipc", FLOW_CONFIG, "karras")  # the flow solvers: Karras would replace their flow σ
    assert schedules_of("euler-a") == ("", "uniform", "sgm_uniform", "simple")
    assert schedules_of("euler", flow=True) == ("", "karras", "exponential", "beta")


def test_combined_names_split_and_old_jobs_load_unchanged():
    assert split_name("dpm++2m-karras") == ("dpm++2m", "karras")
    assert split_name("euler-sgm_uniform") == ("euler", "sgm_uniform")
    assert split_name("euler-a") == ("euler-a", "") and split_name("euler-a-karras") == ("euler-a", "karras")
    old = {"kind": "txt2img", "model": "m", "prompt": "x", "scheduler": "dpm++2m-karras", "steps": 20}
    job = Text2ImageJob.from_dict(old)
    assert job.scheduler == "dpm++2m-karras" and job.schedule == ""  # read as it was written
    assert Text2ImageJob.from_dict(job.to_dict()) == job


@pytest.mark.parametrize("scheduler, schedule", [("dpm++2m", "karras"), ("euler", "sgm_uniform"), ("euler", "beta"),
                                                 ("unipc", "exponential"), ("euler-a", ""), ("tcd", ""), ("lcm", ""),
                                                 ("dpm++2m", "")])
def test_the_infotext_says_sampler_and_schedule_type_and_reads_back(scheduler, schedule):
    job = Text2ImageJob(model="m", prompt="x", scheduler=scheduler, schedule=schedule, steps=4)
    fields = parse_a1111(a1111_parameters(job, seed=1, width=64, height=64, model_name="m", device="cpu"))
    assert fields["Sampler"] == SCHEDULERS[scheduler].a1111_sampler
    assert fields.get("Schedule type", "") == (SCHEDULE_TYPES[schedule].label if schedule else "")
    assert from_a1111(fields["Sampler"], fields.get("Schedule type", "")) == (scheduler, schedule)


def test_old_infotexts_and_old_jobs_write_and_read_as_a1111_19_does():
    job = Text2ImageJob(model="m", prompt="x", scheduler="dpm++2m-karras")
    text = a1111_parameters(job, seed=1, width=64, height=64, model_name="m", device="cpu")
    assert "Sampler: DPM++ 2M, Schedule type: Karras" in text
    assert from_a1111("DPM++ 2M Karras") == ("dpm++2m", "karras")  # A1111 before 1.9
    assert from_a1111("Euler a", "Automatic") == ("euler-a", "")
    assert from_a1111("DPM++ 2M SDE") is None


def test_the_command_line_takes_tcd_lcm_combined_names_and_a_schedule():
    from ddpm_studio.cli import build_parser
    from ddpm_studio.commands.scheduling import job_scheduler

    parser = build_parser()

    def picked(*flags):
        args = parser.parse_args(["txt2img", "--model", "m", "--prompt", "x", *flags])
        return job_scheduler(args, {"scheduler": "euler"}, "dpm++2m")

    assert picked("--scheduler", "tcd") == {"scheduler": "tcd", "schedule": ""}
    assert picked("--scheduler", "lcm") == {"scheduler": "lcm", "schedule": ""}
    assert picked("--scheduler", "dpm++2m-karras") == {"scheduler": "dpm++2m", "schedule": "karras"}
    assert picked("--scheduler", "euler", "--schedule", "beta") == {"scheduler": "euler", "schedule": "beta"}
    assert picked("--schedule", "sgm_uniform") == {"scheduler": "euler", "schedule": "sgm_uniform"}  # the model's
    assert picked() == {"scheduler": "euler", "schedule": ""}
    with pytest.raises(SystemExit):
        picked("--scheduler", "dpm++3m")


def test_tcd_and_the_flow_lcm_are_built_on_the_models_config():
    tcd = build_scheduler("tcd", SD_CONFIG)
    assert type(tcd).__name__ == "TCDScheduler" and tcd.config.beta_schedule == "scaled_linear"
    lcm = build_scheduler("lcm", {**FLOW_CONFIG, "use_dynamic_shifting": True, "base_shift": 0.5})
    assert type(lcm).__name__ == "FlowMatchLCMScheduler" and lcm.config.shift == 3.0 and lcm.config.use_dynamic_shifting
    karras = build_scheduler("lcm", FLOW_CONFIG, "karras")
    assert karras.config.use_karras_sigmas and not np.allclose(_sigmas(karras), _sigmas(build_scheduler("lcm", FLOW_CONFIG)))
    assert type(build_scheduler("lcm", SD_CONFIG)).__name__ == "LCMScheduler"  # an SD model's LCM is its own


def test_a_grid_axis_takes_combined_names_and_keeps_a_schedule_its_scheduler_takes():
    from ddpm_studio.engine.series.xyz_grid import parse_axis

    axis = parse_axis("scheduler=euler-karras,DDIM,dpm++2m-karras,unipc")
    base = Text2ImageJob(model="m", prompt="x", scheduler="euler", schedule="beta")
    cells = [(job.scheduler, job.schedule) for job in (axis.apply(base, value) for value in axis.values)]
    assert cells == [("euler", "karras"), ("ddim", ""), ("dpm++2m", "karras"), ("unipc", "beta")]
    with pytest.raises(JobError, match="not a scheduler"):
        parse_axis("scheduler=euler-polyexponential")


def test_race_lanes_take_combined_names_and_the_bases_schedule_where_it_fits():
    from ddpm_studio.engine.jobs.race import RaceJob

    base = Text2ImageJob(model="m", prompt="x", scheduler="euler", schedule="sgm_uniform", batch_size=1)
    race = RaceJob(base=base, field="scheduler", values=("euler-karras", "lcm", "ddim", "dpm++2m-karras"))
    assert [(job.scheduler, job.schedule) for job in race.lanes()] == [
        ("euler", "karras"), ("lcm", ""), ("ddim", "sgm_uniform"), ("dpm++2m", "karras")]
