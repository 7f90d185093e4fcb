// SPDX-License-Identifier: GPL-2.0-only
/*
 * What an architecture defers inside a lazy MMU section, shared by both
 * front ends: the kernel page the test owns and remaps, the one deferral
 * driver (lmm_defer_walk()) with its backends for arm64, powerpc hash,
 * sparc64 and Xen PV, the sections that run with preemption disabled,
 * and the visibility of a remapped PTE after every flush point.
 *
 * The series exists so that page-table changes made inside a section are
 * batched and yet have taken effect after every disable().  These
 * scenarios make the page-table changes themselves, on a vmalloc page
 * the test owns, with the inline PTE helpers this module was compiled
 * with:
 *
 * - arm64 defers the barriers after writing a valid kernel PTE inside an
 *   active section (TIF_LAZY_MMU_PENDING) and must emit them at every
 *   flush point; writes made while paused, outside a section or in
 *   interrupt context must not be deferred.
 * - powerpc book3s64 with the hash MMU runs a section with preemption
 *   disabled and queues the hash-table (and TLB) invalidations of PTE
 *   updates in the per-CPU ppc64_tlb_batch, drained at every flush point;
 *   updates while paused, outside a section or in interrupt context are
 *   not queued.  With the radix MMU every hook is a no-op.
 * - sparc64 runs a section with preemption disabled and queues the TLB
 *   and TSB flushes of user-mm PTE changes in the per-CPU tlb_batch,
 *   drained at every flush point, likewise.
 * - x86 as a Xen PV guest queues PTE writes made inside an active section
 *   in the per-CPU multicall batch, issued at every flush point: until
 *   then the PTE reads back, and an access sees, the old page.
 * - One driver (lmm_defer_walk()) checks the four deferrals above.
 * - Everywhere: a PTE remapped inside a section reads back, and an access
 *   through the address sees the new page, after each flush point (nested
 *   disable, pause, outermost disable).  Natively on x86 the write is
 *   immediate; under Xen PV it is queued until the flush; on powerpc hash
 *   the stale hash-table entry keeps translating until the flush.
 *
 * Kernel PTEs are found through init_mm, which is not exported to modules:
 * built-in code uses it directly, a module resolves it (lmm_kernel_symbol()),
 * checks it is init_mm (lmm_init_mm(), which lmm_kpaths.c uses too) and
 * that it maps a vmalloc page correctly before use.
 * (init_task.active_mm is not it: the idle task borrows user mms.)
 *
 * On powerpc book3s64 every PTE update (pte_update()) calls
 * hpte_need_flush(), and on sparc64 set_pte_at() calls tlb_batch_add()
 * and kernel remaps need flush_tlb_kernel_range(), none of them exported:
 * there the cases that change PTEs exist only in built-in code (the
 * kunit.py lanes) and skip in a module.
 */

#include <linux/highmem.h>
#include <linux/uaccess.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched/task.h>
#include <linux/vmalloc.h>
#include <asm/tlbflush.h>
#include <xen/xen.h>

#include "lmm.h"
#include "lmm_internal.h"

/*
 * Where the test remaps its own kernel page.  Not on an architecture
 * without the mode (every case skips there, and riscv, for one, exports
 * no flush_tlb_kernel_range()), nor from a module on powerpc book3s64 or
 * sparc64.
 */
#if !LMM_TESTABLE || (defined(MODULE) && (defined(CONFIG_PPC_BOOK3S_64) || defined(CONFIG_SPARC64)))
#define LMM_KPAGE_WRITES 0
#else
#define LMM_KPAGE_WRITES 1
#endif

/* ===== A kernel page the test owns ===== */

struct lmm_kpage {
	struct mm_struct *mm;	/* init_mm */
	void *addr;		/* vmalloc'ed page */
	pte_t *ptep;		/* its kernel PTE */
	pte_t orig;		/* PTE mapping the vmalloc'ed page */
	struct page *other;	/* a second page to remap addr to */
	pte_t other_pte;
};

/* The kernel's top-level page table, as kallsyms names it. */
#ifdef CONFIG_X86_64
#define LMM_KERNEL_PGD "init_top_pgt"
#else
#define LMM_KERNEL_PGD "swapper_pg_dir"
#endif

