// SPDX-License-Identifier: GPL-2.0-only
/* The scenarios' core, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_core.c"
