#!/usr/bin/env bash
# Side by side (issue 14): the same N data products — a topic with four configs, a producer
# (WRITE + DESCRIBE) and a consumer (READ + DESCRIBE, READ on its group) each — created on ONE
# three-broker sandbox by
#   mesh   `mesh apply --auto-approve` (release build), then a no-change `mesh plan`;
#   cli    Kafka's own tools in a shell loop, one JVM per call as a team without a tool would:
#          per product `kafka-topics --create --config …` and two `kafka-acls --add`;
#   floor  Kafka's own AdminClient: one batched createTopics and one batched createAcls
#          (bench/Floor.java, compiled with javac against the sandbox's kafka-clients jar).
# Each tool has its own names on the cluster (mesh's domains are tagged mN-, the others get
# cliN. / floorN. prefixes), so nothing collides. Wall time, CPU (user + sys) and peak memory
# (max RSS) come from /usr/bin/time; the table gives each tool's ratio to the floor.
#
# Usage: bench/compare.sh            (after `bash scripts/setup.sh`)
#   SIZES="100 1000"   the Ns to run (about 30–60 min on 2 cores with the defaults)
#   CLI_SAMPLE=100     the CLI loop runs at most this many products per N; beyond that its
#                      figures are extrapolated linearly and marked "est." in the table
#   PARTITIONS=1 REPLICATION=3 PLAN_RUNS=3 BROKERS=3
#   KEEP=1             keep the work folder (the sandbox is stopped either way)
# Needs Java 17+ with javac, /usr/bin/time (Debian: apt-get install time) and jq.
# N above 1,428 needs MESH_SANDBOX_KAFKA=3.9.2 for now: on Kafka 4.4 mesh apply's CreateTopics
# chunks are one record per topic too large (docs/benchmarks.md, "Scaling").
# Results and how to read them: docs/benchmarks.md, "Side by side".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

# --- the CLI loop, run by the script itself under /usr/bin/time ------------------------------
# compare.sh cli-loop TSV PREFIX COUNT BOOTSTRAP PROPERTIES LIBS LOG_OPTION ACL_CLASS
if [ "${1:-}" = cli-loop ]; then
  tsv=$2 prefix=$3 count=$4 bootstrap=$5 props=$6 libs=$7 log_option=$8 acl_class=$9
  # What bin/kafka-run-class.sh runs: its default heap and JVM options.
  kafka() {
    java -Xmx256M -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
      "$log_option" -cp "$libs/*" "$@" \
      --bootstrap-server "$bootstrap" --command-config "$props" >/dev/null
  }
  head -n "$count" "$tsv" | while IFS=$'\t' read -r topic partitions replication configs producer consumer group; do
    topic="$prefix.$topic" group="$prefix.$group"
    producer="User:$prefix-${producer#User:}" consumer="User:$prefix-${consumer#User:}"
    config_args=()
    IFS=, read -r -a pairs <<<"$configs"
    for kv in "${pairs[@]}"; do config_args+=(--config "$kv"); done
    kafka org.apache.kafka.tools.TopicCommand --create --topic "$topic" \
      --partitions "$partitions" --replication-factor "$replication" "${config_args[@]}"
    kafka "$acl_class" --add --allow-principal "$producer" \
      --operation Write --operation Describe --topic "$topic"
    # --consumer: READ + DESCRIBE on the topic, READ on the group.
    kafka "$acl_class" --add --allow-principal "$consumer" \
      --consumer --topic "$topic" --group "$group"
  done
  exit 0
fi

SIZES=${SIZES:-"100 1000"}
CLI_SAMPLE=${CLI_SAMPLE:-100}
PARTITIONS=${PARTITIONS:-1}
REPLICATION=${REPLICATION:-3}
PLAN_RUNS=${PLAN_RUNS:-3}
BROKERS=${BROKERS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mesh/cargo-target}
cache=${MESH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mesh}