/*
 * init_mm.  A module finds it through kallsyms and checks it before
 * anything walks page tables from it: apply_to_page_range() allocates
 * missing tables, so a wrong pointer would corrupt memory on a real
 * machine.  Its pgd, read with the nofault accessor (a wrong address
 * fails here, not in a walk), must be the kernel's top-level table,
 * which kallsyms names too: mm/init-mm.c sets init_mm.pgd to
 * swapper_pg_dir (init_top_pgt on x86_64) and no other mm has it.
 * Without that symbol nothing independent tells, and the cases skip.
 * (init_task.active_mm is no reference: the idle task borrows user mms.)
 * NULL, with the reason in *why, otherwise.
 */
const char *lmm_init_mm_symbol = "init_mm";

struct mm_struct *lmm_init_mm(const char **why)
{
#ifndef MODULE
	*why = NULL;
	return &init_mm;
#else
	struct mm_struct *mm = lmm_kernel_symbol(lmm_init_mm_symbol);
	pgd_t *top = lmm_kernel_symbol(LMM_KERNEL_PGD);
	pgd_t *pgd;

	*why = "cannot find init_mm and " LMM_KERNEL_PGD " (needs KPROBES and KALLSYMS_ALL in a module)";
	if (!mm || !top)
		return NULL;
	*why = "the init_mm kallsyms names cannot be read: not used";
	if (copy_from_kernel_nofault(&pgd, &mm->pgd, sizeof(pgd)))
		return NULL;
	*why = "the init_mm kallsyms names has a pgd other than " LMM_KERNEL_PGD ": not init_mm, not used";
	if (pgd != top)
		return NULL;
	*why = NULL;
	return mm;
#endif
}

#ifndef CONFIG_X86
/* The PMD of @addr in @mm that points to a PTE table, or NULL. */
static pmd_t *lmm_pmd_of(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgdp = pgd_offset(mm, addr);
	p4d_t *p4dp;
	pud_t *pudp;
	pmd_t *pmdp;

	if (pgd_none(pgdp_get(pgdp)) || pgd_bad(pgdp_get(pgdp)))
		return NULL;
	p4dp = p4d_offset(pgdp, addr);
	if (p4d_none(p4dp_get(p4dp)) || p4d_bad(p4dp_get(p4dp)))
		return NULL;
	pudp = pud_offset(p4dp, addr);
	if (pud_none(pudp_get(pudp)) || pud_bad(pudp_get(pudp)) || pud_leaf(pudp_get(pudp)))
		return NULL;
	pmdp = pmd_offset(pudp, addr);
	if (pmd_none(pmdp_get(pmdp)) || pmd_bad(pmdp_get(pmdp)) || pmd_leaf(pmdp_get(pmdp)))
		return NULL;
	return pmdp;
}
#endif

static pte_t *lmm_kernel_pte(struct mm_struct *mm, unsigned long addr)
{
#ifdef CONFIG_X86
	unsigned int level;
	pte_t *ptep = lookup_address(addr, &level);

	return ptep && level == PG_LEVEL_4K ? ptep : NULL;
#else
	pmd_t *pmdp = lmm_pmd_of(mm, addr);

	return pmdp ? pte_offset_kernel(pmdp, addr) : NULL;
#endif
}

static void lmm_fill(void *p, u8 v)
{
	memset(p, v, PAGE_SIZE);
}

static int lmm_kpage_get(struct lmm_test *t, struct lmm_kpage *k)
{
	const char *why;

	memset(k, 0, sizeof(*k));
	k->addr = vmalloc(PAGE_SIZE);
	k->other = alloc_page(GFP_KERNEL);
	if (!k->addr || !k->other) {
		lmm_skip(t, LMM_SKIP_NOMEM);
		goto err;
	}
	k->mm = lmm_init_mm(&why);
	if (!k->mm) {
		lmm_skip(t, "%s", why);
		goto err;
	}
	k->ptep = lmm_kernel_pte(k->mm, (unsigned long)k->addr);
	if (!k->ptep) {
		lmm_skip(t, "cannot find the kernel PTE of a vmalloc page");
		goto err;
	}
	k->orig = ptep_get(k->ptep);
	if (!pte_present(k->orig) ||
	    pte_pfn(k->orig) != page_to_pfn(vmalloc_to_page(k->addr))) {
		lmm_fail(t, "kernel PTE walk found %#llx, which does not map the vmalloc page (pfn %#lx)",
			 (u64)pte_val(k->orig), page_to_pfn(vmalloc_to_page(k->addr)));
		goto err;
	}
#ifdef CONFIG_SPARC64
	/*
	 * sparc64 has no pte_pgprot() (the generic one is empty): swap the
	 * physical address, which its PTE holds as is, keeping every bit else.
	 */
	k->other_pte = __pte(pte_val(k->orig) - (pte_pfn(k->orig) << PAGE_SHIFT) +
			     ((unsigned long)page_to_pfn(k->other) << PAGE_SHIFT));
#else
	k->other_pte = pfn_pte(page_to_pfn(k->other), pte_pgprot(k->orig));
#endif
	lmm_fill(k->addr, 0xa5);
	lmm_fill(page_address(k->other), 0x5a);
	return 0;
err:
	vfree(k->addr);
	if (k->other)
		__free_page(k->other);
	k->addr = NULL;
	k->other = NULL;
	return -1;
}

