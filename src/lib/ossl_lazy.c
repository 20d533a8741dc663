/*
 * OpenSSL loaded on first use: the other half of ossl_stubs.S.
 *
 * The first call to any OpenSSL function comes here (through
 * warden_ossl_slow) and loads warden-openssl.so: OpenSSL as Debian ships
 * it for static linking, with one exported table of the functions warden
 * calls (ossl_module.c), its own symbols kept local.  The module is
 * looked for next to the running warden (a build tree, or an install
 * where both sit in one directory), then where `make install` puts it.
 * It is code in the supervisor's own address space, so it is loaded only
 * from a file owned by root or by warden's user and writable by no one
 * else.  Loading cannot be undone and is done once for all threads.
 *
 * A warden that cannot load it cannot go on with whatever needed TLS,
 * keys or certificates: it says so and exits with 125 (warden failed), as
 * it would for any broken installation.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

#define MODULE "warden-openssl.so"

/* ossl_stubs.S */
extern void *warden_ossl_fn[] __attribute__((visibility("hidden")));
extern const unsigned int warden_ossl_nstubs __attribute__((visibility("hidden")));
void warden_ossl_resolve(void) __attribute__((visibility("hidden")));

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[PATH_MAX + 256];

/* 0: loaded from path; -1: not there (failure untouched); -2: refused or broken. */
static int
load_from(const char *path)
{
	char byfd[64];
	struct stat st;
	void *h;
	void (*const *table)(void);
	const unsigned int *count;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	/* The file checked is the file loaded: through its fd, not its name again. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		snprintf(failure, sizeof(failure), "%s: refused: it must be a file owned by root "
		    "or by this user and writable by no one else", path);
		return -2;
	}
	snprintf(byfd, sizeof(byfd), "/proc/self/fd/%d", fd);
	h = dlopen(byfd, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (!h) {
		snprintf(failure, sizeof(failure), "%s: %s", path, dlerror());
		return -2;
	}
	table = dlsym(h, "warden_ossl_table");
	count = dlsym(h, "warden_ossl_count");
	if (!table || !count || *count != warden_ossl_nstubs) {
		snprintf(failure, sizeof(failure), "%s does not belong to this warden "
		    "(it has %u functions, warden calls %u): reinstall both", path,
		    count ? *count : 0, warden_ossl_nstubs);
		return -2;
	}
	for (unsigned int i = 0; i < warden_ossl_nstubs; i++) {
		void *fn;

		/* A function pointer's bits, as the stubs jump to them. */
		memcpy(&fn, &table[i], sizeof(fn));
		__atomic_store_n(&warden_ossl_fn[i], fn, __ATOMIC_RELEASE);
	}
	return 0;
}

static void
load(void)
{
	char self[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int r = -1;

	if (n > 0) {
		self[n] = '\0';
		if (strrchr(self, '/')) {
			*strrchr(self, '/') = '\0';
			snprintf(path, sizeof(path), "%s/" MODULE, self);
			r = load_from(path);
		}
	}
	if (r == -1) {
		snprintf(path, sizeof(path), "%s/warden/" MODULE, WARDEN_LIBEXECDIR);
		r = load_from(path);
	}
	if (r == -1)
		snprintf(failure, sizeof(failure), MODULE " was found neither next to warden "
		    "nor at %s", path);
	if (r < 0 && !failure[0])
		snprintf(failure, sizeof(failure), "cannot load " MODULE);
}

void
warden_ossl_resolve(void)
{
	pthread_once(&once, load);
	if (failure[0]) {
		/* One write: this may run on any thread, at any point. */
		char msg[sizeof(failure) + 64];
		int l = snprintf(msg, sizeof(msg), "warden: cannot load OpenSSL: %s\n", failure);

		size_t len = l < (int)sizeof(msg) ? (size_t)l : sizeof(msg) - 1;

		while (write(STDERR_FILENO, msg, len) < 0 && errno == EINTR)
			;
		_exit(WEXIT_FAILURE);
	}
}
