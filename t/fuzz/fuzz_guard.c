/*
 * fuzz_guard.c: libFuzzer target for the statement guard (server/guard.c, on libpg_query) and
 * the column policies it enforces (server/policy.c).
 *
 * Input: byte 0 picks the guard policy and whether column policies apply, the rest is SQL.
 * Oracles: an allowed statement's slice lies inside the text, a refusal says why, and the
 * cached verdict (second call) is the one first computed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "guard.h"
#include "policy.h"
#include "util.h"

static struct policies ps;

static void
make_policies(void)
{
	static char *deny[] = { "email" }, *mask[] = { "full_name" };

	ps.p = xcalloc(1, sizeof(*ps.p));
	ps.n = 1;
	ps.p[0].schema = xstrdup("sales");
	ps.p[0].table = xstrdup("customers");
	ps.p[0].deny = deny;
	ps.p[0].n_deny = 1;
	ps.p[0].mask = mask;
	ps.p[0].n_mask = 1;
	ps.p[0].mask_with = xstrdup("[masked]");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guard_verdict v, again;
	enum guard_policy policy;
	size_t len;
	char *sql;

	if (ps.n == 0) {
		fuzz_quiet();
		make_policies();
	}
	if (size < 1)
		return 0;
	policy_install(data[0] & 4 ? &ps : NULL);
	policy = (enum guard_policy)(data[0] % 3);
	len = size - 1;
	sql = xmalloc(size);
	memcpy(sql, data + 1, len);
	sql[len] = '\0';
	guard_check(policy, sql, len, &v);
	if (v.allowed && (v.stmt_location < 0 || v.stmt_len < 0 ||
	    (size_t)v.stmt_location + (size_t)v.stmt_len > len))
		abort();	/* the statement slice must lie inside the text */
	if (!v.allowed && (v.reason[0] == '\0' || v.sqlstate == NULL))
		abort();
	if (v.max_param < 0 || (v.max_param > 0 && !v.has_params))
		abort();
	guard_check(policy, sql, len, &again);
	if (again.allowed != v.allowed || again.kind != v.kind ||
	    again.stmt_location != v.stmt_location || again.stmt_len != v.stmt_len ||
	    again.max_param != v.max_param || strcmp(again.reason, v.reason) != 0)
		abort();
	free(sql);
	return 0;
}