#if LMM_KPAGE_WRITES
static void lmm_tlb_flush_one(unsigned long addr)
{
#ifdef CONFIG_X86
	/*
	 * INVLPG (a hypercall under Xen PV) of a global kernel entry, local
	 * TLB only: callers run pinned to one CPU.
	 */
	__flush_tlb_one_user(addr);
#else
	flush_tlb_kernel_range(addr, addr + PAGE_SIZE);
#endif
}
#endif

/*
 * Point the test page's PTE at @pte, break-before-make, with the same
 * helpers kernel code uses; inside a section the final write may be
 * deferred until the next flush point.
 */
static void lmm_kpage_set(struct lmm_kpage *k, pte_t pte)
{
#if LMM_KPAGE_WRITES
	unsigned long addr = (unsigned long)k->addr;

	pte_clear(k->mm, addr, k->ptep);
	lmm_tlb_flush_one(addr);
#if defined(CONFIG_PPC) || defined(CONFIG_SPARC64)
	/*
	 * powerpc and sparc64 have no set_pte(); the PTE is not valid here
	 * (and sparc64 batches nothing for init_mm).
	 */
	set_pte_at(k->mm, addr, k->ptep, pte);
#else
	set_pte(k->ptep, pte);
#endif
	lmm_tlb_flush_one(addr);
#endif
}

static void lmm_kpage_put(struct lmm_kpage *k)
{
	if (!k->addr)
		return;
	if (!pte_same(ptep_get(k->ptep), k->orig))
		lmm_kpage_set(k, k->orig);
	vfree(k->addr);
	__free_page(k->other);
}

/* Check that the PTE and an access through it show @pte's page. */
static void lmm_kpage_expect(struct lmm_test *t, struct lmm_kpage *k,
			     bool other, const char *when)
{
	pte_t want = other ? k->other_pte : k->orig;
	pte_t seen = ptep_get(k->ptep);
	u8 v = READ_ONCE(*(u8 *)k->addr);
	u8 want_v = other ? 0x5a : 0xa5;

	if (!pte_same(seen, want) || v != want_v)
		lmm_fail(t, "%s: PTE %#llx, expected %#llx (%s page); byte read through it %#x, expected %#x [E=%u P=%u predicate=%d]",
			 when, (u64)pte_val(seen), (u64)pte_val(want),
			 other ? "second" : "original", v, want_v,
			 lmm_task_e(current), lmm_task_p(current),
			 lmm_predicate());
}

/* ===== What an architecture defers ===== */

/*
 * arm64 (TIF_LAZY_MMU_PENDING), powerpc's hash MMU (ppc64_tlb_batch),
 * sparc64 (tlb_batch) and Xen PV (the multicall batch) defer work for
 * page-table changes made inside an active section and do it at every
 * flush point: one walk checks them all (lmm_defer_walk()), over these
 * operations.
 */
struct lmm_defer {
	const char *queue;			/* what is counted, for messages */
	unsigned long (*queued)(void *ctx);	/* entries queued now */
	unsigned long (*change)(void *ctx);	/* one change; entries after */
	void *ctx;
};

/* ===== arm64: deferred barriers ===== */

#ifdef CONFIG_ARM64
/* 1 while the task's barriers are deferred (TIF_LAZY_MMU_PENDING). */
static unsigned long lmm_arm64_queued(void *ctx)
{
	return test_thread_flag(TIF_LAZY_MMU_PENDING);
}

/* Rewrite the (valid) PTE unchanged: a real write, no mapping change. */
static unsigned long lmm_arm64_change(void *ctx)
{
	struct lmm_kpage *k = ctx;

	set_pte(k->ptep, k->orig);
	return lmm_arm64_queued(ctx);
}

