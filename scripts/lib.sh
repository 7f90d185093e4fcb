# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Shared helpers for the scripts in this directory.  Source it; do not run it.
#
# Everything downloaded or built lives under one cache directory:
#   $LMM_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/lazy-mmu-tests)

LMM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LMM_CACHE=${LMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lazy-mmu-tests}

# Debian suites searched for kernels and the build root, newest last.
LMM_SUITES=${LMM_SUITES:-"trixie trixie-backports sid experimental"}
LMM_BUILDROOT_SUITE=${LMM_BUILDROOT_SUITE:-trixie}

# Where scripts/buildroot shows its caller's checkout, besides at its own
# path: kunit-graft's link in a kernel tree points here, so a tree in the
# shared cache names no checkout, and each build root sees its own.
# shellcheck disable=SC2034
LMM_SUITE_MOUNT=/lmm-suite

# lmm_t0: when the script started (for secs_since in the scripts).
# shellcheck disable=SC2034
lmm_t0=$EPOCHREALTIME

# secs_since T0: seconds elapsed since an $EPOCHREALTIME reading.
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

log()  { printf '# %s\n' "$*" >&2; }
die()  { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit "${2:-1}"; }
usage_error() { printf '%s: %s\n' "${0##*/}" "$*" >&2; usage >&2; exit 2; }

