// SPDX-License-Identifier: GPL-2.0-only
/* The shared architecture scenarios, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_arch.c"
