// SPDX-License-Identifier: GPL-2.0-only
/*
 * The core of the lazy MMU nesting suite's scenarios, shared by the KUnit
 * suite (kunit/) and the plain test module (kmod/): the module's
 * parameters, the console watch, the arch probe, the checked API call
 * (lmm_do()) and state check, the case runner and the case table, and the
 * interrupt runners.  The cases are in files by topic (lmm_nesting.c,
 * lmm_context.c, lmm_task.c, lmm_defer.c, lmm_kpaths.c); what they share
 * with this file and with one another is declared in lmm_internal.h.
 *
 * Testing strategy: every call to lazy_mmu_mode_{enable,disable,pause,
 * resume}() made by a scenario is mirrored in a reference model of the
 * merged semantics (lmm.h).  After each call the task's counters E and P,
 * the predicate and, where the architecture lets a module see it, the
 * architecture callback that ran are compared with the model.  The helpers
 * are static inlines, so this module carries the copy compiled from the
 * headers it was built against: a broken header turns the cases red even
 * on an unchanged kernel (see scripts/mutate).
 *
 * Architecture observation ("arch probe"):
 * - arm64: arch_flush/arch_leave clear TIF_LAZY_MMU_PENDING.  The probe sets
 *   the flag before a call and checks afterwards whether a flush or leave
 *   ran.  arch_enter is empty there and cannot be observed.
 * - elsewhere: only the generic state is checked.
 *
 * Rules for scenarios: never leave a section open (no early return between
 * enable and disable: a failed step stops further calls and the case is
 * unwound by lmm_run_case()); no sleeping in a section where the
 * architecture runs sections with preemption disabled.
 */

#include <linux/bitops.h>
#include <linux/interrupt.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <trace/events/printk.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/sprintf.h>
#ifdef CONFIG_XEN
#include <xen/xen.h>
#endif

#include "lmm.h"
#include "lmm_internal.h"

#if defined(MODULE) && (defined(CONFIG_PPC_64S_HASH_MMU) || defined(CONFIG_SPARC64)) && \
	LMM_CALLABLE && IS_ENABLED(CONFIG_KUNIT)
/*
 * lazy_mmu_mode_disable()/pause() drain the hash MMU's ppc64_tlb_batch
 * through __flush_tlb_pending(), and sparc64's arch_enter/flush/leave_
 * lazy_mmu_mode() are out of line: all are exported only for KUnit.
 */
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
#endif

u64 lmm_seed_base = 0x1a2b3c4d;
unsigned int lmm_walk_steps = 2000;
unsigned int lmm_stress_threads;
unsigned int lmm_stress_ms = 1000;
bool lmm_misuse;

void *lmm_kernel_symbol(const char *name)
{
#if defined(CONFIG_KPROBES) && defined(CONFIG_KALLSYMS_ALL)
	/*
	 * register_kprobe() resolves the symbol, then refuses to probe a
	 * data address: kp.addr is left holding the symbol's address.
	 */
	struct kprobe kp = { .symbol_name = name };

	if (!register_kprobe(&kp)) {
		unregister_kprobe(&kp);
		return NULL;
	}
	return kp.addr;
#else
	return NULL;
#endif
}

const char * const lmm_op_name[LMM_NR_OPS] = {
	[LMM_ENABLE] = "enable", [LMM_DISABLE] = "disable",
	[LMM_PAUSE] = "pause", [LMM_RESUME] = "resume",
};

/*
 * Kernel reports seen on the console, through the console tracepoint as
 * in mm/kasan/kasan_test_c.c: a case that makes the kernel warn, oops or
 * take a spurious fault (arm64 barriers left pending) fails even if its
 * own checks passed.  Registered by the front end around the run.
 */
static atomic_t lmm_reports;
atomic_t lmm_warnings;
bool lmm_watching;

static void lmm_probe_console(void *unused, const char *text, size_t len)
{
	static const char * const reports[] = {
		"WARNING:", "BUG:", "Oops", "Unable to handle kernel",
		"Ignoring spurious kernel translation fault",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(reports); i++) {
		if (strnstr(text, reports[i], len)) {
			atomic_inc(&lmm_reports);
			if (!i)
				atomic_inc(&lmm_warnings);
			return;
		}
	}
}

int lmm_watch_start(void)
{
	int ret = register_trace_console(lmm_probe_console, NULL);

	lmm_watching = !ret;
	return ret;
}

void lmm_watch_stop(void)
{
	if (!lmm_watching)
		return;
	unregister_trace_console(lmm_probe_console, NULL);
	tracepoint_synchronize_unregister();
	lmm_watching = false;
}