static void lmm_defer_walk(struct lmm_test *t, const struct lmm_defer *d);
#endif

/*
 * arm64, through the deferral driver: a valid kernel PTE written inside
 * an active section defers its barriers (flag set); every flush point
 * emits them (flag clear); writes while paused, outside sections or in
 * interrupt context are not deferred.
 */
void lmm_arm64_pending_barriers(struct lmm_test *t)
{
#ifdef CONFIG_ARM64
	struct lmm_kpage k;
	struct lmm_defer d = {
		.queue = "TIF_LAZY_MMU_PENDING", .queued = lmm_arm64_queued,
		.change = lmm_arm64_change, .ctx = &k,
	};

	if (lmm_kpage_get(t, &k))
		return;
	/* The walk watches the flag itself: no arch probe setting it. */
	t->no_probe = true;
	lmm_defer_walk(t, &d);
	/* Never leave a deferred barrier behind, whatever failed. */
	if (test_and_clear_thread_flag(TIF_LAZY_MMU_PENDING)) {
		dsb(ishst);
		isb();
	}
	lmm_kpage_put(&k);
#else
	lmm_skip(t, LMM_SKIP_ONLY_ON("arm64") " (TIF_LAZY_MMU_PENDING)");
#endif
}

/* ===== Sections that run with preemption disabled ===== */

/*
 * powerpc book3s64 with the hash MMU and sparc64 disable preemption in
 * arch_enter_lazy_mmu_mode() and enable it in arch_leave_lazy_mmu_mode():
 * inside an active section preempt_count() is one higher whatever the
 * depth, and back after pause() and the outermost disable(); nothing
 * moves it while paused, for a nested call or at E = 0.  With the radix
 * MMU (hooks are no-ops) preempt_count() never moves.
 */
#if defined(CONFIG_PPC_BOOK3S_64) || defined(CONFIG_SPARC64)
/* Expected preempt_count() for the model's state, against the real one. */
void lmm_expect_preempt(struct lmm_test *t, int base, const char *when)
{
	bool disables = !lmm_may_sleep_in_section();
	int want = base + (disables && lmm_model_task_active(&t->model));
	int seen = preempt_count();

	if (seen != want)
		lmm_fail(t, "%s: preempt_count() %#x, expected %#x (%s, base %#x) [E=%u P=%u predicate=%d]",
			 when, seen, want,
			 IS_ENABLED(CONFIG_SPARC64) ? "sparc64" :
			 disables ? "hash MMU" : "radix MMU", base,
			 lmm_task_e(current), lmm_task_p(current),
			 lmm_predicate());
}

static void lmm_preempt_walk(struct lmm_test *t)
{
	static const enum lmm_op ops[] = {
		LMM_ENABLE, LMM_ENABLE, LMM_DISABLE,	/* E=1, active */
		LMM_PAUSE, LMM_ENABLE, LMM_DISABLE,	/* ignored while paused */
		LMM_PAUSE, LMM_RESUME, LMM_RESUME,	/* nested pause, back */
		LMM_ENABLE, LMM_PAUSE, LMM_RESUME,	/* E=2 */
		LMM_ENABLE, LMM_ENABLE, LMM_DISABLE,	/* E=4, back to 3 */
		LMM_DISABLE, LMM_DISABLE, LMM_DISABLE,	/* outermost */
		LMM_PAUSE, LMM_RESUME,			/* E=0: no arch call */
	};
	char when[48];
	unsigned int i;
	int base;

	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT)) {
		lmm_skip(t, LMM_SKIP_CONFIG(CONFIG_PREEMPT_COUNT) " (preempt_count() is not maintained)");
		return;
	}
	base = preempt_count();
	lmm_expect_preempt(t, base, "before any section");
	for (i = 0; i < ARRAY_SIZE(ops) && !t->failures; i++) {
		lmm_do(t, ops[i]);
		snprintf(when, sizeof(when), "step %u", t->step);
		lmm_expect_preempt(t, base, when);
	}
	lmm_unwind(t);
}
#endif

void lmm_powerpc_preempt_count(struct lmm_test *t)
{
#ifdef CONFIG_PPC_BOOK3S_64
	lmm_preempt_walk(t);
#else
	lmm_skip(t, LMM_SKIP_ONLY_ON("powerpc book3s64"));
#endif
}

