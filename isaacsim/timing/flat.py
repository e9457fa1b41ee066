"""The network pipeline as flat arrays for the numba event loop (`isaacsim.kernels.pipeline`),
and its results written back into the layers, edges and servers the report reads.

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
from isaacsim.timing.state import LayerState, Series

FIXED_STAGES = ("edram", "tile_bus", "input_register", "tile_output_register", "tile_shift_add", "noc_link")
"""Stages with fixed ids in the kernel (`isaacsim.kernels.pipeline.EDRAM` ...); NFU units follow."""


def _i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _ptr(counts) -> np.ndarray:
    """CSR row pointers of rows with `counts` entries."""
    return np.concatenate([[0], np.cumsum(_i64(counts))]).astype(np.int64)


class _Flat:
    """Builds the kernel's arrays (`isaacsim.kernels.pipeline.run_pipeline`) from one run's state."""

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

    # -- layers, windows, PEs ---------------------------------------------------------------
    def layers(self):
        n_win = _i64([len(L.ready) for L in self.L])
        n_pe = _i64([L.n_pes for L in self.L])
        self.win_off, self.pe_off = _ptr(n_win), _ptr(n_pe)
        self.lc_off = _ptr([L.lp.copies for L in self.L])
        nl = len(self.L)
        lay = (self.win_off[:-1].copy(), self.pe_off[:-1].copy(), _i64([L.lp.copies for L in self.L]), n_win,
               self.lc_off[:-1].copy(), _i64([L.input_ready for L in self.L]), np.arange(nl, dtype=np.int64),
               np.arange(nl, 2 * nl, dtype=np.int64), _i64([L.cyc for L in self.L]))
        wins = (np.concatenate([L.ready for L in self.L] or [_i64([])]),
                np.concatenate([L.end for L in self.L] or [_i64([])]),
                np.concatenate([L.remaining for L in self.L] or [_i64([])]), _i64([L.start for L in self.L]))
        return lay, wins

    def pes(self):
        cat = lambda a: np.concatenate([getattr(L, a) for L in self.L] or [_i64([])])  # noqa: E731
        counters = np.concatenate([L.counters for L in self.L]) if self.L else np.zeros((0, 6), np.int64)
        bases = _ptr([len(L.conv) for L in self.L])
        step_off = np.concatenate([L.offsets[:-1] + b for L, b in zip(self.L, bases, strict=False)] or [_i64([])])
        self.pr_off = _ptr(np.concatenate([L.pw.rounds for L in self.L] or [_i64([])]))
        pes = (cat("read_state"), cat("conv_state"), np.ascontiguousarray(counters), cat("first"), cat("pe_ready"),
               step_off.astype(np.int64), self.pr_off[:-1].copy())
        adc = np.concatenate([L.pw.adc for L in self.L]).astype(np.int64)
        sa = np.concatenate([L.pw.sa for L in self.L]).astype(np.int64)
        return pes, adc, sa

    def triggers(self):
        """(trig_ptr, trig_pe, trig_round) over the run's windows, (rw_ptr, rw_win) over its PE rounds."""
        ptrs, pes, rounds, rw_counts, rw_wins = [_i64([0])], [], [], [], []
        top = 0
        for li, L in enumerate(self.L):
            ptr, pe, r = L.pw.triggers
            ptrs.append(ptr[1:] + top)
            top += int(ptr[-1])
            pes.append(pe + self.pe_off[li])
            rounds.append(r)
            _, _, rw_ptr, wins = L.pw.round_windows
            rw_counts.append(np.diff(rw_ptr))
            rw_wins.append(wins)
        cat = lambda xs: np.concatenate(xs).astype(np.int64) if xs else _i64([])  # noqa: E731
        return (cat(ptrs), cat(pes), cat(rounds)), (_ptr(cat(rw_counts)), cat(rw_wins))

    # -- what moves ---------------------------------------------------------------------------
    def fetch(self):
        g_count, g_tile, g_bits, p_count, p_pe, p_inst, p_bits = [], [], [], [], [], [], []
        for li, L in enumerate(self.L):
            for tr in L.traffic:
                g_count.append(len(tr.fetch))
                for f in tr.fetch:
                    g_tile.append(f.tile)
                    g_bits.append(f.bits)
                    p_count.append(len(f.pes))
                    p_pe.extend((f.pes + self.pe_off[li]).tolist())
                    p_inst.extend((f.pes + L.lp.first_pe).tolist())
                    p_bits.extend(f.ir_bits)
        return (_ptr(g_count), _i64(g_tile), _i64(g_bits), _ptr(p_count), _i64(p_pe), _i64(p_inst), _i64(p_bits))

    def partials(self):
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
        part = (_ptr(count), _i64(tile), _i64(bus), _i64(adds), _i64(noc), _i64(last), _i64(fbits), _i64(fadds))
        nfu = (_ptr([len(L.nfu) for L in self.L]), _i64([self.stage_id[u] for L in self.L for u in L.nfu]),
               _i64([w for L in self.L for w in L.nfu.values()]))
        return part, nfu

    def edge_arrays(self):
        E, tpr = self.edges, self.move.tpr
        ie = [[self.edge_id[id(e)] for e in L.inputs] for L in self.L]
        oe = [[self.edge_id[id(e)] for e in L.outputs] for L in self.L]
        need_off, gate_off = _ptr([len(e.need) for e in E]), _ptr([len(e.gate) for e in E])
        nl = len(self.L)
        routers = [[t // tpr for t in e.dst_tiles] for e in E]
        return (_ptr([len(x) for x in ie]), _i64([i for x in ie for i in x]), need_off[:-1].copy(),
                np.concatenate([e.need for e in E] or [_i64([])]).astype(np.int64),
                np.arange(2 * nl, 2 * nl + len(E), dtype=np.int64),
                _ptr([len(x) for x in oe]), _i64([i for x in oe for i in x]), gate_off[:-1].copy(),
                np.concatenate([e.gate for e in E] or [_i64([])]).astype(np.int64),
                _i64([self.index[e.dst] for e in E]), _i64([e.bits_per_output for e in E]), _i64([e.last for e in E]),
                _ptr([len(e.dst_tiles) for e in E]), _i64([t for e in E for t in e.dst_tiles]),
                _i64([min(r) for r in routers]), _i64([max(r) for r in routers]))

    def series(self):
        """Done (layer l), release (layers + l) and arrival (2 layers + edge) series."""
        all_s = [L.done for L in self.L] + [L.release for L in self.L] + [e.arrival for e in self.edges]
        self.all_series = all_s
        lens = _i64([len(s.t) for s in all_s])
        off = _ptr(lens)
        t = np.concatenate([s.t for s in all_s] or [_i64([])]).astype(np.int64)
        done = np.concatenate([s.set for s in all_s] or [np.zeros(0, bool)]).astype(np.uint8)
        if any(s._wait for s in all_s):
            raise ValueError("a series has waiters before the run")
        return (t, done, off[:-1].copy(), lens, _i64([s.known for s in all_s]), np.zeros(len(all_s), np.int64))

    def servers(self):
        """(sbase, p, q, free, work): every instance of every stage the kernel may reserve."""
        res, tpr = self.res, self.move.tpr
        tiles = [t for L in self.L for t in L.lp.tiles]
        tiles += [t for L in self.L for tr in L.traffic for t in [tr.last_tile, *(f.tile for f in tr.fetch),
                                                                   *(p.tile for p in tr.partials)]]
        n_tiles = max(tiles, default=0) + 1
        for stage, servers in res.servers.items():
            if stage != "input_register" and stage != "noc_link" and servers:
                n_tiles = max(n_tiles, max(servers) + 1)
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
            rate = res.rate(stage)
            have = res.servers[stage]
            self.layout.append((stage, len(p), n))
            for i in range(n):
                s = have.get(i)
                p.append(rate.numerator)
                q.append(rate.denominator)
                free.append(s._free if s is not None else 0)
                work.append(s.work if s is not None else 0)
        return sbase, _i64(p), _i64(q), _i64(free), _i64(work)

    # -- results back -------------------------------------------------------------------------
    def write_back(self, wins, pes, ser, edges, srv, out_end, stall) -> None:
        w_ready, w_end, w_rem, start = wins
        read_state, conv_state, counters, first, pe_ready = pes[:5]
        for li, L in enumerate(self.L):
            w = slice(self.win_off[li], self.win_off[li + 1])
            e = slice(self.pe_off[li], self.pe_off[li + 1])
            L.ready[:], L.end[:], L.remaining[:] = w_ready[w], w_end[w], w_rem[w]
            L.read_state[:], L.conv_state[:], L.counters[:] = read_state[e], conv_state[e], counters[e]
            L.first[:], L.pe_ready[:] = first[e], pe_ready[e]
            L.start, L.out_end, L.stall_buffer = int(start[li]), int(out_end[li]), L.stall_buffer + int(stall[li])
        t, done, off, lens, known = ser[:5]
        for k, s in enumerate(self.all_series):
            _fill(s, t[off[k]:off[k] + lens[k]], done[off[k]:off[k] + lens[k]], int(known[k]))
        for k, e in enumerate(self.edges):
            e.last = int(edges[11][k])
        _, _, _, free, work = srv
        for stage, base, n in self.layout:
            servers = self.res.servers[stage]
            for i in np.flatnonzero(work[base:base + n]).tolist():
                s = servers.get(i) or servers.setdefault(i, Server(self.res.rate(stage)))
                s._free, s.work = int(free[base + i]), int(work[base + i])


def _top(res: Resources, stage: str) -> int:
    """One past the largest instance of `stage` that already has a server (0 when none)."""
    return max(res.servers.get(stage) or {-1: None}) + 1


def _fill(s: Series, t: np.ndarray, done: np.ndarray, known: int) -> None:
    s.t[:] = t
    s.set[:] = done.astype(bool)
    s.known = known


def run_flat(layers: dict[str, LayerState], res: Resources, move: Movement, config_load: int,
             rates: Rates) -> int | None:
    """Run the pipeline in the numba loop (module docstring); the events, or None on overflow."""
    f = _Flat(layers, res, move)
    lay, wins = f.layers()
    pes, adc, sa = f.pes()
    trig, rwin = f.triggers()
    fetch = f.fetch()
    part, nfu = f.partials()
    edges = f.edge_arrays()
    ser = f.series()
    srv = f.servers()
    r = _i64([rates.read_cycles, move.tpr, move.hop, config_load])
    out_end = _i64([L.out_end for L in f.L])
    events, err, stall = kernel.run_pipeline(lay, wins, pes, adc, sa, r, trig, rwin, fetch, srv, ser, edges,
                                             part, nfu, out_end)
    if err:
        return None
    f.write_back(wins, pes, ser, edges, srv, out_end, stall)
    return int(events)


__all__ = ["FIXED_STAGES", "run_flat"]
