// SPDX-License-Identifier: GPL-2.0-only
/*
 * State and nesting cases, shared by both front ends: the state of a task
 * that never used the API and of a new kthread, the documented sequence,
 * enable() and pause() nested to every depth up to 255, calls ignored
 * while paused, every call at every counter boundary, model-driven random
 * walks (whose step lmm_task.c's concurrent walks take too) and, opt-in,
 * the misuses the helpers warn about.
 */

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/panic.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/sprintf.h>
#include <linux/string.h>

#include "lmm.h"
#include "lmm_internal.h"

/* ===== Test cases: state and nesting ===== */

/* A task that has never used the API is idle. */
void lmm_initial_state(struct lmm_test *t)
{
	lmm_check(t, "initial", 0, 0);
}

struct lmm_fresh {
	struct completion done;
	struct lmm_obs first, after_sleep;
	struct lmm_obs child;
	int depth;
};

static int lmm_fresh_fn(void *data)
{
	struct lmm_fresh *f = data;

	lmm_observe(&f->first);
	/* A few context switches: the state must not drift. */
	fsleep(2000);
	cond_resched();
	fsleep(1000);
	lmm_observe(&f->after_sleep);
	if (f->depth == 0) {
		struct lmm_fresh child = { .depth = 1 };
		struct task_struct *k;

		init_completion(&child.done);
		k = kthread_run(lmm_fresh_fn, &child, "lmm_fresh2");
		if (!IS_ERR(k)) {
			wait_for_completion(&child.done);
			f->child = child.first;
		} else {
			f->child.e = 0xff;
			f->child.p = 0xff;
		}
	}
	complete(&f->done);
	return 0;
}

/*
 * A new task starts with E = 0, P = 0 and stays there across context
 * switches, in each fork generation (a Xen PV context-switch hook that
 * resumes a task never paused breaks this: SERIES.md section 5).
 */
void lmm_fresh_kthread_state(struct lmm_test *t)
{
	struct lmm_fresh f = { .depth = 0 };
	struct task_struct *k;

	init_completion(&f.done);
	k = kthread_run(lmm_fresh_fn, &f, "lmm_fresh1");
	if (IS_ERR(k)) {
		lmm_skip(t, LMM_SKIP_KTHREAD, PTR_ERR(k));
		return;
	}
	wait_for_completion(&f.done);

	if (f.first.e || f.first.p || f.first.pred)
		lmm_fail(t, "new kthread starts with E=%u P=%u predicate=%d, expected 0/0/0 (hypervisor: %s)%s",
			 f.first.e, f.first.p, f.first.pred, lmm_hypervisor(),
			 f.first.p >= 128 ? "; P wrapped below 0: resume() without a matching pause()" : "");
	if (f.after_sleep.e != f.first.e || f.after_sleep.p != f.first.p)
		lmm_fail(t, "kthread state drifted across context switches: E=%u P=%u -> E=%u P=%u (hypervisor: %s)",
			 f.first.e, f.first.p, f.after_sleep.e, f.after_sleep.p,
			 lmm_hypervisor());
	if (f.child.e || f.child.p)
		lmm_fail(t, "kthread started from that kthread starts with E=%u P=%u, expected 0/0 (the first had P=%u)",
			 f.child.e, f.child.p, f.first.p);
}

/* The sequence of the summary table in the nesting patch. */
void lmm_documented_sequence(struct lmm_test *t)
{
	lmm_do(t, LMM_ENABLE);		/* arch_enter	E=1 P=0 */
	lmm_do(t, LMM_ENABLE);		/* nothing	E=2 P=0 */
	lmm_do(t, LMM_PAUSE);		/* arch_leave	E=2 P=1 */
	lmm_do(t, LMM_RESUME);		/* arch_enter	E=2 P=0 */
	lmm_do(t, LMM_DISABLE);		/* arch_flush	E=1 P=0 */
	lmm_do(t, LMM_DISABLE);		/* arch_leave	E=0 P=0 */
	lmm_unwind(t);
}

struct lmm_nesting_depth_param {
	unsigned int depth;		/* enable() calls, up to 255 */
};

static const struct lmm_nesting_depth_param lmm_nesting_depths[] = {
	{ 1 }, { 2 }, { 3 }, { 16 }, { 17 }, { 32 }, { 128 }, { 254 }, { 255 },
};

static void lmm_nesting_depth_desc(const struct lmm_nesting_depth_param *p,
				   char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "depth=%u", p->depth);
}

LMM_DEFINE_PARAMS(nesting_depth, lmm_nesting_depths, lmm_nesting_depth_desc);

/*
 * Nest to the given depth (255 is the deepest legal level of a u8 count)
 * checking every level on the way in and out, and pause/resume at the top.
 */
