/*
 * Files the supervisor writes for the sandbox (see sandbox_files.h).
 *
 * /etc/warden is the agent's documentation of its own cage: the policy it
 * runs under, exactly as the proxy enforces it, and how to ask for more.
 * It is a read-only mount of STATE_DIR/public, so the supervisor can
 * replace the files (write a temporary file, rename it over) on every
 * reload and the agent never reads a half-written one.  Nothing in it is
 * secret: credentials appear in the canonical policy only by name and
 * host-side source, never by value.
 */
#include "sandbox_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/util.h"
#include "../proxy/proxy.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif

static const char agents_md[] =
"# You are running inside a warden sandbox\n"
"\n"
"warden enforces a policy on this process tree from outside it: which files\n"
"exist and are writable, which system calls work, and which hosts each\n"
"program may reach. Nothing you run in here can change that policy, but you\n"
"can read it and you can ask a human to change it.\n"
"\n"
"## Read the policy\n"
"\n"
"- `/etc/warden/policy.yaml`: the running policy (read-only; it is replaced\n"
"  when the operator changes the policy, and its header names the revision\n"
"  and hash).\n"
"- `curl -s http://policy.local/v1/policy`: the same, as JSON, with the\n"
"  revision and hash.\n"
"\n"
"Network access is decided per connection: an entry of `network_policies`\n"
"must name both the endpoint (host and port) and the program connecting\n"
"(`binaries`). Everything else is denied.\n"
"\n"
"## See what was denied\n"
"\n"
"- A denied request gets HTTP 403 with a JSON body: `reason`, `rule`,\n"
"  `binary`, `host`, `port`, and a `propose` member with a ready-made\n"
"  proposal for exactly what was denied.\n"
"- `curl -s 'http://policy.local/v1/denials?last=20'`: this sandbox's recent\n"
"  denials.\n"
"\n"
"## Ask for access\n"
"\n"
"Propose a new or changed `network_policies` entry:\n"
"\n"
"```\n"
"curl -s http://policy.local/v1/proposals -H 'Content-Type: application/json' -d '{\n"
"  \"intent\": \"fetch the project's dependencies from the package index\",\n"
"  \"name\": \"package-index\",\n"
"  \"network_policy\": {\n"
"    \"endpoints\": [{\"host\": \"packages.example.org\", \"port\": 443}],\n"
"    \"binaries\": [{\"path\": \"/usr/bin/pip3\"}]\n"
"  }\n"
"}'\n"
"```\n"
"\n"
"The answer is `{\"id\": \"p-...\", \"status\": \"pending\"}`. Then wait for the\n"
"decision (up to 300 seconds per call):\n"
"\n"
"```\n"
"curl -s 'http://policy.local/v1/proposals/p-...?wait=60'\n"
"```\n"
"\n"
"`status` becomes `approved` (retry the request), `denied` (read `reason`)\n"
"or `expired`.\n"
"\n"
"- A human decides, on the host. There is no way to approve anything from\n"
"  inside the sandbox.\n"
"- The human sees your `intent` and `name` as you wrote them, marked as\n"
"  untrusted, next to the exact policy change and warden's own risk notes\n"
"  (wildcard hosts, private addresses, interpreters and shells given network\n"
"  access). Ask for the narrowest access that does the job and say why.\n"
"- Proposals are validated like any policy: errors come back with the same\n"
"  messages. Filesystem, process and Landlock settings are fixed when the\n"
"  sandbox starts and cannot be proposed.\n"
"- Asking repeatedly is rate-limited (HTTP 429). Repeating a denied proposal\n"
"  does not change the answer.\n"
"\n"
"Some sandboxes hold a denied connection while a human decides instead of\n"
"refusing it at once (`approvals.mode: ask`): the request then simply takes\n"
"longer, and fails with 403 if it is denied or nobody answers in time.\n";

/*
 * Write data to DIR/NAME through a temporary file and a rename; with
 * fresh (DIR was just made, nothing reads it yet) a file that is not
 * there yet is written in place, which saves the rename.
 */
