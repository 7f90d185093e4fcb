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

# lmm_t0: when the script started (for secs_since in the scripts).
# shellcheck disable=SC2034
lmm_t0=$EPOCHREALTIME

# secs_since T0: seconds elapsed since an $EPOCHREALTIME reading.
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

log()  { printf '# %s\n' "$*" >&2; }
die()  { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit "${2:-1}"; }
usage_error() { printf '%s: %s\n' "${0##*/}" "$*" >&2; usage >&2; exit 2; }

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

# Run as root: apt, chroot and debootstrap need it.
need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (apt-get, debootstrap, chroot)"
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
apt_private_setup() {
	local mirror arches a
	mirror=$(debian_mirror)
	mkdir -p "$LMM_APT/lists/partial" "$LMM_APT/archives/partial" "$LMM_APT/etc/preferences.d" \
		"$LMM_APT/etc/apt.conf.d"
	arches=$(for a in ${LMM_APT_ARCHES:-amd64 arm64} \
			$(sed -n 's/^Architectures://p' "$LMM_APT/etc/sources.d/debian.sources" 2>/dev/null) "$@"; do
			echo "$a"
		done | awk '!seen[$0]++' | tr '\n' ' ')
	arches=${arches% }
	{
		echo "Types: deb"
		echo "URIs: $mirror"
		echo "Suites: $LMM_SUITES"
		echo "Components: main"
		echo "Architectures: $arches"
		if [ -n "${LMM_TEST_MIRROR:-}" ]; then
			echo "Trusted: yes"
		else
			echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
		fi
	} > "$LMM_APT/etc/sources.sources.new"
	: > "$LMM_APT/etc/sources.list"
	cat > "$LMM_APT/etc/apt.conf" <<EOC
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
Acquire::Check-Valid-Until "false";
APT::Sandbox::User "root";
EOC
	mkdir -p "$LMM_APT/etc/sources.d" "$LMM_APT/cache"
	touch "$LMM_APT/status"
	if ! cmp -s "$LMM_APT/etc/sources.sources.new" "$LMM_APT/etc/sources.d/debian.sources"; then
		mv "$LMM_APT/etc/sources.sources.new" "$LMM_APT/etc/sources.d/debian.sources"
		rm -f "$LMM_APT/.updated"
	else
		rm -f "$LMM_APT/etc/sources.sources.new"
	fi
	# Refresh the indexes at most every 12 hours, or 30 minutes after
	# an update that failed in part.
	if [ ! -e "$LMM_APT/.updated" ] || [ -n "$(find "$LMM_APT/.updated" -mmin +720)" ] ||
	   [ -n "$(find "$LMM_APT/.partial" -mmin +30 2>/dev/null)" ]; then
		log "updating private apt indexes ($LMM_SUITES; $arches)"
		# A suite mid-sync on the mirror fails only its own indexes:
		# warn, and let the package lookup say what is missing (the
		# indexes that did update are used meanwhile).
		if papt_get update -qq >&2; then
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
	papt_why=$(grep -E '^(E|W): ' <<< "$err" | grep -v -e 'Some files failed' -e 'Unable to fetch some' |
		head -n1 | sed -e 's/^[EW]: //' -e "s|$mirror/||g" -e 's/ *\[IP: [^]]*\]//' -e 's/  */ /g')
	[ -n "$papt_why" ] || papt_why=$(tail -n1 <<< "$err")
	[ -n "$papt_why" ] || papt_why="apt-get download failed"
	return 1
}

# headers_copy ROOT KDIR NAME: hard-linked copy of the header tree KDIR
# (a path inside the build root ROOT) and of the -common tree its Makefile
# includes, as /usr/src/NAME-arch and /usr/src/NAME-common: the same depth,
# so that kbuild's relative scripts/tools symlinks still resolve.  Prints
# the copy's KDIR.  Patch only the copy's files with `patch` (it writes new
# files, never through the hard links).
headers_copy() {
	local root=$1 kdir=$2 name=$3 common
	common=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$root$kdir/Makefile")
	[ -n "$common" ] || { echo "cannot find the -common tree of $kdir" >&2; return 1; }
	headers_drop "$root" "$name"
	cp -al "$root$kdir" "$root/usr/src/$name-arch" &&
		cp -al "$root$common" "$root/usr/src/$name-common" ||
		{ echo "cannot copy $kdir" >&2; return 1; }
	# A new Makefile, not an edit through the hard link.
	rm -f "$root/usr/src/$name-arch/Makefile"
	sed -e "s|^KBUILD_OUTPUT=.*|KBUILD_OUTPUT=/usr/src/$name-arch|" \
	    -e "s|^include .*/Makefile$|include /usr/src/$name-common/Makefile|" \
	    "$root$kdir/Makefile" > "$root/usr/src/$name-arch/Makefile"
	echo "/usr/src/$name-arch"
}

headers_drop() {
	rm -rf "${1:?}/usr/src/$2-arch" "${1:?}/usr/src/$2-common"
}

# lmm_verdict DIR ARGS...: scripts/ktap-verdict with the build root's
# python, DIR (holding the console logs and results) visible inside it.
lmm_verdict() {
	local dir=$1
	shift
	LMM_BIND=$dir "$LMM_TOP/scripts/buildroot" -- python3 "$LMM_TOP/scripts/ktap-verdict" "$@"
}
