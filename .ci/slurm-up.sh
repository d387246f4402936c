#!/usr/bin/env bash
# Start a real single-node Slurm cluster on loopback, for the @pytest.mark.slurm tests.
#
# Installs the Debian packages (slurmctld slurmd munge slurm-client), writes /etc/slurm/slurm.conf
# for this machine's hostname, starts munged, slurmctld and slurmd directly (no systemd needed),
# and waits until `sinfo` shows the node idle. Idempotent: when the node already answers as idle
# it does nothing; when daemons are already running it leaves them alone.
#
# Needs root (apt-get, /etc, /run). Environment:
#   SLURM_UP_CPUS     CPUs given to the node (default: what `slurmd -C` detects)
#   SLURM_UP_TIMEOUT  seconds to wait for the node to become idle (default 90)
#   SLURM_UP_NO_APT=1 skip apt-get (packages already installed)
set -euo pipefail

TIMEOUT="${SLURM_UP_TIMEOUT:-90}"
NODE="$(hostname -s)"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm

say() { echo "slurm-up: $*"; }

node_state() { sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true; }

if command -v sinfo >/dev/null 2>&1 && [ -f "$CONF" ]; then
  case "$(node_state)" in
    idle|mixed|allocated)
      say "already up: node $NODE is $(node_state)"
      exit 0 ;;
  esac
fi

if [ "$(id -u)" != 0 ]; then
  echo "slurm-up: must run as root (installs packages and starts daemons)" >&2
  exit 1
fi

# --- packages ------------------------------------------------------------------------------
if [ "${SLURM_UP_NO_APT:-0}" != 1 ] && ! { command -v slurmctld && command -v slurmd \
    && command -v munged && command -v sinfo; } >/dev/null 2>&1; then
  say "installing slurmctld slurmd munge slurm-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends slurmctld slurmd munge slurm-client
fi

# --- munge -----------------------------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge
install -d -o munge -g munge -m 0711 /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating munge key"
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key --force
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 20); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
munge -n | unmunge >/dev/null || { echo "slurm-up: munged does not answer" >&2; exit 1; }

# --- slurm.conf -------------------------------------------------------------------------------
# `slurmd -C` prints this machine's real topology (CPUs, sockets, cores, threads, memory); using
# it avoids the node being drained for "low socket*core*thread count".
HW="$(slurmd -C | head -n1)"
CPUS="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$HW")"
MEM="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")"
if [ -n "${SLURM_UP_CPUS:-}" ]; then
  NODE_LINE="NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$SLURM_UP_CPUS RealMemory=$MEM State=UNKNOWN"
else
  NODE_LINE="$(sed "s/^NodeName=[^ ]*/NodeName=$NODE NodeAddr=127.0.0.1/" <<<"$HW") State=UNKNOWN"
fi
install -d -m 0755 "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd /run/slurm
NEW_CONF="$(mktemp)"
cat >"$NEW_CONF" <<EOF
# Written by scalinglab .ci/slurm-up.sh: one node on loopback, no accounting database.
ClusterName=scalinglab
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
MaxArraySize=10001
$NODE_LINE
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
CHANGED=0
if ! cmp -s "$NEW_CONF" "$CONF"; then
  install -m 0644 "$NEW_CONF" "$CONF"
  CHANGED=1
fi
rm -f "$NEW_CONF"
say "node: $NODE_LINE"

# --- daemons ----------------------------------------------------------------------------------
running() { pgrep -x "$1" >/dev/null 2>&1; }

if running slurmctld; then
  if [ "$CHANGED" = 1 ]; then say "reconfiguring slurmctld"; scontrol reconfigure || true; fi
else
  say "starting slurmctld"
  /usr/sbin/slurmctld
fi
for _ in $(seq 1 40); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
if running slurmd; then
  :
else
  say "starting slurmd"
  /usr/sbin/slurmd
fi

# --- wait for an idle node ----------------------------------------------------------------------
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  state="$(node_state)"
  case "$state" in
    idle|mixed|allocated) say "up: node $NODE is $state"; sinfo; exit 0 ;;
    down*|drain*|drained*|fail*)
      # a node that was down from an earlier life of the controller comes back with this
      scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "slurm-up: node $NODE did not become idle in ${TIMEOUT}s (state: ${state:-none})" >&2
    sinfo -R >&2 || true
    tail -n 30 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    exit 1
  fi
  sleep 1
done
