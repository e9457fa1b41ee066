"""`isaacsim run`: the per-layer ADC table of a run (`print_text`), a timing-only run's text
(`print_timing_only`), and the command (`run_command`): simulate, print text or JSON, write the
--trace file.

--out DIR is the run's record (`isaacsim.pipeline.record`), which `simulate(..., out=DIR)`
writes even when the run stops part-way; the exit code is then 2 (error) or 130 (interrupted).
"""

from __future__ import annotations

import json
import sys

from isaacsim.config.models import Arch
from isaacsim.errors import ConfigError, IsaacsimError
from isaacsim.pipeline import Result
from isaacsim.pipeline.record import out_dir
from isaacsim.workload.resolve import resolve_workload


def check_timing_options(no_timing: bool, timing_report: bool, trace: str | None, timing_only: bool = False,
                         profile: str | None = None, samples: int | None = None,
                         batch_size: int | None = None) -> None:
    if no_timing and (timing_report or trace is not None):
        raise ConfigError("--no-timing cannot be combined with --timing-report or --trace")
    if timing_only and no_timing:
        raise ConfigError("--timing-only cannot be combined with --no-timing")
    if timing_only and (samples is not None or batch_size is not None):
        raise ConfigError("--timing-only runs no samples: drop --samples and --batch-size")
    if profile is not None and not timing_only:
        raise ConfigError("--profile applies to --timing-only runs")


def _adc_text(adc: dict) -> str:
    if adc["mode"] == "ideal":
        return f"ideal {adc['resolution']}b"
    if adc["mode"] == "uniform":
        return f"uniform {adc['bits']}b step {adc['delta']:g}"
    bias = f" b={adc['bias']}" if adc["bias"] else ""
    d1 = f" D1={adc['delta_r1']:g}" if adc["delta_r1"] != 1 else ""
    return f"trq n_r1={adc['n_r1']} n_r2={adc['n_r2']} m={adc['m']}{d1}{bias}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def print_text(res: Result) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from isaacsim.pipeline import RANDOM_SEED

    con = Console(highlight=False)
    if not con.is_terminal:  # files and pipes: never cut numbers to fit 80 columns
        con.width = max(con.width, 200)
    s = res.summary()
    if s["sample_source"] == "none":
        print_timing_only(res, con)
        return
    src = {"eval": "eval set", "calib": "calib set", "random": f"random inputs, seed {RANDOM_SEED}"}[s["sample_source"]]
    done = f"{s['samples']}" if s["samples"] == res.samples_planned else f"{s['samples']} of {res.samples_planned}"
    con.print(f"[bold]{s['workload']}[/bold] on [bold]{s['arch']}[/bold]: {done} samples ({src}), "
              f"{s['batches']} batch(es) of up to {s['batch_size']}")
    if s["status"] != "ok":
        con.print(f"[bold]status {s['status']}[/bold]: {s['error']}")
    adcs: dict[str, list[str]] = {}
    for ly in s["layers"]:
        adcs.setdefault(_adc_text(ly["adc"]), []).append(ly["name"])
    per_layer_adc = len(adcs) > 1
    if per_layer_adc:
        for text, names in adcs.items():
            con.print(f"ADC {text}: {', '.join(names)}")
    else:
        con.print(f"ADC (every layer): {next(iter(adcs))}")
    tab = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    cols = [("layer", "left")] + ([("ADC", "left")] if per_layer_adc else []) + [
        ("conversions", "right"), ("A/D ops", "right"), ("ops/conv", "right"), ("R1 share", "right"),
        ("overflows", "right")]
    for col, just in cols:
        tab.add_column(col, justify=just, no_wrap=col != "layer", overflow="fold" if col == "layer" else "ellipsis")
    for ly in s["layers"]:
        adc = [ly["adc"]["mode"]] if per_layer_adc else []
        tab.add_row(ly["name"], *adc, f"{ly['conversions']:,}", f"{ly['ad_ops']:,}",
                    _num(ly["ops_per_conversion"]), _pct(ly["r1_share"]), f"{ly['overflows']:,}")
    a = s["adc"]
    trq = any(ly["adc"]["mode"] == "trq" for ly in s["layers"])
    r1 = a["r1_conversions"] / a["conversions"] if trq and a["conversions"] else None
    tab.add_section()
    tab.add_row("total", *([""] if per_layer_adc else []), f"{a['conversions']:,}", f"{a['ad_ops']:,}",
                _num(a["ops_per_conversion"]), _pct(r1), f"{a['overflows']:,}", style="bold")
    con.print(tab)
    acc = (f"accuracy {_pct(s['accuracy'])} (ideal ADC {_pct(s['reference_accuracy'])})"
           if s["accuracy"] is not None else "accuracy - (no labels)")
    con.print(f"{acc}; top-1 agreement with the ideal ADC {_pct(s['agreement'])}")
    from isaacsim.report.energy import energy_lines

    for line in energy_lines(s["energy"]):
        con.print(line)
    m = s["mapping"]
    con.print(f"mapping: {m['crossbars_used']:,} crossbars on {m['pes_used']:,} PEs, {m['tiles_used']} of "
              f"{m['tiles']} tiles")
    con.print(f"wall time: {s['wall_s']:.3f} s simulated, {s['reference_wall_s']:.3f} s reference")


