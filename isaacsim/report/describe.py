"""The describe report: hierarchy, counts, area and peak power per PE, tile and chip (`describe`),
and its rich text form (`print_describe`; `isaacsim describe` prints it)."""

from __future__ import annotations

from isaacsim.components import UNITS, load_table, table_path
from isaacsim.config.models import Arch
from isaacsim.energy.peak import PeakRow, peak_summary


def _label(component: str) -> str:
    """The unit's name as `describe` prints it (the registry's long label)."""
    return UNITS[component].long_label if component in UNITS else component


def _row(r: PeakRow) -> dict:
    return {
        "component": r.component, "count": r.count, "action": r.action,
        "rate_per_unit_s": r.rate_per_unit_s, "energy_per_action_j": r.energy_per_action_j,
        "area_mm2": r.area_mm2, "peak_power_w": r.peak_power_w, "source": r.source,
    }


def describe(arch: Arch) -> dict:
    """The describe report as a dict: hierarchy counts, then area and peak power per level."""
    table = load_table(arch.components.table)
    s = peak_summary(arch, table)
    pe, tile, chip, xb = arch.pe, arch.tile, arch.chip, arch.crossbar
    per = {lvl: [_row(r) for r in s.rows if r.level == lvl] for lvl in ("pe", "tile", "chip")}
    adc = sum(r.peak_power_w for r in s.rows if r.component == "adc")
    return {
        "arch": arch.name,
        "description": arch.description,
        "clock_mhz": arch.clock_mhz,
        "tile_clock_mhz": float(arch.tile_clock.mhz),
        "noc_clock_mhz": float(arch.noc_clock.mhz),
        "table": {
            "name": table.name, "digest": table.digest(), "path": str(table_path(arch.components.table)),
            "technology_nm": table.technology_nm, "source": table.source,
            "leakage_note": table.leakage_note,
        },
        "hierarchy": {
            "tiles": chip.tiles, "pes_per_tile": tile.pes, "pes": chip.tiles * tile.pes,
            "crossbars_per_pe": pe.crossbars, "crossbar_rows": xb.rows, "crossbar_cols": xb.cols,
            "adcs_per_pe": pe.adcs, "dacs_per_pe": pe.crossbars * xb.rows,
            "sh_per_pe": pe.crossbars * xb.cols, "shift_add_per_pe": pe.shift_add_units,
            "tiles_per_router": chip.tiles_per_router, "routers": s.routers_per_chip,
            "hypertransport_links": chip.hypertransport_links,
            "crossbars": chip.tiles * tile.pes * pe.crossbars,
            "adcs": chip.tiles * tile.pes * pe.adcs,
        },
        "pe": {"area_mm2": s.pe_area_mm2, "peak_power_w": s.pe_power_w, "components": per["pe"]},
        "tile": {
            "area_mm2": s.tile_area_mm2, "peak_power_w": s.tile_power_w, "pes": tile.pes,
            "pes_area_mm2": tile.pes * s.pe_area_mm2, "pes_peak_power_w": tile.pes * s.pe_power_w,
            "components": per["tile"],
        },
        "chip": {
            "area_mm2": s.chip_area_mm2, "peak_power_w": s.chip_power_w, "tiles": chip.tiles,
            "tiles_area_mm2": chip.tiles * s.tile_area_mm2,
            "tiles_peak_power_w": chip.tiles * s.tile_power_w, "components": per["chip"],
        },
        "adc_share_of_peak_power": {
            "pe": adc / s.pe_power_w if s.pe_power_w else 0.0,
            "tile": tile.pes * adc / s.tile_power_w if s.tile_power_w else 0.0,
            "chip": chip.tiles * tile.pes * adc / s.chip_power_w if s.chip_power_w else 0.0,
        },
    }


def print_describe(d: dict, con=None) -> None:
    """The report of `describe` as a hierarchy tree and one table per level, on stdout (or `con`,
    a rich Console)."""
    from rich.tree import Tree

    from isaacsim.report.tables import Column, Row, console, print_table

    con = console() if con is None else con
    h, t = d["hierarchy"], d["table"]
    con.print(f"[bold]{d['arch']}[/bold]  {d['description']}")
    con.print(f"clock {d['clock_mhz']:g} MHz (tile logic {d['tile_clock_mhz']:g} MHz, NoC links "
              f"{d['noc_clock_mhz']:g} MHz); component table {t['name']} ({t['technology_nm']} nm, "
              f"digest {t['digest']}): {t['source']}")
    root = Tree(f"chip: {h['tiles']} tiles, {h['routers']} routers (1 per {h['tiles_per_router']} tiles), "
                f"{h['hypertransport_links']} HyperTransport links")
    tnode = root.add(f"tile (x{h['tiles']}): {h['pes_per_tile']} PEs, eDRAM, bus, S+A, NFU, output register")
    tnode.add(f"PE (x{h['pes_per_tile']} per tile): {h['crossbars_per_pe']} crossbars of "
              f"{h['crossbar_rows']}x{h['crossbar_cols']}, {h['dacs_per_pe']} DACs, {h['sh_per_pe']} S+H, "
              f"{h['adcs_per_pe']} ADCs, {h['shift_add_per_pe']} S+A, input/output registers")
    con.print(root)
    con.print(f"totals: {h['pes']} PEs, {h['crossbars']} crossbars, {h['adcs']} ADCs")

    def level(title: str, part: dict, extra: list[tuple[str, float, float]]) -> None:
        tot = part["peak_power_w"] or 1.0
        rows = [Row([name, "", f"{a:.5g}", f"{p * 1e3:.5g}", f"{p / tot:.1%}"]) for name, a, p in extra]
        rows += [Row([_label(c["component"]), f"{c['count']:g}", f"{c['area_mm2']:.5g}",
                      f"{c['peak_power_w'] * 1e3:.5g}", f"{c['peak_power_w'] / tot:.1%}"]) for c in part["components"]]
        rows.append(Row(["total", "", f"{part['area_mm2']:.5g}", f"{part['peak_power_w'] * 1e3:.5g}", "100.0%"],
                        style="bold"))
        print_table(con, [Column("component", "left")],
                    [[Column("count"), Column("area mm2"), Column("peak mW"), Column("share")]], rows,
                    title=title, title_justify="left")

    level("per PE", d["pe"], [])
    tl = d["tile"]
    level("per tile", tl, [(f"PEs (x{tl['pes']})", tl["pes_area_mm2"], tl["pes_peak_power_w"])])
    ch = d["chip"]
    level("chip", ch, [(f"tiles (x{ch['tiles']})", ch["tiles_area_mm2"], ch["tiles_peak_power_w"])])
    s = d["adc_share_of_peak_power"]
    con.print(f"ADC share of peak power: PE {s['pe']:.1%}, tile {s['tile']:.1%}, chip {s['chip']:.1%}")
    if t["leakage_note"]:
        con.print(f"leakage: {t['leakage_note']}")

