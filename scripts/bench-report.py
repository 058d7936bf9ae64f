#!/usr/bin/env python3
"""bench-report.py DATA [PLOT_DAT]: turn the lines the benchmark
(testbed/guest_memfd_conversion_perf_test, tests/kvm/) prints into the benchmark's
table and target verdicts (on stdout), and, with PLOT_DAT, the data of the
conversion-time plot.

The test prints one line per figure and model, with one sample per repetition:

    gmem_perf <figure> <model> <bytes> <unit> <sample>...
    gmem_perf config iterations=5 vcpus=1 requests=256 -m=1073741824 ...
    gmem_perf done

Units: ns (per conversion), ns/GiB, ns/req (per request and vCPU), ns/page,
x (host memory / guest size). Every figure is lower-is-better. Each cell of the table
is "median min-max" over the repetitions; a gain is a baseline's median over
in-place's (above 1: in-place is better). Targets live here, not in the test: a
missed target is marked MISS, never an error. Exits 1 only if DATA has no
"gmem_perf done" line (the test did not finish) or no figure at all.
"""
import statistics
import sys

MAIN = ["in-place", "discard", "discard-1m", "keep"]
LABEL_W, CELL_W, GAIN_W = 36, 17, 7


def load(path):
    figs, config, done, bad = {}, {}, False, 0
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            w = line.replace("\r", "").split()
            if not w or w[0] != "gmem_perf":
                continue
            if w[1:2] == ["done"]:
                done = True
            elif w[1:2] == ["config"]:
                config.update(kv.split("=", 1) for kv in w[2:] if "=" in kv)
            else:
                try:
                    key = (w[1], w[2], int(w[3]))
                    vals = [float(v) for v in w[5:]]
                    if not vals:
                        raise ValueError
                except (IndexError, ValueError):
                    print(f"WARNING: {path}:{n}: malformed line skipped: {line.strip()}",
                          file=sys.stderr)
                    bad += 1
                    continue
                figs.setdefault(key, (w[4], []))[1].extend(vals)
    return figs, config, done, bad


class Stat:
    def __init__(self, unit, vals):
        self.unit, self.n = unit, len(vals)
        self.med = statistics.median(vals)
        self.min, self.max = min(vals), max(vals)


def num(v):
    a = abs(v)
    return f"{v:.2f}" if a < 10 else f"{v:.1f}" if a < 100 else f"{v:.0f}"


def cell(s):
    if s is None:
        return "-"
    if s.unit == "x":
        med, rng, suffix = f"{s.med:.3f}x", f"{s.min:.3f}-{s.max:.3f}", ""
    else:
        scale, suffix = next((d, u) for d, u in ((1e9, "s"), (1e6, "ms"), (1e3, "us"), (1, "ns"))
                             if s.med >= d or d == 1)
        med = num(s.med / scale) + suffix
        rng = num(s.min / scale) + "-" + num(s.max / scale)
    return med if s.n == 1 else f"{med} {rng}"


def gain(base, inplace):
    if base is None or inplace is None or inplace.med <= 0:
        return "-"
    g = base.med / inplace.med
    return f"{g:.0f}" if g >= 100 else f"{g:.1f}" if g >= 10 else f"{g:.2f}"


def size_name(b):
    for d, u in ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")):
        if b >= d and b % d == 0:
            return f"{b // d}{u}"
    return str(b)


