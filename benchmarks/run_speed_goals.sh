#!/usr/bin/env bash
# Every speed goal of issues 14-17, one benchmark after another, on one machine.
#
#   benchmarks/run_speed_goals.sh DATA_DIR OUT_DIR
#
# DATA_DIR is the shared data directory (the CCKS slice, the SuperMap train file, the address
# corpus); OUT_DIR receives one log per benchmark and the generated 100k tables. Run it on a quiet
# machine (no training, no helpers): every figure is wall time. About 9 minutes on session 19's AVX-512
# VM, longer on slower ones.
# The machine line (CPU model and the AVX-512 / VNNI flags, which decide int8 ONNX speed) goes first.
set -euo pipefail

data=${1:?usage: run_speed_goals.sh DATA_DIR OUT_DIR}
out=${2:?usage: run_speed_goals.sh DATA_DIR OUT_DIR}
py=${PYTHON:-.venv/bin/python}
mkdir -p "$out"

# Bytecode: pip byte-compiles a package when it installs it, and an editable checkout writes its caches
# at the first import, unless PYTHONDONTWRITEBYTECODE is set (these VMs set it). Then every process,
# each worker of `score` and `parse --file` included, compiles geoalign's modules again (about 0.07 s
# a process). Measure what an installed user runs: compiled once, here, and read by every process.
unset PYTHONDONTWRITEBYTECODE
"$py" -m compileall -q src/geoalign

ccks=$data/ccks2021-address-relevance/round1_slice.tsv
supermap=$data/supermap-address-tagging/train.txt
corpus=$data/address-corpus/addresses.txt
for f in "$ccks" "$supermap" "$corpus"; do
    [[ -f $f ]] || { echo "missing data file: $f" >&2; exit 2; }
done

run() {  # run NAME CMD...: log to OUT/NAME.log, time it, keep going if one fails
    local name=$1; shift
    echo "== $name: $* ($(date -u +%H:%M:%S))"
    if ! "$@" >"$out/$name.log" 2>&1; then
        echo "   FAILED (see $out/$name.log)"
    fi
    tail -n 25 "$out/$name.log"
}

{
    date -u
    git rev-parse --short HEAD
    grep -m1 "model name" /proc/cpuinfo
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    for f in avx2 avx512f avx512_vnni avx_vnni avx512_bf16 amx_tile; do
        [[ $flags == *" $f"* ]] && echo -n "$f " || true
    done
    echo
    echo "bytecode: compiled (PYTHONDONTWRITEBYTECODE unset)"
    nproc
    uptime
} | tee "$out/machine.txt"

run parse "$py" benchmarks/bench_parse.py --data "$supermap" --limit 20000 --e2e --repeat 3
run structured "$py" benchmarks/bench_structured.py --pairs "$ccks" --n 19251 --workers 1 2
run neural "$py" benchmarks/bench_neural.py --n 4000 --threads 2
run embedding "$py" benchmarks/bench_link_ann.py "$corpus" --n 100000 \
    --model src/geoalign/models/retrieval --threads 2
[[ -d $out/tables100k ]] || "$py" benchmarks/gen_tables.py --places 100000 --hard --seed 7 --out "$out/tables100k"
run link_structured "$py" benchmarks/bench_link.py generated "$out/tables100k" --no-progress
run link_default "$py" benchmarks/bench_link.py generated "$out/tables100k" --no-progress \
    --model src/geoalign/models/neural
run server "$py" benchmarks/bench_server_load.py --scorers structured,cascade --workers 0,2 \
    --per-request 1 --clients 64 --seconds 8 --no-thread-pool --requests 100000
echo "done $(date -u +%H:%M:%S); load: $(uptime)"
