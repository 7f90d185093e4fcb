// SPDX-License-Identifier: GPL-2.0-only
/*
 * Plain test module for the lazy MMU nesting series: runs the shared
 * scenarios (scenarios/) at load time and prints KTAP v1 in the layout
 * KUnit uses, so that kernels without KUnit (Debian's) can run the suite
 * and the same parsers read both.
 *
 * insmod fails (-EINVAL) when a case failed or a parameter is invalid, so
 * that its exit status tells.  The last run's KTAP is kept in
 * /sys/kernel/debug/lazy_mmu_test/results while the module is loaded;
 * task_state there shows the reading task's own E and P, cases the names
 * of the cases.
 */
/*
 * KTAP lines must reach the log unprefixed, so pr_info() prints them as
 * they are and the module's own messages carry the prefix through
 * lmm_err().
 */
#define pr_fmt(fmt) fmt
#define lmm_err(fmt, ...) pr_err(KBUILD_MODNAME ": " fmt, ##__VA_ARGS__)

#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/utsname.h>

#include "lmm.h"

#define LMM_SUITE "lazy_mmu_nesting"

static char *cases;
module_param(cases, charp, 0444);
MODULE_PARM_DESC(cases, "comma-separated case names to run, optionally case:param_index (default: all)");

static char *seed;
module_param(seed, charp, 0444);
MODULE_PARM_DESC(seed, "base seed of the random walks, 0x-prefixed or decimal u64 (default 0x1a2b3c4d)");

static unsigned int walk_steps = 2000;
module_param(walk_steps, uint, 0444);
MODULE_PARM_DESC(walk_steps, "calls per random walk, 1..1000000 (default 2000)");

static unsigned int threads;
module_param(threads, uint, 0444);
MODULE_PARM_DESC(threads, "walker threads of concurrent_walks, 1..64 (default 0: two per CPU, at most 8)");

static unsigned int duration_ms = 1000;
module_param(duration_ms, uint, 0444);
MODULE_PARM_DESC(duration_ms, "duration of concurrent_walks in ms, 1..60000, below the hung-task timeout (default 1000)");

static bool misuse;
module_param(misuse, bool, 0444);
MODULE_PARM_DESC(misuse, "also run misuse_warnings: provokes 4 VM_WARN_ON_ONCE warnings on CONFIG_DEBUG_VM kernels, skipped where a warning panics: panic_on_warn, panic_on_taint with TAINT_WARN (default N)");

static char *init_mm_symbol;
module_param(init_mm_symbol, charp, 0444);
MODULE_PARM_DESC(init_mm_symbol, "the kallsyms name taken for init_mm (default init_mm; another, e.g. init_task, shows the check that refuses a wrong one)");

static bool run = true;
module_param(run, bool, 0444);
MODULE_PARM_DESC(run, "run the cases at load time (default Y)");

/* ===== KTAP output: printk and a buffer for debugfs ===== */

#define LMM_OUT_MAX (256 * 1024)

static char *lmm_out;
static struct debugfs_blob_wrapper lmm_blob;
static struct dentry *lmm_dir;

static __printf(2, 3) void ktap(int indent, const char *fmt, ...)
{
	char line[LMM_MSG_MAX + 64];
	va_list args;
	int n;

	n = snprintf(line, sizeof(line), "%*s", indent * 4, "");
	va_start(args, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, args);
	va_end(args);
	pr_info("%s\n", line);
	if (lmm_out && lmm_blob.size + strlen(line) + 2 < LMM_OUT_MAX)
		lmm_blob.size += scnprintf(lmm_out + lmm_blob.size,
					   LMM_OUT_MAX - lmm_blob.size,
					   "%s\n", line);
}

/* Failure messages of the running case, printed before its result line. */
struct lmm_kmod_run {
	int indent;
};

void lmm_report_failure(struct lmm_test *t, const char *msg)
{
	struct lmm_kmod_run *r = t->priv;

	ktap(r->indent, "# %s", msg);
}

/* ===== Parameters ===== */

/* Selection per case: a param index, -1 for all, -2 when not selected. */
static int lmm_selected[LMM_NCASES];

