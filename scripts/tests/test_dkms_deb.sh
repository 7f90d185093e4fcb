#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The Debian package and DKMS, for real: dpkg-buildpackage builds
# lazy-mmu-tests-dkms in the build root from a copy of the checkout; in
# a throwaway overlay of the build root (in-overlay: the shared root is
# never changed) dpkg installs the pinned amd64 kernel headers and the
# package, whose postinst has Debian's dkms build and install the module
# for that kernel.  The DKMS-built module must carry the same vermagic as
# scripts/build-modules' build.  Leaves OUT/dkms/lazy_mmu_test.ko and
# OUT/kselftest (the package's kselftest layout) for
# test_vm_runner.sh, which boots them.  With the kunit.py x86_64 kernel
# built (KUnit and this suite built in), dkms builds the plain module
# alone for it.
#
#   test_dkms_deb.sh [OUT]

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib.sh"
. "$top/scripts/tests/ktap_helpers.sh"
out=${1:-$top/out/dkms-deb}
need_root
rm -rf "$out" && mkdir -p "$out/dkms" || die "cannot create $out"
out=$(cd "$out" && pwd)
ROOT=$("$top/scripts/buildroot") || exit 1
ver=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$top/debian/changelog")
[ -n "$ver" ] || die "no version in debian/changelog"
ktap_plan 7
# The kunit.py x86_64 kernel (KUnit built in), when make kunit built it.
kunit_build=$LMM_CACHE/kunit-build/x86_64
[ -s "$kunit_build/include/config/kernel.release" ] && [ -s "$kunit_build/Module.symvers" ] || kunit_build=

# The kernel the amd64 lane pins: its header packages, and the header
# tree scripts/build-modules builds against.
lane=$("$top/scripts/fetch-kernel" --arch amd64 2> "$out/fetch-kernel.log") ||
	{ cat "$out/fetch-kernel.log"; die "cannot fetch the pinned amd64 kernel"; }
