#!/usr/bin/env python3
"""accuracy.py CAPTURE_TEXT PROBER=KIND:FILE[@ADDRESS]... - how far each
prober's response times are from the wire's.

CAPTURE_TEXT is `tcpdump -n -tt --time-stamp-precision=nano -r CAPTURE` of
the prober's side of the wire: each probe's wire time is its reply's
capture time less its request's (ICMP echo matched by address, id and
sequence; a TCP handshake by the prober's port).  Each prober's own figures
are matched to those probes:
  agent:FILE   sonar.csv (send time in ms, rtt_ns): the probe sent nearest
               that time to the host in the file;
  fping:FILE   fping -D output ("[t] host : [k], ... 5.12 ms"): sequence k.
Prints, per prober: probes matched, the median error (measured less wire,
microseconds; negative when the prober reads less than the capture), the
99th percentile and the largest of its size, and the share of probes
measured at over twice their wire time.
"""
import calendar
import re
import sys
import time


def wire_probes(path):
    """{address: [(request_time, wire_rtt, key)]} from the capture text."""
    sent, probes = {}, {}
    icmp = re.compile(r"^(\d+\.\d+) IP6? (\S+) > (\S+): ICMP6? echo (request|reply), id (\d+), seq (\d+)")
    tcp = re.compile(r"^(\d+\.\d+) IP6? (\S+) > (\S+): Flags \[([^\]]*)\]")
    for line in open(path, errors="replace"):
        m = icmp.match(line)
        if m:
            t, src, dst, kind, ident, seq = float(m[1]), m[2], m[3].rstrip(":"), m[4], m[5], int(m[6])
            if kind == "request":
                sent[(dst, ident, seq)] = t
            else:
                t0 = sent.pop((src, ident, seq), None)
                if t0 is not None:
                    probes.setdefault(src, []).append((t0, t - t0, seq))
            continue
        m = tcp.match(line)
        if m:
            t, src, dst, flags = float(m[1]), m[2], m[3].rstrip(":"), m[4]
            if flags == "S":
                sent[("tcp", src, dst)] = t
            elif "R" in flags or flags == "S.":
                t0 = sent.pop(("tcp", dst, src), None)
                if t0 is not None:
                    host = src.rsplit(".", 1)[0]
                    probes.setdefault(host, []).append((t0, t - t0, None))
    for v in probes.values():
        v.sort()
    return probes


def agent_rows(path):
    """(send time s, host, measured rtt s) of answered probes."""
    rows = []
    for line in open(path):
        f = line.strip().split(",")
        if len(f) != 3 or f[0] == "timestamp" or not f[2]:
            continue
        ts = f[0]  # 2026-12-06T10:31:54.181Z
        secs = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) + int(ts[20:23]) / 1000.0
        rows.append((secs, f[1], int(f[2]) / 1e9))
    return rows


def fping_rows(path):
    rx = re.compile(r"^\[(\d+\.\d+)\] (\S+)\s*: \[(\d+)\], .*? ([\d.]+) ms")
    out = []
    for line in open(path, errors="replace"):
        m = rx.match(line)
        if m:
            out.append((int(m[3]), m[2], float(m[4]) / 1000.0))
    return out


def quantile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def main():
    probes = wire_probes(sys.argv[1])
    print("%-24s %7s %9s %9s %9s %8s" % ("prober", "probes", "median", "p99 |e|", "max |e|", "over 2x"))
    for arg in sys.argv[2:]:
        name, rest = arg.split("=", 1)
        kind, path = rest.split(":", 1)
        errors, over = [], 0
        if kind == "agent":
            for t, host, rtt in agent_rows(path):
                cand = probes.get(host, [])
                best = min(cand, key=lambda p: abs(p[0] - t), default=None)
                if best is None or abs(best[0] - t) > 0.05:
                    continue
                errors.append((rtt - best[1]) * 1e6)
                over += rtt > 2 * best[1]
        else:
            for seq, host, rtt in fping_rows(path):
                hit = [p for p in probes.get(host, []) if p[2] == seq]
                if not hit:
                    continue
                errors.append((rtt - hit[0][1]) * 1e6)
                over += rtt > 2 * hit[0][1]
        share = 100.0 * over / len(errors) if errors else float("nan")
        sizes = [abs(e) for e in errors]
        print("%-24s %7d %9.1f %9.1f %9.1f %7.2f%%" % (name, len(errors), quantile(errors, 0.5),
                                                       quantile(sizes, 0.99), max(sizes, default=float("nan")),
                                                       share))


if __name__ == "__main__":
    main()
