#!/usr/bin/env bash
# compare.sh — evtwatch next to golang-evtx's own evtxdump (and libevtx's
# evtxexport when installed) on the same 120 MB .evtx, as issue #7 asks.
# Not run by CI: it takes a few minutes and wants a quiet machine.
#
#   testdata/bench/compare.sh [RUNS]        (default 3 runs per command)
#
# Needs go, python3 and ../shared beside the checkout (EVTWATCH_SHARED
# overrides). Uses hyperfine when installed (apt-get install -y hyperfine),
# /usr/bin/time otherwise, and /usr/bin/time once per command for the peak
# RSS and the event counts. Prints a markdown table on stdout, progress on
# stderr.
#
# What is compared:
#   dump       every record to JSON lines: evtxdump (golang-evtx v1.2.9,
#              built from the module source) vs `evtwatch dump --format jsonl`
#   rule scan  `evtwatch analyze` with the built-in rules (decodes only the
#              records a rule names) vs evtxdump
#   caught up  a scheduled `evtwatch scan` of the same file when nothing is
#              new (a whole process: start-up, config, state, rules; the
#              file part alone is BenchmarkEVTXCaughtUpBig in evtx)
# Ratios are evtxdump's time over the other's, in wall time and in CPU time
# (user + system): on a shared machine CPU time is the steadier of the two.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${EVTWATCH_SHARED:-$repo/../shared}
runs=${1:-3}
big=$here/big.evtx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { printf '%s\n' "$*" >&2; }

command -v go >/dev/null || { say "go not found"; exit 1; }
command -v python3 >/dev/null || { say "python3 not found"; exit 1; }
[ -x /usr/bin/time ] || { say "/usr/bin/time not found (apt-get install -y time)"; exit 1; }
[ -d "$shared/testdata/evtx-public" ] || { say "shared samples not found at $shared (set EVTWATCH_SHARED)"; exit 1; }

