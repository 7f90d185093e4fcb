// SPDX-License-Identifier: GPL-2.0-only
/* The shared deferral scenarios, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_defer.c"
