// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt-context cases, shared by both front ends: the start states a
 * case puts current in before it is interrupted (lmm_ctx_states[], which
 * kernel_sections in lmm_kpaths.c starts from too), the helpers called
 * with BH disabled, in softirq and in hardirq context (ignored, the
 * task's state untouched), irqs disabled as task context, and the
 * documented BH misuse that leaks an enable().  The interrupt runners
 * are lmm_core.c's.
 */

#include <linux/interrupt.h>
#include <linux/sprintf.h>

#include "lmm.h"
#include "lmm_internal.h"

/* ===== Interrupt context ===== */

/* Task states a case can put current in before interrupting it. */
const enum lmm_ctx_state lmm_ctx_states[LMM_NCTX] = {
	LMM_CTX_IDLE, LMM_CTX_SECTION, LMM_CTX_PAUSED,
};

static const char * const lmm_ctx_state_name[] = {
	[LMM_CTX_IDLE] = "idle", [LMM_CTX_SECTION] = "section",
	[LMM_CTX_PAUSED] = "paused",
};

void lmm_ctx_desc(const enum lmm_ctx_state *state, char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "state=%s", lmm_ctx_state_name[*state]);
}

void lmm_ctx_setup(struct lmm_test *t)
{
	const enum lmm_ctx_state *state = t->param;

	switch (*state) {
	case LMM_CTX_IDLE:
		break;
	case LMM_CTX_SECTION:
		lmm_do_n(t, LMM_ENABLE, 2);
		break;
	case LMM_CTX_PAUSED:
		lmm_do(t, LMM_ENABLE);
		lmm_do(t, LMM_PAUSE);
		break;
	}
}

/* What the helpers did when called in interrupt context. */
struct lmm_irq_obs {
	bool in_irq;			/* in_interrupt() */
	struct lmm_obs before;
	struct lmm_obs after[LMM_NR_OPS];
	unsigned int seen[LMM_NR_OPS];	/* arch probe per call */
};

/* Call each helper once, recording the state after each. */
static void lmm_irq_body(void *arg)
{
	static const enum lmm_op order[] = {
		LMM_ENABLE, LMM_DISABLE, LMM_PAUSE, LMM_RESUME,
	};
	struct lmm_irq_obs *o = arg;
	unsigned int i;

	o->in_irq = in_interrupt();
	lmm_observe(&o->before);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		lmm_probe_arm();
		lmm_call(order[i]);
		o->seen[order[i]] = lmm_probe_read();
		lmm_observe(&o->after[order[i]]);
	}
}

/*
 * Check what lmm_irq_body() saw: the predicate is false, the task's own
 * state is unchanged and still reported by __task_lazy_mmu_mode_active(),
 * and no helper changed anything or called the architecture.
 */
static void lmm_irq_check(struct lmm_test *t, struct lmm_irq_obs *o,
			  bool ran, const char *ctx)
{
	bool active = lmm_model_task_active(&t->model);
	unsigned int i;

	if (!ran) {
		lmm_skip(t, "%s: callback did not run in that context on the test task", ctx);
		return;
	}
	LMM_EXPECT(t, o->in_irq, "%s: in_interrupt() false in the callback", ctx);
	if (o->before.pred)
		lmm_fail(t, "%s: predicate true in interrupt context (task E=%u P=%u)",
			 ctx, o->before.e, o->before.p);
	if (o->before.task_active != active)
		lmm_fail(t, "%s: __task_lazy_mmu_mode_active()=%d, task state E=%u P=%u says %d",
			 ctx, o->before.task_active, t->model.e, t->model.p, active);
	for (i = 0; i < LMM_NR_OPS; i++) {
		const struct lmm_obs *a = &o->after[i];

		if (a->e != t->model.e || a->p != t->model.p || a->pred ||
		    o->seen[i])
			lmm_fail(t, "%s: %s() not ignored: expected E=%u P=%u predicate=0 no arch call, observed E=%u P=%u predicate=%d arch=%s [arch flag %s]",
				 ctx, lmm_op_name[i], t->model.e, t->model.p,
				 a->e, a->p, a->pred, o->seen[i] ? "flush/leave" : "none",
				 lmm_arch_flag_name());
	}
}

void lmm_bh_disabled(struct lmm_test *t)
{
	struct lmm_irq_obs o = { };

	lmm_ctx_setup(t);
	if (!t->failures) {
		local_bh_disable();
		lmm_irq_body(&o);
		local_bh_enable();
		lmm_irq_check(t, &o, true, "local_bh_disable()");
		lmm_check(t, "after local_bh_enable()", 0, 0);
	}
	lmm_unwind(t);
}

LMM_DEFINE_PARAMS(bh_disabled, lmm_ctx_states, lmm_ctx_desc);

void lmm_softirq(struct lmm_test *t)
{
	struct lmm_irq_obs o = { };

	lmm_ctx_setup(t);
	if (!t->failures) {
		bool ran = lmm_run_softirq(lmm_irq_body, &o);

		lmm_irq_check(t, &o, ran, "softirq (tasklet)");
		lmm_check(t, "after the tasklet", 0, 0);
	}
	lmm_unwind(t);
}

LMM_DEFINE_PARAMS(softirq, lmm_ctx_states, lmm_ctx_desc);

void lmm_hardirq(struct lmm_test *t)
{
	struct lmm_irq_obs o = { };

	lmm_ctx_setup(t);
	if (!t->failures) {
		bool ran = lmm_run_hardirq(lmm_irq_body, &o);

		lmm_irq_check(t, &o, ran, "hardirq (irq_work)");
		lmm_check(t, "after the irq_work", 0, 0);
	}
	lmm_unwind(t);
}

LMM_DEFINE_PARAMS(hardirq, lmm_ctx_states, lmm_ctx_desc);

/* local_irq_save() alone is not interrupt context: the helpers work. */
void lmm_irqs_disabled_is_task_context(struct lmm_test *t)
{
	unsigned long flags;

	local_irq_save(flags);
	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_PAUSE);
	lmm_do(t, LMM_RESUME);
	lmm_do(t, LMM_DISABLE);
	lmm_do(t, LMM_DISABLE);
	lmm_unwind(t);
	local_irq_restore(flags);
}

/*
 * Documented caller misuse: enable() in task context and disable() with BH
 * disabled.  The disable() is ignored, so E leaks and the mode is still
 * on once BH is enabled again.  Pinned so that a change is noticed; the
 * case puts the state back with a task-context disable().
 */
void lmm_bh_disable_misuse_leaks_enable(struct lmm_test *t)
{
	struct lmm_obs o;

	lmm_do(t, LMM_ENABLE);
	if (t->failures)
		return;
	local_bh_disable();
	lmm_call(LMM_DISABLE);
	lmm_observe(&o);
	local_bh_enable();
	if (o.e != 1 || o.pred)
		lmm_fail(t, "disable() with BH disabled: expected ignored (E=1, predicate=0 under BH), observed E=%u predicate=%d",
			 o.e, o.pred);
	/* The leak: still enabled in task context. */
	lmm_check(t, "after local_bh_enable() (E leaked)", 0, 0);
	lmm_unwind(t);
}