void lmm_sparc64_preempt_count(struct lmm_test *t)
{
#ifdef CONFIG_SPARC64
	lmm_preempt_walk(t);
#else
	lmm_skip(t, LMM_SKIP_ONLY_ON("sparc64"));
#endif
}

/* ===== One deferral driver ===== */

/*
 * The walk over struct lmm_defer, driven by the model:
 * - a change queues an entry while the task is active, at depths 1 to 4,
 *   and never outside a section, while paused (P = 1 and 2) or in
 *   interrupt context (hardirq, softirq, BH disabled);
 * - after every call that flushes or leaves (the nested disable()s at
 *   4->3, 3->2 and 2->1, pause() at E = 1 and 2, the outermost
 *   disable()) nothing is queued; after a call that makes no arch call
 *   (a nested enable(), calls while paused, a nested pause()/resume())
 *   the queue is as it was.
 */
#if defined(CONFIG_ARM64) || (defined(CONFIG_X86) && LMM_KPAGE_WRITES) || \
	((defined(CONFIG_PPC_64S_HASH_MMU) || defined(CONFIG_SPARC64)) && !defined(MODULE))

static void lmm_defer_expect(struct lmm_test *t, const struct lmm_defer *d,
			     unsigned long n, bool queued, const char *when)
{
	if (!n != !queued)
		lmm_fail(t, "step %u, %s: %s holds %lu, expected %s [E=%u P=%u predicate=%d]",
			 t->step, when, d->queue, n, queued ? "some" : "none",
			 lmm_task_e(current), lmm_task_p(current),
			 lmm_predicate());
}

struct lmm_defer_irq {
	const struct lmm_defer *d;
	unsigned long before, after;
};

static void lmm_defer_irq_fn(void *arg)
{
	struct lmm_defer_irq *w = arg;

	w->before = w->d->queued(w->d->ctx);
	w->after = w->d->change(w->d->ctx);
}

static void lmm_defer_irq_expect(struct lmm_test *t, const struct lmm_defer *d,
				 const struct lmm_defer_irq *w, const char *ctx)
{
	if (w->after != w->before)
		lmm_fail(t, "step %u, change in %s: %s holds %lu, %lu before: queued in interrupt context while the task is in a section [E=%u P=%u predicate=%d]",
			 t->step, ctx, d->queue, w->after, w->before,
			 lmm_task_e(current), lmm_task_p(current),
			 lmm_predicate());
}

/*
 * Changes from interrupt context while the task is in a section: made at
 * once, nothing added to the queue, which a nested disable() has just
 * drained (so that a flag, arm64's, shows an addition too).
 */
static void lmm_defer_irqs(struct lmm_test *t, const struct lmm_defer *d)
{
	struct lmm_defer_irq w = { .d = d };

	if (!lmm_do(t, LMM_ENABLE) || !lmm_do(t, LMM_DISABLE))
		return;
	lmm_defer_expect(t, d, d->queued(d->ctx), false, "after a nested disable(), before the interrupts");
	if (!lmm_run_hardirq(lmm_defer_irq_fn, &w))
		lmm_fail(t, "step %u: the change did not run in hardirq context (irq_work) interrupting this task [E=%u P=%u predicate=%d]",
			 t->step, lmm_task_e(current), lmm_task_p(current), lmm_predicate());
	else
		lmm_defer_irq_expect(t, d, &w, "hardirq context");
	if (lmm_run_softirq(lmm_defer_irq_fn, &w))
		lmm_defer_irq_expect(t, d, &w, "softirq context");
	local_bh_disable();
	lmm_defer_irq_fn(&w);
	local_bh_enable();
	lmm_defer_irq_expect(t, d, &w, "task context with BH disabled");
}

