/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every case of the suite, in run order: the one list that the scenario
 * table (lmm_cases[] in lmm_core.c), LMM_NCASES (lmm.h) and the KUnit
 * case table (kunit/lmm_kunit.c) are generated from.  A new case is a
 * line here and its function, void lmm_<name>(struct lmm_test *t), in
 * the file its group below names; a parameterised one also has its values
 * and their description there, LMM_DEFINE_PARAMS(name, ...) (lmm.h).
 *
 *	LMM_CASE(name, flags)
 *	LMM_PCASE(name, flags)		run once per value of lmm_params_<name>
 *
 * flags: 0 or an OR of LMM_LINK_SAFE, LMM_ANY_START and LMM_SLOW (lmm.h).
 * The includer defines both macros; this file undefines them, so that it
 * can be included again with other definitions.
 */

/* State and nesting (lmm_nesting.c) */
LMM_CASE(initial_state, LMM_LINK_SAFE)
LMM_CASE(fresh_kthread_state, LMM_LINK_SAFE | LMM_ANY_START)
LMM_CASE(documented_sequence, 0)
LMM_PCASE(nesting_depth, 0)
LMM_PCASE(pause_nesting, 0)
LMM_CASE(calls_ignored_while_paused, 0)
LMM_PCASE(counter_bounds, 0)
LMM_PCASE(random_walk, 0)
/* Interrupt context (lmm_context.c) */
LMM_CASE(irqs_disabled_is_task_context, 0)
LMM_PCASE(bh_disabled, 0)
LMM_PCASE(softirq, 0)
LMM_PCASE(hardirq, 0)
LMM_CASE(bh_disable_misuse_leaks_enable, 0)
/* Several tasks, sleeping, migration (lmm_task.c) */
LMM_CASE(per_task_state, 0)
LMM_CASE(sleep_and_migrate, 0)
LMM_CASE(sleep_at_max_pause, 0)
LMM_CASE(concurrent_walks, LMM_SLOW)	/* duration_ms: 1 s by default */
LMM_PCASE(misuse_warnings, 0)	/* lmm_nesting.c */
/* What the architecture defers (lmm_defer.c) */
LMM_CASE(arm64_pending_barriers, 0)
LMM_CASE(powerpc_preempt_count, 0)
LMM_CASE(powerpc_hash_tlb_batch, 0)
LMM_CASE(sparc64_preempt_count, 0)
LMM_CASE(sparc64_tlb_batch, 0)
LMM_CASE(pte_visibility, 0)
LMM_CASE(xen_pte_deferral, 0)
/* Kernel paths and sections of the kernel's own (lmm_kpaths.c) */
LMM_PCASE(nested_kernel_paths, 0)
LMM_PCASE(kernel_sections, LMM_LINK_SAFE)
LMM_CASE(alloc_faults, 0)
LMM_CASE(linear_map_kfence, 0)
LMM_CASE(linear_map_debug_pagealloc, 0)

#undef LMM_CASE
#undef LMM_PCASE