void lmm_fail(struct lmm_test *t, const char *fmt, ...)
{
	char msg[LMM_MSG_MAX];
	va_list args;

	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	t->failures++;
	if (t->report)
		t->report(t, msg);
	else
		lmm_report_failure(t, msg);
}

void lmm_skip(struct lmm_test *t, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(t->skip_reason, sizeof(t->skip_reason), fmt, args);
	va_end(args);
	t->skipped = true;
}

/* ===== Architecture probe ===== */

#if LMM_TESTABLE && defined(CONFIG_ARM64)
#define LMM_ARCH_PROBE 1
/* Calls that clear the pending flag. */
#define LMM_ARCH_SEEN (LMM_ARCH_LEAVE | LMM_ARCH_FLUSH)

void lmm_probe_arm(void)
{
	set_thread_flag(TIF_LAZY_MMU_PENDING);
}

/* Which of LMM_ARCH_SEEN ran since lmm_probe_arm(); disarms the probe. */
unsigned int lmm_probe_read(void)
{
	if (test_and_clear_thread_flag(TIF_LAZY_MMU_PENDING)) {
		/* Nothing flushed: emit what a real flush would have. */
		dsb(ishst);
		isb();
		return 0;
	}
	return LMM_ARCH_SEEN;
}

const char *lmm_arch_flag_name(void)
{
	return "arm64:TIF_LAZY_MMU_PENDING";
}
#else
#define LMM_ARCH_PROBE 0
#define LMM_ARCH_SEEN 0
void lmm_probe_arm(void) { }
unsigned int lmm_probe_read(void) { return 0; }

const char *lmm_arch_flag_name(void)
{
	return "none (arch callbacks not observable from a module here)";
}
#endif

bool lmm_arch_observable(void)
{
	return LMM_ARCH_PROBE;
}

static void lmm_fmt_arch(char *buf, size_t len, unsigned int calls)
{
	if (calls == (LMM_ARCH_LEAVE | LMM_ARCH_FLUSH))
		snprintf(buf, len, "flush/leave");
	else
		snprintf(buf, len, "%s%s%s%s", calls ? "" : "none",
			 calls & LMM_ARCH_ENTER ? "+enter" : "",
			 calls & LMM_ARCH_LEAVE ? "+leave" : "",
			 calls & LMM_ARCH_FLUSH ? "+flush" : "");
}

/* ===== Calling the API and checking the state ===== */

#if LMM_CALLABLE
void lmm_call(enum lmm_op op)
{
	switch (op) {
	case LMM_ENABLE:
		lazy_mmu_mode_enable();
		break;
	case LMM_DISABLE:
		lazy_mmu_mode_disable();
		break;
	case LMM_PAUSE:
		lazy_mmu_mode_pause();
		break;
	case LMM_RESUME:
		lazy_mmu_mode_resume();
		break;
	default:
		break;
	}
}
#else
void lmm_call(enum lmm_op op) { }
#endif

bool lmm_task_active(struct task_struct *tsk)
{
#if defined(LMM_HAVE_TASK_ACTIVE) && LMM_TESTABLE
	return __task_lazy_mmu_mode_active(tsk);
#else
	return lmm_task_e(tsk) > 0 && lmm_task_p(tsk) == 0;
#endif
}

void lmm_observe(struct lmm_obs *o)
{
	o->e = lmm_task_e(current);
	o->p = lmm_task_p(current);
	o->pred = lmm_predicate();
	o->task_active = lmm_task_active(current);
}

/*
 * Compare current's state with the model after @what; @expect_calls are
 * the arch callbacks the model says ran, @seen those the probe saw.
 */
bool lmm_check(struct lmm_test *t, const char *what,
	       unsigned int expect_calls, unsigned int seen)
{
	const struct lmm_model *m = &t->model;
	bool active = lmm_model_task_active(m);
	char exp_arch[32], obs_arch[32];
	struct lmm_obs o;

	lmm_observe(&o);
	/* The probe sees whether any of LMM_ARCH_SEEN ran, not which. */
	expect_calls = expect_calls & LMM_ARCH_SEEN ? LMM_ARCH_SEEN : 0;
	if (o.e == m->e && o.p == m->p && o.pred == active &&
	    o.task_active == active && seen == expect_calls)
		return true;

	lmm_fmt_arch(exp_arch, sizeof(exp_arch), expect_calls);
	lmm_fmt_arch(obs_arch, sizeof(obs_arch), seen);
	lmm_fail(t, "step %u (%s): expected E=%u P=%u active=%d%s%s, observed E=%u P=%u predicate=%d task_active=%d%s%s [seed 0x%llx, arch flag %s]",
		 t->step, what, m->e, m->p, active,
		 LMM_ARCH_PROBE ? " arch=" : "", LMM_ARCH_PROBE ? exp_arch : "",
		 o.e, o.p, o.pred, o.task_active,
		 LMM_ARCH_PROBE ? " arch=" : "", LMM_ARCH_PROBE ? obs_arch : "",
		 t->seed, lmm_arch_flag_name());
	return false;
}