static void lmm_defer_walk(struct lmm_test *t, const struct lmm_defer *d)
{
	static const enum lmm_op ops[] = {
		LMM_ENABLE, LMM_ENABLE, LMM_ENABLE, LMM_ENABLE,	/* E=1..4 */
		LMM_DISABLE, LMM_DISABLE, LMM_DISABLE,		/* nested: flush */
		LMM_PAUSE, LMM_ENABLE, LMM_DISABLE,		/* ignored while paused */
		LMM_PAUSE, LMM_RESUME,				/* P=2, back to 1 */
		LMM_RESUME,					/* active again */
		LMM_ENABLE, LMM_PAUSE, LMM_RESUME, LMM_DISABLE,	/* at E=2 */
	};
	unsigned int i;

	lmm_defer_expect(t, d, d->queued(d->ctx), false, "before any section");
	lmm_defer_expect(t, d, d->change(d->ctx), false, "change outside a section");
	for (i = 0; i < ARRAY_SIZE(ops) && !t->failures; i++) {
		struct lmm_model next = t->model;
		unsigned int calls = lmm_model_apply(&next, ops[i], false);
		unsigned long before = d->queued(d->ctx);
		unsigned long n;

		if (!lmm_do(t, ops[i]))
			break;
		n = d->queued(d->ctx);
		if (calls & (LMM_ARCH_FLUSH | LMM_ARCH_LEAVE)) {
			char when[40];

			snprintf(when, sizeof(when), "after %s() (%s)", lmm_op_name[ops[i]],
				 calls & LMM_ARCH_LEAVE ? "leaves the mode" : "flushes");
			lmm_defer_expect(t, d, n, false, when);
		} else if (n != before)
			lmm_fail(t, "step %u, %s(), which makes no arch call: %s holds %lu, %lu before [E=%u P=%u predicate=%d]",
				 t->step, lmm_op_name[ops[i]], d->queue, n, before,
				 lmm_task_e(current), lmm_task_p(current),
				 lmm_predicate());
		lmm_defer_expect(t, d, d->change(d->ctx),
				 lmm_model_task_active(&t->model), "change");
	}
	if (!t->failures)
		lmm_defer_irqs(t, d);
	if (!t->failures) {
		lmm_defer_expect(t, d, d->change(d->ctx), true, "change before the outermost disable()");
		if (lmm_do(t, LMM_DISABLE)) {
			lmm_defer_expect(t, d, d->queued(d->ctx), false, "after the outermost disable()");
			lmm_defer_expect(t, d, d->change(d->ctx), false, "change after the section");
		}
	}
	lmm_unwind(t);
}
#endif

/* ----- powerpc hash: ppc64_tlb_batch ----- */

#if defined(CONFIG_PPC_64S_HASH_MMU) && !defined(MODULE)
/* Entries queued in this CPU's hash-MMU batch. */
static unsigned long lmm_ppc_queued(void *ctx)
{
	unsigned long n;

	preempt_disable();
	n = this_cpu_ptr(&ppc64_tlb_batch)->index;
	preempt_enable();
	return n;
}

/*
 * Rewrite the test page's PTE unchanged through pte_update(), like
 * ptep_test_and_clear_young(): its hash-table entry (H_PAGE_HASHPTE) must
 * be invalidated, which is queued inside an active section and done at
 * once anywhere else.
 */
static unsigned long lmm_ppc_change(void *ctx)
{
	struct lmm_kpage *k = ctx;
	unsigned long n;

	preempt_disable();
	pte_update(k->mm, (unsigned long)k->addr, k->ptep, 0, 0, 0);
	n = this_cpu_ptr(&ppc64_tlb_batch)->index;
	preempt_enable();
	return n;
}
#endif

void lmm_powerpc_hash_tlb_batch(struct lmm_test *t)
{
#if defined(CONFIG_PPC_64S_HASH_MMU) && !defined(MODULE)
	struct lmm_kpage k;
	struct lmm_defer d = {
		.queue = "ppc64_tlb_batch", .queued = lmm_ppc_queued,
		.change = lmm_ppc_change, .ctx = &k,
	};

	if (radix_enabled()) {
		lmm_skip(t, "radix MMU: the lazy MMU hooks are no-ops and nothing is batched (hash: POWER8, or POWER9 with disable_radix)");
		return;
	}
	if (lmm_kpage_get(t, &k))
		return;
	/* lmm_kpage_get() wrote the page: it has a hash-table entry now. */
	if (!(pte_val(ptep_get(k.ptep)) & H_PAGE_HASHPTE))
		lmm_fail(t, "test page's PTE %#llx has no hash-table entry after an access",
			 (u64)pte_val(ptep_get(k.ptep)));
	else
		lmm_defer_walk(t, &d);
	/* Never leave an invalidation behind, whatever failed. */
	preempt_disable();
	if (this_cpu_ptr(&ppc64_tlb_batch)->index)
		__flush_tlb_pending(this_cpu_ptr(&ppc64_tlb_batch));
	preempt_enable();
	lmm_kpage_put(&k);
#elif defined(CONFIG_PPC_64S_HASH_MMU)
	lmm_skip(t, "%s", LMM_SKIP_NO_KPAGE_WRITES);
#else
	lmm_skip(t, LMM_SKIP_ONLY_ON("powerpc book3s64 with the hash MMU") " (ppc64_tlb_batch)");
#endif
}

