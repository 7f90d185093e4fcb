# SPDX-License-Identifier: GPL-2.0-only
"""What a kernel tree of one's own is, for the gate's cache keys: its
git commit and, when it has uncommitted changes, their content.

  treeid.py TREE    prints @COMMIT or @COMMIT-dirty-HASH (nothing for a
                    tree that is not a git checkout); exit 1 when git
                    refuses a checkout (e.g. its owner is not the caller)

HASH covers every path git reports as changed against HEAD (modified,
staged, deleted, untracked and not ignored), by name, kind and content
(a symbolic link by its target, never followed), so editing an
uncommitted tree changes the key and the gate never reuses the series
builds and base results of the tree as it was.  What kunit-graft adds is
left out: the lazy_mmu_nesting symlink, the obj-y line in Kbuild and
the source line (with the blank line before it) in Kconfig, on both
sides of the comparison, so grafting does not make a tree dirty and a
graft committed by its owner changes nothing either.  Ignored files
(build outputs) are not part of the key.
"""

import hashlib
import os
import stat
import subprocess
import sys
from typing import List, Optional

GRAFT_LINK = "lazy_mmu_nesting"
GRAFT_LINES = {
    "Kbuild": "obj-y\t\t\t+= lazy_mmu_nesting/kunit/",
    "Kconfig": 'source "lazy_mmu_nesting/kunit/Kconfig"',
}


class TreeError(Exception):
    pass


def _git(tree: str, *argv: str, check: bool = True) -> Optional[bytes]:
    # No hook, fsmonitor or pager of the tree's configuration runs, and
    # git's index is never rewritten by this look.
    p = subprocess.run(["git", "--no-optional-locks", "-c", "core.fsmonitor=false",
                        "-C", tree] + list(argv),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode:
        if check:
            raise TreeError("git %s in %s: %s" % (argv[0], tree,
                                                  p.stderr.decode(errors="replace").strip()))
        return None
    return p.stdout


def ungrafted(name: str, data: bytes) -> bytes:
    """DATA, the content of the top-level file NAME, without what
    kunit-graft appends to it (for Kconfig also the blank line before)."""
    if name not in GRAFT_LINES:
        return data
    line = GRAFT_LINES[name]
    lines = data.decode("utf-8", errors="surrogateescape").split("\n")
    out: List[str] = []
    for l in lines:
        if l == line:
            if name == "Kconfig" and out and out[-1] == "":
                out.pop()
            continue
        out.append(l)
    return "\n".join(out).encode("utf-8", errors="surrogateescape")


def changed_paths(tree: str) -> List[str]:
    """Paths (relative to TREE's top) that differ from HEAD, sorted."""
    z = _git(tree, "status", "--porcelain=v1", "-z", "--no-renames",
             "--untracked-files=all", "--ignore-submodules=all", "--", ".")
    paths = set()
    for entry in z.split(b"\0"):
        if len(entry) > 3:
            paths.add(os.fsdecode(entry[3:]))
    return sorted(paths)


def entry_digest(top: str, path: str, name: Optional[str] = None) -> bytes:
    """What PATH is in the working tree: its kind and content (the
    graft's lines left out of the tree's own Kbuild and Kconfig, NAME)."""
    full = os.path.join(top, path)
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return b"deleted"
    if stat.S_ISLNK(st.st_mode):
        return b"link " + os.fsencode(os.readlink(full))
    if stat.S_ISDIR(st.st_mode):
        return b"directory"
    if not stat.S_ISREG(st.st_mode):
        return b"special"
    with open(full, "rb") as f:
        data = f.read()
    mode = b"x " if st.st_mode & 0o111 else b"- "
    return mode + hashlib.sha256(ungrafted(name or "", data)).digest()


def tree_id(tree: str) -> str:
    """'' (not a git checkout), '@COMMIT' or '@COMMIT-dirty-HASH'."""
    top = _git(tree, "rev-parse", "--show-toplevel", check=False)
    if top is None:
        if os.path.exists(os.path.join(tree, ".git")):
            # A checkout git will not read (e.g. safe.directory): its
            # changes could not be seen, so no key can be trusted.
            _git(tree, "rev-parse", "--show-toplevel")
        return ""
    top = os.fsdecode(top).rstrip("\n")
    # The graft's files are at TREE's top, which may be below git's.
    prefix = os.fsdecode(_git(tree, "rev-parse", "--show-prefix")).rstrip("\n")
    head = _git(tree, "rev-parse", "HEAD").decode().strip()
    h = hashlib.sha256()
    dirty = False
    for path in changed_paths(tree):
        mine = path[len(prefix):] if path.startswith(prefix) else None
        if mine == GRAFT_LINK and os.path.islink(os.path.join(top, path)):
            continue
        if mine in GRAFT_LINES:
            old = _git(tree, "show", "HEAD:" + path, check=False) or b""
            try:
                with open(os.path.join(top, path), "rb") as f:
                    now = f.read()
            except FileNotFoundError:
                now = None
            if now is not None and ungrafted(mine, now) == ungrafted(mine, old):
                continue
        dirty = True
        h.update(os.fsencode(path) + b"\0" + entry_digest(top, path, mine) + b"\0")
    return "@" + head + ("-dirty-" + h.hexdigest()[:16] if dirty else "")


def main(argv: List[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: treeid.py TREE", file=sys.stderr)
        return 2
    try:
        print(tree_id(argv[0]))
    except TreeError as e:
        print("treeid: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