static int lmm_parse_params(void)
{
	char *buf, *s, *tok;
	unsigned int i;
	int ret = 0;

	if (walk_steps < 1 || walk_steps > 1000000) {
		lmm_err("invalid walk_steps=%u: must be 1..1000000\n", walk_steps);
		return -EINVAL;
	}
	lmm_walk_steps = walk_steps;
	if (threads > 64) {
		lmm_err("invalid threads=%u: must be 1..64 (or 0 for automatic)\n", threads);
		return -EINVAL;
	}
	lmm_stress_threads = threads;
	if (duration_ms < 1 || duration_ms > 60000) {
		lmm_err("invalid duration_ms=%u: must be 1..60000\n", duration_ms);
		return -EINVAL;
	}
	lmm_stress_ms = duration_ms;
	lmm_misuse = misuse;
	if (init_mm_symbol && *init_mm_symbol)
		lmm_init_mm_symbol = init_mm_symbol;

	if (seed) {
		u64 v;

		if (kstrtou64(seed, 0, &v)) {
			lmm_err("invalid seed='%s': not a u64\n", seed);
			return -EINVAL;
		}
		lmm_seed_base = v;
	}

	/* No selection: every case, with all its parameters. */
	if (!cases || !*cases) {
		for (i = 0; i < LMM_NCASES; i++)
			lmm_selected[i] = -1;
		return 0;
	}
	for (i = 0; i < LMM_NCASES; i++)
		lmm_selected[i] = -2;

	buf = kstrdup(cases, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	s = buf;
	while ((tok = strsep(&s, ",")) != NULL) {
		char *colon = strchr(tok, ':');
		int idx = -1;

		if (!*tok)
			continue;
		if (colon) {
			*colon = '\0';
			if (kstrtoint(colon + 1, 10, &idx) || idx < 0) {
				lmm_err("invalid case parameter index in '%s:%s'\n", tok, colon + 1);
				ret = -EINVAL;
				break;
			}
		}
		for (i = 0; i < LMM_NCASES; i++)
			if (!strcmp(tok, lmm_cases[i].name))
				break;
		if (i == LMM_NCASES) {
			lmm_err("unknown case '%s' in cases=\n", tok);
			ret = -EINVAL;
			break;
		}
		if (idx >= 0 && idx >= (int)lmm_nparams(&lmm_cases[i])) {
			lmm_err("case '%s' has %u parameters, index %d is out of range\n",
			       tok, lmm_nparams(&lmm_cases[i]), idx);
			ret = -EINVAL;
			break;
		}
		lmm_selected[i] = idx;
	}
	kfree(buf);
	return ret;
}

/* ===== Running ===== */

enum lmm_result { LMM_PASS, LMM_FAIL, LMM_SKIP };

static enum lmm_result lmm_run_one(const struct lmm_case *c,
				   const void *p, int indent,
				   unsigned int num, const char *name,
				   char *skip_reason)
{
	struct lmm_kmod_run r = { .indent = indent };
	struct lmm_test t = { .priv = &r, .param = p };

	lmm_run_case(c, &t);
	if (t.failures) {
		ktap(indent, "not ok %u %s", num, name);
		return LMM_FAIL;
	}
	if (t.skipped) {
		ktap(indent, "ok %u %s # SKIP %s", num, name, t.skip_reason);
		if (skip_reason)
			strscpy(skip_reason, t.skip_reason, LMM_MSG_MAX);
		return LMM_SKIP;
	}
	ktap(indent, "ok %u %s", num, name);
	return LMM_PASS;
}

static enum lmm_result lmm_run_param_case(const struct lmm_case *c, int only,
					  unsigned int num)
{
	const struct lmm_params *ps = c->params;
	unsigned int i, n = 0, pass = 0, fail = 0, skip = 0;
	char desc[LMM_DESC_MAX];
	char reason[LMM_MSG_MAX] = "all parameters skipped";

	ktap(2, "KTAP version 1");
	ktap(2, "# Subtest: %s", c->name);
	ktap(2, "1..%u", only >= 0 ? 1 : ps->count);
	for (i = 0; i < ps->count; i++) {
		if (only >= 0 && i != only)
			continue;
		ps->desc(lmm_param_at(ps, i), desc);
		switch (lmm_run_one(c, lmm_param_at(ps, i), 2, ++n, desc, reason)) {
		case LMM_PASS:
			pass++;
			break;
		case LMM_FAIL:
			fail++;
			break;
		case LMM_SKIP:
			skip++;
			break;
		}
		cond_resched();
	}
	ktap(1, "# %s: pass:%u fail:%u skip:%u total:%u", c->name, pass,
	     fail, skip, n);
	if (fail) {
		ktap(1, "not ok %u %s", num, c->name);
		return LMM_FAIL;
	}
	if (!pass) {
		ktap(1, "ok %u %s # SKIP %s", num, c->name, reason);
		return LMM_SKIP;
	}
	ktap(1, "ok %u %s", num, c->name);
	return LMM_PASS;
}

static int lmm_run_all(void)
{
	unsigned int i, n = 0, total = 0, pass = 0, fail = 0, skip = 0;
	bool killed = false;

	lmm_blob.size = 0;
	for (i = 0; i < LMM_NCASES; i++)
		total += lmm_selected[i] != -2;

	ktap(0, "KTAP version 1");
	ktap(0, "1..1");
	ktap(1, "KTAP version 1");
	ktap(1, "# Subtest: " LMM_SUITE);
	ktap(1, "# module: " KBUILD_MODNAME);
	ktap(1, "# kernel: %s %s, api: %s (generation %d), arch flag: %s%s",
	     init_utsname()->release, init_utsname()->machine, LMM_API_NAME,
	     LMM_API_GEN, lmm_arch_flag_name(),
	     LMM_TESTABLE && !LMM_CALLABLE ? ", link-safe build (API calls left out)" : "");
	ktap(1, "# seed: 0x%llx, walk_steps: %u, threads: %u, duration_ms: %u",
	     lmm_seed_base, lmm_walk_steps, lmm_stress_threads, lmm_stress_ms);
	ktap(1, "1..%u", total);

	for (i = 0; i < LMM_NCASES; i++) {
		const struct lmm_case *c = &lmm_cases[i];
		enum lmm_result res;

		if (lmm_selected[i] == -2)
			continue;
		if (fatal_signal_pending(current)) {
			ktap(1, "# %s: the loading task was killed: this case and the rest are not run",
			     c->name);
			killed = true;
			break;
		}
		if (c->params)
			res = lmm_run_param_case(c, lmm_selected[i], ++n);
		else
			res = lmm_run_one(c, NULL, 1, ++n, c->name, NULL);
		pass += res == LMM_PASS;
		fail += res == LMM_FAIL;
		skip += res == LMM_SKIP;
		cond_resched();
	}
	ktap(0, "# " LMM_SUITE ": pass:%u fail:%u skip:%u total:%u", pass,
	     fail, skip, n);
	if (fail || killed)
		ktap(0, "not ok 1 " LMM_SUITE);
	else if (!pass)
		ktap(0, "ok 1 " LMM_SUITE " # SKIP no case ran");
	else
		ktap(0, "ok 1 " LMM_SUITE);
	ktap(0, "# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0",
	     pass, fail, skip);
	if (killed)
		return -EINTR;
	return fail ? -EINVAL : 0;
}

/*
 * /sys/kernel/debug/lazy_mmu_test/task_state: the reading task's own lazy
 * MMU state, so that scripts can check tasks at any fork depth (the guest
 * init reads it from nested shells).
 */
static int lmm_task_state_show(struct seq_file *m, void *v)
{
	if (lmm_untestable_reason()) {
		seq_printf(m, "unavailable: %s\n", lmm_untestable_reason());
		return 0;
	}
	seq_printf(m, "comm=%s pid=%d E=%u P=%u predicate=%d api=%s\n",
		   current->comm, task_pid_nr(current), lmm_task_e(current),
		   lmm_task_p(current), lmm_predicate(), LMM_API_NAME);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(lmm_task_state);

/*
 * /sys/kernel/debug/lazy_mmu_test/cases: every case the module knows, in
 * run order, one per line; a parameterised case is followed by a line
 * "case:N description" per parameter, the names cases= takes.  Load with
 * run=0 to list without running anything (lazy_mmu_test.sh --list).
 */
static int lmm_cases_show(struct seq_file *m, void *v)
{
	char desc[LMM_DESC_MAX];
	unsigned int i, j;

	for (i = 0; i < LMM_NCASES; i++) {
		const struct lmm_case *c = &lmm_cases[i];

		seq_printf(m, "%s\n", c->name);
		for (j = 0; j < lmm_nparams(c); j++) {
			c->params->desc(lmm_param_at(c->params, j), desc);
			seq_printf(m, "%s:%u %s\n", c->name, j, desc);
		}
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(lmm_cases);

static int __init lmm_kmod_init(void)
{
	int ret;

	ret = lmm_parse_params();
	if (ret)
		return ret;
	lmm_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("task_state", 0444, lmm_dir, NULL, &lmm_task_state_fops);
	debugfs_create_file("cases", 0444, lmm_dir, NULL, &lmm_cases_fops);
	if (!run)
		return 0;

	lmm_out = vzalloc(LMM_OUT_MAX);
	if (!lmm_out) {
		debugfs_remove_recursive(lmm_dir);
		return -ENOMEM;
	}
	lmm_blob.data = lmm_out;

	if (lmm_watch_start())
		lmm_err("no console tracepoint probe: stray kernel reports are not tied to cases\n");
	ret = lmm_run_all();
	lmm_watch_stop();
	if (ret) {
		lmm_err("test cases failed: see the KTAP output above\n");
		debugfs_remove_recursive(lmm_dir);
		vfree(lmm_out);
		lmm_out = NULL;
		return ret;
	}
	debugfs_create_blob("results", 0444, lmm_dir, &lmm_blob);
	return 0;
}

static void __exit lmm_kmod_exit(void)
{
	debugfs_remove_recursive(lmm_dir);
	vfree(lmm_out);
}

module_init(lmm_kmod_init);
module_exit(lmm_kmod_exit);

MODULE_DESCRIPTION("Tests of the lazy MMU mode nesting API (plain module, KTAP output)");
MODULE_LICENSE("GPL");
