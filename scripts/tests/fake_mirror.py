#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A small Debian repository that lists what it cannot serve, for tests.

  fake_mirror.py build DIR     write the repository (suite lmmtest, amd64)
  fake_mirror.py serve DIR PORTFILE
                               serve DIR over HTTP on 127.0.0.1, on a free
                               port written to PORTFILE, until killed

The index lists three uploads of a kernel, newest first, as a mirror in
mid-sync does:
  7.9.3+deb13 (7.9.3-1): the image package in the pool is truncated (its
              size and SHA256 differ from the index's);
  7.9.2+deb13 (7.9.2-1): the headers package is missing from the pool (404);
  7.9.1+deb13 (7.9.1-1): whole.
Each upload has the packages fetch-kernel takes: linux-headers-ABI-amd64
(naming -common and kbuild), linux-headers-ABI-common, linux-kbuild-ABI and
linux-binary-unsigned-ABI-amd64 with a stand-in usr/lib/modules/ABI-amd64/vmlinuz.
"""

import email.utils
import functools
import hashlib
import http.server
import os
import subprocess
import sys
import tempfile
import time

SUITE = "lmmtest"
EXPIRED_SUITE = "lmmold"
UPLOADS = [("7.9.3+deb13", "7.9.3-1", "truncated-image"),
           ("7.9.2+deb13", "7.9.2-1", "missing-headers"),
           ("7.9.1+deb13", "7.9.1-1", "")]


def build_deb(root, pkg, version, arch, depends="", files=()):
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "DEBIAN"))
        control = [f"Package: {pkg}", f"Version: {version}", f"Architecture: {arch}",
                   "Maintainer: lazy-mmu-tests <nobody@localhost>",
                   "Description: stand-in package for the mirror fallback test"]
        if depends:
            control.append(f"Depends: {depends}")
        with open(os.path.join(tmp, "DEBIAN", "control"), "w") as f:
            f.write("\n".join(control) + "\n")
        for path, data in files:
            full = os.path.join(tmp, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        rel = f"pool/main/l/linux/{pkg}_{version}_{arch}.deb"
        out = os.path.join(root, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tmp, out],
                       check=True, stdout=subprocess.DEVNULL)
    with open(out, "rb") as f:
        data = f.read()
    stanza = "\n".join(
        [f"Package: {pkg}", f"Version: {version}", f"Architecture: {arch}"] +
        ([f"Depends: {depends}"] if depends else []) +
        [f"Filename: {rel}", f"Size: {len(data)}",
         f"SHA256: {hashlib.sha256(data).hexdigest()}",
         "Description: stand-in package"]) + "\n"
    return out, stanza


def build(root):
    stanzas = []
    for abi, version, fault in UPLOADS:
        krel = f"{abi}-amd64"
        hdr, s = build_deb(root, f"linux-headers-{krel}", version, "amd64",
                           f"linux-headers-{abi}-common (= {version}), linux-kbuild-{abi}",
                           [(f"usr/src/linux-headers-{krel}/Makefile", b"# stand-in\n")])
        stanzas.append(s)
        if fault == "missing-headers":
            os.unlink(hdr)
        stanzas.append(build_deb(root, f"linux-headers-{abi}-common", version, "all",
                                 files=[(f"usr/src/linux-headers-{abi}-common/Makefile", b"#\n")])[1])
        stanzas.append(build_deb(root, f"linux-kbuild-{abi}", version, "amd64",
                                 files=[(f"usr/lib/linux-kbuild-{abi}/README", b"#\n")])[1])
        img, s = build_deb(root, f"linux-binary-unsigned-{krel}", version, "amd64",
                           files=[(f"usr/lib/modules/{krel}/vmlinuz", os.urandom(4096))])
        stanzas.append(s)
        if fault == "truncated-image":
            with open(img, "r+b") as f:
                f.truncate(os.path.getsize(img) // 2)
    write_suite(root, SUITE, "\n".join(stanzas).encode())
    # A suite whose Release file expired a day ago, as a snapshot mirror
    # serves sid's: accepted for that suite alone, and said so.
    write_suite(root, EXPIRED_SUITE, b"", valid_until=time.time() - 86400)


def write_suite(root, suite, packages, valid_until=None):
    dist = os.path.join(root, "dists", suite)
    pdir = os.path.join(dist, "main", "binary-amd64")
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(pdir, "Packages"), "wb") as f:
        f.write(packages)
    until = ("Valid-Until: %s\n" % email.utils.formatdate(valid_until, usegmt=True)
             if valid_until else "")
    with open(os.path.join(dist, "Release"), "w") as f:
        f.write(f"Origin: lazy-mmu-tests\nSuite: {suite}\nCodename: {suite}\n"
                f"Date: {email.utils.formatdate(usegmt=True)}\n{until}Architectures: amd64 all\n"
                "Components: main\nSHA256:\n"
                f" {hashlib.sha256(packages).hexdigest()} {len(packages)} main/binary-amd64/Packages\n")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("fake-mirror: " + (fmt % args) + "\n")


def serve(root, portfile):
    handler = functools.partial(QuietHandler, directory=root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(f"{httpd.server_address[1]}\n")
    os.rename(portfile + ".tmp", portfile)
    httpd.serve_forever()


def main(argv):
    if len(argv) == 2 and argv[0] == "build":
        build(argv[1])
    elif len(argv) == 3 and argv[0] == "serve":
        serve(argv[1], argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
