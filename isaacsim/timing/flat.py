"""The network pipeline as one flat int64 arena for the numba event loop
(`isaacsim.kernels.pipeline`), and its results written back into the layers, edges and servers
the report reads.

`run_flat(layers, res, move, config_load, rates)` packs what the simpy processes of
`isaacsim.timing.network` read (each layer's windows, PE steps and rounds, what each window
and output moves, the edges' needs and buffer gates, the servers' rates and state), runs the
loop, and fills the same `LayerState`, `Edge` and `Resources` fields the simpy run fills, so the
report (`isaacsim.timing.collect`) cannot tell them apart. It returns the events processed, or
None when a product could leave int64 (the caller then runs the simpy model).
"""

from __future__ import annotations

import numpy as np

from isaacsim.kernels import pipeline as kernel
from isaacsim.timing.layer import Rates
from isaacsim.timing.movement import Movement
from isaacsim.timing.resources import Resources, Server
from isaacsim.timing.state import LayerState

FIXED_STAGES = ("edram", "tile_bus", "input_register", "tile_output_register", "tile_shift_add", "noc_link")
"""Stages with fixed ids in the kernel (`isaacsim.kernels.pipeline.EDRAM` ...); NFU units follow."""


def _i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _cat(arrays) -> np.ndarray:
    return np.concatenate([_i64(x) for x in arrays]) if len(arrays) else _i64([])


def _ptr(counts) -> np.ndarray:
    """CSR row pointers of rows with `counts` entries."""
    return np.concatenate([[0], np.cumsum(_i64(counts))]).astype(np.int64)


