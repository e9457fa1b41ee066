"""The text of a run: the per-layer ADC table (`print_text`) and a timing-only run's text
(`print_timing_only`). The `isaacsim run` command itself is `isaacsim.commands.run`."""

from __future__ import annotations

from isaacsim.adc.kinds import kind
from isaacsim.adc.registers import ADCRegisters
from isaacsim.pipeline import Result


def _adc_text(adc: dict) -> str:
    return ADCRegisters.from_dict(adc).describe()


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def _bits(layer: dict) -> str:
    """A layer's own weight / input bits ("8/4"), with "s" for signed inputs."""
    return f"{layer['weight_bits']}/{layer['input_bits']}{'s' if layer.get('input_signed') else ''}"


def _print_bits(con, layers: list[dict]) -> None:
    """One line of the layers' own widths, grouped: "bits (weights/inputs) 8/8: conv1, fc3; 4/4: ..."."""
    groups: dict[str, list[str]] = {}
    for ly in layers:
        if "weight_bits" in ly:
            groups.setdefault(_bits(ly), []).append(ly["name"])
    if len(groups) == 1:
        con.print(f"bits (weights/inputs): {next(iter(groups))} every layer")
    elif groups:
        con.print("bits (weights/inputs) " + "; ".join(f"{b}: {', '.join(n)}" for b, n in groups.items()))


def per_inference(total: int, samples: int) -> str:
    """A count over `samples` samples as a mean per inference: exact when whole, else rounded."""
    if samples <= 0:
        return "-"
    if total % samples == 0:
        return f"{total // samples:,}"
    v = total / samples
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"


def print_text(res: Result, con=None) -> None:
    """The run's text: what ran, the per-layer ADC table (counts per inference), accuracy, energy,
    mapping and wall time; `con` a rich Console (default: stdout, `isaacsim.report.tables.console`)."""
    from rich import box

    from isaacsim.pipeline import RANDOM_SEED
    from isaacsim.report.tables import Column, Row, console, print_table

    con = console() if con is None else con
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
    n = s["samples"]
    _print_bits(con, s["layers"])
    key = [Column("layer", "left")] + ([Column("ADC", "left")] if per_layer_adc else [])
    groups = [[Column("conversions\n/ inference"), Column("A/D ops\n/ inference"), Column("A/D ops\n/ conv.")],
              [Column("R1 share"), Column("overflows\n/ inference")]]
    rows = [Row([ly["name"], *([ly["adc"]["mode"]] if per_layer_adc else []), per_inference(ly["conversions"], n),
                 per_inference(ly["ad_ops"], n), _num(ly["ops_per_conversion"]), _pct(ly["r1_share"]),
                 per_inference(ly["overflows"], n)]) for ly in s["layers"]]
    a = s["adc"]
    trq = any(kind(ly["adc"]["mode"]).has_ranges for ly in s["layers"])
    r1 = a["r1_conversions"] / a["conversions"] if trq and a["conversions"] else None
    rows.append(Row(["total", *([""] if per_layer_adc else []), per_inference(a["conversions"], n),
                     per_inference(a["ad_ops"], n), _num(a["ops_per_conversion"]), _pct(r1),
                     per_inference(a["overflows"], n)], style="bold", rule_before=True))
    caption = (f"/ inference = the total over the {n:,} sample{'s' if n != 1 else ''} run (run --json) / {n:,}"
               if n else "no sample completed")
    print_table(con, key, groups, rows, box=box.SIMPLE_HEAD, pad_edge=False, caption=caption, caption_justify="left")
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
    from rich import box

    from isaacsim.report.tables import Column, Row, print_table

    print_table(con, [Column("layer", "left")], [[Column("cycles"), Column("bound")],
                                                 [Column("conversions\n/ inference"), Column("A/D ops\n/ inference")]],
                [Row([ly["name"], f"{ly['cycles']:,}", f"{ly['bound_cycles']:,}", f"{ly['conversions']:,}",
                      f"{ly['ad_ops']:,}"]) for ly in t.layers], box=box.SIMPLE_HEAD, pad_edge=False)
    con.print(f"latency {t.latency_cycles:,} cycles ({t.latency_s * 1e6:.3f} us), "
              f"throughput {t.throughput_ips:,.1f} inferences/s")
    from isaacsim.report.energy import energy_lines

    for line in energy_lines(res.summary()["energy"]):  # from the same synthetic A/D operations
        con.print(line)
    con.print(f"wall time: {res.wall_s:.3f} s")