/*
 * Make one API call in task context and check the result against the
 * model.  After the first failure further calls are not made: the case is
 * unwound by lmm_run_case().
 */
bool lmm_do(struct lmm_test *t, enum lmm_op op)
{
	unsigned int calls, seen = 0;

	if (t->failures)
		return false;
	t->step++;
	if (!t->no_probe)
		lmm_probe_arm();
	lmm_call(op);
	if (!t->no_probe)
		seen = lmm_probe_read();
	calls = lmm_model_apply(&t->model, op, false);
	return lmm_check(t, lmm_op_name[op], t->no_probe ? 0 : calls, seen);
}

bool lmm_check_state(struct lmm_test *t, const char *what)
{
	return lmm_check(t, what, 0, 0);
}

void lmm_do_n(struct lmm_test *t, enum lmm_op op, unsigned int n)
{
	while (n-- && lmm_do(t, op))
		;
}

/*
 * Undo whatever state the model still holds, through the API; after a
 * failure (no more API calls) by force, back to the state the case
 * started in, so that what the case does next may sleep (powerpc hash).
 */
void lmm_unwind(struct lmm_test *t)
{
	if (t->failures) {
		lmm_force_restore(t->e0, t->p0);
		t->model.e = t->e0;
		t->model.p = t->p0;
		t->model.entered = t->e0 && !t->p0;
		return;
	}
	while (t->model.p && lmm_do(t, LMM_RESUME))
		;
	while (t->model.e && lmm_do(t, LMM_DISABLE))
		;
}

/*
 * Xen PV's context-switch hooks pause the task switched out and resume
 * the one switched in: seen from another task a sleeping task is paused,
 * and switching out a task already paused 255 deep overflows P.
 */
bool lmm_switch_pauses(void)
{
#ifdef CONFIG_X86
	return xen_pv_domain();
#else
	return false;
#endif
}

/*
 * Sections run with preemption disabled on powerpc book3s64 with the hash
 * MMU (not radix: its hooks are no-ops) and on sparc64: no sleeping inside.
 */
bool lmm_may_sleep_in_section(void)
{
#ifdef CONFIG_PPC_BOOK3S_64
	return radix_enabled();
#else
	return !IS_ENABLED(CONFIG_SPARC64);
#endif
}

const char *lmm_hypervisor(void)
{
#ifdef CONFIG_XEN_PV
	if (xen_pv_domain())
		return "Xen PV";
#endif
#ifdef CONFIG_XEN
	if (xen_domain())
		return "Xen";
#endif
	return "none";
}

/* ===== Case runner ===== */

/*
 * Last resort when a broken helper left current's state behind: put the
 * counters back to what they were before the case and leave the arch mode
 * if the broken state had it entered.  The kernel's own helpers are
 * unchanged (only this module's inline copies can be broken), so the
 * kernel keeps working.
 */
void lmm_force_restore(u8 e0, u8 p0)
{
#if LMM_CALLABLE
	struct task_struct *tsk = current;

	if (lmm_task_e(tsk) == e0 && lmm_task_p(tsk) == p0)
		return;
	if (lmm_task_active(tsk))
		arch_leave_lazy_mmu_mode();
	WRITE_ONCE(tsk->lazy_mmu_state.LMM_E_FIELD, e0);
	WRITE_ONCE(tsk->lazy_mmu_state.LMM_P_FIELD, p0);
	if (e0 > 0 && p0 == 0)
		arch_enter_lazy_mmu_mode();
#endif
}

const char *lmm_untestable_reason(void)
{
	if (LMM_API_GEN == 0)
		return "kernel lacks the lazy MMU nesting series (no lazy_mmu_mode_enable() in its headers)";
	if (!LMM_ARCH_HAS_MODE)
		return "architecture has no lazy MMU mode (ARCH_HAS_LAZY_MMU_MODE not set)";
	if (!LMM_TESTABLE)
		return "API generation " LMM_API_NAME " is not modelled (v5 and later only)";
	return NULL;
}