class _Flat:
    """The arena's segments (`isaacsim.kernels.pipeline.SEGMENTS`) of one run, by name."""

    def __init__(self, layers: dict[str, LayerState], res: Resources, move: Movement):
        self.L = list(layers.values())
        self.index = {L.name: i for i, L in enumerate(self.L)}
        self.res, self.move = res, move
        self.edges = [e for L in self.L for e in L.inputs]
        self.edge_id = {id(e): i for i, e in enumerate(self.edges)}
        self.stage_id = {s: i for i, s in enumerate(FIXED_STAGES)}
        for L in self.L:
            for unit in L.nfu:
                self.stage_id.setdefault(unit, len(self.stage_id))
        self.seg: dict[str, np.ndarray] = {}

    def layers(self) -> None:
        L_, seg = self.L, self.seg
        self.win_off, self.pe_off = _ptr([len(L.ready) for L in L_]), _ptr([L.n_pes for L in L_])
        seg |= {"win_off": self.win_off[:-1], "copies": _i64([L.lp.copies for L in L_]),
                "n_win": _i64([len(L.ready) for L in L_]), "lc_off": _ptr([L.lp.copies for L in L_])[:-1],
                "input_ready": _i64([L.input_ready for L in L_]), "cyc": _i64([L.cyc for L in L_]),
                "start": _i64([L.start for L in L_]), "out_end": _i64([L.out_end for L in L_]),
                "cst": np.zeros(kernel.CST_FIELDS * len(L_), np.int64),
                "est": np.zeros(kernel.EST_FIELDS * len(L_), np.int64),
                "w_ready": _cat([L.ready for L in L_]), "w_end": _cat([L.end for L in L_]),
                "w_rem": _cat([L.remaining for L in L_])}

    def pes(self) -> None:
        L_ = self.L
        bases = _ptr([len(L.conv) for L in L_])
        self.seg |= {"read_state": _cat([L.read_state for L in L_]), "conv_state": _cat([L.conv_state for L in L_]),
                     "first": _cat([L.first for L in L_]), "pe_ready": _cat([L.pe_ready for L in L_]),
                     "step_off": _cat([L.offsets[:-1] + b for L, b in zip(L_, bases, strict=False)]),
                     "pr_off": _ptr(_cat([L.pw.rounds for L in L_]))[:-1],
                     "counters": _cat([L.counters.ravel() for L in L_]),
                     "adc": _cat([L.pw.adc for L in L_]), "sa": _cat([L.pw.sa for L in L_])}

    def triggers(self) -> None:
        """Over the run's windows, the PE rounds each completes; over its PE rounds, their windows."""
        ptrs, pes, rounds, rw_counts, rw_wins, top = [_i64([0])], [], [], [], [], 0
        for li, L in enumerate(self.L):
            ptr, pe, r = L.pw.triggers
            ptrs.append(ptr[1:] + top)
            top += int(ptr[-1])
            pes.append(pe + self.pe_off[li])
            rounds.append(r)
            _, _, rw_ptr, wins = L.pw.round_windows
            rw_counts.append(np.diff(rw_ptr))
            rw_wins.append(wins)
        self.seg |= {"trig_ptr": _cat(ptrs), "trig_pe": _cat(pes), "trig_round": _cat(rounds),
                     "rw_ptr": _ptr(_cat(rw_counts)), "rw_win": _cat(rw_wins)}

    def fetch(self) -> None:
        g_count, g_tile, g_bits, p_count, p_pe, p_inst, p_bits = [], [], [], [], [], [], []
        for li, L in enumerate(self.L):
            for tr in L.traffic:
                g_count.append(len(tr.fetch))
                for f in tr.fetch:
                    g_tile.append(f.tile)
                    g_bits.append(f.bits)
                    p_count.append(len(f.pes))
                    p_pe.append(f.pes + self.pe_off[li])
                    p_inst.append(f.pes + L.lp.first_pe)
                    p_bits.append(f.ir_bits)
        self.seg |= {"fg_ptr": _ptr(g_count), "fg_tile": _i64(g_tile), "fg_bits": _i64(g_bits),
                     "fp_ptr": _ptr(p_count), "fp_pe": _cat(p_pe), "fp_inst": _cat(p_inst), "fp_bits": _cat(p_bits)}

    def partials(self) -> None:
        count, tile, bus, adds, noc, last, fbits, fadds = [], [], [], [], [], [], [], []
        for L in self.L:
            for tr in L.traffic:
                count.append(len(tr.partials))
                for p in tr.partials:
                    tile.append(p.tile)
                    bus.append(p.bus_bits)
                    adds.append(p.adds)
                    noc.append(p.noc_bits)
                last.append(tr.last_tile)
                fbits.append(tr.final_bits)
                fadds.append(tr.final_adds)
        self.seg |= {"pa_ptr": _ptr(count), "pa_tile": _i64(tile), "pa_bus": _i64(bus), "pa_adds": _i64(adds),
                     "pa_noc": _i64(noc), "last_tile": _i64(last), "final_bits": _i64(fbits),
                     "final_adds": _i64(fadds), "nfu_ptr": _ptr([len(L.nfu) for L in self.L]),
                     "nfu_stage": _i64([self.stage_id[u] for L in self.L for u in L.nfu]),
                     "nfu_total": _i64([w for L in self.L for w in L.nfu.values()])}

    def edge_arrays(self) -> None:
        E, tpr, nl = self.edges, self.move.tpr, len(self.L)
        ie = [[self.edge_id[id(e)] for e in L.inputs] for L in self.L]
        oe = [[self.edge_id[id(e)] for e in L.outputs] for L in self.L]
        routers = [[t // tpr for t in e.dst_tiles] for e in E]
        self.seg |= {"ie_ptr": _ptr([len(x) for x in ie]), "ie_edge": _i64([i for x in ie for i in x]),
                     "need_off": _ptr([len(e.need) for e in E])[:-1], "need": _cat([e.need for e in E]),
                     "arr_ser": np.arange(2 * nl, 2 * nl + len(E), dtype=np.int64),
                     "oe_ptr": _ptr([len(x) for x in oe]), "oe_edge": _i64([i for x in oe for i in x]),
                     "gate_off": _ptr([len(e.gate) for e in E])[:-1], "gate": _cat([e.gate for e in E]),
                     "e_dst": _i64([self.index[e.dst] for e in E]), "e_bits": _i64([e.bits_per_output for e in E]),
                     "e_last": _i64([e.last for e in E]), "dt_ptr": _ptr([len(e.dst_tiles) for e in E]),
                     "dt_tile": _i64([t for e in E for t in e.dst_tiles]),
                     "e_lo": _i64([min(r) for r in routers]), "e_hi": _i64([max(r) for r in routers])}

    def series(self) -> None:
        """Done (layer l), release (layers + l) and arrival (2 layers + edge) series."""
        self.all_series = [L.done for L in self.L] + [L.release for L in self.L] + [e.arrival for e in self.edges]
        if any(s._wait for s in self.all_series):
            raise ValueError("a series has waiters before the run")
        lens = _i64([len(s.t) for s in self.all_series])
        n_proc = 2 * len(self.L)
        self.seg |= {"ser_t": _cat([s.t for s in self.all_series]), "ser_set": _cat([s.set for s in self.all_series]),
                     "ser_off": _ptr(lens)[:-1], "ser_len": lens, "known": _i64([s.known for s in self.all_series]),
                     "nwait": np.zeros(len(lens), np.int64), "w_ser": np.full(n_proc, -1, np.int64),
                     "w_idx": np.zeros(n_proc, np.int64), "w_seq": np.zeros(n_proc, np.int64)}

    def servers(self) -> None:
        """Every instance of every stage the kernel may reserve, with the servers' state so far."""
        res, tpr = self.res, self.move.tpr
        tiles = [t for L in self.L for t in L.lp.tiles]
        tiles += [t for L in self.L for tr in L.traffic for t in [tr.last_tile, *(f.tile for f in tr.fetch),
                                                                   *(p.tile for p in tr.partials)]]
        n_tiles = max([*tiles, *(_top(res, s) - 1 for s in res.servers if s not in ("input_register", "noc_link"))],
                      default=0) + 1
        n_pes = max([L.lp.first_pe + L.n_pes for L in self.L] + [_top(res, "input_register")])
        n_routers = max((n_tiles - 1) // tpr + 1, _top(res, "noc_link"))
        self.layout = []
        sbase = np.full(len(self.stage_id), -1, np.int64)
        p, q, free, work = [], [], [], []
        for stage, sid in self.stage_id.items():
            if not res.has(stage):
                continue
            n = n_pes if stage == "input_register" else n_routers if stage == "noc_link" else n_tiles
            sbase[sid] = len(p)
            rate, have = res.rate(stage), res.servers[stage]
            self.layout.append((stage, len(p), n))
            p += [rate.numerator] * n
            q += [rate.denominator] * n
            free += [have[i]._free if i in have else 0 for i in range(n)]
            work += [have[i].work if i in have else 0 for i in range(n)]
        self.seg |= {"sbase": sbase, "rp": _i64(p), "rq": _i64(q), "free": _i64(free), "done": _i64(work)}

    def arena(self, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.seg |= {"rates": rates, "st": np.zeros(kernel.ST_FIELDS, np.int64)}
        parts = [self.seg[name] for name in kernel.SEGMENTS]
        self.off = _ptr([len(x) for x in parts])
        return _cat(parts), self.off

    def get(self, a: np.ndarray, name: str) -> np.ndarray:
        k = kernel.SEGMENTS.index(name)
        return a[self.off[k]:self.off[k + 1]]

    def write_back(self, a: np.ndarray) -> None:
        """The run's results into the layers, series, edges and servers."""
        g = lambda name: self.get(a, name)  # noqa: E731
        counters = g("counters").reshape(-1, kernel.N_COUNTERS)
        est = g("est").reshape(-1, kernel.EST_FIELDS)
        for li, L in enumerate(self.L):
            w = slice(self.win_off[li], self.win_off[li + 1])
            e = slice(self.pe_off[li], self.pe_off[li + 1])
            L.ready[:], L.end[:], L.remaining[:] = g("w_ready")[w], g("w_end")[w], g("w_rem")[w]
            L.read_state[:], L.conv_state[:], L.counters[:] = g("read_state")[e], g("conv_state")[e], counters[e]
            L.first[:], L.pe_ready[:] = g("first")[e], g("pe_ready")[e]
            L.start, L.out_end = int(g("start")[li]), int(g("out_end")[li])
            L.stall_buffer += int(est[li, 6])
        t, done, off, lens, known = g("ser_t"), g("ser_set"), g("ser_off"), g("ser_len"), g("known")
        for k, s in enumerate(self.all_series):
            sl = slice(off[k], off[k] + lens[k])
            s.t[:], s.set[:], s.known = t[sl], done[sl].astype(bool), int(known[k])
        for k, e in enumerate(self.edges):
            e.last = int(g("e_last")[k])
        free, work = g("free"), g("done")
        for stage, base, n in self.layout:
            servers = self.res.servers[stage]
            for i in np.flatnonzero(work[base:base + n]).tolist():
                s = servers.get(i) or servers.setdefault(i, Server(self.res.rate(stage)))
                s._free, s.work = int(free[base + i]), int(work[base + i])


def _top(res: Resources, stage: str) -> int:
    """One past the largest instance of `stage` that already has a server (0 when none)."""
    return max(res.servers.get(stage) or {-1: None}) + 1


def run_flat(layers: dict[str, LayerState], res: Resources, move: Movement, config_load: int,
             rates: Rates) -> int | None:
    """Run the pipeline in the numba loop (module docstring); the events, or None on overflow."""
    f = _Flat(layers, res, move)
    for part in (f.layers, f.pes, f.triggers, f.fetch, f.partials, f.edge_arrays, f.series, f.servers):
        part()
    a, o = f.arena(_i64([rates.read_cycles, move.tpr, move.hop, config_load]))
    heap = np.zeros((3 * 2 * len(f.L) + 8, 4), np.int64)
    events, err = kernel.run_pipeline(a, o, heap)
    if err:
        return None
    f.write_back(a)
    return int(events)


__all__ = ["FIXED_STAGES", "run_flat"]
