"""Fail when the JUnit report shows a skipped test that carries a real-server marker, or no tests at all."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

REAL = {"postgres", "radius", "router", "snmp", "asterisk", "browser"}


def main(path: str) -> int:
    root = ET.parse(path).getroot()  # noqa: S314 - our own report
    cases = root.findall(".//testcase")
    if not cases:
        print(f"{path}: no test cases")
        return 1
    bad = []
    by_marker: dict[str, int] = {}
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        markers = {m for m in (props.get("markers") or "").split(",") if m}
        for marker in markers & REAL:
            by_marker[marker] = by_marker.get(marker, 0) + 1
        if case.find("skipped") is not None and markers & REAL:
            bad.append(f"{case.get('classname')}::{case.get('name')} [{','.join(sorted(markers))}]")
    summary = ", ".join(f"{k}={v}" for k, v in sorted(by_marker.items())) or "none"
    print(f"{len(cases)} test cases; real-server tests by marker: {summary}")
    if bad:
        print("real-server tests were skipped:")
        print("\n".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/test-results.xml"))
