#!/usr/bin/env bash
# bench/compare.sh — tlntsvr side by side with the peer Telnet daemons
# (GNU inetutils telnetd, busybox telnetd), a relay with no Telnet in it
# (the ceiling a server can reach) and the bare-PTY ceiling, in one run, on
# loopback. Then tlntsvr's logons per second at bcrypt costs 5, 10 and 12. See docs/performance.md for what is measured and how.
#
#   sudo bench/compare.sh            # full run, ≈ 10 minutes on 2 cores
#   sudo QUICK=1 bench/compare.sh    # smaller sizes and counts, ≈ 3 minutes
#
# Needs root (it creates a test OS account, and the peers run /bin/login)
# and a Debian or Ubuntu machine: the peers come from Debian packages
# (inetutils-telnetd and socat installed, busybox-static unpacked into a
# temp dir since it conflicts with the busybox package). Knobs (environment):
#   QUICK=1        the quick sizes below
#   SIZE=BYTES     output per transfer (default 100 MB; quick 20 MB)
#   ROUNDS=N       rounds (default 5; quick 3)
#   SESSIONS=N     simultaneous sessions (default 1000; quick 200; 0 skips)
#   BUDGET=D       time to open them, per server (default 60s + 60 ms each; quick 25s)
#   BCRYPT_COST=N  cost of the tlntsvr users file hash (default 10, tlntsvr's)
#   KEYSTROKES=N   keystrokes timed per server and round (default 2000; quick 500)
#   LOGON_FOR=DUR  how long each logons-per-second run lasts (default 5s)
#   CANDIDATE=DIR  also measure the tlntsvr built from the source tree DIR
#                  (a proposed change), side by side in the same run
#   TLNTSVR_VERSION=V  what the table calls the tlntsvr build (default: git describe)
#   OUT=FILE       also write the table there (and the raw figures beside it)
# Every process it starts is ended by PID at exit, and the account removed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "compare.sh: needs root (creates a test OS account; the peers run /bin/login)" >&2
	exit 1
fi

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SIZE=${SIZE:-20000000} ROUNDS=${ROUNDS:-3} SESSIONS=${SESSIONS:-200}
	PROMPTS=5 LOGONS=2 ECHO=500 BUDGET=${BUDGET:-25s}
else
	SIZE=${SIZE:-100000000} ROUNDS=${ROUNDS:-5} SESSIONS=${SESSIONS:-1000}
	PROMPTS=10 LOGONS=3 ECHO=2000 BUDGET=${BUDGET:-0}
fi
ECHO=${KEYSTROKES:-$ECHO}
BCRYPT_COST=${BCRYPT_COST:-10}
GO=${GO:-go}
ACCOUNT=tlntbench

# --- peers from Debian packages -------------------------------------------
missing=""
for p in inetutils-telnetd socat procps passwd login; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	apt-get update -qq
	# policy-rc.d or not, inetutils-inetd must not start serving port 23.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

. bench/account.sh
bench_lock
WORK=$(mktemp -d /tmp/tlntbench.XXXXXX)
chmod 755 "$WORK"
STARTED_PIDS=()

# kill_tree PID: PID and all its descendants, children first, by PID.
kill_tree() {
	local pid=$1 kid
	for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		kill_tree "$kid"
	done
	kill -TERM "$pid" 2>/dev/null || true
}

