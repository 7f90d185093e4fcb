// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scenarios of the lazy MMU nesting test suite, shared by the KUnit suite
 * (kunit/) and the plain test module (kmod/).
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
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/panic.h>
#include <linux/tracepoint.h>
#include <trace/events/printk.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/sched.h>
#include <linux/smp.h>
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

static bool lmm_task_active(struct task_struct *tsk)
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

/* ===== Tasks ===== */

struct lmm_peer {
	struct task_struct *other;	/* the task in a section */
	struct completion done;
	struct lmm_obs first, own_section, after;
	u8 other_e, other_p, other_e_after;
	bool other_active;
};

static int lmm_peer_fn(void *data)
{
	struct lmm_peer *p = data;

	lmm_observe(&p->first);
	p->other_e = lmm_task_e(p->other);
	p->other_p = lmm_task_p(p->other);
	p->other_active = lmm_task_active(p->other);
	lmm_call(LMM_ENABLE);
	lmm_observe(&p->own_section);
	lmm_call(LMM_DISABLE);
	lmm_observe(&p->after);
	p->other_e_after = lmm_task_e(p->other);
	complete(&p->done);
	return 0;
}

/* lmm_peer_fn in a kthread bound to this CPU, not yet woken; NULL: skipped. */
static struct task_struct *lmm_peer_create(struct lmm_test *t, struct lmm_peer *p)
{
	struct task_struct *k;

	p->other = current;
	init_completion(&p->done);
	k = kthread_create(lmm_peer_fn, p, "lmm_peer");
	if (IS_ERR(k)) {
		lmm_skip(t, LMM_SKIP_KTHREAD, PTR_ERR(k));
		return NULL;
	}
	kthread_bind(k, raw_smp_processor_id());
	return k;
}

/*
 * The state is per task: a kthread on the same CPU sees the mode off while
 * the test task sleeps in a section, and its own section does not touch
 * the test task's state.
 */
void lmm_per_task_state(struct lmm_test *t)
{
	struct lmm_peer p;
	struct task_struct *k;

	if (!lmm_may_sleep_in_section()) {
		lmm_skip(t, LMM_SKIP_SLEEPS);
		return;
	}
	k = lmm_peer_create(t, &p);
	if (!k)
		return;

	lmm_do(t, LMM_ENABLE);
	lmm_do(t, LMM_ENABLE);
	wake_up_process(k);
	/* Even on a failed step the peer must finish before we return. */
	wait_for_completion(&p.done);
	lmm_check(t, "after the peer ran", 0, 0);
	lmm_unwind(t);

	if (p.first.e || p.first.p || p.first.pred)
		lmm_fail(t, "peer kthread sees E=%u P=%u predicate=%d while another task is in a section, expected 0/0/0",
			 p.first.e, p.first.p, p.first.pred);
	if (p.other_e != 2 || p.other_p != lmm_switch_pauses() ||
	    p.other_active == lmm_switch_pauses())
		lmm_fail(t, "peer reads the sleeping test task as E=%u P=%u active=%d, expected E=2 P=%d active=%d%s",
			 p.other_e, p.other_p, p.other_active, lmm_switch_pauses(),
			 !lmm_switch_pauses(),
			 lmm_switch_pauses() ? " (Xen PV pauses a task when it switches it out)" : "");
	if (p.own_section.e != 1 || !p.own_section.pred)
		lmm_fail(t, "peer's own section: E=%u predicate=%d, expected 1/1",
			 p.own_section.e, p.own_section.pred);
	if (p.after.e || p.after.pred || p.other_e_after != 2)
		lmm_fail(t, "after the peer's section: peer E=%u predicate=%d, test task E=%u; expected 0, 0, 2",
			 p.after.e, p.after.pred, p.other_e_after);
}

/*
 * A task paused 255 deep (the API's maximum) inside a section may sleep
 * where sections may.  First measure, at P=254, what being switched out
 * does to P (the peer kthread on this CPU reads it while this task waits):
 * if switching out pauses once more (Xen PV's hook), P=255 would overflow
 * there, and the case fails with that evidence instead of provoking the
 * kernel's warning.  Otherwise sleep at 255 and check nothing changed.
 */
void lmm_sleep_at_max_pause(struct lmm_test *t)
{
	struct lmm_peer p;
	struct task_struct *k;

	if (!lmm_may_sleep_in_section()) {
		lmm_skip(t, LMM_SKIP_SLEEPS);
		return;
	}
	k = lmm_peer_create(t, &p);
	if (!k)
		return;
	lmm_do(t, LMM_ENABLE);
	lmm_do_n(t, LMM_PAUSE, U8_MAX - 1);
	wake_up_process(k);
	wait_for_completion(&p.done);
	lmm_check_state(t, "after sleeping at P=254");
	if (p.other_p == U8_MAX) {
		lmm_fail(t, "switched out at P=254 this task reads P=255: switching out pauses it once more (%s), so at P=255, which the API allows, it would overflow (VM_WARN_ON_ONCE, P wraps to 0)",
			 lmm_switch_pauses() ? "Xen PV's context-switch hook" : "an unknown hook");
	} else if (p.other_p != U8_MAX - 1) {
		lmm_fail(t, "switched out at P=254 this task reads P=%u", p.other_p);
	} else {
		lmm_do(t, LMM_PAUSE);
		usleep_range(1000, 2000);
		lmm_check_state(t, "after sleeping at P=255");
		lmm_do(t, LMM_RESUME);
	}
	lmm_do_n(t, LMM_RESUME, U8_MAX - 1);
	lmm_do(t, LMM_DISABLE);
	lmm_unwind(t);
}

