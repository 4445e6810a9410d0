#!/usr/bin/env bash
# Compares structflow's prepare step with Pillow + Python's base64 on the same images, one core
# each. Builds nothing: pass the build folder that holds bench/prepare/prepare_bench.
#   bench/prepare/run.sh build/release [IMAGES] [SECONDS]
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [IMAGES] [SECONDS]}
count=${2:-200}
seconds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/bench/prepare/prepare_bench"
[ -x "$bench" ] || { echo "run.sh: $bench not found; build the prepare_bench target" >&2; exit 1; }
# Debian's python3 sees python3-pil; a python3 earlier on PATH may not.
py=/usr/bin/python3
"$py" -c 'import PIL' 2>/dev/null || { echo "run.sh: $py cannot import PIL; apt-get install python3-pil" >&2; exit 1; }

dir=$(mktemp -d /tmp/structflow-prepare-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$bench" generate "$dir" "$count" >/dev/null
# One core each: pin both to the same CPU.
cpu=0
sf=$(taskset -c "$cpu" "$bench" run "$dir" "$seconds")
pil=$(taskset -c "$cpu" "$py" "$here/pillow_prepare.py" "$dir" "$seconds" typical)
draft=$(taskset -c "$cpu" "$py" "$here/pillow_prepare.py" "$dir" "$seconds" draft)
get() { echo "$1" | sed -n "s/^$2=//p"; }
sf_ips=$(get "$sf" prepare_images_per_cpu_s)
pil_ips=$(get "$pil" prepare_images_per_cpu_s)
draft_ips=$(get "$draft" prepare_images_per_cpu_s)
sf_b64=$(get "$sf" base64_gb_per_s)
pil_b64=$(get "$pil" base64_gb_per_s)
echo "images: $count photo-like JPEGs 1600x1200 -> max side 768, JPEG q=85, base64 in a JSON body"
echo "Pillow $(get "$pil" pillow_version), single core (CPU time)"
printf '%-28s %12s %12s %8s\n' "" structflow "Pillow+b64" ratio
printf '%-28s %12s %12s %7.2fx\n' "prepare images/s per core" "$sf_ips" "$pil_ips" \
  "$(echo "$sf_ips / $pil_ips" | bc -l)"
printf '%-28s %12s %12s %7.2fx\n' "  vs Pillow with draft()" "$sf_ips" "$draft_ips" \
  "$(echo "$sf_ips / $draft_ips" | bc -l)"
printf '%-28s %12s %12s %7.2fx\n' "base64 GB/s" "$sf_b64" "$pil_b64" \
  "$(echo "$sf_b64 / $pil_b64" | bc -l)"
printf '%-28s %12s %12s\n' "mean body KB" "$(get "$sf" mean_body_kb)" "$(get "$pil" mean_body_kb)"
