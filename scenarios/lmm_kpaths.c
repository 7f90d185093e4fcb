// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel paths and the linear map, shared by both front ends: kernel
 * paths that open their own (nested) section, called inside the test's
 * (vmalloc()/vfree(), vmap()/vunmap(), an atomic allocation, munmap() of
 * user memory), the sections the kernel opens itself
 * (apply_to_page_range(), its error path too), allocations failed inside
 * a section, and the linear-map changes of KFENCE and DEBUG_PAGEALLOC.
 * None may end the caller's section or leave its changes pending.
 */

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kfence.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/vmalloc.h>

#include "lmm.h"
#include "lmm_internal.h"

/* ===== Kernel paths that open their own section ===== */

/* The kernel path nested_kernel_paths calls inside its section. */
enum lmm_kernel_path {
	LMM_PATH_VMALLOC_VFREE,
	LMM_PATH_VMAP_VUNMAP,
	LMM_PATH_VMAP_IN_PAUSED_SECTION,
	LMM_PATH_ALLOC_FREE_ATOMIC,	/* the only one that never sleeps */
	LMM_PATH_USER_MUNMAP,
};

static const enum lmm_kernel_path lmm_kernel_paths[] = {
	LMM_PATH_VMALLOC_VFREE, LMM_PATH_VMAP_VUNMAP,
	LMM_PATH_VMAP_IN_PAUSED_SECTION, LMM_PATH_ALLOC_FREE_ATOMIC,
	LMM_PATH_USER_MUNMAP,
};

static const char * const lmm_path_name[] = {
	[LMM_PATH_VMALLOC_VFREE] = "vmalloc_vfree",
	[LMM_PATH_VMAP_VUNMAP] = "vmap_vunmap",
	[LMM_PATH_VMAP_IN_PAUSED_SECTION] = "vmap_in_paused_section",
	[LMM_PATH_ALLOC_FREE_ATOMIC] = "alloc_free_atomic",
	[LMM_PATH_USER_MUNMAP] = "user_munmap",
};

#define LMM_USER_PAGES 4

/* Anonymous user memory of current, populated; 0 when there is no mm. */
unsigned long lmm_user_map(struct lmm_test *t)
{
	unsigned long len = LMM_USER_PAGES * PAGE_SIZE, addr, i;

	if (t->user_mmap)
		addr = t->user_mmap(t, len);
	else if (current->mm)
		addr = vm_mmap(NULL, 0, len, PROT_READ | PROT_WRITE,
			       MAP_ANONYMOUS | MAP_PRIVATE, 0);
	else
		return 0;
	if (IS_ERR_VALUE(addr))
		return 0;
	for (i = 0; i < LMM_USER_PAGES; i++)
		if (put_user((u8)0x2d, (u8 __user *)(addr + i * PAGE_SIZE)))
			return 0;
	return addr;
}

/*
 * munmap() of populated user memory zaps its PTEs under the kernel's own
 * lazy section (zap_pte_range()); afterwards the memory is gone.
 */
static void lmm_user_munmap(struct lmm_test *t, unsigned long addr)
{
	u8 v;

	vm_munmap(addr, LMM_USER_PAGES * PAGE_SIZE);
	lmm_check_state(t, "after munmap() of populated user memory in a section");
	if (!get_user(v, (u8 __user *)addr))
		lmm_fail(t, "user memory still readable (%#x) after munmap() inside a section", v);
}

static void lmm_kernel_path_desc(const enum lmm_kernel_path *path, char *buf)
{
	snprintf(buf, LMM_DESC_MAX, "path=%s", lmm_path_name[*path]);
}

LMM_DEFINE_PARAMS(nested_kernel_paths, lmm_kernel_paths, lmm_kernel_path_desc);

static int lmm_pte_count_fn(pte_t *pte, unsigned long addr, void *data)
{
	(*(unsigned int *)data)++;
	return 0;
}

/* Map @page at a new kernel address and check the mapping works. */
static void lmm_vmap_check(struct lmm_test *t, struct page *page)
{
	u8 *v = vmap(&page, 1, VM_MAP, PAGE_KERNEL);

	if (!v) {
		lmm_fail(t, "vmap() failed inside a section");
		return;
	}
	if (READ_ONCE(v[0]) != 0x3c || READ_ONCE(v[PAGE_SIZE - 1]) != 0x3c)
		lmm_fail(t, "page read through a fresh vmap() inside a section is %#x/%#x, expected 0x3c",
			 v[0], v[PAGE_SIZE - 1]);
	vunmap(v);
}

