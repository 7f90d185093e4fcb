// SPDX-License-Identifier: GPL-2.0-only
/* The shared state and nesting scenarios, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_nesting.c"
