#!/usr/bin/env bash
# What the guard attributes cost a user's edit-check loop (issue 18).
#
# Generates scratch crates as an application would be written, each one
# file of handlers depending on the workspace's crates by path: 200 handlers
# with `#[get]` alone, 200 with `#[get]` and `#[require_scope]`, 400 with
# both; each once without a NAIS manifest and once with one named in
# `[package.metadata.maskinporten]`. Each crate is checked once, then its
# handler file is touched and `cargo check` timed, in rounds that check
# every crate once; each crate's median is reported, and the medians of the
# rounds' ratios the issue sets bounds on:
#
#   guarded 200 / plain 200   (the attribute's share of an edit)
#   guarded 400 / guarded 200 (2.0 when linear)
#
# Offline, against the workspace's Cargo.lock, in the workspace's target
# directory (or $CARGO_TARGET_DIR): the dependencies a test build of the
# workspace compiled (build scripts, proc-macros) are reused, and the first
# run only checks the rest.
#
# Usage: bench/macro-expansion.sh [--quick] [--runs N]
#   --quick   3 timed checks per crate instead of 7 (for CI)
#   --runs N  N timed checks per crate
set -euo pipefail

runs=7
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) runs=3 ;;
        --runs)
            shift
            runs="${1:?--runs takes a number}"
            ;;
        -h | --help)
            sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "unknown argument: $1 (try --help)" >&2
            exit 2
            ;;
    esac
    shift
done
case "$runs" in
    '' | *[!0-9]* | 0)
        echo "--runs takes a positive number" >&2
        exit 2
        ;;
esac

workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$workspace/target/macro-expansion"
crates="$root/crates"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$workspace/target}"
# What would otherwise change what the attribute reads.
unset MASKINPORTEN_NAIS_MANIFEST MASKINPORTEN_NAIS_VARIABLES
export CARGO_TERM_COLOR=never

# name, handlers, guarded (0/1), manifest (0/1)
variants=(
    "plain-200 200 0 0"
    "guarded-200 200 1 0"
    "guarded-400 400 1 0"
    "plain-200-nais 200 0 1"
    "guarded-200-nais 200 1 1"
    "guarded-400-nais 400 1 1"
)

scopes=("nav:helse/sykepenger/afp.read" "nav:helse/sykepenger/afp.write")

manifest() {
    cat <<'EOF'
apiVersion: nais.io/v1alpha1
kind: Application
metadata:
  name: bench-api
  namespace: helse
spec:
  maskinporten:
    enabled: true
    scopes:
      exposes:
        - name: "sykepenger/afp.read"
          enabled: true
          product: "helse"
          consumers:
            - orgno: "991825827"
        - name: "sykepenger/afp.write"
          enabled: true
          product: "helse"
EOF
}

handlers() {
    local count="$1" guarded="$2" i
    echo "use actix_web::{get, web, HttpResponse, Responder};"
    if [ "$guarded" = 1 ]; then
        echo "use maskinporten_actix::{require_scope, MaskinportenClaims};"
    else
        echo "use maskinporten_actix::MaskinportenClaims;"
    fi
    echo
    for ((i = 0; i < count; i++)); do
        echo "/// Handler $i."
        echo "#[get(\"/h$i\")]"
        if [ "$guarded" = 1 ]; then
            echo "#[require_scope(\"${scopes[i % 2]}\")]"
        fi
        echo "async fn h$i(claims: MaskinportenClaims) -> impl Responder {"
        echo "    HttpResponse::Ok().body(claims.scope_claim().to_owned())"
        echo "}"
        echo
    done
    echo "pub fn routes(cfg: &mut web::ServiceConfig) {"
    for ((i = 0; i < count; i++)); do
        echo "    cfg.service(h$i);"
    done
    echo "}"
}

