/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the scenario files (lmm_*.c here) share with one another and with
 * nothing else: each helper is defined once, in the file named above its
 * declaration.  The front ends' interface is lmm.h.
 */
#ifndef LMM_INTERNAL_H
#define LMM_INTERNAL_H

#include "lmm.h"

/* ===== lmm_defer.c ===== */

/* init_mm, checked in a module; NULL with the reason in *why. */
struct mm_struct *lmm_init_mm(const char **why);
/*
 * powerpc book3s64 and sparc64 only: preempt_count() against @base and
 * the model's state.
 */
void lmm_expect_preempt(struct lmm_test *t, int base, const char *when);

/* ===== lmm_kpaths.c ===== */

/* Anonymous user memory of current, populated; 0 when there is no mm. */
unsigned long lmm_user_map(struct lmm_test *t);

#endif /* LMM_INTERNAL_H */
