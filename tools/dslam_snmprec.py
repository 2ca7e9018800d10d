"""Write openTelecom's own snmpsim recordings (deploy/snmpsim/data). Deterministic: run it again and the
files come out the same.

    python -m tools.dslam_snmprec

* ``dslam-vdsl2.snmprec``: a 48-port VDSL2 DSLAM (SNMPv2-MIB system, IF-MIB ifTable/ifXTable, VDSL2-LINE-MIB
  line, band and channel tables). No real DSLAM was recorded: the values are made up by us from typical
  VDSL2 profile 17a (G.993.2, Annex B, vectoring) figures, as the file's header says.
* ``counters-step.snmprec`` and ``counters-step32.snmprec`` (no ifXTable): agents whose sysUpTime and
  octet counters advance with time (snmpsim's ``numeric`` variation module), starting just below the
  32-bit and 64-bit wrap, for the counter-wrap and reboot tests (restarting snmpsim is the reboot: its
  clock starts again).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "deploy" / "snmpsim" / "data"

PORTS = 48
UPLINK = 49
SYS_UPTIME_TICKS = 123_456_789  # 14 days 6 h
UNAVAILABLE = 2147483646  # VDSL2-LINE-MIB: measurement currently unavailable

HEADER = """\
# openTelecom lab recording of a 48-port VDSL2 DSLAM (community / context name: dslam-vdsl2).
#
# Where the values come from: nowhere real. No device was recorded; tools/dslam_snmprec.py made every
# value up from typical VDSL2 profile 17a figures (G.993.2 Annex B, 998ADE17, vectoring; German "VDSL 100"
# and "VDSL 50" plans): loops of 100-1,200 m, attainable downstream about 150 Mbit/s * exp(-length/900 m),
# upstream about 50 Mbit/s * exp(-length/500 m), actual rates capped by the plan (116.8/46.7 Mbit/s for
# 100/40, 58.4/11.7 Mbit/s for 50/10), downstream SNR margin 6 dB plus what the plan cap leaves over,
# per-band line attenuation growing with loop length and band frequency. As VDSL2-LINE-MIB says for VDSL2,
# the whole-direction band rows (upstream(1), downstream(2)) carry only the SNR margin; attenuation is per
# band (us0(3), ds1(4), us1(5), ds2(6), us2(7), ds3(8)). Port 45 is a noisy line (1.8 dB margin, errors),
# port 46 is shut down by the operator (ifAdminStatus down), ports 47 and 48 have no modem in sync
# (ifOperStatus down, rates 0, figures 2147483646 = unavailable). ifIndex 49 is the 10G uplink.
#
# Format: OID|tag|value (snmpsim .snmprec; tags: 2 INTEGER, 4 OCTET STRING, 6 OID, 65 Counter32,
# 66 Gauge32/Unsigned32, 67 TimeTicks, 70 Counter64).
"""


def _line(port: int, rng: random.Random) -> dict[str, int]:
    """Made-up VDSL2 17a figures for one port (rates in bit/s, dB figures in 0.1 dB)."""
    length_m = 100 + (port - 1) * 1100 / (PORTS - 1) + rng.uniform(-40, 40)
    attainable_ds = int(150e6 * math.exp(-length_m / 900) * rng.uniform(0.95, 1.05))
    attainable_us = int(50e6 * math.exp(-length_m / 500) * rng.uniform(0.95, 1.05))
    plan_ds, plan_us = (116_800_000, 46_700_000) if port % 3 else (58_400_000, 11_700_000)
    actual_ds = min(plan_ds, int(attainable_ds * 0.93))
    actual_us = min(plan_us, int(attainable_us * 0.93))
    margin_ds = 60 + min(250, int(300 * (1 - actual_ds / attainable_ds)))
    margin_us = 60 + min(250, int(300 * (1 - actual_us / attainable_us)))
    ds1 = int((3 + length_m * 0.012) * 10)  # 0.1 dB
    return {
        "length_m": int(length_m),
        "attainable_ds": attainable_ds,
        "attainable_us": attainable_us,
        "actual_ds": actual_ds,
        "actual_us": actual_us,
        "margin_ds": margin_ds,
        "margin_us": margin_us,
        # band -> line attenuation, 0.1 dB: us0(3), ds1(4), us1(5), ds2(6), us2(7), ds3(8)
        "atten_3": max(5, ds1 // 4),
        "atten_4": ds1,
        "atten_5": int(ds1 * 1.45),
        "atten_6": int(ds1 * 2.1),
        "atten_7": min(1270, int(ds1 * 2.9)),
        "atten_8": min(1270, int(ds1 * 3.6)),
    }


def dslam_records() -> list[tuple[tuple[int, ...], str, str]]:
    rng = random.Random(4711)  # made-up lab figures, not secrets
    records: list[tuple[tuple[int, ...], str, str]] = []

    def add(oid: str, tag: int, value: object) -> None:
        records.append((tuple(int(p) for p in oid.split(".")), str(tag), str(value)))

    add("1.3.6.1.2.1.1.1.0", 4, "openTelecom lab DSLAM, 48 x VDSL2 17a (made-up recording)")
    add("1.3.6.1.2.1.1.2.0", 6, "1.3.6.1.4.1.8072.3.2.10")
    add("1.3.6.1.2.1.1.3.0", 67, SYS_UPTIME_TICKS)
    add("1.3.6.1.2.1.1.5.0", 4, "dslam-lab-1")
    add("1.3.6.1.2.1.2.1.0", 2, UPLINK)
    lines = {port: _line(port, rng) for port in range(1, PORTS + 1)}
    for index in range(1, UPLINK + 1):
        uplink = index == UPLINK
        line = lines.get(index)
        admin = 2 if index == 46 else 1
        oper = 2 if index in (46, 47, 48) else 1
        in_hc = rng.randrange(10**9, 5 * 10**11) if oper == 1 else rng.randrange(10**6, 10**9)
        out_hc = rng.randrange(10**10, 5 * 10**12) if oper == 1 else rng.randrange(10**6, 10**9)
        if uplink:
            in_hc, out_hc = 98_765_432_109_876_543, 12_345_678_901_234_567
        in_errors = 18_211 if index == 45 else rng.randrange(0, 40)
        out_errors = 97 if index == 45 else rng.randrange(0, 3)
        speed_bps = line["actual_ds"] if line and oper == 1 else 10000000000 if uplink else 0
        name = "xe-0/0/1" if uplink else f"vdsl2-1/1/{index}"
        columns = {
            1: (2, index),
            2: (4, "10GBASE-LR uplink" if uplink else f"VDSL2 port 1/1/{index}"),
            3: (2, 6 if uplink else 251),  # ethernetCsmacd(6), vdsl2(251)
            4: (2, 1500),
            5: (66, min(speed_bps, 4_294_967_295)),
            7: (2, admin),
            8: (2, oper),
            9: (67, SYS_UPTIME_TICKS - rng.randrange(100, 10**7)),
            10: (65, in_hc % 2**32),
            13: (65, rng.randrange(0, 20)),
            14: (65, in_errors),
            16: (65, out_hc % 2**32),
            19: (65, rng.randrange(0, 20)),
            20: (65, out_errors),
        }
        for column, (tag, value) in columns.items():
            add(f"1.3.6.1.2.1.2.2.1.{column}.{index}", tag, value)
        x_columns = {
            1: (4, name),
            6: (70, in_hc),
            10: (70, out_hc),
            15: (66, speed_bps // 1_000_000),
            18: (4, "" if uplink else f"line {index:02d}"),
        }
        for column, (tag, value) in x_columns.items():
            add(f"1.3.6.1.2.1.31.1.1.1.{column}.{index}", tag, value)
    for port, line in lines.items():
        synced = port not in (46, 47, 48)
        if port == 45:
            line["margin_ds"], line["margin_us"] = 18, 31
        add(f"1.3.6.1.2.1.10.251.1.1.1.1.20.{port}", 66, line["attainable_ds"] if synced else 0)
        add(f"1.3.6.1.2.1.10.251.1.1.1.1.21.{port}", 66, line["attainable_us"] if synced else 0)
        for band in range(1, 9):
            atten = UNAVAILABLE if band <= 2 or not synced else line[f"atten_{band}"]
            signal = UNAVAILABLE if atten == UNAVAILABLE else max(0, atten - 15)
            if not synced:
                margin = UNAVAILABLE
            elif band == 1:
                margin = line["margin_us"]
            elif band == 2:
                margin = line["margin_ds"]
            else:
                margin = (line["margin_ds"] if band % 2 == 0 else line["margin_us"]) + rng.randrange(-8, 9)
            add(f"1.3.6.1.2.1.10.251.1.1.2.1.2.{port}.{band}", 66, atten)
            add(f"1.3.6.1.2.1.10.251.1.1.2.1.3.{port}.{band}", 66, signal)
            add(f"1.3.6.1.2.1.10.251.1.1.2.1.4.{port}.{band}", 2, margin)
        # xdsl2ChStatusActDataRate: xtuc(1) row = downstream, xtur(2) row = upstream (see network/snmp/oids.py)
        add(f"1.3.6.1.2.1.10.251.1.2.2.1.2.{port}.1", 66, line["actual_ds"] if synced else 0)
        add(f"1.3.6.1.2.1.10.251.1.2.2.1.2.{port}.2", 66, line["actual_us"] if synced else 0)
    records.sort(key=lambda record: record[0])
    return records


STEP_HEADER = """\
# openTelecom lab recording for counter wrap and reboot tests (community / context name: counters-step).
# Made up by us (tools/dslam_snmprec.py). snmpsim's numeric variation module computes each value as
# initial + rate * (seconds since snmpsim started), wrapping at the type's maximum: sysUpTime counts 100
# ticks a second from 1,000 ticks; ifIndex 1 receives 1 GB/s starting 8 GB below the 64-bit wrap (so
# ifHCInOctets wraps about 8 s after start) and sends a steady 1 MB/s. Restarting snmpsim starts every value
# again: a reboot.
"""

STEP32_HEADER = """\
# openTelecom lab recording of an agent without ifXTable (community / context name: counters-step32), for
# the 32-bit counter wrap test. Made up by us (tools/dslam_snmprec.py), numeric variation module as in
# counters-step.snmprec: ifInOctets.1 receives 100 MB/s starting 800 MB below the 32-bit wrap, so it wraps
# about 8 s after snmpsim started.
"""


def counter_step_records() -> list[str]:
    wrap64 = 2**64
    wrap32 = 2**32
    return [
        "1.3.6.1.2.1.1.1.0|4|openTelecom lab agent with stepping counters (made-up recording)",
        "1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000",
        "1.3.6.1.2.1.2.2.1.2.1|4|port 1",
        "1.3.6.1.2.1.2.2.1.7.1|2|1",
        "1.3.6.1.2.1.2.2.1.8.1|2|1",
        f"1.3.6.1.2.1.2.2.1.10.1|65:numeric|rate=100000000,initial={wrap32 - 800_000_000},wrap=1",
        "1.3.6.1.2.1.2.2.1.14.1|65|0",
        "1.3.6.1.2.1.2.2.1.16.1|65:numeric|rate=1000000,initial=5000",
        "1.3.6.1.2.1.2.2.1.20.1|65|0",
        "1.3.6.1.2.1.31.1.1.1.1.1|4|port1",
        f"1.3.6.1.2.1.31.1.1.1.6.1|70:numeric|rate=1000000000,initial={wrap64 - 8_000_000_000},wrap=1",
        "1.3.6.1.2.1.31.1.1.1.10.1|70:numeric|rate=1000000,initial=5000",
        "1.3.6.1.2.1.31.1.1.1.15.1|66|10000",
    ]


def counter_step32_records() -> list[str]:
    return [
        "1.3.6.1.2.1.1.1.0|4|openTelecom lab agent with stepping 32-bit counters (made-up recording)",
        "1.3.6.1.2.1.1.3.0|67:numeric|rate=100,initial=1000",
        "1.3.6.1.2.1.2.2.1.2.1|4|port 1",
        "1.3.6.1.2.1.2.2.1.5.1|66|1000000000",
        "1.3.6.1.2.1.2.2.1.7.1|2|1",
        "1.3.6.1.2.1.2.2.1.8.1|2|1",
        f"1.3.6.1.2.1.2.2.1.10.1|65:numeric|rate=100000000,initial={2**32 - 800_000_000},wrap=1",
        "1.3.6.1.2.1.2.2.1.14.1|65|0",
        "1.3.6.1.2.1.2.2.1.16.1|65:numeric|rate=1000000,initial=5000",
        "1.3.6.1.2.1.2.2.1.20.1|65|0",
    ]


LIVE_HEADER = """\
# openTelecom lab recording: the DSLAM of dslam-vdsl2.snmprec, running (community / context name:
# dslam-vdsl2-live), for the demo of `make services`. Made up by us (tools/dslam_snmprec.py): the same values,
# except that sysUpTime counts 100 ticks a second and each synced port's ifHCInOctets/ifHCOutOctets grow at
# a steady made-up rate (snmpsim's numeric variation module: initial + rate * seconds since snmpsim
# started), so pollers see traffic. The static recording stays for the tests that compare exact values.
"""

HC_IN, HC_OUT = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6), (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10)


def live_records() -> list[str]:
    """The DSLAM with a running clock and traffic on its synced ports (0.1 to 2.5 MB/s down, a fifth up)."""
    rng = random.Random(815)  # made-up lab figures, not secrets
    out = []
    for oid, tag, value in dslam_records():
        text = ".".join(map(str, oid))
        port = oid[-1]
        if oid == (1, 3, 6, 1, 2, 1, 1, 3, 0):
            out.append(f"{text}|67:numeric|rate=100,initial={value}")
        elif oid[:-1] in (HC_IN, HC_OUT) and port <= PORTS and port not in (46, 47, 48):
            down = rng.randrange(100_000, 2_500_000)
            rate = down if oid[:-1] == HC_OUT else down // 5
            out.append(f"{text}|70:numeric|rate={rate},initial={value},wrap=1")
        else:
            out.append(f"{text}|{tag}|{value}")
    return out


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{'.'.join(map(str, oid))}|{tag}|{value}\n" for oid, tag, value in dslam_records())
    (DATA / "dslam-vdsl2.snmprec").write_text(HEADER + body)
    (DATA / "dslam-vdsl2-live.snmprec").write_text(LIVE_HEADER + HEADER + "".join(f"{r}\n" for r in live_records()))
    (DATA / "counters-step.snmprec").write_text(STEP_HEADER + "".join(f"{r}\n" for r in counter_step_records()))
    (DATA / "counters-step32.snmprec").write_text(STEP32_HEADER + "".join(f"{r}\n" for r in counter_step32_records()))
    print(f"wrote dslam-vdsl2(-live).snmprec, counters-step.snmprec and counters-step32.snmprec in {DATA}")


if __name__ == "__main__":
    main()
