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

#include "lmm.h"

static bool misuse;
module_param(misuse, bool, 0444);
MODULE_PARM_DESC(misuse, "also run misuse_warnings: provokes 4 VM_WARN_ON_ONCE warnings (CONFIG_DEBUG_VM), refused under panic_on_warn");

/* lmm_fail() lands here: one KUnit failure per scenario message. */
void lmm_report_failure(struct lmm_test *t, const char *msg)
{
	struct kunit *test = t->priv;

	KUNIT_FAIL(test, "%s", msg);
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
	if (c == &lmm_case_initial_state)
		kunit_info(test, "api: %s (generation %d), arch flag: %s\n",
			   LMM_API_NAME, LMM_API_GEN, lmm_arch_flag_name());
	lmm_run_case(c, &t);
	if (t.skipped && !t.failures)
		kunit_skip(test, "%s", t.skip_reason);
}

/* Generator over a case's parameter table (prev == NULL: first one). */
static const void *lmm_kunit_gen(const struct lmm_case *c, const void *prev,
				 char *desc)
{
	const struct lmm_param *p = prev;

	p = p ? p + 1 : c->params;
	if (p >= c->params + c->nparams)
		return NULL;
	c->desc(p, desc);
	return p;
}

#ifdef LMM_KUNIT_GEN_HAS_TEST
#define LMM_GEN_ARGS struct kunit *test, const void *prev, char *desc
#else
#define LMM_GEN_ARGS const void *prev, char *desc
#endif

/* KUnit names a case after its function: use the scenario's name. */
#define LMM_KUNIT_CASE_FN(name)						\
	static void name(struct kunit *test)				\
	{								\
		lmm_kunit_run(test, &lmm_case_##name);			\
	}
#define LMM_KUNIT_PCASE_FN(name)					\
	LMM_KUNIT_CASE_FN(name)						\
	static const void *lmm_kunit_gen_##name(LMM_GEN_ARGS)		\
	{								\
		return lmm_kunit_gen(&lmm_case_##name, prev, desc);	\
	}
LMM_CASES(LMM_KUNIT_CASE_FN, LMM_KUNIT_PCASE_FN)

#define LMM_KUNIT_CASE(name) KUNIT_CASE(name),
#define LMM_KUNIT_PCASE(name) KUNIT_CASE_PARAM(name, lmm_kunit_gen_##name),
static struct kunit_case lmm_kunit_cases[] = {
	LMM_CASES(LMM_KUNIT_CASE, LMM_KUNIT_PCASE)
	{}
};

static struct kunit_suite lmm_kunit_suite = {
	.name = "lazy_mmu_nesting",
	.test_cases = lmm_kunit_cases,
};
kunit_test_suite(lmm_kunit_suite);

MODULE_DESCRIPTION("KUnit tests of the lazy MMU mode nesting API");
MODULE_LICENSE("GPL");