/*
 * Where sleeping in a section is allowed, the state survives schedule()
 * and a migration to another CPU.
 */
void lmm_sleep_and_migrate(struct lmm_test *t)
{
	cpumask_var_t saved;
	int cpu, target = -1;

	if (!lmm_may_sleep_in_section()) {
		lmm_skip(t, LMM_SKIP_SLEEPS);
		return;
	}
	if (!alloc_cpumask_var(&saved, GFP_KERNEL)) {
		lmm_skip(t, LMM_SKIP_NOMEM);
		return;
	}
	cpumask_copy(saved, current->cpus_ptr);

	lmm_do_n(t, LMM_ENABLE, 3);
	lmm_do(t, LMM_PAUSE);
	fsleep(5000);
	lmm_check(t, "after sleeping while paused", 0, 0);
	lmm_do(t, LMM_RESUME);
	schedule_timeout_uninterruptible(2);
	lmm_check(t, "after schedule_timeout() in a section", 0, 0);

	cpu = raw_smp_processor_id();
	for_each_online_cpu(target)
		if (target != cpu)
			break;
	if (target < nr_cpu_ids && target != cpu &&
	    !set_cpus_allowed_ptr(current, cpumask_of(target))) {
		if (raw_smp_processor_id() != target)
			lmm_fail(t, "did not migrate from CPU %d to CPU %d", cpu, target);
		lmm_check(t, "after migration in a section", 0, 0);
		lmm_do(t, LMM_DISABLE);
		lmm_do(t, LMM_PAUSE);
		set_cpus_allowed_ptr(current, cpumask_of(cpu));
		lmm_check(t, "after migration back while paused", 0, 0);
		lmm_do(t, LMM_RESUME);
		set_cpus_allowed_ptr(current, saved);
	} else {
		target = -1;
	}
	lmm_unwind(t);
	free_cpumask_var(saved);
	if (target < 0 && !t->failures)
		lmm_skip(t, "only one CPU online: the migration part needs two (sleeping part passed)");
}

/* ===== Concurrent walks ===== */

struct lmm_walker {
	struct lmm_test t;
	struct completion done;
	unsigned long deadline;
	bool stop;		/* the test task was killed: end now */
	unsigned long steps, paths, sleeps;
	unsigned int id, cpus_seen;
	char first_failure[LMM_MSG_MAX];
};

static void lmm_walker_report(struct lmm_test *t, const char *msg)
{
	struct lmm_walker *w = container_of(t, struct lmm_walker, t);

	if (!w->first_failure[0])
		strscpy(w->first_failure, msg, sizeof(w->first_failure));
}

/* A kernel path with its own nested section, from inside ours. */
static void lmm_walker_path(struct lmm_walker *w, struct page *page)
{
	void *v = vmap(&page, 1, VM_MAP, PAGE_KERNEL);

	if (v) {
		if (READ_ONCE(*(u8 *)v) != 0x3c)
			lmm_fail(&w->t, "vmap()ed page reads %#x inside a section, expected 0x3c",
				 *(u8 *)v);
		vunmap(v);
	}
	w->paths++;
	lmm_check_state(&w->t, "after vmap()/vunmap() in a walk");
}

static int lmm_walker_fn(void *data)
{
	struct lmm_walker *w = data;
	struct lmm_test *t = &w->t;
	bool sleepy = lmm_may_sleep_in_section();
	struct page *page = alloc_page(GFP_KERNEL);
	unsigned long cpus = 0;
	struct rnd_state rnd;
	unsigned int i = 0;

	if (page)
		memset(page_address(page), 0x3c, PAGE_SIZE);
	prandom_seed_state(&rnd, t->seed);
	if (lmm_task_e(current) || lmm_task_p(current))
		lmm_fail(t, "walker %u starts with E=%u P=%u, expected 0/0",
			 w->id, lmm_task_e(current), lmm_task_p(current));
	while (!t->failures && !READ_ONCE(w->stop) && time_before(jiffies, w->deadline)) {
		lmm_walk_step(t, &rnd, i++);
		w->steps++;
		cpus |= BIT(raw_smp_processor_id() % BITS_PER_LONG);
		if (i % 128)
			continue;
		/* Preemption points and nested kernel paths, in sections too. */
		if (sleepy || !lmm_model_task_active(&t->model)) {
			/*
			 * Kernel paths nest one more enable() (vmap) or pause()
			 * (KASAN, KFENCE): only with room for it below 255.
			 */
			if (page && !(i % 512) && t->model.e < U8_MAX &&
			    t->model.p < U8_MAX - lmm_switch_pauses())
				lmm_walker_path(w, page);
			if (!(i % 1024)) {
				usleep_range(50, 200);
				w->sleeps++;
			} else {
				cond_resched();
			}
			lmm_check_state(t, "after a preemption point");
		}
	}
	lmm_unwind(t);
	w->cpus_seen = hweight_long(cpus);
	if (page)
		__free_page(page);
	complete(&w->done);
	return 0;
}