# 1. The big file: every valid chunk of the public samples, round robin,
#    record headers renumbered (mkbig-evtx.py).
if [ ! -s "$big" ]; then
	say "building $big"
	python3 "$shared/tools/mkbig-evtx.py" "$big" 120 "$shared"/testdata/evtx-public/*.evtx >&2
fi
size=$(stat -c %s "$big")

# 2. golang-evtx's evtxdump, from the v1.2.9 module source, with the small
#    file defining Version and CommitID its makefile would generate.
say "building evtxdump (golang-evtx v1.2.9)"
(cd "$repo" && go mod download github.com/0xrawsec/golang-evtx)
src=$(cd "$repo" && go list -m -f '{{.Dir}}' github.com/0xrawsec/golang-evtx)
mkdir -p "$work/evtxdump" "$work/bin"
cp "$src/tools/evtxdump/evtxdump.go" "$work/evtxdump/"
chmod u+w "$work/evtxdump/evtxdump.go"
printf 'package main\n\nconst (\n\tVersion  = "v1.2.9"\n\tCommitID = "module source"\n)\n' >"$work/evtxdump/version.go"
printf 'module evtxdump\n\ngo 1.21\n\nrequire github.com/0xrawsec/golang-evtx v1.2.9\n' >"$work/evtxdump/go.mod"
(cd "$work/evtxdump" && GOFLAGS=-mod=mod GOWORK=off go build -o "$work/bin/evtxdump" . >&2)

# 3. evtwatch.
say "building evtwatch"
(cd "$repo" && go build -o "$work/bin/evtwatch" ./cmd/evtwatch)
evtwatch=$work/bin/evtwatch

# A scan configuration over the big file, and a first run that reads it
# all, so that the timed runs are caught up.
mkdir -p "$work/state"
cat >"$work/scan.yaml" <<EOF
sources:
  - path: $big
state: $work/state/state.json
lookback: 24h
EOF
"$evtwatch" scan --config "$work/scan.yaml" --quiet 2>/dev/null || true

# measure NAME RUNS CMD... appends "name wall_s cpu_s rss_kb" to results.
results=$work/results
: >"$results"
measure() {
	local name=$1 n=$2
	shift 2
	say "timing: $name ($n runs)"
	local wall cpu
	if command -v hyperfine >/dev/null; then
		hyperfine --style none --ignore-failure --warmup 1 --runs "$n" \
			--export-json "$work/h.json" "$(printf '%q ' "$@")" >&2
		read -r wall cpu < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["median"], r["user"] + r["system"])' "$work/h.json")
	else
		"$@" >/dev/null 2>&1 || true # warm-up
		local walls=() cpus=()
		for _ in $(seq "$n"); do
			/usr/bin/time -f '%e %U %S' -o "$work/t" "$@" >/dev/null 2>&1 || true
			read -r w u s <"$work/t"
			walls+=("$w")
			cpus+=("$(python3 -c "print($u + $s)")")
		done
		wall=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(((n + 1) / 2))p")
		cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$(((n + 1) / 2))p")
	fi
	/usr/bin/time -f '%M' -o "$work/t" "$@" >/dev/null 2>&1 || true
	echo "$name $wall $cpu $(tail -1 "$work/t")" >>"$results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
measure evtxdump "$runs" "$work/bin/evtxdump" "$big"
if command -v evtxexport >/dev/null; then
	measure evtxexport "$runs" evtxexport "$big"
fi
measure dump "$runs" "$evtwatch" dump --format jsonl "$big"
measure analyze "$((runs * 3))" "$evtwatch" analyze "$big"
measure scan "$((runs * 10))" "$evtwatch" scan --config "$work/scan.yaml" --quiet
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Zero dropped records: both dumps print one line per event.
say "counting events"
n_evtxdump=$("$work/bin/evtxdump" "$big" 2>/dev/null | wc -l)
n_dump=$("$evtwatch" dump --format jsonl "$big" 2>/dev/null | wc -l)
# The other readers, through their go test benchmarks on one core (file
# bytes per second; inputs made from the shared samples).
say "benchmarking the .evt, XML, text and CSV readers"
(cd "$repo" && go test -run '^$' -cpu 1 -benchtime 2s \
	-bench 'BenchmarkEVTRead$|BenchmarkXMLReader/utf8$|BenchmarkXMLReader/utf16le$|BenchmarkTextReader/utf8$|BenchmarkCSVReader/2003-csv$|BenchmarkCSVReader/2008-csv$' \
	./evtx/ 2>&1) | grep '^Benchmark' >"$work/readers" || true

# The caught-up scan without process start-up, config, state and rules.
(cd "$repo" && go test -run '^$' -bench 'BenchmarkEVTXCaughtUpBig$' -benchtime 50x ./evtx/ 2>&1) |
	grep '^Benchmark' >"$work/caughtup" || true

n_evtxexport=-
if command -v evtxexport >/dev/null; then
	# libevtx gives up on a file at the first record it cannot parse.
	n_evtxexport=$( (evtxexport "$big" 2>/dev/null || true) | grep -c '^Event number' || true)
fi
n_records=$(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(32)  # file header: next record number
print(struct.unpack_from("<Q", d, 24)[0] - 1)' "$big")

python3 - "$results" "$size" "$n_records" "$n_evtxdump" "$n_dump" "$load_before" "$load_after" "$n_evtxexport" "$work/readers" "$work/caughtup" <<'EOF'
import os, platform, subprocess, sys
res = {}
for line in open(sys.argv[1]):
    name, wall, cpu, rss = line.split()
    res[name] = (float(wall), float(cpu), int(rss))
size, records, n_evtxdump, n_dump = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
model = "unknown CPU"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        model = l.split(":", 1)[1].strip()
        break
base = res["evtxdump"]
rows = [
    ("dump (every record to JSON lines)", "golang-evtx `evtxdump`", "evtxdump"),
    ("dump (every record, text)", "libevtx `evtxexport`", "evtxexport"),
    ("dump (every record to JSON lines)", "`evtwatch dump --format jsonl`", "dump"),
    ("rule scan (built-in rules)", "`evtwatch analyze`", "analyze"),
    ("caught-up scheduled scan (whole process)", "`evtwatch scan`", "scan"),
]
print(f"Machine: {os.cpu_count()} × {model}, {platform.system()} {platform.release()}; "
      f"load average {sys.argv[6]} before, {sys.argv[7]} after.")
print(f"File: {size/1e6:.0f} MB .evtx, {records:,} records (mkbig-evtx.py from the public samples). "
      f"Events printed: evtxdump {n_evtxdump:,}, evtwatch dump {n_dump:,}.")
print()
print("| task | tool | wall (median) | CPU user+sys | peak RSS | speed-up vs evtxdump, wall | speed-up vs evtxdump, CPU |")
print("|---|---|---:|---:|---:|---:|---:|")
for task, tool, key in rows:
    if key not in res:
        continue
    wall, cpu, rss = res[key]
    def fmt(t):
        return f"{t*1e3:.0f} ms" if t < 1 else f"{t:.2f} s"
    rw = f"{base[0]/wall:.1f}×" if wall > 0 else "—"
    rc = f"{base[1]/cpu:.1f}×" if cpu > 0 else "—"
    if key == "evtxdump":
        rw = rc = "1×"
    if key == "evtxexport" and sys.argv[8] != "-" and int(sys.argv[8]) < records:
        tool += f" (stopped with an error after {int(sys.argv[8]):,} of {records:,} records: not comparable)"
        rw = rc = "—"
    print(f"| {task} | {tool} | {fmt(wall)} | {fmt(cpu)} | {rss/1024:.0f} MB | {rw} | {rc} |")
for l in open(sys.argv[10]):
    f = l.split()
    if "ns/op" in f:
        ms = float(f[f.index("ns/op") - 1]) / 1e6
        cpu = f[f.index("cpu-ms/op") - 1] if "cpu-ms/op" in f else "?"
        print()
        print(f"Caught-up scan of the same file inside one process (BenchmarkEVTXCaughtUpBig: "
              f"identify the file, skip every chunk by its header and last record): {ms:.1f} ms wall, {cpu} ms CPU.")
readers = [l.split() for l in open(sys.argv[9]) if "MB/s" in l]
if readers:
    print()
    print("| reader (go test -bench, one core) | MB/s |")
    print("|---|---:|")
    for f in readers:
        print(f"| {f[0].removeprefix('Benchmark')} | {f[f.index('MB/s') - 1]} |")
EOF
