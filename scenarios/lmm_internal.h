/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the scenario files (lmm_*.c here) share with one another and with
 * nothing else: each helper is defined once, in the file named above its
 * declaration.  The front ends' interface is lmm.h.
 */
#ifndef LMM_INTERNAL_H
#define LMM_INTERNAL_H

#include "lmm.h"

/* ===== lmm_core.c ===== */

/* Console reports seen while the probe is registered (lmm_watch_start()). */
extern atomic_t lmm_warnings;
extern bool lmm_watching;

/* Observed state of current, in task context. */
struct lmm_obs {
	u8 e, p;
	bool pred, task_active;
};

/* The arch probe (arm64): armed before a call, read (LMM_ARCH_*) after. */
void lmm_probe_arm(void);
unsigned int lmm_probe_read(void);
/* One API call, neither modelled nor checked (none in a link-safe build). */
void lmm_call(enum lmm_op op);
void lmm_observe(struct lmm_obs *o);
bool lmm_task_active(struct task_struct *tsk);
bool lmm_check(struct lmm_test *t, const char *what,
	       unsigned int expect_calls, unsigned int seen);
void lmm_force_restore(u8 e0, u8 p0);
const char *lmm_hypervisor(void);

/* ===== lmm_nesting.c ===== */

struct rnd_state;

/* One step of a random walk that keeps the API contract, checked. */
void lmm_walk_step(struct lmm_test *t, struct rnd_state *rnd,
		   unsigned int i);

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
