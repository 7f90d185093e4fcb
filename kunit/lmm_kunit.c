// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit front end of the lazy MMU nesting test suite: each shared scenario
 * (scenarios/lmm_scenarios.c) becomes a KUnit case, parameterised ones
 * through a generator over the scenario's parameter table.
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
	if (c == lmm_cases[0])		/* once per run */
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

/* The scenario a KUnit case runs: KUnit names the case after it. */
static const struct lmm_case *lmm_kunit_case_of(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < LMM_NCASES; i++)
		if (!strcmp(lmm_cases[i]->name, test->name))
			return lmm_cases[i];
	return NULL;
}

static void lmm_kunit_case(struct kunit *test)
{
	const struct lmm_case *c = lmm_kunit_case_of(test);

	KUNIT_ASSERT_NOT_NULL_MSG(test, c, "no scenario named %s", test->name);
	lmm_kunit_run(test, c);
}

/* Generator over a case's parameter table (prev == NULL: first one). */
static const void *lmm_kunit_gen(struct kunit *test, const void *prev,
				 char *desc)
{
	const struct lmm_case *c = lmm_kunit_case_of(test);
	const struct lmm_param *p = prev;

	if (!c)
		return NULL;
	p = p ? p + 1 : c->params;
	if (p >= c->params + c->nparams)
		return NULL;
	c->desc(p, desc);
	return p;
}

/*
 * One KUnit case per shared scenario, filled in from lmm_cases[] at init
 * (before KUnit runs the suite: at module load, or after all initcalls
 * when built in).
 */
static struct kunit_case lmm_kunit_cases[LMM_NCASES + 1];

static int __init lmm_kunit_init(void)
{
	unsigned int i;

	for (i = 0; i < LMM_NCASES; i++) {
		lmm_kunit_cases[i].name = lmm_cases[i]->name;
		lmm_kunit_cases[i].run_case = lmm_kunit_case;
		lmm_kunit_cases[i].module_name = KBUILD_MODNAME;
		if (lmm_cases[i]->nparams)
			lmm_kunit_cases[i].generate_params = lmm_kunit_gen;
	}
	return 0;
}
module_init(lmm_kunit_init);

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
