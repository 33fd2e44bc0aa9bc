# bench/account.sh — the OS account the benchmarks log on as, sourced by
# compare.sh and scale.sh (which set ACCOUNT). One benchmark at a time:
# both use the one account, and one run's cleanup would kill the other's
# sessions (it did), so a lock is taken first.

# bench_lock: exit if another benchmark holds the lock; it is released
# when this shell exits.
bench_lock() {
	exec 9>/run/lock/tlntsvr-bench.lock
	if ! flock -n 9; then
		echo "${0##*/}: another benchmark is running (it holds /run/lock/tlntsvr-bench.lock)" >&2
		exit 1
	fi
}

# remove_account: kill every process of the account, then delete it.
remove_account() {
	id "$ACCOUNT" >/dev/null 2>&1 || return 0
	local pid pids i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(ps -o pid= -u "$ACCOUNT" 2>/dev/null || true)
		[ -z "$pids" ] && break
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
		sleep 0.2
	done
	userdel -r "$ACCOUNT" >/dev/null 2>&1 || true
}

# create_account: a fresh account with one shell (dash) and one prompt for
# every server; sets PASSWORD (also its /etc/shadow password, for the
# peers' /bin/login) and HOME_DIR.
create_account() {
	remove_account # left over from a killed run
	useradd -m -s /bin/sh "$ACCOUNT"
	PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
	echo "$ACCOUNT:$PASSWORD" | chpasswd
	HOME_DIR=$(getent passwd "$ACCOUNT" | cut -d: -f6)
	# dash reads ~/.profile as a login shell under all three servers.
	printf "PS1='tlnbench\$ '\n" >"$HOME_DIR/.profile"
	touch "$HOME_DIR/.hushlogin" # no motd or last-login lines from login(1)
	chown "$ACCOUNT:" "$HOME_DIR/.profile" "$HOME_DIR/.hushlogin"
}