/*
 * Kernel paths that change kernel page tables under their own nested
 * section, called inside an outer section of the test: the outer state
 * is intact afterwards (E, P, predicate) and their change took effect.
 */
void lmm_nested_kernel_paths(struct lmm_test *t)
{
	enum lmm_kernel_path path = *(const enum lmm_kernel_path *)t->param;
	unsigned long uaddr = 0;
	struct page *page;
	u8 *p;

	if (path != LMM_PATH_ALLOC_FREE_ATOMIC && !lmm_may_sleep_in_section()) {
		lmm_skip(t, LMM_SKIP_SLEEPS);
		return;
	}
	page = alloc_page(GFP_KERNEL);
	if (!page) {
		lmm_skip(t, LMM_SKIP_NOMEM);
		return;
	}
	memset(page_address(page), 0x3c, PAGE_SIZE);
	if (path == LMM_PATH_USER_MUNMAP) {
		uaddr = lmm_user_map(t);
		if (!uaddr) {
			__free_page(page);
			lmm_skip(t, LMM_SKIP_NO_MM);
			return;
		}
	}

	lmm_do_n(t, LMM_ENABLE, 2);
	switch (path) {
	case LMM_PATH_VMALLOC_VFREE: {
		const char *why;
		struct mm_struct *mm = lmm_init_mm(&why);
		unsigned int n = 0, i;

		p = vmalloc(4 * PAGE_SIZE);
		if (!p) {
			lmm_fail(t, "vmalloc() failed inside a section");
			break;
		}
		lmm_check_state(t, "after vmalloc() in a section");
		/*
		 * The new mapping is usable at once.  A page at a time:
		 * sparse refuses a 256K memset (64K pages).
		 */
		for (i = 0; i < 4; i++)
			memset(p + i * PAGE_SIZE, 0x7e, PAGE_SIZE);
		if (READ_ONCE(p[3 * PAGE_SIZE]) != 0x7e)
			lmm_fail(t, "vmalloc()ed memory not usable inside a section");
		if (mm) {
			apply_to_page_range(mm, (unsigned long)p, 4 * PAGE_SIZE,
					    lmm_pte_count_fn, &n);
			lmm_check_state(t, "after apply_to_page_range() in a section");
			if (n != 4)
				lmm_fail(t, "apply_to_page_range() saw %u PTEs of 4", n);
		}
		vfree(p);
		lmm_check_state(t, "after vfree() in a section");
		break;
	}
	case LMM_PATH_VMAP_VUNMAP:
		lmm_vmap_check(t, page);
		lmm_check_state(t, "after vmap()/vunmap() in a section");
		break;
	case LMM_PATH_VMAP_IN_PAUSED_SECTION:
		lmm_do(t, LMM_PAUSE);
		lmm_vmap_check(t, page);
		lmm_check_state(t, "after vmap()/vunmap() in a paused section");
		lmm_do(t, LMM_RESUME);
		break;
	case LMM_PATH_ALLOC_FREE_ATOMIC: {
		/*
		 * The DEBUG_PAGEALLOC/KFENCE shape: an atomic allocation
		 * inside a section may change the linear map.
		 */
		struct page *q = alloc_page(GFP_ATOMIC);

		if (!q) {
			lmm_fail(t, "GFP_ATOMIC allocation failed inside a section");
			break;
		}
		memset(page_address(q), 0x11, PAGE_SIZE);
		if (READ_ONCE(((u8 *)page_address(q))[PAGE_SIZE - 1]) != 0x11)
			lmm_fail(t, "page allocated inside a section not usable at once");
		__free_page(q);
		lmm_check_state(t, "after alloc_page()/__free_page() in a section");
		break;
	}
	case LMM_PATH_USER_MUNMAP:
		lmm_user_munmap(t, uaddr);
		break;
	}
	lmm_do_n(t, LMM_DISABLE, 2);
	lmm_unwind(t);
	__free_page(page);
}

/* ===== Sections the kernel opens itself ===== */

