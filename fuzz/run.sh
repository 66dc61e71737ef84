#!/usr/bin/env bash
# Runs one cargo-fuzz target for RUNS executions (default 10 million) from its seeds, with the
# options docs/security.md records: usage `fuzz/run.sh TARGET [RUNS]`. Needs `cargo +nightly`
# and cargo-fuzz. The corpus grows in fuzz/corpus/TARGET, crashes land in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET [RUNS]}
runs=${2:-10000000}
extra=()
case $target in
  pull_messages) seeds=(../tests/fixtures/onvif) dict=xml.dict max_len=16384 ;;
  soap_response) seeds=(seeds/soap_response ../tests/fixtures/onvif) dict=xml.dict max_len=16384 ;;
  wsdiscovery) seeds=(seeds/wsdiscovery ../tests/fixtures/onvif) dict=xml.dict max_len=16384 ;;
  http_auth) seeds=(seeds/http_auth) dict=auth.dict max_len=4096 ;;
  dahua_stream) seeds=(seeds/dahua_stream) dict=vendor.dict max_len=16384 ;;
  dahua_code) seeds=(seeds/dahua_code) dict=vendor.dict max_len=4096 ;;
  hikvision_alert) seeds=(seeds/hikvision_alert) dict=vendor.dict max_len=16384 ;;
  notify) seeds=(seeds/notify ../tests/fixtures/onvif) dict=xml.dict max_len=16384 ;;
  doorbird) seeds=(seeds/doorbird) dict=vendor.dict max_len=8192 ;;
  config)
    seeds=(../tests/fixtures/config) dict=config.dict max_len=4096
    extra=(-seed_inputs=../config.example.toml)
    ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
mkdir -p "corpus/$target"
# -a: debug assertions on (integer overflow panics); -s: the sanitizer, AddressSanitizer unless
# FUZZ_SANITIZER says otherwise (`none` runs about twice as fast; the crate forbids unsafe
# code); -timeout: an input slower than 10 s is a finding (a hang), not a pause.
exec cargo +nightly fuzz run -a -s "${FUZZ_SANITIZER:-address}" "$target" "corpus/$target" "${seeds[@]}" -- \
  -runs="$runs" -max_len="$max_len" -dict="$dict" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "${extra[@]}"