static int
replace_file(const char *dir, const char *name, const char *data, size_t len, bool fresh,
    struct werr *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	if (fresh) {
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0) {
			if (fchmod(fd, 0644) < 0 || write_all(fd, data, len) < 0) {
				werr_sys(err, "write %s", path);
				close(fd);
				unlink(path);
				return -1;
			}
			close(fd);
			return 0;
		}
	}
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return werr_sys(err, "create %s", tmp);
	/*
	 * The mode must not depend on the umask: the agent reads it as
	 * "others".  No fsync: these files are views of the supervisor's
	 * memory, rewritten at every start and reload, and the rename alone
	 * keeps a reader from seeing half a file (an fsync here cost ~0.5 ms
	 * of every start on a disk-backed state directory).
	 */
	if (fchmod(fd, 0644) < 0 || write_all(fd, data, len) < 0) {
		werr_sys(err, "write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		werr_sys(err, "rename %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * In memory (memfd) rather than in the state directory: init copies it
 * into the sandbox and nothing else reads it, and a file created and
 * removed on every start is not free where the state directory is on a
 * disk (ext4 searches past recently freed inodes for a new one).
 */
int
sandbox_files_hosts(struct werr *err)
{
	static const char line[] = "\n# warden: the privacy router and the policy API\n"
	    "127.0.0.1\t" INFER_HOST " " POLICY_HOST "\n";
	char buf[65536];
	ssize_t n = 0;
	int in = open("/etc/hosts", O_RDONLY | O_CLOEXEC), out;

	out = memfd_create("warden-hosts", MFD_CLOEXEC);
	if (out < 0) {
		if (in >= 0)
			close(in);
		return werr_sys(err, "create the sandbox's /etc/hosts");
	}
	while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			break;
	if (in >= 0)
		close(in);
	if (n != 0 || write_all(out, line, sizeof(line) - 1) < 0) {
		werr_sys(err, "write the sandbox's /etc/hosts");
		close(out);
		return -1;
	}
	return out;
}

static int
write_policy(const char *dir, const struct policy *p, uint64_t rev, const char *hash,
    bool fresh, struct werr *err)
{
	char computed[65];
	char *canon;
	struct sbuf b;
	int r;

	if (mkdir(dir, 0755) < 0) {
		if (errno != EEXIST)
			return werr_sys(err, "mkdir %s", dir);
		fresh = false;
	}
	/* Whatever the umask: the agent's user must be able to list it. */
	if (chmod(dir, 0755) < 0)
		return werr_sys(err, "chmod %s", dir);
	if (!hash) {
		policy_hash(p, computed);
		hash = computed;
	}
	canon = policy_canonical(p);
	if (!canon)
		return werr_set(err, "cannot write the policy's canonical form");
	sbuf_init(&b, strlen(canon) + 4096);
	sbuf_addf(&b, "# The policy this sandbox runs under (warden), revision %llu\n"
	    "# sha256 %s\n"
	    "# Read-only: ask for changes at http://" POLICY_HOST " (see /etc/warden/AGENTS.md).\n"
	    "%s", (unsigned long long)rev, hash, canon);
	free(canon);
	r = replace_file(dir, "policy.yaml", b.p, b.len, fresh, err);
	sbuf_free(&b);
	if (r < 0)
		return -1;
	return replace_file(dir, "AGENTS.md", agents_md, sizeof(agents_md) - 1, fresh, err);
}

int
sandbox_files_write_policy(const char *dir, const struct policy *p, uint64_t rev,
    const char *hash, struct werr *err)
{
	return write_policy(dir, p, rev, hash, false, err);
}

int
sandbox_files_public(const char *state_dir, const struct policy *p, uint64_t rev,
    const char *hash, struct werr *err)
{
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s/public", state_dir);
	if (write_policy(dir, p, rev, hash, true, err) < 0)
		return -1;
	/*
	 * A mount the sandbox can attach in its own namespace whatever the
	 * state directory's permissions; a bind by path would be resolved
	 * with the agent's ids, which may not traverse a root-owned state
	 * directory.  Without privilege there is no such copy, and the
	 * directory is the caller's own: the sandbox binds it by its path.
	 */
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return werr_sys(err, "open %s", dir);
	return fd;
}
