/* The CLI: one file per subcommand; the machinery lives in the modules. */
#ifndef WARDEN_CLI_H
#define WARDEN_CLI_H

#include <stdbool.h>
#include <sys/types.h>

#include "../lib/util.h"
#include "../policy/policy.h"

#define WARDEN_VERSION "0.1.0"

int cmd_run(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_approvals(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_deny(int argc, char **argv);

/* Who the agent runs as: the caller when rootless, else process.run_as_user. */
struct agent_ident {
	uid_t uid;
	gid_t gid;
	char user[64];
	char home[4096];
};
int resolve_identity(const struct policy *p, struct agent_ident *id, struct werr *err);

/*
 * The agent's environment: the safe host variables, then process.env
 * (pass, set), then --env K=V, then HOME/USER/LOGNAME for the identity.
 */
struct credstore;
/*
 * The egress part of the agent's environment: with ca, the CA bundle
 * variables (SSL_CERT_FILE, ...); each credential's placeholder under its
 * sandbox_env name.
 */
void env_add_egress(struct strv *out, bool ca, const struct credstore *cs);
/* NAME=VALUE lines of a file into the environment (a missing file adds nothing). */
void env_add_file(struct strv *out, const char *path);
void build_env(const struct policy *p, const struct agent_ident *id, const struct strv *cli_env,
    struct strv *out);

/* Load a policy file, or the embedded default when path is NULL; prints diagnostics. */
int load_policy(const char *path, struct policy *p);

bool wants_help(int argc, char **argv);

#endif
