#!/usr/bin/env bash
# Cross-compiles kufatilia-gateway for the Raspberry Pi on a plain Debian or Ubuntu machine,
# with rustup's targets and Debian's cross linkers (no Docker, no OpenSSL, no libudev).
#
#   cross/build.sh [--install] [--profile release|dev|cross-check] [--smoke] [TARGET...]
#
# TARGET (default: aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf):
#   aarch64-unknown-linux-gnu      Pi 3, 4, 5 and Zero 2 W with 64-bit Raspberry Pi OS
#   armv7-unknown-linux-gnueabihf  Pi 2, 3, 4 with 32-bit Raspberry Pi OS
#   arm-unknown-linux-gnueabihf    Pi Zero / Pi 1 (ARMv6): cargo-zigbuild (and nightly where rustup
#                                  has no standard library for it), see cross/README.md
# --install  installs the cross linkers (apt-get) and the rustup targets first
# --smoke    runs each built binary under qemu-user (decode a PDU, check the example config)
# The box's binary is built without the `demo` feature (no simulated modem, no platform stub).
# The binaries land in target/TARGET/PROFILE/kufatilia-gateway (or under $CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
install=0
smoke=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install=1 ;;
    --smoke) smoke=1 ;;
    --profile) profile="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

gnu_prefix() {
  case "$1" in
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
    armv7-unknown-linux-gnueabihf|arm-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
    *) echo "unsupported target $1" >&2; exit 64 ;;
  esac
}
qemu_for() {
  case "$1" in
    aarch64-*) echo qemu-aarch64 ;;
    *) echo qemu-arm ;;
  esac
}

if [ "$install" = 1 ]; then
  pkgs=()
  for t in "${targets[@]}"; do
    p=$(gnu_prefix "$t")
    command -v "$p-gcc" >/dev/null || pkgs+=("gcc-$p")
  done
  [ "$smoke" = 1 ] && ! command -v qemu-aarch64 >/dev/null && pkgs+=(qemu-user)
  if [ ${#pkgs[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
  fi
  for t in "${targets[@]}"; do
    if [ "$t" = arm-unknown-linux-gnueabihf ]; then
      command -v cargo-zigbuild >/dev/null || { pip3 install -q ziglang && cargo install --locked cargo-zigbuild; }
      # Where rustup serves no standard library for ARMv6, it is built from source (nightly).
      rustup target add "$t" 2>/dev/null || rustup component add rust-src --toolchain nightly
    else
      rustup target add "$t"
    fi
  done
fi

# The targets Debian's cross linkers serve are built by one cargo invocation: cargo then
# compiles both targets side by side and shares the host's build scripts and proc macros.
gnu_targets=()
for t in "${targets[@]}"; do
  [ "$t" = arm-unknown-linux-gnueabihf ] && continue
  p=$(gnu_prefix "$t")
  var=$(echo "$t" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${var}_LINKER=$p-gcc"
  export "CC_${t//-/_}=$p-gcc" "AR_${t//-/_}=$p-ar"
  gnu_targets+=(--target "$t")
done
if [ ${#gnu_targets[@]} -gt 0 ]; then
  echo "== building ${gnu_targets[*]} ($profile)"
  cargo build --locked --no-default-features --profile "$profile" "${gnu_targets[@]}" --bin kufatilia-gateway
fi

for t in "${targets[@]}"; do
  p=$(gnu_prefix "$t")
  if [ "$t" = arm-unknown-linux-gnueabihf ]; then
    echo "== building $t ($profile)"
    # Debian's armhf libc is ARMv7: an ARMv6 build links with zig's instead (glibc 2.31 symbols,
    # so it also runs on Raspberry Pi OS 11).
    command -v cargo-zigbuild >/dev/null || { echo "arm-unknown-linux-gnueabihf needs cargo-zigbuild (see cross/README.md)" >&2; exit 69; }
    if rustup target list --installed | grep -qx "$t"; then
      cargo zigbuild --locked --no-default-features --profile "$profile" --target "$t.2.31" --bin kufatilia-gateway
    else
      cargo +nightly zigbuild --locked -Zbuild-std=std,panic_unwind --profile "$profile" \
        --no-default-features --target "$t.2.31" --bin kufatilia-gateway
    fi
  fi
  dir=$profile; [ "$profile" = dev ] && dir=debug
  bin="${CARGO_TARGET_DIR:-target}/$t/$dir/kufatilia-gateway"
  ls -l "$bin"
  if [ "$smoke" = 1 ]; then
    q=$(qemu_for "$t")
    echo "== running $t under $q"
    out=$("$q" -L "/usr/$p" "$bin" decode-pdu 07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37)
    case "$out" in *'"hellohello"'*) ;; *) echo "decode-pdu under $q printed: $out" >&2; exit 1 ;; esac
    "$q" -L "/usr/$p" "$bin" --version
  fi
done
