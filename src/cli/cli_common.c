#include "cli.h"

#include "../proxy/proxy.h"

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../proxy/cred.h"

extern char **environ;

/* Variables that carry no secrets and that programs expect. */
static const char *const safe_env[] = {
	"PATH", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_*", "TZ", "COLORTERM", "NO_COLOR",
};

bool
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

static int
lookup_uid(const char *s, uid_t *uid, struct werr *err)
{
	uint64_t v;
	struct passwd *pw;

	if (parse_u64(s, &v) == 0) {
		*uid = (uid_t)v;
		return 0;
	}
	errno = 0;
	pw = getpwnam(s);
	if (!pw)
		return werr_set(err, "process.run_as_user: no such user '%s' on this host", s);
	*uid = pw->pw_uid;
	return 0;
}

/* The fields of a passwd entry that the agent's identity needs. */
struct account {
	bool found;
	gid_t gid;
	char name[64];
	char dir[4096];
};

/*
 * Find uid in /etc/passwd, read directly.  Every start needs one account,
 * and getpwuid() first reads nsswitch.conf and tries nscd's socket, which
 * costs several times more than this for what is, on almost every host, a
 * line of /etc/passwd (NSS's "files").  Returns false when the file has no
 * usable entry for uid; the caller then asks NSS (LDAP, sssd, systemd...).
 * Lines of the NIS compat syntax ('+', '-') are skipped, as is anything
 * that does not have the seven fields.
 */
static bool
passwd_file_lookup(uid_t uid, struct account *a)
{
	_cleanup_free_ char *text = NULL;
	struct werr e = { 0 };
	char *line, *next;

	if (read_file("/etc/passwd", 16 << 20, &text, NULL, &e) < 0)
		return false;
	for (line = text; line && *line; line = next) {
		char *f[7], *c;
		size_t nf;
		uint64_t v;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '+' || *line == '-' || *line == '#')
			continue;
		f[0] = line;
		for (nf = 1; nf < 7 && (c = strchr(f[nf - 1], ':')); nf++) {
			*c = '\0';
			f[nf] = c + 1;
		}
		if (nf != 7 || parse_u64(f[2], &v) < 0 || v != uid)
			continue;
		if (!f[0][0] || strlen(f[0]) >= sizeof(a->name) || strlen(f[5]) >= sizeof(a->dir) ||
		    parse_u64(f[3], &v) < 0 || v > UINT32_MAX - 1)
			return false;
		a->gid = (gid_t)v;
		snprintf(a->name, sizeof(a->name), "%s", f[0]);
		snprintf(a->dir, sizeof(a->dir), "%s", f[5]);
		a->found = true;
		return true;
	}
	return false;
}

static void
account_lookup(uid_t uid, struct account *a)
{
	struct passwd *pw;

	memset(a, 0, sizeof(*a));
	if (passwd_file_lookup(uid, a))
		return;
	memset(a, 0, sizeof(*a));
	if (!(pw = getpwuid(uid)) || strlen(pw->pw_name) >= sizeof(a->name) ||
	    strlen(pw->pw_dir) >= sizeof(a->dir))
		return;
	a->found = true;
	a->gid = pw->pw_gid;
	snprintf(a->name, sizeof(a->name), "%s", pw->pw_name);
	snprintf(a->dir, sizeof(a->dir), "%s", pw->pw_dir);
}

int
resolve_identity(const struct policy *p, struct agent_ident *id, struct werr *err)
{
	struct account acct = { 0 };
	const char *home;

	memset(id, 0, sizeof(*id));
	if (getuid() != 0) {
		/* Rootless: the agent is the caller; run_as_* would need privilege. */
		if (p->run_as_user || p->run_as_group)
			log_warnx("process.run_as_user/run_as_group ignored: warden runs rootless, so "
			    "the agent runs as the calling user (uid %u)", (unsigned)getuid());
		id->uid = getuid();
		id->gid = getgid();
	} else if (p->run_as_user) {
		if (lookup_uid(p->run_as_user, &id->uid, err) < 0)
			return -1;
		account_lookup(id->uid, &acct);
		id->gid = acct.found ? acct.gid : (gid_t)id->uid;
	} else {
		/* Root without run_as_user: the sudo caller, else nobody. */
		const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
		uint64_t u, g;
		if (su && sg && parse_u64(su, &u) == 0 && parse_u64(sg, &g) == 0 && u != 0) {
			id->uid = (uid_t)u;
			id->gid = (gid_t)g;
		} else {
			id->uid = 65534;
			id->gid = 65534;
		}
	}
	if (getuid() == 0 && p->run_as_group) {
		uint64_t v;
		struct group *gr;
		if (parse_u64(p->run_as_group, &v) == 0)
			id->gid = (gid_t)v;
		else if ((gr = getgrnam(p->run_as_group)))
			id->gid = gr->gr_gid;
		else
			return werr_set(err, "process.run_as_group: no such group '%s' on this host",
			    p->run_as_group);
	}
	if (id->uid == 0 || id->gid == 0)
		return werr_set(err, "the agent never runs as root (uid/gid 0)");
	if (!acct.found)
		account_lookup(id->uid, &acct);
	snprintf(id->user, sizeof(id->user), "%s", acct.found ? acct.name : "sandbox");
	home = getuid() != 0 ? getenv("HOME") : NULL;
	if (!home || home[0] != '/' || path_problem(home) || strcmp(home, "/") == 0)
		home = acct.found && acct.dir[0] == '/' && strcmp(acct.dir, "/") != 0 &&
		    !path_problem(acct.dir) && strcmp(acct.dir, "/nonexistent") != 0 ?
		    acct.dir : NULL;
	if (!home)
		home = "/home/sandbox";
	snprintf(id->home, sizeof(id->home), "%s", home);
	return 0;
}