# lmm_trusted_path DIR: whether nobody but root can change what DIR is
# (for root: a cache under another user's $HOME or XDG_CACHE_HOME could
# be swapped under it, or planted with files root then runs or unpacks):
# every directory from / down to DIR, as named and as resolved (the part
# that exists so far), is root's and writable by no one else, or sticky
# (/tmp) with what follows root's.  Says why not on stderr.
lmm_trusted_path() {
	local path p c owner mode
	local -a lmm_comps
	for path in "$1" "$(realpath -m -- "$1")"; do
		IFS=/ read -ra lmm_comps <<< "${path#/}"
		p=
		for c in '' "${lmm_comps[@]}"; do
			[ -n "$c" ] || [ -z "$p" ] || continue
			p=${p%/}/$c
			[ -e "$p" ] || [ -L "$p" ] || break
			[ ! -L "$p" ] || continue	# a link itself: its directory decides
			read -r owner mode < <(stat -c '%u %a' -- "$p") || return 1
			if [ "$owner" != 0 ]; then
				echo "$p belongs to uid $owner, not root" >&2
				return 1
			fi
			if [ $((8#$mode & 8#022)) -ne 0 ] && [ $((8#$mode & 8#1000)) -eq 0 ]; then
				echo "$p is writable by its group or others (mode $mode)" >&2
				return 1
			fi
		done
	done
}

# Colon-separated lists of paths (LMM_BIND, LMM_RW, LMM_OVERLAY) carry
# the checkout and the cache: neither may hold a ':'.  Root trusts only
# a cache that root alone controls.
case $LMM_TOP$LMM_CACHE in
*:*) die "no ':' allowed in the checkout's path ($LMM_TOP) or the cache's (LMM_CACHE=$LMM_CACHE): it separates the directories bound into the build root" ;;
esac
if [ "$(id -u)" = 0 ]; then
	lmm_why=$(lmm_trusted_path "$LMM_CACHE" 2>&1) ||
		die "the cache $LMM_CACHE is not safe for root: $lmm_why (set LMM_CACHE to a directory only root can write)"
fi

# stage NAME CMD...: run a step and print how long it took.
stage() {
	local name=$1 t0 rc
	shift
	t0=$EPOCHREALTIME
	log "stage $name ..."
	"$@"
	rc=$?
	log "stage $name: $(secs_since "$t0") s$([ "$rc" -eq 0 ] || echo " (failed, rc $rc)")"
	return $rc
}

# Run as root: apt, chroot and mmdebstrap need it.
need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (apt-get, mmdebstrap, chroot)"
}

# The sandbox: commands on data a patch series controls (the gate's
# series lanes: kunit.py, make, QEMU, the module build, the verdict) run
# through scripts/buildroot with LMM_SANDBOX=1 as this uid, which no
# account may use: no file on the host belongs to it but the directories
# the gate gives it (a series' build directory, its tree's directories).
LMM_SANDBOX_UID=${LMM_SANDBOX_UID:-64980}

# sandbox_uid: print the sandbox uid (also its gid), or fail saying why
# it is unusable (not a number, root, an account's or a group's).
sandbox_uid() {
	local who
	[[ $LMM_SANDBOX_UID =~ ^[1-9][0-9]*$ ]] ||
		{ echo "LMM_SANDBOX_UID must be a uid other than 0: $LMM_SANDBOX_UID" >&2; return 1; }
	who=$(getent passwd "$LMM_SANDBOX_UID" | cut -d: -f1)
	[ -z "$who" ] ||
		{ echo "LMM_SANDBOX_UID $LMM_SANDBOX_UID is the account $who's: choose a uid nobody uses" >&2; return 1; }
	who=$(getent group "$LMM_SANDBOX_UID" | cut -d: -f1)
	[ -z "$who" ] ||
		{ echo "LMM_SANDBOX_UID $LMM_SANDBOX_UID is the group $who's gid: choose an id nobody uses" >&2; return 1; }
	echo "$LMM_SANDBOX_UID"
}

# sandbox_own DIR...: DIR and everything in it owned by the sandbox uid,
# for a sandboxed command to write (LMM_RW).  Only for new copies: a hard
# link's inode is shared with its other name.
sandbox_own() {
	local uid
	uid=$(sandbox_uid) || return 1
	chown -R -- "$uid:$uid" "$@"
}

# Install host packages that are missing (bookworm host).
host_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root
	log "installing host packages: ${missing[*]}"
	if [ ! -e "$LMM_CACHE/.host-apt-updated" ] ||
	   [ -n "$(find "$LMM_CACHE/.host-apt-updated" -mmin +720)" ]; then
		apt-get update -qq >&2 || die "apt-get update failed"
		mkdir -p "$LMM_CACHE" && touch "$LMM_CACHE/.host-apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# kv KEY: the value of KEY=... in the key=value lines on stdin (the
# output of fetch-kernel, fetch-xen, fetch-source, scripts/lanes): data,
# never executed.
kv() { sed -n "s/^$1=//p" | head -n1; }

# pin_get PIN KEY: one field of a pin of the lane table (lanes.json).
pin_get() {
	local out
	out=$("$LMM_TOP/scripts/lanes" pin "$1") || return 1
	kv "$2" <<< "$out"
}

# The Debian mirror the system already uses (never hard-coded here).
# LMM_TEST_MIRROR (tests only: a loopback http:// URI of a repository the
# test made, whose index is unsigned) replaces it.
debian_mirror() {
	local uri
	if [ -n "${LMM_TEST_MIRROR:-}" ]; then
		[[ $LMM_TEST_MIRROR =~ ^http://127\.0\.0\.1:[0-9]+(/[A-Za-z0-9._/-]*)?$ ]] ||
			die "LMM_TEST_MIRROR must be a loopback http:// URI: $LMM_TEST_MIRROR"
		echo "${LMM_TEST_MIRROR%/}"
		return
	fi
	uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '{print $2}' | grep -v -e security -e '^$' | head -n1)
	[ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$2 !~ /security/ && $2 ~ /debian/ {print $2}' | head -n1)
	[ -n "$uri" ] || die "no Debian mirror found in the system's apt configuration"
	echo "${uri%/}"
}

# A private apt configuration under the cache: never touches the system's.
#
#   apt_private_setup [ARCH...]
#
# Indexes cover $LMM_APT_ARCHES (default amd64 and arm64), the ARCHes
# asked for (fetch-kernel --arch ppc64el) and every architecture an
# earlier call added: the list only grows, so runs that alternate
# between architectures do not re-download indexes, and users who never
# ask for another architecture never fetch its indexes.  The list is
# part of the sources file, so a new architecture refreshes the indexes.
LMM_APT=$LMM_CACHE/apt
# Suites whose Release files the mirror serves expired (a snapshot mirror
# stops refreshing them): found by the first update that fails so, and
# accepted for those suites only (Check-Valid-Until: no in their stanza),
# with a line saying so.  Every other suite's index is checked for its
# validity date, so an old, validly signed index cannot be replayed.
LMM_APT_EXPIRED=$LMM_APT/etc/expired-suites
apt_private_setup() {
	# One writer of the private configuration and indexes at a time.
	mkdir -p "$LMM_APT/etc" || die "cannot create $LMM_APT"
	exec 6>> "$LMM_APT/.lock"
	flock 6
	apt_private_setup_locked "$@"
	local rc=$?
	flock -u 6
	exec 6>&-
	return $rc
}

# apt_write FILE: stdin into FILE, atomically (a reader never sees a
# partial file, which apt would read as no configuration at all).
apt_write() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX") && cat > "$tmp" && mv -f "$tmp" "$1" ||
		{ rm -f "$tmp"; die "cannot write $1"; }
}

# apt_sources MIRROR ARCHES: the deb822 sources, expired suites apart.
apt_sources() {
	local s ok='' old='' sign
	for s in $LMM_SUITES; do
		if grep -qxF "$s" "$LMM_APT_EXPIRED" 2>/dev/null; then old+="$s "; else ok+="$s "; fi
	done
	if [ -n "${LMM_TEST_MIRROR:-}" ]; then
		sign="Trusted: yes"
	else
		sign="Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	fi
	for s in "$ok" "$old"; do
		[ -n "$s" ] || continue
		[ "$s" = "$ok" ] || echo
		echo "Types: deb"
		echo "URIs: $1"
		echo "Suites: ${s% }"
		echo "Components: main"
		echo "Architectures: $2"
		echo "$sign"
		[ "$s" = "$ok" ] || echo "Check-Valid-Until: no"
	done
}

# apt_sandbox: apt fetches as _apt when that user can reach the cache,
# else (a cache under a private home) as root, said once.
apt_sandbox() {
	if getent passwd _apt > /dev/null && runuser -u _apt -- test -x "$LMM_APT/lists" 2> /dev/null; then
		return
	fi
	[ -e "$LMM_APT/.sandbox-root" ] ||
		log "apt: user _apt cannot reach $LMM_APT: indexes and packages are fetched as root"
	touch "$LMM_APT/.sandbox-root"
	echo 'APT::Sandbox::User "root";'
}

apt_private_setup_locked() {
	local mirror arches a err expired
	mirror=$(debian_mirror)
	mkdir -p "$LMM_APT/lists/partial" "$LMM_APT/archives/partial" "$LMM_APT/etc/preferences.d" \
		"$LMM_APT/etc/apt.conf.d" "$LMM_APT/etc/sources.d" "$LMM_APT/cache"
	arches=$(for a in ${LMM_APT_ARCHES:-amd64 arm64} \
			$(sed -n 's/^Architectures://p' "$LMM_APT/etc/sources.d/debian.sources" 2>/dev/null) "$@"; do
			echo "$a"
		done | awk '!seen[$0]++' | tr '\n' ' ')
	arches=${arches% }
	: > "$LMM_APT/etc/sources.list"
	apt_write "$LMM_APT/etc/apt.conf" <<EOC
Dir::Etc::sourcelist "$LMM_APT/etc/sources.list";
Dir::Etc::sourceparts "$LMM_APT/etc/sources.d";
Dir::Etc::preferencesparts "$LMM_APT/etc/preferences.d";
Dir::Etc::parts "$LMM_APT/etc/apt.conf.d";
Dir::State::Lists "$LMM_APT/lists";
Dir::State::status "$LMM_APT/status";
Dir::Cache "$LMM_APT/cache";
Dir::Cache::archives "$LMM_APT/archives";
APT::Architecture "amd64";
APT::Architectures { $(for a in $arches; do printf '"%s"; ' "$a"; done)};
Acquire::Languages "none";
Acquire::Retries "3";
$(apt_sandbox)
EOC
	touch "$LMM_APT/status"
	apt_set_sources "$mirror" "$arches"
	# Refresh the indexes at most every 12 hours, or 30 minutes after
	# an update that failed in part.
	if [ ! -e "$LMM_APT/.updated" ] || [ -n "$(find "$LMM_APT/.updated" -mmin +720)" ] ||
	   [ -n "$(find "$LMM_APT/.partial" -mmin +30 2>/dev/null)" ]; then
		log "updating private apt indexes ($LMM_SUITES; $arches)"
		err=$(papt_get update -qq 2>&1)
		# A suite whose Release file expired: accepted for it alone,
		# then the update again.
		expired=$(sed -n 's|.*Release file for .*/dists/\([^/ ]*\)/.* is expired.*|\1|p' <<< "$err" | sort -u)
		if [ -n "$expired" ]; then
			for a in $expired; do
				log "apt: the mirror's $a Release file is expired ($(grep -m1 "dists/$a/.*expired" <<< "$err" |
					sed -n 's/.*(\(invalid since [^)]*\)).*/\1/p')): accepted for $a only"
			done
			{ cat "$LMM_APT_EXPIRED" 2>/dev/null; printf '%s\n' "$expired"; } | sort -u | apt_write "$LMM_APT_EXPIRED"
			apt_set_sources "$mirror" "$arches"
			err=$(papt_get update -qq 2>&1)
		fi
		[ -z "$err" ] || echo "${err//$mirror\//}" >&2
		# A suite mid-sync on the mirror fails only its own indexes:
		# warn, and let the package lookup say what is missing (the
		# indexes that did update are used meanwhile).
		if ! grep -q '^E: ' <<< "$err"; then
			rm -f "$LMM_APT/.partial"
			touch "$LMM_APT/.updated"
		elif (for a in $arches; do
			ls "$LMM_APT"/lists/*_binary-"${a}"_Packages* > /dev/null 2>&1 || exit 1
		      done); then
			log "warning: some apt indexes failed to update (see above); retrying in 30 minutes"
			touch "$LMM_APT/.partial" "$LMM_APT/.updated"
		else
			log "warning: the apt indexes failed to update (see above)"
		fi
	fi
}

# apt_set_sources MIRROR ARCHES: the sources file, rewritten only when it
# changes (a new architecture or expired suite refreshes the indexes).
apt_set_sources() {
	local new
	new=$(apt_sources "$1" "$2")
	if [ "$new" != "$(cat "$LMM_APT/etc/sources.d/debian.sources" 2>/dev/null)" ]; then
		apt_write "$LMM_APT/etc/sources.d/debian.sources" <<< "$new"
		rm -f "$LMM_APT/.updated"
	fi
}

papt_get()   { APT_CONFIG=$LMM_APT/etc/apt.conf apt-get "$@"; }
papt_cache() { APT_CONFIG=$LMM_APT/etc/apt.conf apt-cache "$@"; }

# papt_download DIR PKG[=VER]...: fetch .debs (cached) into DIR.
papt_download() {
	papt_try_download "$@" || die "download of $* failed: $papt_why"
}

# papt_try_download DIR PKG[=VER]...: the same, returning 1 on failure
# with apt's reason in $papt_why (404, hash or size mismatch, ...), the
# mirror's address left out.
papt_why=
papt_try_download() {
	local dir=$1 err mirror
	shift
	mkdir -p "$dir" || { papt_why="cannot create $dir"; return 1; }
	err=$(cd "$dir" && papt_get download -q "$@" 2>&1 >/dev/null) && return 0
	mirror=$(debian_mirror)
	papt_why=$(grep -E '^(E|W): ' <<< "$err" | grep -v -e 'Some files failed' -e 'Unable to fetch some' -e 'performed unsandboxed' |
		head -n1 | sed -e 's/^[EW]: //' -e "s|$mirror/||g" -e 's/ *\[IP: [^]]*\]//' -e 's/  */ /g')
	[ -n "$papt_why" ] || papt_why=$(tail -n1 <<< "$err")
	[ -n "$papt_why" ] || papt_why="apt-get download failed"
	return 1
}

# lmm_verdict DIR ARGS...: scripts/ktap-verdict with the build root's
# python, DIR (holding the console logs and results) visible inside it.
lmm_verdict() {
	local dir=$1
	shift
	LMM_BIND=$dir "$LMM_TOP/scripts/buildroot" -- python3 "$LMM_TOP/scripts/ktap-verdict" "$@"
}