def print_timing_only(res: Result, con) -> None:
    """The text of a timing-only run: what the A/D operations came from, latency and per-layer cycles."""
    t, how = res.timing, res.timing_only
    src = {"profile": "the profile's mean A/D ops per conversion", "worst_case": "the ADC registers' worst case",
           "mixed": "the profile, worst case for " + ", ".join(how.worst_case_layers)}[how.ops_source]
    con.print(f"[bold]{res.workload}[/bold] on [bold]{res.arch.name}[/bold]: timing only (approximate), "
              f"no samples run; A/D ops from {src}")
    for ly in t.layers:
        con.print(f"  {ly['name']}: {ly['cycles']:,} cycles (bound {ly['bound_cycles']:,}), "
                  f"{ly['conversions']:,} conversions, {ly['ad_ops']:,} A/D ops")
    con.print(f"latency {t.latency_cycles:,} cycles ({t.latency_s * 1e6:.3f} us), "
              f"throughput {t.throughput_ips:,.1f} inferences/s")
    from isaacsim.report.energy import energy_lines

    for line in energy_lines(res.summary()["energy"]):  # from the same synthetic A/D operations
        con.print(line)
    con.print(f"wall time: {res.wall_s:.3f} s")


def run_command(arch: Arch, workload: str, *, samples: int | None = None, registers: str | None = None,
                out: str | None = None, as_json: bool = False, batch_size: int | None = None,
                timing: str = "default", timing_report: bool = False, trace: str | None = None,
                no_timing: bool = False, timing_only: bool = False, profile: str | None = None) -> int:
    """Run (leaving the record in --out), print; 0 on success, 2 after a failed run, 130 after an interrupt."""
    from isaacsim.pipeline import simulate

    check_timing_options(no_timing, timing_report, trace, timing_only, profile, samples, batch_size)
    record = out_dir(out, "--out") if out is not None else None
    wl = resolve_workload(workload)
    timeline = None
    if trace is not None:
        from isaacsim.report.perfetto import max_events_for
        from isaacsim.timing.events import Timeline

        # a cap that keeps the file under 50 MB; tracks: a PE and its ADC pool per PE, plus layers
        timeline = Timeline(max_events=max_events_for(tracks=2 * arch.chip.tiles * arch.tile.pes + 1024))
    res = simulate(arch, wl, samples=samples, registers=registers, batch_size=batch_size,
                   progress=True, raise_on_error=False, timing=not no_timing, timing_granularity=timing,
                   timeline=timeline, timing_only=timing_only, profile=profile, out=record)
    if trace is not None and res.timing is not None:
        from isaacsim.report.perfetto import write_trace

        try:
            write_trace(timeline, trace, clock_hz=float(res.timing.clock.hz))
        except OSError as e:
            raise ConfigError(f"--trace {trace}: cannot write ({e.__class__.__name__}: {e.strerror or e})") from None
    if as_json:
        print(json.dumps(res.summary(), indent=2))
    else:
        print_text(res)
        if timing_report:
            from isaacsim.report.timing import print_timing

            print_timing(res)
    if res.status == "interrupted":
        sys.stderr.write(f"isaacsim: {res.error}\n")
        return 130
    if res.status == "failed":
        if not isinstance(res.exception, IsaacsimError):
            raise res.exception
        sys.stderr.write(f"isaacsim: error: {' '.join(str(res.error).split())}\n")
        return 2
    return 0