/* ----- sparc64: tlb_batch ----- */

#if defined(CONFIG_SPARC64) && !defined(MODULE)
/*
 * sparc64 batches the TLB and TSB flushes of user-mm PTE changes (kernel
 * ones are flushed by flush_tlb_kernel_range()): tlb_batch_add_one()
 * queues into the per-CPU tlb_batch, static in arch/sparc/mm/tlb.c and
 * resolved through kallsyms.  The change rewrites a populated PTE of the
 * test's own user memory unchanged with set_pte_at(), which hands its old
 * value to tlb_batch_add(); its PTE lock is held throughout the walk (the
 * walk does not sleep: sparc64 sections run with preemption disabled),
 * so that the interrupt-context changes need no lock of their own.
 */
struct lmm_sparc_user {
	struct tlb_batch __percpu *tb;
	struct mm_struct *mm;
	unsigned long addr;
	pte_t *ptep;
};

static unsigned long lmm_sparc_queued(void *ctx)
{
	struct lmm_sparc_user *u = ctx;
	unsigned long n;

	preempt_disable();
	n = this_cpu_ptr(u->tb)->tlb_nr;
	preempt_enable();
	return n;
}

static unsigned long lmm_sparc_change(void *ctx)
{
	struct lmm_sparc_user *u = ctx;

	set_pte_at(u->mm, u->addr, u->ptep, ptep_get(u->ptep));
	return lmm_sparc_queued(ctx);
}

/* The PTE of user address @addr in @mm, mapped and locked; NULL if none. */
static pte_t *lmm_user_pte_lock(struct mm_struct *mm, unsigned long addr,
				spinlock_t **ptl)
{
	pmd_t *pmdp = lmm_pmd_of(mm, addr);

	return pmdp ? pte_offset_map_lock(mm, pmdp, addr, ptl) : NULL;
}
#endif

void lmm_sparc64_tlb_batch(struct lmm_test *t)
{
#if defined(CONFIG_SPARC64) && !defined(MODULE)
	struct lmm_sparc_user u = { };
	struct lmm_defer d = {
		.queue = "tlb_batch", .queued = lmm_sparc_queued,
		.change = lmm_sparc_change, .ctx = &u,
	};
	unsigned long addr;
	spinlock_t *ptl;

	u.tb = (__force struct tlb_batch __percpu *)lmm_kernel_symbol("tlb_batch");
	if (!u.tb) {
		lmm_skip(t, LMM_SKIP_NO_SYMBOL("the static tlb_batch"));
		return;
	}
	addr = lmm_user_map(t);
	if (!addr) {
		lmm_skip(t, LMM_SKIP_NO_MM);
		return;
	}
	u.mm = current->mm;
	u.addr = addr;
	mmap_read_lock(u.mm);
	u.ptep = lmm_user_pte_lock(u.mm, addr, &ptl);
	if (!u.ptep) {
		mmap_read_unlock(u.mm);
		lmm_fail(t, "no PTE for the populated user page at %#lx", addr);
		return;
	}
	if (!pte_accessible(u.mm, ptep_get(u.ptep)))
		lmm_fail(t, "user PTE %#lx of a populated page is not valid",
			 pte_val(ptep_get(u.ptep)));
	else
		lmm_defer_walk(t, &d);
	/* Never leave a flush behind, whatever failed. */
	if (lmm_sparc_queued(&u))
		flush_tlb_pending();
	pte_unmap_unlock(u.ptep, ptl);
	mmap_read_unlock(u.mm);
#elif defined(CONFIG_SPARC64)
	lmm_skip(t, "a module cannot change user PTEs on sparc64 (set_pte_at() calls tlb_batch_add(), not exported): built-in KUnit only");
#else
	lmm_skip(t, LMM_SKIP_ONLY_ON("sparc64") " (tlb_batch)");
#endif
}

/*
 * A kernel PTE remapped inside a section has taken effect after every
 * flush point: the PTE reads back the new value and an access through the
 * address sees the new page, while the mode may still be active.
 */
