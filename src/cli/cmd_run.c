/* warden run [--policy FILE] [--name NAME] [--workdir DIR] [--env K=V]... -- CMD [ARG...] */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../policy/policy_check.h"
#include "../audit/audit.h"
#include "../sandbox/sandbox.h"
#include "../sandbox/sandbox_state.h"
#include "../proxy/cred.h"
#include "../proxy/tlsca.h"

static const char usage[] =
    "usage: warden run [OPTIONS] [--] COMMAND [ARG...]\n"
    "\n"
    "Run COMMAND as a governed agent in a new sandbox.\n"
    "\n"
    "  -p, --policy FILE   policy to enforce (default: the embedded default policy,\n"
    "                      see `warden policy default`)\n"
    "  -n, --name NAME     sandbox name and hostname (default: COMMAND-XXXX)\n"
    "  -w, --workdir DIR   working directory, mounted read-write when the policy's\n"
    "                      include_workdir is true (default: the current directory)\n"
    "  -e, --env K=V       set a variable in the agent's environment (repeatable)\n"
    "      --audit-log FILE\n"
    "                      write the audit trail to FILE (default: the policy's\n"
    "                      audit.path, else $XDG_STATE_HOME/warden/NAME/audit.jsonl;\n"
    "                      /var/lib/warden/NAME/audit.jsonl as root)\n"
    "      --add-host NAME:IP\n"
    "                      resolve NAME to IP for this sandbox's egress proxy\n"
    "                      (repeatable; the policy must still allow NAME)\n"
    "      --upstream-ca FILE\n"
    "                      also trust the CA certificates in FILE (PEM) when the\n"
    "                      proxy verifies upstream TLS servers it inspects\n"
    "  -t, --tty / -T, --no-tty\n"
    "                      force / refuse a private terminal (default: when stdin is one)\n"
    "  -v, --verbose       say more about what is applied\n"
    "\n"
    "Exit status: the agent's own; 125 warden failed, 126 cannot execute, 127 not found.\n";

static void
default_name(const char *cmd, char *out, size_t n)
{
	const char *base = strrchr(cmd, '/');
	unsigned short rnd = 0;
	char clean[32];
	size_t j = 0;

	base = base ? base + 1 : cmd;
	for (size_t i = 0; base[i] && j < sizeof(clean) - 1; i++) {
		char c = base[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    ((c == '-' || c == '_') && j > 0))
			clean[j++] = c;
	}
	clean[j] = '\0';
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned short)getpid();
	snprintf(out, n, "%s-%04x", j ? clean : "agent", rnd);
}

/*
 * Proxy limits and timeouts can be tuned from warden's own environment
 * (WARDEN_PROXY_MAX_CONNS, WARDEN_PROXY_HEADER_TIMEOUT_MS,
 * WARDEN_PROXY_CONNECT_TIMEOUT_MS, WARDEN_PROXY_IDLE_TIMEOUT_MS); unset or
 * invalid values keep the defaults.
 */