def sections(cfg):
    """The table: (title, columns, rows); a row is (label, figure, bytes)."""
    big = int(cfg.get("-m", 1 << 30))
    frag = int(cfg.get("-f", 16 << 20))
    pop = int(cfg.get("-p", 32 << 20))
    mem = int(cfg.get("-M", 64 << 20))
    K4, M2 = 4096, 2 << 20

    def pair(label, fig, b):
        return [(f"{label} to shared", f"{fig}.to-shared", b),
                (f"{label} to private", f"{fig}.to-private", b)]

    sweep = (pair("4K", "sweep.empty.aligned", K4) + pair("2M", "sweep.empty.aligned", M2) +
             pair(size_name(big), "sweep.empty.aligned", big) +
             pair("2M unaligned", "sweep.empty.unaligned", M2) +
             pair(f"{size_name(big // 4)} unaligned", "sweep.empty.unaligned", big // 4))
    mapped = (pair("4K", "sweep.mapped.aligned", K4) + pair("64K", "sweep.mapped.aligned", 65536) +
              pair("2M", "sweep.mapped.aligned", M2) +
              pair("2M unaligned", "sweep.mapped.unaligned", M2))
    fragm = (pair("amid alternating: 4K", "frag.amid", K4) +
             [("fragmenting: each 4K to shared", "frag.fragmenting", K4)] +
             pair(f"alternating: all {size_name(frag)}", "frag.whole", frag))
    pops = [(f"{s.replace('-', ' ')}", f"pop.{s}", pop) for s in
            ("to-shared", "guest-writes-shared", "host-reads", "to-private",
             "guest-writes-private", "round-trip")]
    guest = [("null request (exit alone)", "guest.null", 0)]
    for c in (K4, M2):
        n = size_name(c)
        guest += [(f"{n} request + guest writes", "guest.request", c),
                  (f"{n}: VMM's conversion to shared", "guest.vmm.to-shared", c),
                  (f"{n}: VMM's conversion to private", "guest.vmm.to-private", c)]
    mems = [(f"{w}: {what}", f"mem.{w}.{k}", mem) for w in ("shared", "after")
            for what, k in (("guest_memfd + copy", "total"), ("copy alone", "copy"))]
    fault = [("first touch (allocates)", "first"), ("touch after zap (allocated)", "refault")]
    return [
        (f"1. sweep: one conversion in a {size_name(big)} file, nothing allocated", MAIN, sweep),
        ("   the range populated and mapped by the vCPU: zaps, and discards of data", MAIN,
         mapped),
        (f"   the first {size_name(frag)} fragmented into alternating shared and private pages",
         MAIN, fragm),
        (f"2. populated: {size_name(pop)} written by the guest, time per GiB", MAIN, pops),
        (f"3. guest-driven: KVM_HC_MAP_GPA_RANGE in {size_name(int(cfg.get('-g', 4 << 20)))} of"
         f" {size_name(int(cfg.get('-G', 1 << 30)))} per vCPU, time per request and vCPU\n"
         "   the guest writes each chunk after its conversion", MAIN, guest),
        (f"4. memory: {size_name(mem)} guest, host memory / guest size\n"
         "   shared: all of it converted to shared; after: converted back", MAIN, mems),
        (f"5. fault path, {size_name(pop)}, per page: shared memory", ["in-place", "default-vm"],
         [(l, f"fault.shared.{f}", pop) for l, f in fault]),
        ("   private memory, both SW-protected VMs", ["in-place", "attributes"],
         [(l, f"fault.private.{f}", pop) for l, f in fault]),
    ]


SHORT = {"discard": "disc", "discard-1m": "1m", "keep": "keep", "default-vm": "dflt",
         "attributes": "attr"}


def table(stats, cfg):
    out, last = [], None
    for title, cols, rows in sections(cfg):
        if cols != last:
            out.append(f"{'':<{LABEL_W}}" + "".join(f"{c:>{CELL_W}}" for c in cols) +
                       "".join(f"{'g-' + SHORT[c]:>{GAIN_W}}" for c in cols[1:]))
            last = cols
        out.append(title)
        for label, fig, b in rows:
            cells = [stats.get((fig, c, b)) for c in cols]
            out.append(f"  {label:<{LABEL_W - 2}}" +
                       "".join(f"{cell(s):>{CELL_W}}" for s in cells) +
                       "".join(f"{gain(s, cells[0]):>{GAIN_W}}" for s in cells[1:]))
    return out


def targets(stats, cfg):
    """(name, numerator, denominator, op, goal): numerator / denominator op goal."""
    big = int(cfg.get("-m", 1 << 30))
    pop = int(cfg.get("-p", 32 << 20))
    mem = int(cfg.get("-M", 64 << 20))
    big_name = size_name(big)
    t = []
    for d in ("shared", "private"):
        fig = f"sweep.empty.aligned.to-{d}"
        t.append((f"in-place {big_name} vs 4K conversion, to {d}",
                  (fig, "in-place", big), (fig, "in-place", 4096), "<=", 10))
        t.append((f"attributes alone (keep) vs in-place, {big_name}, to {d}",
                  (fig, "keep", big), (fig, "in-place", big), ">=", 100))
    t.append(("in-place memory after the round trip / guest size",
              ("mem.after.total", "in-place", mem), None, "<=", 1.05))
    t.append(("keep (no discard) memory after the round trip / guest size",
              ("mem.after.total", "keep", mem), None, ">=", 1.9))
    for f, what in (("first", "first touch"), ("refault", "touch after zap")):
        t.append((f"fault path, conversion VM vs default VM, {what}",
                  (f"fault.shared.{f}", "in-place", pop), (f"fault.shared.{f}", "default-vm", pop),
                  "<=", 1.10))
    t.append(("fault path, guest_memfd state vs attributes, touch after zap",
              ("fault.private.refault", "in-place", pop), ("fault.private.refault", "attributes", pop),
              "<=", 1.10))
    # Against discard, what QEMU does: discard-1m's 1M memslots also keep KVM from
    # mapping the shared copy with 2M pages, which slows the guest's writes.
    for c in (4096, 2 << 20):
        t.append((f"guest-driven {size_name(c)} request + writes, discard vs in-place",
                  ("guest.request", "discard", c), ("guest.request", "in-place", c), ">=", 1.0))

    out, missed = ["", "targets (ratio of medians [range from min/max] / goal / verdict)"], 0
    for name, a, b, op, goal in t:
        sa, sb = stats.get(a), stats.get(b) if b else None
        if sa is None or (b and sb is None):
            out.append(f"  {name:<62} {'(not run)':>24}")
            continue
        if sb is None:
            v, lo, hi = sa.med, sa.min, sa.max
        else:
            v, lo, hi = sa.med / sb.med, sa.min / sb.max, sa.max / sb.min
        ok = v <= goal if op == "<=" else v >= goal
        missed += not ok
        noise = " (within noise)" if lo <= goal <= hi and lo != hi else ""
        out.append(f"  {name:<62} {num(v) + 'x':>8} [{num(lo)}-{num(hi)}] {op} {num(goal)}x  "
                   f"{'PASS' if ok else 'MISS'}{noise}")
    out.append(f"{missed} target(s) missed")
    return out


def plot_data(stats, cfg, path):
    sizes = sorted({b for (f, m, b) in stats if f == "sweep.empty.aligned.to-shared"})
    with open(path, "w") as f:
        f.write("# bytes, then median min max for: " + " ".join(
            f"{m}/to-{d}" for d in ("shared", "private") for m in MAIN) + "\n")
        for b in sizes:
            row = [str(b)]
            for d in ("shared", "private"):
                for m in MAIN:
                    s = stats.get((f"sweep.empty.aligned.to-{d}", m, b))
                    row += [f"{v / 1e3:.3f}" for v in (s.med, s.min, s.max)] if s else ["-"] * 3
            f.write(" ".join(row) + "\n")
    return len(sizes)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    figs, cfg, done, bad = load(sys.argv[1])
    if not figs or not done:
        print(f"ERROR: {sys.argv[1]}: " + ("no gmem_perf figures" if not figs else
              "no 'gmem_perf done' line: the benchmark did not finish"), file=sys.stderr)
        return 1
    stats = {k: Stat(u, v) for k, (u, v) in figs.items()}
    reps = sorted({s.n for s in stats.values() if s.n > 1})
    print("guest_memfd conversion benchmark: in-place (KVM_GMEM_CONVERT_*) vs. baselines with")
    print("KVM_SET_MEMORY_ATTRIBUTES and a shared copy in anonymous memory: discard (PUNCH_HOLE")
    print("going shared, MADV_DONTNEED going private, as QEMU), discard-1m (the same in 1M")
    print("memslots: no huge-page tracking, as in place), keep (nothing discarded)")
    print("config: " + " ".join(f"{k}={v}" for k, v in cfg.items()))
    print(f"cells: median min-max over {'/'.join(map(str, reps)) or '1'} repetitions; "
          "g-X: X's median / in-place's (above 1: in-place is better)")
    if bad:
        print(f"WARNING: {bad} malformed line(s) skipped (console interleaving?)")
    print()
    print("\n".join(table(stats, cfg)))
    print("\n".join(targets(stats, cfg)))
    if len(sys.argv) == 3 and plot_data(stats, cfg, sys.argv[2]) < 2:
        print("ERROR: fewer than two sizes of sweep.empty.aligned: no curve to plot",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
