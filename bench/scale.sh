#!/usr/bin/env bash
# bench/scale.sh — one tlntsvr holding thousands of logged-on sessions
# (issue 19: 10 000 on a 2-CPU host), each from its own loopback address.
# `make bench-scale`; not part of CI. See docs/performance.md.
#
#   sudo bench/scale.sh                  # 10 000 sessions
#   sudo SESSIONS=2000 bench/scale.sh
#
# Needs root: it creates the OS account tlntbench (removed at the end),
# and raises the limits in the way for this run only: the open-files limit
# of this shell, and kernel.pty.max if it is below what the run needs
# (set back at exit). The users file is hashed at a LOW bcrypt cost
# (BCRYPT_COST, default 5, not tlntsvr's 10), so that the logons take
# seconds, not minutes of CPU: the run measures sessions, not bcrypt.
# Knobs: SESSIONS, BCRYPT_COST, PARALLEL (logons in flight, default 50),
# HOLD (keep the sessions open that long after measuring, e.g. 30s).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "scale.sh: needs root (creates a test OS account, raises limits)" >&2
	exit 1
fi
SESSIONS=${SESSIONS:-10000}
BCRYPT_COST=${BCRYPT_COST:-5}
PARALLEL=${PARALLEL:-50}
GO=${GO:-go}
ACCOUNT=tlntbench

. bench/account.sh
bench_lock
WORK=$(mktemp -d /tmp/tlntscale.XXXXXX)
chmod 755 "$WORK"
STARTED_PIDS=()
PTY_MAX_WAS=""

cleanup() {
	set +e
	for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${STARTED_PIDS[@]}"; do
		for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	remove_account
	[ -n "$PTY_MAX_WAS" ] && sysctl -qw kernel.pty.max="$PTY_MAX_WAS"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the limits in the way ------------------------------------------------------
# The daemon holds 3 descriptors per session (socket, PTY master, the
# shell's pidfd), the load client 1; both run from this shell.
need_fds=$((4 * SESSIONS + 1000))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need_fds" ] && ! ulimit -Hn "$need_fds" 2>/dev/null; then
	echo "scale.sh: the open-files hard limit $(ulimit -Hn) cannot be raised to $need_fds here: the daemon will refuse sessions past about $(($(ulimit -Hn) / 3)) (it warns at start)" >&2
fi
ulimit -n "$(ulimit -Hn)"
pty_max=$(cat /proc/sys/kernel/pty/max) pty_nr=$(cat /proc/sys/kernel/pty/nr)
if [ "$pty_max" -lt $((SESSIONS + pty_nr + 100)) ]; then
	PTY_MAX_WAS=$pty_max
	echo "scale.sh: kernel.pty.max $pty_max < $SESSIONS sessions + $pty_nr PTYs in use: raised for this run" >&2
	sysctl -qw kernel.pty.max=$((SESSIONS + pty_nr + 1000))
fi
pid_max=$(cat /proc/sys/kernel/pid_max)
if [ "$pid_max" -lt $((SESSIONS + $(ls /proc | grep -c '^[0-9]') + 2000)) ]; then
	echo "scale.sh: kernel.pid_max $pid_max leaves too few PIDs for $SESSIONS shells; raise it (sysctl -w kernel.pid_max=...)" >&2
	exit 1
fi
echo "limits: open files $(ulimit -n), kernel.pty.max $(cat /proc/sys/kernel/pty/max), kernel.pid_max $pid_max, kernel.threads-max $(cat /proc/sys/kernel/threads-max), ephemeral ports $(cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' -)" >&2

# --- build, account, config -------------------------------------------------------
mkdir -p "$WORK/tlntsvr.d"
$GO build -o "$WORK/tlntsvr.d/tlntsvr" ./cmd/tlntsvr
$GO build -o "$WORK/loadclient" ./bench/loadclient
LC=$WORK/loadclient
create_account
echo "$ACCOUNT:$("$LC" hash "$PASSWORD" "$BCRYPT_COST")" >"$WORK/users"
echo "telnet-clients: $ACCOUNT" >"$WORK/groups"
chmod 600 "$WORK/users" "$WORK/groups"
PORT=$("$LC" ports 1)
cat >"$WORK/tlntsvr.d/tlntsvr.yaml" <<EOC
listen: ["127.0.0.1:$PORT"]
users_file: ../users
groups_file: ../groups
max_connections: $((SESSIONS + 10))
# The run measures sessions, not limits (and all sessions here are one
# account).
session_limits: {tasks: 0}
admin_socket: $WORK/tlntsvr.d/admin.sock
audit_log: audit.log
EOC

"$WORK/tlntsvr.d/tlntsvr" run --config "$WORK/tlntsvr.d/tlntsvr.yaml" --log-level warn 2>"$WORK/tlntsvr.log" &
PID=$!
STARTED_PIDS+=("$PID")
for i in $(seq 100); do
	ss -Hltn "sport = :$PORT" | grep -q . && break
	[ "$i" = 100 ] && { echo "scale.sh: tlntsvr does not listen" >&2; cat "$WORK/tlntsvr.log" >&2; exit 1; }
	sleep 0.1
done

echo "$SESSIONS sessions, bcrypt cost $BCRYPT_COST in the users file (low on purpose), $PARALLEL logons in flight; $(uname -sr), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB"
"$LC" scale --server "tlntsvr=127.0.0.1:$PORT,pid=$PID,daemon=tlntsvr" --user "$ACCOUNT" --password "$PASSWORD" \
	--sessions "$SESSIONS" --parallel "$PARALLEL" --hold "${HOLD:-0s}"
if grep -q '"level":"\(WARN\|ERROR\)"' "$WORK/tlntsvr.log"; then
	echo; echo "The daemon's warnings and errors (first of each):"
	grep '"level":"\(WARN\|ERROR\)"' "$WORK/tlntsvr.log" | sed 's/"time":"[^"]*",//' | sort | uniq -c | sort -rn | head -n 8
fi