generate() {
    local name="$1" count="$2" guarded="$3" nais="$4" dir="$crates/$1"
    mkdir -p "$dir/src"
    {
        printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n' "$name"
        printf '[dependencies]\n'
        printf 'actix-web = { version = "4.18", default-features = false, features = ["macros"] }\n'
        printf 'maskinporten-actix = { path = "%s/maskinporten-actix" }\n' "$workspace"
        if [ "$nais" = 1 ]; then
            printf '\n[package.metadata.maskinporten]\nnais-manifest = ".nais/app.yaml"\n'
        fi
    } >"$dir/Cargo.toml.new"
    handlers "$count" "$guarded" >"$dir/src/lib.rs.new"
    # Rewritten only when changed: an unchanged crate keeps its build.
    for file in Cargo.toml src/lib.rs; do
        if cmp -s "$dir/$file.new" "$dir/$file"; then
            rm "$dir/$file.new"
        else
            mv "$dir/$file.new" "$dir/$file"
        fi
    done
    if [ "$nais" = 1 ]; then
        mkdir -p "$dir/.nais"
        manifest >"$dir/.nais/app.yaml.new"
        if cmp -s "$dir/.nais/app.yaml.new" "$dir/.nais/app.yaml"; then
            rm "$dir/.nais/app.yaml.new"
        else
            mv "$dir/.nais/app.yaml.new" "$dir/.nais/app.yaml"
        fi
    fi
}

mkdir -p "$crates"
members=""
for variant in "${variants[@]}"; do
    read -r name count guarded nais <<<"$variant"
    generate "$name" "$count" "$guarded" "$nais"
    members="$members\"$name\", "
done
printf '[workspace]\nresolver = "2"\nmembers = [%s]\n' "${members%, }" >"$crates/Cargo.toml"
# The workspace's lock: the same versions, nothing to fetch.
cp "$workspace/Cargo.lock" "$crates/Cargo.lock"

check() {
    cargo check --offline --quiet --manifest-path "$crates/Cargo.toml" -p "$1"
}

now() { date +%s.%N; }
# Seconds since $1, to the millisecond.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

echo "checking the dependencies and each crate once ($CARGO_TARGET_DIR)..." >&2
start=$(now)
for variant in "${variants[@]}"; do
    read -r name _ <<<"$variant"
    check "$name"
done
echo "done in $(elapsed "$start") s" >&2

median_of() { sort -n | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }

# In rounds: each round checks every crate once, so that a burst of load
# from elsewhere on the machine falls on the crates of one round alike, and
# each ratio is the median of the ratios of its rounds.
declare -A times
declare -A ratios
for ((r = 0; r < runs; r++)); do
    declare -A this=()
    for variant in "${variants[@]}"; do
        read -r name _ <<<"$variant"
        touch "$crates/$name/src/lib.rs"
        start=$(now)
        check "$name"
        this[$name]=$(elapsed "$start")
        times[$name]="${times[$name]:-}${this[$name]} "
    done
    for pair in "guarded-200 plain-200" "guarded-400 guarded-200" \
        "guarded-200-nais plain-200-nais" "guarded-400-nais guarded-200-nais"; do
        read -r a b <<<"$pair"
        ratios[$pair]="${ratios[$pair]:-}$(awk -v a="${this[$a]}" -v b="${this[$b]}" 'BEGIN { print a / b }') "
    done
done
for variant in "${variants[@]}"; do
    read -r name _ <<<"$variant"
    printf '%-18s median %6.2f s   runs: %s\n' "$name" \
        "$(printf '%s\n' ${times[$name]} | median_of)" "${times[$name]% }"
done

ratio() { printf '%.2f' "$(printf '%s\n' ${ratios["$1 $2"]} | median_of)"; }
echo
printf '%-16s %26s %20s\n' "" "guarded 200 / plain 200" "guarded 400 / 200"
printf '%-16s %26s %20s\n' "without manifest" "$(ratio guarded-200 plain-200)" "$(ratio guarded-400 guarded-200)"
printf '%-16s %26s %20s\n' "with manifest" "$(ratio guarded-200-nais plain-200-nais)" "$(ratio guarded-400-nais guarded-200-nais)"
echo "(medians of $runs rounds' ratios; bounds: at most 1.6 and 2.3; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