void lmm_nesting_depth(struct lmm_test *t)
{
	const struct lmm_nesting_depth_param *p = t->param;
	unsigned int depth = p->depth;

	lmm_do_n(t, LMM_ENABLE, depth);
	lmm_do(t, LMM_PAUSE);
	lmm_do(t, LMM_RESUME);
	lmm_do_n(t, LMM_DISABLE, depth);
	lmm_unwind(t);
}

struct lmm_pause_nesting_param {
	unsigned int depth;		/* enable() calls first */
	unsigned int paused;		/* then nested pause() calls */
};

static const struct lmm_pause_nesting_param lmm_pause_nestings[] = {
	{ 0, 1 }, { 0, 2 }, { 0, 17 }, { 0, 255 },
	{ 1, 1 }, { 1, 2 }, { 1, 17 }, { 1, 255 },
	{ 3, 2 }, { 3, 16 }, { 255, 3 },
};

static void lmm_pause_nesting_desc(const struct lmm_pause_nesting_param *p,
				   char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "depth=%u,paused=%u", p->depth, p->paused);
}

LMM_DEFINE_PARAMS(pause_nesting, lmm_pause_nestings, lmm_pause_nesting_desc);

/*
 * pause()/resume() pairs nest to the given pause depth, at enable depth 0
 * (legal: no arch call at all) or inside a section (only the outermost
 * pause leaves and only the outermost resume re-enters).
 */
void lmm_pause_nesting(struct lmm_test *t)
{
	const struct lmm_pause_nesting_param *p = t->param;
	/* The counter rules, not Xen's switch hook: see sleep_at_max_pause. */
	bool pin = lmm_switch_pauses() && p->paused == U8_MAX;

	if (pin)
		preempt_disable();
	lmm_do_n(t, LMM_ENABLE, p->depth);
	lmm_do_n(t, LMM_PAUSE, p->paused);
	lmm_do_n(t, LMM_RESUME, p->paused);
	/* And once more, to see that resume() restored the same depth. */
	lmm_do(t, LMM_PAUSE);
	lmm_do(t, LMM_RESUME);
	lmm_do_n(t, LMM_DISABLE, p->depth);
	lmm_unwind(t);
	if (pin)
		preempt_enable();
}

/* Any enable()/disable() between pause() and resume() is ignored. */
void lmm_calls_ignored_while_paused(struct lmm_test *t)
{
	lmm_do_n(t, LMM_ENABLE, 2);
	lmm_do(t, LMM_PAUSE);
	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_DISABLE);
	lmm_do(t, LMM_DISABLE);
	lmm_do(t, LMM_DISABLE);		/* more than E: still ignored */
	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_PAUSE);		/* nested pause */
	lmm_do(t, LMM_DISABLE);
	lmm_do(t, LMM_RESUME);
	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_RESUME);		/* back at E=2, active */
	lmm_do(t, LMM_DISABLE);
	lmm_do(t, LMM_DISABLE);
	/* Paused with E == 0: enable() is ignored too. */
	lmm_do(t, LMM_PAUSE);
	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_RESUME);
	lmm_unwind(t);
}

/*
 * Every call at every counter boundary, at every depth: for E (the
 * parameter) and each P below, reach (E, P) legally (E enables, then P
 * pauses), make there each call the API allows and, where it counted,
 * its inverse, every one checked against the model, then go back to
 * idle.  Paused, enable() and disable() are ignored at any E, 0 and 255
 * included.  The calls that would warn (enable at E=255 or disable at
 * E=0 unpaused, pause at P=255, resume at P=0) are misuse_warnings'.
 */
static const u8 lmm_bounds[] = { 0, 1, 2, 127, 128, 254, 255 };

struct lmm_counter_bounds_param {
	u8 e;				/* E to reach before each P */
};

static const struct lmm_counter_bounds_param lmm_counter_bounds_es[] = {
	{ 0 }, { 1 }, { 2 }, { 127 }, { 128 }, { 254 }, { 255 },
};

static void lmm_counter_bounds_desc(const struct lmm_counter_bounds_param *p,
				    char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "E=%u", p->e);
}

LMM_DEFINE_PARAMS(counter_bounds, lmm_counter_bounds_es, lmm_counter_bounds_desc);

/* @op, then @undo, each checked: back where it started. */
static void lmm_do_undo(struct lmm_test *t, enum lmm_op op, enum lmm_op undo)
{
	lmm_do(t, op);
	lmm_do(t, undo);
}

static void lmm_bound_calls(struct lmm_test *t, u8 e, u8 p)
{
	if (p || e < U8_MAX)
		lmm_do_undo(t, LMM_ENABLE, LMM_DISABLE);
	if (p || e > 0)
		lmm_do_undo(t, LMM_DISABLE, LMM_ENABLE);
	if (p < U8_MAX)
		lmm_do_undo(t, LMM_PAUSE, LMM_RESUME);
	if (p > 0)
		lmm_do_undo(t, LMM_RESUME, LMM_PAUSE);
}

