#!/usr/bin/env bash
# Builds a release's packages: one .deb per Raspberry Pi architecture, and their checksums.
# The release workflow (.github/workflows/release.yml) runs it on a tag; a developer or a
# technician with a Debian or Ubuntu machine runs the same to get the same files.
#
#   cross/release.sh [--install] [--profile release] [--out DIR]
#
# --install  installs the cross linkers (apt-get, as root) and the rustup targets first
# --profile  the cargo profile (default release: LTO, stripped; what a box should run)
# --out      where the packages go (default dist/)
# Writes DIR/kufatilia-gateway_VERSION-1_arm64.deb (64-bit Raspberry Pi OS),
# DIR/kufatilia-gateway_VERSION-1_armhf.deb (32-bit) and DIR/SHA256SUMS.
# Needs cargo-deb (`cargo install --locked cargo-deb`).
set -euo pipefail
cd "$(dirname "$0")/.."

# The targets and the Debian architecture each becomes; the release workflow names the same.
targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
arches=(arm64 armhf)

profile=release
out=dist
install=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=(--install) ;;
    --profile) profile="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# On a tag, the tag must be the version the packages carry.
if [ "${GITHUB_REF_TYPE:-}" = tag ] && [ "${GITHUB_REF_NAME:-}" != "v$version" ]; then
  echo "tag ${GITHUB_REF_NAME} is not v$version (the version in Cargo.toml)" >&2
  exit 65
fi
command -v cargo-deb >/dev/null || { echo "cargo-deb is missing: cargo install --locked cargo-deb" >&2; exit 69; }

bash cross/build.sh "${install[@]}" --profile "$profile" "${targets[@]}"

mkdir -p "$out"
rm -f "$out"/kufatilia-gateway_*.deb "$out"/SHA256SUMS
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  echo "== packaging $t (${arches[$i]})"
  # The binary is already stripped by the profile; cargo-deb's own strip would need the
  # target's binutils.
  cargo deb --locked --no-build --no-strip --target "$t" --profile "$profile" --output "$out"
  ls "$out"/kufatilia-gateway_*_"${arches[$i]}".deb >/dev/null
done
(cd "$out" && sha256sum kufatilia-gateway_*.deb > SHA256SUMS && cat SHA256SUMS)
