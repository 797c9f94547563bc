#!/usr/bin/env bash
# A real Slurm cluster on this one machine, to try tunebench's Slurm launcher and to test it:
# Debian's slurmctld + slurmd with munge, and slurmdbd on MariaDB so that `sacct` (which
# submitit polls for job states) has accounting to read. One partition sized to the machine.
#
#   scripts/local-slurm.sh start    # install (apt-get, first time only) and start the daemons
#   scripts/local-slurm.sh status   # which daemons run, sinfo
#   scripts/local-slurm.sh stop     # cancel every job, stop the daemons this script started
#
# Needs root (apt-get, /etc/slurm). The partition is `local` (TUNEBENCH_SLURM_PARTITION).
set -euo pipefail

partition="${TUNEBENCH_SLURM_PARTITION:-local}"
state=/var/lib/tunebench-slurm          # pid files, logs, controller state
conf=/etc/slurm/slurm.conf
dbdconf=/etc/slurm/slurmdbd.conf
mark="# written by tunebench scripts/local-slurm.sh"
packages=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)

die() { echo "local-slurm: $*" >&2; exit 2; }
say() { echo "local-slurm: $*"; }

install() {
    local missing=0 cmd
    for cmd in slurmctld slurmd sbatch sacct slurmdbd munged mariadbd; do
        command -v "$cmd" >/dev/null || missing=1
    done
    ((missing)) || return 0
    say "installing ${packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${packages[@]}" >/dev/null
}

write_config() {
    local file
    for file in "$conf" "$dbdconf"; do
        if [[ -e $file ]] && ! grep -qF "$mark" "$file"; then
            die "$file exists and was not written by this script; move it away first"
        fi
    done
    local node cpus memory
    node=$(hostname -s)
    cpus=$(nproc)
    memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
    mkdir -p /etc/slurm "$state/log" "$state/ctld" "$state/d"
    cat >"$conf" <<CONF
$mark
ClusterName=tunebench
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
ReturnToService=2
EnforcePartLimits=ALL
KillWait=5
MinJobAge=60
MpiDefault=none
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
    cat >"$dbdconf" <<CONF
$mark
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=tunebench_slurm_acct
PidFile=$state/slurmdbd.pid
LogFile=$state/log/slurmdbd.log
CONF
    chmod 600 "$dbdconf"
}

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for <what> <command...>: up to 60 s
    local what=$1 i
    shift
    for ((i = 0; i < 120; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    die "$what did not come up; see $state/log/"
}

start_service() {  # a system service this script starts, and so stops
    local name=$1 probe=$2
    $probe >/dev/null 2>&1 && return 0
    service "$name" start >/dev/null
    touch "$state/started-$name"
}

start() {
    [[ $EUID -eq 0 ]] || die "run as root (it installs packages and writes /etc/slurm)"
    install
    write_config
    start_service munge "munge -n"
    start_service mariadb "mariadb-admin ping"
    alive "$state/slurmdbd.pid" || slurmdbd
    wait_for slurmdbd sacctmgr -n show cluster
    alive "$state/slurmctld.pid" || slurmctld
    wait_for slurmctld scontrol ping
    alive "$state/slurmd.pid" || slurmd
    wait_for "the node" bash -c "sinfo -h -o %t -p $partition | grep -qx idle"
    say "up: partition $partition, $(nproc) CPUs, $(sinfo -h -o %m -p "$partition") MB"
}

stop() {
    [[ $EUID -eq 0 ]] || die "run as root"
    if alive "$state/slurmctld.pid"; then
        scancel --full --quiet --partition="$partition" 2>/dev/null || true
        wait_for "job cancellation" bash -c '[[ -z $(squeue -h) ]]'
    fi
    local daemon
    for daemon in slurmd slurmctld slurmdbd; do
        if alive "$state/$daemon.pid"; then
            local pid
            pid=$(cat "$state/$daemon.pid")
            kill "$pid"
            wait_for "$daemon's exit" bash -c "! kill -0 $pid"
        fi
    done
    for name in mariadb munge; do
        if [[ -e $state/started-$name ]]; then
            service "$name" stop >/dev/null
            rm -f "$state/started-$name"
        fi
    done
    say "stopped"
}

status() {
    local daemon up=0
    for daemon in slurmdbd slurmctld slurmd; do
        if alive "$state/$daemon.pid"; then
            echo "$daemon: running (pid $(cat "$state/$daemon.pid"))"
            up=$((up + 1))
        else
            echo "$daemon: stopped"
        fi
    done
    ((up == 3)) && sinfo
    ((up == 3))
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: $0 start|stop|status" ;;
esac
