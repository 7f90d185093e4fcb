// SPDX-License-Identifier: GPL-2.0-only
/* The shared kernel-path scenarios, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_kpaths.c"
