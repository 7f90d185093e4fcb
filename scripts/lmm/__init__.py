# SPDX-License-Identifier: GPL-2.0-only
"""Orchestration library of the lazy MMU test suite (standard library only).

lanes: the lane table (lanes.json): every place the suite runs and the
pinned Debian packages it uses.
"""