void lmm_counter_bounds(struct lmm_test *t)
{
	const struct lmm_counter_bounds_param *p = t->param;
	u8 e = p->e;
	/* The counter rules, not Xen's switch hook: see sleep_at_max_pause. */
	bool pin = lmm_switch_pauses();
	unsigned int i;

	if (pin)
		preempt_disable();
	for (i = 0; i < ARRAY_SIZE(lmm_bounds) && !t->failures; i++) {
		lmm_do_n(t, LMM_ENABLE, e);
		lmm_do_n(t, LMM_PAUSE, lmm_bounds[i]);
		lmm_bound_calls(t, e, lmm_bounds[i]);
		lmm_do_n(t, LMM_RESUME, lmm_bounds[i]);
		lmm_do_n(t, LMM_DISABLE, e);
	}
	lmm_unwind(t);
	if (pin)
		preempt_enable();
}

/* ===== Model-driven random sequences ===== */

struct lmm_random_walk_param {
	unsigned int seed_offset;	/* the walk's seed: lmm_seed_base + this */
};

static const struct lmm_random_walk_param lmm_random_walks[] = {
	{ 0 }, { 1 }, { 2 }, { 3 }, { 4 }, { 5 }, { 6 }, { 7 },
};

static void lmm_random_walk_desc(const struct lmm_random_walk_param *p,
				 char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "seed=0x%llx",
		 (unsigned long long)(lmm_seed_base + p->seed_offset));
}

LMM_DEFINE_PARAMS(random_walk, lmm_random_walks, lmm_random_walk_desc);

/*
 * One step of a random walk over the four calls that never breaks the API
 * contract (no enable at E == 255, no disable at E == 0 unless paused, no
 * pause at P == 255, no resume at P == 0), checked against the model.
 * Phases of 64 steps lean towards enable/pause or towards their inverses,
 * so that walks go deep now and then.
 */
void lmm_walk_step(struct lmm_test *t, struct rnd_state *rnd,
		   unsigned int i)
{
	const struct lmm_model *m = &t->model;
	u32 r = prandom_u32_state(rnd);
	bool up = (i / 64) & 1 ? (r & 3) != 0 : (r & 3) == 0;
	enum lmm_op op;

	if ((r >> 8) & 1)
		op = up ? LMM_ENABLE : LMM_DISABLE;
	else
		op = up ? LMM_PAUSE : LMM_RESUME;
	if (op == LMM_ENABLE && !m->p && m->e == U8_MAX)
		op = LMM_DISABLE;
	else if (op == LMM_DISABLE && !m->p && m->e == 0)
		op = LMM_ENABLE;
	/*
	 * Walks may be switched out anywhere (preempt=full): under Xen PV
	 * they keep one pause level for the switch hook (sleep_at_max_pause
	 * checks 255 there).
	 */
	else if (op == LMM_PAUSE && m->p == U8_MAX - lmm_switch_pauses())
		op = LMM_RESUME;
	else if (op == LMM_RESUME && m->p == 0)
		op = LMM_PAUSE;
	lmm_do(t, op);
}

void lmm_random_walk(struct lmm_test *t)
{
	struct rnd_state rnd;
	unsigned int i;

	const struct lmm_random_walk_param *p = t->param;

	t->seed = lmm_seed_base + p->seed_offset;
	prandom_seed_state(&rnd, t->seed);
	for (i = 0; i < lmm_walk_steps && !t->failures; i++)
		lmm_walk_step(t, &rnd, i);
	lmm_unwind(t);
}

/* ===== Misuse warnings (opt-in) ===== */

/* A call the helpers warn about, at the counter value it is misused at. */
struct lmm_misuse_param {
	enum lmm_op op;
	u8 at;			/* E for enable/disable, P for pause/resume */
};

static const struct lmm_misuse_param lmm_misuses[] = {
	{ LMM_DISABLE, 0 },	/* disable() at E == 0: E wraps to 255 */
	{ LMM_ENABLE, 255 },	/* enable() at E == 255: E wraps to 0 */
	{ LMM_RESUME, 0 },	/* resume() at P == 0: P wraps to 255 */
	{ LMM_PAUSE, 255 },	/* pause() at P == 255: P wraps to 0 */
};

static void lmm_misuse_desc(const struct lmm_misuse_param *p, char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "%s_at_%c=%u", lmm_op_name[p->op],
		 p->op == LMM_ENABLE || p->op == LMM_DISABLE ? 'E' : 'P', p->at);
}

LMM_DEFINE_PARAMS(misuse_warnings, lmm_misuses, lmm_misuse_desc);