need() { command -v "$1" >/dev/null 2>&1 || { echo "compare.sh: '$1' is required: $2" >&2; exit 1; }; }
need java "install Java 17+ (e.g. apt-get install openjdk-17-jdk-headless)"
need javac "install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"
need jq "install jq (e.g. apt-get install jq)"
[ -x /usr/bin/time ] || { echo "compare.sh: /usr/bin/time is required: apt-get install time" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mesh-compare.XXXXXX")
sandbox=$work/sandbox
mesh=$CARGO_TARGET_DIR/release/mesh
cleanup() {
  if [ -x "$mesh" ] && [ -d "$sandbox" ]; then
    "$mesh" dev down --dir "$sandbox" >&2 || echo "compare.sh: could not stop the sandbox in $sandbox" >&2
  fi
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== building mesh (release) and the generator" >&2
(cd "$root" && cargo build --release -q -p mesh-cli --bin mesh --example bench_mesh)
helper=$CARGO_TARGET_DIR/release/examples/bench_mesh

echo "== starting a $BROKERS-broker sandbox on free ports in $sandbox" >&2
"$helper" up --dir "$sandbox" --brokers "$BROKERS"
status=$("$mesh" dev status --dir "$sandbox" --format json)
listener='.listeners[] | select(.name == "sasl_plaintext")'
bootstrap=$(jq -r "$listener | .bootstrap_servers" <<<"$status")
props=$(jq -r "$listener | .java_client_properties" <<<"$status")
kafka_version=$(jq -r .kafka.version <<<"$status")
libs=$cache/kafka-$kafka_version/libs
# The tools log warnings only, with the sandbox's logging config (log4j 2 in 4.x, log4j 1 in 3.9).
if [ -f "$cache/kafka-$kafka_version/tools-log4j2.properties" ]; then
  log_option=-Dlog4j2.configurationFile=file:$cache/kafka-$kafka_version/tools-log4j2.properties
else
  log_option=-Dlog4j.configuration=file:$cache/kafka-$kafka_version/tools-log4j.properties
fi
# kafka-acls' main class moved in 4.0 (kafka-topics' did not).
case $kafka_version in
  3.*) acl_class=kafka.admin.AclCommand ;;
  *) acl_class=org.apache.kafka.tools.AclCommand ;;
esac
[ -f "$libs/kafka-clients-$kafka_version.jar" ] || { echo "compare.sh: no kafka-clients jar in $libs" >&2; exit 1; }
[ -f "$props" ] || { echo "compare.sh: no client config at $props" >&2; exit 1; }

echo "== compiling the floor (bench/Floor.java) against $libs" >&2
mkdir -p "$work/java"
javac -d "$work/java" -cp "$libs/*" "$here/Floor.java"

# measure OUT CMD…: runs CMD under /usr/bin/time with its output in OUT; prints
# "wall_s user_s sys_s maxrss_kib". A failing CMD stops the script, showing OUT.
measure() {
  local out=$1; shift
  if ! /usr/bin/time -f "%e %U %S %M" -o "$work/time.out" "$@" >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    echo "compare.sh: failed: $*" >&2
    return 1
  fi
  tail -n 1 "$work/time.out"
}

