// SPDX-License-Identifier: GPL-2.0-only
/*
 * Task cases, shared by both front ends: the state is per task (a peer
 * kthread on the same CPU reads it and opens a section of its own), a
 * task paused 255 deep sleeps, the state survives sleeping and a
 * migration to another CPU, and several kthreads run model-checked
 * random walks (lmm_walk_step(), lmm_nesting.c) at once, with preemption
 * points, sleeps and nested kernel paths inside their sections.
 */

#include <linux/bitops.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "lmm.h"
#include "lmm_internal.h"

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
