"""Stage latencies and rates at the clock (docs/timing.md): presets, overrides, defaults, counts."""

import warnings
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from isaacsim import load_arch
from isaacsim.components import table_path
from isaacsim.config.clock import Clock
from isaacsim.timing import build_stages

ROOT = Path(__file__).resolve().parents[1]


def arch(name, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isaac's 8-bit ADC is below lossless for 2-bit cells
        return load_arch(ROOT / "arch_configs" / f"{name}.yaml", overrides)


def test_isaac_published_pipeline_is_balanced():
    """ISAAC (Shafiee et al., ISCA 2016): 128x128 crossbars read in 100 ns, 8 ADCs per IMA at
    1.28 GS/s and 8 bits, 100 MHz. Expected values are computed here from those figures."""
    st = build_stages(arch("isaac"))
    clock_hz, read_s, adc_sps, bits, xbars, cols, adcs = 100e6, 100e-9, 1.28e9, 8, 8, 128, 8

    xb = st["crossbar_read"]
    assert xb.latency_cycles == round(read_s * clock_hz) == 10
    assert xb.multi_cycle and xb.rate == Fraction(1, 10) and xb.unit == "reads"

    adc = st["adc"]
    assert adc.rate == Fraction(round(adc_sps * bits), round(clock_hz)) == Fraction(512, 5)
    assert float(adc.rate) == 102.4 and not adc.multi_cycle and adc.latency_cycles == 1
    assert adc.latency_ns == Fraction(78125, 100000)  # one 8-bit conversion: 8 / 1.024e10 s

    sa = st["shift_add"]
    assert sa.rate == Fraction(128, 5)  # 10 ns / 0.390625 ns
    # the PE's S+A units take every ADC result: 4 x 25.6 = 8 ADCs x 102.4 ops / 8 ops per result
    assert sa.per_pe * sa.rate == adc.per_pe * adc.rate / bits

    # one read of all 8 crossbars gives 8 x 128 samples of 8 ops: exactly one read time of the ADCs
    ops_per_read = xbars * cols * bits
    assert ops_per_read == 8192
    assert Fraction(ops_per_read) / (adcs * adc.rate) == xb.latency_cycles


def test_isaac_counts_and_byte_rates():
    st = build_stages(arch("isaac"))
    xb = st["crossbar_read"]
    assert (xb.per_pe, xb.per_tile, xb.per_chip) == (8, 96, 8 * 12 * 168)
    # ISAAC's tile logic runs at 1.2 GHz (ISAAC, ISCA 2016, Table I: "ISAAC Tile at 1.2 GHz"), 12 of
    # its cycles per 100 MHz system cycle: a 256-bit eDRAM port moves 32 x 12 bytes, a 384-wire bus 48 x 12
    assert st["edram"].rate == 32 * 12 and st["tile_bus"].rate == 48 * 12
    # a router serves 4 tiles' 32-bit links at 1 GHz (sec. VIII-A): 4 x 4 B x 10 per system cycle
    assert st["noc_link"].rate == 4 * 4 * 10
    assert st["noc_link"].resource == "router" and st["noc_link"].per_tile == Fraction(1, 4)
    assert st["edram"].level == "tile" and st["edram"].per_pe is None
    assert st["sigmoid"].per_tile == 2 and st["sigmoid"].rate == 12
    # input register: the DACs read 8 x 128 rows x 1 bit per 10-cycle read and the same bytes are
    # written once per 16 reads' window: 2 x 128 B / 10 cycles
    assert st["input_register"].rate == Fraction(2 * 128, 10)
    # output register: a 2-byte partial sum per S+A result (102.4 a cycle), plus a read per 16 writes
    assert st["output_register"].rate == Fraction(512, 5) * 2 * Fraction(17, 16)
    assert st["hypertransport"].per_chip == 4 and st["hypertransport"].rate == 64  # 6.4 GB/s / 100 MHz
    for s in st.stages:
        assert s.latency_cycles >= 1 and s.multi_cycle == (s.latency_ns > st.clock.period_ns)
        assert s.as_dict()["stage"] == s.name


@pytest.mark.parametrize("name", ["isaac", "trq_baseline", "trq"])
def test_presets_share_the_isaac_timing(name):
    st = build_stages(arch(name))
    assert st["crossbar_read"].latency_cycles == 10
    assert st["adc"].rate == Fraction(512, 5) and st["shift_add"].rate == Fraction(128, 5)
    assert [s.name for s in st.stages if s.multi_cycle] == ["crossbar_read"]


def test_clock_change_rounds_up():
    st = build_stages(arch("isaac", clock_mhz=250))
    assert st.clock.period_ns == 4
    assert st["crossbar_read"].latency_cycles == 25 and st["crossbar_read"].rate == Fraction(1, 25)
    assert st["adc"].rate == Fraction(1280 * 8, 250)  # 40.96 ops per 4 ns cycle
    e = st["edram"]  # 10 ns at 4 ns: 2.5 -> 3 cycles of latency; 32 bytes per 1.2 GHz tile cycle
    assert e.latency_cycles == 3 and e.multi_cycle and e.rate == Fraction(32 * 1200, 250)
    assert st["shift_add"].rate == Fraction(4) / Fraction("0.390625")


def test_latency_overrides_round_up():
    st = build_stages(arch("isaac", **{
        "crossbar.read_latency_ns": 33, "latency_ns.shift_add": 20, "latency_ns.edram_access": 15,
        "latency_ns.router_hop": 10.5, "latency_ns.nfu": 5, "latency_ns.config_load": 25,
        "latency_ns.tile_bus": 2.5, "latency_ns.register_access": 30,
    }))
    xb = st["crossbar_read"]
    assert (xb.latency_cycles, xb.rate, xb.multi_cycle) == (4, Fraction(1, 4), True)
    assert (st["shift_add"].latency_cycles, st["shift_add"].rate) == (2, Fraction(1, 2))
    # a latency override moves the latency, not the port's rate (32 bytes per 1.2 GHz tile cycle)
    assert (st["edram"].latency_cycles, st["edram"].rate) == (2, 32 * 12)
    assert (st["noc_link"].latency_cycles, st["noc_link"].rate) == (2, 4 * 4 * 10)  # 4 links of 4 B at 1 GHz
    # the NFU does one op per 1.2 GHz tile cycle whatever its latency
    assert st["sigmoid"].rate == 12 and st["maxpool"].rate == 12 and not st["sigmoid"].multi_cycle
    assert st["config_load"].latency_cycles == 3 and st["config_load"].latency_from == "latency_ns.config_load"
    assert st["tile_bus"].rate == 48 * 12 and st["tile_bus"].latency_cycles == 1
    # the output register follows the S+A: 4 units x 1/2 result per cycle, 2 bytes each, plus 1 read per 16
    assert st["input_register"].latency_cycles == 3
    assert st["output_register"].rate == 4 * Fraction(1, 2) * 2 * Fraction(17, 16)
    assert st["edram"].latency_from == "latency_ns.edram_access"


def test_adc_rate_override_and_sample_rate():
    assert build_stages(arch("isaac", **{"adc.ops_per_cycle": 16}))["adc"].rate == 16
    st = build_stages(arch("trq_baseline", **{"adc.sample_rate_msps": 100}))
    assert st["adc"].rate == 8 and st["adc"].latency_cycles == 1  # 8 ops at 8 per cycle: one cycle
    slow = build_stages(arch("trq_baseline", **{"adc.sample_rate_msps": 10}))["adc"]
    assert slow.rate == Fraction(4, 5) and slow.latency_cycles == 10 and slow.multi_cycle


def test_config_load_sources_and_table_notes():
    isaac, trq = build_stages(arch("isaac")), build_stages(arch("trq"))
    assert "default" in isaac["config_load"].latency_from  # isaac_32nm has no trq_config entry
    assert isaac["config_load"].latency_ns == isaac["tile_bus"].latency_ns
    assert "trq_config" in trq["config_load"].latency_from and trq["config_load"].latency_cycles == 1
    assert isaac.notes == ()
    # trq_45nm's ADC latency per operation is the preset's rate (1 / 1.024e10 s); it used to be
    # 1 ns and so carried a note. An arch running its ADCs at another rate still gets the note.
    assert trq.notes == ()
    slow = build_stages(arch("trq", **{"adc.sample_rate_msps": 640}))
    assert len(slow.notes) == 1 and "0.0976562 ns per A/D operation" in slow.notes[0]


def test_table_without_latency_takes_one_period(tmp_path):
    data = yaml.safe_load(table_path("isaac_32nm").read_text())
    del data["components"]["maxpool"]["latency_ns"]
    data["components"]["edram"]["latency_ns"] = 25
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data))
    st = build_stages(arch("isaac", **{"components.table": str(path)}))
    assert st["maxpool"].latency_ns == st.clock.period_ns and "default" in st["maxpool"].latency_from
    assert st["edram"].latency_cycles == 3 and st["edram"].rate == 32 * 12


def test_zero_units_are_not_stages():
    st = build_stages(arch("isaac", **{"tile.sigmoid_units": 0, "tile.output_register_bytes": 0,
                                       "chip.hypertransport_links": 0}))
    for name in ("sigmoid", "tile_output_register", "hypertransport"):
        assert name not in st
    with pytest.raises(KeyError, match="stages:"):
        st["sigmoid"]


def test_cycle_helpers():
    clk = Clock.of_mhz(100)  # a 10 ns period
    assert clk.period_ns == 10 and clk.hz == 100_000_000
    assert clk.cycles(Fraction(100)) == 10
    assert clk.cycles(Fraction(101)) == 11
    assert clk.cycles(Fraction(1, 10)) == 1
    assert clk.occupancy(Fraction(5)) == Fraction(1, 2)
    assert clk.occupancy(Fraction(15)) == 2
    assert clk.seconds(63088) == 63088 / 1e8 and clk.per_second(Fraction(512, 5)) == 1.024e10
    assert Clock.of_mhz(0.1).period_ns == 10_000  # exact from the decimal, not the binary float
