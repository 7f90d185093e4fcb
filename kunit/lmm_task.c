// SPDX-License-Identifier: GPL-2.0-only
/* The shared task scenarios, compiled into this module (see scenarios/). */
#include "../scenarios/lmm_task.c"
