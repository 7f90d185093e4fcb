// SPDX-License-Identifier: GPL-2.0-only
/*
 * Minimal insmod for the test guest.  busybox's insmod retries a failed
 * finit_module() with init_module(), which would run a failing test module
 * twice; this one loads once and reports the error.
 *
 *   lmm-insmod MODULE.ko [param=value...]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len = 1;
	char *params;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: lmm-insmod MODULE.ko [param=value...]\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		len += strlen(argv[i]) + 1;
	params = calloc(1, len);
	if (!params)
		return 1;
	for (i = 2; i < argc; i++) {
		strcat(params, argv[i]);
		if (i + 1 < argc)
			strcat(params, " ");
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "lmm-insmod: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (syscall(SYS_finit_module, fd, params, 0)) {
		fprintf(stderr, "lmm-insmod: cannot insert %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	return 0;
}