/* VM_WARN_ON_ONCE fires once per module load: remember which did. */
static bool lmm_misuse_fired[LMM_NR_OPS];

/*
 * Why @n warnings here would bring the kernel down, or NULL if they would
 * not: panic_on_warn, panic_on_taint with the warnings' own taint
 * (TAINT_WARN), or kernel.warn_limit reached by them.  Unknown counts as
 * would.  warn_limit and warn_count are static in kernel/panic.c: found
 * through kallsyms even in built-in code.
 */
static const char *lmm_warnings_panic(unsigned int n)
{
#ifndef MODULE
	int *pow = &panic_on_warn;
	unsigned long *pot = &panic_on_taint;
#else
	int *pow = lmm_kernel_symbol("panic_on_warn");
	unsigned long *pot = lmm_kernel_symbol("panic_on_taint");
#endif
	unsigned int *limit = lmm_kernel_symbol("warn_limit");
	atomic_t *count = lmm_kernel_symbol("warn_count");

	if (!pow || !pot || !limit || !count)
		return "cannot tell whether a warning panics (panic_on_warn, panic_on_taint, warn_limit): not provoking warnings";
	if (READ_ONCE(*pow))
		return "panic_on_warn is set: not provoking warnings";
	if (READ_ONCE(*pot) & BIT(TAINT_WARN))
		return "panic_on_taint includes TAINT_WARN: not provoking warnings";
	if (READ_ONCE(*limit) && atomic_read(count) + n >= READ_ONCE(*limit))
		return "kernel.warn_limit would be reached: not provoking warnings";
	return NULL;
}

/*
 * Put current back to E = P = 0 after a misuse the model followed (the
 * helpers work): when a counter wrapped, the model, not E, says whether
 * the arch mode is entered (on powerpc hash a preempt_disable() to undo).
 */
static void lmm_restore_modelled(struct lmm_test *t)
{
#if LMM_CALLABLE
	if (t->model.entered)
		arch_leave_lazy_mmu_mode();
	WRITE_ONCE(current->lazy_mmu_state.LMM_E_FIELD, 0);
	WRITE_ONCE(current->lazy_mmu_state.LMM_P_FIELD, 0);
#endif
	memset(&t->model, 0, sizeof(t->model));
}

/*
 * Each misuse the helpers warn about (CONFIG_DEBUG_VM) produces exactly
 * one warning, caught by a console tracepoint probe as in
 * mm/kasan/kasan_test_c.c, and leaves the state SERIES.md describes
 * (u8 wrap, the same arch calls).  Opt-in: the warnings would kill a
 * kernel booted with panic_on_warn or with panic_on_taint covering
 * TAINT_WARN, which is checked first.
 */
void lmm_misuse_warnings(struct lmm_test *t)
{
	const struct lmm_misuse_param *p = t->param;
	enum lmm_op op = p->op;
	/* This warning and the misuse cases' others yet to fire. */
	const char *panics = lmm_warnings_panic(LMM_NR_OPS);
	int warned;

	if (!lmm_misuse) {
		lmm_skip(t, "opt-in: load with misuse=1 (provokes VM_WARN_ON_ONCE warnings)");
		return;
	}
	if (!IS_ENABLED(CONFIG_DEBUG_VM)) {
		lmm_skip(t, LMM_SKIP_CONFIG(CONFIG_DEBUG_VM) " (VM_WARN_ON_ONCE compiles away)");
		return;
	}
	if (panics) {
		lmm_skip(t, panics);
		return;
	}
	if (lmm_misuse_fired[op]) {
		lmm_skip(t, "this warning already fired once in this module load");
		return;
	}

	/* Get to the edge legally: 255 enables or 255 pauses. */
	if (op == LMM_ENABLE)
		lmm_do_n(t, LMM_ENABLE, 255);
	else if (op == LMM_PAUSE)
		lmm_do_n(t, LMM_PAUSE, 255);
	if (t->failures)
		return;

	if (!lmm_watching) {
		lmm_skip(t, "no console tracepoint probe to see the warning");
		lmm_force_restore(0, 0);
		return;
	}
	warned = atomic_read(&lmm_warnings);
	lmm_misuse_fired[op] = true;
	lmm_do(t, op);
	warned = atomic_read(&lmm_warnings) - warned;
	/* The one warning is this case's own, not a stray report. */
	t->expected_reports = warned;
	if (warned != 1)
		lmm_fail(t, "%s() at E=%u P=%u: expected exactly one warning, saw %d",
			 lmm_op_name[op], op == LMM_ENABLE ? 255 : 0,
			 op == LMM_PAUSE ? 255 : 0, warned);
	/* Back to a sane state without further warnings. */
	lmm_restore_modelled(t);
}
