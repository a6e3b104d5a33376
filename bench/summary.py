#!/usr/bin/env python3
"""bench/summary.py RESULTS: medians, ratios pop3d/Dovecot and the targets
of issue 8, from the key=value lines popload printed (bench/run.sh)."""
import statistics
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
            if "scenario" in kv:
                rows.append(kv)
    return rows


def med(rows, key, **match):
    vals = [float(r[key]) for r in rows if key in r and
            all(r.get(k) == str(v) for k, v in match.items())]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def mbox_summary(rows, out, verdicts):
    """Issue 19: pop3d against popa3d and Dovecot on one mbox."""
    if not any(r["scenario"].startswith("mbox") for r in rows):
        return
    if any(r["scenario"] == "mbox" and r.get("available") == "0"
           for r in rows):
        verdicts.append("mbox: this pop3d serves no mbox: its figures are"
                        " not available")
    out.append(("mbox (pop3d | popa3d | Dovecot)", "", "", "", ""))

    def line(name, key, unit, better, tp=None, td=None, **m):
        p, n = med(rows, key, server="pop3d", **m)
        a, na = med(rows, key, server="popa3d", **m)
        d, _ = med(rows, key, server="dovecot", **m)
        # A figure of 0 is a measurement that failed, never a result.
        ra = p / a if p and a else None
        rd = p / d if p and d else None
        out.append((name, f"{fmt(p)} | {fmt(a)} | {fmt(d)} {unit}",
                    f"/popa3d {fmt(ra, 2)}", f"/dov {fmt(rd, 2)}",
                    max(n, na)))
        for tgt, r, peer in ((tp, ra, "popa3d"), (td, rd, "Dovecot")):
            if tgt is None or r is None:
                continue
            ok = r >= tgt if better == "higher" else r <= tgt
            verdicts.append(f"mbox {name.strip()}: pop3d/{peer} {r:.2f}, "
                            f"target {'>=' if better == 'higher' else '<='}"
                            f" {tgt} -> {'MET' if ok else 'NOT MET'}")
        return p

    line("mbox100k 1st session", "s1_ms", "ms", "lower", 1.0,
         scenario="mbox100k")
    line("  server CPU, 1st", "s1_cpu_ms", "ms", "lower",
         scenario="mbox100k")
    line("mbox100k 2nd session", "s2_ms", "ms", "lower", 0.3,
         scenario="mbox100k")
    line("  server CPU, 2nd", "s2_cpu_ms", "ms", "lower",
         scenario="mbox100k")
    line("mboxretr 184 MB, 1 client", "mbps", "MB/s", "higher", 1.0,
         scenario="mboxretr")
    line("  server CPU per GB", "cpu_ms_per_gb", "ms", "lower", 1.0,
         scenario="mboxretr")
    v, n = med(rows, "mbps", server="popa3d-inetd", scenario="mboxretr")
    if v is not None:
        c, _ = med(rows, "cpu_ms_per_gb", server="popa3d-inetd",
                   scenario="mboxretr")
        out.append(("  popa3d as inetd runs it (Nagle)",
                    f"{fmt(v)} MB/s, {fmt(c, 0)} ms/GB", "", "", n))
    users = sorted({r["user"] for r in rows if r["scenario"] == "mboxmem"})
    for u in users:
        line(f"session peak RSS, {u}", "peak_rss_kb", "kB", "lower",
             scenario="mboxmem", user=u)

    def rss(srv, suffix):
        us = [u for u in users if u.endswith(suffix)]
        return med(rows, "peak_rss_kb", server=srv, scenario="mboxmem",
                   user=us[0])[0] if us else None

    p = rss("pop3d", "big")
    if p is not None:
        verdicts.append(f"mbox pop3d session peak RSS, 100,000 messages: "
                        f"{p / 1024:.1f} MB, target <= 20 MB -> "
                        f"{'MET' if p <= 20 * 1024 else 'NOT MET'}")
    for srv in ("pop3d", "popa3d", "dovecot"):
        a, b = rss(srv, "small"), rss(srv, "retr")
        if a and b:
            verdicts.append(f"mbox {srv}: peak RSS, 1,000 x 180 KB / "
                            f"1,000 x 0.5-3 KB: {b / a:.2f} (flat in "
                            f"message size: near 1)")