cleanup() {
	set +e
	for pid in "${STARTED_PIDS[@]}"; do kill_tree "$pid"; done
	for pid in "${STARTED_PIDS[@]}"; do
		for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	remove_account
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "work dir $WORK" >&2
(cd "$WORK" && apt-get download busybox-static >/dev/null 2>&1) || {
	echo "compare.sh: apt-get download busybox-static failed" >&2
	exit 1
}
dpkg -x "$WORK"/busybox-static_*.deb "$WORK/bb"
BUSYBOX=$WORK/bb/bin/busybox

# --- builds ------------------------------------------------------------------
# The binaries are named tlntsvr: the load client tells the daemon's own
# processes from the sessions' by that name.
mkdir -p "$WORK/tlntsvr.d" "$WORK/candidate.d" "$WORK/recorded.d"
$GO build -o "$WORK/tlntsvr.d/tlntsvr" ./cmd/tlntsvr
if [ -n "${CANDIDATE:-}" ]; then
	(cd "$CANDIDATE" && $GO build -o "$WORK/candidate.d/tlntsvr" ./cmd/tlntsvr)
fi
$GO build -o "$WORK/loadclient" ./bench/loadclient
$GO build -o "$WORK/tlntadmn" ./cmd/tlntadmn
LC=$WORK/loadclient

# --- the test account: one shell, one prompt, for every server --------------
create_account

mkdir -p "$WORK/data"
"$LC" gen "$WORK/data" "$SIZE"

# --- tlntsvr config -----------------------------------------------------------
PORTS=($("$LC" ports 8))
P_TLNTSVR=${PORTS[0]} P_INETUTILS=${PORTS[1]} P_BUSYBOX=${PORTS[2]} P_CANDIDATE=${PORTS[3]}
P_TLS=${PORTS[4]} P_TLS_PLAIN=${PORTS[5]} P_RECORDED=${PORTS[6]} P_RELAY=${PORTS[7]}
# A second tlntsvr, the same build, serves telnets (TLS from the first
# byte) on P_TLS, measured as tlntsvr-tls against tlntsvr's clear text
# (docs/tls.md). A daemon of its own, so that its memory per session is
# not the clear-text daemon's heap reused. Both have the certificate (the
# clear-text one then offers START_TLS, which the load client refuses).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
chmod 600 "$WORK/tls.key"
echo "$ACCOUNT:$("$LC" hash "$PASSWORD" "$BCRYPT_COST")" >"$WORK/users"
echo "telnet-clients: $ACCOUNT" >"$WORK/groups"
chmod 600 "$WORK/users" "$WORK/groups"
# tlntsvr_config NAME PORT: the config of one tlntsvr, in $WORK/NAME.d.
# session_limits.tasks off: the benchmark measures sessions, not limits
# (and every session here is the one account).
tlntsvr_config() {
	cat >"$WORK/$1.d/tlntsvr.yaml" <<EOF
listen: ["127.0.0.1:$2"]
${3:+listen_tls: [\"127.0.0.1:$3\"]}
tls: {cert_file: ../tls.pem, key_file: ../tls.key}
users_file: ../users
groups_file: ../groups
max_connections: $((SESSIONS + 100))
session_limits: {tasks: 0}
admin_socket: $WORK/$1.d/admin.sock
audit_log: audit.log
EOF
}

# --- start the servers ----------------------------------------------------------
# A session costs the daemon a socket and a PTY; the load client a socket.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((3 * SESSIONS + 100)) ]; then
	echo "compare.sh: open files limit $(ulimit -n) is too low for $SESSIONS sessions" >&2
	exit 1
fi
tlntsvr_config tlntsvr "$P_TLNTSVR"
"$WORK/tlntsvr.d/tlntsvr" run --config "$WORK/tlntsvr.d/tlntsvr.yaml" --log-level warn 2>"$WORK/tlntsvr.log" &
PID_TLNTSVR=$!
STARTED_PIDS+=("$PID_TLNTSVR")
SERVERS=(--server "tlntsvr=127.0.0.1:$P_TLNTSVR,pid=$PID_TLNTSVR,daemon=tlntsvr")
mkdir -p "$WORK/tls.d"
cp "$WORK/tlntsvr.d/tlntsvr" "$WORK/tls.d/tlntsvr"
tlntsvr_config tls "$P_TLS_PLAIN" "$P_TLS"
"$WORK/tls.d/tlntsvr" run --config "$WORK/tls.d/tlntsvr.yaml" --log-level warn 2>"$WORK/tls.log" &
PID_TLS=$!
STARTED_PIDS+=("$PID_TLS")
SERVERS+=(--server "tlntsvr-tls=127.0.0.1:$P_TLS,pid=$PID_TLS,daemon=tlntsvr,tls,vs=tlntsvr")
LISTEN=("$P_TLNTSVR" "$P_TLS")
# The same tlntsvr with every session recorded (record.dir set): the report
# compares it with tlntsvr round by round (throughput and echo p99 at least
# 0.9 of tlntsvr's), and its memory per session is in the table.
if [ "${RECORD:-1}" = 1 ]; then
	tlntsvr_config recorded "$P_RECORDED"
	echo "record: {dir: $WORK/recorded.d/sessions}" >>"$WORK/recorded.d/tlntsvr.yaml"
	cp "$WORK/tlntsvr.d/tlntsvr" "$WORK/recorded.d/tlntsvr"
	"$WORK/recorded.d/tlntsvr" run --config "$WORK/recorded.d/tlntsvr.yaml" --log-level warn 2>"$WORK/recorded.log" &
	PID_RECORDED=$!
	STARTED_PIDS+=("$PID_RECORDED")
	SERVERS+=(--server "recorded=127.0.0.1:$P_RECORDED,pid=$PID_RECORDED,daemon=tlntsvr,vs=tlntsvr")
	LISTEN+=("$P_RECORDED")
fi
if [ -n "${CANDIDATE:-}" ]; then
	tlntsvr_config candidate "$P_CANDIDATE"
	"$WORK/candidate.d/tlntsvr" run --config "$WORK/candidate.d/tlntsvr.yaml" --log-level warn 2>"$WORK/candidate.log" &
	PID_CANDIDATE=$!
	STARTED_PIDS+=("$PID_CANDIDATE")
	SERVERS+=(--server "candidate=127.0.0.1:$P_CANDIDATE,pid=$PID_CANDIDATE,daemon=tlntsvr,ours")
	LISTEN+=("$P_CANDIDATE")
fi
socat "TCP-LISTEN:$P_INETUTILS,bind=127.0.0.1,reuseaddr,fork,backlog=1024" EXEC:/usr/sbin/telnetd,nofork 2>"$WORK/socat.log" &
PID_SOCAT=$!
STARTED_PIDS+=("$PID_SOCAT")
"$BUSYBOX" telnetd -F -b 127.0.0.1 -p "$P_BUSYBOX" -l /bin/login 2>"$WORK/busybox.log" &
PID_BUSYBOX=$!
STARTED_PIDS+=("$PID_BUSYBOX")
# The relay: cat on a PTY copied raw to a socket, no Telnet (relay.go).
"$LC" relay "127.0.0.1:$P_RELAY" "$ACCOUNT" 2>"$WORK/relay.log" &
PID_RELAY=$!
STARTED_PIDS+=("$PID_RELAY")
LISTEN+=("$P_RELAY")
SERVERS+=(--server "inetutils=127.0.0.1:$P_INETUTILS,pid=$PID_SOCAT,daemon=socat+telnetd")
SERVERS+=(--server "busybox=127.0.0.1:$P_BUSYBOX,pid=$PID_BUSYBOX,daemon=busybox")
LISTEN+=("$P_INETUTILS" "$P_BUSYBOX")

for port in "${LISTEN[@]}"; do
	for i in $(seq 100); do
		ss -Hltn "sport = :$port" | grep -q . && break
		[ "$i" = 100 ] && { echo "compare.sh: nothing listens on port $port" >&2; cat "$WORK"/*.log >&2; exit 1; }
		sleep 0.1
	done
done

# The peers' password check: crypt(3) of the account's /etc/shadow hash,
# what /bin/login's pam_unix does, timed in one process (perl's crypt is
# libcrypt's); tlntsvr's bcrypt is timed by the load client.
CRYPT_MS=$(HASH=$(getent shadow "$ACCOUNT" | cut -d: -f2) PW=$PASSWORD perl -MTime::HiRes=time -e \
	'crypt($ENV{PW}, $ENV{HASH}); my $t = time; crypt($ENV{PW}, $ENV{HASH}) for 1 .. 20; printf "%.3f", (time - $t) * 1000 / 20')

NOTE="${CANDIDATE:+candidate = $CANDIDATE; }$(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB; tlntsvr ${TLNTSVR_VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)} ($($GO version | cut -d' ' -f3)), inetutils-telnetd $(dpkg-query -W -f '${Version}' inetutils-telnetd), busybox $(dpkg-deb -f "$WORK"/busybox-static_*.deb Version), socat $(dpkg-query -W -f '${Version}' socat); tlntsvr bcrypt cost $BCRYPT_COST, /bin/login $(awk '/^ENCRYPT_METHOD/{print $2}' /etc/login.defs)"

"$LC" run \
	"${SERVERS[@]}" \
	--user "$ACCOUNT" --password "$PASSWORD" \
	--text "$WORK/data/text" --bin "$WORK/data/bin" --ff "$WORK/data/ff" \
	--rounds "$ROUNDS" --prompts "$PROMPTS" --logons "$LOGONS" --echo "$ECHO" \
	--sessions "$SESSIONS" --budget "$BUDGET" \
	--relay "127.0.0.1:$P_RELAY,pid=$PID_RELAY" --bcrypt-cost "$BCRYPT_COST" --crypt-ms "$CRYPT_MS" \
	--note "$NOTE" --json "$WORK/results.json" | tee "$WORK/table.md"

# Logons per second: tlntsvr with its users file at bcrypt costs 5, 10 and
# 12 (reloaded through the admin socket), and inetutils for comparison;
# whole logons (connect to shell prompt, then close), 8 in flight.
{
	echo
	echo "Whole logons per second (8 in flight, ${LOGON_FOR:=5s} each, on the same two CPUs as the logons' shells):"
	echo
	for cost in 5 10 12; do
		echo "$ACCOUNT:$("$LC" hash "$PASSWORD" "$cost")" >"$WORK/users"
		"$WORK/tlntadmn" --socket "$WORK/tlntsvr.d/admin.sock" reload >/dev/null
		"$LC" logonrate --server "127.0.0.1:$P_TLNTSVR" --user "$ACCOUNT" --password "$PASSWORD" \
			--for "$LOGON_FOR" --label "- tlntsvr, bcrypt cost $cost" || true
		sleep 2 # the sessions' processes go
	done
	"$LC" logonrate --server "127.0.0.1:$P_INETUTILS" --user "$ACCOUNT" --password "$PASSWORD" \
		--for "$LOGON_FOR" --label "- inetutils telnetd, /bin/login" || true
} | tee -a "$WORK/table.md"

# What the daemons said (a crash, a refusal) goes with the table.
for log in "$WORK"/*.log; do
	if [ -s "$log" ]; then
		echo "--- last lines of ${log##*/}:" >&2
		tail -n 5 "$log" >&2
	fi
done

if [ -n "${OUT:-}" ]; then
	cp "$WORK/table.md" "$OUT"
	cp "$WORK/results.json" "${OUT%.md}.json"
fi
