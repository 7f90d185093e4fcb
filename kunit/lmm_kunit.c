// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit front end of the lazy MMU nesting test suite: each shared scenario
 * (scenarios/lmm_cases.h) becomes a KUnit case of a static table,
 * parameterised ones through a generator over the scenario's parameter
 * set, slow ones marked KUNIT_SPEED_SLOW.
 *
 * The suite is named lazy_mmu_nesting so that it runs beside upstream's
 * lazy_mmu_mode suite (mm/tests/lazy_mmu_mode_kunit.c) in the same boot.
 * Scenarios close their sections before a case ends, so no KUNIT_ASSERT
 * ever aborts a test thread inside an open section.
 */
#include <kunit/test.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/string.h>

#include "lmm.h"

static bool misuse;
module_param(misuse, bool, 0444);
MODULE_PARM_DESC(misuse, "also run misuse_warnings: provokes 4 VM_WARN_ON_ONCE warnings (CONFIG_DEBUG_VM), skipped where a warning panics (panic_on_warn, panic_on_taint with TAINT_WARN)");

/*
 * Failures seen where the test may not sleep (inside a powerpc hash
 * section, with interrupts disabled) are kept here and reported after the
 * case: KUNIT_FAIL() allocates with GFP_KERNEL.  Cases run one at a time.
 */
#define LMM_KUNIT_DEFERRED 8
static char lmm_deferred[LMM_KUNIT_DEFERRED][LMM_MSG_MAX];
static unsigned int lmm_ndeferred;

/* lmm_fail() lands here: one KUnit failure per scenario message. */
void lmm_report_failure(struct lmm_test *t, const char *msg)
{
	struct kunit *test = t->priv;

	if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !preemptible()) {
		if (lmm_ndeferred < LMM_KUNIT_DEFERRED)
			strscpy(lmm_deferred[lmm_ndeferred], msg, LMM_MSG_MAX);
		lmm_ndeferred++;
		return;
	}
	KUNIT_FAIL(test, "%s", msg);
}

static void lmm_report_deferred(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < min(lmm_ndeferred, LMM_KUNIT_DEFERRED); i++)
		KUNIT_FAIL(test, "%s", lmm_deferred[i]);
	if (lmm_ndeferred > LMM_KUNIT_DEFERRED)
		KUNIT_FAIL(test, "... and %u more failure(s) seen in atomic context",
			   lmm_ndeferred - LMM_KUNIT_DEFERRED);
	lmm_ndeferred = 0;
}

/* User memory for the test thread, released by KUnit after the case. */
static unsigned long lmm_kunit_user_mmap(struct lmm_test *t, unsigned long len)
{
	return kunit_vm_mmap(t->priv, NULL, 0, len, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
}

static void lmm_kunit_run(struct kunit *test, const struct lmm_case *c)
{
	struct lmm_test t = {
		.priv = test, .param = test->param_value,
		.user_mmap = lmm_kunit_user_mmap,
	};

	lmm_misuse = misuse;
	if (c == &lmm_cases[0])		/* once per run */
		kunit_info(test, "api: %s (generation %d), arch flag: %s\n",
			   LMM_API_NAME, LMM_API_GEN, lmm_arch_flag_name());
	lmm_ndeferred = 0;
	lmm_run_case(c, &t);
	lmm_report_deferred(test);
	if (t.skipped && !t.failures)
		kunit_skip(test, "%s", t.skip_reason);
}

#ifndef LMM_KUNIT_GEN_HAS_TEST
#error "KUnit parameter generators without a struct kunit argument are not supported"
#endif

/* Generator over a case's parameter set (prev == NULL: the first value). */
static const void *lmm_kunit_gen(const struct lmm_params *ps, const void *prev,
				 char *desc)
{
	unsigned int i = prev ? ((const char *)prev - (const char *)ps->values) /
				ps->size + 1 : 0;

	if (i >= ps->count)
		return NULL;
	ps->desc(lmm_param_at(ps, i), desc);
	return lmm_param_at(ps, i);
}

/* ===== Test cases ===== */

/*
 * One KUnit case per entry of scenarios/lmm_cases.h, named after it:
 * KUNIT_CASE_ATTR() and KUNIT_CASE_PARAM_ATTR() name a case after its
 * function, so the function bears the scenario's name, and a
 * parameterised case gets a generator <name>_gen_params() over its
 * parameter set.
 */
#define LMM_KUNIT_CASE_FN(name)						\
	static void name(struct kunit *test)				\
	{								\
		lmm_kunit_run(test, &lmm_cases[LMM_ID_##name]);		\
	}
#define LMM_CASE(name, ...) LMM_KUNIT_CASE_FN(name)
#define LMM_PCASE(name, ...)						\
	LMM_KUNIT_CASE_FN(name)						\
	static const void *name##_gen_params(struct kunit *test,	\
					     const void *prev, char *desc) \
	{								\
		return lmm_kunit_gen(&lmm_params_##name, prev, desc);	\
	}
#include "lmm_cases.h"

/* A case flagged LMM_SLOW is KUNIT_SPEED_SLOW (kunit.py --filter). */
#define LMM_KUNIT_ATTR(flags)						\
	{ .speed = (flags) & LMM_SLOW ? KUNIT_SPEED_SLOW : KUNIT_SPEED_UNSET }

static struct kunit_case lmm_kunit_cases[] = {
#define LMM_CASE(name, flags)						\
	KUNIT_CASE_ATTR(name, LMM_KUNIT_ATTR(flags)),
#define LMM_PCASE(name, flags)						\
	KUNIT_CASE_PARAM_ATTR(name, name##_gen_params, LMM_KUNIT_ATTR(flags)),
#include "lmm_cases.h"
	{}
};

/* Ties kernel warnings printed during a case to that case. */
static int lmm_kunit_suite_init(struct kunit_suite *suite)
{
	lmm_watch_start();
	return 0;
}

static void lmm_kunit_suite_exit(struct kunit_suite *suite)
{
	lmm_watch_stop();
}

static struct kunit_suite lmm_kunit_suite = {
	.name = "lazy_mmu_nesting",
	.suite_init = lmm_kunit_suite_init,
	.suite_exit = lmm_kunit_suite_exit,
	.test_cases = lmm_kunit_cases,
};
kunit_test_suite(lmm_kunit_suite);

MODULE_DESCRIPTION("KUnit tests of the lazy MMU mode nesting API");
MODULE_LICENSE("GPL");