/*
 * apply_to_page_range() runs its callback inside a section the kernel
 * opens and closes with its own (built-in) helpers.  Watched from the
 * callback, started from each of lmm_ctx_states[] (from idle with
 * no API call of the test's own, so in a link-safe build too): the
 * kernel's enable() made the task
 * active (one level deeper when the test is in a section; nothing while
 * paused), a nested apply_to_page_range() from the callback leaves it
 * active, and the section is closed when apply_to_page_range() returns,
 * also when the callback fails half-way (the error path).  On powerpc
 * hash the kernel's section runs with preemption disabled once.
 */
#define LMM_KSEC_PAGES 2

struct lmm_ksec {
	struct lmm_test *t;
	struct mm_struct *mm;
	unsigned long inner;	/* page of the nested apply_to_page_range() */
	int base_pc;		/* preempt_count() outside any section */
	unsigned int calls;	/* callback invocations */
	unsigned int fail_at;	/* invocation returning an error, 0: none */
	unsigned int inner_calls;
};

static void lmm_ksec_expect(struct lmm_ksec *k, const char *what)
{
	lmm_check_state(k->t, what);
#if defined(CONFIG_PPC_BOOK3S_64) || defined(CONFIG_SPARC64)
	if (IS_ENABLED(CONFIG_PREEMPT_COUNT))
		lmm_expect_preempt(k->t, k->base_pc, what);
#endif
}

static int lmm_ksec_inner_fn(pte_t *pte, unsigned long addr, void *data)
{
	struct lmm_ksec *k = data;

	k->inner_calls++;
	lmm_ksec_expect(k, "in a nested apply_to_page_range() callback");
	return 0;
}

/* The kernel's section, seen through apply_to_page_range(). */
static int lmm_ksec_apply(struct lmm_ksec *k, unsigned long addr,
			  unsigned long size, pte_fn_t fn)
{
	int ret;

	lmm_model_apply(&k->t->model, LMM_ENABLE, false);
	ret = apply_to_page_range(k->mm, addr, size, fn, k);
	lmm_model_apply(&k->t->model, LMM_DISABLE, false);
	return ret;
}

static int lmm_ksec_outer_fn(pte_t *pte, unsigned long addr, void *data)
{
	struct lmm_ksec *k = data;
	int ret;

	if (++k->calls == k->fail_at)
		return -EBUSY;
	if (k->calls > 1)
		return 0;
	lmm_ksec_expect(k, "in an apply_to_page_range() callback");
	ret = lmm_ksec_apply(k, k->inner, PAGE_SIZE, lmm_ksec_inner_fn);
	if (ret || k->inner_calls != 1)
		lmm_fail(k->t, "nested apply_to_page_range() returned %d after %u callbacks, expected 0 after 1",
			 ret, k->inner_calls);
	lmm_ksec_expect(k, "after a nested apply_to_page_range() returned to the callback");
	return 0;
}

void lmm_kernel_sections(struct lmm_test *t)
{
	enum lmm_ctx_state start = *(const enum lmm_ctx_state *)t->param;
	struct lmm_ksec k = { .t = t };
	const char *why;
	u8 *area;
	int ret;

	if (start != LMM_CTX_IDLE && !LMM_CALLABLE) {
		lmm_skip(t, "%s", LMM_UNCALLABLE_REASON);
		return;
	}
	k.mm = lmm_init_mm(&why);
	if (!k.mm) {
		lmm_skip(t, "no kernel page range to apply to: %s", why);
		return;
	}
	area = vmalloc((LMM_KSEC_PAGES + 1) * PAGE_SIZE);
	if (!area) {
		lmm_skip(t, LMM_SKIP_NOMEM);
		return;
	}
	k.inner = (unsigned long)area + LMM_KSEC_PAGES * PAGE_SIZE;
	k.base_pc = preempt_count();
	lmm_ctx_setup(t);

	ret = lmm_ksec_apply(&k, (unsigned long)area, LMM_KSEC_PAGES * PAGE_SIZE,
			     lmm_ksec_outer_fn);
	if (ret || k.calls != LMM_KSEC_PAGES)
		lmm_fail(t, "apply_to_page_range() returned %d after %u callbacks, expected 0 after %u",
			 ret, k.calls, LMM_KSEC_PAGES);
	lmm_ksec_expect(&k, "after apply_to_page_range() returned");

	/* The error path closes the section as well. */
	k.calls = 0;
	k.inner_calls = 0;
	k.fail_at = 2;
	ret = lmm_ksec_apply(&k, (unsigned long)area, LMM_KSEC_PAGES * PAGE_SIZE,
			     lmm_ksec_outer_fn);
	if (ret != -EBUSY)
		lmm_fail(t, "apply_to_page_range() with a failing callback returned %d, expected %d",
			 ret, -EBUSY);
	lmm_ksec_expect(&k, "after apply_to_page_range() failed half-way");

	lmm_unwind(t);
	vfree(area);
}