def main():
    rows = load(sys.argv[1])
    out = []
    verdicts = []

    def line(name, key, unit, better, target=None, **m):
        p, n = med(rows, key, server="pop3d", **m)
        d, _ = med(rows, key, server="dovecot", **m)
        ratio = p / d if p is not None and d else None
        out.append((name, f"{fmt(p)} {unit}", f"{fmt(d)} {unit}",
                    fmt(ratio, 2), n))
        if target is not None and ratio is not None:
            ok = ratio >= target if better == "higher" else ratio <= target
            verdicts.append(f"{name}: ratio {ratio:.2f}, target "
                            f"{'>=' if better == 'higher' else '<='} "
                            f"{target} -> {'MET' if ok else 'NOT MET'}")
        return p

    for tls in ("0", "1"):
        t = " TLS" if tls == "1" else ""
        goal = 2 if tls == "1" else 5
        ps = line(f"sessions/s{t} (16 clients)", "rate", "/s", "higher",
                  goal, scenario="sessions", tls=tls)
        line(f"  p50 latency{t}", "p50_ms", "ms", "lower",
             scenario="sessions", tls=tls)
        line(f"  p99 latency{t}", "p99_ms", "ms", "lower",
             scenario="sessions", tls=tls)
        line(f"  server CPU/session{t}", "cpu_ms_per_session", "ms",
             "lower", scenario="sessions", tls=tls)
        if tls == "0" and ps is not None:
            nop, _ = med(rows, "rate", scenario="greet")
            if nop:
                verdicts.append(
                    f"sessions/s vs do-nothing ceiling ({nop:.0f}/s): "
                    f"{ps / nop:.2f}, target >= 0.5 -> "
                    f"{'MET' if ps / nop >= 0.5 else 'NOT MET'}")
        for c in ("1", "4"):
            pd = line(f"download{t} {c} client(s)", "mbps", "MB/s",
                      "higher", 2 if tls == "1" else 3,
                      scenario="download", tls=tls, clients=c)
            line(f"  server CPU per GB{t} ({c})", "cpu_ms_per_gb", "ms",
                 "lower", scenario="download", tls=tls, clients=c)
            raw, _ = med(rows, "mbps", scenario="raw")
            if tls == "0" and pd is not None and raw:
                verdicts.append(
                    f"download {c} client(s) vs raw loopback "
                    f"({raw:.0f} MB/s): {pd / raw:.2f}, target >= 0.4 -> "
                    f"{'MET' if pd / raw >= 0.4 else 'NOT MET'}")
    line("big mailbox, 1st session (cold)", "s1_ms", "ms", "lower", 1.0,
         scenario="bigbox")
    line("big mailbox, 2nd session (warm)", "s2_ms", "ms", "lower", 0.3,
         scenario="bigbox")
    # The same mailbox with Dovecot's UIDLs carried over, against
    # pop3d's own warm session (issue 18: within 10 %).
    mw, mn = med(rows, "s2_ms", server="pop3d", scenario="migrated")
    ow, _ = med(rows, "s2_ms", server="pop3d", scenario="bigbox")
    mc, _ = med(rows, "s1_ms", server="pop3d", scenario="migrated")
    if mw is not None and ow:
        out.append(("big mailbox from Dovecot, 1st (cold)",
                    f"{fmt(mc)} ms", "-", "-", mn))
        out.append(("big mailbox from Dovecot, 2nd (warm)",
                    f"{fmt(mw)} ms", "-", "-", mn))
        verdicts.append(
            f"big mailbox carried over from Dovecot, warm session vs "
            f"pop3d's own ({ow:.1f} ms): {mw / ow:.2f}, target <= 1.1 -> "
            f"{'MET' if mw / ow <= 1.1 else 'NOT MET'}")
    for n in sorted({r["sessions"] for r in rows
                     if r["scenario"] == "idle"}, key=int):
        line(f"idle {n}: PSS per session", "pss_kb_per_session", "kB",
             "lower", 0.35, scenario="idle", sessions=n)
    # retrmem: user ms has a 1-3 KB message 1, user mh a 200 MB one.
    line("PSS during RETR, 2 KB message", "pss_kb_session", "kB",
         "lower", scenario="retrmem", user="ms")
    line("PSS during RETR, 200 MB message", "pss_kb_session", "kB",
         "lower", scenario="retrmem", user="mh")
    for srv in ("pop3d", "dovecot"):
        a, _ = med(rows, "pss_kb_session", server=srv, scenario="retrmem",
                   user="ms")
        b, _ = med(rows, "pss_kb_session", server=srv, scenario="retrmem",
                   user="mh")
        if a and b is not None:
            verdicts.append(f"{srv}: PSS during RETR, 200 MB / 2 KB message:"
                            f" {b / a:.2f} (flat in message size: near 1)")
    for k, lbl, unit in (("raw", "raw loopback TCP", "MB/s"),
                         ("greet", "do-nothing under tcpserver", "/s")):
        key = "mbps" if k == "raw" else "rate"
        v, n = med(rows, key, scenario=k)
        out.append((lbl, f"{fmt(v)} {unit}", "", "", n))

    mbox_summary(rows, out, verdicts)
    w = max(len(r[0]) for r in out)
    print(f"{'':{w}}  {'pop3d':>14}  {'dovecot':>14}  {'ratio':>6}  runs")
    for name, p, d, r, n in out:
        print(f"{name:{w}}  {p:>14}  {d:>14}  {r:>6}  {n}")
    print()
    for v in verdicts:
        print(v)
    errs = [r for r in rows if r.get("errors", "0") != "0" or
            r.get("bad", "0") != "0"]
    if errs:
        print(f"\nWARNING: {len(errs)} runs reported errors or bad content")


main()