void lmm_pte_visibility(struct lmm_test *t)
{
	struct lmm_kpage k;

	if (!LMM_KPAGE_WRITES) {
		lmm_skip(t, "%s", LMM_SKIP_NO_KPAGE_WRITES);
		return;
	}
	if (lmm_kpage_get(t, &k))
		return;
	/* x86 can only flush the local TLB from a module: stay on one CPU. */
	if (IS_ENABLED(CONFIG_X86))
		preempt_disable();

	lmm_do_n(t, LMM_ENABLE, 2);
	lmm_kpage_set(&k, k.other_pte);
	lmm_do(t, LMM_DISABLE);
	if (!t->failures)
		lmm_kpage_expect(t, &k, true, "after a nested disable() (E=1, still active)");

	lmm_kpage_set(&k, k.orig);
	lmm_do(t, LMM_PAUSE);
	if (!t->failures)
		lmm_kpage_expect(t, &k, false, "after pause()");
	lmm_kpage_set(&k, k.other_pte);
	if (!t->failures)
		lmm_kpage_expect(t, &k, true, "remapped while paused");
	lmm_do(t, LMM_RESUME);

	lmm_kpage_set(&k, k.orig);
	lmm_do(t, LMM_DISABLE);
	if (!t->failures)
		lmm_kpage_expect(t, &k, false, "after the outermost disable()");
	lmm_unwind(t);

	if (IS_ENABLED(CONFIG_X86))
		preempt_enable();
	lmm_kpage_put(&k);
}

/* ===== Xen PV: deferred PTE writes ===== */

#if defined(CONFIG_X86) && LMM_KPAGE_WRITES
/* The test page, and whether its PTE was last pointed at the second page. */
struct lmm_xen_defer {
	struct lmm_kpage *k;
	bool other;
};

/*
 * 1 while the last PTE write is not visible yet: neither its readback
 * through ptep_get() nor a read through the address shows its page.
 */
static unsigned long lmm_xen_queued(void *ctx)
{
	struct lmm_xen_defer *x = ctx;
	pte_t want = x->other ? x->k->other_pte : x->k->orig;
	u8 want_v = x->other ? 0x5a : 0xa5;

	return !pte_same(ptep_get(x->k->ptep), want) ||
	       READ_ONCE(*(u8 *)x->k->addr) != want_v;
}

/*
 * Point the PTE at the page it does not show now: a write that, queued,
 * leaves the old page visible, however many writes are queued before it.
 * The PTE is read back before the TLB flush that follows: outside an
 * active section (in interrupt context, for one) Xen PV issues that
 * flush at once, and with it whatever the batch held, which would hide
 * a write wrongly queued there.
 */
static unsigned long lmm_xen_change(void *ctx)
{
	struct lmm_xen_defer *x = ctx;
	pte_t want;
	bool unseen;

	x->other = pte_same(ptep_get(x->k->ptep), x->k->orig);
	want = x->other ? x->k->other_pte : x->k->orig;
	set_pte(x->k->ptep, want);
	unseen = !pte_same(ptep_get(x->k->ptep), want);
	lmm_tlb_flush_one((unsigned long)x->k->addr);
	return unseen || lmm_xen_queued(ctx);
}

static void lmm_defer_walk(struct lmm_test *t, const struct lmm_defer *d);
#endif

/*
 * Under Xen PV the page tables are the hypervisor's: a PTE write in an
 * active section is queued in the per-CPU multicall batch and reaches
 * the table only at a flush point, so until then ptep_get() and an
 * access through the address show the old page.  Writes while paused,
 * outside sections and in interrupt context are immediate.  The
 * deferral driver's walk checks all of it, at every depth and after
 * every flush point.
 */
void lmm_xen_pte_deferral(struct lmm_test *t)
{
#if defined(CONFIG_X86) && LMM_KPAGE_WRITES
	struct lmm_kpage k;
	struct lmm_xen_defer x = { .k = &k };
	struct lmm_defer d = {
		.queue = "the Xen PV batch (last PTE write not visible)",
		.queued = lmm_xen_queued, .change = lmm_xen_change, .ctx = &x,
	};

	if (!xen_pv_domain()) {
		lmm_skip(t, LMM_SKIP_XEN_PV);
		return;
	}
	if (lmm_kpage_get(t, &k))
		return;
	/* One CPU: the Xen batch and the local TLB flush are per CPU. */
	preempt_disable();
	lmm_defer_walk(t, &d);
	preempt_enable();
	lmm_kpage_put(&k);
#else
	lmm_skip(t, LMM_SKIP_XEN_PV);
#endif
}