static void
proxy_tuning(struct proxy_config *c)
{
	static const struct { const char *name; size_t off; } knobs[] = {
		{ "WARDEN_PROXY_MAX_CONNS", offsetof(struct proxy_config, max_conns) },
		{ "WARDEN_PROXY_HEADER_TIMEOUT_MS", offsetof(struct proxy_config, header_timeout_ms) },
		{ "WARDEN_PROXY_CONNECT_TIMEOUT_MS", offsetof(struct proxy_config, connect_timeout_ms) },
		{ "WARDEN_PROXY_IDLE_TIMEOUT_MS", offsetof(struct proxy_config, idle_timeout_ms) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		const char *v = getenv(knobs[i].name);
		uint64_t n;

		if (v && parse_u64(v, &n) == 0 && n > 0 && n <= 86400000)
			*(unsigned *)((char *)c + knobs[i].off) = (unsigned)n;
		else if (v)
			log_warnx("ignoring %s=%s: expected a number from 1 to 86400000", knobs[i].name, v);
	}
}

/*
 * A trail kept elsewhere (--audit-log, audit.path) is linked from the
 * default location, so `warden logs NAME` finds it after the sandbox has
 * gone.  A real trail already there is left alone: it is evidence.  A
 * link an earlier sandbox of the same name left is only a pointer (its
 * trail is where it points): a sandbox whose trail is the default
 * location replaces it with the trail itself, which would otherwise fail
 * to open (the trail is never opened through a symbolic link).
 */
static void
link_trail(const char *dir, const char *name, const char *path)
{
	char def[PATH_MAX + 64], sub[PATH_MAX + 16];
	struct werr e = { 0 };
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	snprintf(def, sizeof(def), "%s/audit.jsonl", sub);
	if (strcmp(def, path) == 0) {
		if (lstat(def, &st) == 0 && S_ISLNK(st.st_mode))
			unlink(def);
		return;
	}
	if (lstat(def, &st) == 0 && !S_ISLNK(st.st_mode))
		return;
	if (mkdir_p(sub, 0700, &e) < 0)
		return;
	unlink(def);
	if (symlink(path, def) < 0)
		log_debug("cannot link %s to %s: %s", def, path, strerror(errno));
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "env", required_argument, NULL, 'e' },
		{ "add-host", required_argument, NULL, 'H' },
		{ "audit-log", required_argument, NULL, 'A' },
		{ "upstream-ca", required_argument, NULL, 'U' },
		{ "tty", no_argument, NULL, 't' },
		{ "no-tty", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *policy_path = NULL, *name = NULL, *workdir = NULL, *prob, *audit_log = NULL;
	const char *upstream_ca = NULL;
	struct credstore *creds = NULL;
	struct tlsca *ca = NULL;
	char audit_dir[PATH_MAX], audit_path[PATH_MAX + 64], audit_key[PATH_MAX + 16];
	struct strv cli_env = { 0 }, env = { 0 };
	struct policy policy;
	struct agent_ident id;
	struct werr err = { 0 };
	struct sandbox_spec spec = { 0 };
	char namebuf[NAME_MAX_LEN + 1], wd[PATH_MAX];
	_cleanup_free_ struct add_host *hosts = NULL;
	size_t nhosts = 0;
	int tty = -1, c, status;
	struct stat st;

	while ((c = getopt_long(argc, argv, "+p:n:w:e:tTvh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'n': name = optarg; break;
		case 'w': workdir = optarg; break;
		case 'e': {
			const char *eq = strchr(optarg, '=');
			char envname[256];

			if (eq && (size_t)(eq - optarg) < sizeof(envname)) {
				snprintf(envname, sizeof(envname), "%.*s", (int)(eq - optarg), optarg);
				prob = check_env_name(envname);
			}
			if (!eq || (size_t)(eq - optarg) >= sizeof(envname) || prob) {
				fprintf(stderr, "warden run: --env expects NAME=VALUE, got '%s'\n", optarg);
				return WEXIT_FAILURE;
			}
			strv_push(&cli_env, optarg);
			break;
		}
		case 'H': {
			const char *why;
			hosts = xrealloc(hosts, (nhosts + 1) * sizeof(*hosts));
			if ((why = add_host_parse(optarg, &hosts[nhosts]))) {
				fprintf(stderr, "warden run: --add-host '%s': %s\n", optarg, why);
				return WEXIT_FAILURE;
			}
			nhosts++;
			break;
		}
		case 'A': audit_log = optarg; break;
		case 'U': upstream_ca = optarg; break;
		case 't': tty = 1; break;
		case 'T': tty = 0; break;
		case 'v': log_verbose++; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return WEXIT_FAILURE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "warden run: no command given\n\n%s", usage);
		return WEXIT_FAILURE;
	}
	if (load_policy(policy_path, &policy) < 0)
		return WEXIT_FAILURE;

	if (audit_default_dir(audit_dir, sizeof(audit_dir), &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return WEXIT_FAILURE;
	}
	if (!name) {
		/*
		 * A generated name is one no earlier sandbox had: its trail would
		 * otherwise continue that sandbox's (16 random bits meet an
		 * earlier name once a few hundred trails exist), and each start
		 * would read that trail's tail first.
		 */
		for (int i = 0; i < 16; i++) {
			char used[PATH_MAX + NAME_MAX_LEN + 2];

			default_name(argv[optind], namebuf, sizeof(namebuf));
			snprintf(used, sizeof(used), "%s/%s", audit_dir, namebuf);
			if (lstat(used, &st) < 0 && errno == ENOENT)
				break;
		}
		name = namebuf;
	} else if ((prob = state_check_name(name))) {
		fprintf(stderr, "warden run: invalid --name '%s': %s\n", name, prob);
		return WEXIT_FAILURE;
	}
	if (!realpath(workdir ? workdir : ".", wd) || stat(wd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "warden run: working directory '%s' is not a directory\n",
		    workdir ? workdir : ".");
		return WEXIT_FAILURE;
	}
	if (policy.include_workdir && strcmp(wd, "/") == 0) {
		fprintf(stderr, "warden run: the working directory is '/', which would become "
		    "read-write; run from a project directory or pass --workdir\n");
		return WEXIT_FAILURE;
	}
	if (resolve_identity(&policy, &id, &err) < 0) {
		fprintf(stderr, "warden: %s\n", err.msg);
		return WEXIT_FAILURE;
	}
	build_env(&policy, &id, &cli_env, &env);
	/*
	 * Credentials are read now, before anything starts, so a missing or
	 * badly protected secret stops the run with a clear message.  The
	 * sandbox's TLS authority exists whenever the policy allows egress:
	 * a later reload may add endpoints whose requests are inspected.
	 */
	creds = credstore_load(&policy, &err);
	if (creds && (policy.nnet > 0 || credstore_count(creds) > 0 || policy.inference.present)) {
		/*
		 * OpenSSL's first use in this process (the audit trail signs
		 * without it, src/audit/audit.c): no exit handler.  Freeing
		 * every table the library built (providers, algorithm names,
		 * error strings) cost ~0.2 ms at the end of every run, for
		 * memory the exit returns anyway.
		 */
		OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
		if (!(ca = tlsca_new(upstream_ca, &err))) {
			credstore_free(creds);
			creds = NULL;
		}
	}
	if (!creds) {
		fprintf(stderr, "warden: %s\n", err.msg);
		strv_free(&env);
		strv_free(&cli_env);
		policy_free(&policy);
		return WEXIT_FAILURE;
	}
	if (!ca && upstream_ca)
		log_warnx("--upstream-ca %s has no effect: the policy allows no egress", upstream_ca);
	env_add_egress(&env, ca != NULL, creds);
	if (tty < 0)
		tty = isatty(0) && isatty(1);

	spec.policy = &policy;
	spec.name = name;
	spec.workdir = wd;
	spec.argv = argv + optind;
	spec.envp = env.v;
	spec.uid = id.uid;
	spec.gid = id.gid;
	spec.home = id.home;
	spec.pty = tty == 1;
	if (audit_log && audit_log[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "warden run: cannot resolve --audit-log %s\n", audit_log);
			return WEXIT_FAILURE;
		}
		snprintf(audit_path, sizeof(audit_path), "%s/%s", cwd, audit_log);
	} else if (audit_log || policy.audit_path) {
		snprintf(audit_path, sizeof(audit_path), "%s", audit_log ? audit_log : policy.audit_path);
	} else {
		snprintf(audit_path, sizeof(audit_path), "%s/%s/audit.jsonl", audit_dir, name);
	}
	if (strchr(audit_path, '\n')) {
		fprintf(stderr, "warden run: the audit trail's path may not contain a newline\n");
		return WEXIT_FAILURE;
	}
	snprintf(audit_key, sizeof(audit_key), "%s/audit.key", audit_dir);
	link_trail(audit_dir, name, audit_path);
	spec.audit_path = audit_path;
	spec.audit_key = audit_key;
	spec.version = WARDEN_VERSION;
	spec.hosts = hosts;
	spec.nhosts = nhosts;
	proxy_tuning(&spec.proxy);
	spec.ca = ca;
	spec.creds = creds;
	log_info("sandbox %s: agent uid %u gid %u, workdir %s", name,
	    (unsigned)id.uid, (unsigned)id.gid, wd);
	status = sandbox_run(&spec, &err);
	if (status < 0) {
		if (err.msg[0])
			fprintf(stderr, "warden: %s\n", err.msg);
		status = err.exit ? err.exit : WEXIT_FAILURE;
	}
	strv_free(&env);
	strv_free(&cli_env);
	policy_free(&policy);
	return status;
}