static void
env_put(struct strv *out, const char *name, const char *value)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < out->n; i++)
		if (strncmp(out->v[i], name, n) == 0 && out->v[i][n] == '=') {
			free(out->v[i]);
			out->v[i] = xasprintf("%s=%s", name, value);
			return;
		}
	strv_take(out, xasprintf("%s=%s", name, value));
}

static const char *const proxy_env[][2] = {
	{ "HTTP_PROXY", "http://127.0.0.1:3128" }, { "http_proxy", "http://127.0.0.1:3128" },
	{ "HTTPS_PROXY", "http://127.0.0.1:3128" }, { "https_proxy", "http://127.0.0.1:3128" },
	{ "ALL_PROXY", "socks5h://127.0.0.1:1080" }, { "all_proxy", "socks5h://127.0.0.1:1080" },
	{ "NO_PROXY", "localhost,127.0.0.1,::1," POLICY_HOST },
	{ "no_proxy", "localhost,127.0.0.1,::1," POLICY_HOST },
	{ "NODE_USE_ENV_PROXY", "1" },
};

void
build_env(const struct policy *p, const struct agent_ident *id, const struct strv *cli_env,
    struct strv *out)
{
	for (char **e = environ; *e; e++) {
		char name[256];
		const char *eq = strchr(*e, '=');
		bool keep = false;

		if (!eq || (size_t)(eq - *e) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
		for (size_t i = 0; i < ARRAY_SIZE(safe_env); i++)
			keep |= fnmatch(safe_env[i], name, 0) == 0;
		keep |= strv_contains(&p->env_pass, name);
		if (keep)
			env_put(out, name, eq + 1);
	}
	if (!getenv("PATH"))
		env_put(out, "PATH", "/usr/local/bin:/usr/bin:/bin");
	for (size_t i = 0; i < p->nenv_set; i++)
		env_put(out, p->env_set[i].name, p->env_set[i].value);
	env_put(out, "HOME", id->home);
	env_put(out, "USER", id->user);
	env_put(out, "LOGNAME", id->user);
	/*
	 * The proxy is the sandbox's only way out.  Both spellings, because
	 * tools disagree on which they read; socks5h so that SOCKS clients send
	 * names, not addresses they cannot resolve inside anyway.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(proxy_env); i++)
		env_put(out, proxy_env[i][0], proxy_env[i][1]);
	/*
	 * The privacy router: the SDKs' base URLs point at it, and it is
	 * reached directly (it listens on 127.0.0.1:80 inside), so clients
	 * that ignore proxy variables -- Node's fetch -- reach it too.  The
	 * SDKs refuse to start without a key; the router never forwards one.
	 */
	if (p->inference.present) {
		static const char no_proxy[] = "localhost,127.0.0.1,::1," INFER_HOST "," POLICY_HOST;

		env_put(out, "NO_PROXY", no_proxy);
		env_put(out, "no_proxy", no_proxy);
		env_put(out, "ANTHROPIC_BASE_URL", "http://" INFER_HOST);
		env_put(out, "OPENAI_BASE_URL", "http://" INFER_HOST "/v1");
		env_put(out, "ANTHROPIC_API_KEY", "warden-router");
		env_put(out, "OPENAI_API_KEY", "warden-router");
	}
	for (size_t i = 0; cli_env && i < cli_env->n; i++) {
		char *eq = strchr(cli_env->v[i], '=');
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - cli_env->v[i]), cli_env->v[i]);
		env_put(out, name, eq + 1);
	}
}

/* Inside the sandbox, where the bundle (system roots + the sandbox's CA) is mounted. */
#define SANDBOX_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

void
env_add_egress(struct strv *out, bool ca, const struct credstore *cs)
{
	/*
	 * Every spelling of "trust this bundle" that common runtimes read:
	 * OpenSSL and Python (SSL_CERT_FILE), requests, curl, Node (extra CAs
	 * on top of its own store), git.
	 */
	static const char *const ca_vars[] = {
		"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
		"GIT_SSL_CAINFO",
	};

	/* A bundle the user chose (--env, process.env) is left alone. */
	for (size_t i = 0; ca && i < ARRAY_SIZE(ca_vars); i++) {
		size_t n = strlen(ca_vars[i]);
		bool set = false;

		for (size_t j = 0; j < out->n && !set; j++)
			set = strncmp(out->v[j], ca_vars[i], n) == 0 && out->v[j][n] == '=';
		if (!set)
			env_put(out, ca_vars[i], SANDBOX_CA_BUNDLE);
	}
	/* Placeholders last: nothing set before may carry a credential's variable. */
	for (size_t i = 0; cs && i < credstore_count(cs); i++)
		if (credstore_env_name(cs, i))
			env_put(out, credstore_env_name(cs, i), credstore_placeholder(cs, i));
}

void
env_add_file(struct strv *out, const char *path)
{
	struct werr err = { 0 };
	char *data = NULL, *line, *nl;
	size_t len;

	if (read_file(path, 1 << 20, &data, &len, &err) < 0)
		return;
	for (line = data; *line; line = nl + 1) {
		char *eq;

		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		eq = strchr(line, '=');
		if (eq && eq != line) {
			*eq = '\0';
			env_put(out, line, eq + 1);
		}
	}
	free(data);
}

int
load_policy(const char *path, struct policy *p)
{
	struct policy_diags d;
	const char *def = policy_default_yaml();
	int r;

	if (path)
		r = policy_load_file(path, p, &d);
	else
		r = policy_load_buffer("<default policy>", def, strlen(def), p, &d);
	if (r < 0)
		policy_diags_print(&d, stderr);
	policy_diags_free(&d);
	return r;
}