LMM_DEFINE_PARAMS(kernel_sections, lmm_ctx_states, lmm_ctx_desc);

/* ===== Linear-map changes from inside a section ===== */

/*
 * After a kernel path changed the linear map under its own nested
 * section, the caller's section is intact and, on arm64, no barrier is
 * left pending (the nested disable() flushed).
 */
static void lmm_expect_outer_intact(struct lmm_test *t, const char *when)
{
	lmm_check_state(t, when);
#ifdef CONFIG_ARM64
	if (test_thread_flag(TIF_LAZY_MMU_PENDING))
		lmm_fail(t, "%s: TIF_LAZY_MMU_PENDING left set: the nested section's disable() did not flush",
			 when);
#endif
}

#define LMM_KFENCE_WANT 3
#define LMM_KFENCE_TIMEOUT_MS 3000

/* ===== Allocation failures inside a section ===== */

#define LMM_FAULT_POINTS 32

/*
 * Allocations failed inside a nested section, through the task's
 * fail_nth (what /proc/self/fail-nth sets; CONFIG_FAULT_INJECTION with
 * FAILSLAB/FAIL_PAGE_ALLOC): a non-blocking vmalloc(), failed at its n-th
 * injection point for n = 1, 2, ... until it completes, and an order-1
 * atomic page allocation.  Failed or not, the caller's section is intact
 * afterwards and what was allocated is usable.  With the default
 * injection filters every point vmalloc() offers comes before it maps
 * (page tables are order-0 GFP_KERNEL allocations, never failed), so the
 * kernel's in-section error paths are not reached here: kernel_sections
 * covers the one a module can drive (a failing apply_to_page_range()
 * callback).
 */
void lmm_alloc_faults(struct lmm_test *t)
{
#ifdef CONFIG_FAULT_INJECTION
	const gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;
	unsigned int n, left, failed = 0;
	struct page *pg;
	u8 *p = NULL;

	if (!IS_ENABLED(CONFIG_FAILSLAB) || !IS_ENABLED(CONFIG_FAIL_PAGE_ALLOC)) {
		lmm_skip(t, LMM_SKIP_CONFIG(CONFIG_FAILSLAB) " and CONFIG_FAIL_PAGE_ALLOC=y (allocations cannot be made to fail)");
		return;
	}
	for (n = 1; n <= LMM_FAULT_POINTS && !t->failures; n++) {
		lmm_do_n(t, LMM_ENABLE, 2);
		WRITE_ONCE(current->fail_nth, n);
		p = __vmalloc(4 * PAGE_SIZE, gfp);
		left = READ_ONCE(current->fail_nth);
		WRITE_ONCE(current->fail_nth, 0);
		lmm_expect_outer_intact(t, "after a non-blocking vmalloc() with an injected failure");
		if (p) {
			memset(p, 0x5a, PAGE_SIZE);
			if (READ_ONCE(p[PAGE_SIZE - 1]) != 0x5a)
				lmm_fail(t, "vmalloc()ed memory not usable inside a section");
		}
		/* Closed, by force after a failure: vfree() may sleep. */
		lmm_unwind(t);
		if (p)
			vfree(p);
		/* Fewer than n injection points: it ran to completion. */
		if (left) {
			if (!p)
				lmm_skip(t, "a non-blocking vmalloc() failed with no failure injected (no memory without reclaim)");
			break;
		}
		failed += !p;
	}
	if (t->skipped)
		return;
	if (!t->failures && (!failed || n > LMM_FAULT_POINTS))
		lmm_fail(t, "vmalloc() failed %u time(s) over %u injection points, expected at least once and then success",
			 failed, n - 1);

	lmm_do_n(t, LMM_ENABLE, 2);
	WRITE_ONCE(current->fail_nth, 1);
	pg = alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 1);
	left = READ_ONCE(current->fail_nth);
	WRITE_ONCE(current->fail_nth, 0);
	lmm_expect_outer_intact(t, "after an order-1 page allocation with an injected failure");
	if (pg || left)
		lmm_fail(t, "order-1 GFP_ATOMIC allocation %s with fail_nth=1 (left %u)",
			 pg ? "succeeded" : "failed", left);
	lmm_unwind(t);
	if (pg)
		__free_pages(pg, 1);
