#!/usr/bin/env bash
# Measures Kufatilia Gateway and writes the figures into docs/benchmarks.md, between its
# "bench/run.sh" markers (the text around them is kept).
#
#   bench/run.sh [--quick] [--pi] [SECTION...]
#
# SECTION (default: all but pi-size):
#   peers     the same job beside gammu-smsd and smstools on the same simulated modem (200
#             reports, each stored and acknowledged): receive and report-to-ack latency, CPU per
#             report, peak RSS, bytes and fsyncs per report; ours also with 4 modems and under a
#             flood of 1000; then the idle cost of each (60 s, one idle modem) and our start-up
#             time to READY=1
#   pipeline  raw PDU to durable commit + queued reply + queued forward, messages per second
#   drain     100,000 stored incidents forwarded to the reference receiver on loopback
#   decode    PDU decoding (criterion)
#   size      the stripped release binary for this machine
#   pi-size   the same for the Raspberry Pi targets (two more LTO builds: about 5 min)
# --quick   one run of each and a 20 s idle window, to try the script (figures not for the doc)
# --pi      adds pi-size
#
# Installs gammu-smsd and smstools (apt-get) when they are missing, and linux-perf to count
# fsyncs. Takes about 45 min on a 2-core machine from a cold build (peers about 35 min: the
# peers' and our acknowledgements are paced), 5 min more with --pi; run it on a quiet machine,
# since the figures are only as good as that.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
idle=60
quick=0
pi=0
sections=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; runs=1; idle=20 ;;
    --pi) pi=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    peers|pipeline|drain|decode|size|pi-size) sections+=("$1") ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
[ ${#sections[@]} -gt 0 ] || sections=(peers pipeline drain decode size)
[ "$pi" = 1 ] && sections+=(pi-size)
wants() { local s; for s in "${sections[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

target_dir=${CARGO_TARGET_DIR:-target}
doc=docs/benchmarks.md
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(. /etc/os-release && echo "$PRETTY_NAME")"
stamp() { date -u '+%Y-%m-%d %H:%M UTC'; }
load() { cut -d' ' -f1 /proc/loadavg; }

# Replaces the text between <!-- bench/run.sh NAME --> and <!-- /bench/run.sh NAME --> in the
# doc with the file $2.
put() {
  local name=$1 file=$2
  grep -q "<!-- bench/run.sh $name -->" "$doc" || { echo "$doc has no '$name' marker" >&2; exit 1; }
  awk -v name="$name" -v file="$file" '
    $0 == "<!-- bench/run.sh " name " -->" { print; while ((getline l < file) > 0) print l; skip = 1; next }
    $0 == "<!-- /bench/run.sh " name " -->" { skip = 0 }
    !skip { print }
  ' "$doc" > "$out/doc" && cp "$out/doc" "$doc"
  echo "== $name written to $doc"
}

if [ "$quick" = 1 ]; then
  echo "quick run: the figures are printed, docs/benchmarks.md is left alone"
  put() { echo "== $1:"; cat "$2"; }
fi

# The binary measured is the one the packages ship (no `demo` feature), copied aside: `cargo
# bench` builds the package's binary again into the same place with the default features (the
# simulator and the platform stub linked in), which is not what a box runs.
bin="$out/kufatilia-gateway"
if wants peers || wants size; then
  echo "== building the release binary"
  cargo build --locked --release --no-default-features --bin kufatilia-gateway
  cp "$target_dir/release/kufatilia-gateway" "$bin"
fi

if wants peers; then
  if ! command -v gammu-smsd >/dev/null || ! command -v smsd >/dev/null; then
    echo "== installing gammu-smsd and smstools"
    apt-get update -qq
    # Their packages start services on a machine with systemd: only this script runs them.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gammu-smsd smstools
    systemctl disable --now gammu-smsd smstools 2>/dev/null || true
  fi
  # perf counts the daemons' fsyncs (syscall tracepoints); without it they read "n/a".
  command -v perf >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf || true
  echo "== the same job beside gammu-smsd and smstools, then the idle cost"
  {
    echo "Measured $(stamp) by \`bench/run.sh\` (\`cargo bench --bench peers -- --runs $runs --idle-secs $idle\`)."
    echo
    cargo bench --locked --bench peers -- --gateway "$bin" --runs "$runs" --idle-secs "$idle"
  } > "$out/peers"
  put peers "$out/peers"
fi

if wants pipeline; then
  echo "== pipeline throughput"
  PIPELINE_RUNS=$runs cargo bench --locked --bench pipeline_throughput | tee "$out/pipeline.log"
  {
    echo "Measured $(stamp), load average $(load) after the run:"
    echo
    echo '```'
    grep '^pipeline_throughput:' "$out/pipeline.log"
    echo '```'
  } > "$out/pipeline"
  put pipeline "$out/pipeline"
fi

if wants drain; then
  echo "== forward drain"
  {
    echo "Measured $(stamp) on $machine, load average $(load) at the start."
    echo
    echo "| run | drain | throughput and RSS |"
    echo "| --- | --- | --- |"
  } > "$out/drain"
  for i in $(seq "$runs"); do
    cargo bench --locked --bench forward_drain | tee "$out/drain.$i"
    d=$(grep '^drained' "$out/drain.$i")
    r=$(grep '^RSS' "$out/drain.$i")
    echo "| $i | $d | $r |" >> "$out/drain"
  done
  put drain "$out/drain"
fi

if wants decode; then
  echo "== PDU decoding"
  cargo bench --locked --bench pdu_decode | tee "$out/decode.log"
  {
    echo "Measured $(stamp) on $machine, load average $(load) after the run (criterion: time per mix of 12 PDUs):"
    echo
    echo '```'
    # Only the measurement: criterion adds a change line against whatever run it saved last,
    # which the doc does not show.
    grep -E 'time:|thrpt:' "$out/decode.log" | grep -v '%'
    echo '```'
  } > "$out/decode"
  put decode "$out/decode"
fi

size_row() { printf '| %s | %s bytes (%s MiB) |\n' "$1" "$(stat -c %s "$2")" "$(awk -v b="$(stat -c %s "$2")" 'BEGIN { printf "%.1f", b / 1048576 }')"; }

if wants size; then
  {
    echo "Measured $(stamp):"
    echo
    echo "| target | stripped release binary |"
    echo "| --- | ---: |"
    size_row "$(rustc -vV | sed -n 's/^host: //p')" "$bin"
  } > "$out/size"
  put size "$out/size"
fi

if wants pi-size; then
  echo "== release builds for the Raspberry Pi"
  bash cross/build.sh --install --profile release --smoke aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
  {
    echo "Measured $(stamp):"
    echo
    echo "| target | stripped release binary |"
    echo "| --- | ---: |"
    for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
      size_row "$t" "$target_dir/$t/release/kufatilia-gateway"
    done
  } > "$out/pi-size"
  put pi-size "$out/pi-size"
fi