krel=$(kv KREL <<< "$lane") kver=$(kv KVER <<< "$lane")
# The packages fetch-kernel downloaded (asked for, slower, when not in
# the cache).
abi=${krel%-amd64} v=${kver//:/%3a}
debs=("$LMM_CACHE/debs/linux-headers-$abi-common_${v}_all.deb" "$LMM_CACHE/debs/linux-kbuild-${abi}_${v}_amd64.deb"
      "$LMM_CACHE/debs/linux-headers-${krel}_${v}_amd64.deb")
if ! ls "${debs[@]}" > /dev/null 2>&1; then
	kenv=$("$top/scripts/fetch-kernel" --arch amd64 --download-only 2>> "$out/fetch-kernel.log") ||
		{ cat "$out/fetch-kernel.log"; die "cannot fetch the headers of $krel"; }
	debs=()
	for k in DEB_COMMON DEB_KBUILD DEB_HEADERS; do
		debs+=("$(kv "$k" <<< "$kenv")")
	done
fi
# linux-base (the headers' postinst runs its linux-run-hooks), from the
# suite of the kernel pin, fetched once.
suite=$(pin_get kernel-amd64 suite) || exit 1
base=$(ls "$LMM_CACHE"/debs/linux-base_*_all.deb 2>/dev/null | head -n1)
if [ -z "$base" ]; then
	apt_private_setup
	papt_download "$LMM_CACHE/debs" "linux-base/$suite"
	base=$(ls "$LMM_CACHE"/debs/linux-base_*_all.deb | head -n1)
fi
debs=("$base" "${debs[@]}")

# A copy of the checkout (what git tracks or would add): the build
# writes into debian/ and the parent directory, never into the checkout.
src=$out/src/lazy-mmu-tests-$ver
mkdir -p "$src"
# shellcheck disable=SC2016
(cd "$top" && git ls-files -z -co --exclude-standard | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
	tar --null -T - -cf -) | tar -C "$src" -xf - || die "cannot copy the checkout"
t0=$EPOCHREALTIME
# shellcheck disable=SC2016
LMM_BIND=$out "$top/scripts/buildroot" -- /bin/sh -c 'cd "$1" && dpkg-buildpackage -us -uc -b -d' \
	build "$src" > "$out/dpkg-buildpackage.log" 2>&1
rc=$?
log "dpkg-buildpackage: exit $rc, $(secs_since "$t0") s (log: $out/dpkg-buildpackage.log)"
deb=$out/src/lazy-mmu-tests-dkms_${ver}_all.deb
[ $rc -eq 0 ] || tail -n 20 "$out/dpkg-buildpackage.log" | sed 's/^/# /'
ktap_check "dpkg-buildpackage -us -uc -b builds lazy-mmu-tests-dkms_${ver}_all.deb" test -s "$deb"

# ships: the DKMS sources with the version set, the runner, its kselftest layout.
ships() {
	local list f
	list=$(dpkg-deb -c "$deb" 2>/dev/null | awk '{ print $6 }') || return 1
	for f in "./usr/src/lazy-mmu-tests-$ver/dkms.conf" "./usr/src/lazy-mmu-tests-$ver/kmod/lmm_kmod.c" \
		"./usr/src/lazy-mmu-tests-$ver/scripts/detect-api" "./usr/bin/lazy_mmu_test.sh" \
		./usr/lib/lazy-mmu-tests/kselftest/kselftest-list.txt \
		./usr/lib/lazy-mmu-tests/kselftest/lazy_mmu/lazy_mmu_test.sh; do
		grep -qxF "$f" <<< "$list" || { echo "# not in the package: $f"; return 1; }
	done
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/src/lazy-mmu-tests-$ver/dkms.conf" |
		grep -qx "PACKAGE_VERSION=\"$ver\"" || { echo "# dkms.conf: PACKAGE_VERSION is not $ver"; return 1; }
}
ktap_check "the package ships the DKMS sources ($ver), the runner and its kselftest layout" ships

# In a throwaway overlay of the build root: the headers with dpkg (their
# dependencies gcc-14-for-host, a metapackage of the gcc-14 the root has,
# and linux-base-KREL are not needed to build a module: forced; no fsync
# per file: the overlay is thrown away), then the package itself.  The
# overlay's changes live on a tmpfs of a private mount namespace: gone
# when it ends, and 20 times faster than on disk for the headers' 17000
# files.
t0=$EPOCHREALTIME
mkdir -p "$out/overlay"
# shellcheck disable=SC2016
LMM_BIND=$out unshare --mount --propagation private -- /bin/sh -c 'mount -t tmpfs tmpfs "$1" && shift && exec "$@"' \
	tmpfs "$out/overlay" "$top/scripts/in-overlay" "$ROOT" "$out/overlay" - -- \
	"$top/scripts/buildroot" -- /bin/sh -c '
	out=$1 krel=$2 ver=$3 deb=$4 kb=$5; shift 5
	export DEBIAN_FRONTEND=noninteractive
	echo "# $(date +%s) dpkg -i the headers"
	dpkg -i --force-unsafe-io --force-depends "$@" || exit 1
	# The chroot is a machine with this one kernel (the build root holds
	# the header trees of other lanes too, unpacked without dpkg).
	for b in /lib/modules/*/build; do
		[ "$b" = "/lib/modules/$krel/build" ] || rm -f "$b"
	done
	echo "# $(date +%s) dpkg -i $deb"
	dpkg -i --force-unsafe-io "$deb" || exit 2
	echo "# $(date +%s) installed"
	dkms status
	mods=/lib/modules/$krel/updates/dkms
	ls -l "$mods"
	cp "$mods"/lazy_mmu_test.ko* "$out/dkms/" || exit 3
	cp -a /usr/lib/lazy-mmu-tests/kselftest "$out/kselftest" || exit 3
	cp /var/lib/dkms/lazy-mmu-tests/"$ver"/build/make.log "$out/dkms-make.log" 2>/dev/null
	# A kernel with KUnit and the suite built in (the kunit.py x86_64
	# build, when there is one): dkms builds the plain module for it.
	if [ -n "$kb" ]; then
		kr=$(cat "$kb/include/config/kernel.release") || exit 4
		mkdir -p "/lib/modules/$kr" && ln -sfn "$kb" "/lib/modules/$kr/build" || exit 4
		dkms install "lazy-mmu-tests/$ver" -k "$kr" ||
			{ cat "/var/lib/dkms/lazy-mmu-tests/$ver/build/make.log"; exit 4; }
		mkdir -p "$out/dkms-kunit"
		cp "/lib/modules/$kr/updates/dkms/"*.ko* "$out/dkms-kunit/" || exit 4
	fi
	exit 0
' dkms "$out" "$krel" "$ver" "$deb" "$kunit_build" "${debs[@]}" > "$out/install.log" 2>&1
rc=$?
log "overlay: headers and package installed, DKMS build: exit $rc, $(secs_since "$t0") s (log: $out/install.log)"
[ $rc -eq 0 ] || tail -n 25 "$out/install.log" | sed 's/^/# /'
# 1: the headers did not install; 2, 3, 4: a later step (checked below);
# anything else: the overlay or the build root itself failed.
ktap_check "dpkg installs linux-headers-$krel in a chroot (an overlay of the build root)" \
	test $rc -eq 0 -o $rc -eq 2 -o $rc -eq 3 -o $rc -eq 4

# installed: dkms says so, and the module (compressed as the kernel's
# own, when they are) came out.
installed() {
	{ [ $rc -eq 0 ] || [ $rc -eq 4 ]; } &&
		grep -q "^lazy-mmu-tests/$ver, $krel, x86_64: installed" "$out/install.log" || return 1
	local f
	f=$(ls "$out"/dkms/lazy_mmu_test.ko* | head -n1)
	case $f in
	*.ko) ;;
	*.ko.xz) "$top/scripts/buildroot" -- xz -dc "$f" > "$out/dkms/lazy_mmu_test.ko" ;;
	*.ko.zst) "$top/scripts/buildroot" -- zstd -qdc "$f" > "$out/dkms/lazy_mmu_test.ko" ;;
	*.ko.gz) gzip -dc "$f" > "$out/dkms/lazy_mmu_test.ko" ;;
	*) return 1 ;;
	esac
	[ -s "$out/dkms/lazy_mmu_test.ko" ]
}
ktap_check "installing the package builds and installs lazy_mmu_test through DKMS for $krel" installed

# The same vermagic as scripts/build-modules' build for the lane.
"$top/scripts/build-modules" --kdir "$(kv KDIR <<< "$lane")" --out "$out/build" --cache > "$out/build-modules.log" 2>&1
vermagic() { LMM_BIND=$out "$top/scripts/buildroot" -- modinfo -F vermagic "$1"; }
vm_dkms=$(vermagic "$out/dkms/lazy_mmu_test.ko" 2>/dev/null)
vm_build=$(vermagic "$out/build/lazy_mmu_test.ko" 2>/dev/null)
echo "# vermagic: DKMS '$vm_dkms', build-modules '$vm_build'"
ktap_check "the DKMS module's vermagic is build-modules' (and names $krel)" \
	test -n "$vm_dkms" -a "$vm_dkms" = "$vm_build" -a "${vm_dkms%% *}" = "$krel"
ktap_check "the package's runner is runner/lazy_mmu_test.sh" \
	cmp -s "$out/kselftest/lazy_mmu/lazy_mmu_test.sh" "$top/runner/lazy_mmu_test.sh"
# A kernel with KUnit and this suite built in (the kunit.py build):
# dkms.conf's KUnit module is left out, the plain module builds.
plain_only() {
	[ $rc -eq 0 ] && ls "$out"/dkms-kunit/lazy_mmu_test.ko* > /dev/null 2>&1 &&
		! ls "$out"/dkms-kunit/lazy_mmu_nesting_kunit.ko* > /dev/null 2>&1
}
if [ -n "$kunit_build" ]; then
	ktap_check "a kernel with the KUnit suite built in (kunit.py x86_64): DKMS builds the plain module alone" plain_only
else
	ktap_n=$((ktap_n + 1))
	echo "ok $ktap_n DKMS builds the KUnit suite for a kernel with KUnit # SKIP no kunit.py x86_64 build (scripts/kunit --arch x86_64)"
fi
ktap_finish