#else
	lmm_skip(t, LMM_SKIP_CONFIG(CONFIG_FAULT_INJECTION) " (allocation failures cannot be injected; the kunit.py lane has it)");
#endif
}

/*
 * KFENCE (Debian's images have it; the runner sets kfence.sample_interval)
 * makes an object's linear-map page accessible on allocation and protects
 * it again on free.  Allocate and free inside an outer section until a
 * few objects land in the KFENCE pool: each is usable at once and the
 * outer section survives.
 */
void lmm_linear_map_kfence(struct lmm_test *t)
{
#ifdef CONFIG_KFENCE
	unsigned long deadline;
	unsigned int hits = 0, tries = 0;

	if (!READ_ONCE(kfence_sample_interval) || !__kfence_pool) {
		lmm_skip(t, "KFENCE is off (boot with kfence.sample_interval=1)");
		return;
	}
	if (!lmm_may_sleep_in_section()) {
		lmm_skip(t, LMM_SKIP_SLEEPS);
		return;
	}
	t->no_probe = true;
	lmm_do_n(t, LMM_ENABLE, 2);
	deadline = jiffies + msecs_to_jiffies(LMM_KFENCE_TIMEOUT_MS);
	while (!t->failures && hits < LMM_KFENCE_WANT && time_before(jiffies, deadline)) {
		u8 *obj = kmalloc(64, GFP_KERNEL);

		if (!obj)
			break;
		tries++;
		if (is_kfence_address(obj)) {
			hits++;
			memset(obj, 0x6b, 64);
			if (READ_ONCE(obj[63]) != 0x6b)
				lmm_fail(t, "KFENCE object not usable inside a section");
			lmm_expect_outer_intact(t, "after allocating a KFENCE object");
		}
		kfree(obj);
		if (is_kfence_address(obj))
			lmm_expect_outer_intact(t, "after freeing a KFENCE object");
		else if (!(tries % 64))
			usleep_range(500, 1000);
	}
	lmm_do_n(t, LMM_DISABLE, 2);
	lmm_unwind(t);
	if (!t->failures && !hits)
		lmm_skip(t, "no allocation landed in the KFENCE pool in %d ms (%u tries)",
			 LMM_KFENCE_TIMEOUT_MS, tries);
#else
	lmm_skip(t, LMM_SKIP_CONFIG(CONFIG_KFENCE));
#endif
}

/*
 * DEBUG_PAGEALLOC maps a page in the linear map on allocation and unmaps
 * it on free: the seeds' case (a page allocated inside zap_pte_range()).
 */
void lmm_linear_map_debug_pagealloc(struct lmm_test *t)
{
	struct page *pg;
	u8 *va, byte;

	if (!debug_pagealloc_enabled()) {
		lmm_skip(t, IS_ENABLED(CONFIG_DEBUG_PAGEALLOC) ?
			 "boot with debug_pagealloc=on" :
			 LMM_SKIP_CONFIG(CONFIG_DEBUG_PAGEALLOC));
		return;
	}
	t->no_probe = true;
	lmm_do_n(t, LMM_ENABLE, 2);
	pg = alloc_page(GFP_ATOMIC);
	if (!pg) {
		lmm_fail(t, "GFP_ATOMIC allocation failed inside a section");
	} else {
		va = page_address(pg);
		lmm_expect_outer_intact(t, "after alloc_page() (linear map made valid)");
		memset(va, 0x42, PAGE_SIZE);
		if (READ_ONCE(va[PAGE_SIZE - 1]) != 0x42)
			lmm_fail(t, "page allocated inside a section not writable and readable at once");
		__free_page(pg);
		lmm_expect_outer_intact(t, "after __free_page() (linear map made invalid)");
		if (!copy_from_kernel_nofault(&byte, va, 1))
			lmm_fail(t, "freed page still readable through the linear map inside a section");
	}
	lmm_do_n(t, LMM_DISABLE, 2);
	lmm_unwind(t);
}