/*
 * Several kthreads run model-checked random walks at once for a bounded
 * time, with preemption points, sleeps and vmap()/vunmap() inside their
 * sections (only outside them where sections run with preemption
 * disabled); each must end consistent, and the test task, in a section of
 * its own where it may sleep in one, is untouched.
 */
/* How long past their deadline walkers may take to end (a step, a vmap). */
#define LMM_WALK_GRACE_MS	10000

/*
 * Wait for the walkers, killably and never much past their deadline: a
 * kill of the loading task (insmod) stops them, and a walker stuck in a
 * broken kernel does not hold that task in D state up to the hung-task
 * timeout (duration_ms is bounded below it).  False when one did not end
 * (then its memory must stay).
 */
static bool lmm_walkers_wait(struct lmm_test *t, struct lmm_walker *w, unsigned int n)
{
	unsigned long end = w[0].deadline + msecs_to_jiffies(LMM_WALK_GRACE_MS);
	unsigned int i;
	bool killed = false;

	for (i = 0; i < n; i++) {
		long left = max_t(long, (long)(end - jiffies), 1);

		if (!killed && wait_for_completion_killable_timeout(&w[i].done, left) > 0)
			continue;
		if (!killed) {
			unsigned int j;

			killed = true;
			for (j = 0; j < n; j++)
				WRITE_ONCE(w[j].stop, true);
			lmm_fail(t, "%s after %u of %u walkers ended: the others are told to stop",
				 fatal_signal_pending(current) ? "the test task was killed" :
				 "walkers did not end within " __stringify(LMM_WALK_GRACE_MS) " ms of their deadline",
				 i, n);
		}
		if (!wait_for_completion_timeout(&w[i].done, msecs_to_jiffies(LMM_WALK_GRACE_MS))) {
			lmm_fail(t, "walker %u did not stop within " __stringify(LMM_WALK_GRACE_MS)
				 " ms: stuck in the kernel? its memory is left allocated", i);
			return false;
		}
	}
	return true;
}

void lmm_concurrent_walks(struct lmm_test *t)
{
	unsigned int n = lmm_stress_threads, i, started = 0;
	unsigned long steps = 0, paths = 0, sleeps = 0;
	bool outer = lmm_may_sleep_in_section();
	struct lmm_walker *w;

	if (!n)
		n = min(2 * num_online_cpus(), 8U);
	w = kcalloc(n, sizeof(*w), GFP_KERNEL);
	if (!w) {
		lmm_skip(t, LMM_SKIP_NOMEM);
		return;
	}
	t->seed = lmm_seed_base;
	/* Starting kthreads sleeps: no outer section where that is illegal. */
	if (outer)
		lmm_do(t, LMM_ENABLE);
	for (i = 0; i < n; i++) {
		struct task_struct *k;

		w[i].id = i;
		w[i].t.seed = lmm_seed_base + 1000 + i;
		w[i].t.report = lmm_walker_report;
		w[i].deadline = jiffies + msecs_to_jiffies(lmm_stress_ms);
		init_completion(&w[i].done);
		k = kthread_run(lmm_walker_fn, &w[i], "lmm_walk/%u", i);
		if (IS_ERR(k)) {
			lmm_fail(t, "cannot start walker %u (%ld)", i, PTR_ERR(k));
			break;
		}
		started++;
	}
	if (!lmm_walkers_wait(t, w, started)) {
		/* A walker still runs and uses w: leave it, not free it. */
		if (outer)
			lmm_do(t, LMM_DISABLE);
		lmm_unwind(t);
		return;
	}
	for (i = 0; i < started; i++) {
		steps += w[i].steps;
		paths += w[i].paths;
		sleeps += w[i].sleeps;
		if (w[i].t.failures)
			lmm_fail(t, "walker %u (seed 0x%llx, %lu steps, %u CPUs): %s",
				 i, w[i].t.seed, w[i].steps, w[i].cpus_seen,
				 w[i].first_failure);
	}
	lmm_check_state(t, "test task after the walkers");
	if (outer)
		lmm_do(t, LMM_DISABLE);
	lmm_unwind(t);
	if (!t->failures && !steps)
		lmm_fail(t, "walkers made no step in %u ms", lmm_stress_ms);
	pr_info("lazy MMU concurrent walks: %u threads x %u ms: %lu steps, %lu nested vmap paths, %lu sleeps\n",
		started, lmm_stress_ms, steps, paths, sleeps);
	kfree(w);
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