void lmm_run_case(const struct lmm_case *c, struct lmm_test *t)
{
	int reports;
	u8 e0, p0;

	memset(&t->model, 0, sizeof(t->model));
	t->step = 0;
	t->seed = 0;

	if (!LMM_TESTABLE) {
		lmm_skip(t, "%s", lmm_untestable_reason());
		return;
	}
	if (!LMM_CALLABLE && !(c->flags & LMM_LINK_SAFE)) {
		lmm_skip(t, "%s", LMM_UNCALLABLE_REASON);
		return;
	}

	e0 = lmm_task_e(current);
	p0 = lmm_task_p(current);
	t->e0 = e0;
	t->p0 = p0;
	if ((e0 || p0) && !(c->flags & LMM_ANY_START)) {
		lmm_fail(t, "precondition: task %s/%d starts with E=%u P=%u, expected 0/0 (hypervisor: %s)%s",
			 current->comm, task_pid_nr(current), e0, p0,
			 lmm_hypervisor(),
			 p0 ? "; a non-zero pause count at task start means unmatched resume() calls, e.g. a context-switch hook resuming a task never paused" : "");
		return;
	}

	reports = atomic_read(&lmm_reports);
	c->run(t);
	reports = atomic_read(&lmm_reports) - reports;
	if (lmm_watching && reports != t->expected_reports)
		lmm_fail(t, "the kernel reported %d warning/BUG/fault(s) on the console during this case, expected %d",
			 reports, t->expected_reports);

	if (!t->failures && !t->skipped &&
	    (lmm_task_e(current) != e0 || lmm_task_p(current) != p0))
		lmm_fail(t, "case left current with E=%u P=%u, started with E=%u P=%u",
			 lmm_task_e(current), lmm_task_p(current), e0, p0);
	/* Whatever happened (failure, skip half-way), leave no state behind. */
	lmm_force_restore(e0, p0);
}

/* ===== Interrupt runners ===== */

/* A callback to run in interrupt context on the calling task. */
struct lmm_irq_call {
	void (*fn)(void *arg);
	void *arg;
	struct task_struct *task;
	bool (*context_ok)(void);
	bool ran, ok;
};

/* One interrupt-context call at a time: scenarios run sequentially. */
static struct lmm_irq_call *lmm_pending_call;

static void lmm_irq_dispatch(void)
{
	struct lmm_irq_call *c = lmm_pending_call;

	c->ran = true;
	c->ok = c->context_ok() && current == c->task;
	if (c->ok)
		c->fn(c->arg);
}

static bool lmm_ctx_hardirq(void)
{
	return in_hardirq();
}

static bool lmm_ctx_softirq(void)
{
	return in_serving_softirq();
}

static void lmm_irq_work_fn(struct irq_work *work)
{
	lmm_irq_dispatch();
}

bool lmm_run_hardirq(void (*fn)(void *arg), void *arg)
{
	struct lmm_irq_call c = {
		.fn = fn, .arg = arg, .task = current,
		.context_ok = lmm_ctx_hardirq,
	};
	struct irq_work work = IRQ_WORK_INIT_HARD(lmm_irq_work_fn);

	lmm_pending_call = &c;
	/*
	 * Stay on this CPU so that the self-IPI interrupts this task, and
	 * wait without irq_work_sync(): it may sleep, and the caller may be
	 * in a section that runs with preemption disabled (powerpc hash).
	 */
	preempt_disable();
	irq_work_queue(&work);
	while (irq_work_is_busy(&work))
		cpu_relax();
	preempt_enable();
	lmm_pending_call = NULL;
	return c.ok;
}

static void lmm_tasklet_fn(struct tasklet_struct *unused)
{
	lmm_irq_dispatch();
}

/*
 * A tasklet scheduled with BH disabled runs from local_bh_enable(), on
 * the calling task's stack: softirq context interrupting this very task.
 */
bool lmm_run_softirq(void (*fn)(void *arg), void *arg)
{
	struct lmm_irq_call c = {
		.fn = fn, .arg = arg, .task = current,
		.context_ok = lmm_ctx_softirq,
	};
	struct tasklet_struct tl;

	tasklet_setup(&tl, lmm_tasklet_fn);
	lmm_pending_call = &c;
	local_bh_disable();
	tasklet_schedule(&tl);
	local_bh_enable();
	/*
	 * If it was deferred to ksoftirqd, wait for it (tasklet_kill() may
	 * sleep).  Not preemptible (a powerpc hash section), this CPU's
	 * ksoftirqd cannot have run it: when it ran, it ran and finished
	 * inside local_bh_enable().
	 */
	if (preemptible() || !READ_ONCE(c.ran))
		tasklet_kill(&tl);
	lmm_pending_call = NULL;
	return c.ok;
}

/* ===== Case table ===== */

#define LMM_CASE(cname, cflags)						\
	[LMM_ID_##cname] = {						\
		.name = #cname, .run = lmm_##cname, .flags = (cflags),	\
	},
#define LMM_PCASE(cname, cflags)					\
	[LMM_ID_##cname] = {						\
		.name = #cname, .run = lmm_##cname, .flags = (cflags),	\
		.params = &lmm_params_##cname,				\
	},
const struct lmm_case lmm_cases[LMM_NCASES] = {
#include "lmm_cases.h"
};
