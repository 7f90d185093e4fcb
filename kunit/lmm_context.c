// SPDX-License-Identifier: GPL-2.0-only
/* The shared interrupt-context scenarios, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_context.c"