# Waits (untimed) until the brokers have created `want` logs of non-internal partitions, so that
# one tool's background work does not land on the next tool's time.
wait_logs() {
  local want=$1 have=0 start=$SECONDS
  while :; do
    have=$(cat "$sandbox"/logs/kafka*.log | grep -c 'Created log for partition [^_]' || true)
    [ "$have" -ge "$want" ] && return 0
    if [ $((SECONDS - start)) -gt 600 ]; then
      echo "compare.sh: the brokers created $have of $want partition logs in 10 min; going on" >&2
      return 0
    fi
    sleep 2
  done
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
logs=0
rows=()
for n in $SIZES; do
  dir=$work/n$n
  mkdir -p "$dir"
  echo "== N = $n" >&2
  "$helper" generate --out "$dir" --products "$n" --tag "m$n" --partitions "$PARTITIONS" \
    --replication "$REPLICATION" --bootstrap "$bootstrap"
  tsv=$dir/products.tsv
  per_tool=$((n * PARTITIONS * REPLICATION))

  echo "-- mesh apply" >&2
  line=$(measure "$dir/apply.out" "$mesh" apply --repo "$dir/repo" --env bench --auto-approve)
  read -r m_wall m_user m_sys m_rss <<<"$line"
  logs=$((logs + per_tool)); wait_logs "$logs"

  sample=$(( n < CLI_SAMPLE ? n : CLI_SAMPLE ))
  echo "-- Kafka CLI loop: $sample of $n products, 3 JVMs each" >&2
  line=$(measure "$dir/cli.out" "$0" cli-loop "$tsv" "cli$n" "$sample" "$bootstrap" "$props" "$libs" "$log_option" "$acl_class")
  read -r c_wall c_user c_sys c_rss <<<"$line"
  if [ "$sample" -lt "$n" ]; then
    c_note="est. from $sample"
    read -r c_wall c_user c_sys < <(awk -v f="$n/$sample" -v w="$c_wall" -v u="$c_user" -v s="$c_sys" \
      'BEGIN { split(f, r, "/"); k = r[1] / r[2]; printf "%.2f %.2f %.2f\n", w * k, u * k, s * k }')
  else
    c_note=""
  fi
  logs=$((logs + sample * PARTITIONS * REPLICATION)); wait_logs "$logs"

  echo "-- floor: one createTopics + one createAcls" >&2
  line=$(measure "$dir/floor.out" java -cp "$libs/*:$work/java" Floor "$bootstrap" "$props" "$tsv" "floor$n")
  read -r f_wall f_user f_sys f_rss <<<"$line"
  cat "$dir/floor.out" >&2
  logs=$((logs + per_tool)); wait_logs "$logs"

  echo "-- mesh plan, no changes (waiting for the ACLs to show first)" >&2
  start=$SECONDS
  until "$mesh" plan --repo "$dir/repo" --env bench --detailed-exitcode >"$dir/plan.out" 2>&1; do
    if [ $((SECONDS - start)) -gt 300 ]; then cat "$dir/plan.out" >&2; echo "compare.sh: plan still shows changes" >&2; exit 1; fi
    sleep 2
  done
  plans=()
  for _ in $(seq "$PLAN_RUNS"); do
    plans+=("$(measure "$dir/plan.out" "$mesh" plan --repo "$dir/repo" --env bench --detailed-exitcode)")
  done
  # The median run by wall time.
  read -r p_wall p_user p_sys p_rss < <(printf '%s\n' "${plans[@]}" | sort -n | sed -n "$(( (PLAN_RUNS + 1) / 2 ))p")

  rows+=("$n|mesh apply|$m_wall|$m_user|$m_sys|$m_rss|$f_wall|$f_user $f_sys|")
  rows+=("$n|Kafka CLI loop|$c_wall|$c_user|$c_sys|$c_rss|$f_wall|$f_user $f_sys|$c_note")
  rows+=("$n|floor (AdminClient, batched)|$f_wall|$f_user|$f_sys|$f_rss|$f_wall|$f_user $f_sys|")
  rows+=("$n|mesh plan, no changes (median of $PLAN_RUNS)|$p_wall|$p_user|$p_sys|$p_rss|$f_wall|$f_user $f_sys|")
done

echo
echo "Side by side on a $BROKERS-broker sandbox (Kafka $kafka_version): $PARTITIONS partition(s), replication $REPLICATION, 4 configs and 5 ACL bindings per product"
echo "load average (1, 5, 15 min) at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; commit $(git -C "$root" rev-parse --short HEAD)"
echo
printf '| %6s | %-42s | %9s | %9s | %9s | %8s | %8s | %s |\n' N tool "wall s" "CPU s" "max RSS" "wall ×" "CPU ×" note
printf '| %6s | %-42s | %9s | %9s | %9s | %8s | %8s | %s |\n' ---: --- ---: ---: ---: ---: ---: ---
for row in "${rows[@]}"; do
  IFS='|' read -r n tool wall user sys rss f_wall f_cpu note <<<"$row"
  awk -v n="$n" -v tool="$tool" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" \
      -v fw="$f_wall" -v fc="$f_cpu" -v note="$note" 'BEGIN {
    split(fc, c, " "); fcpu = c[1] + c[2]; cpu = user + sys
    printf "| %6d | %-42s | %9.2f | %9.2f | %5.0f MiB | %7.1f× | %7.1f× | %s |\n",
      n, tool, wall, cpu, rss / 1024, wall / fw, cpu / fcpu, note }'
done
